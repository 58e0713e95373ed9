"""Property-based tests: any input either works (finite numbers) or raises the documented error.

Hypothesis draws network shapes, activations, losses, dtypes, extreme values (1e30,
subnormals, zeros), sample weights and targets, including ones outside a loss's domain.
Every call must either succeed with a finite loss and finite gradients, or raise
ValueError/TypeError - never another exception, never NaN or inf silently.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import deltaprop as dp

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)

ACTIVATIONS = list(dp.ACTIVATIONS)
LOSSES = list(dp.LOSSES)
DTYPES = [np.float32, np.float64]


def _values(dtype):
    info = np.finfo(dtype)
    special = st.sampled_from([0.0, -0.0, 1e30, -1e30, float(info.tiny) / 4, 1.0, -1.0, 1e-30])
    plain = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32)
    return st.one_of(plain, special)


@st.composite
def problems(draw):
    dtype = draw(st.sampled_from(DTYPES))
    n_samples = draw(st.integers(1, 6))
    sizes = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    activations = draw(
        st.lists(st.sampled_from(ACTIVATIONS), min_size=len(sizes) - 1, max_size=len(sizes) - 1)
    )
    loss = draw(st.sampled_from(LOSSES))
    X = draw(hnp.arrays(dtype, (n_samples, sizes[0]), elements=_values(dtype)))
    if draw(st.booleans()):  # half the time, moderate inputs so training has work to do
        X = np.clip(X, -10.0, 10.0)
    y_elements = st.floats(0.0, 1.0, width=32)
    if draw(st.integers(0, 4)) == 0:  # now and then, targets outside some losses' domain
        y_elements = st.one_of(y_elements, st.sampled_from([-1.0, 2.0, 1e30]))
    y = draw(hnp.arrays(dtype, (n_samples, sizes[-1]), elements=y_elements))
    weights = draw(
        st.one_of(
            st.none(),
            hnp.arrays(dtype, (n_samples,), elements=st.sampled_from([0.0, 0.5, 1.0, 3.0, 1e30])),
        )
    )
    alpha = draw(st.sampled_from([0.0, 1e-4, 10.0]))
    seed = draw(st.integers(0, 3))
    layers = [dp.Dense(sizes[i], sizes[i + 1], activations[i]) for i in range(len(sizes) - 1)]
    return dp.Network(layers, loss=loss, alpha=alpha, random_state=seed), X, y, weights


@SETTINGS
@given(problems())
def test_loss_and_gradients_are_finite_or_a_documented_error(problem):
    net, X, y, weights = problem
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings leak out either
        try:
            loss, grads = net.loss_and_gradients(X, y, weights)
        except (ValueError, TypeError) as exc:
            assert str(exc)  # a message naming the problem
            event("rejected")
            return
    event("finite")
    assert isinstance(loss, float) and math.isfinite(loss)
    for d_weights, d_bias in grads:
        assert d_weights.dtype == X.dtype and d_bias.dtype == X.dtype
        assert np.all(np.isfinite(d_weights)) and np.all(np.isfinite(d_bias))


@SETTINGS
@given(problems())
def test_forward_is_finite_or_a_documented_error(problem):
    net, X, _, _ = problem
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            out = net.forward(X)
        except (ValueError, TypeError) as exc:
            assert str(exc)
            return
    assert out.shape == (X.shape[0], net.n_outputs) and np.all(np.isfinite(out))


@settings(SETTINGS, max_examples=40)
@given(problems(), st.sampled_from([None, 2]))
def test_train_ends_with_finite_weights_or_a_documented_error(problem, batch_size):
    net, X, y, weights = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dp.DivergenceWarning)
        warnings.simplefilter("error", RuntimeWarning)
        try:
            history = dp.train(
                net, X, y, sample_weight=weights, max_iter=3, batch_size=batch_size, random_state=0
            )
        except (ValueError, TypeError) as exc:
            assert str(exc)
            event("rejected")
            return
    event(f"trained: {history.stop_reason}")
    assert all(math.isfinite(v) for v in history.loss)
    assert all(np.all(np.isfinite(p)) for p in net.parameters)


@pytest.mark.parametrize("dtype", DTYPES)
def test_overflow_is_reported_not_returned(dtype):
    """Inputs near the top of the dtype's range overflow: an error naming the cause."""
    net = dp.Network(
        [dp.Dense(2, 2, "relu"), dp.Dense(2, 1, "identity")], loss="squared_error", random_state=0
    )
    net.layers[0].weights = np.full((2, 2), 1e10)
    X = np.full((3, 2), 1e30 if dtype == np.float32 else 1e300, dtype=dtype)
    with pytest.raises(ValueError, match="overflowed to inf or NaN"):
        net.loss_and_gradients(X, np.zeros(3, dtype=dtype))
    with pytest.raises(ValueError, match="the network's output overflowed"):
        net.forward(X)
