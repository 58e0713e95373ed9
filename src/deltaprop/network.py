"""The network and the backpropagation loop.

The input layer is linear: it hands ``X`` on unchanged, so ``activations[0] = X``.
Each following layer ``l`` computes ``z_l = a_{l-1} @ W_l + b_l`` and ``a_l = f_l(z_l)``.

The objective is the sample-weighted mean loss plus an L2 penalty on the weights::

    L = sum_i w_i l_i / sum_i w_i + (alpha / 2) sum_l ||W_l||^2 / sum_i w_i

Backpropagation computes every gradient in one backward sweep. The output layer's error
term ``delta_L = dL/dz_L`` comes from the loss (``w_i (a_i - y_i) / sum(w)`` for a
canonical pair, see :mod:`deltaprop.losses`); each layer below gets its delta from the
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

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ._validation import check_number, check_sample_weight, check_targets, check_X
from ._xp import array_namespace, device, from_numpy, is_numpy, quiet_float_errors, to_numpy
from .initializers import initial_parameters, make_rng
from .layers import Dense
from .losses import Loss, get_loss

__all__ = ["BackwardResult", "Network", "backward_pass", "forward_pass", "penalty"]


def _pairs(params: Sequence[Any]) -> list[tuple[Any, Any]]:
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
    for l, (layer, (weights, bias)) in enumerate(zip(layers, _pairs(params), strict=True)):
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
        delta = delta * scale[:, None]

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


def penalty(params: Sequence[Any], alpha: float, total_weight: float, *, xp: Any):
    """The L2 term ``(alpha/2) sum ||W||^2 / total_weight`` and its gradients.

    Returns
    -------
    value : float
    d_weights : list of arrays or None
        ``alpha W_l / total_weight`` per layer (None when ``alpha == 0``).
    """
    if alpha == 0.0:
        return 0.0, None
    scale = alpha / total_weight
    weights = params[0::2]
    value = 0.5 * scale * sum(float(xp.sum(w * w)) for w in weights)
    return value, [scale * w for w in weights]


def _overflow_message(what: str, dtype: Any) -> str:
    return (
        f"{what} overflowed to inf or NaN in {dtype}: the inputs or weights are too large "
        "for this dtype (standardise X, use float64, or lower the learning rate)"
    )


class Network:
    """A feed-forward network trained by backpropagation.

    Parameters
    ----------
    layers : sequence of Dense
        Consecutive layers; ``layers[i].n_out`` must equal ``layers[i + 1].n_in``.
        The input layer is implicit and linear.
    loss : str or Loss, default "binary_cross_entropy"
        ``binary_cross_entropy``, ``cross_entropy``, ``squared_error`` or ``poisson``.
    alpha : float, default 0.0
        L2 penalty strength (biases are not penalised).
    random_state : int, numpy Generator or None
        Seeds the initial weights of layers that have none yet.

    Examples
    --------
    The seed network: input -> sigmoid hidden layer -> sigmoid output.

    >>> import numpy as np
    >>> import deltaprop as dp
    >>> net = dp.Network([dp.Dense(2, 3), dp.Dense(3, 1)], random_state=0)
    >>> net.forward(np.zeros((4, 2))).shape
    (4, 1)
    """

    def __init__(
        self,
        layers: Iterable[Dense],
        loss: str | Loss = "binary_cross_entropy",
        alpha: float = 0.0,
        random_state: Any = None,
    ) -> None:
        layers = list(layers) if not isinstance(layers, Dense) else [layers]
        if not layers:
            raise ValueError("layers must contain at least one Dense layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Dense):
                raise TypeError(f"layers[{i}] must be a Dense layer, got {type(layer).__name__}")
        for i in range(len(layers) - 1):
            if layers[i].n_out != layers[i + 1].n_in:
                raise ValueError(
                    f"layers[{i}] has {layers[i].n_out} outputs but layers[{i + 1}] "
                    f"expects {layers[i + 1].n_in} inputs"
                )
        if layers[-1].dropout:
            raise ValueError(
                f"the output layer cannot have dropout (got dropout={layers[-1].dropout!r})"
            )
        self.layers: list[Dense] = layers
        self.loss: Loss = get_loss(loss)
        self.alpha: float = check_number("alpha", alpha, low=0.0)
        self.random_state = random_state
        rng = make_rng(random_state)
        for layer in layers:
            # Draw for every layer, so a preset layer does not shift the others' numbers.
            weights, bias = initial_parameters(
                layer.n_in, layer.n_out, layer.activation.name, layer.init, rng
            )
            if layer.weights is None:
                layer.weights = weights
            if layer.bias is None:
                layer.bias = bias

    # -- shape and parameters ---------------------------------------------------------
    @property
    def n_inputs(self) -> int:
        """Number of input features."""
        return self.layers[0].n_in

    @property
    def n_outputs(self) -> int:
        """Number of output units."""
        return self.layers[-1].n_out

    @property
    def n_parameters(self) -> int:
        """Number of trainable numbers (weights and biases)."""
        return sum(layer.n_parameters for layer in self.layers)

    @property
    def parameters(self) -> list[Any]:
        """The parameters as a flat list ``[W_0, b_0, W_1, b_1, ...]``."""
        out = []
        for layer in self.layers:
            out += [layer.weights, layer.bias]
        return out

    def _set_parameters(self, params: Sequence[Any]) -> None:
        # Internal: arrays produced by training have the right shapes already.
        for layer, (weights, bias) in zip(self.layers, _pairs(params), strict=True):
            layer._weights, layer._bias = weights, bias

    def _parameters_as(self, xp: Any, dtype: Any, dev: Any) -> list[Any]:
        """The parameters in namespace ``xp`` with ``dtype`` on ``dev`` (copies only if needed)."""
        out = []
        for p in self.parameters:
            if array_namespace(p) is xp and device(p) == dev:
                out.append(p if p.dtype == dtype else xp.astype(p, dtype))
            else:
                out.append(from_numpy(to_numpy(p), xp=xp, dtype=dtype, device=dev))
        return out

    # -- the public math --------------------------------------------------------------
    def forward(self, X: Any) -> Any:
        """Output activations for ``X``.

        Parameters
        ----------
        X : array of shape (n_samples, n_inputs)

        Returns
        -------
        array of shape (n_samples, n_outputs)
            In the array library, dtype and device of ``X``.
        """
        X, xp = check_X(X, self.n_inputs)
        params = self._parameters_as(xp, X.dtype, device(X))
        with quiet_float_errors(xp):
            _, activations = forward_pass(self.layers, params, X, xp=xp)
        if not bool(xp.all(xp.isfinite(activations[-1]))):
            raise ValueError(_overflow_message("the network's output", X.dtype))
        return activations[-1]

    def _check_data(self, X: Any, y: Any, sample_weight: Any):
        X, xp = check_X(X, self.n_inputs)
        y = check_targets(y, X, self.n_outputs, xp=xp)
        self.loss.check_targets(y, xp=xp)
        w = check_sample_weight(sample_weight, X, xp=xp)
        total_weight = float(X.shape[0]) if w is None else float(xp.sum(w))
        return X, y, w, total_weight, xp

    def _loss_and_gradients(
        self,
        params: Sequence[Any],
        X: Any,
        y: Any,
        w: Any,
        total_weight: float,
        *,
        xp: Any,
        masks: Sequence[Any] | None = None,
        textbook: bool = False,
    ) -> tuple[float, list[Any]]:
        """Objective and flat gradients for validated data (no checks: the hot path).

        Without dropout masks, NumPy arrays and batches larger than one block go through
        :func:`deltaprop.blocked.blocked_loss_and_gradients` (the same numbers within
        rounding, in bounded memory); everything else through :func:`forward_pass` and
        :func:`backward_pass` directly. ``textbook=True`` sends a batch of one block
        through those two as well, for the bits that explain mode shows.
        """
        from .blocked import auto_block_size, blocked_loss_and_gradients

        block_size = auto_block_size(self.layers, getattr(X.dtype, "itemsize", 8))
        fast = is_numpy(xp) and not textbook
        if masks is None and (fast or X.shape[0] > block_size):
            loss, grads = blocked_loss_and_gradients(
                self.layers, self.loss, params, X, y, w, total_weight, xp=xp, block_size=block_size
            )
        else:
            zs, activations = forward_pass(self.layers, params, X, xp=xp, masks=masks)
            result = backward_pass(
                self.layers,
                self.loss,
                params,
                zs,
                activations,
                y,
                w,
                total_weight,
                xp=xp,
                masks=masks,
            )
            loss, grads = float(result.loss), result.grads
        reg, d_reg = penalty(params, self.alpha, total_weight, xp=xp)
        if d_reg is not None:
            loss += reg
            for l, d_w in enumerate(d_reg):
                grads[2 * l] = grads[2 * l] + d_w
        return loss, grads

    def loss_and_gradients(
        self, X: Any, y: Any, sample_weight: Any = None
    ) -> tuple[float, list[tuple[Any, Any]]]:
        """The objective and its gradient with respect to every parameter.

        Parameters
        ----------
        X : array of shape (n_samples, n_inputs)
        y : array of shape (n_samples, n_outputs) or (n_samples,) for one output
        sample_weight : array of shape (n_samples,), optional

        Returns
        -------
        loss : float
            The weighted mean loss plus the L2 penalty.
        grads : list of (d_weights, d_bias)
            ``grads[i]`` belongs to ``layers[i]`` and has its parameters' shapes, in the
            array library and dtype of ``X``.

        Raises
        ------
        ValueError, TypeError
            For inputs of the wrong shape or type, NaN or inf, bad sample weights or
            targets outside the loss's domain.
        """
        X, y, w, total_weight, xp = self._check_data(X, y, sample_weight)
        params = self._parameters_as(xp, X.dtype, device(X))
        with quiet_float_errors(xp):
            loss, grads = self._loss_and_gradients(
                params, X, y, w, total_weight, xp=xp, textbook=True
            )
        if not math.isfinite(loss) or not all(bool(xp.all(xp.isfinite(g))) for g in grads):
            raise ValueError(_overflow_message("the loss or its gradients", X.dtype))
        return loss, _pairs(grads)

    def __repr__(self) -> str:
        layers = ", ".join(repr(layer) for layer in self.layers)
        return f"Network([{layers}], loss={self.loss.name!r}, alpha={self.alpha!r})"

    def to_onnx(
        self,
        path: Any,
        *,
        opset: int | None = None,
        dtype: Any = None,
        input_name: str = "X",
        output_name: str = "output",
    ) -> Any:
        """Write the network to an ONNX file: ``output = self.forward(X)`` in any runtime.

        Parameters
        ----------
        path : str or os.PathLike
        opset : int, optional
            Default-domain opset; default the lowest that expresses every layer.
        dtype : {"float32", "float64"}, optional
            Default: float32 when every parameter is float32, else float64.
        input_name, output_name : str
            Names of the input, shape (N, n_inputs), and the output, shape
            (N, n_outputs); ``N`` is a symbolic batch dimension.

        Returns
        -------
        onnx.ModelProto
            The model written (see :mod:`deltaprop.onnx_export` and ``docs/onnx.md``).

        Raises
        ------
        ImportError
            Without the ``onnx`` package: ``pip install "deltaprop[onnx]"``.
        """
        from .onnx_export import to_onnx

        return to_onnx(
            self, path, opset=opset, dtype=dtype, input_name=input_name, output_name=output_name
        )
