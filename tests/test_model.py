"""Model files of the estimators and of TabularModel: exact round trips, strict loading."""

from __future__ import annotations

import json
import warnings
import zipfile

import numpy as np
import pytest

pytest.importorskip("sklearn")
pd = pytest.importorskip("pandas")

import deltaprop as dp  # noqa: E402
from deltaprop.files.container import ModelFileError  # noqa: E402


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the tiny fits
        yield


def _X(rng, n=40):
    return rng.normal(size=(n, 3))


LABELS = {
    "str": np.array(["cat", "dog", "emu"]),
    "object": np.array(["no", "yes"], dtype=object),
    "int": np.array([3, 7, 11]),
    "bool": np.array([False, True]),
}


@pytest.mark.parametrize("labels", list(LABELS), ids=list(LABELS))
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_classifier_round_trip_and_warm_start(labels, solver, rng, tmp_path):
    X = _X(rng)
    y = LABELS[labels][rng.integers(0, len(LABELS[labels]), len(X))]
    clf = dp.MLPClassifier((4,), solver=solver, max_iter=4, random_state=0, momentum=0.5)
    clf.fit(X, y)
    path = tmp_path / "clf.deltaprop"
    dp.save(clf, path)
    again = dp.load(path)
    assert type(again) is dp.MLPClassifier
    assert again.get_params() == clf.get_params()
    assert again.classes_.dtype == clf.classes_.dtype
    np.testing.assert_array_equal(again.classes_, clf.classes_)
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(again.predict(X), clf.predict(X))
    for key in ("loss_curve_", "n_iter_", "t_", "stop_reason_", "best_loss_", "out_activation_"):
        assert getattr(again, key) == getattr(clf, key), key
    # a warm start continues exactly as the original would
    for est in (clf, again):
        est.set_params(warm_start=True, max_iter=3).fit(X, y)
    for a, b in zip(again.coefs_ + again.intercepts_, clf.coefs_ + clf.intercepts_, strict=True):
        np.testing.assert_array_equal(a, b)
    assert again.loss_curve_ == clf.loss_curve_


def test_regressor_round_trip_with_early_stopping_and_partial_fit(rng, tmp_path):
    X = _X(rng)
    y = X @ np.array([1.0, -2.0, 0.5]) + 3.0
    reg = dp.MLPRegressor(
        hidden_layer_sizes=(5, 2),
        solver="sgd",
        max_iter=5,
        early_stopping=True,
        n_iter_no_change=np.inf,
        random_state=1,
    )
    reg.fit(pd.DataFrame(X, columns=["a", "b", "c"]), y)
    path = tmp_path / "reg.deltaprop"
    dp.save(reg, path)
    again = dp.load(path)
    assert again.n_iter_no_change == np.inf
    assert again.feature_names_in_.tolist() == ["a", "b", "c"]
    assert again.validation_loss_curve_ == reg.validation_loss_curve_
    assert again.validation_scores_ == reg.validation_scores_
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    np.testing.assert_array_equal(again.predict(frame), reg.predict(frame))
    for est in (reg, again):
        est.set_params(early_stopping=False).partial_fit(frame, y)
    np.testing.assert_array_equal(again.predict(frame), reg.predict(frame))


def test_class_weight_dict_round_trips(rng, tmp_path):
    X, y = _X(rng), np.array(["a", "b"] * 20)
    clf = dp.MLPClassifier((3,), solver="lbfgs", max_iter=3, class_weight={"b": 2.0, "a": 0.5})
    clf.fit(X, y)
    dp.save(clf, tmp_path / "c")
    assert dp.load(tmp_path / "c").class_weight == {"a": 0.5, "b": 2.0}


def test_unsavable_estimators(rng, tmp_path):
    X, y = _X(rng), np.array([0, 1] * 20)
    with pytest.raises(ValueError, match="not fitted yet"):
        dp.save(dp.MLPClassifier(), tmp_path / "m")
    clf = dp.MLPClassifier((2,), max_iter=2, callbacks=[lambda i, h, n: None]).fit(X, y)
    with pytest.raises(TypeError, match="callbacks"):
        dp.save(clf, tmp_path / "m")
    clf = dp.MLPClassifier((2,), max_iter=2, random_state=np.random.RandomState(0)).fit(X, y)
    with pytest.raises(TypeError, match="random_state"):
        dp.save(clf, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def _rewrite_header(path, change):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = json.loads(members["header.json"])
    change(header)
    members["header.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h: h["config"]["params"].update(solver="newton"), "solver"),
        (lambda h: h["config"]["params"].update(evil=1), "unexpected keys"),
        (lambda h: h["config"]["fitted"]["classes_"].update(dtype="|V8"), "dtype"),
        (lambda h: h["config"]["fitted"]["classes_"].update(values=["b", "a"]), "sorted"),
        (lambda h: h["config"]["fitted"].update(n_features_in_=5), "does not fit"),
        (lambda h: h["config"]["optimizer_state"].update(name="os.system"), "name must be"),
        (lambda h: h["config"]["fitted"].update(y_type_="continuous"), "y_type_"),
    ],
)
def test_tampered_estimator_files_are_refused(change, message, rng, tmp_path):
    X, y = _X(rng), np.array(["a", "b"] * 20)
    path = tmp_path / "clf.deltaprop"
    dp.save(dp.MLPClassifier((2,), max_iter=2, random_state=0).fit(X, y), path)
    _rewrite_header(path, change)
    with pytest.raises(ModelFileError, match=message):
        dp.load(path)


def test_tabular_model_answers_in_the_targets_terms(rng, tmp_path):
    n = 40
    table = {
        "size": rng.normal(size=n),
        "colour": rng.choice(["red", "blue"], n),
        "price": rng.normal(size=n) * 1000.0 + 250_000.0,
        "weight": np.arange(n) % 2 + 1.0,
    }
    model = dp.TabularModel(
        dp.MLPRegressor(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=5, random_state=0)
    )
    model.fit(table, "price", sample_weight="weight")
    assert model.feature_names_in_ == ["size", "colour"]
    X = model.transform(table)
    expected = model.estimator_.predict(X) * model.preprocessor_.target_scale_
    np.testing.assert_array_equal(model.predict(table), expected + model.preprocessor_.target_mean_)
    path = tmp_path / "m.deltaprop"
    dp.save(model, path)
    again = dp.load(path)
    np.testing.assert_array_equal(again.predict(table), model.predict(table))
    assert again.sample_weight_ == "weight"
    scores = again.evaluate(table)
    residual = np.asarray(table["price"]) - model.predict(table)
    assert scores["mse"] == pytest.approx(np.mean(residual**2), rel=1e-12)
    assert scores["mae"] == pytest.approx(np.mean(np.abs(residual)), rel=1e-12)
    with pytest.raises(ValueError, match="classification model"):
        model.predict_proba(table)
    with pytest.raises(ValueError, match="needs a MLPClassifier"):
        dp.TabularModel(dp.MLPRegressor()).fit({**table, "c": ["a", "b"] * 20}, "c")


def test_a_poisson_tabular_model_learns_the_counts_themselves(rng, tmp_path):
    n = 40
    size = rng.normal(size=n)
    table = {"size": size, "count": rng.poisson(np.exp(0.5 * size)).astype(float)}
    params = {"hidden_layer_sizes": (3,), "solver": "lbfgs", "max_iter": 5, "random_state": 0}
    model = dp.TabularModel(dp.MLPRegressor("poisson", **params), scaling="standard")
    model = model.fit(table, "count")
    pre = model.preprocessor_
    assert (pre.target_mean_, pre.target_scale_) == (0.0, 1.0)  # counts stay >= 0
    np.testing.assert_array_equal(pre.transform_target(table), table["count"])
    # the estimator is the one fitted on the standardised feature and the raw counts
    standardised = ((size - size.mean()) / size.std())[:, None]
    expected = dp.MLPRegressor("poisson", **params).fit(standardised, table["count"])
    for a, b in zip(model.estimator_.coefs_, expected.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    predicted = model.predict(table)
    np.testing.assert_array_equal(predicted, model.estimator_.predict(pre.transform(table)))
    dp.save(model, tmp_path / "m.deltaprop")
    np.testing.assert_array_equal(dp.load(tmp_path / "m.deltaprop").predict(table), predicted)


def test_weighted_evaluation_matches_scikit_learns_metrics(rng):
    from sklearn import metrics

    n = 60
    table = {
        "a": rng.normal(size=n),
        "b": rng.normal(size=n),
        "kind": rng.choice(["x", "y", "z"], n),
        "w": rng.uniform(0.0, 3.0, size=n),
    }
    table["price"] = 3.0 * table["a"] - table["b"] + rng.normal(size=n)
    clf = dp.TabularModel(dp.MLPClassifier((4,), solver="lbfgs", max_iter=20, random_state=0))
    clf.fit({k: v for k, v in table.items() if k != "price"}, "kind", sample_weight="w")
    w = table["w"]
    scores = clf.evaluate(table, sample_weight="w")
    y_true, y_pred = table["kind"], clf.predict(table)
    proba = clf.predict_proba(table)
    assert scores["accuracy"] == pytest.approx(
        metrics.accuracy_score(y_true, y_pred, sample_weight=w), rel=1e-12
    )
    assert scores["balanced_accuracy"] == pytest.approx(
        metrics.balanced_accuracy_score(y_true, y_pred, sample_weight=w), rel=1e-12
    )
    assert scores["log_loss"] == pytest.approx(
        metrics.log_loss(y_true, proba, sample_weight=w, labels=clf.classes_), rel=1e-10
    )
    np.testing.assert_allclose(
        scores["confusion_matrix"],
        metrics.confusion_matrix(y_true, y_pred, sample_weight=w, labels=clf.classes_),
        rtol=1e-12,
    )
    # weights given as an array, and integer weights equal repeated rows
    assert clf.evaluate(table, sample_weight=w) == scores
    counts = np.arange(n) % 3
    repeated = {k: np.repeat(np.asarray(v), counts) for k, v in table.items()}
    by_weight = clf.evaluate(table, sample_weight=counts.astype(float))
    by_rows = clf.evaluate(repeated)
    for key in ("accuracy", "balanced_accuracy", "log_loss"):
        assert by_weight[key] == pytest.approx(by_rows[key], rel=1e-12)
    np.testing.assert_allclose(by_weight["confusion_matrix"], by_rows["confusion_matrix"])

    reg = dp.TabularModel(
        dp.MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=20, random_state=0)
    )
    reg.fit(table, "price", sample_weight="w")
    scores = reg.evaluate(table, sample_weight="w")
    predicted = reg.predict(table)
    for key, metric in (
        ("r2", metrics.r2_score),
        ("mse", metrics.mean_squared_error),
        ("mae", metrics.mean_absolute_error),
    ):
        expected = metric(table["price"], predicted, sample_weight=w)
        assert scores[key] == pytest.approx(expected, rel=1e-10), key
    assert reg.evaluate(table)["mse"] != scores["mse"]  # unweighted by default
    with pytest.raises(ValueError, match="sum to zero"):
        reg.evaluate(table, sample_weight=np.zeros(n))
    with pytest.raises(ValueError, match="not in the table"):
        reg.evaluate(table, sample_weight="nope")
    with pytest.raises(ValueError, match=">= 0"):
        reg.evaluate(table, sample_weight=-w)


def _load_in_a_fresh_process(folder):
    import os
    import sys
    from pathlib import Path

    path = folder / "clf.deltaprop"
    rng = np.random.default_rng(12345)  # conftest's rng
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is small on purpose
        clf = dp.MLPClassifier((2,), max_iter=2, random_state=0).fit(_X(rng), [0, 1] * 20)
    dp.save(clf, path)
    code = (
        "import sys, deltaprop\n"
        "assert 'deltaprop.estimators' not in sys.modules\n"
        f"print(type(deltaprop.load({str(path)!r})).__name__)\n"
    )
    src = str(Path(__file__).resolve().parent.parent / "src")
    return dict(args=[sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": src})


# started once the tests are collected, it runs on the second core (conftest.py)
@pytest.mark.early(command=_load_in_a_fresh_process)
def test_load_imports_the_estimator_kinds_on_demand(early_command):
    done = early_command.result(timeout=120)
    assert done.stdout.strip() == "MLPClassifier", done.stderr
