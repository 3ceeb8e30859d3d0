"""Hydra's basic sweeper, plus what a sweep of medsweep jobs needs from the parent process.

- Every job's config is composed and range-checked before the first job starts, so a bad value
  (``trainer.folds=1``) stops the sweep before any job directory exists.
- A failed job does not stop the sweep: later batches still run, and the sweep fails at the end.
"""

from __future__ import annotations

import logging
from typing import Any, List

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobStatus
from hydra.errors import CompactHydraException

from medsweep.schema import config_errors

log = logging.getLogger(__name__)


class MedsweepSweeper(BasicSweeper):
    def sweep(self, arguments: List[str]) -> Any:
        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides(self._parse_config() + list(arguments))
        self.overrides = self.split_arguments(overrides, self.max_batch_size)
        self._check_all_jobs()

        from pathlib import Path

        from omegaconf import OmegaConf

        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")

        returns = []
        failed = []
        job_idx = 0
        while not self.is_done():
            batch = self.get_job_batch()
            results = self.launcher.launch(batch, initial_job_idx=job_idx)
            for overrides_of_job, result in zip(batch, results):
                if result.status == JobStatus.FAILED:
                    failed.append((" ".join(overrides_of_job), result._return_value))
            job_idx += len(batch)
            returns.append(results)
        if failed:
            lines = "\n".join(f"  [{o}] {type(e).__name__}: {e}" for o, e in failed)
            raise CompactHydraException(f"{len(failed)} of {job_idx} jobs failed:\n{lines}")
        return returns

    def _check_all_jobs(self) -> None:
        """Compose and range-check every job's config; raise one error naming each bad job."""
        loader = self.hydra_context.config_loader
        problems = []
        for batch in self.overrides:
            for job_overrides in batch:
                cfg = loader.load_sweep_config(master_config=self.config, sweep_overrides=list(job_overrides))
                errors = config_errors(cfg)
                if errors:
                    problems.append(f"  [{' '.join(job_overrides)}] " + "; ".join(errors))
        if problems:
            raise CompactHydraException("Invalid configuration, no job was started:\n" + "\n".join(problems))
