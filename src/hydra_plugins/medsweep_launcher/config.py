from dataclasses import dataclass
from typing import List, Optional

from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_joblib_launcher.config import JobLibLauncherConf


@dataclass
class MedsweepJoblibLauncherConf(JobLibLauncherConf):
    """Hydra's joblib launcher options, unchanged (hydra.launcher.n_jobs=6 and the rest), and GPUs per job."""

    _target_: str = "hydra_plugins.medsweep_launcher.medsweep_launcher.MedsweepJoblibLauncher"
    # GPUs each job sees (CUDA_VISIBLE_DEVICES), its worker's own: jobs at once <= devices // gpus_per_job
    gpus_per_job: int = 0
    # the device ids to hand out; null: the sweep's CUDA_VISIBLE_DEVICES, else every GPU nvidia-smi lists
    devices: Optional[List[str]] = None


ConfigStore.instance().store(group="hydra/launcher", name="medsweep_joblib", node=MedsweepJoblibLauncherConf,
                             provider="medsweep")


try:
    from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf
except ImportError:  # the [slurm] extra is not installed
    SlurmQueueConf = None

if SlurmQueueConf is not None:

    @dataclass
    class MedsweepSlurmLauncherConf(SlurmQueueConf):
        """Hydra's submitit SLURM options, unchanged, and medsweep's packing and GPUs per job."""

        _target_: str = "hydra_plugins.medsweep_launcher.slurm_launcher.MedsweepSlurmLauncher"
        # medsweep jobs run in one array task, on a pool of cpus_per_task workers (1: a task per job)
        jobs_per_task: int = 1
        # GPUs each job sees: a task asks for gpus_per_job x its workers (--gres=gpu:n)
        gpus_per_job: int = 0

    ConfigStore.instance().store(group="hydra/launcher", name="medsweep_slurm", node=MedsweepSlurmLauncherConf,
                                 provider="medsweep")
