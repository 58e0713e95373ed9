"""deltaprop.core.textbook, the one-file backprop for reading, equals the engine to 1e-12."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.core import textbook

SOURCE = Path(textbook.__file__)


def _close(actual, expected, rtol=1e-12):
    """Every entry within ``rtol`` of the array's largest value."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    scale = max(float(np.max(np.abs(expected))), 1e-300)
    assert float(np.max(np.abs(actual - expected))) <= rtol * scale


def _engine(weights, biases, alpha):
    layers = []
    for W, b in zip(weights, biases, strict=True):
        layer = dp.Dense(W.shape[0], W.shape[1], "sigmoid")
        layer.weights, layer.bias = W.copy(), b.copy()
        layers.append(layer)
    return dp.Network(layers, loss="binary_cross_entropy", alpha=alpha)


CASES = [  # sizes, seed, weighted, alpha
    ([2, 2, 1], 0, False, 0.0),
    ([2, 2, 1], 1, True, 0.0),
    ([3, 5, 2], 2, True, 0.3),
    ([4, 6, 3, 1], 3, False, 0.1),
    ([5, 4, 4, 3], 4, True, 0.0),
    ([1, 8, 1], 5, True, 1e-4),
]


@pytest.mark.parametrize(("sizes", "seed", "weighted", "alpha"), CASES)
def test_one_file_backprop_equals_the_engine(sizes, seed, weighted, alpha):
    rng = np.random.default_rng(seed)
    weights, biases = textbook.initial_weights(sizes, seed=seed)
    biases = [rng.normal(0.0, 0.5, b.shape) for b in biases]
    n = 7
    X = rng.normal(size=(n, sizes[0]))
    y = rng.uniform(size=(n, sizes[-1]))  # soft targets: any value in [0, 1]
    w = rng.uniform(0.2, 3.0, size=n) if weighted else None
    net = _engine(weights, biases, alpha)

    loss, grads = net.loss_and_gradients(X, y, sample_weight=w)
    _close(textbook.error(weights, biases, X, y, w, alpha), loss)
    d_weights, d_biases, deltas = textbook.backprop(weights, biases, X, y, w, alpha)
    trace = dp.explain(net, X, y, w)
    for l, (dW, db) in enumerate(grads):
        _close(d_weights[l], dW)
        _close(d_biases[l], db)
        _close(deltas[l], trace.layers[l].delta)
    zs, activations = textbook.feedforward(weights, biases, X)
    for l, lt in enumerate(trace.layers):
        _close(zs[l], lt.z)
        _close(activations[l + 1], lt.a)


def test_one_file_training_equals_deltaprop_train():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(6, 2))
    y = (X[:, :1] * X[:, 1:] > 0).astype(float)
    w = rng.uniform(0.5, 2.0, size=6)
    weights, biases = textbook.initial_weights([2, 3, 1], seed=7)
    net = _engine(weights, biases, 0.01)
    history = dp.train(net, X, y, sample_weight=w, optimizer=dp.SGD(0.5), max_iter=25)
    trained_w, trained_b, errors = textbook.train(
        weights, biases, X, y, w, learning_rate=0.5, max_iter=25, alpha=0.01
    )
    _close(errors, history.loss)
    for layer, W, b in zip(net.layers, trained_w, trained_b, strict=True):
        _close(W, layer.weights)
        _close(b, layer.bias)


def test_one_file_training_stops_at_the_minimum_error():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    weights, biases = textbook.initial_weights([2, 4, 1], seed=1)
    _, _, errors = textbook.train(
        weights, biases, X, y, [2.0, 1.0, 1.0, 1.0], learning_rate=2.0, max_iter=5000,
        min_error=0.05,
    )  # fmt: skip
    assert errors[-1] <= 0.05 < errors[-2]
    assert len(errors) < 5000


def test_one_file_imports_numpy_only():
    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported == {"numpy", "itertools"}
    assert len(SOURCE.read_text(encoding="utf-8").splitlines()) <= 130
