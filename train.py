"""Entry point: `python train.py [-m] model=... estimator=... trainer.folds=...` (see README)."""

import hydra
from omegaconf import DictConfig

from medsweep.schema import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float:
    from medsweep.task import run_job

    return run_job(cfg)


if __name__ == "__main__":
    main()
