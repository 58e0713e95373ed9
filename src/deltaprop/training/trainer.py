"""Training: repeat forward pass, error, backward pass and update until a stop rule holds.

``batch_size=None`` is the textbook's full-batch gradient descent: each iteration uses
every sample. With ``batch_size=B`` the rows are shuffled every epoch by a seeded
generator and the parameters are updated after each batch of ``B`` rows; one iteration
is then one epoch, and its loss is the sample-weighted mean of the batch losses. With
:class:`~deltaprop.LBFGS` SciPy runs the whole optimisation on all rows and one iteration
is one L-BFGS iteration.

After each iteration ``train`` records the loss (and the validation loss, when there is
validation data), then checks its stop rules in this order; the first that holds names
``History.stop_reason``:

- ``"target_loss"``: the iteration's loss is ``<= target_loss`` (in full-batch mode that
  iteration's update is not applied, so the network keeps the weights that reached it);
- ``"early_stopping"`` (``early_stopping=True``): the validation loss has not improved by
  at least ``tol`` (0 when None) for ``n_iter_no_change`` iterations; the weights with
  the lowest validation loss are restored at the end;
- ``"no_improvement"`` (only when ``tol`` is given and ``early_stopping`` is False): the
  training loss has not improved by at least ``tol`` for ``n_iter_no_change`` iterations;
- ``"min_learning_rate"``: the schedule (:class:`~deltaprop.optim.schedules.ReduceOnPlateau`)
  asked to stop;
- ``"callback"``: a callback returned True;
- ``"max_iter"`` after ``max_iter`` iterations (L-BFGS adds ``"converged"``,
  ``"max_fun"`` and ``"line_search_failed"``, see :class:`~deltaprop.LBFGS`).

A loss that stops being finite stops training at once (``"diverged"``): the last weights
with a finite loss are restored and a :class:`DivergenceWarning` names the iteration and
the learning rate.

Ctrl-C (SIGINT, in the main thread) stops training after the current batch with
``"interrupted"``; with validation data the weights with the lowest validation loss are
kept. A second Ctrl-C interrupts at once (``KeyboardInterrupt``).

:class:`~deltaprop.Checkpoint` (a callback) saves the state of training every few
iterations and ``resume=`` continues from it, giving bit-identical results to a run
that never stopped (:mod:`deltaprop.training.checkpoint`).

Randomness (the validation split, the mini-batch order, the dropout masks) comes from
one generator seeded by ``random_state`` (or ``net.random_state``), drawn in that order,
so the same seed gives bit-identical results.
"""

from __future__ import annotations

import importlib
import math
import numbers
import os
import signal
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltaprop.core._flat import flatten as flatten_numpy
from deltaprop.core._flat import unflatten as unflatten_numpy
from deltaprop.core._validation import check_number
from deltaprop.core._xp import (
    array_namespace,
    device,
    from_numpy,
    is_dask_collection,
    quiet_float_errors,
    to_numpy,
)
from deltaprop.core.backprop import forward_pass
from deltaprop.core.diagnostics import check_feature_scales
from deltaprop.core.initializers import make_rng
from deltaprop.core.network import Network
from deltaprop.kernels import data_term_for
from deltaprop.optim.optimizers import LBFGS, SGD, Optimizer
from deltaprop.optim.schedules import Schedule
from deltaprop.training import checkpoint as _checkpoint

__all__ = ["DivergenceWarning", "History", "train"]

Callback = Callable[[int, "History", Network], Any]


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
        losses. With L-BFGS, the loss at the iterate each iteration accepted.
    val_loss : list of float
        One entry per iteration when there is validation data (else empty): the
        weighted mean loss on the validation rows, without the L2 penalty and without
        dropout, of the weights at the end of the iteration.
    learning_rate : list of float
        The learning rate used in each iteration (empty for L-BFGS).
    best_iteration : int or None
        With validation data, the iteration (counted from 1) with the lowest
        validation loss; with ``early_stopping=True`` the network ends with its weights.
    stop_reason : str or None
        ``"max_iter"``, ``"target_loss"``, ``"no_improvement"``, ``"early_stopping"``,
        ``"min_learning_rate"``, ``"callback"``, ``"diverged"``, ``"interrupted"``, or for
        L-BFGS also
        ``"converged"``, ``"max_fun"`` and ``"line_search_failed"``.
    """

    loss: list[float] = field(default_factory=list)
    stop_reason: str | None = None
    val_loss: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    best_iteration: int | None = None

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
    optimizer: Optimizer | LBFGS | None = None,
    batch_size: int | None = None,
    shuffle: bool = True,
    max_iter: int = 200,
    target_loss: float | None = None,
    tol: float | None = None,
    n_iter_no_change: int = 10,
    random_state: Any = None,
    schedule: Schedule | None = None,
    validation_data: tuple[Any, ...] | None = None,
    validation_fraction: float | None = None,
    early_stopping: bool = False,
    callbacks: Callback | Sequence[Callback] | None = None,
    class_weight: str | Mapping[int, float] | None = None,
    client: Any = None,
    resume: str | os.PathLike | _checkpoint.TrainingState | None = None,
    cuda_graph: bool | None = None,
) -> History:
    """Train ``net`` in place by backpropagation.

    Parameters
    ----------
    net : Network
    X : array of shape (n_samples, n_inputs)
    y : array of shape (n_samples, n_outputs), or (n_samples,) for one output
    sample_weight : array of shape (n_samples,), optional
    optimizer : Optimizer or LBFGS, default ``SGD(learning_rate=0.1)``
        The same object may be passed to several calls: its state (velocities,
        moments, step count) carries over, a warm start.
    batch_size : int or None, default None
        None for full-batch gradient descent (required with LBFGS).
    shuffle : bool, default True
        With mini-batches, draw a new order of the rows every epoch; False takes the
        batches in the rows' order (as scikit-learn's ``shuffle=False``).
    max_iter : int, default 200
        Maximum number of iterations (epochs with mini-batches).
    target_loss : float, optional
        Stop once an iteration's loss is at or below this value.
    tol : float, optional
        Minimum improvement; only when given (or with ``early_stopping``), stop after
        ``n_iter_no_change`` iterations without it.
    n_iter_no_change : int, default 10
    random_state : int, numpy Generator or None
        Seeds the validation split, the mini-batch order and the dropout masks; None
        uses ``net.random_state``.
    schedule : Schedule, optional
        A learning-rate schedule from :mod:`deltaprop.optim.schedules`, applied per epoch.
    validation_data : tuple ``(X_val, y_val)`` or ``(X_val, y_val, w_val)``, optional
        Rows to compute ``History.val_loss`` on.
    validation_fraction : float in (0, 1), optional
        Instead of ``validation_data``: hold out this fraction of the training rows,
        drawn by the seeded generator, stratified by class when ``y`` holds class labels
        (one 0/1 column, or one-hot rows).
    early_stopping : bool, default False
        Stop when the validation loss has not improved by ``tol`` (0 when None) for
        ``n_iter_no_change`` iterations, and restore the weights with the lowest
        validation loss. Needs ``validation_data`` or ``validation_fraction``.
    callbacks : callable or list of callables, optional
        Each is called after every iteration as ``callback(iteration, history, net)``,
        with ``net`` holding the current weights; returning True stops training
        (``stop_reason == "callback"``).
    class_weight : "balanced" or mapping, optional
        Per-class weights multiplied into the sample weights of the training and the
        validation rows. Classes are the column index of a one-hot ``y`` (several
        columns, each row a single 1), or the value 0/1 of a single 0/1 column.
        ``"balanced"`` gives class ``c`` the weight ``n / (n_classes * n_c)`` counted
        on the training rows (as scikit-learn); a mapping gives weights by class, 1 for
        classes it leaves out.
    client : dask.distributed.Client, optional
        Only for ``dask`` inputs: ``X``, ``y`` (and ``sample_weight``) as dask arrays or
        DataFrames train on a Dask cluster through :func:`deltaprop.parallel.train`
        (this client, else the current one, else a local cluster): full-batch gradient
        descent, L-BFGS with an :class:`LBFGS` optimizer, or local SGD with
        ``batch_size``. See ``docs/scale.md``.
    resume : path or TrainingState, optional
        Continue the run saved by a :class:`~deltaprop.Checkpoint` (a checkpoint file,
        or a :class:`~deltaprop.training.checkpoint.TrainingState` read with
        :func:`deltaprop.load`) from the iteration after it. ``net``'s weights, the
        optimizer's state, the schedule's state, the random generator, the History and
        the stop rules' counters are taken from the checkpoint; ``max_iter`` counts
        the iterations before it too. ``optimizer=None`` and ``schedule=None`` rebuild
        the checkpoint's; given ones must be of the same class (their own
        hyper-parameters are used). With the same data, architecture, seed and settings
        the result is bit-identical to a run that never stopped. Not with LBFGS.
    cuda_graph : bool or None, default None
        For PyTorch tensors on a CUDA device, capture each training step (forward,
        backward, optimizer update) as a CUDA graph and replay it
        (:mod:`deltaprop.kernels.cuda_graph`). None: do so when the arrays are on a CUDA
        device, the optimizer is :class:`SGD` or :class:`Adam` and no layer has
        dropout (the environment variable ``DELTAPROP_CUDA_GRAPH=0`` turns this off);
        True: require it (ValueError otherwise); False: never. The gradients are the
        same; the updates equal the eager ones within float rounding. During
        callbacks the network's parameters are the buffers the graph updates in
        place: copy them to keep them.

    Returns
    -------
    History

    Raises
    ------
    ValueError, TypeError
        For bad data (see :meth:`Network.loss_and_gradients`) or hyper-parameters.

    Warns
    -----
    DivergenceWarning
        When the loss stops being finite.

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
    if is_dask_collection(X, y, sample_weight):
        return _train_on_dask(
            net,
            X,
            y,
            sample_weight=sample_weight,
            optimizer=optimizer,
            batch_size=batch_size,
            max_iter=max_iter,
            target_loss=target_loss,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            random_state=random_state,
            client=client,
            unsupported={
                "schedule": schedule is not None,
                "validation_data": validation_data is not None,
                "validation_fraction": validation_fraction is not None,
                "early_stopping": bool(early_stopping),
                "callbacks": bool(callbacks),
                "class_weight": class_weight is not None,
                "resume": resume is not None,
                "shuffle=False": not shuffle,
                "cuda_graph=True": cuda_graph is True,
            },
        )
    if client is not None:
        raise ValueError("client is only used with dask inputs; X is not a dask collection")
    resumed = None
    if resume is not None:
        resumed = _checkpoint.read_resume(resume)
        if optimizer is None:
            optimizer = resumed.make_optimizer()
        if schedule is None:
            schedule = resumed.make_schedule()
    if optimizer is None:
        optimizer = SGD(learning_rate=0.1)
    elif not isinstance(optimizer, Optimizer | LBFGS):
        raise TypeError(f"optimizer must be an Optimizer or LBFGS, got {type(optimizer).__name__}")
    max_iter = check_number("max_iter", max_iter, low=1, integer=True)
    batch_size = check_number("batch_size", batch_size, low=1, integer=True, allow_none=True)
    target_loss = check_number("target_loss", target_loss, allow_none=True)
    tol = check_number("tol", tol, low=0.0, allow_none=True)
    n_iter_no_change = check_number("n_iter_no_change", n_iter_no_change, low=1, integer=True)
    if schedule is not None and not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a Schedule, got {type(schedule).__name__}")
    if validation_fraction is not None:
        validation_fraction = check_number(
            "validation_fraction", validation_fraction, low=0.0, low_open=True, high=1.0
        )
        if validation_fraction >= 1.0:
            raise ValueError(f"validation_fraction must be < 1, got {validation_fraction!r}")
        if validation_data is not None:
            raise ValueError("give validation_data or validation_fraction, not both")
    if not isinstance(early_stopping, bool):
        raise TypeError(f"early_stopping must be a bool, got {early_stopping!r}")
    if not isinstance(shuffle, bool):
        raise TypeError(f"shuffle must be a bool, got {shuffle!r}")
    if cuda_graph is not None and not isinstance(cuda_graph, bool):
        raise TypeError(f"cuda_graph must be a bool or None, got {cuda_graph!r}")
    has_validation = validation_data is not None or validation_fraction is not None
    if early_stopping and not has_validation:
        raise ValueError("early_stopping=True needs validation_data or validation_fraction")
    if schedule is not None and schedule.monitor == "val_loss" and not has_validation:
        raise ValueError(
            "a schedule with monitor='val_loss' needs validation_data or validation_fraction"
        )
    callbacks = _check_callbacks(callbacks)
    checkpoints = [c for c in callbacks if isinstance(c, _checkpoint.Checkpoint)]
    if isinstance(optimizer, LBFGS) and (checkpoints or resumed is not None):
        raise ValueError("checkpoints and resume need a first-order optimizer, not LBFGS")
    if isinstance(optimizer, LBFGS):
        if batch_size is not None:
            raise ValueError(f"LBFGS is full-batch: batch_size must be None, got {batch_size!r}")
        if schedule is not None:
            raise ValueError("LBFGS has no learning rate: schedule must be None")
        if any(layer.dropout for layer in net.layers):
            raise ValueError("LBFGS needs a deterministic loss: remove the layers' dropout")
        if cuda_graph:
            raise ValueError("cuda_graph=True needs a first-order optimizer, not LBFGS")

    X, y, w, total_weight, xp = net._check_data(X, y, sample_weight)
    seed = net.random_state if random_state is None else random_state
    rng = make_rng(seed)
    initial_rng_state = rng.bit_generator.state

    validation = None
    if validation_fraction is not None:
        train_idx, val_idx = _split(_class_labels(y), X.shape[0], validation_fraction, rng)
        validation = tuple(_take(a, val_idx, xp=xp, like=X) for a in (X, y, w))
        X, y, w = (_take(a, train_idx, xp=xp, like=X) for a in (X, y, w))
    elif validation_data is not None:
        validation = _check_validation_data(net, validation_data, X, xp=xp)
    if class_weight is not None:
        weights_by_class = _class_weights(class_weight, y)
        w = _weighted(w, y, weights_by_class, "y", xp=xp, like=X)
        if validation is not None:
            X_v, y_v, w_v = validation
            validation = (X_v, y_v, _weighted(w_v, y_v, weights_by_class, "y_val", xp=xp, like=X))
    total_weight = float(X.shape[0]) if w is None else float(xp.sum(w))
    if total_weight <= 0.0:
        raise ValueError("the training rows' weights (after class_weight) are all zero")
    if validation is not None:
        X_v, y_v, w_v = validation
        total_v = float(X_v.shape[0]) if w_v is None else float(xp.sum(w_v))
        if total_v <= 0.0:
            raise ValueError("the validation rows' weights (after class_weight) are all zero")
        validation = (X_v, y_v, w_v, total_v)

    params = net._parameters_as(xp, X.dtype, device(X))
    net._set_parameters(params)
    history = History()
    tracker = _Tracker(
        net,
        history,
        validation,
        target_loss=target_loss,
        tol=tol,
        n_iter_no_change=n_iter_no_change,
        early_stopping=early_stopping,
        schedule=schedule,
        callbacks=callbacks,
        xp=xp,
    )
    tracker.optimizer, tracker.rng, tracker.initial_rng_state = optimizer, rng, initial_rng_state
    tracker.data_info = {
        "n_samples": X.shape[0],
        "n_features": X.shape[1],
        "n_outputs": y.shape[1],
        "batch_size": batch_size,
    }
    if resumed is not None:
        params = _checkpoint.restore(
            resumed,
            net=net,
            params=params,
            optimizer=optimizer,
            schedule=schedule,
            tracker=tracker,
            max_iter=max_iter,
            check_initial_rng=validation_fraction is not None,
            xp=xp,
        )
        net._set_parameters(params)
    data = (X, y, w, total_weight)
    with (
        _InterruptGuard() as interrupt,
        quiet_float_errors(xp),
        _checkpoint.attached(checkpoints, tracker),
    ):
        # a diverging run is reported by _diverged; Ctrl-C stops after the current batch
        tracker.interrupt = interrupt
        if isinstance(optimizer, LBFGS):
            params = _train_lbfgs(net, optimizer, params, data, max_iter=max_iter, tracker=tracker)
        else:
            optimizer._match_state(params, xp=xp)
            from deltaprop.kernels import cuda_graph as _graph

            static = _graph.choose(cuda_graph, net, optimizer, X)
            params = (_graph.train_static if static else _train_first_order)(
                net,
                optimizer,
                params,
                data,
                batch_size=batch_size,
                shuffle=shuffle,
                max_iter=max_iter,
                rng=rng,
                tracker=tracker,
            )
    keep_best = early_stopping or history.stop_reason == "interrupted"
    if keep_best and tracker.best_params is not None:
        params = tracker.best_params
    net._set_parameters(params)
    return history


def _train_first_order(
    net, optimizer, params, data, *, batch_size, shuffle, max_iter, rng, tracker
):
    """Steps of a first-order optimizer; ``data`` is ``(X, y, w, total_weight)``."""
    X, y, w, total_weight = data
    xp = tracker.xp
    n_samples = X.shape[0]
    full_batch = batch_size is None or batch_size >= n_samples
    draw_masks = _mask_drawer(net, rng, X)
    kernel = data_term_for(X, xp=xp, dropout=any(layer.dropout for layer in net.layers))
    last_finite = params if tracker.last_finite is None else tracker.last_finite

    def one_iteration(iteration: int) -> _Outcome:
        nonlocal params, last_finite
        if full_batch:
            masks = draw_masks(n_samples)
            loss, grads = net.objective(
                params, X, y, w, total_weight, xp=xp, masks=masks, data=kernel
            )
            if not math.isfinite(loss):
                return _Outcome(loss, params, last_finite, diverged=True)
            last_finite = params
            if tracker.target_loss is None or loss > tracker.target_loss:
                params = optimizer.step(params, grads, xp=xp)
            return _Outcome(loss, params, last_finite)
        params, last_finite, loss, bad_batch = _epoch(
            net,
            optimizer,
            params,
            last_finite,
            data,
            batch_size,
            shuffle,
            rng,
            draw_masks,
            kernel,
            tracker.interrupt,
        )
        return _Outcome(loss, params, last_finite, bad_batch is not None, bad_batch)

    return _first_order_loop(optimizer, max_iter, tracker, X, params, last_finite, one_iteration)


@dataclass
class _Outcome:
    """What one iteration of a first-order loop did."""

    loss: float
    params: list[Any]  # the parameters after the iteration
    last_finite: list[Any]  # the last parameters whose loss was finite
    diverged: bool = False  # the loss is not finite
    bad_batch: int | None = None  # the batch (from 1) whose loss was not finite


def _first_order_loop(
    optimizer, max_iter, tracker, X, params, last_finite, one_iteration, tracked=None
):
    """The iterations of a first-order optimizer, around ``one_iteration(iteration)``.

    Owns what the eager loop and :func:`deltaprop.kernels.cuda_graph.train_static` share: the
    learning-rate schedule (reset, or restored when resuming), divergence, the stop
    rules, and the check of the last update. ``tracked(params)`` is what the stop rules
    receive (default: ``params`` itself). Returns the parameters training ends with.
    """
    history, schedule = tracker.history, tracker.schedule
    initial_rate = optimizer.learning_rate
    if schedule is not None:
        schedule.reset(initial_rate)
        if tracker.schedule_state is not None:  # resuming
            schedule.load_state_dict(tracker.schedule_state)
    iteration = tracker.first_iteration
    try:
        for iteration in range(tracker.first_iteration, max_iter + 1):
            if schedule is not None:
                optimizer.learning_rate = schedule.learning_rate(iteration)
            history.learning_rate.append(optimizer.learning_rate)
            outcome = one_iteration(iteration)
            params, last_finite = outcome.params, outcome.last_finite
            if outcome.diverged:
                _diverged(history, iteration, outcome.bad_batch, outcome.loss, optimizer, X)
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
        if not _all_finite(params, xp=tracker.xp):  # the very last update overflowed
            _diverged(history, iteration, None, math.nan, optimizer, X)
            return last_finite
        return params
    finally:
        optimizer.learning_rate = initial_rate


def _epoch(
    net,
    optimizer,
    params,
    last_finite,
    data,
    batch_size,
    shuffle,
    rng,
    draw_masks,
    kernel,
    interrupt=None,
):
    """One pass over (shuffled) mini-batches of ``data = (X, y, w, total_weight)``.

    Returns the new parameters, the last parameters whose batch loss was finite, the
    epoch's weighted mean loss, and None, or, when a batch loss is not finite, that loss
    and the batch's number (from 1) as the last two items.
    """
    X, y, w, _ = data
    xp = array_namespace(X)
    n_samples = X.shape[0]
    order = rng.permutation(n_samples) if shuffle else np.arange(n_samples)
    order = from_numpy(order, xp=xp, device=device(X))
    loss_sum, weight_sum = 0.0, 0.0
    for batch, start in enumerate(range(0, n_samples, batch_size), start=1):
        idx = order[start : min(start + batch_size, n_samples)]
        X_b, y_b = xp.take(X, idx, axis=0), xp.take(y, idx, axis=0)
        w_b = None if w is None else xp.take(w, idx, axis=0)
        batch_weight = float(idx.shape[0]) if w_b is None else float(xp.sum(w_b))
        masks = draw_masks(idx.shape[0])
        if batch_weight == 0.0:  # every row of this batch has weight 0: nothing to learn
            continue
        loss, grads = net.objective(
            params, X_b, y_b, w_b, batch_weight, xp=xp, masks=masks, data=kernel
        )
        if not math.isfinite(loss):
            return params, last_finite, loss, batch
        loss_sum += loss * batch_weight
        weight_sum += batch_weight
        last_finite = params
        params = optimizer.step(params, grads, xp=xp)
        if interrupt is not None and interrupt.requested:
            interrupt.cut_short = start + batch_size < n_samples
            break  # Ctrl-C: the epoch's loss covers the batches done so far
    return params, last_finite, loss_sum / weight_sum, None


def _train_lbfgs(net, optimizer, params, data, *, max_iter, tracker):
    """Hand the optimisation to SciPy; the tracker's rules run in its callback."""
    X, y, w, total_weight = data
    xp = tracker.xp
    shapes = [tuple(p.shape) for p in params]
    dtype, dev = X.dtype, device(X)
    kernel = data_term_for(X, xp=xp)

    def unflatten(x: np.ndarray) -> list[Any]:
        return [from_numpy(p, xp=xp, dtype=dtype, device=dev) for p in unflatten_numpy(x, shapes)]

    def flatten(arrays: Sequence[Any]) -> np.ndarray:
        return flatten_numpy(arrays, dtype=np.float64)

    last = {"x": None, "loss": math.nan}

    def fun(x):
        loss, grads = net.objective(unflatten(x), X, y, w, total_weight, xp=xp, data=kernel)
        last["x"], last["loss"] = x.copy(), loss
        return loss, flatten(grads)

    state = {"iteration": 0, "params": params}

    def callback(x):
        state["iteration"] += 1
        current = unflatten(x)
        if last["x"] is not None and np.array_equal(x, last["x"]):
            loss = last["loss"]
        else:  # not expected: L-BFGS-B's last evaluation is the accepted point
            loss, _ = net.objective(current, X, y, w, total_weight, xp=xp, data=kernel)
        if not math.isfinite(loss):
            raise _Stop("diverged")
        state["params"] = current
        reason = tracker.end_iteration(state["iteration"], loss, current)
        if reason is not None:
            raise _Stop(reason)

    history = tracker.history
    first_loss, _ = net.objective(params, X, y, w, total_weight, xp=xp, data=kernel)
    if not math.isfinite(first_loss):
        _diverged(history, 1, None, first_loss, optimizer, X)
        return params
    try:
        result = optimizer.minimize(fun, flatten(params), max_iter=max_iter, callback=callback)
    except _Stop as stop:
        if stop.reason == "diverged":
            _diverged(history, state["iteration"], None, math.nan, optimizer, X)
        else:
            history.stop_reason = stop.reason
        return state["params"]
    if not math.isfinite(float(result.fun)):
        _diverged(history, state["iteration"], None, float(result.fun), optimizer, X)
        return state["params"]
    history.stop_reason = optimizer.stop_reason(result, max_iter)
    return unflatten(result.x)


class _InterruptGuard:
    """Turn Ctrl-C (SIGINT) into a request to stop after the current batch.

    Only the main thread can own signal handlers; elsewhere Ctrl-C keeps its default
    behaviour. A second Ctrl-C while a stop is pending interrupts at once.
    """

    def __init__(self) -> None:
        self.requested = False
        self.cut_short = False  # True when an epoch stopped before its last batch
        self._previous = None

    def _handler(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> _InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc_info) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class _Stop(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Tracker:
    """Per-iteration bookkeeping shared by every optimizer: History and stop rules."""

    def __init__(
        self,
        net,
        history,
        validation,
        *,
        target_loss,
        tol,
        n_iter_no_change,
        early_stopping,
        schedule,
        callbacks,
        xp,
    ):
        self.net, self.history, self.validation, self.xp = net, history, validation, xp
        self.target_loss, self.tol, self.n_iter_no_change = target_loss, tol, n_iter_no_change
        self.early_stopping, self.schedule, self.callbacks = early_stopping, schedule, callbacks
        self.best_loss, self.no_improvement = math.inf, 0
        self.best_val_loss, self.best_params = math.inf, None
        self.interrupt: _InterruptGuard | None = None
        # the run's state that checkpoints save and resume restores
        self.optimizer = self.rng = self.initial_rng_state = self.data_info = None
        self.last_finite = self.schedule_state = None
        self.first_iteration = 1

    def end_iteration(self, iteration: int, loss: float, params: list[Any]) -> str | None:
        """Record an iteration (``params``: the weights at its end); return a stop reason."""
        history, reasons = self.history, []
        history.loss.append(loss)
        if self.target_loss is not None and loss <= self.target_loss:
            reasons.append("target_loss")
        val_loss = None
        if self.validation is not None:
            val_loss = _validation_loss(self.net, params, *self.validation, xp=self.xp)
            history.val_loss.append(val_loss)
            if val_loss < self.best_val_loss:
                self.best_val_loss, self.best_params = val_loss, params
                history.best_iteration = iteration
        if self.early_stopping or self.tol is not None:
            monitored = val_loss if self.early_stopping else loss
            tol = self.tol or 0.0
            self.no_improvement = self.no_improvement + 1 if monitored > self.best_loss - tol else 0
            self.best_loss = min(self.best_loss, monitored)
            if self.no_improvement >= self.n_iter_no_change:
                reasons.append("early_stopping" if self.early_stopping else "no_improvement")
        if self.schedule is not None and self.schedule.end_epoch(iteration, loss, val_loss):
            reasons.append("min_learning_rate")
        if self.callbacks:
            self.net._set_parameters(params)
            for callback in self.callbacks:
                if callback(iteration, history, self.net) is True:
                    reasons.append("callback")
        if self.interrupt is not None and self.interrupt.requested:
            reasons.insert(0, "interrupted")
        return reasons[0] if reasons else None


def _validation_loss(net, params, X, y, w, total_weight, *, xp) -> float:
    zs, activations = forward_pass(net.layers, params, X, xp=xp)
    losses, _, _ = net.loss.output(y, zs[-1], activations[-1], net.layers[-1].activation, xp=xp)
    if w is not None:
        losses = losses * w
    return float(xp.sum(losses)) / total_weight


def _mask_drawer(net, rng, X):
    """A function ``n_rows -> masks`` (None when no layer has dropout)."""
    rates = [layer.dropout for layer in net.layers]
    if not any(rates):
        return lambda n_rows: None
    xp, dtype, dev = array_namespace(X), X.dtype, device(X)

    def draw(n_rows):
        masks = []
        for layer, p in zip(net.layers, rates, strict=True):
            if not p:
                masks.append(None)
                continue
            keep = rng.random((n_rows, layer.n_out)) >= p
            masks.append(from_numpy(keep / (1.0 - p), xp=xp, dtype=dtype, device=dev))
        return masks

    return draw


def _check_callbacks(callbacks) -> list[Callback]:
    if callbacks is None:
        return []
    if callable(callbacks):
        return [callbacks]
    if isinstance(callbacks, str) or not isinstance(callbacks, Sequence):
        raise TypeError(f"callbacks must be a callable or a list of callables, got {callbacks!r}")
    for i, callback in enumerate(callbacks):
        if not callable(callback):
            raise TypeError(f"callbacks[{i}] must be callable, got {callback!r}")
    return list(callbacks)


def _check_validation_data(net, validation_data, X, *, xp):
    if not isinstance(validation_data, tuple | list) or len(validation_data) not in (2, 3):
        raise TypeError(
            "validation_data must be a tuple (X_val, y_val) or (X_val, y_val, w_val), "
            f"got {type(validation_data).__name__}"
        )
    X_v, y_v, w_v = (*validation_data, None)[:3]
    try:
        X_v, y_v, w_v, _, xp_v = net._check_data(X_v, y_v, w_v)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"validation_data: {exc}") from None
    out = []
    for a in (X_v, y_v, w_v):
        if a is not None and (xp_v is not xp or a.dtype != X.dtype):
            a = from_numpy(to_numpy(a), xp=xp, dtype=X.dtype, device=device(X))
        out.append(a)
    return tuple(out)


def _class_labels(y) -> np.ndarray | None:
    """Integer class labels of ``y`` (n_samples, n_outputs), or None when it has none.

    One column of 0/1 values: the values. Several columns with a single 1 per row
    (one-hot): the column index of the 1.
    """
    y = to_numpy(y)
    if not bool(np.all((y == 0.0) | (y == 1.0))):
        return None
    if y.shape[1] == 1:
        return y[:, 0].astype(np.intp)
    if bool(np.all(y.sum(axis=1) == 1.0)):
        return np.argmax(y, axis=1)
    return None


def _split(labels, n_samples, fraction, rng):
    """Indices ``(train, validation)``, sorted; stratified when ``labels`` is not None."""
    if labels is None:
        groups = [np.arange(n_samples)]
    else:
        groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    train_idx, val_idx = [], []
    for group in groups:
        group = rng.permutation(group)
        n_val = round(fraction * group.size)
        val_idx.append(group[:n_val])
        train_idx.append(group[n_val:])
    train_idx, val_idx = np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(val_idx))
    if val_idx.size == 0 or train_idx.size == 0:
        raise ValueError(
            f"validation_fraction={fraction!r} of {n_samples} samples leaves "
            f"{val_idx.size} validation and {train_idx.size} training rows; both need >= 1"
        )
    return train_idx, val_idx


def _take(a, idx, *, xp, like):
    if a is None:
        return None
    return xp.take(a, from_numpy(idx, xp=xp, device=device(like)), axis=0)


def _class_weights(class_weight, y) -> dict[int, float]:
    labels = _class_labels(y)
    if labels is None:
        raise ValueError(
            "class_weight needs class labels: y must be a single column of 0/1 values or "
            "one-hot rows (a single 1 per row)"
        )
    n_classes = 2 if y.shape[1] == 1 else y.shape[1]
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be 'balanced' or a mapping, got {class_weight!r}")
        present, counts = np.unique(labels, return_counts=True)
        return {
            int(c): labels.size / (present.size * int(n))
            for c, n in zip(present, counts, strict=True)
        }
    if not isinstance(class_weight, Mapping):
        raise TypeError(
            f"class_weight must be 'balanced' or a mapping, got {type(class_weight).__name__}"
        )
    out = {}
    for key, value in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, numbers.Integral):
            raise TypeError(f"class_weight keys must be class indices (int), got {key!r}")
        if not 0 <= key < n_classes:
            raise ValueError(
                f"class_weight has class {key!r}, but y has classes 0..{n_classes - 1}"
            )
        out[int(key)] = check_number(f"class_weight[{key!r}]", value, low=0.0)
    return out


def _weighted(w, y, weights_by_class, name, *, xp, like):
    labels = _class_labels(y)
    if labels is None:
        raise ValueError(
            f"class_weight needs class labels: {name} must be a single column of 0/1 "
            "values or one-hot rows"
        )
    factors = np.array([weights_by_class.get(int(c), 1.0) for c in range(int(labels.max()) + 1)])
    per_row = from_numpy(factors[labels], xp=xp, dtype=like.dtype, device=device(like))
    return per_row if w is None else w * per_row


def _train_on_dask(net, X, y, *, unsupported, **kwargs) -> History:
    used = [name for name, given in unsupported.items() if given]
    if used:
        raise ValueError(
            f"{', '.join(used)} {'is' if len(used) == 1 else 'are'} not supported with dask "
            "inputs yet; train on NumPy arrays or drop these arguments"
        )
    # named, not imported: deltaprop.parallel sits above training (ARCHITECTURE.md, "ways up")
    return importlib.import_module("deltaprop.parallel").train(net, X, y, **kwargs)


def _all_finite(params: Sequence[Any], *, xp: Any) -> bool:
    return all(bool(xp.all(xp.isfinite(p))) for p in params)


def _diverged(history, iteration, batch, loss, optimizer, X) -> None:
    history.stop_reason = "diverged"
    where = f"iteration {iteration}" + (f", batch {batch}" if batch is not None else "")
    rate = getattr(optimizer, "learning_rate", None)
    with_rate = f" with learning_rate={rate!r}" if rate is not None else f" with {optimizer!r}"
    scales = check_feature_scales(X)
    if scales is not None:
        cause = f"Likely cause: unscaled inputs. {scales[0].upper()}{scales[1:]}."
        if rate is not None:
            cause += " Then, if it still diverges, try a smaller learning rate."
    elif rate is not None:
        cause = (
            f"Likely cause: the learning rate is too high (the inputs look scaled); try "
            f"learning_rate={rate / 10:.3g} or smaller."
        )
    else:
        cause = "Check the data and the loss for extreme values."
    warnings.warn(
        f"training diverged at {where}: the loss became {loss!r}{with_rate}; the last "
        f"weights with a finite loss were kept. {cause}",
        DivergenceWarning,
        stacklevel=4,
    )
