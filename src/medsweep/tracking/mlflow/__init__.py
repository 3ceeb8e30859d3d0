"""The MLflow backend (``tracking=mlflow``): a sweep is a parent run, each of its jobs a child run nested
under it, written from the files the jobs wrote.

    python train.py -m model=als,parkinsons tracking=mlflow      # -> ./mlflow.db, a SQLite store
    mlflow ui --backend-store-uri sqlite:///mlflow.db             # browse it
    medsweep track multirun/2026-11-28/09-30-00                  # log a sweep that ran without tracking

uri.py: where the store is (the URI policy); runs.py: what a run holds, read from a job's files (pure);
registry.py: which job becomes a Model Registry version (pure); tracker.py: the backend (tracking.json, the
runs, idempotent logging); store.py: the only module that imports MLflow (~2 s, only when tracking is used);
pyfunc.py: the registered model's code, copied into every model version ("models from code").
"""
