"""Training: repeat forward pass, error, backward pass and update until a stop rule holds.

``batch_size=None`` is the textbook's full-batch gradient descent: each iteration uses
every sample. With ``batch_size=B`` the rows are shuffled every epoch by a seeded
generator and the parameters are updated after each batch of ``B`` rows; one iteration
is then one epoch. Training stops

- after ``max_iter`` iterations (``stop_reason == "max_iter"``);
- at the first iteration whose loss is ``<= target_loss`` (``"target_loss"``; in
  full-batch mode that iteration's update is not applied, so the network keeps the
  weights that reached the target);
- when ``tol`` is given and the loss has not improved by at least ``tol`` for
  ``n_iter_no_change`` iterations (``"no_improvement"``);
- when the loss stops being finite (``"diverged"``): the last finite weights are
  restored and a :class:`DivergenceWarning` says so.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

from ._validation import check_number
from ._xp import device, from_numpy, quiet_float_errors
from .initializers import make_rng
from .network import Network
from .optimizers import SGD, Optimizer

__all__ = ["DivergenceWarning", "History", "train"]


class DivergenceWarning(UserWarning):
    """Training stopped because the loss became NaN or infinite."""


@dataclass
class History:
    """What happened during :func:`train`.

    Attributes
    ----------
    loss : list of float
        One entry per iteration (epoch): the training loss computed in that iteration,
        before its update. With mini-batches, the sample-weighted mean of the batch
        losses.
    stop_reason : str or None
        ``"max_iter"``, ``"target_loss"``, ``"no_improvement"`` or ``"diverged"``.
    """

    loss: list[float] = field(default_factory=list)
    stop_reason: str | None = None

    @property
    def n_iter(self) -> int:
        """Number of completed iterations (epochs)."""
        return len(self.loss)


def train(
    net: Network,
    X: Any,
    y: Any,
    *,
    sample_weight: Any = None,
    optimizer: Optimizer | None = None,
    batch_size: int | None = None,
    max_iter: int = 200,
    target_loss: float | None = None,
    tol: float | None = None,
    n_iter_no_change: int = 10,
    random_state: Any = None,
) -> History:
    """Train ``net`` in place by backpropagation.

    Parameters
    ----------
    net : Network
    X : array of shape (n_samples, n_inputs)
    y : array of shape (n_samples, n_outputs), or (n_samples,) for one output
    sample_weight : array of shape (n_samples,), optional
    optimizer : Optimizer, default ``SGD(learning_rate=0.1)``
    batch_size : int or None, default None
        None for full-batch gradient descent.
    max_iter : int, default 200
        Maximum number of iterations (epochs with mini-batches).
    target_loss : float, optional
        Stop once an iteration's loss is at or below this value.
    tol : float, optional
        Minimum improvement; only when given, stop after ``n_iter_no_change``
        iterations without it.
    n_iter_no_change : int, default 10
    random_state : int, numpy Generator or None
        Seeds the shuffling of mini-batches; None uses ``net.random_state``.

    Returns
    -------
    History

    Raises
    ------
    ValueError, TypeError
        For bad data (see :meth:`Network.loss_and_gradients`) or hyper-parameters.

    Examples
    --------
    >>> import numpy as np
    >>> import deltaprop as dp
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> y = np.array([0.0, 1.0, 1.0, 0.0])
    >>> net = dp.Network([dp.Dense(2, 4), dp.Dense(4, 1)], random_state=0)
    >>> history = dp.train(net, X, y, optimizer=dp.SGD(learning_rate=2.0), max_iter=50)
    >>> history.n_iter, history.stop_reason
    (50, 'max_iter')
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a Network, got {type(net).__name__}")
    if optimizer is None:
        optimizer = SGD(learning_rate=0.1)
    elif not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be an Optimizer, got {type(optimizer).__name__}")
    max_iter = check_number("max_iter", max_iter, low=1, integer=True)
    batch_size = check_number("batch_size", batch_size, low=1, integer=True, allow_none=True)
    target_loss = check_number("target_loss", target_loss, allow_none=True)
    tol = check_number("tol", tol, low=0.0, allow_none=True)
    n_iter_no_change = check_number("n_iter_no_change", n_iter_no_change, low=1, integer=True)

    X, y, w, total_weight, xp = net._check_data(X, y, sample_weight)
    params = net._parameters_as(xp, X.dtype, device(X))
    net._set_parameters(params)
    n_samples = X.shape[0]
    full_batch = batch_size is None or batch_size >= n_samples
    seed = net.random_state if random_state is None else random_state
    rng = None if full_batch else make_rng(seed)

    history = History()
    last_finite = params
    best_loss, no_improvement = math.inf, 0
    with quiet_float_errors(xp):
        for iteration in range(1, max_iter + 1):
            if full_batch:
                loss, grads = net._loss_and_gradients(params, X, y, w, total_weight, xp=xp)
                if not math.isfinite(loss):
                    params = last_finite
                    _diverged(history, iteration, optimizer)
                    break
                history.loss.append(loss)
                if target_loss is not None and loss <= target_loss:
                    history.stop_reason = "target_loss"
                    break
                last_finite = params
                params = optimizer.step(params, grads, xp=xp)
            else:
                params, last_finite, loss = _epoch(
                    net, params, last_finite, X, y, w, batch_size, rng, optimizer, xp=xp
                )
                if loss is None:
                    params = last_finite
                    _diverged(history, iteration, optimizer)
                    break
                history.loss.append(loss)
                if target_loss is not None and loss <= target_loss:
                    history.stop_reason = "target_loss"
                    break
            if tol is not None:
                no_improvement = no_improvement + 1 if loss > best_loss - tol else 0
                best_loss = min(best_loss, loss)
                if no_improvement >= n_iter_no_change:
                    history.stop_reason = "no_improvement"
                    break
        else:
            history.stop_reason = "max_iter"
    net._set_parameters(params)
    return history


def _epoch(net, params, last_finite, X, y, w, batch_size, rng, optimizer, *, xp):
    """One pass over shuffled mini-batches.

    Returns the new parameters, the last parameters whose batch loss was finite, and
    the epoch's weighted mean loss (``None`` when a batch loss was not finite).
    """
    n_samples = X.shape[0]
    order = from_numpy(rng.permutation(n_samples), xp=xp, device=device(X))
    loss_sum, weight_sum = 0.0, 0.0
    for start in range(0, n_samples, batch_size):
        idx = order[start : min(start + batch_size, n_samples)]
        X_b, y_b = xp.take(X, idx, axis=0), xp.take(y, idx, axis=0)
        w_b = None if w is None else xp.take(w, idx, axis=0)
        batch_weight = float(idx.shape[0]) if w_b is None else float(xp.sum(w_b))
        if batch_weight == 0.0:  # every row of this batch has weight 0: nothing to learn
            continue
        loss, grads = net._loss_and_gradients(params, X_b, y_b, w_b, batch_weight, xp=xp)
        if not math.isfinite(loss):
            return params, last_finite, None
        loss_sum += loss * batch_weight
        weight_sum += batch_weight
        last_finite = params
        params = optimizer.step(params, grads, xp=xp)
    return params, last_finite, loss_sum / weight_sum


def _diverged(history: History, iteration: int, optimizer: Optimizer) -> None:
    history.stop_reason = "diverged"
    warnings.warn(
        f"training diverged at iteration {iteration}: the loss became NaN or infinite "
        f"with learning_rate={optimizer.learning_rate!r}; the last finite weights were "
        "kept. Try a smaller learning rate or standardise the inputs.",
        DivergenceWarning,
        stacklevel=3,
    )
