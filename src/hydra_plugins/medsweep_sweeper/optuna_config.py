"""The options of ``hydra/sweeper=medsweep_optuna`` (hparams_search=optuna), registered in Hydra's ConfigStore.
Values and what they mean: conf/hparams_search/optuna.yaml; checked before anything runs: _optuna.setting_errors."""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore


@dataclass
class SamplerConf:
    name: str = "tpe"          # tpe, random or nsgaii
    seed: Optional[int] = 0    # the same command proposes the same trials


@dataclass
class PrunerConf:
    name: str = "auto"         # auto (wilcoxon with one objective, none with several), wilcoxon or none
    p_threshold: float = 0.1   # WilcoxonPruner: prune when worse than the best trial at this one-sided level
    n_startup_steps: int = 2   # ... and never before this many folds


@dataclass
class MedsweepOptunaSweeperConf:
    _target_: str = "hydra_plugins.medsweep_sweeper.optuna_sweeper.MedsweepOptunaSweeper"
    n_trials: int = 20         # trials the study holds when the search ends (a resume runs what is missing)
    n_jobs: int = 4            # trials asked for, launched and told at once
    objectives: List[str] = field(default_factory=list)  # [] : the model's primary metric
    study_name: Optional[str] = None
    sampler: SamplerConf = field(default_factory=SamplerConf)
    pruner: PrunerConf = field(default_factory=PrunerConf)
    params: Optional[Dict[str, str]] = None   # the search space (Hydra's sweep syntax); null: search_space's
    search_space: Dict[str, Any] = field(default_factory=dict)   # lookup tables (conf/hparams_search/optuna.yaml)


ConfigStore.instance().store(group="hydra/sweeper", name="medsweep_optuna", node=MedsweepOptunaSweeperConf,
                             provider="medsweep")
