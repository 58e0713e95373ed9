"""The objective a network minimises: the weighted mean loss plus the L2 penalty.

::

    L = sum_i w_i l_i / sum_i w_i + (alpha / 2) sum_l ||W_l||^2 / sum_i w_i

The data term is a weighted *sum* of per-sample terms divided by the total weight, so its
gradient is the sum of the gradients of any partition of the rows, each divided by the
same global ``total_weight``. :func:`data_term` runs :func:`~deltaprop.core.backprop.
forward_pass` and :func:`~deltaprop.core.backprop.backward_pass` on one block of rows at a
time and adds the results up: memory is bounded by one block's activations whatever the
number of rows. Faster kernels (:mod:`deltaprop.kernels`) compute the same data term;
the penalty is added here and nowhere else (:func:`add_penalty`), whoever computed it.

``total_weight`` is a Python float, or a 0-D array on the data's device (the CUDA-graph
step keeps every number on the device); the arithmetic is the same either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from deltaprop.core.arrays import device
from deltaprop.core.backprop import backward_pass, forward_pass
from deltaprop.core.layers import Dense
from deltaprop.core.losses import Loss

__all__ = ["DataTerm", "add_penalty", "auto_block_size", "data_term", "objective", "penalty"]

#: Bytes of one block's widest activation: about one core's L2 cache.
BLOCK_BYTES = 1 << 20

#: ``data_term(layers, loss, params, X, y, sample_weight, total_weight, *, xp, block_size)
#: -> (loss, grads)``: the signature every implementation of the data term shares.
DataTerm = Callable[..., tuple[Any, list[Any]]]


def auto_block_size(layers: Sequence[Dense], itemsize: int, block_bytes: int = BLOCK_BYTES) -> int:
    """Rows per block so that the widest layer's block of activations is ``block_bytes``.

    Parameters
    ----------
    layers : list of Dense
    itemsize : int
        Bytes per number (4 for float32, 8 for float64).
    block_bytes : int, default 1 MiB (about one core's L2 cache)

    Returns
    -------
    int
        At least 256.

    Examples
    --------
    >>> from deltaprop import Dense
    >>> auto_block_size([Dense(64, 128), Dense(128, 1)], 4)
    2048
    """
    width = max(max(layer.n_in, layer.n_out) for layer in layers)
    return max(256, block_bytes // (width * itemsize))


def data_term(
    layers: Sequence[Dense],
    loss: Loss,
    params: Sequence[Any],
    X: Any,
    y: Any,
    sample_weight: Any | None,
    total_weight: Any,
    *,
    xp: Any,
    block_size: int | None = None,
    masks: Sequence[Any] | None = None,
) -> tuple[Any, list[Any]]:
    """``sum_i w_i l_i / total_weight`` and its gradients, summed over row blocks.

    Parameters
    ----------
    layers : list of Dense
    loss : Loss
    params : list of arrays
        ``[W_0, b_0, W_1, b_1, ...]`` in the namespace, dtype and device of ``X``.
    X : array of shape (n_samples, n_features)
    y : array of shape (n_samples, n_outputs)
    sample_weight : array of shape (n_samples,) or None
    total_weight : float or 0-D array
        The sum of the sample weights (or ``n_samples``) of the whole batch.
    xp : namespace
    block_size : int, optional
        Rows per block; default :func:`auto_block_size`.
    masks : list of arrays or None, optional
        Dropout masks of shape (n_samples, n_out) per layer (None: no dropout there).

    Returns
    -------
    loss : float64 0-D array
        Added up on the array's device: reading it per block would wait for the device
        every block.
    grads : list of arrays
        ``[dW_0, db_0, dW_1, db_1, ...]``, shapes and dtype of ``params``.

    Examples
    --------
    >>> import numpy as np
    >>> import deltaprop as dp
    >>> from deltaprop.core.backprop import backward_pass, forward_pass
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(1000, 3)), rng.uniform(size=(1000, 1))
    >>> net = dp.Network([dp.Dense(3, 5, "tanh"), dp.Dense(5, 1)], random_state=0)
    >>> params = net.parameters
    >>> loss, grads = data_term(net.layers, net.loss, params, X, y, None, 1000.0, xp=np,
    ...                         block_size=256)
    >>> zs, acts = forward_pass(net.layers, params, X, xp=np)
    >>> full = backward_pass(net.layers, net.loss, params, zs, acts, y, None, 1000.0, xp=np)
    >>> bool(np.isclose(float(loss), full.loss))
    True
    >>> all(np.allclose(g, h) for g, h in zip(grads, full.grads))
    True
    """
    n_samples = X.shape[0]
    if block_size is None:
        block_size = auto_block_size(layers, getattr(X.dtype, "itemsize", 8))
    total, grads = None, None
    for start in range(0, max(n_samples, 1), block_size):
        stop = min(start + block_size, n_samples)
        block_w = None if sample_weight is None else sample_weight[start:stop]
        block_masks = None
        if masks is not None:
            block_masks = [None if m is None else m[start:stop, ...] for m in masks]
        zs, activations = forward_pass(layers, params, X[start:stop, ...], xp=xp, masks=block_masks)
        result = backward_pass(
            layers,
            loss,
            params,
            zs,
            activations,
            y[start:stop, ...],
            block_w,
            total_weight,
            xp=xp,
            masks=block_masks,
        )
        part = xp.astype(xp.asarray(result.loss), xp.float64)
        total = part if total is None else total + part
        grads = (
            result.grads
            if grads is None
            else [g + h for g, h in zip(grads, result.grads, strict=True)]
        )
    assert total is not None and grads is not None  # the loop ran at least once
    return total, grads


def penalty(params: Sequence[Any], alpha: float, total_weight: Any, *, xp: Any):
    """The L2 term ``(alpha/2) sum ||W||^2 / total_weight`` and its gradients.

    Parameters
    ----------
    params : list of arrays
        ``[W_0, b_0, ...]``; biases are not penalised.
    alpha : float
    total_weight : float or 0-D array
    xp : namespace

    Returns
    -------
    value : float64 0-D array (0.0 when ``alpha == 0``)
    d_weights : list of arrays or None
        ``alpha W_l / total_weight`` per layer (None when ``alpha == 0``).
    """
    if alpha == 0.0:
        return 0.0, None
    weights = params[0::2]
    f64 = xp.float64
    if isinstance(total_weight, int | float):
        scale64 = scale = alpha / total_weight
    else:
        # not `alpha / array`: torch computes that as alpha * (1 / array)
        alpha64 = xp.full((), alpha, dtype=f64, device=device(total_weight))
        scale64 = alpha64 / xp.astype(total_weight, f64)
        scale = xp.astype(scale64, weights[0].dtype)
    # summed on the device, never read back: a CUDA graph captures this step whole
    squares: Any = None
    for w in weights:
        s = xp.astype(xp.sum(w * w), f64)
        squares = s if squares is None else squares + s
    return (0.5 * scale64) * squares, [scale * w for w in weights]


def add_penalty(
    loss: Any, grads: list[Any], params: Sequence[Any], alpha: float, total_weight: Any, *, xp: Any
) -> tuple[Any, list[Any]]:
    """``loss + penalty`` and ``grads`` with the penalty's gradient added to each ``dW``.

    The one place where the L2 penalty joins the data term, whichever kernel computed it.
    ``grads`` is not modified; the returned list holds new arrays where they changed.
    """
    value, d_weights = penalty(params, alpha, total_weight, xp=xp)
    if d_weights is None:
        return loss, grads
    grads = list(grads)
    for l, d_w in enumerate(d_weights):
        grads[2 * l] = grads[2 * l] + d_w
    return loss + value, grads


def objective(
    layers: Sequence[Dense],
    loss: Loss,
    params: Sequence[Any],
    X: Any,
    y: Any,
    sample_weight: Any | None,
    total_weight: Any,
    alpha: float,
    *,
    xp: Any,
    block_size: int | None = None,
    masks: Sequence[Any] | None = None,
    data: DataTerm = data_term,
) -> tuple[Any, list[Any]]:
    """The whole objective ``L`` and its gradients: ``data`` term plus :func:`penalty`.

    Parameters
    ----------
    layers, loss, params, X, y, sample_weight, total_weight, xp, block_size, masks
        As for :func:`data_term`.
    alpha : float
        L2 penalty strength.
    data : callable, default :func:`data_term`
        The data term's implementation (a kernel of :mod:`deltaprop.kernels` computes the
        same numbers faster); called with ``masks=`` only when masks are given.

    Returns
    -------
    loss : float64 0-D array or float
    grads : list of arrays
    """
    if masks is None:
        value, grads = data(
            layers, loss, params, X, y, sample_weight, total_weight, xp=xp, block_size=block_size
        )
    else:
        value, grads = data(
            layers,
            loss,
            params,
            X,
            y,
            sample_weight,
            total_weight,
            xp=xp,
            block_size=block_size,
            masks=masks,
        )
    return add_penalty(value, grads, params, alpha, total_weight, xp=xp)
