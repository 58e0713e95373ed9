"""The fully connected layer: forward and backward side by side.

Forward, for a batch of rows ``a_prev`` of shape (n_samples, n_in)::

    z = a_prev @ weights + bias        (n_samples, n_out)
    a = f(z)

Backward, given this layer's error term ``delta = dL/dz`` (n_samples, n_out)::

    d_weights = a_prev.T @ delta       (n_in, n_out)   each weight: input activation x delta
    d_bias    = sum over rows of delta (n_out,)
    d_a_prev  = delta @ weights.T      (n_samples, n_in)

``d_a_prev`` is ``dL/da`` for the layer below, which turns it into its own delta with
its activation's derivative (the chain rule).

The same formulas take a stack of ``k`` networks of one shape trained side by side
(:mod:`deltaprop.training.members`): arrays then carry a leading axis of length ``k``
(``a_prev`` (k, n_samples, n_in), ``weights`` (k, n_in, n_out), ``bias`` (k, n_out)),
each product is one matrix product per network, and ``.T`` swaps the last two axes.

Dropout (``dropout=p``) is applied by the network during training only: the layer's
output becomes ``a * mask`` with ``mask = keep / (1 - p)`` and ``keep`` a 0/1 draw that
is 1 with probability ``1 - p`` (inverted dropout: the expected output is unchanged, so
prediction uses ``a`` as is), and the backward pass multiplies ``dL/da`` by the same
mask. The layer keeps its parameters, never the
last batch: data flows through arguments and return values.
"""

from __future__ import annotations

from typing import Any

import numpy as _np  # the setters accept lists; NumPy's forward adds the bias in place

from deltaprop.core.activations import Activation, get_activation
from deltaprop.core.arrays import array_namespace, is_array
from deltaprop.core.initializers import INITIALIZERS, check_weight_shape
from deltaprop.core.validation import check_number

__all__ = ["Dense"]


def _check_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | _np.integer):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return int(value)


class Dense:
    """A fully connected layer ``a = activation(a_prev @ weights + bias)``.

    Parameters
    ----------
    n_in, n_out : int
        Number of inputs and of units.
    activation : str or Activation, default "sigmoid"
        See :data:`deltaprop.core.activations.ACTIVATIONS`.
    init : str, default "auto"
        Weight initialisation (one of ``deltaprop.core.initializers.INITIALIZERS``), used
        when the layer joins a :class:`~deltaprop.Network` without weights of its own.
    dropout : float in [0, 1), default 0.0
        Probability of dropping each of the layer's output activations during
        training (never at prediction). Not allowed on a network's output layer.

    Attributes
    ----------
    weights : array of shape (n_in, n_out) or None
        ``None`` until the layer is initialised by a Network or assigned.
    bias : array of shape (n_out,) or None

    Examples
    --------
    >>> import numpy as np
    >>> layer = Dense(2, 1, activation="identity")
    >>> layer.weights = np.array([[1.0], [2.0]])
    >>> layer.bias = np.array([0.5])
    >>> z, a = layer.forward(np.array([[1.0, 1.0]]), layer.weights, layer.bias, xp=np)
    >>> a
    array([[3.5]])
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        activation: str | Activation = "sigmoid",
        *,
        init: str = "auto",
        dropout: float = 0.0,
    ) -> None:
        self.n_in = _check_int("n_in", n_in)
        self.n_out = _check_int("n_out", n_out)
        check_weight_shape(self.n_in, self.n_out, "n_in, n_out")
        self.activation = get_activation(activation)
        if init not in INITIALIZERS:
            raise ValueError(f"init must be one of {list(INITIALIZERS)}, got {init!r}")
        self.init = init
        self.dropout = check_number("dropout", dropout, low=0.0)
        if self.dropout >= 1.0:
            raise ValueError(f"dropout must be < 1, got {dropout!r}")
        self._weights: Any = None
        self._bias: Any = None

    # -- parameters -------------------------------------------------------------------
    @property
    def weights(self) -> Any:
        """Weight matrix, shape (n_in, n_out)."""
        return self._weights

    @weights.setter
    def weights(self, value: Any) -> None:
        self._weights = self._checked("weights", value, (self.n_in, self.n_out))

    @property
    def bias(self) -> Any:
        """Bias vector, shape (n_out,)."""
        return self._bias

    @bias.setter
    def bias(self, value: Any) -> None:
        self._bias = self._checked("bias", value, (self.n_out,))

    @staticmethod
    def _checked(name: str, value: Any, shape: tuple[int, ...]) -> Any:
        if not is_array(value):
            try:
                value = _np.asarray(value, dtype=_np.float64)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"{name} must be an array of numbers: {exc}") from None
        if tuple(value.shape) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {tuple(value.shape)}")
        xp = array_namespace(value)
        if not xp.isdtype(value.dtype, "real floating"):
            if not xp.isdtype(value.dtype, ("integral", "bool")):
                raise TypeError(f"{name} must hold real numbers, got dtype {value.dtype}")
            value = xp.astype(value, xp.float64)
        if not bool(xp.all(xp.isfinite(value))):
            raise ValueError(f"{name} must be finite (no NaN or inf)")
        return value

    @property
    def n_parameters(self) -> int:
        """Number of trainable numbers: ``n_in * n_out + n_out``."""
        return self.n_in * self.n_out + self.n_out

    # -- the math ---------------------------------------------------------------------
    def forward(self, a_prev: Any, weights: Any, bias: Any, *, xp: Any) -> tuple[Any, Any]:
        """Forward pass.

        Parameters
        ----------
        a_prev : array, shape (n_samples, n_in)
        weights : array, shape (n_in, n_out)
        bias : array, shape (n_out,)

        Returns
        -------
        z : array, shape (n_samples, n_out)
            Pre-activations ``a_prev @ weights + bias``.
        a : array, shape (n_samples, n_out)
            Activations ``f(z)``.
        """
        z = a_prev @ weights
        b = bias if bias.ndim == 1 else bias[..., None, :]
        if (
            isinstance(z, _np.ndarray)
            and z.dtype == b.dtype
            and _np.broadcast_shapes(z.shape, b.shape) == z.shape
        ):
            z += b  # z + b's bits, into the product's new array instead of another one
        else:
            z = z + b
        return z, self.activation.forward(z, xp=xp)

    def backward(
        self, a_prev: Any, delta: Any, weights: Any, *, xp: Any, need_d_a_prev: bool = True
    ) -> tuple[Any, Any, Any]:
        """Backward pass from this layer's error term.

        Parameters
        ----------
        a_prev : array, shape (n_samples, n_in)
            The input this layer saw in the forward pass.
        delta : array, shape (n_samples, n_out)
            ``dL/dz`` for this layer.
        weights : array, shape (n_in, n_out)
        need_d_a_prev : bool
            False for the first layer, whose input is the data (saves a product).

        Returns
        -------
        d_weights : array, shape (n_in, n_out)
        d_bias : array, shape (n_out,)
        d_a_prev : array, shape (n_samples, n_in), or None
            ``dL/da_prev``, to be turned into the previous layer's delta.
        """
        d_weights = _transposed(a_prev) @ delta
        d_bias = xp.sum(delta, axis=-2)
        d_a_prev = delta @ _transposed(weights) if need_d_a_prev else None
        return d_weights, d_bias, d_a_prev

    def __repr__(self) -> str:
        extra = f", dropout={self.dropout!r}" if self.dropout else ""
        return f"Dense({self.n_in}, {self.n_out}, activation={self.activation.name!r}{extra})"


def _transposed(matrix: Any) -> Any:
    """``matrix.T``, or each matrix of a stack transposed (its last two axes swapped)."""
    return matrix.T if matrix.ndim == 2 else matrix.mT
