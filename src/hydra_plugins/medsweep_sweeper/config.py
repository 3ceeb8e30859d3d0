from dataclasses import dataclass, field
from typing import Dict, Optional

from hydra.core.config_store import ConfigStore


@dataclass
class MedsweepSweeperConf:
    _target_: str = "hydra_plugins.medsweep_sweeper.medsweep_sweeper.MedsweepSweeper"
    # Jobs handed to the launcher at once (null: all); same meaning as Hydra's basic sweeper.
    max_batch_size: Optional[int] = None
    params: Dict[str, str] = field(default_factory=dict)


ConfigStore.instance().store(group="hydra/sweeper", name="medsweep", node=MedsweepSweeperConf, provider="medsweep")
