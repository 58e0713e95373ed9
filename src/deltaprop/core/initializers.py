"""Initial weights, drawn from a seeded :class:`numpy.random.Generator`.

Weights are always drawn in float64 NumPy and then moved to the caller's array library,
dtype and device, so every backend starts from the same numbers.

``glorot_*`` (Xavier) keep the variance of activations and gradients roughly constant
through layers with symmetric activations; ``he_*`` do the same for ReLU-like units,
which zero half their inputs. ``"auto"`` asks the activation
(:attr:`~deltaprop.core.activations.Activation.auto_init`): He uniform for the ReLU
family, Glorot uniform otherwise, with the bound ``sqrt(k / (n_in + n_out))`` of the
activation's ``glorot_numerator`` ``k`` (scikit-learn's smaller 2 for the sigmoid).
Biases start at zero.
"""

from __future__ import annotations

import math

import numpy as np

from deltaprop.core.activations import Activation, get_activation

__all__ = ["INITIALIZERS", "initial_parameters", "make_rng"]

INITIALIZERS = ("auto", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal")


def make_rng(random_state: int | np.random.Generator | None) -> np.random.Generator:
    """A Generator from a seed, a Generator (used as is) or None (fresh entropy)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, int | np.integer):
        return np.random.default_rng(random_state)
    raise TypeError(f"random_state must be None, an int or a numpy Generator, got {random_state!r}")


def initial_parameters(
    n_in: int, n_out: int, activation: str | Activation, init: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``(weights, bias)`` of shapes (n_in, n_out) and (n_out,) in float64.

    Parameters
    ----------
    n_in, n_out : int
        The layer's numbers of inputs and units.
    activation : str or Activation
        The layer's activation; ``init="auto"`` draws what it asks for.
    init : str
        One of :data:`INITIALIZERS`.
    rng : numpy.random.Generator

    Raises
    ------
    ValueError
        For an unknown ``init``.
    """
    glorot_numerator = 6.0
    if init == "auto":
        activation = get_activation(activation)
        init, glorot_numerator = activation.auto_init, activation.glorot_numerator
    if init == "glorot_uniform":
        bound = math.sqrt(glorot_numerator / (n_in + n_out))
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
