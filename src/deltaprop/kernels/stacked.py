"""Mini-batch steps of a stack of networks of one shape (:mod:`deltaprop.training.members`).

The stack's parameters carry a leading axis, one entry per network; so do its batches
(k, batch_size, n_features). The core's forward and backward pass run on the stack as
they are (:mod:`deltaprop.core.layers`: one matrix product per network in each
``matmul``). Here the stack is cut in two halves that run on two threads, each with a
single-threaded BLAS (:func:`deltaprop.kernels.blocked`'s lanes do the same for row
blocks): the matrices of a tabular network are small, so BLAS's own threads gain little
and a second core multiplying another half does. A step smaller than
:data:`MIN_WORK_TO_SPLIT` runs whole on one thread (still with a single-threaded BLAS):
handing half of it to a second thread costs more than it saves. Every network's numbers
are those of the whole stack computed at once, whichever half it falls in and on one
core or two.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deltaprop.core.backprop import backward_pass, forward_pass
from deltaprop.core.layers import Dense
from deltaprop.core.losses import Loss
from deltaprop.kernels._threads import run_pieces

__all__ = ["MIN_WORK_TO_SPLIT", "stacked_batch", "stacked_forward"]

#: The multiply-adds of a forward pass over the stack (rows of one network times the
#: stack's weights) from which its halves run on two threads. Measured on 2 cores with
#: 5 networks of 128 x 3 hidden units: a step of 5.6e6 runs 30% faster whole, one of
#: 1.1e7 as fast either way, one of 5e7 30% faster in halves.
MIN_WORK_TO_SPLIT = 2**24


def stacked_batch(
    layers: Sequence[Dense],
    loss: Loss,
    params: Sequence[np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    rows: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """One mini-batch of every network: ``(losses, batch_weights, grads)``.

    Parameters
    ----------
    layers : sequence of Dense
        The shape every network shares.
    loss : Loss
    params : list of arrays
        ``[W_0, b_0, ...]`` stacked: ``W_l`` of shape (k, n_in, n_out), ``b_l`` (k, n_out).
    X : array of shape (n_samples, n_features)
    y : array of shape (n_samples, n_outputs)
    w : array of shape (n_samples,) or None
        Sample weights.
    rows : int array of shape (k, batch_size)
        Network ``i``'s batch is rows ``rows[i]`` of ``X``, ``y`` and ``w``.

    Returns
    -------
    losses : array of shape (k,)
        Each batch's weighted mean loss (float64).
    batch_weights : array of shape (k,)
        What each mean divides by: the batch's rows, or its sum of weights.
    grads : list of arrays
        The gradients of those means, stacked like ``params``.
    """
    losses, weights, *grads = _on_halves(
        lambda part: _batch(layers, loss, [p[part] for p in params], X, y, w, rows[part]),
        rows.shape[0],
        rows.shape[1] * _stacked_weights(params),
    )
    return losses, weights, grads


def stacked_forward(
    layers: Sequence[Dense], params: Sequence[np.ndarray], X: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The output layer's ``(z, a)`` of every network on its own rows.

    Parameters
    ----------
    X : array of shape (k, n_samples, n_features)
        Network ``i``'s rows are ``X[i]``.

    Returns
    -------
    z, a : arrays of shape (k, n_samples, n_outputs)
    """

    def forward(part: slice) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(over="ignore", invalid="ignore"):  # see _batch
            zs, activations = forward_pass(layers, [p[part] for p in params], X[part], xp=np)
        return zs[-1], activations[-1]

    z, a = _on_halves(forward, X.shape[0], X.shape[1] * _stacked_weights(params))
    return z, a


def _stacked_weights(params: Sequence[np.ndarray]) -> int:
    """The weights of every network of the stack (``params`` alternate weights, biases)."""
    return sum(int(W.size) for W in params[0::2])


def _on_halves(function: Callable[[slice], tuple], k: int, work: int) -> tuple:
    """``function(part)`` on each half of a stack of ``k`` (two threads), joined.

    ``function`` returns a tuple of arrays with the stack's axis first; the halves'
    arrays are concatenated along it. Below :data:`MIN_WORK_TO_SPLIT` multiply-adds
    (``work``) the stack runs whole, on this thread.
    """
    if work < MIN_WORK_TO_SPLIT:
        return run_pieces(function, [slice(0, k)], concurrent=False)[0]
    half = (k + 1) // 2
    pieces = [slice(0, k)] if k < 2 else [slice(0, half), slice(half, k)]
    results = run_pieces(function, pieces)
    if len(results) == 1:
        return results[0]
    return tuple(np.concatenate(parts) for parts in zip(*results, strict=True))


def _batch(layers, loss, params, X, y, w, rows):
    """:func:`stacked_batch` on one thread, flat: ``(losses, batch_weights, *grads)``."""
    X_b, y_b = X[rows], y[rows]
    # Overflow gives inf or NaN losses, which the caller's divergence watch reports;
    # errstate is per thread, hence set here.
    with np.errstate(over="ignore", invalid="ignore"):
        zs, activations = forward_pass(layers, params, X_b, xp=np)
        if w is None:
            w_b = None
            weights = np.full(rows.shape[0], float(rows.shape[1]))
            total: Any = float(rows.shape[1])
        else:
            w_b = w[rows]
            # in the dtype of the weights, as train() sums a batch's weights
            total = np.sum(w_b, axis=1, keepdims=True)
            weights = total[:, 0].astype(np.float64)
        result = backward_pass(layers, loss, params, zs, activations, y_b, w_b, total, xp=np)
        if w_b is None:
            losses = np.sum(result.losses, axis=1).astype(np.float64) * (1.0 / total)
        else:
            losses = np.sum(result.losses * (w_b / total), axis=1, dtype=np.float64)
    return (losses, weights, *result.grads)
