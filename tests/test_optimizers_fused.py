"""Adam's compiled update (Numba) gives the bits of its NumPy operations."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.core import compiled
from deltaprop.optim import fused

pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def small_arrays_compiled(monkeypatch):
    """This module's small arrays run the loops that release the GIL (by default, arrays
    below MIN_COMPILED_SIZE entries run the copies that keep it), so that their bits are
    compared."""
    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 0)


def _problem(rng, dtype):
    """Parameters and 4 steps of gradients, one of them with a 0.

    A stack of 3 members' weights (as the recipe trains them), a bias, and a weight
    matrix seen transposed (not C-contiguous: it keeps NumPy's operations).
    """
    shapes = [(3, 7, 5), (5,), (6, 4)]
    params = [rng.normal(size=s).astype(dtype) for s in shapes]
    params[2] = np.ascontiguousarray(params[2]).T
    grads = [[rng.normal(size=p.shape).astype(dtype) for p in params] for _ in range(4)]
    grads[1][0][0, 0, 0] = 0.0  # a zero gradient: the moments decay, nothing divides by 0
    return params, grads


def _steps(monkeypatch, compiled, make, params, grads):
    """The parameters and the array states of ``make()`` after the steps ``grads``."""
    monkeypatch.setenv("DELTAPROP_FUSED", "1" if compiled else "0")
    opt = make()
    loop = fused.fused_adam if isinstance(opt, dp.Adam) else fused.fused_sgd
    assert (loop() is not None) == compiled
    for step_grads in grads:
        params = opt.step(params, step_grads, xp=np)
    return [params, *(getattr(opt, key) for key in opt._array_state)]


def _assert_same_bits(monkeypatch, make, params, grads, dtype):
    numpy = _steps(monkeypatch, False, make, params, grads)
    compiled = _steps(monkeypatch, True, make, params, grads)
    for expected, got in zip(numpy, compiled, strict=True):
        for a, b in zip(expected, got, strict=True):
            assert b.dtype == dtype
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_adam_equals_numpy_bit_for_bit(monkeypatch, rng, dtype, weight_decay):
    params, grads = _problem(rng, dtype)
    originals = [p.copy() for p in params]
    make = functools.partial(dp.Adam, learning_rate=0.01, weight_decay=weight_decay)
    _assert_same_bits(monkeypatch, make, params, grads, dtype)
    for p, original in zip(params, originals, strict=True):
        np.testing.assert_array_equal(p, original)  # step never modifies its inputs


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_sgd_equals_numpy_bit_for_bit(monkeypatch, rng, dtype, nesterov):
    params, grads = _problem(rng, dtype)
    make = functools.partial(dp.SGD, learning_rate=0.05, momentum=0.9, nesterov=nesterov)
    _assert_same_bits(monkeypatch, make, params, grads, dtype)


@pytest.mark.parametrize(
    "make",
    [
        functools.partial(dp.Adam, learning_rate=0.01, weight_decay=0.1),
        functools.partial(dp.SGD, learning_rate=0.05, momentum=0.9, nesterov=True),
    ],
    ids=["adam", "sgd"],
)
def test_the_copies_that_keep_the_gil_give_the_same_bits(monkeypatch, rng, make):
    # every array below the size: the copies compiled with nogil=False run
    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 10**9)
    params, grads = _problem(rng, np.float32)
    _assert_same_bits(monkeypatch, make, params, grads, np.float32)


def test_fused_adam_matches_the_textbook_formula(monkeypatch):
    # one step from zero moments, computed here in float64 from Kingma & Ba's formula
    monkeypatch.setenv("DELTAPROP_FUSED", "1")
    p = np.array([1.0, -2.0, 0.5])
    g = np.array([0.3, -0.1, 2.0])
    (new,) = dp.Adam(learning_rate=0.1, weight_decay=0.01).step([p], [g], xp=np)
    m_hat = (0.1 * g) / (1 - 0.9)
    v_hat = (0.001 * g * g) / (1 - 0.999)
    expected = p - 0.1 * 0.01 * p - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8)
    np.testing.assert_allclose(new, expected, rtol=1e-14)


def test_training_with_and_without_the_fused_update_is_bit_identical(monkeypatch, rng):
    X = rng.normal(size=(90, 6)).astype(np.float32)
    Y = (X[:, :1] + X[:, 1:2] > 0).astype(np.float32)
    weights = {}
    for flag in ("0", "1"):
        monkeypatch.setenv("DELTAPROP_FUSED", flag)
        net = dp.Network([dp.Dense(6, 8, "relu"), dp.Dense(8, 1, "sigmoid")], random_state=3)
        dp.train(
            net,
            X,
            Y,
            optimizer=dp.Adam(learning_rate=0.01),
            batch_size=16,
            max_iter=5,
            random_state=0,
        )
        weights[flag] = [a.copy() for a in net.parameters]
    for a, b in zip(weights["0"], weights["1"], strict=True):
        np.testing.assert_array_equal(a, b)


def test_by_default_the_loop_is_loaded_once_it_would_repay_its_loading(monkeypatch):
    monkeypatch.delenv("DELTAPROP_FUSED", raising=False)
    monkeypatch.setattr(compiled, "_compiled", {})
    monkeypatch.setattr(compiled, "_updated", [0.0])
    monkeypatch.setattr(compiled, "LOAD_AFTER", 1000)
    assert fused.fused_adam(600) is None  # 600 entries updated by NumPy's operations
    update = fused.fused_adam(600)  # 1200 >= LOAD_AFTER: loaded, and kept
    assert update is not None
    assert fused.fused_adam(0) is update
    monkeypatch.setenv("DELTAPROP_FUSED", "0")
    assert fused.fused_adam(10**9) is None


def test_adam_and_sgd_count_towards_one_load(monkeypatch):
    monkeypatch.delenv("DELTAPROP_FUSED", raising=False)
    monkeypatch.setattr(compiled, "_compiled", {})
    monkeypatch.setattr(compiled, "_updated", [0.0])
    monkeypatch.setattr(compiled, "LOAD_AFTER", 1000)
    assert fused.fused_sgd(600) is None
    assert fused.fused_adam(300) is None  # 900 entries by NumPy's operations so far
    assert fused.fused_sgd(200) is not None  # 1100: Numba is loaded
    assert fused.fused_adam(0) is not None  # and Adam's loop need not wait any more


def test_without_numba_adam_keeps_numpy_and_looks_for_numba_once(monkeypatch):
    import importlib.util

    looked = []

    def no_numba(name, *args):
        looked.append(name)
        return None

    monkeypatch.setenv("DELTAPROP_FUSED", "1")
    monkeypatch.setattr(compiled, "_compiled", {})
    monkeypatch.setattr(importlib.util, "find_spec", no_numba)
    assert fused.fused_adam(10) is None
    assert fused.fused_adam(10) is None
    assert looked == ["numba"]


@pytest.mark.parametrize(
    "make",
    [
        lambda: dp.SGD(momentum=0.9),
        lambda: dp.SGD(momentum=0.9, nesterov=True),
        lambda: dp.Adam(),
    ],
)
def test_a_numpy_scalar_learning_rate_gives_the_same_bits_both_ways(monkeypatch, rng, make):
    # a schedule may set np.float64: NumPy would compute lr * g in float64 (NEP 50),
    # the compiled loop in float32; both take it as a Python float
    p = rng.normal(size=50).astype(np.float32)
    grads = [rng.normal(size=50).astype(np.float32) for _ in range(3)]
    results = []
    for flag in ("0", "1"):
        monkeypatch.setenv("DELTAPROP_FUSED", flag)
        opt, current = make(), p
        for g in grads:
            opt.learning_rate = np.float64(0.123456789)
            (current,) = opt.step([current], [g], xp=np)
        assert current.dtype == np.float32
        results.append(current)
    np.testing.assert_array_equal(results[0], results[1])


def test_numba_that_fails_to_import_leaves_numpy_s_operations(monkeypatch):
    import importlib.util
    import sys

    monkeypatch.setenv("DELTAPROP_FUSED", "1")
    monkeypatch.setattr(compiled, "_compiled", {})
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: object())
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba raises ImportError
    assert fused.fused_sgd(10) is None and fused.fused_adam(10) is None
    (new,) = dp.SGD(learning_rate=0.5, momentum=0.5).step(
        [np.ones(3, np.float32)], [np.ones(3, np.float32)], xp=np
    )
    np.testing.assert_array_equal(new, np.float32(0.5))
