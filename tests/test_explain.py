"""Explain mode: the trace's numbers, its renderers and its diagnostics."""

from __future__ import annotations

import importlib.util
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.core.arrays import to_numpy
from deltaprop.explain.trace import Trace, worked_example

ROOT = Path(__file__).resolve().parents[1]


def _to_xp(xp, a, dtype):
    a = np.asarray(a, dtype=dtype)
    return a if xp is np else xp.asarray(a)


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


# -- the worked example, by hand ----------------------------------------------------------
def test_worked_example_matches_the_formulas_by_hand():
    net, X, y, lr = worked_example()
    trace = dp.explain(net, X, y, learning_rate=lr)

    x1, x2, t = 0.05, 0.10, 0.01
    w1, w2, w3, w4, w5, w6, b1, b2 = 0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.35, 0.60
    # forward pass
    net_h1 = w1 * x1 + w2 * x2 + b1
    net_h2 = w3 * x1 + w4 * x2 + b1
    out_h1, out_h2 = _sigmoid(net_h1), _sigmoid(net_h2)
    net_o = w5 * out_h1 + w6 * out_h2 + b2
    out_o = _sigmoid(net_o)
    # error: squared error, one sample of weight 1
    error = 0.5 * (out_o - t) ** 2
    # output delta by the general chain rule: dE/da * f'(z)
    delta_o = (out_o - t) * out_o * (1.0 - out_o)
    # hidden deltas: (delta_o * w) * f'(z)
    delta_h1 = delta_o * w5 * out_h1 * (1.0 - out_h1)
    delta_h2 = delta_o * w6 * out_h2 * (1.0 - out_h2)
    # gradients: input activation x delta
    d_w = {
        "w1": delta_h1 * x1,
        "w2": delta_h1 * x2,
        "w3": delta_h2 * x1,
        "w4": delta_h2 * x2,
        "w5": delta_o * out_h1,
        "w6": delta_o * out_h2,
    }

    hidden, output = trace.layers
    close = {"rel": 1e-12, "abs": 0.0}
    assert hidden.z[0].tolist() == pytest.approx([net_h1, net_h2], **close)
    assert hidden.a[0].tolist() == pytest.approx([out_h1, out_h2], **close)
    assert output.z[0, 0] == pytest.approx(net_o, **close)
    assert output.a[0, 0] == pytest.approx(out_o, **close)
    assert trace.losses[0] == pytest.approx(error, **close)
    assert trace.loss == pytest.approx(error, **close)
    assert not trace.canonical
    assert output.d_a[0, 0] == pytest.approx(out_o - t, **close)
    assert output.f_prime[0, 0] == pytest.approx(out_o * (1 - out_o), **close)
    assert output.delta[0, 0] == pytest.approx(delta_o, **close)
    assert hidden.d_a[0].tolist() == pytest.approx([delta_o * w5, delta_o * w6], **close)
    assert hidden.delta[0].tolist() == pytest.approx([delta_h1, delta_h2], **close)
    # W[i, j] connects input i to unit j
    expected_dw1 = [[d_w["w1"], d_w["w3"]], [d_w["w2"], d_w["w4"]]]
    assert hidden.d_weights.tolist() == [pytest.approx(r, **close) for r in expected_dw1]
    assert hidden.d_bias.tolist() == pytest.approx([delta_h1, delta_h2], **close)
    assert output.d_weights[:, 0].tolist() == pytest.approx([d_w["w5"], d_w["w6"]], **close)
    assert output.d_bias.tolist() == pytest.approx([delta_o], **close)
    expected_w1 = [
        [w1 - lr * d_w["w1"], w3 - lr * d_w["w3"]],
        [w2 - lr * d_w["w2"], w4 - lr * d_w["w4"]],
    ]
    assert hidden.weights_after.tolist() == [pytest.approx(r, **close) for r in expected_w1]
    assert hidden.bias_after.tolist() == pytest.approx(
        [b1 - lr * delta_h1, b1 - lr * delta_h2], **close
    )
    assert output.weights_after[:, 0].tolist() == pytest.approx(
        [w5 - lr * d_w["w5"], w6 - lr * d_w["w6"]], **close
    )
    assert output.bias_after.tolist() == pytest.approx([b2 - lr * delta_o], **close)

    # The published numbers of Mazur's example (output o1), to the digits printed there.
    assert out_h1 == pytest.approx(0.593269992, abs=1e-9)
    assert out_o == pytest.approx(0.75136507, abs=1e-8)
    assert error == pytest.approx(0.274811083, abs=1e-9)
    assert d_w["w5"] == pytest.approx(0.082167041, abs=1e-9)
    assert w5 - lr * d_w["w5"] == pytest.approx(0.35891648, abs=1e-8)


def test_worked_example_text_shows_the_numbers():
    net, X, y, lr = worked_example()
    text = dp.explain(net, X, y, learning_rate=lr).to_text()
    headings = [
        "1 Forward pass",
        "2 Error",
        "3 Output-layer delta (layer 2)",
        "4 Hidden-layer deltas",
        "5 Gradients and update",
        "Diagnostics",
    ]
    positions = [text.index("\n" + h + "\n") for h in headings]
    assert positions == sorted(positions)
    for number in ("0.3775", "0.59327", "0.751365", "0.274811", "0.138499", "0.082167", "0.358916"):
        assert number in text
    assert "not a canonical pair" in text
    assert "delta[l] = (delta[l+1] @ W[l+1].T) * f'(z[l])" in text
    assert "No problems found" in text


def test_network_is_left_unchanged():
    net, X, y, lr = worked_example()
    before = [np.array(p) for p in net.parameters]
    dp.explain(net, X, y, learning_rate=lr, steps=3)
    for p, q in zip(before, net.parameters, strict=True):
        assert np.array_equal(p, q)


# -- the trace equals training's own gradients ---------------------------------------------
def _targets(loss: str, n_samples: int, n_outputs: int, rng) -> np.ndarray:
    if loss == "cross_entropy":
        return np.eye(n_outputs)[rng.integers(0, n_outputs, n_samples)]
    if loss == "poisson":
        return rng.poisson(1.5, size=(n_samples, n_outputs)).astype(float)
    if loss == "squared_error":
        return rng.normal(size=(n_samples, n_outputs))
    return rng.uniform(size=(n_samples, n_outputs))


@pytest.mark.parametrize("loss", sorted(dp.LOSSES))
def test_json_gradients_equal_loss_and_gradients(loss, rng):
    for i, activation in enumerate(sorted(dp.ACTIVATIONS)):
        depth = 1 + i % 4
        sizes = [3] + [int(s) for s in rng.integers(2, 5, depth)]
        layers = [dp.Dense(sizes[k], sizes[k + 1], activation) for k in range(depth)]
        alpha = 0.3 if i % 2 else 0.0
        net = dp.Network(layers, loss=loss, alpha=alpha, random_state=i)
        X = rng.normal(size=(5, 3))
        y = _targets(loss, 5, sizes[-1], rng)
        w = rng.uniform(0.5, 2.0, size=5) if i % 3 == 0 else None
        lr = 0.05

        data = json.loads(dp.explain(net, X, y, sample_weight=w, learning_rate=lr).to_json())
        expected_loss, grads = net.loss_and_gradients(X, y, sample_weight=w)
        assert data["loss"] == expected_loss, (loss, activation)
        assert len(data["layers"]) == depth
        for layer, entry, (d_weights, d_bias) in zip(
            net.layers, data["layers"], grads, strict=True
        ):
            assert np.array_equal(np.array(entry["d_weights"]), d_weights), (loss, activation)
            assert np.array_equal(np.array(entry["d_bias"]), d_bias), (loss, activation)
            # exactly the SGD step that training takes
            assert np.array_equal(np.array(entry["weights_after"]), layer.weights - lr * d_weights)
            assert np.array_equal(np.array(entry["bias_after"]), layer.bias - lr * d_bias)
            for key in ("z", "a", "delta"):
                assert np.array(entry[key]).shape == (5, layer.n_out)


def test_trace_equals_loss_and_gradients_on_every_array_library(xp, rng):
    net = dp.Network(
        [dp.Dense(3, 4, "tanh"), dp.Dense(4, 3, "relu"), dp.Dense(3, 2, "sigmoid")],
        alpha=0.1,
        random_state=1,
    )
    X, y, w = rng.normal(size=(6, 3)), rng.uniform(size=(6, 2)), rng.uniform(size=6)
    for dtype in (np.float64, np.float32):
        Xd, yd, wd = (_to_xp(xp, a, dtype) for a in (X, y, w))
        trace = dp.explain(net, Xd, yd, sample_weight=wd)
        loss, grads = net.loss_and_gradients(Xd, yd, sample_weight=wd)
        assert trace.loss == loss
        for lt, (d_weights, d_bias) in zip(trace.layers, grads, strict=True):
            assert lt.d_weights.dtype == dtype
            assert np.array_equal(lt.d_weights, to_numpy(d_weights))
            assert np.array_equal(lt.d_bias, to_numpy(d_bias))


def test_canonical_output_delta_and_hidden_chain_rule(rng):
    net = dp.Network(
        [dp.Dense(3, 4, "tanh"), dp.Dense(4, 2, "sigmoid")],
        loss="binary_cross_entropy",
        random_state=0,
    )
    X, y, w = rng.normal(size=(5, 3)), rng.uniform(size=(5, 2)), rng.uniform(0.1, 1, size=5)
    trace = dp.explain(net, X, y, sample_weight=w)
    hidden, output = trace.layers
    assert trace.canonical
    assert output.f_prime is None
    # canonical shortcut: w_i (a_i - y_i) / sum(w)
    np.testing.assert_allclose(output.delta, w[:, None] * (output.a - y) / w.sum(), rtol=1e-12)
    # the hidden delta: (delta_next @ W_next.T) * (1 - a^2)
    expected = (output.delta @ net.layers[1].weights.T) * (1.0 - hidden.a**2)
    np.testing.assert_allclose(hidden.delta, expected, rtol=1e-12)
    np.testing.assert_allclose(hidden.d_weights, X.T @ hidden.delta, rtol=1e-12)
    assert "is a canonical pair" in trace.to_text()


def test_steps_record_the_losses_of_training(rng):
    net = dp.Network([dp.Dense(2, 3), dp.Dense(3, 1)], random_state=0)
    X, y = rng.normal(size=(4, 2)), np.array([0.0, 1.0, 1.0, 0.0])
    trace = dp.explain(net, X, y, learning_rate=0.5, steps=4)
    assert len(trace.loss_curve) == 4 and trace.stop_reason == "max_iter"
    assert trace.loss_curve[0] == trace.loss
    # step 2's loss is that of the weights after the explained update
    after = dp.Network([dp.Dense(2, 3), dp.Dense(3, 1)])
    for layer, lt in zip(after.layers, trace.layers, strict=True):
        layer.weights, layer.bias = lt.weights_after, lt.bias_after
    assert trace.loss_curve[1] == after.loss_and_gradients(X, y)[0]
    assert "6 Loss over 4 steps of gradient descent" in trace.to_text()


# -- large networks -----------------------------------------------------------------------
def test_784_256_10_text_stays_short(rng):
    net = dp.Network(
        [dp.Dense(784, 256, "relu"), dp.Dense(256, 10, "softmax")],
        loss="cross_entropy",
        random_state=0,
    )
    X = rng.uniform(size=(4, 784))
    y = np.eye(10)[[3, 1, 4, 1]]
    trace = dp.explain(net, X, y, steps=3)
    text = trace.to_text()
    assert len(text.splitlines()) < 200
    assert "W[1] (784 x 256): norm" in text
    w_norm = float(np.sqrt(np.sum(net.layers[0].weights ** 2)))
    assert f"norm {w_norm:.6g}" in text
    assert len(trace.to_markdown().splitlines()) < 200
    assert len(json.loads(trace.to_json())["layers"][0]["d_weights"]) == 784  # in full


# -- diagnostics ----------------------------------------------------------------------------
def test_saturated_sigmoids_give_a_vanishing_gradient_hint(rng):
    first = dp.Dense(2, 3, "sigmoid")
    first.weights = 40.0 * np.array([[1.0, -1.0, 1.0], [1.0, 1.0, -1.0]])
    first.bias = np.zeros(3)
    net = dp.Network([first, dp.Dense(3, 3, "sigmoid"), dp.Dense(3, 1)], random_state=0)
    X = np.array([[1.0, 0.5], [-1.0, 0.8], [0.7, -1.0]])
    y = np.array([1.0, 0.0, 1.0])
    trace = dp.explain(net, X, y)
    a = 1.0 / (1.0 + np.exp(-(X @ first.weights)))
    expected = np.mean((a < 0.01) | (a > 0.99))
    assert trace.layers[0].saturated == pytest.approx(expected)
    assert expected > 0.5
    hints = " ".join(trace.hints)
    assert "Layer 1: vanishing gradient" in hints
    assert "saturated" in hints
    for lt in trace.layers:
        assert lt.grad_norm == pytest.approx(np.linalg.norm(lt.d_weights))


def test_dead_relus_and_exploding_gradients_are_reported(rng):
    first = dp.Dense(2, 4, "relu")
    first.weights = np.ones((2, 4))
    first.bias = np.array([-100.0, -100.0, -100.0, 0.0])  # three units never fire
    net = dp.Network([first, dp.Dense(4, 1)], random_state=0)
    X, y = rng.uniform(size=(5, 2)), np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    trace = dp.explain(net, X, y, learning_rate=100.0)
    assert trace.layers[0].dead == pytest.approx(0.75)
    hints = " ".join(trace.hints)
    assert "75% of its ReLU units are dead" in hints
    assert "exploding gradient" in hints


def test_norms_of_huge_weights_do_not_overflow():
    # 1e160 squared overflows float64; the norms are scaled, so they stay exact
    layer = dp.Dense(2, 1, "identity")
    layer.weights, layer.bias = np.array([[1e160], [1e160]]), np.array([0.0])
    net = dp.Network([layer], loss="squared_error")
    trace = dp.explain(net, np.array([[1e-170, 0.0]]), np.array([0.0]))
    assert trace.layers[0].weight_norm == pytest.approx(math.sqrt(2.0) * 1e160, rel=1e-15)
    assert math.isfinite(trace.layers[0].grad_norm)


def test_zero_gradient_hint():
    layer = dp.Dense(1, 1, "identity")
    layer.weights, layer.bias = np.array([[1.0]]), np.array([0.0])
    net = dp.Network([layer], loss="squared_error")
    trace = dp.explain(net, np.array([[2.0]]), np.array([2.0]))
    assert trace.hints[0].startswith("Every weight gradient is exactly zero")


# -- renderers ------------------------------------------------------------------------------
def test_markdown_has_the_numbered_sections():
    net, X, y, lr = worked_example()
    md = dp.explain(net, X, y, learning_rate=lr, steps=2).to_markdown()
    headings = re.findall(r"^### (.+)$", md, flags=re.MULTILINE)
    assert headings == [
        "The step",
        "1 Forward pass",
        "2 Error",
        "3 Output-layer delta (layer 2)",
        "4 Hidden-layer deltas",
        "5 Gradients and update",
        "6 Loss over 2 steps of gradient descent",
        "Diagnostics",
    ]
    assert md.count("```text") == md.count("```") // 2
    assert "| \\|dW\\| |" in md


def test_to_png_draws_any_network(tmp_path, rng):
    pytest.importorskip("matplotlib")
    net, X, y, lr = worked_example()
    path = tmp_path / "worked.png"
    dp.explain(net, X, y, learning_rate=lr).to_png(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # wide layers are summarised ("... n more"), inputs named by their columns
    wide = dp.Network([dp.Dense(30, 12, "relu"), dp.Dense(12, 3, "softmax")],
                      loss="cross_entropy", random_state=0)  # fmt: skip
    names = [f"column {k}" for k in range(30)]
    trace = dp.explain(wide, rng.normal(size=(4, 30)), np.eye(3)[[0, 1, 2, 0]],
                       feature_names=names)  # fmt: skip
    trace.to_png(tmp_path / "big.png", sample=3)
    assert (tmp_path / "big.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="sample must be in"):
        dp.explain(net, X, y).to_png(tmp_path / "x.png", sample=1)


def test_bad_input_is_rejected(rng):
    net, X, y, _ = worked_example()
    with pytest.raises(TypeError, match="network must be a Network"):
        dp.explain("net", X, y)
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        dp.explain(net, X, y, learning_rate=0.0)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        dp.explain(net, X, y, steps=0)
    with pytest.raises(ValueError, match="X has 3 features"):
        dp.explain(net, rng.normal(size=(1, 3)), y)
    with pytest.raises(ValueError, match="precision must be"):
        dp.explain(net, X, y).to_text(precision=0)


def test_trace_is_exported():
    assert isinstance(dp.explain(*worked_example()[:3]), Trace)
    assert "explain" in dp.__all__ and "Trace" in dp.__all__


# -- documentation --------------------------------------------------------------------------
def test_tutorial_is_up_to_date():
    spec = importlib.util.spec_from_file_location(
        "generate_backprop", ROOT / "docs" / "generate_backprop.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (ROOT / "docs" / "backprop.md").read_text(encoding="utf-8")
    assert committed == module.build_markdown(), (
        "docs/backprop.md is stale: run python docs/generate_backprop.py"
    )
    assert (ROOT / "docs" / "images" / "worked_example.png").is_file()


def test_to_png_without_matplotlib_names_the_extra(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    net, X, y, _ = worked_example()
    with pytest.raises(ImportError, match=r"deltaprop\[plot\]"):
        dp.explain(net, X, y).to_png(tmp_path / "x.png")
