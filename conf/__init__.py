"""The configs, shipped in the package as ``medsweep.conf`` (src/medsweep/conf links here): Hydra reads them
from ``pkg://medsweep.conf`` (medsweep.cli.run), in a clone and in an installed wheel alike. Hydra looks for
this file to accept the folder as a config package; it holds no code."""
