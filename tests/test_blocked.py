"""Blocked gradients: the same numbers as one textbook backward pass, in bounded memory."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.core.activations import FromOutput
from deltaprop.core.backprop import backward_pass, forward_pass
from deltaprop.core.objective import auto_block_size
from deltaprop.kernels import blocked, data_term_for

from .conftest import to_xp

# (hidden activations, output activation, loss, targets)
NETWORKS = [
    (["sigmoid"], "sigmoid", "binary_cross_entropy", "binary"),
    (["tanh", "relu"], "softmax", "cross_entropy", "onehot"),
    (["relu"], "identity", "squared_error", "real"),
    (["elu", "identity"], "tanh", "squared_error", "real"),
    (["gelu"], "exp", "poisson", "counts"),
    (["softmax"], "sigmoid", "squared_error", "binary"),
    (["silu"], "relu", "binary_cross_entropy", "binary"),
]


def _problem(rng, hidden, output, loss, targets, n_samples=203, n_features=4, n_outputs=3, width=5):
    sizes = [n_features] + [width] * len(hidden)
    layers = [dp.Dense(sizes[i], sizes[i + 1], activation=act) for i, act in enumerate(hidden)] + [
        dp.Dense(sizes[-1], n_outputs, activation=output)
    ]
    net = dp.Network(layers, loss=loss, random_state=0)
    X = rng.normal(size=(n_samples, n_features))
    if targets == "binary":
        y = (rng.uniform(size=(n_samples, n_outputs)) < 0.5).astype(float)
    elif targets == "onehot":
        y = np.eye(n_outputs)[rng.integers(0, n_outputs, n_samples)]
    elif targets == "counts":
        y = rng.poisson(2.0, size=(n_samples, n_outputs)).astype(float)
    else:
        y = rng.normal(size=(n_samples, n_outputs))
    w = rng.uniform(0.0, 2.0, size=n_samples)
    return net, X, y, w


def blocked_loss_and_gradients(layers, loss, params, X, y, w, total_weight, *, xp, block_size=None):
    """The data term as training computes it: the fused kernel for NumPy, else the textbook."""
    data = data_term_for(X, xp=xp)
    value, grads = data(layers, loss, params, X, y, w, total_weight, xp=xp, block_size=block_size)
    return float(value), grads


def _textbook(net, X, y, w, total_weight, xp):
    params = net._parameters_as(xp, X.dtype, None) if xp is np else list(_params_xp(net, xp, X))
    zs, activations = forward_pass(net.layers, params, X, xp=xp)
    result = backward_pass(net.layers, net.loss, params, zs, activations, y, w, total_weight, xp=xp)
    return params, float(result.loss), result.grads


def _params_xp(net, xp, X):
    for p in net.parameters:
        yield xp.asarray(np.asarray(p), dtype=X.dtype)


@pytest.mark.parametrize(("hidden", "output", "loss", "targets"), NETWORKS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("block_size", [1, 64, 1000])
@pytest.mark.parametrize(("n_outputs", "width"), [(3, 5), (1, 5), (1, 1)])
def test_blocked_equals_one_backward_pass(
    xp, rng, hidden, output, loss, targets, weighted, block_size, n_outputs, width
):
    if output == "softmax" and n_outputs == 1:
        pytest.skip("a softmax over one unit is constant")
    net, X, y, w = _problem(rng, hidden, output, loss, targets, n_outputs=n_outputs, width=width)
    w = w if weighted else None
    total_weight = float(np.sum(w)) if weighted else float(X.shape[0])
    X, y, w = to_xp(xp, X, y, w)
    params, loss_ref, grads_ref = _textbook(net, X, y, w, total_weight, xp)

    value, grads = blocked_loss_and_gradients(
        net.layers, net.loss, params, X, y, w, total_weight, xp=xp, block_size=block_size
    )

    np.testing.assert_allclose(value, loss_ref, rtol=1e-12)
    for g, g_ref in zip(grads, grads_ref, strict=True):
        assert g.shape == g_ref.shape
        np.testing.assert_allclose(np.asarray(g), np.asarray(g_ref), rtol=1e-10, atol=1e-14)


# A ReLU output under cross-entropy is clipped at the dtype's eps: not comparable across dtypes.
@pytest.mark.parametrize(("hidden", "output", "loss", "targets"), NETWORKS[:-1])
def test_blocked_float32_stays_float32_and_close(rng, hidden, output, loss, targets):
    net, X, y, w = _problem(rng, hidden, output, loss, targets)
    _, loss64, grads64 = _textbook(net, X, y, w, float(w.sum()), np)
    X32, y32, w32 = (a.astype(np.float32) for a in (X, y, w))
    params32 = [p.astype(np.float32) for p in net.parameters]

    value, grads = blocked_loss_and_gradients(
        net.layers, net.loss, params32, X32, y32, w32, float(w32.sum()), xp=np, block_size=50
    )

    assert all(g.dtype == np.float32 for g in grads)
    np.testing.assert_allclose(value, loss64, rtol=1e-5)
    for g, g64 in zip(grads, grads64, strict=True):
        np.testing.assert_allclose(g, g64, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("hidden", "output", "loss", "targets"), NETWORKS)
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_fast_path_gradients_match_finite_differences(
    rng, hidden, output, loss, targets, n_outputs
):
    if output == "softmax" and n_outputs == 1:
        pytest.skip("a softmax over one unit is constant")
    net, X, y, w = _problem(rng, hidden, output, loss, targets, n_samples=12, n_outputs=n_outputs)
    assert dp.check_gradients(net, X, y, w) < 1e-6


def test_lanes_give_the_same_bits_on_one_or_two_threads(rng, monkeypatch):
    net, X, y, w = _problem(rng, ["sigmoid", "tanh"], "sigmoid", "binary_cross_entropy", "binary")
    params = net.parameters
    args = (net.layers, net.loss, params, X, y, w, float(w.sum()))
    value_threads, grads_threads = blocked_loss_and_gradients(*args, xp=np, block_size=16)
    monkeypatch.setattr(blocked, "_run_lanes", lambda f, lanes: [f(lane) for lane in lanes])
    value_serial, grads_serial = blocked_loss_and_gradients(*args, xp=np, block_size=16)

    assert value_threads == value_serial
    for g, h in zip(grads_threads, grads_serial, strict=True):
        np.testing.assert_array_equal(g, h)


def test_saturated_sigmoid_gives_finite_exact_limits():
    net = dp.Network([dp.Dense(1, 2), dp.Dense(2, 1)], random_state=0)
    net.layers[0].weights = np.array([[1.0, -1.0]])
    X = np.array([[1000.0], [-1000.0], [0.0]])
    y = np.array([[1.0], [0.0], [1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warnings
        value, grads = blocked_loss_and_gradients(
            net.layers, net.loss, net.parameters, X, y, None, 3.0, xp=np
        )
    # hidden units: sigmoid(+-1000) is exactly 1 or 0, so their derivative vanishes
    assert np.isfinite(value)
    assert all(np.all(np.isfinite(g)) for g in grads)
    _, _, grads_ref = _textbook(net, X, y, None, 3.0, np)
    for g, g_ref in zip(grads, grads_ref, strict=True):
        np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-300)


def test_auto_block_size_targets_one_mebibyte():
    layers = [dp.Dense(784, 256), dp.Dense(256, 10)]
    assert auto_block_size(layers, 4) == 2**20 // (784 * 4)
    assert auto_block_size([dp.Dense(1, 1)], 8) == 2**20 // 8
    assert auto_block_size([dp.Dense(10**6, 1)], 8) == 256


def test_full_batch_memory_is_bounded_by_the_block(rng):
    # Unblocked, the hidden activations alone would take 100 000 x 64 x 8 bytes = 51 MB.
    net = dp.Network([dp.Dense(8, 64), dp.Dense(64, 1)], random_state=0)
    X = rng.normal(size=(100_000, 8))
    y = (rng.uniform(size=(100_000, 1)) < 0.5).astype(float)
    tracemalloc.start()
    try:
        blocked_loss_and_gradients(net.layers, net.loss, net.parameters, X, y, None, 1e5, xp=np)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20


def test_network_uses_blocks_for_large_batches_of_any_library(rng):
    array_api_strict = pytest.importorskip("array_api_strict")
    net = dp.Network([dp.Dense(3, 4, "tanh"), dp.Dense(4, 1)], random_state=0)
    n_samples = auto_block_size(net.layers, 8) + 7
    X = rng.normal(size=(n_samples, 3))
    y = rng.uniform(size=n_samples)
    loss_np, grads_np = net.loss_and_gradients(X, y)
    loss_strict, grads_strict = net.loss_and_gradients(
        array_api_strict.asarray(X), array_api_strict.asarray(y)
    )
    np.testing.assert_allclose(loss_strict, loss_np, rtol=1e-12)
    for (w_np, b_np), (w_s, b_s) in zip(grads_np, grads_strict, strict=True):
        np.testing.assert_allclose(np.asarray(w_s), w_np, rtol=1e-10)
        np.testing.assert_allclose(np.asarray(b_s), b_np, rtol=1e-10)


# -- fast paths by capability, not by name ------------------------------------------------
class _Cube(dp.Activation):
    """No kernel capability: the kernel must use forward and backward."""

    name = "cube"

    def forward(self, z, *, xp):
        return z * z * z

    def derivative(self, z, a, *, xp):
        return 3.0 * z * z


class _Softsign(FromOutput):
    """A user's activation with the FromOutput capability: f' = (1 - |a|)^2."""

    name = "user_softsign"

    def forward(self, z, *, xp):
        return z / (1.0 + xp.abs(z))

    def derivative(self, z, a, *, xp):
        return (1.0 - xp.abs(a)) ** 2

    def forward_in_place(self, z):
        denominator = 1.0 + np.abs(z)
        return np.divide(z, denominator, out=z)

    def derivative_from_output(self, a, *, out):
        np.abs(a, out=out)
        np.subtract(1.0, out, out=out)
        return np.multiply(out, out, out=out)


@pytest.mark.parametrize("activation", [_Cube, _Softsign])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_activations_the_kernel_does_not_know_by_name(rng, activation, n_outputs):
    layers = [dp.Dense(4, 5, activation()), dp.Dense(5, 3, activation())]
    net = dp.Network([*layers, dp.Dense(3, n_outputs)], loss="squared_error", random_state=0)
    X, y = rng.normal(size=(101, 4)), rng.normal(size=(101, n_outputs))
    w = rng.uniform(0.0, 2.0, size=101)
    params, loss_ref, grads_ref = _textbook(net, X, y, w, float(w.sum()), np)

    value, grads = blocked.numpy_data_term(
        net.layers, net.loss, params, X, y, w, float(w.sum()), xp=np, block_size=16
    )

    np.testing.assert_allclose(value, loss_ref, rtol=1e-12)
    for g, g_ref in zip(grads, grads_ref, strict=True):
        np.testing.assert_allclose(g, g_ref, rtol=1e-10, atol=1e-14)
    assert dp.check_gradients(net, X[:10], y[:10], w[:10]) < 1e-6
