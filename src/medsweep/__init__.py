"""medsweep: Hydra-configured sweeps of cross-validated clinical ML models."""

__version__ = "0.1.0"

from medsweep import _renamed

_renamed.install()
