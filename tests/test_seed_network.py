"""The seed network trained end to end: XOR, stopping rules, determinism."""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp

from .conftest import to_xp


def _seed_net(seed=0, hidden=4):
    return dp.Network(
        [dp.Dense(2, hidden, "sigmoid"), dp.Dense(hidden, 1, "sigmoid")], random_state=seed
    )


def test_learns_xor_by_full_batch_gradient_descent(xor, xp):
    X, y = to_xp(xp, *xor)
    net = _seed_net()
    history = dp.train(net, X, y, optimizer=dp.SGD(learning_rate=2.0), max_iter=3000)
    assert history.stop_reason == "max_iter" and history.n_iter == 3000
    predictions = np.asarray(net.forward(X))[:, 0]
    np.testing.assert_array_equal(predictions > 0.5, xor[1] == 1.0)
    assert history.loss[-1] < 0.05 < history.loss[0]
    assert all(b <= a + 1e-12 for a, b in zip(history.loss, history.loss[1:], strict=False))


def test_target_loss_stops_early_and_keeps_the_weights_that_reached_it(xor):
    X, y = xor
    net = _seed_net()
    history = dp.train(
        net, X, y, optimizer=dp.SGD(learning_rate=2.0), max_iter=5000, target_loss=0.1
    )
    assert history.stop_reason == "target_loss"
    assert history.n_iter < 5000
    assert history.loss[-1] <= 0.1 < history.loss[-2]
    assert net.loss_and_gradients(X, y)[0] == pytest.approx(history.loss[-1], rel=1e-12)


def test_history_loss_is_the_loss_before_each_update(xor):
    X, y = xor
    net = _seed_net()
    expected = []
    probe = _seed_net()
    for _ in range(3):
        loss, grads = probe.loss_and_gradients(X, y)
        expected.append(loss)
        for layer, (d_weights, d_bias) in zip(probe.layers, grads, strict=True):
            layer.weights = layer.weights - 0.5 * d_weights
            layer.bias = layer.bias - 0.5 * d_bias
    history = dp.train(net, X, y, optimizer=dp.SGD(learning_rate=0.5), max_iter=3)
    # training runs the blocked NumPy kernel, loss_and_gradients the textbook passes
    # (the bits explain mode shows): equal within rounding
    np.testing.assert_allclose(history.loss, expected, rtol=1e-13)
    for a, b in zip(net.parameters, probe.parameters, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_no_improvement_only_with_tol(xor):
    X, y = xor
    history = dp.train(
        _seed_net(),
        X,
        y,
        optimizer=dp.SGD(learning_rate=1e-6),
        max_iter=50,
        tol=1e-3,
        n_iter_no_change=5,
    )
    # iteration 1 sets the best loss; iterations 2-6 fail to improve on it by tol
    assert history.stop_reason == "no_improvement" and history.n_iter == 6
    history = dp.train(_seed_net(), X, y, optimizer=dp.SGD(learning_rate=1e-6), max_iter=50)
    assert history.stop_reason == "max_iter"


@pytest.mark.parametrize("batch_size", [None, 3])
@pytest.mark.parametrize(
    "make_optimizer", [lambda: dp.SGD(0.5, momentum=0.9), lambda: dp.Adam(0.05)]
)
def test_same_seed_gives_bit_identical_training(batch_size, make_optimizer, rng):
    X = rng.normal(size=(20, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(float)
    w = rng.uniform(0.5, 2.0, size=20)
    runs = []
    for _ in range(2):
        net = _seed_net(seed=3, hidden=5)
        history = dp.train(
            net,
            X,
            y,
            sample_weight=w,
            optimizer=make_optimizer(),
            batch_size=batch_size,
            max_iter=20,
            random_state=11,
        )
        runs.append((history.loss, net.parameters))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_mini_batch_epoch_loss_is_weighted_mean_of_batch_losses(rng):
    X = rng.normal(size=(10, 2))
    y = rng.uniform(size=10)
    w = rng.uniform(0.5, 2.0, size=10)
    net = _seed_net(seed=1)
    probe = _seed_net(seed=1)
    history = dp.train(
        net, X, y, sample_weight=w, batch_size=4, max_iter=1, random_state=5, optimizer=dp.SGD(0.3)
    )
    order = np.random.default_rng(5).permutation(10)
    total, weight = 0.0, 0.0
    for start in range(0, 10, 4):
        idx = order[start : start + 4]
        loss, grads = probe.loss_and_gradients(X[idx], y[idx], w[idx])
        total += loss * w[idx].sum()
        weight += w[idx].sum()
        for layer, (d_weights, d_bias) in zip(probe.layers, grads, strict=True):
            layer.weights = layer.weights - 0.3 * d_weights
            layer.bias = layer.bias - 0.3 * d_bias
    assert history.loss == [pytest.approx(total / weight, rel=1e-12)]
    for a, b in zip(net.parameters, probe.parameters, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_divergence_stops_keeps_finite_weights_and_warns():
    X = np.array([[1.0], [2.0]])
    y = np.array([1.0, -1.0])
    net = dp.Network([dp.Dense(1, 1, "identity")], loss="squared_error", random_state=0)
    with pytest.warns(dp.DivergenceWarning, match=r"iteration \d+: .*learning_rate=1e\+30"):
        history = dp.train(net, X, y, optimizer=dp.SGD(learning_rate=1e30), max_iter=50)
    # the second loss (about 1e60) exploded: over 1e6 times the first and over 1e3
    assert history.stop_reason == "diverged" and history.n_iter == 1
    assert history.divergence.problem.startswith("the loss exploded to ")
    # the kept weights are the last ones whose loss was finite: the final History entry
    assert net.loss_and_gradients(X, y)[0] == pytest.approx(history.loss[-1], rel=1e-12)
    assert all(np.all(np.isfinite(p)) for p in net.parameters)
    assert all(np.isfinite(history.loss))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_iter": 0}, ValueError, "max_iter must be >= 1, got 0"),
        ({"max_iter": 2.5}, TypeError, "max_iter must be an int"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ({"tol": -1.0}, ValueError, "tol must be >= 0"),
        ({"n_iter_no_change": 0}, ValueError, "n_iter_no_change must be >= 1"),
        ({"target_loss": float("nan")}, ValueError, "target_loss must be finite"),
        ({"optimizer": "sgd"}, TypeError, "optimizer must be an Optimizer"),
    ],
)
def test_bad_training_arguments(kwargs, error, match, xor):
    with pytest.raises(error, match=match):
        dp.train(_seed_net(), *xor, **kwargs)
    with pytest.raises(TypeError, match="net must be a Network"):
        dp.train("net", *xor)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: dp.SGD(learning_rate=0.0), "learning_rate must be > 0"),
        (lambda: dp.SGD(momentum=1.0), "momentum must be < 1"),
        (lambda: dp.SGD(nesterov=True), "nesterov=True needs momentum > 0"),
        (lambda: dp.Adam(beta_1=1.0), "beta_1 must be < 1"),
        (lambda: dp.Adam(epsilon=0.0), "epsilon must be > 0"),
        (lambda: dp.Adam(weight_decay=-0.1), "weight_decay must be >= 0"),
    ],
)
def test_bad_optimizer_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()
