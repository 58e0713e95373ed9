"""The sigmoid's compiled loops (Numba) give the bits of its NumPy operations."""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.core import compiled
from deltaprop.core.activations import ReLU, Sigmoid

pytest.importorskip("numba")

DTYPES = [np.float32, np.float64]


@pytest.fixture(autouse=True)
def small_arrays_compiled(monkeypatch):
    """This module's small arrays run the loops that release the GIL (by default, arrays
    below MIN_COMPILED_SIZE entries run the copies that keep it), so that their bits are
    compared."""
    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 0)


def _with(monkeypatch, flag, function):
    """``function()`` with the compiled loops off ("0") or on from the first call ("1")."""
    monkeypatch.setenv("DELTAPROP_FUSED", flag)
    return function()


def _outputs(rng, dtype, shape=(37, 11)):
    """Sigmoid outputs in (0, 1) with its ends and halves: 0, 1, 0.5, a subnormal, NaN."""
    a = rng.uniform(size=shape).astype(dtype)
    a.flat[:6] = [0.0, 1.0, 0.5, np.finfo(dtype).smallest_subnormal, np.nan, 1.0 - 1e-7]
    return a


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_forward_from_exp_gives_numpy_s_bits(monkeypatch, rng, dtype):
    t = (rng.normal(size=(37, 11)) * 30).astype(dtype)  # exp overflows to inf: sigmoid 0
    t.flat[:3] = [0.0, np.inf, -np.inf]
    results = []
    for flag in ("0", "1"):
        with np.errstate(over="ignore"):
            results.append(_with(monkeypatch, flag, lambda: Sigmoid().forward_in_place(-t)))
    assert "sigmoid_of_exp" in compiled._compiled
    np.testing.assert_array_equal(results[0], results[1])
    assert results[1].dtype == dtype
    with np.errstate(over="ignore"):
        expected = (1.0 / (1.0 + np.exp(t.astype(np.float64)))).astype(dtype)
    np.testing.assert_allclose(results[1], expected, rtol=4 * np.finfo(dtype).eps, atol=0)
    assert results[1].flat[0] == 0.5 and results[1].flat[1] == 0.0 and results[1].flat[2] == 1.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_derivative_times_a_column_gives_numpy_s_bits(monkeypatch, rng, dtype):
    a = _outputs(rng, dtype)
    column = rng.normal(size=(37, 1)).astype(dtype)
    column[3, 0] = np.inf  # inf * 0 at a = 0 or 1: NaN both ways
    results = []
    for flag in ("0", "1"):
        out = np.empty_like(a)
        results.append(
            _with(
                monkeypatch,
                flag,
                lambda out=out: Sigmoid().derivative_from_output_times(a, column, out=out),
            )
        )
    assert "sigmoid_times" in compiled._compiled
    np.testing.assert_array_equal(results[0], results[1])
    one = dtype(1.0)
    np.testing.assert_array_equal(results[1], ((one - a) * a) * column)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_backward_from_output_gives_numpy_s_bits(monkeypatch, rng, dtype):
    a = _outputs(rng, dtype)
    d_a = rng.normal(size=a.shape).astype(dtype)
    results = []
    for flag in ("0", "1"):
        results.append(
            _with(monkeypatch, flag, lambda: Sigmoid().backward_from_output(a.copy(), d_a.copy()))
        )
    assert "sigmoid_backward" in compiled._compiled
    np.testing.assert_array_equal(results[0], results[1])
    one = dtype(1.0)
    np.testing.assert_array_equal(results[1], (d_a * a) * (one - a))


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_relu_backward_gives_where_s_bits(monkeypatch, rng, dtype):
    z = rng.normal(size=(3, 40, 7)).astype(dtype)
    d_a = rng.normal(size=z.shape).astype(dtype)
    z.flat[:8] = [0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, 1.0, 1.0]
    d_a.flat[:8] = [np.nan, np.inf, np.nan, 2.0, np.inf, np.inf, np.nan, -0.0]
    d_a.flat[8] = np.finfo(dtype).smallest_subnormal
    z.flat[8] = 1.0
    results = [
        _with(monkeypatch, flag, lambda: ReLU().backward(z, None, d_a.copy(), xp=np))
        for flag in ("0", "1")
    ]
    assert "relu_backward" in compiled._compiled
    expected = np.array(
        [d if zi > 0 else 0.0 for zi, d in zip(z.ravel(), d_a.ravel(), strict=True)], dtype
    ).reshape(z.shape)
    for result in results:
        assert result.dtype == dtype and result.shape == z.shape
        np.testing.assert_array_equal(result.view(np.uint8), expected.view(np.uint8))
    # strided views keep the bit mask, with the same bits
    strided = _with(monkeypatch, "1", lambda: ReLU().backward(z[:, ::2], None, d_a[:, ::2], xp=np))
    np.testing.assert_array_equal(strided.view(np.uint8), expected[:, ::2].copy().view(np.uint8))


def test_arrays_the_loops_do_not_take_keep_numpy_s_operations(monkeypatch, rng):
    monkeypatch.setenv("DELTAPROP_FUSED", "1")
    a = _outputs(rng, np.float32, shape=(11, 37)).T  # not C-contiguous
    column = rng.normal(size=(37, 1)).astype(np.float32)
    out = Sigmoid().derivative_from_output_times(a, column, out=np.empty_like(a))
    np.testing.assert_array_equal(out, ((np.float32(1.0) - a) * a) * column)
    half = _outputs(rng, np.float16)
    d_a = np.ones_like(half)
    back = Sigmoid().backward_from_output(half.copy(), d_a)
    assert back.dtype == np.float16
    np.testing.assert_array_equal(back, half * (np.float16(1.0) - half))


@pytest.mark.parametrize(
    ("layers", "loops"),
    [
        (  # the seed network
            lambda: [dp.Dense(6, 9, "sigmoid"), dp.Dense(9, 1, "sigmoid")],
            {"sigmoid_of_exp", "sigmoid_times"},
        ),
        (
            lambda: [
                dp.Dense(6, 9, "sigmoid"),
                dp.Dense(9, 7, "sigmoid"),
                dp.Dense(7, 3, "softmax"),
            ],
            {"sigmoid_of_exp", "sigmoid_backward"},
        ),
        (  # the tabular recipe's layers
            lambda: [dp.Dense(6, 9, "relu"), dp.Dense(9, 7, "relu"), dp.Dense(7, 3, "softmax")],
            {"relu_backward"},
        ),
    ],
)
def test_training_gives_the_same_bits_with_the_loops_and_without(monkeypatch, rng, layers, loops):
    X = rng.normal(size=(1500, 6)).astype(np.float32)
    n_out = layers()[-1].n_out
    y = (rng.uniform(size=(1500, n_out)) < 0.4).astype(np.float32)
    if n_out > 1:
        y = np.eye(n_out, dtype=np.float32)[rng.integers(0, n_out, size=1500)]
    loss = "binary_cross_entropy" if n_out == 1 else "cross_entropy"
    weights = []
    for flag in ("0", "1"):
        monkeypatch.setenv("DELTAPROP_FUSED", flag)
        net = dp.Network(layers(), loss=loss, random_state=0)
        history = dp.train(
            net, X, y, optimizer=dp.SGD(learning_rate=0.5), max_iter=5, random_state=0
        )
        weights.append(([p.copy() for p in net.parameters], list(history.loss)))
    assert loops <= set(compiled._compiled)
    assert weights[0][1] == weights[1][1]
    for p, q in zip(weights[0][0], weights[1][0], strict=True):
        np.testing.assert_array_equal(p, q)


def test_arrays_below_the_size_run_the_copy_that_keeps_the_gil_with_the_same_bits(monkeypatch, rng):
    # every array is "small": the loops compiled with nogil=False run, and must give the
    # bits of NumPy's operations as the GIL-releasing ones do
    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 10**9)
    z = rng.normal(size=(4, 30)).astype(np.float32)
    d_a = rng.normal(size=z.shape).astype(np.float32)
    a = _outputs(rng, np.float32, shape=(4, 30))
    results = []
    for flag in ("0", "1"):
        relu = _with(monkeypatch, flag, lambda: ReLU().backward(z, None, d_a.copy(), xp=np))
        sigmoid = _with(
            monkeypatch, flag, lambda: Sigmoid().backward_from_output(a.copy(), d_a.copy())
        )
        results.append((relu, sigmoid))
    assert {"relu_backward", "sigmoid_backward"} <= set(compiled._compiled)
    for numpy_result, loop_result in zip(*results, strict=True):
        np.testing.assert_array_equal(numpy_result.view(np.uint8), loop_result.view(np.uint8))
