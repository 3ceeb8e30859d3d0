"""Hydra's own plugin test suites (hydra.test_utils.launcher_common_tests), run the way Hydra's plugins run
them (plugins/hydra_joblib_launcher/tests, the Optuna and Ax sweepers' tests), on Hydra's plain test apps:
medsweep's launcher must pass LauncherTestSuite and IntegrationTestSuite, its sweeper BatchedSweeperTestSuite.
They keep the plugins honest through a Hydra upgrade."""

from pytest import mark

from hydra.test_utils.launcher_common_tests import (BatchedSweeperTestSuite, IntegrationTestSuite,
                                                     LauncherTestSuite)
from hydra.test_utils.test_utils import chdir_plugin_root  # noqa: F401 - as Hydra's plugin tests import it

pytestmark = mark.slow  # every job runs in a worker process; the integration tests start an app each

LAUNCHER = "medsweep_joblib"


def test_both_plugins_are_discovered():
    from hydra.core.plugins import Plugins
    from hydra.plugins.launcher import Launcher
    from hydra.plugins.sweeper import Sweeper

    from hydra_plugins.medsweep_launcher.medsweep_launcher import MedsweepJoblibLauncher
    from hydra_plugins.medsweep_sweeper.medsweep_sweeper import MedsweepSweeper

    # By name, as Hydra's plugin tests check it: the scan imports the plugin modules afresh.
    assert MedsweepJoblibLauncher.__name__ in [x.__name__ for x in Plugins.instance().discover(Launcher)]
    assert MedsweepSweeper.__name__ in [x.__name__ for x in Plugins.instance().discover(Sweeper)]


@mark.parametrize("launcher_name, overrides", [(LAUNCHER, [])])
class TestMedsweepLauncher(LauncherTestSuite):
    pass


@mark.parametrize("task_launcher_cfg, extra_flags", [
    ({}, ["-m", "hydra/job_logging=hydra_debug", "hydra/job_logging=disabled", f"hydra/launcher={LAUNCHER}"]),
])
class TestMedsweepLauncherIntegration(IntegrationTestSuite):
    pass


# As Hydra's tests run its basic sweeper (tests/test_basic_sweeper.py): batches of 2, through Hydra's basic
# launcher and through medsweep's.
@mark.parametrize("launcher_name, overrides", [
    ("basic", ["hydra/sweeper=medsweep", "hydra.sweeper.max_batch_size=2"]),
    (LAUNCHER, ["hydra/sweeper=medsweep", "hydra.sweeper.max_batch_size=2"]),
])
class TestMedsweepSweeper(BatchedSweeperTestSuite):
    pass
# (Not IntegrationTestSuite through the sweeper: it expects Hydra's job directories, and medsweep's sweeper
# puts job n in <sweep dir>/n, whatever hydra.sweep.subdir says, so that a resume finds it, and moves to
# <sweep dir>-1 when the directory holds another sweep.)

