"""Network: a hand-computed backprop step, finite-difference checks, dtypes, bad input."""

from __future__ import annotations

import math
import warnings
import zlib

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.core.backprop import backward_pass, forward_pass
from deltaprop.core.validation import check_X

from .conftest import to_xp


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _worked_example():
    """A 2-2-1 sigmoid network and one sample, with the numbers of the classic example."""
    net = dp.Network([dp.Dense(2, 2, "sigmoid"), dp.Dense(2, 1, "sigmoid")])
    # weights[k, j] connects input k to unit j
    net.layers[0].weights = np.array([[0.15, 0.25], [0.20, 0.30]])
    net.layers[0].bias = np.array([0.35, 0.35])
    net.layers[1].weights = np.array([[0.40], [0.45]])
    net.layers[1].bias = np.array([0.60])
    return net, np.array([[0.05, 0.10]]), np.array([0.01])


def test_hand_computed_2_2_1_example():
    net, X, y = _worked_example()
    i1, i2, t = 0.05, 0.10, 0.01
    w1, w2, w3, w4, b1 = 0.15, 0.20, 0.25, 0.30, 0.35
    w5, w6, b2 = 0.40, 0.45, 0.60
    # 1. forward
    z_h1, z_h2 = w1 * i1 + w2 * i2 + b1, w3 * i1 + w4 * i2 + b1
    h1, h2 = _sigmoid(z_h1), _sigmoid(z_h2)
    z_o = w5 * h1 + w6 * h2 + b2
    o = _sigmoid(z_o)
    # 2. error: binary cross-entropy of one sample
    loss = -(t * math.log(o) + (1 - t) * math.log(1 - o))
    # 3. output delta by the chain rule dL/do * do/dz (which simplifies to o - t)
    delta_o = (-(t / o) + (1 - t) / (1 - o)) * o * (1 - o)
    assert delta_o == pytest.approx(o - t, rel=1e-12)
    # 4. hidden deltas
    delta_h1 = delta_o * w5 * h1 * (1 - h1)
    delta_h2 = delta_o * w6 * h2 * (1 - h2)
    # 5. gradients
    d_w5, d_w6, d_b2 = delta_o * h1, delta_o * h2, delta_o
    d_w1, d_w2, d_w3, d_w4 = delta_h1 * i1, delta_h1 * i2, delta_h2 * i1, delta_h2 * i2

    params = net.parameters
    zs, activations = forward_pass(net.layers, params, X, xp=np)
    np.testing.assert_allclose(zs[0], [[z_h1, z_h2]], rtol=1e-14)
    np.testing.assert_allclose(activations[1], [[h1, h2]], rtol=1e-14)
    np.testing.assert_allclose(zs[1], [[z_o]], rtol=1e-14)
    np.testing.assert_allclose(activations[2], [[o]], rtol=1e-14)
    result = backward_pass(
        net.layers, net.loss, params, zs, activations, y.reshape(-1, 1), None, 1.0, xp=np
    )
    assert result.canonical
    assert float(result.loss) == pytest.approx(loss, rel=1e-14)
    np.testing.assert_allclose(result.deltas[1], [[delta_o]], rtol=1e-14)
    np.testing.assert_allclose(result.deltas[0], [[delta_h1, delta_h2]], rtol=1e-13)

    value, grads = net.loss_and_gradients(X, y)
    assert value == pytest.approx(loss, rel=1e-14)
    np.testing.assert_allclose(grads[0][0], [[d_w1, d_w3], [d_w2, d_w4]], rtol=1e-13)
    np.testing.assert_allclose(grads[0][1], [delta_h1, delta_h2], rtol=1e-13)
    np.testing.assert_allclose(grads[1][0], [[d_w5], [d_w6]], rtol=1e-13)
    np.testing.assert_allclose(grads[1][1], [d_b2], rtol=1e-13)

    # one update of plain gradient descent
    lr = 0.5
    history = dp.train(net, X, y, optimizer=dp.SGD(learning_rate=lr), max_iter=1)
    assert history.loss == [pytest.approx(loss, rel=1e-14)]
    np.testing.assert_allclose(
        net.layers[0].weights,
        [[w1 - lr * d_w1, w3 - lr * d_w3], [w2 - lr * d_w2, w4 - lr * d_w4]],
        rtol=1e-14,
    )
    np.testing.assert_allclose(net.layers[0].bias, [b1 - lr * delta_h1, b1 - lr * delta_h2])
    np.testing.assert_allclose(net.layers[1].weights, [[w5 - lr * d_w5], [w6 - lr * d_w6]])
    np.testing.assert_allclose(net.layers[1].bias, [b2 - lr * d_b2], rtol=1e-14)


def _z_where_output_is(activation, target: float) -> float:
    """Solve f(z) = target by bisection (every activation here is increasing)."""
    low, high = -5.0, 5.0
    for _ in range(100):
        mid = 0.5 * (low + high)
        if activation.forward(np.array([[mid]]), xp=np)[0, 0] < target:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def _targets(loss: str, rng, shape):
    if loss == "squared_error":
        return rng.normal(size=shape)
    if loss == "poisson":
        return rng.uniform(0.0, 3.0, size=shape)
    if loss == "cross_entropy":
        return np.eye(shape[1])[rng.integers(0, shape[1], size=shape[0])]
    return rng.uniform(size=shape)


@pytest.mark.parametrize("activation", list(dp.ACTIVATIONS))
@pytest.mark.parametrize("loss", list(dp.LOSSES))
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_gradients_match_finite_differences(activation, loss, depth):
    """Every activation (hidden and output) x loss x depth, with/without weights and alpha.

    The check is made at a generic point inside each loss's domain: random biases (zero
    biases can put a ReLU exactly on its kink) and outputs near 0.5, away from the poles
    of log() that non-canonical pairs such as relu + cross-entropy would otherwise meet.
    """
    rng = np.random.default_rng(zlib.crc32(f"{activation}-{loss}-{depth}".encode()))
    sizes = {1: [3, 2], 2: [3, 4, 2], 3: [3, 4, 3, 2]}[depth]
    layers = [dp.Dense(sizes[i], sizes[i + 1], activation) for i in range(depth)]
    for layer in layers:
        # exp(exp(exp(.))) explodes: keep the exp network's weights small
        scale = 0.3 if activation == "exp" else 0.6
        layer.weights = rng.normal(0.0, scale, size=(layer.n_in, layer.n_out))
        layer.bias = rng.normal(0.0, 0.5, size=layer.n_out)
    if layers[-1].activation.elementwise:
        layers[-1].weights = rng.normal(0.0, 0.2, size=(layers[-1].n_in, 2))
        layers[-1].bias = _z_where_output_is(layers[-1].activation, 0.5) + rng.normal(0, 0.05, 2)
    X = rng.normal(size=(7, 3))
    y = _targets(loss, rng, (7, 2))
    for sample_weight in (None, rng.uniform(0.1, 2.0, size=7)):
        for alpha in (0.0, 0.3):
            net = dp.Network(layers, loss=loss, alpha=alpha, random_state=1)
            error = dp.check_gradients(net, X, y, sample_weight)
            assert error < 1e-6, (activation, loss, depth, alpha, sample_weight is None, error)


def test_sample_weights_are_a_weighted_mean(rng):
    """Integer weights equal repeating rows; scaling all weights changes nothing."""
    net = dp.Network([dp.Dense(3, 4, "tanh"), dp.Dense(4, 1)], alpha=0.2, random_state=0)
    X, y = rng.normal(size=(5, 3)), rng.uniform(size=5)
    w = np.array([1.0, 2.0, 0.0, 3.0, 1.0])
    loss_w, grads_w = net.loss_and_gradients(X, y, w)
    rows = np.repeat(np.arange(5), w.astype(int))
    loss_r, grads_r = net.loss_and_gradients(X[rows], y[rows])
    assert loss_w == pytest.approx(loss_r, rel=1e-12)
    for (gw, bw), (gr, br) in zip(grads_w, grads_r, strict=True):
        np.testing.assert_allclose(gw, gr, rtol=1e-12)
        np.testing.assert_allclose(bw, br, rtol=1e-12)
    loss_s, _ = net.loss_and_gradients(X, y, 10.0 * w)
    # alpha's term is divided by sum(w) too, so only the data term is scale-free
    data_loss = loss_w - 0.5 * 0.2 * sum(float((p**2).sum()) for p in net.parameters[0::2]) / 7
    data_loss_s = loss_s - 0.5 * 0.2 * sum(float((p**2).sum()) for p in net.parameters[0::2]) / 70
    assert data_loss_s == pytest.approx(data_loss, rel=1e-12)


def test_objective_formula(rng):
    net = dp.Network([dp.Dense(2, 3, "relu"), dp.Dense(3, 1)], alpha=0.5, random_state=3)
    X, y, w = rng.normal(size=(6, 2)), rng.uniform(size=6), rng.uniform(0.5, 1.5, size=6)
    a = net.forward(X)[:, 0]
    l_i = -(y * np.log(a) + (1 - y) * np.log(1 - a))
    penalty = 0.25 * sum(float((W**2).sum()) for W in net.parameters[0::2])
    expected = (w * l_i).sum() / w.sum() + penalty / w.sum()
    assert net.loss_and_gradients(X, y, w)[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("loss", ["binary_cross_entropy", "cross_entropy", "squared_error"])
def test_array_api_strict_gives_numpys_numbers(loss, rng):
    xps = pytest.importorskip("array_api_strict")
    out = {"binary_cross_entropy": "sigmoid", "cross_entropy": "softmax"}.get(loss, "identity")
    X, y, w = rng.normal(size=(9, 3)), _targets(loss, rng, (9, 2)), rng.uniform(size=9)
    results = []
    for xp in (np, xps):
        net = dp.Network(
            [dp.Dense(3, 5, "tanh"), dp.Dense(5, 2, out)], loss=loss, alpha=0.1, random_state=7
        )
        value, grads = net.loss_and_gradients(*to_xp(xp, X, y, w))
        assert type(grads[0][0]) is type(to_xp(xp, X))
        results.append((value, [np.asarray(g) for pair in grads for g in pair]))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-12)
    for a, b in zip(results[0][1], results[1][1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype, rng, xp):
    net = dp.Network([dp.Dense(3, 4), dp.Dense(4, 1)], random_state=0)
    X, y = to_xp(xp, rng.normal(size=(5, 3)), rng.uniform(size=5), dtype=dtype)
    out = net.forward(X)
    assert out.dtype == X.dtype
    _, grads = net.loss_and_gradients(X, y)
    assert all(g.dtype == X.dtype for pair in grads for g in pair)
    dp.train(net, X, y, max_iter=2)
    assert net.layers[0].weights.dtype == X.dtype


def test_no_overflow_for_huge_pre_activations():
    """|z| up to 1e4: no warnings, no NaN, in float32 and float64."""
    for dtype in (np.float32, np.float64):
        net = dp.Network(
            [dp.Dense(1, 2, "sigmoid"), dp.Dense(2, 3, "softmax")], loss="cross_entropy"
        )
        net.layers[0].weights = np.array([[1e4, -1e4]])
        net.layers[1].weights = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]])
        X = np.array([[1.0], [-1.0]], dtype=dtype)
        y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            loss, grads = net.loss_and_gradients(X, y)
        assert math.isfinite(loss) and loss > 1e3
        assert all(np.all(np.isfinite(g)) for pair in grads for g in pair)


def test_initialisation_is_seeded_and_sized():
    a = dp.Network([dp.Dense(30, 16), dp.Dense(16, 1)], random_state=42)
    b = dp.Network([dp.Dense(30, 16), dp.Dense(16, 1)], random_state=42)
    c = dp.Network([dp.Dense(30, 16), dp.Dense(16, 1)], random_state=43)
    for pa, pb in zip(a.parameters, b.parameters, strict=True):
        np.testing.assert_array_equal(pa, pb)
    assert not np.array_equal(a.parameters[0], c.parameters[0])
    bound = math.sqrt(2.0 / (30 + 16))  # scikit-learn's Glorot bound for the sigmoid
    assert np.abs(a.parameters[0]).max() <= bound
    assert np.abs(a.parameters[0]).max() > 0.8 * bound
    # the default scheme draws the biases in the same bound (scikit-learn's), not zeros
    assert np.abs(a.parameters[1]).max() <= bound
    assert np.abs(a.parameters[1]).max() > 0.5 * bound
    relu = dp.Network([dp.Dense(50, 20, "relu", init="he_normal")], random_state=0)
    assert np.std(relu.parameters[0]) == pytest.approx(math.sqrt(2 / 50), rel=0.1)
    np.testing.assert_array_equal(relu.parameters[1], 0.0)  # a named scheme: zero biases


def test_default_init_is_scikit_learns_scheme_for_every_activation():
    # Weights, then biases, uniform in +-sqrt(k / (n_in + n_out)), k = 6 (2 for the
    # sigmoid), drawn layer by layer from the network's Generator: redrawn here by hand.
    net = dp.Network(
        [dp.Dense(7, 5, "relu"), dp.Dense(5, 4, "sigmoid"), dp.Dense(4, 3, "softmax")],
        loss="cross_entropy",
        random_state=3,
    )
    rng = np.random.default_rng(3)
    for layer, k in zip(net.layers, (6.0, 2.0, 6.0), strict=True):
        bound = math.sqrt(k / (layer.n_in + layer.n_out))
        np.testing.assert_array_equal(
            layer.weights, rng.uniform(-bound, bound, (layer.n_in, layer.n_out))
        )
        np.testing.assert_array_equal(layer.bias, rng.uniform(-bound, bound, layer.n_out))
    he = dp.Network([dp.Dense(7, 5, "relu", init="he_uniform")], random_state=3)
    expected = np.random.default_rng(3).uniform(-math.sqrt(6 / 7), math.sqrt(6 / 7), (7, 5))
    np.testing.assert_array_equal(he.layers[0].weights, expected)
    np.testing.assert_array_equal(he.layers[0].bias, 0.0)


def test_preset_weights_are_kept():
    layer = dp.Dense(2, 2)
    layer.weights = np.eye(2)
    net = dp.Network([layer, dp.Dense(2, 1)], random_state=0)
    np.testing.assert_array_equal(net.layers[0].weights, np.eye(2))
    other = dp.Network([dp.Dense(2, 2), dp.Dense(2, 1)], random_state=0)
    np.testing.assert_array_equal(net.layers[1].weights, other.layers[1].weights)


def test_network_properties_and_repr():
    net = dp.Network([dp.Dense(4, 3, "relu"), dp.Dense(3, 2, "softmax")], loss="cross_entropy")
    assert (net.n_inputs, net.n_outputs, net.n_parameters) == (4, 2, 4 * 3 + 3 + 3 * 2 + 2)
    assert "Dense(4, 3, activation='relu')" in repr(net)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: dp.Network([]), ValueError, "at least one Dense"),
        (
            lambda: dp.Network([dp.Dense(2, 3), dp.Dense(4, 1)]),
            ValueError,
            r"layers\[0\] has 3 outputs but layers\[1\] expects 4 inputs",
        ),
        (lambda: dp.Network(["dense"]), TypeError, r"layers\[0\] must be a Dense"),
        (lambda: dp.Network([dp.Dense(2, 1)], loss="hinge"), ValueError, "loss must be one of"),
        (lambda: dp.Network([dp.Dense(2, 1)], alpha=-1.0), ValueError, "alpha must be >= 0"),
        (lambda: dp.Network([dp.Dense(2, 1)], random_state="x"), TypeError, "random_state"),
    ],
)
def test_bad_network(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.fixture
def small_net():
    return dp.Network([dp.Dense(3, 2), dp.Dense(2, 1)], random_state=0)


@pytest.mark.parametrize(
    ("X", "y", "w", "error", "match"),
    [
        (
            np.ones((4, 2)),
            np.ones(4),
            None,
            ValueError,
            "X has 2 features, but the network expects 3",
        ),
        (np.ones(3), np.ones(1), None, ValueError, r"X must be 2-D .* got shape \(3,\)"),
        (np.ones((0, 3)), np.ones(0), None, ValueError, "X is empty"),
        (np.ones((4, 3)), np.ones(5), None, ValueError, "y has 5 samples, but X has 4"),
        (
            np.ones((4, 3)),
            np.ones((4, 2)),
            None,
            ValueError,
            "y has 2 columns, but the network has 1",
        ),
        (np.full((4, 3), np.nan), np.ones(4), None, ValueError, "X contains NaN or infinity"),
        (np.ones((4, 3)), np.array([1, 0, np.inf, 1]), None, ValueError, "y contains NaN"),
        (
            np.ones((4, 3)),
            np.ones(4),
            np.array([1, 1, np.nan, 1]),
            ValueError,
            "sample_weight contains NaN",
        ),
        (
            np.ones((4, 3)),
            np.ones(4),
            np.array([1, -1, 1, 1.0]),
            ValueError,
            "sample_weight must be >= 0",
        ),
        (
            np.ones((4, 3)),
            np.ones(4),
            np.zeros(4),
            ValueError,
            "sample_weight must not be all zero",
        ),
        (np.ones((4, 3)), np.ones(4), np.ones(3), ValueError, "sample_weight has 3 entries"),
        (np.ones((4, 3)), np.array([0, 1, 2, 1.0]), None, ValueError, r"y must lie in \[0, 1\]"),
        (np.array([["a", "b", "c"]]), np.ones(1), None, TypeError, "X must hold real numbers"),
    ],
)
def test_bad_data(small_net, X, y, w, error, match):
    with pytest.raises(error, match=match):
        small_net.loss_and_gradients(X, y, w)
    with pytest.raises(error, match=match):
        dp.train(small_net, X, y, sample_weight=w, max_iter=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_values_whose_sum_overflows_are_accepted(dtype):
    # the finiteness check sums first: a sum that overflows must not refuse finite data
    big = np.finfo(dtype).max / 2
    X = np.full((6, 2), big, dtype=dtype)
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.sum(X))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no overflow warning reaches the user
        assert check_X(X)[0] is X


@pytest.mark.parametrize(
    "values",
    [[1.0, np.inf, -np.inf], [np.nan, 1.0, 2.0], [1.0, -np.inf, 3.0]],
    ids=["both-infinities", "nan", "minus-infinity"],
)
def test_every_kind_of_non_finite_value_is_refused(values):
    X = np.array([values, [1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        check_X(X)


def test_lists_and_integer_data_are_accepted(small_net):
    loss_list, _ = small_net.loss_and_gradients([[0, 1, 2], [1, 1, 1]], [0, 1])
    loss_arr, _ = small_net.loss_and_gradients(
        np.array([[0.0, 1, 2], [1, 1, 1]]), np.array([0.0, 1])
    )
    assert loss_list == loss_arr
