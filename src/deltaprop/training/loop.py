"""The one iteration loop of first-order training, and the pieces its iterations share.

:func:`first_order_loop` owns what every first-order engine does around an iteration:
the learning-rate schedule (reset, or restored when resuming), divergence (one detector,
:class:`~deltaprop.training.divergence.Watch`), the stop rules of a
:class:`~deltaprop.training.stopping.Tracker`, and the check of the last
update. An engine plugs in ``one_iteration(iteration) -> Outcome``: the eager step
(:mod:`deltaprop.training.eager`), the static-buffer step that CUDA graphs replay
(:mod:`deltaprop.training.static`) and the Dask engine's full-batch and local-SGD
rounds (:mod:`deltaprop.parallel`).

:func:`full_batch_iteration` is one full-batch step, :func:`batch_order` and
:func:`run_epoch` one epoch of mini-batches, for whichever step computes the losses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deltaprop.core.arrays import device, from_numpy
from deltaprop.training.stopping import InterruptGuard, Tracker

__all__ = ["Outcome", "batch_order", "first_order_loop", "full_batch_iteration", "run_epoch"]


@dataclass
class Outcome:
    """What one iteration of a first-order loop did.

    Attributes
    ----------
    loss : float
        The iteration's loss (not finite when it diverged).
    params : list of arrays
        The parameters after the iteration.
    last_finite : list of arrays
        The last parameters whose loss was finite.
    diverged : bool
        The loss is not finite or exploded (no update was applied with it).
    bad_batch : int or None
        The batch (from 1) whose loss was unsound.
    skipped : bool
        Nothing was learnt (every row had weight 0): the iteration leaves no trace in
        the History.
    """

    loss: float
    params: Any
    last_finite: Any
    diverged: bool = False
    bad_batch: int | None = None
    skipped: bool = False


def first_order_loop(
    optimizer: Any,
    max_iter: int,
    tracker: Tracker,
    params: Any,
    last_finite: Any,
    one_iteration: Callable[[int], Outcome],
    tracked: Callable[[Any], Any] | None = None,
    state: Callable[[], Sequence[Any]] | None = None,
) -> Any:
    """The iterations of a first-order optimizer, around ``one_iteration(iteration)``.

    After each iteration ``tracker.watch`` checks the loss (not finite, or exploded) and
    the weights and optimizer state (not finite, or overflowing): a divergence stops
    the run (:mod:`deltaprop.training.divergence`). After an unsound loss the run ends
    with ``last_finite`` (the engines apply no update with an unsound loss); after
    overflowing weights, with the weights whose loss the iteration computed, and that
    loss is recorded.

    Parameters
    ----------
    optimizer : Optimizer
        Its ``learning_rate`` is set by ``tracker.schedule`` each iteration and restored
        at the end.
    max_iter : int
        The last iteration (counted from 1, resumed runs included).
    tracker : Tracker
        Its History, stop rules, divergence detector and resume state
        (``first_iteration``, ``schedule_state``); ``tracker.last_finite`` is kept up to
        date.
    params, last_finite : list of arrays
        The parameters to start from, and the last ones with a finite loss.
    one_iteration : callable
        ``one_iteration(iteration) -> Outcome``.
    tracked : callable, optional
        ``tracked(params)`` is what the stop rules receive (default: ``params`` itself).
    state : callable, optional
        ``state()`` returns the optimizer's state arrays (default:
        ``optimizer.state_arrays()``).

    Returns
    -------
    list of arrays
        The parameters training ends with (the last sound ones after a divergence).
    """
    history, schedule, watch = tracker.history, tracker.schedule, tracker.watch
    state = optimizer.state_arrays if state is None else state
    initial_rate = optimizer.learning_rate
    if schedule is not None:
        schedule.reset(initial_rate)
        if tracker.schedule_state is not None:  # resuming
            schedule.load_state_dict(tracker.schedule_state)
    problem = watch.start(params, history)
    if problem is not None:
        watch.report(history, tracker.first_iteration, problem, optimizer=optimizer)
        return params
    try:
        for iteration in range(tracker.first_iteration, max_iter + 1):
            if schedule is not None:
                optimizer.learning_rate = schedule.learning_rate(iteration)
            history.learning_rate.append(optimizer.learning_rate)
            outcome = one_iteration(iteration)
            if outcome.skipped:
                history.learning_rate.pop()
                continue
            params, last_finite = outcome.params, outcome.last_finite
            problem = watch.check_loss(outcome.loss)
            if problem is None:
                problem = watch.check_weights(params, state())
                if problem is not None:  # the loss is sound: that of the weights kept
                    history.loss.append(outcome.loss)
            if problem is not None:
                watch.report(
                    history, iteration, problem, optimizer=optimizer, batch=outcome.bad_batch
                )
                return last_finite
            tracker.last_finite = last_finite
            reason = tracker.end_iteration(
                iteration, outcome.loss, params if tracked is None else tracked(params)
            )
            if reason is not None:
                history.stop_reason = reason
                break
        else:
            history.stop_reason = "max_iter"
        return params
    finally:
        optimizer.learning_rate = initial_rate


def full_batch_iteration(
    loss_and_gradients: Callable[[Any], tuple[float, list[Any]]],
    optimizer: Any,
    params: Any,
    last_finite: Any,
    tracker: Tracker,
    *,
    xp: Any,
) -> Outcome:
    """One full-batch step: the loss at ``params``, then the update unless it diverged.

    In full-batch mode a loss that reaches ``target_loss`` keeps the weights that
    reached it: the update is not applied.

    Parameters
    ----------
    loss_and_gradients : callable
        ``loss_and_gradients(params) -> (loss, grads)``, the penalised objective.
    optimizer : Optimizer
    params, last_finite : list of arrays
    tracker : Tracker
    xp : namespace
    """
    loss, grads = loss_and_gradients(params)
    if tracker.watch.unsound(loss):  # not finite, or exploded
        return Outcome(loss, params, last_finite, diverged=True)
    if tracker.reached_target(loss):
        return Outcome(loss, params, params)
    return Outcome(loss, optimizer.step(params, grads, xp=xp), params)


def batch_order(
    rng: np.random.Generator, n_samples: int, shuffle: bool, *, xp: Any, like: Any
) -> Any:
    """The order of the rows for one epoch: a fresh permutation when ``shuffle``.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_samples : int
    shuffle : bool
    xp : namespace
    like : array
        The order is made on its device.

    Returns
    -------
    int array of shape (n_samples,)
    """
    order = rng.permutation(n_samples) if shuffle else np.arange(n_samples)
    return from_numpy(order, xp=xp, device=device(like))


#: ``batch_step(start, stop) -> (loss, batch_weight, update)`` for rows ``order[start:stop]``.
BatchStep = Callable[[int, int], tuple[float, float, Callable[[], None] | None]]


def run_epoch(
    batch_step: BatchStep,
    n_samples: int,
    batch_size: int,
    interrupt: InterruptGuard | None,
    unsound: Callable[[float], bool] = lambda loss: not math.isfinite(loss),
) -> tuple[float, int | None]:
    """One pass over the mini-batches; ``update()`` runs for each batch with a sound loss.

    ``unsound(loss)`` says whether a batch's loss ends the epoch as diverged (default:
    it is not finite; the engines pass ``tracker.watch.unsound``, which adds exploded).

    Batches whose weights are all 0 are skipped (nothing to learn). Ctrl-C stops after
    the current batch, and the epoch's loss covers the batches done so far.

    Returns
    -------
    loss : float
        The sample-weighted mean of the batch losses, or the first unsound loss.
    bad_batch : int or None
        The batch (from 1) of an unsound loss.
    """
    loss_sum, weight_sum = 0.0, 0.0
    for batch, start in enumerate(range(0, n_samples, batch_size), start=1):
        loss, batch_weight, update = batch_step(start, min(start + batch_size, n_samples))
        if batch_weight == 0.0 or update is None:
            continue
        if unsound(loss):
            return loss, batch
        loss_sum += loss * batch_weight
        weight_sum += batch_weight
        update()
        if interrupt is not None and interrupt.requested:
            interrupt.cut_short = start + batch_size < n_samples
            break
    return loss_sum / weight_sum, None
