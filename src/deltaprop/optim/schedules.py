"""Learning-rate schedules: the learning rate as a function of the epoch.

A schedule is passed to :func:`deltaprop.train` as ``schedule=``. At the start of
training it is told the optimizer's learning rate (``initial``, the ``lr_0`` below); before
each epoch ``t = 1, 2, ...`` (one iteration in full-batch mode) ``train`` sets
``optimizer.learning_rate = schedule.learning_rate(t)``; after each epoch it reports the
epoch's losses to :meth:`Schedule.end_epoch`, which may ask training to stop. When
training ends the optimizer's learning rate is put back to ``lr_0`` (the rates used are in
``History.learning_rate``), so a reused optimizer does not compound the decay.

- ``Constant()``: ``lr_0``.
- ``InverseScaling(power_t, scale)``: ``lr_0 / (1 + scale (t - 1))**power_t``, which is
  ``lr_0 / t**power_t`` for ``scale = 1`` (scikit-learn's ``"invscaling"`` counts
  samples: ``scale = n_samples``).
- ``StepDecay(step_size, gamma)``: ``lr_0 * gamma**floor((t - 1) / step_size)``.
- ``ExponentialDecay(gamma)``: ``lr_0 * gamma**(t - 1)``.
- ``CosineAnnealing(t_max, min_learning_rate)``: ``lr_min + (lr_0 - lr_min) (1 +
  cos(pi (t - 1) / t_max)) / 2`` up to ``t = t_max + 1``, then ``lr_min``.
- ``ReduceOnPlateau(factor, patience, threshold, min_learning_rate, monitor)``: ``lr_0``,
  multiplied by ``factor`` whenever the monitored loss stops improving; training stops
  when a reduction is due at or below the floor (scikit-learn's ``"adaptive"``, see the class).

Schedules are not used with :class:`deltaprop.LBFGS`, which has no learning rate.

Schedules are resumable: :meth:`Schedule.state_dict` returns the parameters and what the
schedule has learnt so far (``initial``, and :class:`ReduceOnPlateau`'s current rate and
counters) and :meth:`Schedule.load_state_dict` puts it back, so that a schedule restored
after epoch ``k`` gives the same rates from epoch ``k + 1`` as one that never stopped
(checkpoints, :class:`deltaprop.Checkpoint`). The rate of every other schedule is a
function of the epoch number alone, which ``train`` keeps counting on resume.
"""

from __future__ import annotations

import math

from deltaprop.core.validation import check_number, check_state

__all__ = [
    "SCHEDULES",
    "Constant",
    "CosineAnnealing",
    "ExponentialDecay",
    "InverseScaling",
    "ReduceOnPlateau",
    "Schedule",
    "StepDecay",
]


class Schedule:
    """Base class: subclasses implement :meth:`_rate` (or override :meth:`learning_rate`).

    Examples
    --------
    >>> schedule = StepDecay(step_size=2, gamma=0.5)
    >>> schedule.reset(0.1)
    >>> [schedule.learning_rate(t) for t in range(1, 6)]
    [0.1, 0.1, 0.05, 0.05, 0.025]
    """

    #: Which loss :meth:`end_epoch` watches: ``"loss"`` or ``"val_loss"``.
    monitor: str = "loss"
    initial: float | None = None

    def reset(self, learning_rate: float) -> None:
        """Start a run whose initial learning rate is ``learning_rate``."""
        self.initial = check_number("learning_rate", learning_rate, low=0.0, low_open=True)

    def learning_rate(self, epoch: int) -> float:
        """The learning rate for epoch ``epoch`` (counted from 1)."""
        if self.initial is None:
            raise RuntimeError("call reset(learning_rate) before learning_rate(epoch)")
        if epoch < 1:
            raise ValueError(f"epoch must be >= 1, got {epoch!r}")
        return self._rate(epoch)

    def _rate(self, epoch: int) -> float:
        raise NotImplementedError

    def end_epoch(self, epoch: int, loss: float, val_loss: float | None = None) -> bool:
        """Report an epoch's training (and validation) loss; True asks training to stop."""
        return False

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"

    def _params(self) -> dict[str, object]:
        return {}

    #: Attributes that change during training (besides ``initial``), saved by
    #: :meth:`state_dict`. A subclass with more state lists it here.
    _dynamic_state: tuple[str, ...] = ()

    def state_dict(self) -> dict[str, object]:
        """The schedule's parameters and its state, as plain Python values.

        Returns
        -------
        dict
            ``"name"`` (the class name), ``"params"`` (the constructor arguments),
            ``"initial"`` (None before :meth:`reset`) and each attribute of
            ``_dynamic_state``.

        Examples
        --------
        >>> schedule = ReduceOnPlateau(patience=0)
        >>> schedule.reset(0.1)
        >>> schedule.end_epoch(1, 2.0), schedule.end_epoch(2, 3.0)
        (False, False)
        >>> state = schedule.state_dict()
        >>> state["current"], state["best"], state["bad_epochs"]
        (0.020000000000000004, 2.0, 0)
        >>> again = ReduceOnPlateau(patience=0)
        >>> again.load_state_dict(state)
        >>> again.learning_rate(3)
        0.020000000000000004
        """
        state: dict[str, object] = {
            "name": type(self).__name__,
            "params": dict(self._params()),
            "initial": self.initial,
        }
        for key in self._dynamic_state:
            state[key] = getattr(self, key)
        return state

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Restore the state saved by :meth:`state_dict` (the parameters are kept).

        Raises
        ------
        ValueError
            When ``state`` belongs to another schedule class or lacks a key.
        """
        check_state(state, self, "schedule", ("initial", *self._dynamic_state))
        initial = state["initial"]
        self.initial = None if initial is None else check_number("initial", initial, low=0.0)
        for key in self._dynamic_state:
            setattr(self, key, state[key])


class Constant(Schedule):
    """The same learning rate in every epoch."""

    def _rate(self, epoch):
        return self.initial


class InverseScaling(Schedule):
    """``lr_0 / (1 + scale (t - 1))**power_t``: ``lr_0 / t**power_t`` with the default scale.

    Parameters
    ----------
    power_t : float > 0, default 0.5
    scale : float > 0, default 1.0
        How much the time step advances per epoch. scikit-learn's ``"invscaling"``
        advances it by the number of training samples (``scale=n_samples``).

    Examples
    --------
    >>> schedule = InverseScaling(power_t=0.5)
    >>> schedule.reset(1.0)
    >>> [schedule.learning_rate(t) for t in (1, 4, 16)]
    [1.0, 0.5, 0.25]
    """

    def __init__(self, power_t: float = 0.5, scale: float = 1.0) -> None:
        self.power_t = check_number("power_t", power_t, low=0.0, low_open=True)
        self.scale = check_number("scale", scale, low=0.0, low_open=True)

    def _rate(self, epoch):
        return self.initial / (1.0 + self.scale * (epoch - 1)) ** self.power_t

    def _params(self):
        return {"power_t": self.power_t, "scale": self.scale}


class StepDecay(Schedule):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    Parameters
    ----------
    step_size : int >= 1
    gamma : float in (0, 1], default 0.1
    """

    def __init__(self, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = check_number("step_size", step_size, low=1, integer=True)
        self.gamma = check_number("gamma", gamma, low=0.0, low_open=True, high=1.0)

    def _rate(self, epoch):
        return self.initial * self.gamma ** ((epoch - 1) // self.step_size)

    def _params(self):
        return {"step_size": self.step_size, "gamma": self.gamma}


class ExponentialDecay(Schedule):
    """Multiply the learning rate by ``gamma`` every epoch: ``lr_0 * gamma**(t - 1)``.

    Parameters
    ----------
    gamma : float in (0, 1]
    """

    def __init__(self, gamma: float) -> None:
        self.gamma = check_number("gamma", gamma, low=0.0, low_open=True, high=1.0)

    def _rate(self, epoch):
        return self.initial * self.gamma ** (epoch - 1)

    def _params(self):
        return {"gamma": self.gamma}


class CosineAnnealing(Schedule):
    """Half a cosine from ``lr_0`` down to ``min_learning_rate`` over ``t_max`` epochs.

    ``lr_t = lr_min + (lr_0 - lr_min) (1 + cos(pi (t - 1) / t_max)) / 2`` for
    ``t <= t_max + 1``, and ``lr_min`` afterwards (no restarts).

    Parameters
    ----------
    t_max : int >= 1
    min_learning_rate : float >= 0, default 0.0
    """

    def __init__(self, t_max: int, min_learning_rate: float = 0.0) -> None:
        self.t_max = check_number("t_max", t_max, low=1, integer=True)
        self.min_learning_rate = check_number("min_learning_rate", min_learning_rate, low=0.0)

    def _rate(self, epoch):
        progress = min(epoch - 1, self.t_max) / self.t_max
        low = self.min_learning_rate
        return low + (self.initial - low) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def _params(self):
        return {"t_max": self.t_max, "min_learning_rate": self.min_learning_rate}


class ReduceOnPlateau(Schedule):
    """Multiply the learning rate by ``factor`` when the monitored loss stops improving.

    After each epoch the monitored loss ``L`` is compared with the best seen so far: an
    epoch is *bad* when ``L > best - threshold``; ``best = min(best, L)``. When the number
    of consecutive bad epochs exceeds ``patience``, either the learning rate is already
    ``<= min_learning_rate`` and training stops (``stop_reason == "min_learning_rate"``),
    or it is multiplied by ``factor`` and the count starts again.

    This is exactly scikit-learn's ``learning_rate="adaptive"`` (training loss, no early
    stopping) with ``ReduceOnPlateau(factor=0.2, patience=n_iter_no_change,
    threshold=tol, min_learning_rate=1e-6)``: scikit-learn divides by 5 when more than
    ``n_iter_no_change`` consecutive epochs fail to lower the loss by ``tol``, and stops
    when that happens with a learning rate at or below 1e-6.

    Parameters
    ----------
    factor : float in (0, 1), default 0.2
    patience : int >= 0, default 10
        Number of bad epochs tolerated; the reduction comes on bad epoch
        ``patience + 1``.
    threshold : float >= 0, default 1e-4
        Minimum decrease of the loss that counts as an improvement.
    min_learning_rate : float >= 0, default 1e-6
        The floor (see above).
    monitor : {"loss", "val_loss"}, default "loss"
        The training loss, or the validation loss (``train`` then needs
        ``validation_data`` or ``validation_fraction``).

    Examples
    --------
    >>> schedule = ReduceOnPlateau(factor=0.5, patience=1, threshold=0.1)
    >>> schedule.reset(0.1)
    >>> rates = []
    >>> for t, loss in enumerate([3.0, 2.0, 2.0, 2.0, 1.0, 1.0], start=1):
    ...     rates.append(schedule.learning_rate(t))
    ...     stop = schedule.end_epoch(t, loss)
    >>> rates
    [0.1, 0.1, 0.1, 0.1, 0.05, 0.05]
    """

    _dynamic_state = ("current", "best", "bad_epochs")

    def __init__(
        self,
        factor: float = 0.2,
        patience: int = 10,
        threshold: float = 1e-4,
        min_learning_rate: float = 1e-6,
        monitor: str = "loss",
    ) -> None:
        self.factor = check_number("factor", factor, low=0.0, low_open=True)
        if self.factor >= 1.0:
            raise ValueError(f"factor must be < 1, got {factor!r}")
        self.patience = check_number("patience", patience, low=0, integer=True)
        self.threshold = check_number("threshold", threshold, low=0.0)
        self.min_learning_rate = check_number("min_learning_rate", min_learning_rate, low=0.0)
        if monitor not in ("loss", "val_loss"):
            raise ValueError(f"monitor must be 'loss' or 'val_loss', got {monitor!r}")
        self.monitor = monitor
        self.current: float | None = None
        self.best = math.inf
        self.bad_epochs = 0

    def reset(self, learning_rate):
        super().reset(learning_rate)
        self.current = self.initial
        self.best = math.inf
        self.bad_epochs = 0

    def _rate(self, epoch):
        return self.current

    def load_state_dict(self, state):
        super().load_state_dict(state)
        current = state["current"]
        self.current = None if current is None else check_number("current", current, low=0.0)
        best = state["best"]
        if isinstance(best, bool) or not isinstance(best, int | float) or best != best:
            raise TypeError(f"best must be a number (inf allowed), got {best!r}")
        self.best = float(best)
        self.bad_epochs = check_number("bad_epochs", state["bad_epochs"], low=0, integer=True)

    def end_epoch(self, epoch, loss, val_loss=None):
        if self.current is None:
            raise RuntimeError("call reset(learning_rate) before end_epoch()")
        value = loss if self.monitor == "loss" else val_loss
        if value is None:
            raise ValueError("ReduceOnPlateau(monitor='val_loss') needs a validation loss")
        self.bad_epochs = self.bad_epochs + 1 if value > self.best - self.threshold else 0
        self.best = min(self.best, value)
        if self.bad_epochs > self.patience:
            if self.current <= self.min_learning_rate:
                return True
            self.current *= self.factor
            self.bad_epochs = 0
        return False

    def _params(self):
        return {
            "factor": self.factor,
            "patience": self.patience,
            "threshold": self.threshold,
            "min_learning_rate": self.min_learning_rate,
            "monitor": self.monitor,
        }


#: The built-in schedules by class name (used to rebuild one from a checkpoint).
SCHEDULES: dict[str, type[Schedule]] = {
    cls.__name__: cls
    for cls in (
        Constant,
        InverseScaling,
        StepDecay,
        ExponentialDecay,
        CosineAnnealing,
        ReduceOnPlateau,
    )
}
