"""Hydra's own plugin test suites (hydra.test_utils.launcher_common_tests), run the way Hydra's plugins run
them (plugins/hydra_joblib_launcher/tests, the Optuna and Ax sweepers' tests), on Hydra's plain test apps:
medsweep's launcher must pass LauncherTestSuite and IntegrationTestSuite, its sweeper BatchedSweeperTestSuite.
They keep the plugins honest through a Hydra upgrade."""

from pytest import fixture, mark

from hydra.test_utils.launcher_common_tests import (BatchedSweeperTestSuite, IntegrationTestSuite,
                                                     LauncherTestSuite)

LAUNCHER = "medsweep_joblib"


@fixture(autouse=True)
def a_process_as_hydra_tests_it(plugins_scanned, hydra_restore_singletons):
    """Hydra runs these suites where no app has set a version_base yet (Hydra's defaults then: a job runs
    in its own directory and logs there); earlier tests of this process composed with version_base="1.3".
    Hydra's state is put back after each test."""
    from hydra import version

    version.VersionBase.instance().setbase(version.__compat_version__)  # what Hydra assumes when none was set


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
@mark.slow  # jobs run in worker processes; the integration tests start an app each
class TestMedsweepLauncher(LauncherTestSuite):
    pass


@mark.parametrize("task_launcher_cfg, extra_flags", [
    ({}, ["-m", "hydra/job_logging=hydra_debug", "hydra/job_logging=disabled", f"hydra/launcher={LAUNCHER}"]),
])
@mark.slow  # jobs run in worker processes; the integration tests start an app each
class TestMedsweepLauncherIntegration(IntegrationTestSuite):
    pass


# As Hydra's tests run its basic sweeper (tests/test_basic_sweeper.py): batches of 2, through Hydra's basic
# launcher and through medsweep's. (Not IntegrationTestSuite through the sweeper: it expects Hydra's job
# directories, and medsweep's sweeper puts job n in <sweep dir>/n whatever hydra.sweep.subdir says, so that a
# resume finds it, and takes <sweep dir>-1 where <sweep dir> is another sweep's.)
@mark.parametrize("launcher_name, overrides", [
    ("basic", ["hydra/sweeper=medsweep", "hydra.sweeper.max_batch_size=2"]),
    (LAUNCHER, ["hydra/sweeper=medsweep", "hydra.sweeper.max_batch_size=2"]),
])
@mark.slow  # jobs run in worker processes; the integration tests start an app each
class TestMedsweepSweeper(BatchedSweeperTestSuite):
    pass

