"""Numerical failure is a state: every solver reports divergence with its probable cause.

The references are computed here: the L2 penalty and the squared error by their formulas,
the overflow thresholds from ``numpy.finfo``.
"""

from __future__ import annotations

import math
import os
import tempfile
import warnings

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.core.validation import check_sample_weight


@pytest.fixture
def blobs(rng):
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(float)
    return X, y


def _net(alpha=0.0, hidden="relu"):
    return dp.Network(
        [dp.Dense(3, 8, hidden), dp.Dense(8, 1, "sigmoid")], alpha=alpha, random_state=0
    )


def _train(net, X, y, **kwargs):
    with pytest.warns(dp.DivergenceWarning) as record:
        history = dp.train(net, X, y, **kwargs)
    assert history.stop_reason == "diverged"
    assert all(bool(np.all(np.isfinite(np.asarray(p)))) for p in net.parameters)
    return history, str(record[0].message)


def _penalty(net, n_samples):
    """``alpha/2 sum ||W||^2 / n``, by its formula."""
    squares = sum(
        math.fsum((layer.weights.astype(np.float64) ** 2).ravel()) for layer in net.layers
    )
    return net.alpha / 2.0 * squares / n_samples


@pytest.mark.parametrize("optimizer", [dp.LBFGS(), dp.Adam(), dp.SGD(learning_rate=0.1)], ids=repr)
def test_a_huge_penalty_is_blamed_not_the_learning_rate(blobs, optimizer):
    X, y = blobs
    net = _net(alpha=1e300)
    start = _penalty(net, X.shape[0])
    history, message = _train(net, X, y, optimizer=optimizer, max_iter=20)
    assert "Likely cause: the L2 penalty is too large: alpha=1e+300" in message
    assert f"makes it {start:.3g} at the start" in message
    assert "learning rate is too high" not in message
    assert history.divergence.cause == "penalty"


def test_adam_with_a_huge_penalty_leaves_a_state_that_saves(blobs):
    X, y = blobs
    adam = dp.Adam()
    history, _ = _train(_net(alpha=1e300), X, y, optimizer=adam, max_iter=20)
    # its second moment overflowed (g ~ 1e298): reported, then forgotten
    assert history.divergence.problem.startswith("the optimizer's state")
    assert adam.state_arrays() == [] and adam.t == 0
    clf = dp.MLPClassifier((8,), solver="adam", alpha=1e300, max_iter=20, random_state=0)
    with pytest.warns(dp.DivergenceWarning):
        clf.fit(X, y)
    assert clf.stop_reason_ == "diverged" and clf.divergence_["cause"] == "penalty"
    path = os.path.join(tempfile.mkdtemp(), "clf.deltaprop")
    dp.save(clf, path)
    again = dp.load(path)
    assert again.divergence_ == clf.divergence_
    np.testing.assert_array_equal(again.predict(X), clf.predict(X))


def test_lbfgs_from_extreme_weights_stops_before_any_step(blobs):
    X, y = blobs
    net = _net()
    net.layers[0].weights = np.full((3, 8), 1e200)
    history, message = _train(net, X, y, optimizer=dp.LBFGS(), max_iter=20)
    assert "start from fresh weights" in message
    assert history.n_iter == 0 and history.divergence.cause == "initial_weights"
    assert f">= {math.sqrt(np.finfo(np.float64).max):.3g}" in history.divergence.problem


def test_lbfgs_on_extreme_inputs_blames_the_data(blobs):
    X, y = blobs
    X = X.copy()
    X[5, 1] = 1e200  # z ~ 1e200: the squared error overflows
    net = dp.Network([dp.Dense(3, 1, "identity")], loss="squared_error", random_state=0)
    history, message = _train(net, X, y, optimizer=dp.LBFGS(), max_iter=20)
    assert "X holds extreme values (largest magnitude 1e+200" in message
    assert history.divergence.cause == "data"


def test_a_finite_loss_that_explodes_is_divergence():
    # one identity unit, squared error: after one step of 1e30 the weight is about 1e30
    # and the loss about 1e60, finite but far beyond 1e6 times the first
    X, y = np.array([[1.0], [2.0]]), np.array([1.0, -1.0])
    for batch_size in (None, 1):
        net = dp.Network([dp.Dense(1, 1, "identity")], loss="squared_error", random_state=0)
        w0, b0 = float(net.layers[0].weights[0, 0]), float(net.layers[0].bias[0])
        history, _ = _train(
            net, X, y, optimizer=dp.SGD(learning_rate=1e30), batch_size=batch_size, max_iter=5
        )
        assert history.divergence.problem.startswith("the loss exploded to ")
        assert history.divergence.cause == "learning_rate"
        if batch_size is None:
            first = np.mean((X[:, 0] * w0 + b0 - y) ** 2) / 2
            assert history.loss == [pytest.approx(first, rel=1e-12)]
            assert net.layers[0].weights[0, 0] == w0  # the weights of the last sound loss


def test_the_explosion_rule():
    from deltaprop.training.divergence import EXPLOSION_FACTOR, EXPLOSION_FLOOR, Watch

    watch = Watch(None, xp=np)
    assert watch.check_loss(0.5) is None  # the reference
    assert watch.check_loss(0.5 * EXPLOSION_FACTOR) is None  # not above 1e6 times
    assert watch.check_loss(0.5 * EXPLOSION_FACTOR * 1.01).startswith("the loss exploded")
    small = Watch(None, xp=np)
    assert small.check_loss(1e-9) is None
    assert small.check_loss(EXPLOSION_FLOOR) is None  # 1e12 times, but below the floor
    assert small.check_loss(EXPLOSION_FLOOR * 1.01) is not None
    assert small.check_loss(math.nan) == "the loss became nan"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weights_overflow_at_the_square_root_of_the_largest_float(dtype):
    from deltaprop.training.divergence import Watch, overflow_threshold

    limit = math.sqrt(float(np.finfo(dtype).max))
    assert overflow_threshold(dtype) == pytest.approx(limit, rel=1e-12)
    watch = Watch(None, xp=np)
    below = np.array([limit / 2], dtype=dtype)
    assert watch.check_weights([below, np.zeros(2, dtype=dtype)]) is None
    above = np.array([np.nextafter(dtype(limit), dtype(np.inf))], dtype=dtype)
    assert watch.check_weights([np.zeros(2, dtype=dtype), above]).startswith("the weights overflow")
    nan = np.array([0.0, np.nan], dtype=dtype)
    assert watch.check_weights([nan]) == "the weights became NaN or infinite"
    state = [np.array([np.inf], dtype=dtype)]
    assert watch.check_weights([below], state).startswith("the optimizer's state")


def test_the_static_step_reports_the_same_divergence(blobs, monkeypatch):
    torch = pytest.importorskip("torch")
    from deltaprop.kernels import cuda_graph

    monkeypatch.setattr(cuda_graph, "is_cuda", lambda X: True)
    monkeypatch.setattr(cuda_graph, "capture", cuda_graph.DirectStep)
    X, y = (torch.asarray(a) for a in blobs)
    divergences = []
    for graph in (False, True):
        net = _net(alpha=1e300)
        history, _ = _train(net, X, y, optimizer=dp.Adam(), max_iter=5, cuda_graph=graph)
        divergences.append(history.divergence)
    assert divergences[0] == divergences[1]
    assert divergences[0].cause == "penalty"


def test_dask_reports_the_penalty(blobs, dask_client):
    da = pytest.importorskip("dask.array")
    from deltaprop.parallel import train as parallel_train

    X, y = blobs
    net = _net(alpha=1e300)
    with pytest.warns(dp.DivergenceWarning, match="the L2 penalty is too large"):
        history = parallel_train(
            net, da.from_array(X, chunks=20), da.from_array(y, chunks=20), client=dask_client
        )
    assert history.stop_reason == "diverged" and history.divergence.cause == "penalty"
    w = da.from_array(np.full(X.shape[0], 1e308), chunks=20)
    with pytest.raises(ValueError, match="sample_weight must have a finite sum, got inf"):
        parallel_train(
            _net(),
            da.from_array(X, chunks=20),
            da.from_array(y, chunks=20),
            sample_weight=w,
            client=dask_client,
        )


def test_sample_weights_whose_sum_overflows_are_refused(blobs):
    X, y = blobs
    w = np.full(X.shape[0], 1e308)
    with pytest.raises(ValueError, match=r"sample_weight must have a finite sum, got inf"):
        check_sample_weight(w, X, xp=np)
    with pytest.raises(ValueError, match=r"sample_weight must have a finite sum"):
        dp.train(_net(), X, y, sample_weight=w, optimizer=dp.SGD(0.1), max_iter=2)
    with pytest.raises(ValueError, match=r"sample_weight must have a finite sum"):
        dp.MLPClassifier((4,), max_iter=2).fit(X, y, sample_weight=w)
    one_big = np.ones(X.shape[0])
    one_big[0] = 1e308  # a finite sum: accepted
    assert check_sample_weight(one_big, X, xp=np) is not None


def test_layer_sizes_beyond_an_array_name_the_argument(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match=r"^n_in, n_out: a layer of 1099511627776 inputs"):
        dp.Dense(2**40, 2**40)
    with pytest.raises(ValueError, match=r"^hidden_layer_sizes: a layer of 3 inputs and 10+"):
        dp.MLPClassifier((10**22,)).fit(X, y)
    with pytest.raises(MemoryError, match=r"^layers\[1\]: the 8 x 1000000000000000 weights"):
        dp.Network([dp.Dense(3, 8), dp.Dense(8, 10**15)])
    with pytest.raises(MemoryError, match=r"^hidden_layer_sizes: the 3 x 1000000000000000"):
        dp.MLPRegressor(hidden_layer_sizes=(10**15,)).fit(X, y)


def test_a_sound_run_records_no_divergence(blobs):
    X, y = blobs
    with warnings.catch_warnings():
        warnings.simplefilter("error", dp.DivergenceWarning)
        history = dp.train(_net(alpha=1e-4), X, y, optimizer=dp.SGD(0.5), max_iter=30)
    assert history.divergence is None and history.stop_reason == "max_iter"
