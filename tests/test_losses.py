"""Losses: values against their formulas, gradients and the canonical shortcut."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from deltaprop.core.activations import get_activation
from deltaprop.core.losses import LOSSES, get_loss

from .conftest import to_xp


def test_values_match_formulas(rng, xp):
    a = rng.uniform(0.05, 0.95, size=(5, 3))
    y = rng.uniform(size=(5, 3))
    expected = {
        "binary_cross_entropy": -(y * np.log(a) + (1 - y) * np.log(1 - a)).sum(axis=1),
        "cross_entropy": -(y * np.log(a)).sum(axis=1),
        "squared_error": 0.5 * ((a - y) ** 2).sum(axis=1),
        "poisson": (a - y * np.log(a)).sum(axis=1),
    }
    for name, value in expected.items():
        got = get_loss(name).per_sample(*to_xp(xp, y, a), xp=xp)
        np.testing.assert_allclose(np.asarray(got), value, rtol=1e-12)


@pytest.mark.parametrize("name", list(LOSSES))
def test_from_z_equals_from_a_for_canonical_activation(name, rng):
    loss = get_loss(name)
    act = get_activation(loss.canonical_activation)
    z = rng.normal(size=(6, 3))
    y = rng.uniform(size=(6, 3))
    if name == "cross_entropy":
        y = y / y.sum(axis=1, keepdims=True)
    a = act.forward(z, xp=np)
    np.testing.assert_allclose(
        loss.per_sample_from_z(y, z, xp=np), loss.per_sample(y, a, xp=np), rtol=1e-12
    )


@pytest.mark.parametrize("name", list(LOSSES))
def test_gradient_matches_central_difference(name, rng):
    loss = get_loss(name)
    a = rng.uniform(0.1, 0.9, size=(4, 3))
    y = rng.uniform(size=(4, 3))
    h = 1e-6
    numeric = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        up, down = a.copy(), a.copy()
        up[idx] += h
        down[idx] -= h
        numeric[idx] = (
            loss.per_sample(y, up, xp=np)[idx[0]] - loss.per_sample(y, down, xp=np)[idx[0]]
        ) / (2 * h)
    np.testing.assert_allclose(loss.gradient(y, a, xp=np), numeric, rtol=1e-6)


@pytest.mark.parametrize("name", list(LOSSES))
def test_canonical_delta_equals_general_chain_rule(name, rng):
    """The shortcut a - y is the product dL/da * f'(z), simplified."""
    loss = get_loss(name)
    act = get_activation(loss.canonical_activation)
    z = rng.normal(size=(5, 3))
    a = act.forward(z, xp=np)
    y = rng.uniform(size=(5, 3))
    if name == "cross_entropy":
        y = np.eye(3)[[0, 1, 2, 1, 0]]
    _, delta, canonical = loss.output(y, z, a, act, xp=np)
    assert canonical
    np.testing.assert_allclose(delta, a - y, rtol=1e-12, atol=1e-15)
    general = act.backward(z, a, loss.gradient(y, a, xp=np), xp=np)
    np.testing.assert_allclose(delta, general, rtol=1e-9, atol=1e-12)


def test_soft_targets_with_softmax_stay_exact(rng):
    """For rows of y not summing to 1 the exact softmax delta is a * sum(y) - y."""
    loss = get_loss("cross_entropy")
    z = rng.normal(size=(3, 4))
    y = rng.uniform(size=(3, 4))
    act = get_activation("softmax")
    a = act.forward(z, xp=np)
    _, delta, _ = loss.output(y, z, a, act, xp=np)
    np.testing.assert_allclose(delta, act.backward(z, a, -y / a, xp=np), rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_saturated_outputs_give_finite_loss(dtype):
    """|z| = 1e4: the canonical pairs compute the loss from z, never log(0)."""
    z = np.array([[1e4], [-1e4]], dtype=dtype)
    y = np.array([[0.0], [1.0]], dtype=dtype)
    loss = get_loss("binary_cross_entropy")
    act = get_activation("sigmoid")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        losses, delta, _ = loss.output(y, z, act.forward(z, xp=np), act, xp=np)
    np.testing.assert_allclose(losses, [1e4, 1e4], rtol=1e-6)
    np.testing.assert_array_equal(delta, [[1.0], [-1.0]])
    z2 = np.array([[1e4, -1e4, 0.0]], dtype=dtype)
    ce = get_loss("cross_entropy")
    sm = get_activation("softmax")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        losses, _, _ = ce.output(
            np.array([[0.0, 1.0, 0.0]], dtype=dtype), z2, sm.forward(z2, xp=np), sm, xp=np
        )
    np.testing.assert_allclose(losses, [2e4], rtol=1e-6)


def test_target_domains():
    with pytest.raises(ValueError, match=r"y must lie in \[0, 1\].*binary_cross_entropy"):
        get_loss("binary_cross_entropy").check_targets(np.array([[2.0]]), xp=np)
    with pytest.raises(ValueError, match="y must be >= 0 for loss='poisson'"):
        get_loss("poisson").check_targets(np.array([[-1.0]]), xp=np)
    get_loss("squared_error").check_targets(np.array([[-5.0]]), xp=np)


def test_lookup_errors():
    assert get_loss("log_loss").name == "binary_cross_entropy"
    with pytest.raises(ValueError, match=r"loss must be one of .* got 'hinge'"):
        get_loss("hinge")
    with pytest.raises(TypeError, match="loss must be a name"):
        get_loss(None)
