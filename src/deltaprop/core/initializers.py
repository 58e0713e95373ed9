"""Initial weights, drawn from a seeded random generator.

Weights are always drawn in float64 NumPy and then moved to the caller's array library,
dtype and device, so every backend starts from the same numbers.

``"auto"``, the default, is scikit-learn's scheme, shared by :class:`~deltaprop.Network`
and the estimators (:func:`glorot_parameters`): weights *and* biases uniform in
``[-b, b]`` with ``b = sqrt(k / (n_in + n_out))`` and ``k`` the activation's
:attr:`~deltaprop.core.activations.Activation.glorot_numerator` (6, or scikit-learn's
smaller 2 for the sigmoid), for every activation, the ReLU family included. Against He
initialisation with zero biases, which ``"auto"`` drew before (CHANGELOG.md), it gains 2
points on MNIST-1D, ties on digits and trails by half a point on Fashion-MNIST after 20
epochs (``benchmarks/images.py``, BENCHMARKS.md).

The named schemes draw the weights only and start the biases at zero: ``glorot_*``
(Xavier) keep the variance of activations and gradients roughly constant through layers
with symmetric activations; ``he_*`` do the same for ReLU-like units, which zero half
their inputs.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from deltaprop.core.activations import Activation, get_activation

__all__ = [
    "INITIALIZERS",
    "MAX_WEIGHTS",
    "allocating",
    "check_weight_shape",
    "glorot_parameters",
    "initial_parameters",
    "make_rng",
]

#: The most numbers one layer's weight matrix may hold: what a float64 NumPy array can
#: address (``numpy.iinfo(numpy.intp).max // 8``, about 1.2e18 on 64-bit machines).
MAX_WEIGHTS = int(np.iinfo(np.intp).max // 8)


def check_weight_shape(n_in: int, n_out: int, what: str) -> None:
    """Refuse a layer whose ``n_in * n_out`` weights no array can hold.

    Parameters
    ----------
    n_in, n_out : int
        The layer's inputs and units.
    what : str
        The argument the sizes come from, for the message (``"hidden_layer_sizes"``).

    Raises
    ------
    ValueError
        When ``n_in * n_out > MAX_WEIGHTS``.
    """
    if n_in * n_out > MAX_WEIGHTS:
        raise ValueError(
            f"{what}: a layer of {n_in} inputs and {n_out} units would hold "
            f"{float(n_in * n_out):.3g} weights, more than an array can hold "
            f"({float(MAX_WEIGHTS):.3g}); use fewer units"
        )


@contextlib.contextmanager
def allocating(n_in: int, n_out: int, what: str) -> Iterator[None]:
    """Turn NumPy's MemoryError while drawing a layer's weights into one naming ``what``."""
    try:
        yield
    except MemoryError:
        gib = n_in * n_out * 8 / 2**30
        raise MemoryError(
            f"{what}: the {n_in} x {n_out} weights of a layer need {gib:.3g} GiB, more "
            "than this machine could allocate; use fewer units"
        ) from None


INITIALIZERS = ("auto", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal")


def make_rng(random_state: int | np.random.Generator | None) -> np.random.Generator:
    """A Generator from a seed, a Generator (used as is) or None (fresh entropy)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, int | np.integer):
        return np.random.default_rng(random_state)
    raise TypeError(f"random_state must be None, an int or a numpy Generator, got {random_state!r}")


def glorot_parameters(
    n_in: int, n_out: int, numerator: float, rng: Any
) -> tuple[np.ndarray, np.ndarray]:
    """The default scheme: weights, then biases, uniform in ``+-sqrt(numerator / (n_in + n_out))``.

    Parameters
    ----------
    n_in, n_out : int
        The layer's numbers of inputs and units.
    numerator : float
        ``k`` of the bound: the activation's ``glorot_numerator`` (6, or 2 for the sigmoid).
    rng : numpy.random.Generator or numpy.random.RandomState
        Anything with ``uniform(low, high, size)``; a ``RandomState`` seeded as
        scikit-learn's gives scikit-learn's numbers.

    Returns
    -------
    weights : ndarray of shape (n_in, n_out), float64
    bias : ndarray of shape (n_out,), float64
    """
    bound = math.sqrt(numerator / (n_in + n_out))
    weights = rng.uniform(-bound, bound, (n_in, n_out))
    return weights, rng.uniform(-bound, bound, n_out)


def initial_parameters(
    n_in: int, n_out: int, activation: str | Activation, init: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``(weights, bias)`` of shapes (n_in, n_out) and (n_out,) in float64.

    Parameters
    ----------
    n_in, n_out : int
        The layer's numbers of inputs and units.
    activation : str or Activation
        The layer's activation; ``init="auto"`` takes its ``glorot_numerator``.
    init : str
        One of :data:`INITIALIZERS`.
    rng : numpy.random.Generator

    Raises
    ------
    ValueError
        For an unknown ``init``.
    """
    if init == "auto":
        return glorot_parameters(n_in, n_out, get_activation(activation).glorot_numerator, rng)
    if init == "glorot_uniform":
        bound = math.sqrt(6.0 / (n_in + n_out))
        weights = rng.uniform(-bound, bound, (n_in, n_out))
    elif init == "glorot_normal":
        weights = rng.normal(0.0, math.sqrt(2.0 / (n_in + n_out)), (n_in, n_out))
    elif init == "he_uniform":
        bound = math.sqrt(6.0 / n_in)
        weights = rng.uniform(-bound, bound, (n_in, n_out))
    elif init == "he_normal":
        weights = rng.normal(0.0, math.sqrt(2.0 / n_in), (n_in, n_out))
    else:
        raise ValueError(f"init must be one of {list(INITIALIZERS)}, got {init!r}")
    return weights, np.zeros(n_out)
