"""Compose medsweep job configs the way `python train.py` does, without Hydra's command line (for the
in-process baselines of run_benchmarks.py: plain loop, old orchestrator's job script, framework overhead)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parents[1]


def compose_jobs(jobs: Iterable[list[str]]) -> list:
    """One composed config (a DictConfig, as the task function receives it) per list of overrides."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from medsweep.config.schema import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            return [compose(config_name="train", overrides=list(job)) for job in jobs]
    finally:
        GlobalHydra.instance().clear()
