from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_joblib_launcher.config import JobLibLauncherConf


@dataclass
class MedsweepJoblibLauncherConf(JobLibLauncherConf):
    """Hydra's joblib launcher options, unchanged (hydra.launcher.n_jobs=6 and the rest)."""

    _target_: str = "hydra_plugins.medsweep_launcher.medsweep_launcher.MedsweepJoblibLauncher"


ConfigStore.instance().store(group="hydra/launcher", name="medsweep_joblib", node=MedsweepJoblibLauncherConf,
                             provider="medsweep")
