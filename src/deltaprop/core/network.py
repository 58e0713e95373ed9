"""The network: layers, a loss, an L2 penalty and the parameters they act on.

The objective is the sample-weighted mean loss plus an L2 penalty on the weights::

    L = sum_i w_i l_i / sum_i w_i + (alpha / 2) sum_l ||W_l||^2 / sum_i w_i

:mod:`deltaprop.core.backprop` computes its gradients (the forward and backward sweeps)
and :mod:`deltaprop.core.objective` adds them up over row blocks with the penalty; a
:class:`Network` holds what they act on and checks what users give it.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterable, Sequence
from typing import Any

from deltaprop.core.arrays import (
    array_namespace,
    device,
    from_numpy,
    quiet_float_errors,
    to_numpy,
)
from deltaprop.core.backprop import forward_pass, pairs
from deltaprop.core.initializers import allocating, initial_parameters, make_rng
from deltaprop.core.layers import Dense
from deltaprop.core.losses import Loss, get_loss
from deltaprop.core.objective import DataTerm, data_term, objective
from deltaprop.core.validation import check_number, check_sample_weight, check_targets, check_X

__all__ = ["Network"]


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
        for i, layer in enumerate(layers):
            # Draw for every layer, so a preset layer does not shift the others' numbers.
            with allocating(layer.n_in, layer.n_out, f"layers[{i}]"):
                weights, bias = initial_parameters(
                    layer.n_in, layer.n_out, layer.activation, layer.init, rng
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
        for layer, (weights, bias) in zip(self.layers, pairs(params), strict=True):
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

    def objective(
        self,
        params: Sequence[Any],
        X: Any,
        y: Any,
        w: Any,
        total_weight: float,
        *,
        xp: Any,
        masks: Sequence[Any] | None = None,
        data: DataTerm = data_term,
    ) -> tuple[float, list[Any]]:
        """The objective and flat gradients for validated data (no checks: the hot path).

        Parameters
        ----------
        params : list of arrays
            ``[W_0, b_0, ...]`` in the namespace, dtype and device of ``X``.
        X : array of shape (n_samples, n_inputs)
        y : array of shape (n_samples, n_outputs)
        w : array of shape (n_samples,) or None
        total_weight : float
            The divisor of the loss: the sum of ``w``, or ``n_samples``.
        xp : namespace
        masks : list of arrays or None, optional
            Dropout masks, one per layer.
        data : callable, default :func:`deltaprop.core.objective.data_term`
            The data term's implementation (see :mod:`deltaprop.kernels`).

        Returns
        -------
        loss : float
        grads : list of arrays
            ``[dW_0, db_0, dW_1, db_1, ...]``.
        """
        loss, grads = objective(
            self.layers,
            self.loss,
            params,
            X,
            y,
            w,
            total_weight,
            self.alpha,
            xp=xp,
            masks=masks,
            data=data,
        )
        return float(loss), grads

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
            loss, grads = self.objective(params, X, y, w, total_weight, xp=xp)
        if not math.isfinite(loss) or not all(bool(xp.all(xp.isfinite(g))) for g in grads):
            raise ValueError(_overflow_message("the loss or its gradients", X.dtype))
        return loss, pairs(grads)

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
            The model written (see :mod:`deltaprop.export.onnx` and ``docs/onnx.md``).

        Raises
        ------
        ImportError
            Without the ``onnx`` package: ``pip install "deltaprop[onnx]"``.
        """
        # named, not imported: deltaprop.export sits above the core (ARCHITECTURE.md, "ways up")
        to_onnx = importlib.import_module("deltaprop.export").to_onnx
        return to_onnx(
            self, path, opset=opset, dtype=dtype, input_name=input_name, output_name=output_name
        )
