"""The fused NumPy kernel of the data term: the same numbers as the textbook, fewer passes.

:func:`deltaprop.core.objective.data_term` runs the textbook forward and backward pass on
one block of rows at a time. For NumPy arrays this kernel computes the same numbers (equal
within rounding) with fewer passes over memory: products written into reused buffers,
activations' derivatives taken from the activations in place where an activation can
(those that implement :class:`~deltaprop.core.activations.FromOutput`: ``a (1 - a)`` for
the sigmoid, ``1 - a^2`` for tanh, ``a > 0`` for the ReLU), the output
delta fused with the sample weights, and an ``n x 1 @ 1 x m`` product (one output unit)
replaced by a broadcast multiplication. Blocks keep each block's activations in the CPU
cache between the forward pass, the element-wise work and the backward pass, which is
where the time goes once the matrix products run at the BLAS peak; they run in two lanes
on two threads when ``threadpoolctl`` can make each thread's BLAS single-threaded.

The kernel chooses its fast paths by what an activation can do (the capability classes
of :mod:`deltaprop.core.activations`), never by its name; any other activation goes
through its own ``forward`` and ``backward``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deltaprop.core.activations import Activation, FromOutput, NegatedForward
from deltaprop.core.arrays import is_numpy
from deltaprop.core.layers import Dense
from deltaprop.core.losses import Loss
from deltaprop.core.objective import auto_block_size
from deltaprop.kernels._threads import run_pieces

__all__ = ["numpy_data_term", "supports"]


def supports(X: Any, *, xp: Any) -> bool:
    """Whether the kernel can compute the data term for ``X``: NumPy arrays, any layers."""
    return is_numpy(xp) and isinstance(X, np.ndarray)


def numpy_data_term(
    layers: Sequence[Dense],
    loss: Loss,
    params: Sequence[Any],
    X: Any,
    y: Any,
    sample_weight: Any | None,
    total_weight: float,
    *,
    xp: Any,
    block_size: int | None = None,
) -> tuple[float, list[Any]]:
    """:func:`deltaprop.core.objective.data_term` for NumPy arrays, by the fused kernel.

    Equal (within float rounding) to ``backward_pass`` on the whole batch, without the
    L2 penalty (:func:`deltaprop.core.objective.objective` adds it).

    Parameters
    ----------
    layers, loss, params, X, y, sample_weight, total_weight, xp, block_size
        As for :func:`deltaprop.core.objective.data_term`; ``X`` a NumPy array.

    Returns
    -------
    loss : float
        ``sum_i w_i l_i / total_weight``.
    grads : list of arrays
        ``[dW_0, db_0, dW_1, db_1, ...]``, shapes and dtype of ``params``.

    Examples
    --------
    >>> import numpy as np
    >>> import deltaprop as dp
    >>> from deltaprop.core.objective import data_term
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(1000, 3)), rng.uniform(size=(1000, 1))
    >>> net = dp.Network([dp.Dense(3, 5, "tanh"), dp.Dense(5, 1)], random_state=0)
    >>> loss, grads = numpy_data_term(net.layers, net.loss, net.parameters, X, y, None, 1000.0,
    ...                               xp=np, block_size=256)
    >>> textbook_loss, textbook_grads = data_term(net.layers, net.loss, net.parameters, X, y,
    ...                                           None, 1000.0, xp=np)
    >>> bool(np.isclose(loss, float(textbook_loss)))
    True
    >>> all(np.allclose(g, h) for g, h in zip(grads, textbook_grads))
    True
    """
    if block_size is None:
        block_size = auto_block_size(layers, X.dtype.itemsize)
    return _numpy_blocks(layers, loss, params, X, y, sample_weight, total_weight, block_size)


def _numpy_blocks(layers, loss, params, X, y, sample_weight, total_weight, block_size):
    """The NumPy kernel over the blocks, in two lanes that run on two threads if they can.

    Block ``k`` belongs to lane ``k % 2``; each lane sums its blocks in order and the
    lanes are added last, so the result does not depend on whether the lanes ran
    one after the other or at the same time.
    """
    n_samples = X.shape[0]
    n_blocks = -(-n_samples // block_size)
    if n_blocks > 1:  # blocks of equal size, as many for each lane: the lanes end together
        n_blocks += -n_blocks % _N_LANES
        block_size = -(-n_samples // n_blocks)
    starts = list(range(0, n_samples, block_size))
    n_lanes = min(_N_LANES, len(starts))

    def lane(lane_starts):
        kernel = _NumpyKernel(
            layers, loss, params, min(block_size, n_samples), X.dtype, len(lane_starts)
        )
        data_loss, grads = 0.0, [None] * len(params)
        for start in lane_starts:
            stop = min(start + block_size, n_samples)
            w = None if sample_weight is None else sample_weight[start:stop]
            data_loss += kernel.add_block(X[start:stop], y[start:stop], w, total_weight, grads)
        return data_loss, grads

    if n_lanes == 1:
        return lane(starts)
    results = _run_lanes(lane, [starts[k::n_lanes] for k in range(n_lanes)])
    data_loss, grads = results[0]
    for other_loss, other_grads in results[1:]:
        data_loss += other_loss
        for g, h in zip(grads, other_grads, strict=True):
            g += h
    return data_loss, grads


_N_LANES = 2


def _run_lanes(function, lanes):
    # Each thread then calls a single-threaded BLAS, so that the element-wise work of
    # one block runs while the other thread multiplies matrices.
    return run_pieces(function, lanes)


class _NumpyKernel:
    """Forward and backward pass of one block of rows in reused NumPy buffers.

    Two rewrites of the textbook formulas save passes over the block (both exact in
    real arithmetic):

    - A hidden layer whose activation is cheaper on ``-z`` (a
      :class:`~deltaprop.core.activations.NegatedForward`, e.g. the sigmoid's
      ``1 / (1 + exp(t))``) multiplies by ``-W`` and adds ``-b``: no negation pass.
    - Below a layer with one unit, ``delta_{l-1} = f'(z_{l-1}) * delta_l w^T`` (an outer
      product) is kept as ``m = f'(z_{l-1}) * delta_l`` and the column factor ``w``: it
      scales the small results (``a^T m``, the bias sums, the weights of the next
      product) instead of a whole block.
    """

    def __init__(self, layers, loss, params, max_rows, dtype, n_blocks):
        self.layers, self.loss, self.params, self.dtype = layers, loss, params, dtype
        n_layers = len(layers)
        # Hidden layers whose f' needs only a: a is written over z, and z is not kept.
        self.in_place = [
            l < n_layers - 1 and isinstance(layer.activation, FromOutput)
            for l, layer in enumerate(layers)
        ]
        self.negated = [
            in_place and isinstance(layer.activation, NegatedForward)
            for in_place, layer in zip(self.in_place, layers, strict=True)
        ]
        # Forward weights and biases; a bias repeated over the block's rows makes the
        # addition a plain one (broadcasting a row costs twice as much), worth it only
        # when the block is used again.
        self.forward_params = []
        for l in range(n_layers):
            weights, bias = params[2 * l], params[2 * l + 1]
            if self.negated[l]:
                weights, bias = -weights, -bias
            if n_blocks > 1:
                bias = np.repeat(bias[None, :], max_rows, axis=0)
            self.forward_params.append((weights, bias))
        self.a_buffers = [np.empty((max_rows, layer.n_out), dtype) for layer in layers]
        self.d_buffers = [np.empty((max_rows, layer.n_in), dtype) for layer in layers[1:]]
        self.ones = np.ones(max_rows, dtype)

    def add_block(self, X, y, sample_weight, total_weight, grads):
        """Add one block's gradient sums to ``grads`` (None entries: set); return its loss."""
        layers, rows = self.layers, X.shape[0]
        n_layers = len(layers)
        zs: list[Any] = [None] * n_layers
        activations = [X]
        with np.errstate(over="ignore"):  # exp(t) -> inf gives the sigmoid's exact limit 0
            for l, layer in enumerate(layers):
                weights, bias = self.forward_params[l]
                z = np.matmul(activations[-1], weights, out=self.a_buffers[l][:rows])
                z += bias if bias.ndim == 1 else bias[:rows]
                activation = layer.activation
                if self.negated[l]:  # z holds -z: see the class docstring
                    a = activation.forward_of_negative_in_place(z)
                elif self.in_place[l]:
                    a = activation.forward_in_place(z)
                else:
                    zs[l] = z
                    a = _activate_copy(activation, z)
                activations.append(a)

        # The canonical shortcut and the general chain rule, as the textbook pass takes them.
        output = layers[-1].activation
        losses, delta, _ = self.loss.output(y, zs[-1], activations[-1], output, xp=np)
        if sample_weight is None:
            scale = 1.0 / total_weight
            block_loss = float(np.sum(losses)) * scale
            delta *= scale
        else:
            scale = sample_weight / total_weight
            block_loss = float(np.dot(losses, scale))
            delta *= scale[:, None]

        column_scale = None  # the true delta is delta * column_scale
        for l in range(n_layers - 1, -1, -1):
            a_prev = activations[l]
            if delta.shape[1] == 1:
                # one column: matrix-vector products and a plain sum
                d_weights = (delta[:, 0] @ a_prev)[:, None]
                d_bias = np.sum(delta, axis=0)
            else:
                d_weights = a_prev.T @ delta
                d_bias = self.ones[:rows] @ delta  # a matrix-vector product beats sum(axis=0)
            weights = self.params[2 * l]
            if column_scale is not None:
                d_weights *= column_scale
                d_bias *= column_scale
                weights = weights * column_scale
            _accumulate(grads, 2 * l, d_weights)
            _accumulate(grads, 2 * l + 1, d_bias)
            if l == 0:
                break
            below = layers[l - 1].activation
            buffer = self.d_buffers[l - 1][:rows]
            if delta.shape[1] == 1 and isinstance(below, FromOutput):
                delta = below.derivative_from_output_times(a_prev, delta, out=buffer)
                column_scale = weights[:, 0]
                continue
            if delta.shape[1] == 1:
                # delta @ weights.T is an outer product: broadcasting beats a skinny GEMM
                np.multiply(delta, weights[:, 0], out=buffer)
            else:
                np.matmul(delta, weights.T, out=buffer)
            delta = _chain(below, zs[l - 1], a_prev, buffer)
            column_scale = None
        return block_loss


def _accumulate(grads, i, value):
    if grads[i] is None:
        grads[i] = value
    else:
        grads[i] += value


def _activate_copy(activation: Activation, z):
    """``f(z)`` in a new array (``z`` is kept for the backward pass or the loss)."""
    if isinstance(activation, NegatedForward):
        return activation.forward_of_negative_in_place(np.negative(z))
    return activation.forward(z, xp=np)


def _chain(activation: Activation, z, a, d_a):
    """``delta = d_a * f'(z)``, written over ``d_a`` (and ``a``, which is no longer needed)."""
    if isinstance(activation, FromOutput):
        return activation.backward_from_output(a, d_a)
    return activation.backward(z, a, d_a, xp=np)
