"""Chosen rows of one step on a batch: their ``z``, ``a``, ``f'(z)`` and ``delta``.

:func:`row_view` is what a picture of one row needs (the live page colours the units by
it): the same numbers as the rows of a :class:`deltaprop.explain.Trace` of the whole
batch, at the cost of those rows only. A row's delta does not depend on the other rows,
except through ``sum(w)``: ``delta[l][r] = dL/dz[l][r]`` of the batch's weighted mean
loss ``L = sum_i w_i l_i / sum_i w_i`` carries the factor ``w_r / sum(w)``. So the chosen
rows go through :func:`~deltaprop.core.backprop.forward_pass` and
:func:`~deltaprop.core.backprop.backward_pass` with the whole batch's ``sum(w)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from deltaprop.core.arrays import device, to_numpy
from deltaprop.core.backprop import backward_pass, forward_pass
from deltaprop.core.network import Network

__all__ = ["RowView", "row_view"]


@dataclass
class RowView:
    """The forward and backward numbers of chosen rows of a batch (NumPy arrays).

    Attributes
    ----------
    rows : ndarray of int, shape (n_rows,)
        0-based positions in the batch (the text of ``explain`` numbers rows from 1).
    sample_weight : ndarray of shape (n_rows,)
        ``w_r`` (all 1 without sample weights).
    total_weight : float
        ``sum_i w_i`` over the whole batch.
    share : ndarray of shape (n_rows,)
        ``w_r / sum(w)``: the factor each row's delta carries.
    losses : ndarray of shape (n_rows,)
        The rows' own losses ``l_r``.
    zs, activations : list of ndarray
        ``zs[l]`` of shape (n_rows, n_out) for ``network.layers[l]``; ``activations[0]``
        is ``X[rows]`` and ``activations[l + 1]`` the output of ``network.layers[l]``.
    f_primes : list of (ndarray or None)
        ``f'(z)`` per layer; None for a softmax (its Jacobian is not diagonal).
    deltas : list of ndarray
        ``deltas[l] = dL/dz`` of ``network.layers[l]`` for these rows: equal to the
        rows ``rows`` of ``explain(network, X, y, sample_weight).layers[l].delta``.
    """

    rows: np.ndarray
    sample_weight: np.ndarray
    total_weight: float
    share: np.ndarray
    losses: np.ndarray
    zs: list[np.ndarray]
    activations: list[np.ndarray]
    f_primes: list[np.ndarray | None]
    deltas: list[np.ndarray]


def row_view(network: Network, X: Any, y: Any, sample_weight: Any = None, *, rows: Any) -> RowView:
    """The ``z``, ``a``, ``f'(z)`` and ``delta`` of rows ``rows`` of a step on ``(X, y)``.

    Parameters
    ----------
    network : Network
    X : array of shape (n_samples, n_inputs)
        The whole batch the step uses (its sample weights set ``sum(w)``).
    y : array of shape (n_samples, n_outputs), or (n_samples,) for one output
    sample_weight : array of shape (n_samples,), optional
    rows : int or sequence of int
        0-based positions of the rows to follow.

    Returns
    -------
    RowView

    Raises
    ------
    ValueError, TypeError
        For bad data (as :meth:`Network.loss_and_gradients`) or a row out of range.

    Examples
    --------
    >>> import numpy as np
    >>> import deltaprop as dp
    >>> from deltaprop.explain import row_view, tutorial_example
    >>> net, X, y, w, _ = tutorial_example()
    >>> view = row_view(net, X, y, w, rows=[0])
    >>> trace = dp.explain(net, X, y, w)
    >>> bool(np.allclose(view.deltas[1][0], trace.layers[1].delta[0], rtol=1e-14))
    True
    >>> view.share.tolist()
    [0.5]
    """
    if not isinstance(network, Network):
        raise TypeError(f"network must be a Network, got {type(network).__name__}")
    X, y, w, total_weight, xp = network._check_data(X, y, sample_weight)
    n_samples = X.shape[0]
    picked = np.atleast_1d(np.asarray(rows))
    if picked.dtype.kind not in "iu" or picked.ndim != 1:
        raise TypeError(f"rows must be an int or a sequence of ints, got {rows!r}")
    if picked.size == 0 or picked.min() < 0 or picked.max() >= n_samples:
        raise ValueError(f"rows must be in [0, {n_samples - 1}], got {picked.tolist()}")
    index = xp.asarray(picked.astype(np.int64), device=device(X))
    X_rows, y_rows = xp.take(X, index, axis=0), xp.take(y, index, axis=0)
    w_rows = None if w is None else xp.take(w, index, axis=0)
    params = network._parameters_as(xp, X.dtype, device(X))
    zs, activations = forward_pass(network.layers, params, X_rows, xp=xp)
    result = backward_pass(
        network.layers, network.loss, params, zs, activations, y_rows, w_rows, total_weight, xp=xp
    )
    f_primes = [
        host(layer.activation.derivative(z, a, xp=xp)) if layer.activation.elementwise else None
        for layer, z, a in zip(network.layers, zs, activations[1:], strict=True)
    ]
    weights = np.ones(picked.size) if w_rows is None else host(w_rows).astype(np.float64)
    return RowView(
        rows=picked,
        sample_weight=weights,
        total_weight=float(total_weight),
        share=weights / float(total_weight),
        losses=host(result.losses),
        zs=[host(z) for z in zs],
        activations=[host(a) for a in activations],
        f_primes=f_primes,
        deltas=[host(d) for d in result.deltas],
    )


def host(x: Any) -> np.ndarray:
    """A NumPy copy of an array of any array library."""
    return np.array(to_numpy(x), copy=True)
