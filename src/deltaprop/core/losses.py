"""Loss functions: each sample's loss, its derivative, and the output layer's delta.

The network minimises the sample-weighted mean ``L = sum_i w_i l_i / sum_i w_i`` of
the per-sample losses ``l_i`` (row ``i`` of the outputs ``a`` against targets ``y``):

    binary_cross_entropy  l_i = -sum_k [y_ik log a_ik + (1 - y_ik) log(1 - a_ik)]
    cross_entropy         l_i = -sum_k y_ik log a_ik
    squared_error         l_i = 1/2 sum_k (a_ik - y_ik)^2
    poisson               l_i = sum_k (a_ik - y_ik log a_ik)   (half Poisson deviance + const)

The output layer's error term is ``delta = dL/dz = dL/da * f'(z)``. Each loss has a
*canonical* output activation for which that product collapses to ``a - y``:
sigmoid + binary cross-entropy (``f'(z) = a (1 - a)`` cancels the denominator of
``dl/da = (a - y) / (a (1 - a))``), softmax + cross-entropy, identity + squared error
and exp + Poisson. For a canonical pair we use the shortcut, which is exact and stays
accurate when the output saturates (``a (1 - a)`` underflows to 0 long before
``a - y`` does), and compute the loss itself from ``z`` so that ``log(0)`` never occurs.
Any other pairing goes through the general chain rule.

Examples
--------
>>> import numpy as np
>>> from deltaprop.core.losses import get_loss
>>> bce = get_loss("binary_cross_entropy")
>>> y = np.array([[1.0]]); a = np.array([[0.8]])
>>> np.round(bce.per_sample(y, a, xp=np), 4)
array([0.2231])
"""

from __future__ import annotations

from typing import Any

from deltaprop.core.activations import Activation
from deltaprop.core.validation import from_registry

__all__ = [
    "LOSSES",
    "BinaryCrossEntropy",
    "CrossEntropy",
    "Loss",
    "Poisson",
    "SquaredError",
    "get_loss",
]


def _eps(xp: Any, a: Any) -> float:
    return float(xp.finfo(a.dtype).eps)


class Loss:
    """Base class. Arrays ``y``, ``a``, ``z`` have shape (n_samples, n_outputs)."""

    name: str = ""
    #: Name of the output activation for which ``delta = a - y``.
    canonical_activation: str = ""

    def per_sample(self, y: Any, a: Any, *, xp: Any) -> Any:
        """Per-sample losses ``l_i`` from output activations, shape (n_samples,)."""
        raise NotImplementedError

    def per_sample_from_z(self, y: Any, z: Any, *, xp: Any) -> Any:
        """Per-sample losses from the pre-activations of the canonical output activation.

        Mathematically equal to ``per_sample(y, f(z))`` but free of ``log(0)``.
        """
        raise NotImplementedError

    def gradient(self, y: Any, a: Any, *, xp: Any) -> Any:
        """``dl_i/da``, shape (n_samples, n_outputs)."""
        raise NotImplementedError

    def check_targets(self, y: Any, *, xp: Any) -> None:
        """Raise ``ValueError`` when ``y`` lies outside this loss's domain."""

    def is_canonical(self, activation: Activation) -> bool:
        """Whether ``activation`` is this loss's canonical output (``delta = a - y``)."""
        return activation.name == self.canonical_activation

    def output(self, y: Any, z: Any, a: Any, activation: Activation, *, xp: Any):
        """Per-sample losses and the (unweighted) output delta ``dl_i/dz``.

        Returns
        -------
        losses : array, shape (n_samples,)
        delta : array, shape (n_samples, n_outputs)
        canonical : bool
            True when the shortcut ``delta = a - y`` was used.
        """
        if self.is_canonical(activation):
            return self.per_sample_from_z(y, z, xp=xp), self.canonical_delta(y, a, xp=xp), True
        d_a = self.gradient(y, a, xp=xp)
        return self.per_sample(y, a, xp=xp), activation.backward(z, a, d_a, xp=xp), False

    def canonical_delta(self, y: Any, a: Any, *, xp: Any) -> Any:
        """``dl_i/dz`` through the canonical activation: ``a - y``."""
        return a - y

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy (log-loss) for independent outputs in [0, 1].

    With a non-sigmoid output, ``a`` is clipped to ``[eps, 1 - eps]``; where it is
    clipped the loss is flat and its gradient 0.
    """

    name = "binary_cross_entropy"
    canonical_activation = "sigmoid"

    def per_sample(self, y, a, *, xp):
        eps = _eps(xp, a)
        a = xp.clip(a, eps, 1.0 - eps)
        return -xp.sum(y * xp.log(a) + (1.0 - y) * xp.log(1.0 - a), axis=-1)

    def per_sample_from_z(self, y, z, *, xp):
        # -[y log s(z) + (1-y) log(1-s(z))] = max(z, 0) - y z + log(1 + exp(-|z|))
        return xp.sum(xp.maximum(z, 0.0) - y * z + xp.log1p(xp.exp(-xp.abs(z))), axis=-1)

    def gradient(self, y, a, *, xp):
        eps = _eps(xp, a)
        inside = (a >= eps) & (a <= 1.0 - eps)
        a_c = xp.clip(a, eps, 1.0 - eps)
        return xp.where(inside, (a_c - y) / (a_c * (1.0 - a_c)), 0.0)

    def check_targets(self, y, *, xp):
        if not bool(xp.all((y >= 0.0) & (y <= 1.0))):
            raise ValueError(
                "y must lie in [0, 1] for loss='binary_cross_entropy' "
                f"(got values from {float(xp.min(y))!r} to {float(xp.max(y))!r})"
            )


class CrossEntropy(Loss):
    """Categorical cross-entropy for a softmax output and one-hot (or soft) targets.

    With a non-softmax output, ``a`` is clipped below at ``eps``.
    """

    name = "cross_entropy"
    canonical_activation = "softmax"

    def per_sample(self, y, a, *, xp):
        return -xp.sum(y * xp.log(xp.maximum(a, _eps(xp, a))), axis=-1)

    def per_sample_from_z(self, y, z, *, xp):
        # log softmax(z)_k = z_k - logsumexp(z), with the row maximum shifted out.
        z_max = xp.max(z, axis=-1, keepdims=True)
        log_sum = z_max + xp.log(xp.sum(xp.exp(z - z_max), axis=-1, keepdims=True))
        return xp.sum(y * (log_sum - z), axis=-1)

    def gradient(self, y, a, *, xp):
        eps = _eps(xp, a)
        return xp.where(a >= eps, -y / xp.maximum(a, eps), 0.0)

    def canonical_delta(self, y, a, *, xp):
        # d/dz_k [-sum_j y_j log softmax(z)_j] = a_k sum_j y_j - y_k, which is a - y
        # for one-hot (or any probability) rows; the general form keeps soft targets exact.
        return a * xp.sum(y, axis=-1, keepdims=True) - y

    def check_targets(self, y, *, xp):
        if not bool(xp.all((y >= 0.0) & (y <= 1.0))):
            raise ValueError(
                "y must lie in [0, 1] (one-hot or class probabilities) for "
                f"loss='cross_entropy' (got values from {float(xp.min(y))!r} "
                f"to {float(xp.max(y))!r})"
            )


class SquaredError(Loss):
    """Half the squared error, ``1/2 sum_k (a_k - y_k)^2``, for regression."""

    name = "squared_error"
    canonical_activation = "identity"

    def per_sample(self, y, a, *, xp):
        diff = a - y
        return 0.5 * xp.sum(diff * diff, axis=-1)

    def per_sample_from_z(self, y, z, *, xp):
        return self.per_sample(y, z, xp=xp)

    def gradient(self, y, a, *, xp):
        return a - y


class Poisson(Loss):
    """Poisson loss ``a - y log a`` for counts (canonical output: ``exp``).

    With a non-exp output, ``a`` is clipped below at ``eps``.
    """

    name = "poisson"
    canonical_activation = "exp"

    def per_sample(self, y, a, *, xp):
        a = xp.maximum(a, _eps(xp, a))
        return xp.sum(a - y * xp.log(a), axis=-1)

    def per_sample_from_z(self, y, z, *, xp):
        return xp.sum(xp.exp(z) - y * z, axis=-1)

    def gradient(self, y, a, *, xp):
        eps = _eps(xp, a)
        return xp.where(a >= eps, 1.0 - y / xp.maximum(a, eps), 0.0)

    def check_targets(self, y, *, xp):
        if not bool(xp.all(y >= 0.0)):
            raise ValueError(
                f"y must be >= 0 for loss='poisson' (got a minimum of {float(xp.min(y))!r})"
            )


#: Losses by name. ``log_loss`` (scikit-learn) is an alias of binary cross-entropy.
LOSSES: dict[str, type[Loss]] = {
    cls.name: cls for cls in (BinaryCrossEntropy, CrossEntropy, SquaredError, Poisson)
}
_ALIASES = {"log_loss": "binary_cross_entropy", "mse": "squared_error"}


def get_loss(loss: str | Loss) -> Loss:
    """Return a :class:`Loss` for a name (see ``LOSSES``) or pass one through.

    Raises
    ------
    ValueError
        For an unknown name.
    TypeError
        For anything that is neither a name nor a :class:`Loss`.
    """
    return from_registry(loss, what="loss", base=Loss, registry=LOSSES, aliases=_ALIASES)
