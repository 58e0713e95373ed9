"""Activation functions, each forward pass beside its derivative.

A layer computes ``z = a_prev @ weights + bias`` and then ``a = f(z)``. The backward
pass needs ``f'(z)`` to turn ``dL/da`` into the layer's error term ``delta = dL/dz``:

    delta = dL/da * f'(z)                     (element-wise activations)
    delta = a * (dL/da - sum_k dL/da_k a_k)   (softmax, whose Jacobian is diag(a) - a a^T)

Each activation therefore offers ``forward(z)``, ``derivative(z, a)`` (``f'(z)``;
written in terms of ``a`` where that is cheaper, e.g. ``a (1 - a)`` for the sigmoid)
and ``backward(z, a, d_a)`` (``delta`` from ``dL/da``). All of them are numerically
stable for ``|z|`` up to 1e4: no overflow warnings and no NaN.

Everything the rest of the package needs to know about an activation is an attribute
or a method of its class, so adding one is a change to this module (plus its test):

- ``glorot_numerator``: the bound of the weights (and biases) ``init="auto"`` draws for it;
- ``derivative_rule``, ``symbol``, ``saturation_range``, ``can_die``: what
  :func:`deltaprop.explain` prints and measures;
- the capabilities of the fused NumPy kernel (:mod:`deltaprop.kernels.blocked`), each
  optional: :class:`FromOutput` (``f'`` computed from ``a`` alone, in place) and
  :class:`NegatedForward` (``f(-t)`` in place, for a kernel that negated the weights).
  An activation without them takes the kernel's general path (``forward``/``backward``).

Examples
--------
>>> import numpy as np
>>> from deltaprop.core.activations import get_activation
>>> sigmoid = get_activation("sigmoid")
>>> z = np.array([[0.0, 2.0]])
>>> a = sigmoid.forward(z, xp=np)
>>> np.round(sigmoid.derivative(z, a, xp=np), 4)
array([[0.25 , 0.105]])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from deltaprop.core.compiled import compiled_loop, fused_arrays
from deltaprop.core.validation import from_registry

__all__ = [
    "ACTIVATIONS",
    "ALIASES",
    "ELU",
    "GELU",
    "GELU_CUBIC",
    "GELU_SQRT_2_OVER_PI",
    "Activation",
    "Exp",
    "FromOutput",
    "Identity",
    "LeakyReLU",
    "NegatedForward",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "get_activation",
]


def _sigmoid(z: Any, *, xp: Any) -> Any:
    # exp(-|z|) never overflows; the two branches are the same function rearranged.
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


class Activation:
    """Base class: an element-wise activation ``a = f(z)`` and its derivative.

    Subclasses implement :meth:`forward` and :meth:`derivative`; :meth:`backward`
    multiplies the incoming ``dL/da`` by ``f'(z)``. Arrays have shape
    (n_samples, n_units).
    """

    name: str = ""
    #: True when f'(z) is a diagonal Jacobian (everything except softmax).
    elementwise: bool = True
    #: ``k`` of the bound ``sqrt(k / (n_in + n_out))`` of ``init="auto"`` (weights and
    #: biases): 6 (Glorot and Bengio), 2 for the sigmoid (scikit-learn's choice).
    glorot_numerator: float = 6.0
    #: ``f'(z)`` as a formula, for the explanations of :func:`deltaprop.explain`.
    derivative_rule: str = "f'(z)"
    #: Short label of a unit in the network diagram (``Trace.to_png``); default ``name``.
    symbol: str = ""
    #: ``(low, high)`` for a bounded output whose ends flatten ``f'`` (sigmoid, tanh):
    #: explain reports the share of values within 0.01 of either end as saturated.
    saturation_range: tuple[float, float] | None = None
    #: True when ``f'(z) = 0`` for every ``z <= 0``: a unit whose ``z`` is never
    #: positive learns nothing, and explain reports it as dead.
    can_die: bool = False

    def forward(self, z: Any, *, xp: Any) -> Any:
        """Activations ``a = f(z)``, same shape as ``z``."""
        raise NotImplementedError

    def derivative(self, z: Any, a: Any, *, xp: Any) -> Any:
        """``f'(z)`` element-wise, same shape as ``z`` (``a`` is ``f(z)``, given for reuse)."""
        raise NotImplementedError

    def backward(self, z: Any, a: Any, d_a: Any, *, xp: Any) -> Any:
        """Chain rule through the activation: ``delta = dL/dz`` from ``d_a = dL/da``."""
        return d_a * self.derivative(z, a, xp=xp)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class FromOutput(Activation):
    """Capability: ``f'(z)`` is a function of ``a = f(z)`` alone, computed in place.

    The fused NumPy kernel (:mod:`deltaprop.kernels.blocked`) then writes ``a`` over
    ``z`` and never keeps ``z``. The methods take and write NumPy arrays of shape
    (n_samples, n_units); each must give the same numbers as :meth:`forward` and
    :meth:`backward`.
    """

    def forward_in_place(self, z: Any) -> Any:
        """``a = f(z)`` written over ``z``; returns it."""
        raise NotImplementedError

    def derivative_from_output(self, a: Any, *, out: Any) -> Any:
        """``f'(z)`` from ``a = f(z)``, written into ``out`` (which may be ``a``); returns it."""
        raise NotImplementedError

    def backward_from_output(self, a: Any, d_a: Any) -> Any:
        """``delta = d_a * f'(z)`` written over ``d_a`` (``a`` may be overwritten too)."""
        d_a *= self.derivative_from_output(a, out=a)
        return d_a

    def derivative_from_output_times(self, a: Any, column: Any, *, out: Any) -> Any:
        """``f'(z) * column`` written into ``out``; ``column`` has shape (n_samples, 1).

        The delta of a layer below a one-unit layer is this times that unit's weights
        (:mod:`deltaprop.kernels.blocked` keeps the two factors apart).
        """
        out = self.derivative_from_output(a, out=out)
        out *= column
        return out


class NegatedForward(Activation):
    """Capability: ``f(-t)`` computed in place more cheaply than ``f(z)``.

    The fused NumPy kernel then multiplies by ``-W`` and adds ``-b`` (both negated once,
    up front) to get ``t = -z`` without a negation pass over the block.
    """

    def forward_of_negative_in_place(self, t: Any) -> Any:
        """``f(-t)`` written over the NumPy array ``t``; returns it."""
        raise NotImplementedError


class Identity(Activation):
    """``f(z) = z``: the linear unit, used by the input layer and regression outputs."""

    name = "identity"
    derivative_rule = "f'(z) = 1"
    symbol = "id"

    def forward(self, z, *, xp):
        return z

    def derivative(self, z, a, *, xp):
        return xp.ones_like(z)

    def backward(self, z, a, d_a, *, xp):
        return d_a


class Sigmoid(FromOutput, NegatedForward):
    """``f(z) = 1 / (1 + exp(-z))``, ``f'(z) = a (1 - a)``; also called logistic."""

    name = "sigmoid"
    glorot_numerator = 2.0
    derivative_rule = "f'(z) = a (1 - a)"
    symbol = "σ"  # noqa: RUF001
    saturation_range = (0.0, 1.0)

    def forward(self, z, *, xp):
        return _sigmoid(z, xp=xp)

    def derivative(self, z, a, *, xp):
        return a * (1.0 - a)

    # The NumPy operations below are the definition; where Numba is loaded
    # (:mod:`deltaprop.core.compiled`), a loop written beside each does the same
    # arithmetic per element in the same order, in one pass instead of two or three.

    def forward_of_negative_in_place(self, t):
        # exp overflows only where the sigmoid is below the smallest normal number, and
        # 1 / inf = 0 is then the right answer (callers silence the overflow warning).
        np.exp(t, out=t)
        loop = _loop_for("sigmoid_of_exp", _sigmoid_of_exp_loop, t.size / 8, t)
        if loop is not None:
            loop(t.reshape(-1))
            return t
        t += 1.0
        return np.divide(1.0, t, out=t)  # twice as fast as np.reciprocal

    def forward_in_place(self, z):
        return self.forward_of_negative_in_place(np.negative(z, out=z))

    def derivative_from_output(self, a, *, out):
        np.subtract(1.0, a, out=out)
        out *= a
        return out

    def backward_from_output(self, a, d_a):
        loop = _loop_for("sigmoid_backward", _sigmoid_backward_loop, a.size / 3, a, d_a)
        if loop is not None:
            loop(a.reshape(-1), d_a.reshape(-1))
            return d_a
        d_a *= a
        np.subtract(1.0, a, out=a)
        d_a *= a
        return d_a

    def derivative_from_output_times(self, a, column, *, out):
        loop = _loop_for("sigmoid_times", _sigmoid_times_loop, a.size / 3, a, column, out)
        if loop is not None and column.shape == (a.shape[0], 1):
            loop(a, column.reshape(-1), out)
            return out
        return super().derivative_from_output_times(a, column, out=out)


def _loop_for(name, loop, work, *arrays):
    """The compiled ``loop`` for NumPy ``arrays`` it takes, or None (see
    :func:`~deltaprop.core.compiled.compiled_loop`; ``work`` in entries of Adam's
    update: these loops save about an eighth to a third of what Adam's does per entry)."""
    if not fused_arrays(*arrays):
        return None
    return compiled_loop(name, loop, work)


def _sigmoid_of_exp_loop(t):
    # t = exp(-z) -> 1 / (t + 1): Sigmoid.forward_of_negative_in_place's two operations
    one = t.dtype.type(1.0)
    for i in range(t.size):
        t[i] = one / (t[i] + one)


def _sigmoid_backward_loop(a, d_a):
    # d_a * a * (1 - a), in Sigmoid.backward_from_output's order
    one = a.dtype.type(1.0)
    for i in range(a.size):
        ai = a[i]
        d_a[i] = (d_a[i] * ai) * (one - ai)


def _sigmoid_times_loop(a, column, out):
    # (1 - a) * a * column, in derivative_from_output's order, then FromOutput's product
    one = a.dtype.type(1.0)
    n_samples, n_units = a.shape
    for i in range(n_samples):
        c = column[i]
        for j in range(n_units):
            aij = a[i, j]
            out[i, j] = ((one - aij) * aij) * c


class Tanh(FromOutput):
    """``f(z) = tanh(z)``, ``f'(z) = 1 - a^2``."""

    name = "tanh"
    derivative_rule = "f'(z) = 1 - a^2"
    symbol = "tanh"
    saturation_range = (-1.0, 1.0)

    def forward(self, z, *, xp):
        return xp.tanh(z)

    def derivative(self, z, a, *, xp):
        return 1.0 - a * a

    def forward_in_place(self, z):
        return np.tanh(z, out=z)

    def derivative_from_output(self, a, *, out):
        np.multiply(a, a, out=out)
        return np.subtract(1.0, out, out=out)


class ReLU(FromOutput):
    """``f(z) = max(z, 0)``, ``f'(z) = 1 if z > 0 else 0``."""

    name = "relu"
    derivative_rule = "f'(z) = 1 if z > 0 else 0"
    symbol = "ReLU"
    can_die = True

    def forward(self, z, *, xp):
        return xp.maximum(z, 0.0)

    def derivative(self, z, a, *, xp):
        return xp.astype(z > 0, z.dtype)

    def backward(self, z, a, d_a, *, xp):
        if isinstance(d_a, np.ndarray) and d_a.dtype in _SAME_SIZE_INTEGER:
            # the loop, one pass that vectorises, costs a sixth of the bit mask's four
            loop = _loop_for("relu_backward", _relu_backward_loop, d_a.size / 4, z, d_a)
            if loop is not None and z.shape == d_a.shape:
                out = np.empty_like(d_a)
                loop(z.reshape(-1), d_a.reshape(-1), out.reshape(-1))
                return out
            return _kept_where_positive(z, d_a)
        return xp.where(z > 0, d_a, 0.0)

    def forward_in_place(self, z):
        return np.maximum(z, 0.0, out=z)

    def derivative_from_output(self, a, *, out):
        # a comparison vectorises where np.sign would branch on every element
        return np.greater(a, 0.0, out=out)


def _relu_backward_loop(z, d_a, out):
    # where(z > 0, d_a, 0.0): d_a's own bits where z > 0 (NaN, inf, -0.0 included), +0.0
    # elsewhere (a NaN z is not > 0). A new ``out``: writing into d_a would alias, and
    # the loop would no longer vectorise.
    zero = d_a.dtype.type(0.0)
    for i in range(z.size):
        out[i] = d_a[i] if z[i] > 0 else zero


#: The integer type of each float type's bits.
_SAME_SIZE_INTEGER = {
    np.dtype(np.float16): np.int16,
    np.dtype(np.float32): np.int32,
    np.dtype(np.float64): np.int64,
}


def _kept_where_positive(z: np.ndarray, d_a: np.ndarray) -> np.ndarray:
    """``where(z > 0, d_a, 0.0)`` bit for bit, for NumPy arrays of one shape.

    np.where takes about 5 ns an element here (a stack of 3 x 256 x 128 float32: 0.5 ms,
    where this takes 0.04 ms): the ReLU's backward was a sixth of the tabular recipe's
    step. Masking the bits of ``d_a`` with all ones (``z > 0``) or all zeros (the bits of
    +0.0) gives the same array, inf and NaN included.
    """
    integer = _SAME_SIZE_INTEGER[d_a.dtype]
    mask = np.greater(z, 0).astype(integer)
    np.negative(mask, out=mask)  # 1 -> -1: every bit set
    return np.bitwise_and(d_a.view(integer), mask, out=mask).view(d_a.dtype)


class LeakyReLU(Activation):
    """``f(z) = z if z > 0 else negative_slope * z``."""

    name = "leaky_relu"
    derivative_rule = "f'(z) = 1 if z > 0 else negative_slope"

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = float(negative_slope)

    def forward(self, z, *, xp):
        return xp.where(z > 0, z, self.negative_slope * z)

    def derivative(self, z, a, *, xp):
        return xp.where(z > 0, xp.ones_like(z), xp.full_like(z, self.negative_slope))

    def __repr__(self) -> str:
        return f"LeakyReLU(negative_slope={self.negative_slope!r})"


class ELU(Activation):
    """``f(z) = z if z > 0 else exp(z) - 1``; ``f'(z) = 1 if z > 0 else a + 1``."""

    name = "elu"
    derivative_rule = "f'(z) = 1 if z > 0 else a + 1"

    def forward(self, z, *, xp):
        # expm1 only ever sees z <= 0, so the unused branch of `where` cannot overflow.
        return xp.where(z > 0, z, xp.expm1(xp.minimum(z, 0.0)))

    def derivative(self, z, a, *, xp):
        return xp.where(z > 0, xp.ones_like(z), a + 1.0)


class Softplus(Activation):
    """``f(z) = log(1 + exp(z))``, ``f'(z) = sigmoid(z)``."""

    name = "softplus"
    derivative_rule = "f'(z) = sigmoid(z)"

    def forward(self, z, *, xp):
        return xp.maximum(z, 0.0) + xp.log1p(xp.exp(-xp.abs(z)))

    def derivative(self, z, a, *, xp):
        return _sigmoid(z, xp=xp)


class SiLU(Activation):
    """``f(z) = z sigmoid(z)`` (swish), ``f'(z) = s + z s (1 - s)`` with ``s = sigmoid(z)``."""

    name = "silu"
    derivative_rule = "f'(z) = s + z s (1 - s) with s = sigmoid(z)"

    def forward(self, z, *, xp):
        return z * _sigmoid(z, xp=xp)

    def derivative(self, z, a, *, xp):
        s = _sigmoid(z, xp=xp)
        return s + z * s * (1.0 - s)


#: The constants of GELU's tanh approximation: ``c = sqrt(2 / pi)`` and the cubic's 0.044715.
GELU_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GELU_CUBIC = 0.044715


class GELU(Activation):
    """GELU, tanh approximation: ``f(z) = z/2 (1 + tanh(c (z + 0.044715 z^3)))``, c = sqrt(2/pi)."""

    name = "gelu"
    derivative_rule = "f'(z) of the tanh-approximated GELU"

    def _inner(self, z, *, xp):
        return xp.tanh(GELU_SQRT_2_OVER_PI * (z + GELU_CUBIC * z * z * z))

    def forward(self, z, *, xp):
        return 0.5 * z * (1.0 + self._inner(z, xp=xp))

    def derivative(self, z, a, *, xp):
        t = self._inner(z, xp=xp)
        c, k = GELU_SQRT_2_OVER_PI, GELU_CUBIC
        return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * c * (1.0 + 3.0 * k * z * z)


class Exp(Activation):
    """``f(z) = exp(z)``, ``f'(z) = a``: the output of a Poisson regression."""

    name = "exp"
    derivative_rule = "f'(z) = a"

    def forward(self, z, *, xp):
        return xp.exp(z)

    def derivative(self, z, a, *, xp):
        return a


class Softmax(Activation):
    """Softmax over each row: ``a_k = exp(z_k) / sum_j exp(z_j)``.

    Its Jacobian is not diagonal, so :meth:`backward` applies it as a product:
    ``delta = a * (d_a - sum_k d_a_k a_k)``.
    """

    name = "softmax"
    elementwise = False
    symbol = "soft\nmax"

    def forward(self, z, *, xp):
        # Shifting by the row maximum leaves the result unchanged and keeps exp() <= 1.
        e = xp.exp(z - xp.max(z, axis=-1, keepdims=True))
        return e / xp.sum(e, axis=-1, keepdims=True)

    def derivative(self, z, a, *, xp):
        raise TypeError(
            "softmax has no element-wise derivative (its Jacobian is diag(a) - a a^T); "
            "use backward(z, a, d_a)"
        )

    def backward(self, z, a, d_a, *, xp):
        return a * (d_a - xp.sum(d_a * a, axis=-1, keepdims=True))


#: Activations by name. ``logistic`` is scikit-learn's name for the sigmoid.
ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls
    for cls in (Identity, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, Softplus, SiLU, GELU, Exp, Softmax)
}
#: Other names of activations: scikit-learn's ``logistic``, and ``linear`` and ``swish``.
ALIASES = {"logistic": "sigmoid", "linear": "identity", "swish": "silu"}


def get_activation(activation: str | Activation) -> Activation:
    """Return an :class:`Activation` for a name (see ``ACTIVATIONS``) or pass one through.

    Raises
    ------
    ValueError
        For an unknown name.
    TypeError
        For anything that is neither a name nor an :class:`Activation`.
    """
    return from_registry(
        activation, what="activation", base=Activation, registry=ACTIVATIONS, aliases=ALIASES
    )
