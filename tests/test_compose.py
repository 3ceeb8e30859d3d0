"""The sweep's config loader (composes each group choice once) gives exactly the configs Hydra gives."""

import pickle

import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode
from omegaconf import OmegaConf

from helpers import ROOT
from hydra_plugins.medsweep_sweeper._compose import _LOADERS, SweepConfigLoader

MASTER = ["hydra.launcher.n_jobs=2", "seed=0,1", "model=als,parkinsons"]
JOBS = [
    ["seed=0", "model=als"],
    ["seed=1", "model=als"],  # same group choice as the first: composed once, values differ
    ["model=parkinsons", "estimator=mlp", "estimator.alpha=0.01", "trainer.folds=3", "trainer.epochs=2"],
    ["estimator=random_forest", "model=breast_cancer", "estimator.n_estimators=7", "data.na_values=[NA,'?']",
     "hydra.sweep.dir='/tmp/a b'", "hydra.sweep.subdir=4"],
    ["model=diabetes", "hydra.job.config.override_dirname.exclude_keys=[seed]", "seed=5", "timeout_min=0.5"],
    ["model=als", "~debug", "+note=first try", "data_dir=/data"],
    ["hydra/job_logging=disabled", "model=alzheimers"],
    ["model=als", "hydra.job.env_copy=[HOME]"],  # left to Hydra's own composition
]


@pytest.fixture
def loaders():
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        hydra_loader = GlobalHydra.instance().config_loader()
        master = hydra_loader.load_configuration("train", MASTER, run_mode=RunMode.MULTIRUN)
        yield hydra_loader, SweepConfigLoader(hydra_loader), master
    GlobalHydra.instance().clear()


@pytest.mark.parametrize("job", JOBS, ids=lambda job: " ".join(job))
def test_each_job_config_is_what_hydra_composes(loaders, job):
    hydra_loader, ours, master = loaders
    expected = hydra_loader.load_sweep_config(master, list(job))
    got = ours.load_sweep_config(master, list(job))
    assert OmegaConf.to_yaml(got) == OmegaConf.to_yaml(expected)  # hydra node included, interpolations kept
    assert OmegaConf.to_yaml(got, resolve=False) == OmegaConf.to_yaml(expected, resolve=False)
    assert got.hydra.overrides.task == expected.hydra.overrides.task
    assert got.hydra.job.override_dirname == expected.hydra.job.override_dirname
    assert OmegaConf.is_struct(got) and OmegaConf.get_type(got.trainer) is OmegaConf.get_type(expected.trainer)


def test_an_option_found_through_an_added_search_path(tmp_path):
    # A lab's own estimator preset kept outside the repository, found through hydra.searchpath.
    (tmp_path / "estimator").mkdir()
    (tmp_path / "estimator" / "strong_l2.yaml").write_text(
        "defaults:\n  - /schema/estimator/logreg@_here_\n  - _self_\nname: logreg\nC: 0.01\n")
    master_overrides = [f"hydra.searchpath=[file://{tmp_path}]", "seed=0,1"]
    job = ["estimator=strong_l2", "seed=1"]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            hydra_loader = GlobalHydra.instance().config_loader()
            master = hydra_loader.load_configuration("train", master_overrides, run_mode=RunMode.MULTIRUN)
            got = SweepConfigLoader(hydra_loader).load_sweep_config(master, job)
            assert got.estimator.C == 0.01
            assert OmegaConf.to_yaml(got) == OmegaConf.to_yaml(hydra_loader.load_sweep_config(master, job))
    finally:
        GlobalHydra.instance().clear()


def test_a_value_override_that_breaks_the_schema_still_fails(loaders):
    _, ours, master = loaders
    with pytest.raises(Exception, match="epochs"):
        ours.load_sweep_config(master, ["model=als", "trainer.epochs=many"])
    with pytest.raises(Exception, match="no_such_key"):
        ours.load_sweep_config(master, ["model=als", "trainer.no_such_key=1"])


def test_jobs_do_not_share_config_objects(loaders):
    _, ours, master = loaders
    first = ours.load_sweep_config(master, ["model=als", "seed=0"])
    first.seed = 99
    assert ours.load_sweep_config(master, ["model=als", "seed=0"]).seed == 0


def test_it_travels_to_workers_light_and_composes_the_same_there(loaders):
    hydra_loader, ours, master = loaders
    payload = pickle.dumps(ours)
    assert len(payload) < 5_000  # sent with every job: the search path, not Hydra's loader and repository
    _LOADERS.clear()  # as in a fresh worker
    copy = pickle.loads(payload)
    job = ["model=parkinsons", "estimator=mlp", "seed=3"]
    assert OmegaConf.to_yaml(copy.load_sweep_config(master, job)) == \
        OmegaConf.to_yaml(hydra_loader.load_sweep_config(master, job))


# The sweep's range checks and dry run read each job's values without a config composed per job
# (load_job_values): they must be exactly the values of the config Hydra composes, for values taken the fast
# way (JobValues) and for those it leaves to Hydra's composition.
VALUE_JOBS = [
    (["model=als", "seed=3"], True),
    (["seed=-1", "model=als"], True),  # out of range: the same message
    (["model=parkinsons", "estimator=mlp", "estimator.alpha=-1", "trainer.folds=1", "trainer.epochs=0"], True),
    (["model=breast_cancer", "trainer.holdout=0.2", "data.test_path=/x.csv"], True),  # a rule of two keys
    (["model=breast_cancer", "trainer.holdout=null", "data.test_path=/x.csv"], True),
    (["model=diabetes", "estimator=random_forest", "estimator.n_estimators=0", "timeout_min=1"], True),  # int -> float
    (["model=als", "eval.threshold=nonsense", "eval.n_boot=50", "data.path=/data/als.csv"], True),
    (["model=als", "estimator.name=nope", "seed=1", "seed=2"], True),  # the last of a key wins
    (["model=als", "hydra.job.chdir=true", "seed=4"], True),  # a hydra value: checked, not a job value
    (["model=als", "data_dir=/data"], True),
    (["model=als", "data.positive=[]"], False),  # a list: composed
    (["model=als", "trainer.epochs=${trainer.folds}"], False),  # an interpolation: composed
    (["model=als", "+note=first try"], False),  # an added key: composed
    (["model=als", "hydra.job.env_copy=[HOME]"], False),
]


@pytest.mark.parametrize("job,fast", VALUE_JOBS, ids=lambda x: " ".join(x) if isinstance(x, list) else str(x))
def test_job_values_are_those_of_the_composed_config(loaders, job, fast):
    from hydra_plugins.medsweep_sweeper._compose import JobValues
    from medsweep.job.describe import describe
    from medsweep.config.schema import config_errors

    hydra_loader, ours, master = loaders
    expected = hydra_loader.load_sweep_config(master, list(job))
    got = ours.load_job_values(master, list(job))
    assert isinstance(got, JobValues) is fast
    assert config_errors(got) == config_errors(expected)
    assert describe(3, job, got) == describe(3, job, expected)
    if fast:
        tree = OmegaConf.to_container(expected, resolve=False)
        tree.pop("hydra")
        assert got.to_dict() == tree
        assert [type(v) for v in got.to_dict()["trainer"].values()] == [type(v) for v in tree["trainer"].values()]


def test_job_values_of_many_jobs_one_composition_and_no_shared_state(loaders):
    from hydra_plugins.medsweep_sweeper._compose import JobValues

    _, ours, master = loaders
    with pytest.raises(Exception, match="timeout_min"):
        ours.load_job_values(master, ["model=als", "timeout_min=abc"])  # refused as Hydra refuses it
    with pytest.raises(Exception, match="no_such_key"):
        ours.load_job_values(master, ["model=als", "trainer.no_such_key=1"])
    values = [ours.load_job_values(master, ["model=als", f"seed={n}", "timeout_min=2"]) for n in range(50)]
    assert all(isinstance(v, JobValues) for v in values)
    assert [v.seed for v in values] == list(range(50)) and {v.timeout_min for v in values} == {2.0}
    assert ours.load_job_values(master, ["model=als"]).seed == master.seed  # the defaults, untouched
