"""medsweep: Hydra-configured sweeps of cross-validated clinical ML models."""

__version__ = "0.1.0"

from medsweep import _renamed

_renamed.install()

# The Python API (medsweep.api), imported on first use: `import medsweep` runs in every worker and plugin
# scan and stays as light as it is (the API imports pandas and the summary's readers).
_API = ("load_sweep", "load_folds", "load_job", "run_sweep", "summarize_sweep", "Job", "SweepFailed")


def __getattr__(name: str):
    if name in _API:  # by name: the package itself sits below every layer, the API above them
        import importlib

        return getattr(importlib.import_module("medsweep.api"), name)
    raise AttributeError(f"module 'medsweep' has no attribute {name!r}")


def __dir__() -> list:
    return sorted([*globals(), *_API])
