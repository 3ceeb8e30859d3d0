"""The data package's public names in one place, as they were importable before the package was split:
reading (data.read), sources (data.sources), preparing (data.prepare). New code imports from those
modules; this one only re-exports them.
"""

from medsweep.data.errors import DataError
from medsweep.data.prepare import Dataset, _external_patients, load_dataset, load_external, prepare
from medsweep.data.read import DEFAULT_MAX_EXPANDED_MB, read_table
from medsweep.data.sources import BUNDLED, load_frame, resolve_path
from medsweep.record.files import sha256_of_file

__all__ = ["BUNDLED", "DEFAULT_MAX_EXPANDED_MB", "DataError", "Dataset", "_external_patients", "load_dataset",
           "load_external", "load_frame", "prepare", "read_table", "resolve_path", "sha256_of_file"]
