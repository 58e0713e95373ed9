"""The backpropagation algorithm: one forward sweep, one backward sweep.

The input layer is linear: it hands ``X`` on unchanged, so ``activations[0] = X``.
Each following layer ``l`` computes ``z_l = a_{l-1} @ W_l + b_l`` and ``a_l = f_l(z_l)``.

Backpropagation computes every gradient in one backward sweep. The output layer's error
term ``delta_L = dL/dz_L`` comes from the loss (``w_i (a_i - y_i) / sum(w)`` for a
canonical pair, see :mod:`deltaprop.core.losses`); each layer below gets its delta from the
one above by the chain rule, ``delta_l = (delta_{l+1} @ W_{l+1}.T) * f_l'(z_l)``; and each
weight's gradient is the activation feeding it times the delta it feeds:
``dW_l = a_{l-1}.T @ delta_l``, ``db_l = sum_i delta_l``.

:func:`forward_pass` and :func:`backward_pass` are the whole algorithm. They take the
parameters as arguments and divide by a ``total_weight`` supplied by the caller, so the
same functions serve a full batch, a mini-batch, a block of rows whose gradients are
summed later (the blocks' results add up to the full gradient) and the explain mode.
Both take optional dropout ``masks`` (one per layer, None where a layer has no dropout):
the forward pass multiplies each layer's output by its mask, and the backward pass
multiplies ``dL/da`` by the same mask before the activation's derivative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from deltaprop.core.layers import Dense
from deltaprop.core.losses import Loss

__all__ = ["BackwardResult", "backward_pass", "forward_pass", "pairs"]


def pairs(params: Sequence[Any]) -> list[tuple[Any, Any]]:
    return [(params[i], params[i + 1]) for i in range(0, len(params), 2)]


def forward_pass(
    layers: Sequence[Dense],
    params: Sequence[Any],
    X: Any,
    *,
    xp: Any,
    masks: Sequence[Any] | None = None,
) -> tuple[list[Any], list[Any]]:
    """Run the network forward, keeping what the backward pass needs.

    Parameters
    ----------
    layers : list of Dense
    params : list of arrays
        ``[W_0, b_0, W_1, b_1, ...]``.
    X : array, shape (n_samples, n_features)
    masks : list of arrays or None, optional
        Dropout masks: ``masks[l]`` of shape (n_samples, layers[l].n_out) multiplies
        layer ``l``'s output, or is None. No dropout when ``masks`` is None.

    Returns
    -------
    zs : list of arrays
        ``zs[l]`` is layer ``l``'s pre-activation, shape (n_samples, layers[l].n_out).
    activations : list of arrays
        ``activations[0]`` is ``X``; ``activations[l + 1]`` is layer ``l``'s output
        (after its dropout mask, when there is one).
    """
    zs, activations = [], [X]
    for l, (layer, (weights, bias)) in enumerate(zip(layers, pairs(params), strict=True)):
        z, a = layer.forward(activations[-1], weights, bias, xp=xp)
        if masks is not None and masks[l] is not None:
            a = a * masks[l]
        zs.append(z)
        activations.append(a)
    return zs, activations


@dataclass
class BackwardResult:
    """What one backward sweep produced (all sums already divided by ``total_weight``).

    Attributes
    ----------
    losses : array, shape (n_samples,)
        Per-sample losses ``l_i`` (unweighted).
    loss : array (0-D)
        ``sum_i w_i l_i / total_weight`` (no penalty).
    deltas : list of arrays
        ``deltas[l] = dL/dz_l`` of shape (n_samples, layers[l].n_out).
    grads : list of arrays
        ``[dW_0, db_0, dW_1, db_1, ...]`` of the data term (no penalty).
    canonical : bool
        Whether the output delta used the canonical shortcut ``a - y``.
    """

    losses: Any
    loss: Any
    deltas: list[Any]
    grads: list[Any]
    canonical: bool


def backward_pass(
    layers: Sequence[Dense],
    loss: Loss,
    params: Sequence[Any],
    zs: Sequence[Any],
    activations: Sequence[Any],
    y: Any,
    sample_weight: Any | None,
    total_weight: float,
    *,
    xp: Any,
    masks: Sequence[Any] | None = None,
) -> BackwardResult:
    """Backpropagate the error of one forward pass.

    ``delta`` always means ``dL/dz`` of a layer. The loss is the weighted sum of
    per-sample losses divided by ``total_weight`` (the sum of all sample weights, or
    the number of samples when unweighted); pass the *global* total when the rows are
    one block of a larger batch, and the blocks' results add up to the full gradient.

    Parameters
    ----------
    y : array, shape (n_samples, n_outputs)
    sample_weight : array of shape (n_samples,) or None
    total_weight : float
    masks : list of arrays or None, optional
        The dropout masks the forward pass used (the output layer's must be None).
    """
    losses, delta, canonical = loss.output(y, zs[-1], activations[-1], layers[-1].activation, xp=xp)
    if sample_weight is None:
        scale = 1.0 / total_weight
        data_loss = xp.sum(losses) * scale
        delta = delta * scale
    else:
        scale = sample_weight / total_weight
        data_loss = xp.sum(losses * scale)
        delta = delta * scale[..., None]

    n_layers = len(layers)
    deltas: list[Any] = [None] * n_layers
    grads: list[Any] = [None] * (2 * n_layers)
    for l in range(n_layers - 1, -1, -1):
        deltas[l] = delta
        d_weights, d_bias, d_a_prev = layers[l].backward(
            activations[l], delta, params[2 * l], xp=xp, need_d_a_prev=l > 0
        )
        grads[2 * l], grads[2 * l + 1] = d_weights, d_bias
        if l > 0:
            a_below = activations[l]
            if masks is not None and masks[l - 1] is not None:
                # activations[l] is f(z) * mask: dL/df(z) = dL/da * mask, and the
                # derivative needs f(z) itself, recomputed rather than divided out.
                d_a_prev = d_a_prev * masks[l - 1]
                a_below = layers[l - 1].activation.forward(zs[l - 1], xp=xp)
            # chain rule: dL/dz_{l-1} = (delta_l @ W_l.T) * f'_{l-1}(z_{l-1})
            delta = layers[l - 1].activation.backward(zs[l - 1], a_below, d_a_prev, xp=xp)
    return BackwardResult(losses, data_loss, deltas, grads, canonical)
