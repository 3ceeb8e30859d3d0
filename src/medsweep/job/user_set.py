"""Whether the user set a key of a job's config, or it holds a default nobody chose: a warning about a setting
that has no effect is worth the console only in the first case (train.log records it in both)."""

from __future__ import annotations


def set_by_user(key: str) -> bool:
    """True where the job's command line sets ``key`` (``trainer.epochs=50``, also with ``+``/``++``) or
    chooses a config of its group other than ``default`` (``trainer=fast``); False for a value of the default
    config nobody named, and outside Hydra (``run_job`` called on a composed config)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return False
    group = key.split(".")[0]
    for override in HydraConfig.get().overrides.task:
        name, _, value = str(override).partition("=")
        name = name.lstrip("+~")
        if name == key or (name == group and value != "default"):
            return True
    return False
