"""Finite-difference checks for the activations and the loss added for real networks:
leaky_relu, elu, softplus, silu, gelu, exp and the Poisson loss."""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.core.activations import get_activation

NEW_ACTIVATIONS = ["leaky_relu", "elu", "softplus", "silu", "gelu", "exp"]

# independent closed forms of f(z)
_FORMULAS = {
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
    "softplus": lambda z: np.log1p(np.exp(z)),
    "silu": lambda z: z / (1 + np.exp(-z)),
    "gelu": lambda z: 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3))),
    "exp": np.exp,
}


@pytest.mark.parametrize("name", NEW_ACTIVATIONS)
def test_forward_and_derivative_against_closed_form_and_differences(name, rng):
    activation = get_activation(name)
    z = rng.normal(scale=2.0, size=(6, 5))
    a = activation.forward(z, xp=np)
    np.testing.assert_allclose(a, _FORMULAS[name](z), rtol=1e-12, atol=1e-15)
    h = 1e-6
    numeric = (_FORMULAS[name](z + h) - _FORMULAS[name](z - h)) / (2 * h)
    np.testing.assert_allclose(activation.derivative(z, a, xp=np), numeric, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", [n for n in NEW_ACTIVATIONS if n != "exp"])
def test_stable_for_large_inputs(name):
    z = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]])
    activation = get_activation(name)
    a = activation.forward(z, xp=np)
    d = activation.derivative(z, a, xp=np)
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(d))


_OUTPUTS = [
    ("sigmoid", "binary_cross_entropy"),
    ("softmax", "cross_entropy"),
    ("identity", "squared_error"),
    ("exp", "poisson"),
    ("softplus", "poisson"),  # non-canonical: the general chain rule
]


def _targets(loss, rng, n, k):
    if loss == "cross_entropy":
        return np.eye(k)[rng.integers(0, k, size=n)]
    if loss == "poisson":
        return rng.poisson(1.5, size=(n, k)).astype(float)
    if loss == "binary_cross_entropy":
        return rng.uniform(size=(n, k))
    return rng.normal(size=(n, k))


@pytest.mark.parametrize("hidden", NEW_ACTIVATIONS)
@pytest.mark.parametrize(("output", "loss"), _OUTPUTS)
@pytest.mark.parametrize("weighted", [False, True])
def test_backprop_matches_finite_differences(rng, hidden, output, loss, weighted):
    net = dp.Network(
        [dp.Dense(3, 4, hidden), dp.Dense(4, 2, output)],
        loss=loss,
        alpha=0.5 if weighted else 0.0,
        random_state=2,
    )
    X = rng.normal(scale=0.5, size=(6, 3))
    y = _targets(loss, rng, 6, 2)
    w = rng.uniform(0.1, 2.0, size=6) if weighted else None
    assert dp.check_gradients(net, X, y, w) < 1e-6


@pytest.mark.parametrize("output", NEW_ACTIVATIONS)
def test_new_activations_as_outputs_with_squared_error(rng, output):
    net = dp.Network(
        [dp.Dense(3, 4, "tanh"), dp.Dense(4, 3, "tanh"), dp.Dense(3, 2, output)],
        loss="squared_error",
        random_state=3,
    )
    X, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    assert dp.check_gradients(net, X, y) < 1e-6


def test_poisson_loss_value_by_hand():
    net = dp.Network([dp.Dense(1, 1, "exp")], loss="poisson", random_state=0)
    net.layers[0].weights = np.array([[0.5]])
    net.layers[0].bias = np.array([0.1])
    X, y = np.array([[1.0], [-2.0]]), np.array([2.0, 0.0])
    z = np.array([0.6, -0.9])
    expected = np.mean(np.exp(z) - y * z)  # a - y log a with a = exp(z)
    loss, grads = net.loss_and_gradients(X, y)
    assert loss == pytest.approx(expected, rel=1e-14)
    # canonical delta: (a - y) / n
    delta = (np.exp(z) - y) / 2
    np.testing.assert_allclose(grads[0][0], [[delta @ X[:, 0]]], rtol=1e-14)
    np.testing.assert_allclose(grads[0][1], [delta.sum()], rtol=1e-14)
