"""Activations: values against their formulas, derivatives against finite differences."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from deltaprop.core.activations import (
    ACTIVATIONS,
    FromOutput,
    NegatedForward,
    Softmax,
    get_activation,
)

from .conftest import to_xp

ELEMENTWISE = [name for name, cls in ACTIVATIONS.items() if cls.elementwise]


def _reference(name: str, z: float) -> float:
    """Each activation written out independently, one scalar at a time."""
    if name == "identity":
        return z
    if name == "sigmoid":
        return 1.0 / (1.0 + math.exp(-z))
    if name == "tanh":
        return math.tanh(z)
    if name == "relu":
        return max(z, 0.0)
    if name == "leaky_relu":
        return z if z > 0 else 0.01 * z
    if name == "elu":
        return z if z > 0 else math.exp(z) - 1.0
    if name == "softplus":
        return math.log(1.0 + math.exp(z))
    if name == "silu":
        return z / (1.0 + math.exp(-z))
    if name == "gelu":
        return 0.5 * z * (1.0 + math.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)))
    if name == "exp":
        return math.exp(z)
    raise AssertionError(name)


Z = np.array([[-3.0, -0.7, -0.1, 0.2, 0.9, 2.5]])


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_forward_matches_formula(name, xp):
    act = get_activation(name)
    a = act.forward(to_xp(xp, Z), xp=xp)
    expected = [_reference(name, float(z)) for z in Z[0]]
    np.testing.assert_allclose(np.asarray(a)[0], expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_central_difference(name):
    act = get_activation(name)
    h = 1e-6
    a = act.forward(Z, xp=np)
    numeric = (act.forward(Z + h, xp=np) - act.forward(Z - h, xp=np)) / (2 * h)
    np.testing.assert_allclose(act.derivative(Z, a, xp=np), numeric, rtol=1e-7, atol=1e-9)
    d_a = np.arange(1.0, 7.0)[None, :]
    np.testing.assert_allclose(act.backward(Z, a, d_a, xp=np), d_a * numeric, rtol=1e-7)


def test_softmax_rows_sum_to_one_and_backward_is_jacobian_product():
    sm = Softmax()
    z = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]])
    a = sm.forward(z, xp=np)
    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    e = np.exp(z[0])
    np.testing.assert_allclose(a[0], e / e.sum())
    d_a = np.array([[0.3, -1.0, 2.0], [1.0, 0.0, -0.5]])
    for i in range(2):
        jacobian = np.diag(a[i]) - np.outer(a[i], a[i])
        np.testing.assert_allclose(sm.backward(z, a, d_a, xp=np)[i], jacobian @ d_a[i])
    with pytest.raises(TypeError, match="Jacobian"):
        sm.derivative(z, a, xp=np)


# exp(1e4) overflows by definition (it is only meant as a Poisson output), so it is left out.
@pytest.mark.parametrize("name", [name for name in ACTIVATIONS if name != "exp"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_for_huge_inputs(name, dtype):
    z = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype=dtype)
    act = get_activation(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = act.forward(z, xp=np)
        assert np.all(np.isfinite(a))
        assert a.dtype == dtype
        if act.elementwise:
            assert np.all(np.isfinite(act.derivative(z, a, xp=np)))


def test_sigmoid_saturates_exactly():
    a = get_activation("sigmoid").forward(np.array([[-1e4, 1e4]]), xp=np)
    assert a[0, 0] == 0.0 and a[0, 1] == 1.0


def test_lookup_by_name_and_errors():
    assert get_activation("logistic").name == "sigmoid"
    act = get_activation("tanh")
    assert get_activation(act) is act
    with pytest.raises(ValueError, match=r"activation must be one of .* got 'sigmoidd'"):
        get_activation("sigmoidd")
    with pytest.raises(TypeError, match="activation must be a name"):
        get_activation(3)


# -- the capabilities of the fused NumPy kernel ---------------------------------------------
FROM_OUTPUT = [name for name, cls in ACTIVATIONS.items() if issubclass(cls, FromOutput)]
NEGATED = [name for name, cls in ACTIVATIONS.items() if issubclass(cls, NegatedForward)]


def test_kernel_capabilities_are_declared_by_the_classes():
    assert sorted(FROM_OUTPUT) == ["relu", "sigmoid", "tanh"]
    assert NEGATED == ["sigmoid"]


@pytest.mark.parametrize("name", FROM_OUTPUT)
def test_from_output_methods_agree_with_forward_and_backward(name, rng):
    act = get_activation(name)
    z = rng.normal(scale=3.0, size=(7, 4))
    a = act.forward(z, xp=np)
    np.testing.assert_allclose(act.forward_in_place(z.copy()), a, rtol=1e-15, atol=1e-15)
    expected = act.derivative(z, a, xp=np)
    out = np.empty_like(a)
    assert act.derivative_from_output(a, out=out) is out
    np.testing.assert_allclose(out, expected, rtol=1e-14, atol=1e-15)
    d_a = rng.normal(size=z.shape)
    delta = act.backward_from_output(a.copy(), d_a.copy())
    np.testing.assert_allclose(delta, act.backward(z, a, d_a, xp=np), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", NEGATED)
def test_forward_of_negative_agrees_with_forward(name, rng):
    act = get_activation(name)
    z = rng.normal(scale=3.0, size=(7, 4))
    with np.errstate(over="ignore"):
        a = act.forward_of_negative_in_place(-z)
    np.testing.assert_allclose(a, act.forward(z, xp=np), rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_glorot_numerator_of_the_default_init(name):
    # init="auto" draws uniform(+-sqrt(k / (n_in + n_out))) with k the activation's
    # numerator: scikit-learn's 2 for the sigmoid, 6 for every other activation.
    act = get_activation(name)
    assert act.glorot_numerator == (2.0 if name == "sigmoid" else 6.0)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_relu_backward_on_numpy_is_where_bit_for_bit(dtype, rng):
    # NumPy arrays take a faster path than where(); it must give the same bits
    z = rng.normal(size=(3, 8, 5)).astype(dtype)
    d_a = rng.normal(size=z.shape).astype(dtype)
    z.flat[:8] = [0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, 1.0, 1.0]
    d_a.flat[:8] = [np.nan, np.inf, np.nan, 2.0, np.inf, np.inf, np.nan, -0.0]
    relu = get_activation("relu")
    for z_, d_ in [
        (z, d_a),
        (z[:, ::2], d_a[:, ::2]),
        (z.transpose(2, 0, 1), d_a.transpose(2, 0, 1)),
    ]:
        delta = relu.backward(z_, None, d_, xp=np)
        expected = np.array(
            [d if zi > 0 else 0.0 for zi, d in zip(z_.ravel(), d_.ravel(), strict=True)], dtype
        )
        assert delta.dtype == dtype and delta.shape == z_.shape
        np.testing.assert_array_equal(delta.ravel().view(np.uint8), expected.view(np.uint8))
