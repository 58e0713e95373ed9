"""Dense: parameters, forward and backward against explicit sums."""

from __future__ import annotations

import numpy as np
import pytest

from deltaprop import Dense

from .conftest import to_xp


def test_forward_and_backward_match_explicit_sums(rng, xp):
    layer = Dense(3, 2, activation="tanh")
    W, b = rng.normal(size=(3, 2)), rng.normal(size=2)
    a_prev = rng.normal(size=(4, 3))
    delta = rng.normal(size=(4, 2))
    z, a = layer.forward(*to_xp(xp, a_prev, W, b), xp=xp)
    for i in range(4):
        for j in range(2):
            z_ij = sum(a_prev[i, k] * W[k, j] for k in range(3)) + b[j]
            assert float(z[i, j]) == pytest.approx(z_ij, rel=1e-12)
            assert float(a[i, j]) == pytest.approx(np.tanh(z_ij), rel=1e-12)
    d_weights, d_bias, d_a_prev = layer.backward(*to_xp(xp, a_prev, delta, W), xp=xp)
    for k in range(3):
        for j in range(2):
            expected = sum(a_prev[i, k] * delta[i, j] for i in range(4))
            assert float(d_weights[k, j]) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(np.asarray(d_bias), delta.sum(axis=0), rtol=1e-12)
    for i in range(4):
        for k in range(3):
            expected = sum(delta[i, j] * W[k, j] for j in range(2))
            assert float(d_a_prev[i, k]) == pytest.approx(expected, rel=1e-12)
    *_, none = layer.backward(*to_xp(xp, a_prev, delta, W), xp=xp, need_d_a_prev=False)
    assert none is None


def test_parameters_can_be_assigned_and_are_checked():
    layer = Dense(2, 3)
    assert layer.weights is None and layer.bias is None
    layer.weights = np.ones((2, 3))
    layer.bias = [0.0, 1.0, 2.0]
    assert layer.weights.shape == (2, 3) and layer.bias.dtype == np.float64
    layer.weights = np.ones((2, 3), dtype=np.int64)
    assert layer.weights.dtype == np.float64
    with pytest.raises(ValueError, match=r"weights must have shape \(2, 3\), got \(3, 2\)"):
        layer.weights = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\), got \(2,\)"):
        layer.bias = np.zeros(2)
    with pytest.raises(ValueError, match="weights must be finite"):
        layer.weights = np.full((2, 3), np.nan)
    with pytest.raises(TypeError, match="weights must be an array of numbers"):
        layer.weights = [["a", "b", "c"], ["d", "e", "f"]]
    assert layer.n_parameters == 9


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_in": 0, "n_out": 2}, ValueError, "n_in must be >= 1, got 0"),
        ({"n_in": 2, "n_out": 2.5}, TypeError, "n_out must be an int, got 2.5"),
        ({"n_in": 2, "n_out": 2, "activation": "nope"}, ValueError, "activation must be one"),
        ({"n_in": 2, "n_out": 2, "init": "zeros"}, ValueError, "init must be one of"),
    ],
)
def test_bad_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        Dense(**kwargs)


def test_repr():
    assert repr(Dense(4, 2, "relu")) == "Dense(4, 2, activation='relu')"


@pytest.mark.parametrize(
    ("a_shape", "w_shape", "b_shape", "dtypes"),
    [
        ((7, 5), (5, 4), (4,), (np.float32, np.float32, np.float32)),
        ((3, 7, 5), (3, 5, 4), (3, 4), (np.float32, np.float32, np.float32)),  # a stack
        ((7, 5), (1, 5, 4), (3, 4), (np.float64, np.float64, np.float64)),  # b widens z
        ((7, 5), (5, 4), (4,), (np.float32, np.float32, np.float64)),  # b promotes z
        ((7, 5), (5, 4), (4,), (np.float16, np.float16, np.float16)),
    ],
)
def test_the_forward_adds_the_bias_as_z_plus_b_does(rng, a_shape, w_shape, b_shape, dtypes):
    # NumPy's forward adds the bias into the product's array where that gives z + b
    a, w, b = (
        rng.normal(size=s).astype(t)
        for s, t in zip((a_shape, w_shape, b_shape), dtypes, strict=True)
    )
    layer = Dense(5, 4, "identity")
    z, _ = layer.forward(a, w, b, xp=np)
    expected = a @ w + (b if b.ndim == 1 else b[..., None, :])
    assert z.dtype == expected.dtype and z.shape == expected.shape
    np.testing.assert_array_equal(z, expected)
