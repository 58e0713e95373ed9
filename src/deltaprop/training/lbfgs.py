"""The L-BFGS driver: SciPy runs the optimisation, the stop rules run in its callback.

:func:`run_lbfgs` works on a flat float64 vector and an objective
``x -> (loss, flat gradient)``, so that one driver serves the in-memory engine
(:func:`train_lbfgs`) and the Dask engine, whose objective sums the gradients of the
row blocks on a cluster.

With SciPy >= 1.15 the driver runs L-BFGS-B's reverse-communication routine itself
(:class:`LbfgsRun`, the loop of ``scipy.optimize.minimize(method="L-BFGS-B")`` written
out, so the iterates are SciPy's, bit for bit). Between two iterations the whole state
of the method lies in a few arrays (:data:`WORKSPACE`: the iterate, its loss and
gradient, the ``memory`` curvature pairs ``(s, y)`` and the line search's saved
scalars), which a :class:`~deltaprop.Checkpoint` saves and ``resume=`` puts back: the
resumed run takes the same steps as one that never stopped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np

from deltaprop.core.arrays import device, from_numpy
from deltaprop.core.flat import flatten as flatten_numpy
from deltaprop.core.flat import unflatten as unflatten_numpy
from deltaprop.core.network import Network
from deltaprop.kernels import data_term_for
from deltaprop.optim.optimizers import LBFGS
from deltaprop.training.stopping import Tracker

__all__ = [
    "WORKSPACE",
    "LbfgsRun",
    "can_checkpoint_lbfgs",
    "run_lbfgs",
    "train_lbfgs",
    "workspace_shapes",
]

#: L-BFGS-B's state between iterations: array name -> dtype (the names of SciPy's loop).
WORKSPACE = {
    "x": np.float64,
    "f": np.float64,
    "g": np.float64,
    "wa": np.float64,
    "iwa": np.int32,
    "task": np.int32,
    "ln_task": np.int32,
    "lsave": np.int32,
    "isave": np.int32,
    "dsave": np.float64,
}
# scipy.optimize.minimize's L-BFGS-B defaults that LBFGS does not set
_FTOL = 2.2204460492503131e-09
_MAX_LINE_SEARCH = 20
# L-BFGS-B's task codes (SciPy >= 1.15): evaluate f and g at x; a new iterate; stop
_FG, _NEW_X, _STOP = 3, 1, 5
_CONVERGED = 4
_STOP_MAX_FUN, _STOP_MAX_ITER = 502, 504


def workspace_shapes(n_parameters: int, memory: int) -> dict[str, tuple[int, ...]]:
    """The shape of each :data:`WORKSPACE` array for ``n_parameters`` and ``memory`` pairs."""
    n, m = n_parameters, memory
    return {
        "x": (n,),
        "f": (1,),
        "g": (n,),
        "wa": (2 * m * n + 5 * n + 11 * m * m + 8 * m,),
        "iwa": (3 * n,),
        "task": (2,),
        "ln_task": (2,),
        "lsave": (4,),
        "isave": (44,),
        "dsave": (29,),
    }


def _setulb() -> Any:
    """SciPy's L-BFGS-B routine with the interface of SciPy >= 1.15, or None."""
    try:
        import scipy  # optional dependency: the scipy extra
        from scipy.optimize import _lbfgsb  # private, but the routine minimize itself calls
    except ImportError:
        return None
    major, minor = (int(part) for part in scipy.__version__.split(".")[:2])
    if (major, minor) < (1, 15):  # older SciPy: Fortran interface with other arguments
        return None
    return _lbfgsb.setulb


def can_checkpoint_lbfgs() -> bool:
    """Whether this SciPy lets L-BFGS runs be checkpointed and resumed (SciPy >= 1.15)."""
    return _setulb() is not None


class LbfgsRun:
    """SciPy's L-BFGS-B, driven one reverse-communication call at a time.

    The loop of ``scipy.optimize.minimize(fun, x0, method="L-BFGS-B", jac=True)`` without
    bounds: the same calls with the same arguments, so the same iterates. Its
    :meth:`state` between iterations is what a checkpoint saves.

    Parameters
    ----------
    optimizer : LBFGS
        ``tol`` (``gtol``), ``max_fun``, ``memory`` and ``max_iter``.
    fun : callable
        ``fun(x) -> (loss, gradient)`` on float64 vectors of shape (n_parameters,).
    x0 : float64 array of shape (n_parameters,)
    max_iter : int
        Used when ``optimizer.max_iter`` is None.
    saved : dict, optional
        A :meth:`state` to continue from instead of starting at ``x0``.

    Attributes
    ----------
    f : float
        The loss at the current iterate.
    n_iterations, n_evaluations : int
        Iterations done and evaluations of ``fun`` (SciPy's ``nit`` and ``nfev``).
    """

    def __init__(
        self,
        optimizer: LBFGS,
        fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
        x0: np.ndarray,
        *,
        max_iter: int,
        saved: dict[str, Any] | None = None,
    ) -> None:
        setulb = _setulb()
        if setulb is None:
            raise ImportError("stepping L-BFGS-B needs SciPy >= 1.15")
        self._setulb, self._fun, self.optimizer = setulb, fun, optimizer
        self.max_iter = optimizer.max_iter if optimizer.max_iter is not None else max_iter
        self._cache: tuple[np.ndarray, float, np.ndarray] | None = None
        n = int(np.size(x0))
        self._bounds = (np.zeros(n), np.zeros(n), np.zeros(n, np.int32))
        if saved is None:
            shapes = workspace_shapes(n, optimizer.memory)
            self.arrays = {k: np.zeros(shapes[k], dtype) for k, dtype in WORKSPACE.items()}
            self.arrays["x"] = np.array(x0, dtype=np.float64)
            self.n_iterations, self.n_evaluations = 0, 0
            self.f: Any = np.array(0.0)  # as SciPy: a 0-d array until the first evaluation
            self.g = self.arrays["g"]
            first, _ = self._evaluate(self.arrays["x"])  # SciPy evaluates x0 up front
            self.first_loss = first
        else:
            self.arrays = {k: np.array(saved["arrays"][k], dtype=WORKSPACE[k]) for k in WORKSPACE}
            self.n_iterations = int(saved["n_iterations"])
            self.n_evaluations = int(saved["n_evaluations"])
            self.f, self.g = float(self.arrays["f"][0]), self.arrays["g"]
            self._cache = (self.arrays["x"].copy(), self.f, self.g.copy())
            self.first_loss = self.f
        self._resumed = saved is not None

    def _evaluate(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """``fun(x)``, evaluated once per distinct ``x`` (as SciPy's ScalarFunction)."""
        if self._cache is None or not np.array_equal(x, self._cache[0]):
            x = np.copy(x)
            f, g = self._fun(x)
            self.n_evaluations += 1
            self._cache = (x, float(f), np.atleast_1d(np.asarray(g, dtype=np.float64)))
        return self._cache[1], self._cache[2]

    def state(self) -> dict[str, Any]:
        """Copies of the workspace at the end of an iteration (for a checkpoint)."""
        arrays = {k: np.array(v, copy=True) for k, v in self.arrays.items()}
        arrays["f"] = np.array([float(self.f)])
        arrays["g"] = np.array(self.g, dtype=np.float64, copy=True)
        return {
            "n_iterations": self.n_iterations,
            "n_evaluations": self.n_evaluations,
            "arrays": arrays,
        }

    def _limits(self) -> None:
        """After an iteration: stop at ``max_iter`` iterations or ``max_fun`` evaluations."""
        task = self.arrays["task"]
        if self.n_iterations >= self.max_iter:
            task[0], task[1] = _STOP, _STOP_MAX_ITER
        elif self.n_evaluations > self.optimizer.max_fun:
            task[0], task[1] = _STOP, _STOP_MAX_FUN

    def run(self, callback: Callable[[np.ndarray], None]) -> SimpleNamespace:
        """Iterate until L-BFGS-B stops; ``callback(x)`` after each iteration.

        Returns
        -------
        SimpleNamespace
            ``x``, ``fun``, ``status`` (0 converged, 1 a limit, 2 the line search failed),
            ``nit`` and ``nfev``, as SciPy's OptimizeResult.
        """
        a, optimizer = self.arrays, self.optimizer
        low, high, bounded = self._bounds
        factr = _FTOL / np.finfo(float).eps
        if self._resumed:
            self._limits()
        while True:
            # SciPy's loop: a fresh float64 copy of g for every call
            self.g = np.asarray(self.g).astype(np.float64)
            self._setulb(
                optimizer.memory, a["x"], low, high, bounded, self.f, self.g, factr,
                optimizer.tol, a["wa"], a["iwa"], a["task"], a["lsave"], a["isave"],
                a["dsave"], _MAX_LINE_SEARCH, a["ln_task"],
            )  # fmt: skip
            if a["task"][0] == _FG:
                self.f, self.g = self._evaluate(a["x"])
            elif a["task"][0] == _NEW_X:
                self.n_iterations += 1
                callback(np.copy(a["x"]))
                self._limits()
            else:
                break
        if a["task"][0] == _CONVERGED:
            status = 0
        elif self.n_evaluations > optimizer.max_fun or self.n_iterations >= self.max_iter:
            status = 1
        else:
            status = 2
        return SimpleNamespace(
            x=a["x"], fun=self.f, status=status, nit=self.n_iterations, nfev=self.n_evaluations
        )


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

    Notes
    -----
    A run resumed from a checkpoint (``tracker.lbfgs_resume``, set by
    :func:`~deltaprop.training.checkpoint.restore`) continues from the saved workspace;
    ``x0`` is then the saved iterate. While it runs, ``tracker.lbfgs`` is the
    :class:`LbfgsRun` whose state checkpoints save.
    """
    history, watch = tracker.history, tracker.watch
    last: dict[str, Any] = {"x": None, "loss": math.nan}
    state: dict[str, Any] = {"iteration": tracker.first_iteration - 1, "params": to_params(x0)}

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
        return diverged(state["iteration"] + 1, problem)
    stepper: LbfgsRun | None = None
    try:
        if can_checkpoint_lbfgs():
            stepper = LbfgsRun(optimizer, fun, x0, max_iter=max_iter, saved=tracker.lbfgs_resume)
            tracker.lbfgs, first_loss = stepper, stepper.first_loss
        else:  # SciPy < 1.15: scipy.optimize.minimize runs it (no checkpoints)
            first_loss, _ = objective(x0)
        problem = watch.check_loss(first_loss)
        if problem is not None:
            return diverged(state["iteration"] + 1, problem)
        if stepper is not None:
            result = stepper.run(callback)
        else:
            result = optimizer.minimize(fun, x0, max_iter=max_iter, callback=callback)
    except _Stop as stop:
        if stop.problem is not None:
            return diverged(state["iteration"], stop.problem)
        history.stop_reason = stop.reason
        return state["params"]
    finally:
        tracker.lbfgs = None
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
