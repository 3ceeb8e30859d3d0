"""Hydra's joblib launcher (same options: ``hydra.launcher.n_jobs=6``), with what medsweep's jobs need:

- never more workers than cores or jobs (CPU-bound jobs: one more only adds start-up and time-slicing);
- workers forked warm from one server process that has imported what a job runs (_warm_workers.py),
  started as soon as the sweeper knows how many jobs it will launch, so that its imports overlap the
  sweeper's composing of the jobs;
- workers that die with the sweep process (_preload.py), and a worker killed by the OS failing only its
  own job, not the sweep (_core.py);
- with ``gpus_per_job``, each worker its own GPU(s) through CUDA_VISIBLE_DEVICES, and no more workers than
  the devices allow (_gpus.py).

Imported by Hydra's plugin scan in every process: heavy imports stay inside the methods.
"""

from __future__ import annotations

from typing import Any, Sequence

from hydra.core.utils import JobReturn
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher


class MedsweepJoblibLauncher(JoblibLauncher):
    def __init__(self, gpus_per_job: Any = 0, devices: Any = None, **kwargs: Any) -> None:
        from ._gpus import check_gpus_per_job

        super().__init__(**kwargs)
        self._planned_jobs = 0  # what the sweeper said it will launch (0: not told; then each launch counts)
        self._cap_logged = False
        self.gpus_per_job = check_gpus_per_job(gpus_per_job)
        self.devices = None if devices is None else [str(d) for d in devices]
        self.device_pool = None  # the GPU slots of the sweep (_gpus.py), made at its first launch

    def _device_slots(self) -> int | None:
        """How many jobs the GPUs allow at once (None: no GPU asked for); the pool is made once."""
        if not self.gpus_per_job:
            return None
        if self.device_pool is None:
            from ._gpus import DevicePool, device_slots, sweep_devices

            self.device_pool = DevicePool.create(device_slots(sweep_devices(self.devices), self.gpus_per_job))
        return len(self.device_pool.slots)

    def prepare_workers(self, n_jobs: int) -> int:
        """For a sweeper that knows how many jobs it will launch: start the warm worker server for that
        many now (it imports in the background). Returns how many jobs will run at once."""
        from ._warm_workers import start_warm_workers
        from ._workers import worker_count

        self._planned_jobs = n_jobs
        workers = worker_count(self.joblib.get("n_jobs"), n_jobs, self._device_slots())
        start_warm_workers(workers)
        return workers

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from . import _core
        from ._joblib_compat import loky_start_method
        from ._warm_workers import start_warm_workers
        from ._workers import log_cap, log_gpus, worker_count

        requested = self.joblib.get("n_jobs")
        slots = self._device_slots()
        workers = worker_count(requested, self._planned_jobs or len(job_overrides), slots)
        if not self._cap_logged:
            log_cap(requested, workers)
            if self.device_pool is not None:
                log_gpus(self.gpus_per_job, self.device_pool.slots, workers)
            self._cap_logged = True
        if not start_warm_workers(workers):  # already running where prepare_workers started it
            return _core.launch(self, job_overrides, initial_job_idx, workers)
        with loky_start_method("forkserver"):  # loky's setting is the process's: only while this launch runs
            return _core.launch(self, job_overrides, initial_job_idx, workers)
