"""The scalar view, the one delta of every view, and what explain shows of a step."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.explain import (
    DEFAULT_LEARNING_RATE,
    row_view,
    scalar_view,
    tutorial_example,
    worked_example,
)


def _rel(a: float, b: float) -> float:
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale else 0.0


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


# -- the scalar view ---------------------------------------------------------------------
def test_scalar_view_of_the_worked_example_has_mazurs_numbers():
    net, X, y, lr = worked_example()
    view = dp.explain(net, X, y, learning_rate=lr).scalar_view(2, 1, 1)  # w5
    (row,) = view.rows
    out_h1 = _sigmoid(0.15 * 0.05 + 0.20 * 0.10 + 0.35)
    out_o = 0.75136507
    assert row.a_prev == pytest.approx(out_h1, rel=1e-12)
    assert row.dl_da == pytest.approx(out_o - 0.01, rel=1e-8)
    assert row.f_prime == pytest.approx(out_o * (1 - out_o), rel=1e-8)
    assert view.gradient == pytest.approx(0.082167041, abs=1e-9)
    assert view.weight_after == pytest.approx(0.35891648, abs=1e-8)
    assert view.relative_difference < 1e-6
    text = view.to_text()
    assert "W[2][1,1]: from unit 1 of layer 1 to unit 1 of layer 2" in text
    assert "0.4 - 0.5 * 0.082167 = 0.358916" in text
    assert "np.float64" not in text


def _networks(rng):
    """(network, X, y, sample_weight) with every kind of layer the scalar view handles."""
    X = rng.normal(size=(5, 3))
    w = rng.uniform(0.3, 2.0, size=5)
    yield (
        dp.Network([dp.Dense(3, 4, "tanh"), dp.Dense(4, 2, "sigmoid")],
                   loss="binary_cross_entropy", alpha=0.2, random_state=0),
        X, rng.uniform(size=(5, 2)), w,
    )  # fmt: skip
    yield (
        dp.Network([dp.Dense(3, 4, "relu"), dp.Dense(4, 3, "softmax")],
                   loss="cross_entropy", random_state=1),
        X + 0.5, np.eye(3)[[0, 1, 2, 1, 0]], None,
    )  # fmt: skip
    yield (
        dp.Network([dp.Dense(3, 3, "softmax"), dp.Dense(3, 2, "sigmoid")],
                   loss="squared_error", alpha=0.05, random_state=2),
        X, rng.uniform(size=(5, 2)), w,
    )  # fmt: skip
    yield (
        dp.Network([dp.Dense(3, 2, "sigmoid"), dp.Dense(2, 3, "softmax")],
                   loss="squared_error", random_state=3),
        X, rng.uniform(size=(5, 3)), w,
    )  # fmt: skip
    yield (
        dp.Network([dp.Dense(3, 4, "tanh"), dp.Dense(4, 1, "identity")],
                   loss="squared_error", alpha=0.1, random_state=4),
        X, rng.normal(size=(5, 1)), None,
    )  # fmt: skip


def test_scalar_view_equals_the_engine_and_finite_differences(rng):
    n_checked = 0
    for net, X, y, w in _networks(rng):
        lr = 0.3
        trace = dp.explain(net, X, y, w, learning_rate=lr)
        _, grads = net.loss_and_gradients(X, y, sample_weight=w)
        for layer, lt in enumerate(trace.layers, start=1):
            d_weights, d_bias = grads[layer - 1]
            for i in range(lt.n_in + 1):
                for j in range(1, lt.n_out + 1):
                    view = trace.scalar_view(layer, i, j)
                    engine = d_bias[j - 1] if i == 0 else d_weights[i - 1, j - 1]
                    param = lt.bias[j - 1] if i == 0 else lt.weights[i - 1, j - 1]
                    assert _rel(view.gradient, engine) < 1e-12, (layer, i, j)
                    assert view.engine_gradient == engine
                    assert _rel(view.finite_difference, engine) < 1e-6, (layer, i, j)
                    assert view.relative_difference < 1e-6
                    assert view.weight_after == param - lr * engine
                    # every row's delta, recomputed from scalars, is the engine's
                    for row in view.rows:
                        assert row.delta == pytest.approx(lt.delta[row.row - 1, j - 1],
                                                          rel=1e-12, abs=1e-15)  # fmt: skip
                    if i > 0:
                        assert view.penalty_gradient == pytest.approx(
                            net.alpha * param / trace.total_weight, rel=1e-15
                        )
                    n_checked += 1
    assert n_checked > 60


def test_canonical_output_shows_the_shortcut_beside_the_chain_rule():
    net, X, y, w, lr = tutorial_example()
    trace = dp.explain(net, X, y, w, learning_rate=lr)
    out = trace.layers[-1]
    share = w / w.sum()
    a = out.a[:, 0]
    # by hand: dl/da = (a - y) / (a (1 - a)), f'(z) = a (1 - a)
    np.testing.assert_allclose(out.dl_da[:, 0], (a - y[:, 0]) / (a * (1 - a)), rtol=1e-12)
    np.testing.assert_allclose(out.chain_f_prime[:, 0], a * (1 - a), rtol=1e-12)
    np.testing.assert_allclose(out.chain_delta[:, 0], share * (a - y[:, 0]), rtol=1e-12)
    np.testing.assert_allclose(out.delta[:, 0], share * (a - y[:, 0]), rtol=1e-15)
    view = trace.scalar_view(2, 1, 1)
    for row in view.rows:
        assert row.chain == pytest.approx(row.shortcut, rel=1e-12)
    text = trace.to_text()
    assert "is a canonical pair" in text and "The full chain rule" in text


def test_scalar_view_function_and_bad_positions():
    net, X, y, w, lr = tutorial_example()
    view = scalar_view(net, X, y, w, layer=1, i=0, j=2, learning_rate=lr)
    assert view.is_bias and view.name == "b[1][2]" and view.penalty_gradient == 0.0
    trace = dp.explain(net, X, y, w)
    with pytest.raises(ValueError, match=r"layer must be in \[1, 2\], got 3"):
        trace.scalar_view(3, 1, 1)
    with pytest.raises(ValueError, match=r"i must be in \[0, 2\] \(0 is the bias\), got 3"):
        trace.scalar_view(1, 3, 1)
    with pytest.raises(ValueError, match=r"j must be in \[1, 2\], got 0"):
        trace.scalar_view(1, 1, 0)
    with pytest.raises(TypeError, match="layer must be an int"):
        trace.scalar_view(1.0, 1, 1)


# -- one delta: explain's batch trace, its rows and single-row steps agree ----------------
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_one_delta_in_the_trace_the_row_view_and_a_single_row(rng, weighted, alpha):
    net = dp.Network([dp.Dense(3, 4, "tanh"), dp.Dense(4, 2, "sigmoid")],
                     loss="binary_cross_entropy", alpha=alpha, random_state=0)  # fmt: skip
    X, y = rng.normal(size=(6, 3)), rng.uniform(size=(6, 2))
    w = rng.uniform(0.2, 3.0, size=6) if weighted else None
    share = (np.ones(6) if w is None else w) / (6.0 if w is None else w.sum())
    trace = dp.explain(net, X, y, w)
    view = row_view(net, X, y, w, rows=[1, 4])
    np.testing.assert_allclose(view.share, share[[1, 4]], rtol=1e-15)
    for l, lt in enumerate(trace.layers):
        np.testing.assert_allclose(view.deltas[l], lt.delta[[1, 4]], rtol=1e-13, atol=1e-17)
        np.testing.assert_allclose(view.activations[l + 1], lt.a[[1, 4]], rtol=1e-14)
        # a row's delta is its own dl/dz (a single-row step) times its share w_r / sum(w)
        for r in (1, 4):
            alone = dp.explain(net, X[r : r + 1], y[r : r + 1])
            np.testing.assert_allclose(lt.delta[r], share[r] * alone.layers[l].delta[0],
                                       rtol=1e-13, atol=1e-17)  # fmt: skip
        # a_prev^T delta + the penalty's share = the printed dW, exactly as the engine adds
        expected = lt.a_prev.T @ lt.delta
        np.testing.assert_allclose(lt.d_weights_data, expected, rtol=1e-13, atol=1e-17)
        penalty = alpha * lt.weights / trace.total_weight
        np.testing.assert_allclose(lt.d_weights, expected + penalty, rtol=1e-13, atol=1e-17)
        assert (lt.d_weights_penalty is None) == (alpha == 0.0)
    data = json.loads(trace.to_json())
    assert data["weighted"] is weighted
    np.testing.assert_array_equal(data["weight_share"], trace.weight_share)
    for entry, lt in zip(data["layers"], trace.layers, strict=True):
        np.testing.assert_array_equal(entry["delta"], lt.delta)
        np.testing.assert_array_equal(entry["d_weights_data"], lt.d_weights_data)


def test_row_view_rejects_rows_out_of_range():
    net, X, y, w, _ = tutorial_example()
    with pytest.raises(ValueError, match=r"rows must be in \[0, 2\], got \[3\]"):
        row_view(net, X, y, w, rows=3)


# -- what shapes the step is shown, and the outputs agree ----------------------------------
def test_text_markdown_and_json_show_the_weights_and_the_penalty():
    net, X, y, w, lr = tutorial_example()
    net.alpha = 0.1
    trace = dp.explain(net, X, y, w, learning_rate=lr, scalar_views=[(1, 2, 1)])
    text, md, data = trace.to_text(), trace.to_markdown(), trace.to_dict()
    for out in (text, md):
        assert "sample weights w = [2 1 1] (sum(w) = 4)" in out
        assert "unweighted" not in out
        assert "alpha W[1] / sum(w)" in out
        assert "Scalar view of W[1][2,1]" in out
        assert f"= {trace.scalar_views[0].gradient:.6g} (the backward pass's dW" in out
        assert "learning_rate eta = 0.5" in out
    assert data["sample_weight"] == [2.0, 1.0, 1.0] and data["weighted"] is True
    assert data["scalar_views"][0]["name"] == "W[1][2,1]"
    assert data["scalar_views"][0]["gradient"] == trace.scalar_views[0].gradient
    assert data["layers"][0]["layer"] == 1
    np.testing.assert_allclose(
        data["layers"][0]["d_weights_penalty"], 0.1 * net.layers[0].weights / 4
    )


def test_the_default_learning_rate_is_one_number():
    net, X, y, _ = worked_example()
    assert DEFAULT_LEARNING_RATE == 0.5
    assert dp.explain(net, X, y).learning_rate == DEFAULT_LEARNING_RATE


def test_rows_are_numbered_from_1_in_the_text():
    net, X, y, w, _ = tutorial_example()
    text = dp.explain(net, X, y, w).to_text()
    assert "  row  y         a       l_i  w_i\n    1  1" in text


# -- diagnostics that hold across the data ---------------------------------------------------
def _half_dead_relu():
    first = dp.Dense(2, 2, "relu")
    first.weights, first.bias = np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([0.0, -1.5])
    return dp.Network([first, dp.Dense(2, 1)], random_state=0)


def test_a_unit_off_on_one_row_is_not_dead():
    net = _half_dead_relu()
    X_row, y_row = np.array([[0.5, 0.5]]), np.array([1.0])  # unit 2: z = -0.5 on this row
    trace = dp.explain(net, X_row, y_row)
    assert trace.layers[0].dead is None and trace.health_rows == 1
    assert "units are dead" not in " ".join(trace.hints)
    # on data where unit 2 is off for every row, it is dead; where not, it is alive
    all_off = np.array([[0.5, 0.5], [0.1, 0.2], [0.0, 1.0]])
    trace = dp.explain(net, X_row, y_row, health_data=all_off)
    assert trace.layers[0].dead == 0.5 and trace.health_rows == 3
    assert "50% of its ReLU units are dead (z <= 0 on all 3 rows)" in " ".join(trace.hints)
    one_on = np.vstack([all_off, [[1.0, 1.0]]])
    assert dp.explain(net, X_row, y_row, health_data=one_on).layers[0].dead == 0.0


def test_saturated_table_and_text_agree():
    out = dp.Dense(2, 1, "sigmoid")
    out.weights, out.bias = np.array([[30.0], [30.0]]), np.array([0.0])
    net = dp.Network([out], loss="binary_cross_entropy")
    X, y = np.array([[1.0, 1.0], [-1.0, -1.0]]), np.array([1.0, 0.0])
    trace = dp.explain(net, X, y)
    assert trace.layers[0].saturated == 1.0
    text = trace.to_text()
    assert "No problems found" not in text
    assert "Layer 1: 100% of its sigmoid values on the 2 rows are saturated" in text
    assert "does not slow learning" in text


def test_a_learning_rate_that_makes_the_loss_grow_or_oscillate_is_named():
    net, X, y, w, _ = tutorial_example()
    hints = " ".join(dp.explain(net, X, y, w, learning_rate=1000.0, steps=20).hints)
    assert "learning_rate 1000" in hints
    assert "oscillates" in hints or "grew" in hints or "diverged" in hints
    quiet = dp.explain(net, X, y, w, learning_rate=0.5, steps=20).hints
    assert not any("learning_rate 0.5 " in h for h in quiet)
    assert quiet[0].startswith("No problems found")


def test_loss_curve_hint_by_hand():
    from deltaprop.explain.trace import _curve_hints

    trace = dp.explain(*worked_example()[:3])
    trace.loss_curve, trace.stop_reason = [1.0, 0.5, 0.9, 0.4, 0.8, 0.3], "max_iter"
    assert "rose in 2 of 5 steps" in _curve_hints(trace)[0]
    trace.loss_curve = [1.0, 2.0, 3.0]
    assert "grew over 3 steps (from 1 to 3)" in _curve_hints(trace)[0]
    trace.loss_curve = [1.0, 0.9, 0.8]
    assert _curve_hints(trace) == []
    trace.loss_curve = [1.0, math.inf]
    assert "diverged" in _curve_hints(trace)[0]
