"""Optimizers: how a gradient becomes a parameter update.

Each optimizer takes its hyper-parameters in ``__init__`` (validated there) and creates
its state (velocities, moments) on the first :meth:`Optimizer.step`, in the array
library, dtype and device of the parameters. ``learning_rate`` is a plain attribute so
that schedules can change it between steps.

Parameters and gradients travel as flat lists ``[W_0, b_0, W_1, b_1, ...]``; ``step``
returns the updated list and never modifies its inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._validation import check_number

__all__ = ["SGD", "Adam", "Optimizer"]


class Optimizer:
    """Base class for first-order optimizers."""

    learning_rate: float

    def step(self, params: Sequence[Any], grads: Sequence[Any], *, xp: Any) -> list[Any]:
        """Return updated parameters from the current ones and their gradients."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the state (velocities, moments, step count)."""


class SGD(Optimizer):
    """Gradient descent, optionally with classical or Nesterov momentum.

    Without momentum a step is exactly ``w <- w - learning_rate * g``. With momentum::

        v <- momentum * v - learning_rate * g
        w <- w + v                                  (classical)
        w <- w + momentum * v - learning_rate * g   (Nesterov, with the new v)

    Parameters
    ----------
    learning_rate : float, default 0.1
    momentum : float in [0, 1), default 0.0
    nesterov : bool, default False

    Examples
    --------
    >>> import numpy as np
    >>> SGD(learning_rate=0.5).step([np.array([1.0])], [np.array([0.2])], xp=np)
    [array([0.9])]
    """

    def __init__(
        self, learning_rate: float = 0.1, momentum: float = 0.0, nesterov: bool = False
    ) -> None:
        self.learning_rate = check_number("learning_rate", learning_rate, low=0.0, low_open=True)
        self.momentum = check_number("momentum", momentum, low=0.0)
        if self.momentum >= 1.0:
            raise ValueError(f"momentum must be < 1, got {momentum!r}")
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov must be a bool, got {nesterov!r}")
        if nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.nesterov = nesterov
        self.velocities: list[Any] | None = None

    def reset(self) -> None:
        self.velocities = None

    def step(self, params, grads, *, xp):
        lr = self.learning_rate
        if self.momentum == 0.0:
            return [p - lr * g for p, g in zip(params, grads, strict=True)]
        if self.velocities is None:
            self.velocities = [xp.zeros_like(p) for p in params]
        m = self.momentum
        self.velocities = [m * v - lr * g for v, g in zip(self.velocities, grads, strict=True)]
        if self.nesterov:
            return [
                p + m * v - lr * g for p, v, g in zip(params, self.velocities, grads, strict=True)
            ]
        return [p + v for p, v in zip(params, self.velocities, strict=True)]

    def __repr__(self) -> str:
        return (
            f"SGD(learning_rate={self.learning_rate!r}, momentum={self.momentum!r}, "
            f"nesterov={self.nesterov!r})"
        )


class Adam(Optimizer):
    """Adam (Kingma & Ba, Algorithm 1), with optional decoupled weight decay (AdamW).

    For step ``t = 1, 2, ...``::

        w <- w - learning_rate * weight_decay * w      (only when weight_decay > 0)
        m <- beta_1 m + (1 - beta_1) g
        v <- beta_2 v + (1 - beta_2) g^2
        w <- w - learning_rate * m_hat / (sqrt(v_hat) + epsilon)

    with ``m_hat = m / (1 - beta_1^t)`` and ``v_hat = v / (1 - beta_2^t)``. The decay is
    applied to every parameter, as ``torch.optim.AdamW`` does.

    Parameters
    ----------
    learning_rate : float, default 1e-3
    beta_1, beta_2 : float in [0, 1), defaults 0.9 and 0.999
    epsilon : float > 0, default 1e-8
    weight_decay : float >= 0, default 0.0
    """

    def __init__(
        self,
        learning_rate: float = 1e-3,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        self.learning_rate = check_number("learning_rate", learning_rate, low=0.0, low_open=True)
        self.beta_1 = check_number("beta_1", beta_1, low=0.0)
        self.beta_2 = check_number("beta_2", beta_2, low=0.0)
        for name, value in (("beta_1", self.beta_1), ("beta_2", self.beta_2)):
            if value >= 1.0:
                raise ValueError(f"{name} must be < 1, got {value!r}")
        self.epsilon = check_number("epsilon", epsilon, low=0.0, low_open=True)
        self.weight_decay = check_number("weight_decay", weight_decay, low=0.0)
        self.t = 0
        self.first_moments: list[Any] | None = None
        self.second_moments: list[Any] | None = None

    def reset(self) -> None:
        self.t = 0
        self.first_moments = self.second_moments = None

    def step(self, params, grads, *, xp):
        if self.first_moments is None:
            self.first_moments = [xp.zeros_like(p) for p in params]
            self.second_moments = [xp.zeros_like(p) for p in params]
        self.t += 1
        b1, b2, lr = self.beta_1, self.beta_2, self.learning_rate
        correction_1 = 1.0 - b1**self.t
        correction_2 = 1.0 - b2**self.t
        self.first_moments = [
            b1 * m + (1.0 - b1) * g for m, g in zip(self.first_moments, grads, strict=True)
        ]
        self.second_moments = [
            b2 * v + (1.0 - b2) * (g * g) for v, g in zip(self.second_moments, grads, strict=True)
        ]
        out = []
        for p, m, v in zip(params, self.first_moments, self.second_moments, strict=True):
            if self.weight_decay > 0.0:
                p = p - (lr * self.weight_decay) * p
            step = (m / correction_1) / (xp.sqrt(v / correction_2) + self.epsilon)
            out.append(p - lr * step)
        return out

    def __repr__(self) -> str:
        return (
            f"Adam(learning_rate={self.learning_rate!r}, beta_1={self.beta_1!r}, "
            f"beta_2={self.beta_2!r}, epsilon={self.epsilon!r}, "
            f"weight_decay={self.weight_decay!r})"
        )
