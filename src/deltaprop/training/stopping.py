"""The stop rules of training, written once for every optimizer and engine.

:class:`Tracker` records each iteration in the :class:`~deltaprop.History` and checks
the rules in :func:`deltaprop.train`'s order (target loss, early stopping or no
improvement, the schedule, the callbacks; a pending Ctrl-C first); it also holds the
state of the run that checkpoints save, and the run's divergence detector
(:class:`~deltaprop.training.divergence.Watch`). :class:`InterruptGuard` turns Ctrl-C
into a stop request.
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any

from deltaprop.core.network import Network
from deltaprop.optim.schedules import Schedule
from deltaprop.training.divergence import Watch
from deltaprop.training.history import History
from deltaprop.training.splits import validation_loss

__all__ = ["Callback", "InterruptGuard", "Tracker"]

#: ``callback(iteration, history, net)``; returning True stops training.
Callback = Callable[[int, History, Network], Any]


class InterruptGuard:
    """Turn Ctrl-C (SIGINT) into a request to stop after the current batch.

    Only the main thread can own signal handlers; elsewhere Ctrl-C keeps its default
    behaviour. A second Ctrl-C while a stop is pending interrupts at once. A process
    that ignores SIGINT (``SIG_IGN``, as a shell's background job inherits it) keeps
    ignoring it: the guard installs nothing then.

    Attributes
    ----------
    requested : bool
        Ctrl-C was pressed.
    cut_short : bool
        The epoch stopped before its last batch.
    """

    def __init__(self) -> None:
        self.requested = False
        self.cut_short = False
        self._previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is not threading.main_thread():
            return self
        previous = signal.getsignal(signal.SIGINT)
        if previous is signal.SIG_IGN:
            return self  # whoever started the process chose that Ctrl-C does nothing
        signal.signal(signal.SIGINT, self._handler)
        # None: a handler installed outside Python, which cannot be put back; the
        # default action is the closest
        self._previous = signal.SIG_DFL if previous is None else previous
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class Tracker:
    """Per-iteration bookkeeping shared by every optimizer and engine: History and stop rules.

    Parameters
    ----------
    net : Network
        Evaluated on the validation rows; callbacks receive it with the current weights.
    history : History
        Filled by :meth:`end_iteration`.
    validation : tuple ``(X_val, y_val, w_val, total_weight)``, callable or None
        The validation rows, or ``validation(params) -> float`` computing their loss
        (no penalty, no dropout) where they are not in this process.
    target_loss, tol, n_iter_no_change, early_stopping
        The stop rules, as :func:`deltaprop.train` takes them.
    schedule : Schedule or None
    callbacks : list of callables
    xp : namespace
        The parameters' array library.
    inputs : array of shape (n_samples, n_features) or None
        The training inputs, whose scales a divergence report checks (None: not known,
        as for data on a Dask cluster).
    sample_weight : array of shape (n_samples,) or None
        The training rows' weights, checked by a divergence report for extreme values.
    total_weight : float or None
        Their sum (or the number of rows): the divisor of the L2 penalty.

    Attributes
    ----------
    watch : Watch
        The divergence detector every solver reports to.
    interrupt : InterruptGuard or None
    optimizer, rng, initial_rng_state, data_info, options, last_finite, schedule_state,
    first_iteration
        The state of the run that checkpoints save and ``resume`` restores.
    lbfgs, lbfgs_resume
        The running L-BFGS (its workspace is what checkpoints save), and the saved
        workspace a resumed L-BFGS run continues from.
    """

    def __init__(
        self,
        net: Network,
        history: History,
        validation: tuple[Any, Any, Any, float] | Callable[[Any], float] | None,
        *,
        target_loss: float | None,
        tol: float | None,
        n_iter_no_change: int,
        early_stopping: bool = False,
        schedule: Schedule | None = None,
        callbacks: Sequence[Callback] = (),
        xp: Any,
        inputs: Any = None,
        sample_weight: Any = None,
        total_weight: float | None = None,
    ) -> None:
        self.net, self.history, self.validation, self.xp = net, history, validation, xp
        self.target_loss, self.tol, self.n_iter_no_change = target_loss, tol, n_iter_no_change
        self.early_stopping, self.schedule = early_stopping, schedule
        self.callbacks = list(callbacks)
        self.inputs = inputs
        self.watch = Watch(net, inputs, sample_weight, total_weight, xp=xp)
        self.best_loss, self.no_improvement = math.inf, 0
        self.best_val_loss: float = math.inf
        self.best_params: list[Any] | None = None
        self.interrupt: InterruptGuard | None = None
        self.optimizer: Any = None
        self.rng: Any = None
        self.initial_rng_state: Any = None
        self.data_info: dict[str, Any] = {}
        self.options: dict[str, Any] = {}
        self.last_finite: list[Any] | None = None
        self.schedule_state: dict[str, Any] | None = None
        self.first_iteration = 1
        self.lbfgs: Any = None
        self.lbfgs_resume: dict[str, Any] | None = None

    def reached_target(self, loss: float) -> bool:
        """Whether ``loss`` is at or below ``target_loss``."""
        return self.target_loss is not None and loss <= self.target_loss

    def end_iteration(self, iteration: int, loss: float, params: Any) -> str | None:
        """Record an iteration (``params``: the weights at its end); return a stop reason."""
        reasons = []
        self.history.loss.append(loss)
        if self.reached_target(loss):
            reasons.append("target_loss")
        val_loss = self._record_validation(iteration, params)
        if self._stalled(loss, val_loss):
            reasons.append("early_stopping" if self.early_stopping else "no_improvement")
        if self.schedule is not None and self.schedule.end_epoch(iteration, loss, val_loss):
            reasons.append("min_learning_rate")
        if self.callbacks:
            self.net._set_parameters(params)
            for callback in self.callbacks:
                if callback(iteration, self.history, self.net) is True:
                    reasons.append("callback")
        if self.interrupt is not None and self.interrupt.requested:
            reasons.insert(0, "interrupted")
        return reasons[0] if reasons else None

    def _record_validation(self, iteration: int, params: Any) -> float | None:
        if self.validation is None:
            return None
        if callable(self.validation):  # rows held elsewhere (a Dask cluster) compute it
            val_loss = float(self.validation(params))
        else:
            val_loss = validation_loss(self.net, params, *self.validation, xp=self.xp)
        self.history.val_loss.append(val_loss)
        if val_loss < self.best_val_loss:
            self.best_val_loss, self.best_params = val_loss, params
            self.history.best_iteration = iteration
        return val_loss

    def _stalled(self, loss: float, val_loss: float | None) -> bool:
        """Count iterations without improvement; True after ``n_iter_no_change``."""
        if not (self.early_stopping or self.tol is not None):
            return False
        # early_stopping always has validation rows, hence a val_loss
        monitored = val_loss if self.early_stopping and val_loss is not None else loss
        tol = self.tol or 0.0
        self.no_improvement = self.no_improvement + 1 if monitored > self.best_loss - tol else 0
        self.best_loss = min(self.best_loss, monitored)
        return self.no_improvement >= self.n_iter_no_change
