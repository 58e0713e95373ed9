"""Activation functions, each forward pass beside its derivative.

A layer computes ``z = a_prev @ weights + bias`` and then ``a = f(z)``. The backward
pass needs ``f'(z)`` to turn ``dL/da`` into the layer's error term ``delta = dL/dz``:

    delta = dL/da * f'(z)                     (element-wise activations)
    delta = a * (dL/da - sum_k dL/da_k a_k)   (softmax, whose Jacobian is diag(a) - a a^T)

Each activation therefore offers ``forward(z)``, ``derivative(z, a)`` (``f'(z)``;
written in terms of ``a`` where that is cheaper, e.g. ``a (1 - a)`` for the sigmoid)
and ``backward(z, a, d_a)`` (``delta`` from ``dL/da``). All of them are numerically
stable for ``|z|`` up to 1e4: no overflow warnings and no NaN.

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

__all__ = [
    "ACTIVATIONS",
    "ELU",
    "GELU",
    "Activation",
    "Exp",
    "Identity",
    "LeakyReLU",
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


class Identity(Activation):
    """``f(z) = z``: the linear unit, used by the input layer and regression outputs."""

    name = "identity"

    def forward(self, z, *, xp):
        return z

    def derivative(self, z, a, *, xp):
        return xp.ones_like(z)

    def backward(self, z, a, d_a, *, xp):
        return d_a


class Sigmoid(Activation):
    """``f(z) = 1 / (1 + exp(-z))``, ``f'(z) = a (1 - a)``; also called logistic."""

    name = "sigmoid"

    def forward(self, z, *, xp):
        return _sigmoid(z, xp=xp)

    def derivative(self, z, a, *, xp):
        return a * (1.0 - a)


class Tanh(Activation):
    """``f(z) = tanh(z)``, ``f'(z) = 1 - a^2``."""

    name = "tanh"

    def forward(self, z, *, xp):
        return xp.tanh(z)

    def derivative(self, z, a, *, xp):
        return 1.0 - a * a


class ReLU(Activation):
    """``f(z) = max(z, 0)``, ``f'(z) = 1 if z > 0 else 0``."""

    name = "relu"

    def forward(self, z, *, xp):
        return xp.maximum(z, 0.0)

    def derivative(self, z, a, *, xp):
        return xp.astype(z > 0, z.dtype)

    def backward(self, z, a, d_a, *, xp):
        return xp.where(z > 0, d_a, 0.0)


class LeakyReLU(Activation):
    """``f(z) = z if z > 0 else negative_slope * z``."""

    name = "leaky_relu"

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

    def forward(self, z, *, xp):
        # expm1 only ever sees z <= 0, so the unused branch of `where` cannot overflow.
        return xp.where(z > 0, z, xp.expm1(xp.minimum(z, 0.0)))

    def derivative(self, z, a, *, xp):
        return xp.where(z > 0, xp.ones_like(z), a + 1.0)


class Softplus(Activation):
    """``f(z) = log(1 + exp(z))``, ``f'(z) = sigmoid(z)``."""

    name = "softplus"

    def forward(self, z, *, xp):
        return xp.maximum(z, 0.0) + xp.log1p(xp.exp(-xp.abs(z)))

    def derivative(self, z, a, *, xp):
        return _sigmoid(z, xp=xp)


class SiLU(Activation):
    """``f(z) = z sigmoid(z)`` (swish), ``f'(z) = s + z s (1 - s)`` with ``s = sigmoid(z)``."""

    name = "silu"

    def forward(self, z, *, xp):
        return z * _sigmoid(z, xp=xp)

    def derivative(self, z, a, *, xp):
        s = _sigmoid(z, xp=xp)
        return s + z * s * (1.0 - s)


_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_K = 0.044715


class GELU(Activation):
    """GELU, tanh approximation: ``f(z) = z/2 (1 + tanh(c (z + 0.044715 z^3)))``, c = sqrt(2/pi)."""

    name = "gelu"

    def _inner(self, z, *, xp):
        return xp.tanh(_GELU_C * (z + _GELU_K * z * z * z))

    def forward(self, z, *, xp):
        return 0.5 * z * (1.0 + self._inner(z, xp=xp))

    def derivative(self, z, a, *, xp):
        t = self._inner(z, xp=xp)
        return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * _GELU_C * (1.0 + 3.0 * _GELU_K * z * z)


class Exp(Activation):
    """``f(z) = exp(z)``, ``f'(z) = a``: the output of a Poisson regression."""

    name = "exp"

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

    def forward(self, z, *, xp):
        # Shifting by the row maximum leaves the result unchanged and keeps exp() <= 1.
        e = xp.exp(z - xp.max(z, axis=1, keepdims=True))
        return e / xp.sum(e, axis=1, keepdims=True)

    def derivative(self, z, a, *, xp):
        raise TypeError(
            "softmax has no element-wise derivative (its Jacobian is diag(a) - a a^T); "
            "use backward(z, a, d_a)"
        )

    def backward(self, z, a, d_a, *, xp):
        return a * (d_a - xp.sum(d_a * a, axis=1, keepdims=True))


#: Activations by name. ``logistic`` is scikit-learn's name for the sigmoid.
ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls
    for cls in (Identity, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, Softplus, SiLU, GELU, Exp, Softmax)
}
_ALIASES = {"logistic": "sigmoid", "linear": "identity", "swish": "silu"}


def get_activation(activation: str | Activation) -> Activation:
    """Return an :class:`Activation` for a name (see ``ACTIVATIONS``) or pass one through.

    Raises
    ------
    ValueError
        For an unknown name.
    TypeError
        For anything that is neither a name nor an :class:`Activation`.
    """
    if isinstance(activation, Activation):
        return activation
    if not isinstance(activation, str):
        raise TypeError(
            f"activation must be a name or an Activation, got {type(activation).__name__}"
        )
    name = _ALIASES.get(activation, activation)
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    return ACTIVATIONS[name]()
