"""Backpropagation in one file: the textbook's network in plain NumPy, for reading.

A linear input layer hands the inputs on; sigmoid layers follow, the last one the output.
The error of a batch is the sample-weighted cross-entropy

    L = sum_i w_i l_i / sum_i w_i + (alpha / 2) sum_l ||W[l]||^2 / sum_i w_i,
    l_i = -sum_k [y_ik log a_ik + (1 - y_ik) log(1 - a_ik)].

Rows are samples: z[l] = a[l-1] @ W[l] + b[l] with W[l] of shape (n_in, n_out), the
transpose of the textbook's W in z = W a + b. delta[l] = dL/dz[l], so row i of delta
carries the factor w_i / sum(w). For a sigmoid output and cross-entropy,
dl/da * f'(z) = (a - y) / (a (1 - a)) * a (1 - a) = a - y. This file imports NumPy only;
tests/test_textbook.py proves its numbers equal to deltaprop's engine.
"""

from itertools import pairwise

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def initial_weights(sizes, seed=0):
    """Weights and biases for layer sizes such as [2, 3, 1] (inputs, hidden..., outputs)."""
    rng = np.random.default_rng(seed)
    weights = [
        rng.normal(0.0, 1.0 / np.sqrt(n_in), (n_in, n_out)) for n_in, n_out in pairwise(sizes)
    ]
    biases = [np.zeros(n_out) for n_out in sizes[1:]]
    return weights, biases


def feedforward(weights, biases, X):
    """The forward pass: every layer's pre-activations zs and activations (a[0] = X)."""
    activations, zs = [X], []
    for W, b in zip(weights, biases, strict=True):
        z = activations[-1] @ W + b
        zs.append(z)
        activations.append(sigmoid(z))
    return zs, activations


def error(weights, biases, X, y, sample_weight=None, alpha=0.0):
    """The weighted mean cross-entropy L of the batch, plus the L2 penalty."""
    w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, float)
    a = feedforward(weights, biases, X)[1][-1]
    losses = -np.sum(y * np.log(a) + (1.0 - y) * np.log(1.0 - a), axis=1)
    penalty = 0.5 * alpha * sum(np.sum(W * W) for W in weights)
    return (np.sum(w * losses) + penalty) / np.sum(w)


def backprop(weights, biases, X, y, sample_weight=None, alpha=0.0):
    """The gradients of error(): (d_weights, d_biases, deltas), one entry per layer."""
    w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, float)
    share = (w / np.sum(w))[:, None]  # each row's share of the weighted mean
    _, activations = feedforward(weights, biases, X)
    # Output delta: dl/da * f'(z) = a - y for a sigmoid with cross-entropy.
    delta = share * (activations[-1] - y)
    deltas = [delta]
    for l in range(len(weights) - 1, 0, -1):
        # Hidden delta by the chain rule: send delta back through W, times f'(z) = a (1 - a).
        a = activations[l]
        delta = (delta @ weights[l].T) * a * (1.0 - a)
        deltas.insert(0, delta)
    d_weights = [
        a_prev.T @ d + alpha * W / np.sum(w)
        for a_prev, d, W in zip(activations[:-1], deltas, weights, strict=True)
    ]
    d_biases = [np.sum(d, axis=0) for d in deltas]
    return d_weights, d_biases, deltas


def train(
    weights,
    biases,
    X,
    y,
    sample_weight=None,
    learning_rate=0.5,
    max_iter=1000,
    min_error=0.0,
    alpha=0.0,
):
    """Gradient descent until max_iter steps or an error at or below min_error.

    Returns the trained (weights, biases) and the error before each step.
    """
    weights, biases = [W.copy() for W in weights], [b.copy() for b in biases]
    errors = []
    for _ in range(max_iter):
        errors.append(error(weights, biases, X, y, sample_weight, alpha))
        if errors[-1] <= min_error:
            break
        d_weights, d_biases, _ = backprop(weights, biases, X, y, sample_weight, alpha)
        weights = [W - learning_rate * dW for W, dW in zip(weights, d_weights, strict=True)]
        biases = [b - learning_rate * db for b, db in zip(biases, d_biases, strict=True)]
    return weights, biases, errors


if __name__ == "__main__":
    # XOR, the first row counted twice.
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    weights, biases = initial_weights([2, 4, 1], seed=1)
    weights, biases, errors = train(
        weights,
        biases,
        X,
        y,
        [2.0, 1.0, 1.0, 1.0],
        learning_rate=2.0,
        max_iter=5000,
        min_error=0.05,
    )
    print(f"{len(errors)} steps, error {errors[-1]:.4f}")
    print(np.round(feedforward(weights, biases, X)[1][-1].ravel(), 3))
