"""The L-BFGS driver: SciPy runs the optimisation, the stop rules run in its callback.

:func:`run_lbfgs` works on a flat float64 vector and an objective
``x -> (loss, flat gradient)``, so that one driver serves the in-memory engine
(:func:`train_lbfgs`) and the Dask engine, whose objective sums the gradients of the
row blocks on a cluster.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deltaprop.core.arrays import device, from_numpy
from deltaprop.core.flat import flatten as flatten_numpy
from deltaprop.core.flat import unflatten as unflatten_numpy
from deltaprop.core.network import Network
from deltaprop.kernels import data_term_for
from deltaprop.optim.optimizers import LBFGS
from deltaprop.training.stopping import Tracker

__all__ = ["run_lbfgs", "train_lbfgs"]


class _Stop(Exception):
    """Raised in SciPy's callback to end the optimisation with ``reason``."""

    def __init__(self, reason: str, problem: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.problem = reason, problem


def run_lbfgs(
    optimizer: LBFGS,
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    *,
    max_iter: int,
    tracker: Tracker,
    to_params: Callable[[np.ndarray], Any],
) -> Any:
    """Minimise ``objective`` from ``x0`` with ``optimizer``, under the tracker's stop rules.

    Parameters
    ----------
    optimizer : LBFGS
    objective : callable
        ``objective(x) -> (loss, gradient)``: ``x`` and the gradient float64 arrays of
        shape (n_parameters,), the loss a float (penalty included).
    x0 : float64 array of shape (n_parameters,)
    max_iter : int
    tracker : Tracker
        Records each accepted iterate (its loss, and ``to_params(x)`` for the rules).
    to_params : callable
        ``x -> parameters`` in the caller's form.

    Returns
    -------
    parameters
        ``to_params`` of the last accepted iterate (of ``x0`` when the first loss is
        not finite). A loss that is not finite or explodes, or weights that overflow,
        stop the run as diverged (``tracker.watch``, :mod:`deltaprop.training.divergence`).
    """
    history, watch = tracker.history, tracker.watch
    last: dict[str, Any] = {"x": None, "loss": math.nan}
    state: dict[str, Any] = {"iteration": 0, "params": to_params(x0)}

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grad = objective(x)
        last["x"], last["loss"] = x.copy(), loss
        return loss, grad

    def callback(x: np.ndarray) -> None:
        state["iteration"] += 1
        if last["x"] is not None and np.array_equal(x, last["x"]):
            loss = last["loss"]
        else:  # not expected: L-BFGS-B's last evaluation is the accepted point
            loss, _ = objective(x)
        params = to_params(x)
        problem = watch.check_loss(loss) or watch.check_weights(params)
        if problem is not None:
            raise _Stop("diverged", problem)
        state["params"] = params
        reason = tracker.end_iteration(state["iteration"], loss, params)
        if reason is not None:
            raise _Stop(reason)

    def diverged(iteration: int, problem: str) -> Any:
        watch.report(history, iteration, problem, optimizer=optimizer, stacklevel=5)
        return state["params"]

    problem = watch.start(state["params"], history)
    if problem is not None:
        return diverged(1, problem)
    problem = watch.check_loss(objective(x0)[0])
    if problem is not None:
        return diverged(1, problem)
    try:
        result = optimizer.minimize(fun, x0, max_iter=max_iter, callback=callback)
    except _Stop as stop:
        if stop.problem is not None:
            return diverged(state["iteration"], stop.problem)
        history.stop_reason = stop.reason
        return state["params"]
    final = to_params(result.x)
    # SciPy's result is the iterate it ended on, which the callback may not have seen
    problem = watch.check_loss(float(result.fun)) or watch.check_weights(final)
    if problem is not None:
        return diverged(state["iteration"] + 1, problem)
    history.stop_reason = optimizer.stop_reason(result, max_iter)
    return final


def train_lbfgs(
    net: Network,
    optimizer: LBFGS,
    params: list[Any],
    data: tuple[Any, Any, Any, float],
    *,
    max_iter: int,
    tracker: Tracker,
) -> list[Any]:
    """Train ``net`` from ``params`` on ``data = (X, y, w, total_weight)`` with L-BFGS.

    Returns
    -------
    list of arrays
        The parameters training ends with, in ``X``'s library, dtype and device.
    """
    X, y, w, total_weight = data
    xp = tracker.xp
    shapes = [tuple(p.shape) for p in params]
    dtype, dev = X.dtype, device(X)
    kernel = data_term_for(X, xp=xp)

    def to_params(x: np.ndarray) -> list[Any]:
        return [from_numpy(p, xp=xp, dtype=dtype, device=dev) for p in unflatten_numpy(x, shapes)]

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grads = net.objective(to_params(x), X, y, w, total_weight, xp=xp, data=kernel)
        return loss, _flat64(grads)

    return run_lbfgs(
        optimizer,
        objective,
        _flat64(params),
        max_iter=max_iter,
        tracker=tracker,
        to_params=to_params,
    )


def _flat64(arrays: Sequence[Any]) -> np.ndarray:
    return flatten_numpy(arrays, dtype=np.float64)
