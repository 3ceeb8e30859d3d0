"""Entry point in a clone: `python train.py [-m] model=... estimator=... trainer.folds=...` runs the same Hydra
app as `medsweep run ...` (medsweep.cli.run; see README), with outputs/ and multirun/ in the working directory."""

from medsweep.cli.run import main

if __name__ == "__main__":
    main()
