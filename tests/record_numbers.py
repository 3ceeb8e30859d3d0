"""Print the metrics of test_recorded_numbers.JOBS as JSON (every metric: folds, mean, std, pooled, lower,
upper), for tests/recorded/metrics.json:

    OMP_NUM_THREADS=1 python tests/record_numbers.py > tests/recorded/metrics.json
"""

import json
import logging
import sys
import tempfile
from pathlib import Path

from hydra import compose, initialize_config_dir

from medsweep.job.runner import run_job
from medsweep.config.schema import register_configs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from test_recorded_numbers import FIELDS, JOBS  # noqa: E402


def main() -> None:
    register_configs()
    logging.getLogger("medsweep").setLevel(logging.ERROR)
    out = {}
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        for name, overrides in JOBS.items():
            with tempfile.TemporaryDirectory() as tmp:
                run_job(compose(config_name="train", overrides=list(overrides)), Path(tmp) / "job")
                metrics = json.loads((Path(tmp) / "job" / "metrics.json").read_text())["metrics"]
            out[name] = {k: {f: v[f] for f in FIELDS if f in v} for k, v in metrics.items()}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
