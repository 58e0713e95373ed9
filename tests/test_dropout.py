"""Dropout: exact gradients with a fixed mask, seeded masks in training, none at prediction."""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.core.backprop import backward_pass, forward_pass
from deltaprop.training.eager import mask_drawer


def _fixed_masks(net, n_samples, rng):
    masks = []
    for layer in net.layers:
        if layer.dropout:
            keep = rng.uniform(size=(n_samples, layer.n_out)) >= layer.dropout
            masks.append(keep / (1.0 - layer.dropout))
        else:
            masks.append(None)
    return masks


def _finite_difference_error(net, X, y, w, masks, epsilon=1e-6):
    X, y, w, total, _ = net._check_data(X, y, w)
    params = [np.array(p, dtype=np.float64) for p in net.parameters]

    def loss(ps):
        return net.objective(ps, X, y, w, total, xp=np, masks=masks)[0]

    _, grads = net.objective(params, X, y, w, total, xp=np, masks=masks)
    worst = 0.0
    for p, g in zip(params, grads, strict=True):
        numeric = np.zeros_like(p)
        for k in np.ndindex(p.shape):
            original = p[k]
            p[k] = original + epsilon
            plus = loss(params)
            p[k] = original - epsilon
            minus = loss(params)
            p[k] = original
            numeric[k] = (plus - minus) / (2 * epsilon)
        worst = max(worst, np.linalg.norm(g - numeric) / max(np.linalg.norm(numeric), 1e-300))
    return worst


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "relu", "gelu", "softmax"])
@pytest.mark.parametrize("weighted", [False, True])
def test_gradients_with_a_fixed_mask_match_finite_differences(rng, hidden, weighted):
    net = dp.Network(
        [
            dp.Dense(3, 5, hidden, dropout=0.4),
            dp.Dense(5, 4, "tanh", dropout=0.25),
            dp.Dense(4, 2, "sigmoid"),
        ],
        alpha=0.3,
        random_state=1,
    )
    X, y = rng.normal(size=(7, 3)), rng.uniform(size=(7, 2))
    w = rng.uniform(0.2, 2.0, size=7) if weighted else None
    masks = _fixed_masks(net, 7, rng)
    assert any(np.any(m == 0.0) for m in masks if m is not None)
    assert _finite_difference_error(net, X, y, w, masks) < 1e-6


def test_forward_applies_the_mask_after_the_activation(rng):
    net = dp.Network([dp.Dense(3, 4, "tanh", dropout=0.5), dp.Dense(4, 1)], random_state=0)
    X = rng.normal(size=(6, 3))
    masks = _fixed_masks(net, 6, rng)
    zs, activations = forward_pass(net.layers, net.parameters, X, xp=np, masks=masks)
    W, b = net.layers[0].weights, net.layers[0].bias
    np.testing.assert_allclose(activations[1], np.tanh(X @ W + b) * masks[0], rtol=1e-15)
    # the positional signature without masks is unchanged: no dropout
    zs, activations = forward_pass(net.layers, net.parameters, X, xp=np)
    np.testing.assert_allclose(activations[1], np.tanh(X @ W + b), rtol=1e-15)
    y = rng.uniform(size=(6, 1))
    result = backward_pass(
        net.layers, net.loss, net.parameters, zs, activations, y, None, 6.0, xp=np
    )
    assert result.grads[0].shape == (3, 4)


def test_prediction_never_drops(rng):
    dropped = dp.Network([dp.Dense(3, 4, dropout=0.9), dp.Dense(4, 1)], random_state=0)
    plain = dp.Network([dp.Dense(3, 4), dp.Dense(4, 1)], random_state=0)
    X = rng.normal(size=(5, 3))
    assert np.array_equal(dropped.forward(X), plain.forward(X))
    assert np.array_equal(dropped.forward(X), dropped.forward(X))


def test_masks_are_inverted_and_seeded():
    net = dp.Network([dp.Dense(3, 400, dropout=0.3), dp.Dense(400, 1)], random_state=0)
    X = np.zeros((250, 3))
    draw = mask_drawer(net, np.random.default_rng(7), X)
    mask = draw(250)[0]
    assert set(np.unique(mask).tolist()) == {0.0, 1.0 / 0.7}
    assert abs(np.mean(mask == 0.0) - 0.3) < 0.01  # 100 000 draws
    assert abs(mask.mean() - 1.0) < 0.02  # inverted dropout keeps the expectation
    expected = (np.random.default_rng(7).random((250, 400)) >= 0.3) / 0.7
    assert np.array_equal(mask, expected)
    assert draw(250)[1] is None


def test_training_uses_masks_from_the_seeded_generator(rng):
    X, y = rng.normal(size=(8, 3)), rng.uniform(size=8)
    net = dp.Network([dp.Dense(3, 4, "tanh", dropout=0.5), dp.Dense(4, 1)], random_state=0)
    replay = dp.Network([dp.Dense(3, 4, "tanh", dropout=0.5), dp.Dense(4, 1)], random_state=0)
    history = dp.train(net, X, y, optimizer=dp.SGD(0.5), max_iter=2, random_state=11)
    generator = np.random.default_rng(11)
    X_, y_, _, total, _ = replay._check_data(X, y, None)
    params = replay.parameters
    for expected_loss in history.loss:
        masks = [(generator.random((8, 4)) >= 0.5) / 0.5, None]
        loss, grads = replay.objective(params, X_, y_, None, total, xp=np, masks=masks)
        assert loss == expected_loss
        params = [p - 0.5 * g for p, g in zip(params, grads, strict=True)]
    for p, q in zip(net.parameters, params, strict=True):
        assert np.array_equal(p, q)


def test_bad_dropout():
    with pytest.raises(ValueError, match="dropout must be < 1"):
        dp.Dense(2, 2, dropout=1.0)
    with pytest.raises(ValueError, match="dropout must be >= 0"):
        dp.Dense(2, 2, dropout=-0.1)
    with pytest.raises(TypeError, match="dropout must be a number"):
        dp.Dense(2, 2, dropout="half")
    with pytest.raises(ValueError, match="output layer cannot have dropout"):
        dp.Network([dp.Dense(2, 2), dp.Dense(2, 1, dropout=0.5)])
    assert "dropout=0.5" in repr(dp.Dense(2, 2, dropout=0.5))
