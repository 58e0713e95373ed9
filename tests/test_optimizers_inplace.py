"""The NumPy fast paths of the optimizers compute the same bits as the generic path."""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp

array_api_strict = pytest.importorskip("array_api_strict")


@pytest.mark.parametrize(
    "make",
    [
        lambda: dp.SGD(learning_rate=0.1, momentum=0.9),
        lambda: dp.SGD(learning_rate=0.1, momentum=0.5, nesterov=True),
        lambda: dp.Adam(learning_rate=0.01),
        lambda: dp.Adam(learning_rate=0.01, weight_decay=0.1),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 4), (300, 30)])
def test_numpy_step_is_bit_identical_to_the_array_api_step(rng, make, dtype, shape):
    params = [rng.normal(size=shape).astype(dtype), rng.normal(size=shape[1]).astype(dtype)]
    grads = [[rng.normal(size=p.shape).astype(dtype) for p in params] for _ in range(3)]
    fast, generic = make(), make()
    params_fast = [p.copy() for p in params]
    params_generic = [array_api_strict.asarray(p) for p in params]
    originals = [p.copy() for p in params_fast]
    for step_grads in grads:
        given = [g.copy() for g in step_grads]
        params_fast = fast.step(params_fast, given, xp=np)
        params_generic = generic.step(
            params_generic, [array_api_strict.asarray(g) for g in step_grads], xp=array_api_strict
        )
        for g, g_original in zip(given, step_grads, strict=True):
            np.testing.assert_array_equal(g, g_original)  # gradients are not modified
    for p, q in zip(params_fast, params_generic, strict=True):
        assert p.dtype == dtype
        np.testing.assert_array_equal(p, np.asarray(q))
    # the first step returned new arrays: the caller's parameters are untouched
    fresh = make()
    before = [p.copy() for p in originals]
    fresh.step(originals, grads[0], xp=np)
    for p, q in zip(originals, before, strict=True):
        np.testing.assert_array_equal(p, q)
