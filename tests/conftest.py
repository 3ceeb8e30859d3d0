import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from helpers import ROOT
from medsweep.config.schema import register_configs

register_configs()


@pytest.fixture
def compose_cfg():
    """Compose the job config for some overrides, as Hydra would, without running anything."""

    def _compose(*overrides: str):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            return compose(config_name="train", overrides=list(overrides))

    yield _compose
    GlobalHydra.instance().clear()


@pytest.fixture
def plugins_scanned():
    """Hydra's plugin scan registers every installed plugin's configs (hydra/launcher/ray, ...) in the
    ConfigStore once per process: done before hydra_restore_singletons saves the state it puts back, or the
    restore would drop them for every later test."""
    from hydra.core.plugins import Plugins

    Plugins.instance()
