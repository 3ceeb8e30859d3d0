"""One line of a dry run per job: what it would train, on what data; nothing is loaded or trained."""

from __future__ import annotations

from typing import Any


def describe(num: int, overrides: list[str], cfg: Any) -> str:
    """What job ``num`` would train, on what data (``cfg``: the job's composed config, or its values as the
    sweeper composes them)."""
    from medsweep.data.errors import DataError  # pandas: only a dry run needs it
    from medsweep.data.sources import resolve_path

    try:
        path = resolve_path(cfg.data, cfg.get("data_dir"))
        source = f"file {path}" if path else f"{cfg.data.source}:{cfg.data.name}"
    except DataError as exc:
        source = f"error: {exc}"
    t = cfg.trainer
    return (f"#{num:<4} {' '.join(overrides) or '(defaults)'}\n"
            f"       model={cfg.model.name} estimator={cfg.estimator.name} epochs={t.epochs} folds={t.folds} "
            f"batch_size={t.batch_size} seed={cfg.seed} data={source}")
