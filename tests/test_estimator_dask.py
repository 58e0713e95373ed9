"""``MLPClassifier.fit`` / ``MLPRegressor.fit`` on Dask collections."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from deltaprop import MLPClassifier, MLPRegressor

from .conftest import run_docs_pages

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

DOCS = Path(__file__).resolve().parent.parent / "docs" / "scale.md"
CHUNKS = (30, 11, 40, 20)  # unequal row blocks, 101 rows


@pytest.fixture(scope="module")
def client(dask_client):
    return dask_client


@pytest.fixture
def data():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(101, 3))
    w = rng.uniform(0.1, 2.0, size=101)
    return X, w


def _rows(a, chunks=CHUNKS):
    return da.from_array(a, chunks=(chunks, *a.shape[1:]))


def _fit_quietly(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is small on purpose
        return est.fit(*args, **kwargs)


def _assert_same_fit(on_dask, in_memory, rtol=1e-8):
    assert on_dask.n_iter_ == in_memory.n_iter_
    assert on_dask.stop_reason_ == in_memory.stop_reason_
    np.testing.assert_allclose(on_dask.loss_curve_, in_memory.loss_curve_, rtol=rtol)
    pairs = zip(
        on_dask.coefs_ + on_dask.intercepts_,
        in_memory.coefs_ + in_memory.intercepts_,
        strict=True,
    )
    for a, b in pairs:
        assert type(a) is np.ndarray and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=0)


LBFGS = {"hidden_layer_sizes": (5,), "activation": "tanh", "solver": "lbfgs"}
LBFGS |= {"alpha": 0.01, "max_iter": 25, "random_state": 0}


def test_lbfgs_classifier_on_dask_equals_the_in_memory_fit(client, data):
    X, w = data
    y = (X[:, 0] - 0.5 * X[:, 1] > 0).astype(int)
    in_memory = _fit_quietly(MLPClassifier(**LBFGS), X, y, sample_weight=w)
    # y and w cut differently from X on purpose: they are re-cut to X's blocks
    on_dask = _fit_quietly(
        MLPClassifier(**LBFGS),
        _rows(X),
        da.from_array(y, chunks=17),
        sample_weight=da.from_array(w, chunks=50),
    )
    _assert_same_fit(on_dask, in_memory)
    np.testing.assert_array_equal(on_dask.classes_, [0, 1])
    predicted = on_dask.predict(_rows(X))
    assert isinstance(predicted, da.Array)
    np.testing.assert_array_equal(predicted.compute(), in_memory.predict(X))


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_lbfgs_regressor_on_dask_equals_the_in_memory_fit(client, data, loss):
    X, w = data
    if loss == "poisson":  # one count target: also checks the reported Poisson constant
        y = np.random.default_rng(0).poisson(np.exp(0.5 * X[:, 0])).astype(float)
    else:  # two outputs
        y = np.column_stack([X[:, 0] - X[:, 1] ** 2, np.sin(X[:, 2])])
    in_memory = _fit_quietly(MLPRegressor(loss, **LBFGS), X, y, sample_weight=w)
    on_dask = _fit_quietly(MLPRegressor(loss, **LBFGS), _rows(X), _rows(y), sample_weight=_rows(w))
    _assert_same_fit(on_dask, in_memory)
    np.testing.assert_allclose(on_dask.predict(X), in_memory.predict(X), rtol=1e-8)


def test_multiclass_string_labels_from_dask_dataframes(client, data):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, w = data
    labels = np.array(["ant", "bee", "cat"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)]
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    params = {**LBFGS, "class_weight": {"ant": 2.0, "cat": 0.5}}
    in_memory = _fit_quietly(MLPClassifier(**params), frame, labels, sample_weight=w)
    on_dask = _fit_quietly(
        MLPClassifier(**params),
        dd.from_pandas(frame, npartitions=3),
        dd.from_pandas(pd.Series(labels), npartitions=3),
        sample_weight=dd.from_pandas(pd.Series(w), npartitions=3),
    )
    _assert_same_fit(on_dask, in_memory)
    np.testing.assert_array_equal(on_dask.classes_, ["ant", "bee", "cat"])
    np.testing.assert_array_equal(on_dask.feature_names_in_, ["a", "b", "c"])
    np.testing.assert_array_equal(on_dask.predict(frame), in_memory.predict(frame))
    proba = on_dask.predict_proba(_rows(X)).compute()
    np.testing.assert_allclose(proba, in_memory.predict_proba(frame), rtol=1e-8)


def test_an_empty_row_block_is_allowed(client, data):
    X, w = data
    y = np.where(X[:, 0] > 0, "yes", "no")
    params = {**LBFGS, "class_weight": "balanced"}
    in_memory = _fit_quietly(MLPClassifier(**params), X, y, sample_weight=w)
    chunks = (30, 0, 51, 20)  # as a filtered DataFrame's partitions can be
    on_dask = _fit_quietly(
        MLPClassifier(**params), _rows(X, chunks), _rows(y, chunks), sample_weight=_rows(w, chunks)
    )
    _assert_same_fit(on_dask, in_memory)


def test_one_batch_per_epoch_is_exact_full_batch_training(client, data):
    X, w = data
    y = X[:, 0] - 2.0 * X[:, 1]
    params = {"hidden_layer_sizes": (4,), "solver": "sgd", "batch_size": 101, "momentum": 0.9}
    params |= {"learning_rate_init": 0.05, "max_iter": 15, "random_state": 2}
    in_memory = _fit_quietly(MLPRegressor(**params), X, y, sample_weight=w)
    on_dask = _fit_quietly(MLPRegressor(**params), _rows(X), _rows(y), sample_weight=_rows(w))
    _assert_same_fit(on_dask, in_memory, rtol=1e-10)
    # the optimizer state (momentum velocities) comes back as NumPy arrays too
    velocities = in_memory.optimizer_state_["velocities"]
    for a, b in zip(on_dask.optimizer_state_["velocities"], velocities, strict=True):
        assert type(a) is np.ndarray
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_local_sgd_learns_a_separable_problem(client):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 2))
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    clf = MLPClassifier((8,), solver="adam", learning_rate_init=0.02, batch_size=32)
    clf.set_params(max_iter=15, random_state=0)
    _fit_quietly(clf, _rows(X, (200, 150, 250)), _rows(y, (200, 150, 250)))
    assert clf.n_iter_ == len(clf.loss_curve_) > 1
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]
    assert clf.score(X, y) >= 0.95
    assert clf.t_ == clf.n_iter_ * 600
    assert clf.optimizer_state_["t"] > 0  # Adam's averaged state is kept


def test_unsupported_parameters_are_refused_by_name(client, data):
    X, _ = data
    y = (X[:, 0] > 0).astype(int)
    # early stopping (on the loss or the score), schedules, dropout and multilabel targets
    # train on Dask (tests/test_dask_parity.py); these cannot, and say why
    for params, name in [
        ({"device": "cpu"}, "device"),
        ({"solver": "sgd", "batch_size": 10, "shuffle": False}, "shuffle"),
    ]:
        with pytest.raises(ValueError, match=f"{name}=.* not supported when fitting on dask"):
            MLPClassifier((3,), max_iter=2, **params).fit(_rows(X), _rows(y))
    clf = MLPClassifier((3,), solver="sgd", max_iter=2)
    with pytest.raises(TypeError, match="partial_fit takes in-memory arrays"):
        clf.partial_fit(_rows(X), _rows(y), classes=[0, 1])
    with pytest.raises(ValueError, match="multilabel indicator matrix of 0/1 values"):
        MLPClassifier((3,), max_iter=2).fit(_rows(X), _rows(2.0 * np.eye(2)[y]))


@pytest.mark.early(command=run_docs_pages)  # the run of tests/test_docs.py (conftest.py)
def test_docs_estimators_on_dask_example_prints_what_it_says(docs_page_run):
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    block = next(i for i, b in enumerate(blocks) if "MLPClassifier" in b)
    printed = docs_page_run(DOCS.name).lines(block)
    assert printed[:4] == ["['down' 'up'] ndarray", "True", "['up']", "(5,)"]


def test_blocks_of_unknown_size_are_counted_and_fit_as_in_memory(client, data):
    X, w = data
    keep = X[:, 2] > -1.0
    X_d, y_d, w_d = _rows(X), _rows(X[:, 0] - X[:, 1]), _rows(w)
    mask = X_d[:, 2] > -1.0  # a boolean mask: the row blocks' sizes are unknown (NaN)
    assert all(np.isnan(c) for c in X_d[mask].chunks[0])
    on_dask = _fit_quietly(MLPRegressor(**LBFGS), X_d[mask], y_d[mask], sample_weight=w_d[mask])
    in_memory = _fit_quietly(
        MLPRegressor(**LBFGS), X[keep], X[keep, 0] - X[keep, 1], sample_weight=w[keep]
    )
    _assert_same_fit(on_dask, in_memory)
