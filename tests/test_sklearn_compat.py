"""The private names of scikit-learn that medsweep relies on (medsweep._sklearn_compat), checked against the
installed version: each test fails naming the private name when scikit-learn renames it, moves it or
changes its signature, instead of a model silently computing something else. Also: every type a model file
may hold still imports under the name written into model files."""

import importlib
import inspect
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from medsweep import _sklearn_compat as compat

ROOT = Path(__file__).resolve().parents[1]


def _resolve(dotted: str):
    """The object a dotted name names (module path, then attributes), or None."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name, None)
        return obj
    return None


@pytest.mark.parametrize("name", [n for n, s in compat.PRIVATE_SIGNATURES.items() if s is not None])
def test_each_overridden_private_method_exists_with_the_signature_it_was_checked_against(name):
    method = _resolve(name)
    assert method is not None, f"scikit-learn no longer has {name}: medsweep._sklearn_compat must be updated"
    found = str(inspect.signature(method))
    assert found == compat.PRIVATE_SIGNATURES[name], (
        f"scikit-learn's {name} is now {found}, medsweep._sklearn_compat was checked against "
        f"{compat.PRIVATE_SIGNATURES[name]}")


def test_the_overridden_private_methods_are_the_ones_scikit_learn_calls():
    """The hooks run: a fit goes through SimpleImputer._validate_input/_dense_fit and ColumnTransformer._hstack."""
    calls = []

    class Imputer(compat.ImputerHooks):
        def validate_input(self, X, in_fit):
            calls.append("SimpleImputer._validate_input")
            return super().validate_input(X, in_fit)

        def dense_fit(self, *args):
            calls.append("SimpleImputer._dense_fit")
            return super().dense_fit(*args)

    class Columns(compat.ColumnsHooks):
        def hstack(self, Xs, n_samples):
            calls.append("ColumnTransformer._hstack")
            return super().hstack(Xs, n_samples)

    X = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [4.0, 5.0, np.nan]})
    out = Columns([("n", Imputer(strategy="median"), ["a", "b"])]).fit_transform(X)
    np.testing.assert_array_equal(out, [[1.0, 4.0], [2.0, 5.0], [3.0, 4.5]])
    for name in ("SimpleImputer._validate_input", "SimpleImputer._dense_fit", "ColumnTransformer._hstack"):
        assert name in calls, f"scikit-learn no longer calls {name}: medsweep's override of it has no effect"


def test_a_hand_built_target_regressor_predicts_as_a_fitted_one():
    """fitted_target_regressor sets what TransformedTargetRegressor.fit sets (_training_dim among them)."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.linear_model import LinearRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40) * 100 + 7
    fitted = TransformedTargetRegressor(regressor=LinearRegression(), transformer=StandardScaler()).fit(X, y)
    assert hasattr(fitted, "_training_dim"), \
        "TransformedTargetRegressor.fit no longer sets _training_dim: update fitted_target_regressor"
    scaler = StandardScaler().fit(y.reshape(-1, 1))
    regressor = LinearRegression().fit(X, scaler.transform(y.reshape(-1, 1)).ravel())
    built = compat.fitted_target_regressor(regressor, scaler)
    missing = {k for k in vars(fitted) if k.endswith("_") and not k.endswith("__")} - set(vars(built)) \
        - {"n_features_in_", "feature_names_in_"}
    assert not missing, f"TransformedTargetRegressor.fit now sets {sorted(missing)}: update fitted_target_regressor"
    np.testing.assert_allclose(built.predict(X), fitted.predict(X), rtol=1e-12)


def test_the_tree_classes_and_node_fields_the_model_checks_read_are_where_they_were():
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    Tree, TreePredictor = compat.tree_types()
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 3)), rng.integers(0, 2, 200)
    forest = RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y)
    assert isinstance(forest.estimators_[0].tree_, Tree), "sklearn.tree._tree.Tree moved"
    tree = forest.estimators_[0].tree_
    for name in ("node_count", "capacity", "children_left", "children_right", "feature"):
        assert hasattr(tree, name), f"sklearn.tree._tree.Tree has no {name}"
    gbdt = HistGradientBoostingClassifier(max_iter=2).fit(X, y)
    predictors = [p for stage in gbdt._predictors for p in stage]
    assert predictors and all(isinstance(p, TreePredictor) for p in predictors), \
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor moved"
    fields = set(predictors[0].nodes.dtype.names)
    assert compat.PREDICTOR_NODE_FIELDS <= fields, \
        f"TreePredictor.nodes lost {sorted(compat.PREDICTOR_NODE_FIELDS - fields)}"
    mapper = compat.hist_gbdt_bin_mapper(gbdt)
    assert mapper is not None and hasattr(mapper, "is_categorical_"), \
        "HistGradientBoostingClassifier._bin_mapper.is_categorical_ is gone"


def test_every_type_a_model_file_may_hold_imports_under_the_name_written_into_model_files():
    from medsweep.estimators import REGISTRY
    from medsweep.preprocess import SAVED_TYPES

    names = [*SAVED_TYPES, *(t for e in REGISTRY.values() for t in e.saved_types
                             if importlib.util.find_spec(e.package.replace("scikit-learn", "sklearn")))]
    gone = [n for n in names if not isinstance(_resolve(n), type) or _resolve(n).__name__ != n.rsplit(".", 1)[1]]
    assert not gone, f"model files name these types, which no longer import as named: {gone}"


def test_no_scikit_learn_private_name_is_used_outside_the_compat_module():
    """A private attribute of a scikit-learn object (``._name``, ``sklearn.x._y``) only in _sklearn_compat;
    the type names written into model files (strings) are checked above."""
    private = re.compile(r"\bsuper\(\S*\)\._[a-z]|\bfrom sklearn\S*\._\w|\bimport sklearn\S*\._"
                         r"|\._training_dim|\._bin_mapper|\._predictors|\._dense_fit|\._validate_input|\._hstack")
    hits = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in (ROOT / "src" / "medsweep").rglob("*.py")
            if p.name != "_sklearn_compat.py"
            for n, line in enumerate(p.read_text().splitlines(), 1) if private.search(line)]
    assert hits == []


def test_the_skops_schema_the_model_checks_read_is_the_installed_skops_format():
    """learn/model_archive.py reads skops' schema (loader names, protocol): a new skops format must be
    checked before model files written with it are trusted."""
    from skops.io import _persist, _protocol

    from medsweep.learn.model_archive import LOADERS, SKOPS_PROTOCOL

    assert _protocol.PROTOCOL == SKOPS_PROTOCOL, \
        f"skops writes schema protocol {_protocol.PROTOCOL}; the model-file checks know {SKOPS_PROTOCOL}"
    known = {name for name, protocol in _persist.NODE_TYPE_MAPPING if protocol == SKOPS_PROTOCOL}
    assert set(LOADERS) <= known, f"skops no longer has the loaders {sorted(set(LOADERS) - known)}"


def test_a_lightgbm_booster_saves_its_model_text_where_the_checks_read_it():
    import lightgbm

    from medsweep.estimators import REGISTRY

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 3)), rng.integers(0, 2, 60)
    booster = lightgbm.LGBMClassifier(n_estimators=2, verbose=-1).fit(X, y).booster_
    (saved,) = REGISTRY["lightgbm"].saved_texts
    state = booster.__getstate__()
    key = next((k for k in saved.attributes if k in state), None)
    assert key and isinstance(state[key], str), \
        f"LightGBM's Booster state holds its model text under none of {saved.attributes}"
    saved.check(state[key])  # the checks accept what LightGBM writes
