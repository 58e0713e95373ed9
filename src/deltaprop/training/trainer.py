"""Training: repeat forward pass, error, backward pass and update until a stop rule holds.

With nothing but the network and the data, ``train`` uses its defaults
(:mod:`deltaprop.training.defaults`, the estimators' too): ``Adam(learning_rate=1e-3)`` in
mini-batches of ``min(200, n_samples)`` rows for 200 epochs.

``batch_size=None`` is the textbook's full-batch gradient descent: each iteration uses
every sample (the default when an optimizer is given). With ``batch_size=B`` the rows are
shuffled every epoch by a seeded
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

A loss that stops being finite or explodes (above 1e6 times the first loss and above
1e3), or weights (or an optimizer state) that overflow, stop training at once
(``"diverged"``): the last sound weights are restored, ``History.divergence`` records what
happened and its probable cause (a penalty too large, a learning rate too high, unscaled
or extreme inputs...), and a :class:`DivergenceWarning` says it
(:mod:`deltaprop.training.divergence`). An optimizer state that overflowed is reset
(``optimizer.reset()``), so that a warm start does not inherit it.

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
import os
from collections.abc import Mapping, Sequence
from typing import Any

from deltaprop.core.arrays import device, is_dask_collection, quiet_float_errors
from deltaprop.core.initializers import make_rng
from deltaprop.core.network import Network
from deltaprop.core.validation import check_number
from deltaprop.optim.optimizers import LBFGS, Optimizer
from deltaprop.optim.schedules import Schedule
from deltaprop.training.checkpoint import (
    Checkpoint,
    TrainingState,
    attached,
    data_fingerprint,
    read_resume,
    restore,
    run_options,
)
from deltaprop.training.defaults import MAX_ITER, auto_batch_size, default_optimizer
from deltaprop.training.divergence import forget_overflowed_state
from deltaprop.training.eager import train_eager
from deltaprop.training.history import DivergenceWarning, History
from deltaprop.training.lbfgs import can_checkpoint_lbfgs, train_lbfgs
from deltaprop.training.splits import prepare_rows
from deltaprop.training.static import choose, train_static
from deltaprop.training.stopping import Callback, InterruptGuard, Tracker

__all__ = [
    "DivergenceWarning",
    "History",
    "check_callbacks",
    "check_lbfgs",
    "check_validation",
    "train",
]


def train(
    net: Network,
    X: Any,
    y: Any,
    *,
    sample_weight: Any = None,
    optimizer: Optimizer | LBFGS | None = None,
    batch_size: int | str | None = "auto",
    shuffle: bool = True,
    max_iter: int = MAX_ITER,
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
    resume: str | os.PathLike | TrainingState | None = None,
    cuda_graph: bool | None = None,
) -> History:
    """Train ``net`` in place by backpropagation.

    Parameters
    ----------
    net : Network
    X : array of shape (n_samples, n_inputs)
    y : array of shape (n_samples, n_outputs), or (n_samples,) for one output
    sample_weight : array of shape (n_samples,), optional
    optimizer : Optimizer or LBFGS, default ``Adam(learning_rate=1e-3)``
        The same object may be passed to several calls: its state (velocities,
        moments, step count) carries over, a warm start. (Before this release the default
        was ``SGD(learning_rate=0.1)`` on the full batch: pass
        ``optimizer=dp.SGD(learning_rate=0.1)`` for it.) Dask inputs keep the Dask
        engine's default, full-batch ``SGD(learning_rate=0.1)``.
    batch_size : int, None or "auto", default "auto"
        Rows per mini-batch; None for full-batch gradient descent (required with
        LBFGS). ``"auto"``: ``min(200, n_training_rows)`` with the default optimizer,
        the full batch when ``optimizer`` is given (as before), the checkpoint's when
        resuming with ``optimizer=None``.
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
        ``batch_size``. Every other argument keeps its meaning there (validation rows,
        early stopping, schedules, callbacks, checkpoints, class weights, dropout);
        ``cuda_graph=True`` is refused. See ``docs/scale.md``'s parity table.
    resume : path or TrainingState, optional
        Continue the run saved by a :class:`~deltaprop.Checkpoint` (a checkpoint file,
        or a :class:`~deltaprop.training.checkpoint.TrainingState` read with
        :func:`deltaprop.load`) from the iteration after it. ``net``'s weights, the
        optimizer's state, the schedule's state, the random generator, the History and
        the stop rules' counters are taken from the checkpoint; ``max_iter`` counts
        the iterations before it too. ``optimizer=None`` and ``schedule=None`` rebuild
        the checkpoint's; given ones must be of the same class (their own
        hyper-parameters are used). With the same data, architecture, seed and settings
        the result is bit-identical to a run that never stopped. LBFGS too (SciPy >= 1.15):
        its L-BFGS-B workspace (curvature pairs, line-search state) is restored.
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
        When training diverges (``history.stop_reason == "diverged"``).

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
        # the Dask engine keeps its own defaults: full-batch SGD(learning_rate=0.1)
        return _train_on_dask(
            net,
            X,
            y,
            sample_weight=sample_weight,
            optimizer=optimizer,
            batch_size=None if _is_auto(batch_size) else batch_size,
            max_iter=max_iter,
            target_loss=target_loss,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            random_state=random_state,
            client=client,
            schedule=schedule,
            validation_data=validation_data,
            validation_fraction=validation_fraction,
            early_stopping=early_stopping,
            callbacks=callbacks,
            class_weight=class_weight,
            shuffle=shuffle,
            resume=resume,
            unsupported={"cuda_graph=True": cuda_graph is True},
        )
    if client is not None:
        raise ValueError("client is only used with dask inputs; X is not a dask collection")
    resumed = None if resume is None else read_resume(resume)
    # "auto" with the default optimizer is min(200, n) of the training rows, known below
    auto_batch = _is_auto(batch_size) and optimizer is None and resumed is None
    batch = _check_batch_size(batch_size, optimizer, resumed)
    optimizer, schedule = _check_optimizer(optimizer, schedule, resumed)
    max_iter = check_number("max_iter", max_iter, low=1, integer=True)
    target_loss = check_number("target_loss", target_loss, allow_none=True)
    tol = check_number("tol", tol, low=0.0, allow_none=True)
    n_iter_no_change = check_number("n_iter_no_change", n_iter_no_change, low=1, integer=True)
    validation_fraction = check_validation(
        validation_data, validation_fraction, early_stopping, schedule
    )
    _check_flags(shuffle=shuffle, cuda_graph=cuda_graph)
    callbacks = check_callbacks(callbacks)
    checkpoints = [c for c in callbacks if isinstance(c, Checkpoint)]
    if isinstance(optimizer, LBFGS):
        check_lbfgs(net, batch, schedule, cuda_graph, bool(checkpoints) or resumed is not None)

    X, y, w, _, xp = net._check_data(X, y, sample_weight)
    checked = (X, y, w)
    rng = make_rng(net.random_state if random_state is None else random_state)
    initial_rng_state = rng.bit_generator.state
    data, validation = prepare_rows(
        net,
        (X, y, w),
        validation_data=validation_data,
        validation_fraction=validation_fraction,
        class_weight=class_weight,
        rng=rng,
        xp=xp,
    )
    X = data[0]
    if auto_batch:
        batch = auto_batch_size(X.shape[0])
    params = net._parameters_as(xp, X.dtype, device(X))
    net._set_parameters(params)
    tracker = Tracker(
        net,
        History(),
        validation,
        target_loss=target_loss,
        tol=tol,
        n_iter_no_change=n_iter_no_change,
        early_stopping=early_stopping,
        schedule=schedule,
        callbacks=callbacks,
        xp=xp,
        inputs=X,
        sample_weight=data[2],
        total_weight=data[3],
    )
    tracker.optimizer, tracker.rng, tracker.initial_rng_state = optimizer, rng, initial_rng_state
    tracker.data_info = {
        "n_samples": X.shape[0],
        "n_features": X.shape[1],
        "n_outputs": data[1].shape[1],
        "batch_size": batch,
    }
    if checkpoints or resumed is not None:
        # the data as given (before the validation split draws rows), and validation
        # rows given apart, which decide early stopping and the best epoch
        given = validation[:3] if validation_data is not None and validation else ()
        tracker.data_info["fingerprint"] = data_fingerprint(*checked, *given)
        settings = dict(batch_size=batch, shuffle=shuffle, target_loss=target_loss, tol=tol)
        settings.update(n_iter_no_change=n_iter_no_change, early_stopping=early_stopping)
        settings.update(validation_fraction=validation_fraction, class_weight=class_weight)
        tracker.options = run_options(optimizer, schedule, settings)
    if resumed is not None:
        params = restore(
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
    with InterruptGuard() as interrupt, quiet_float_errors(xp), attached(checkpoints, tracker):
        # a diverging run is reported by the loop; Ctrl-C stops after the current batch
        tracker.interrupt = interrupt
        if isinstance(optimizer, LBFGS):
            params = train_lbfgs(net, optimizer, params, data, max_iter=max_iter, tracker=tracker)
        else:
            optimizer._match_state(params, xp=xp)
            run = train_static if choose(cuda_graph, net, optimizer, X) else train_eager
            params = run(
                net,
                optimizer,
                params,
                data,
                batch_size=batch,
                shuffle=shuffle,
                max_iter=max_iter,
                rng=rng,
                tracker=tracker,
            )
    history = tracker.history
    if history.stop_reason == "diverged" and not isinstance(optimizer, LBFGS):
        forget_overflowed_state(optimizer, xp=xp)
    keep_best = early_stopping or history.stop_reason == "interrupted"
    if keep_best and tracker.best_params is not None:
        params = tracker.best_params
    net._set_parameters(params)
    return history


def _check_optimizer(
    optimizer: Any, schedule: Any, resumed: TrainingState | None
) -> tuple[Optimizer | LBFGS, Schedule | None]:
    """The optimizer and schedule to train with (the checkpoint's when resuming without)."""
    if resumed is not None:
        if optimizer is None:
            optimizer = resumed.make_optimizer()
        if schedule is None:
            schedule = resumed.make_schedule()
    if optimizer is None:
        optimizer = default_optimizer()
    elif not isinstance(optimizer, Optimizer | LBFGS):
        raise TypeError(f"optimizer must be an Optimizer or LBFGS, got {type(optimizer).__name__}")
    if schedule is not None and not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a Schedule, got {type(schedule).__name__}")
    return optimizer, schedule


def _is_auto(batch_size: Any) -> bool:
    return isinstance(batch_size, str) and batch_size == "auto"


def _check_batch_size(batch_size: Any, optimizer: Any, resumed: TrainingState | None) -> int | None:
    """``batch_size`` as rows per batch or None (full batch); None for "auto" until the
    number of training rows is known, unless an optimizer is given (full batch) or a run
    resumes (the checkpoint's)."""
    if _is_auto(batch_size):
        if optimizer is None and resumed is not None:
            saved: int | None = resumed.data["batch_size"]
            return saved
        return None
    return check_number("batch_size", batch_size, low=1, integer=True, allow_none=True)


def check_validation(
    validation_data: Any, validation_fraction: Any, early_stopping: Any, schedule: Schedule | None
) -> float | None:
    """Check the validation arguments; return ``validation_fraction`` as a float (or None)."""
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
    has_validation = validation_data is not None or validation_fraction is not None
    if early_stopping and not has_validation:
        raise ValueError("early_stopping=True needs validation_data or validation_fraction")
    if schedule is not None and schedule.monitor == "val_loss" and not has_validation:
        raise ValueError(
            "a schedule with monitor='val_loss' needs validation_data or validation_fraction"
        )
    return validation_fraction


def _check_flags(*, shuffle: Any, cuda_graph: Any) -> None:
    if not isinstance(shuffle, bool):
        raise TypeError(f"shuffle must be a bool, got {shuffle!r}")
    if cuda_graph is not None and not isinstance(cuda_graph, bool):
        raise TypeError(f"cuda_graph must be a bool or None, got {cuda_graph!r}")


def check_lbfgs(
    net: Network,
    batch_size: int | None,
    schedule: Schedule | None,
    cuda_graph: bool | None,
    saves_state: bool,
) -> None:
    """What L-BFGS cannot do: mini-batches, schedules, dropout, CUDA graphs (and, with
    SciPy < 1.15, checkpoints).

    Raises
    ------
    ValueError
        Naming what does not go with LBFGS.
    """
    if saves_state and not can_checkpoint_lbfgs():
        raise ValueError(
            "checkpoints and resume of LBFGS need SciPy >= 1.15 (its L-BFGS-B workspace "
            "is what they save); upgrade SciPy or use a first-order optimizer"
        )
    if batch_size is not None:
        raise ValueError(f"LBFGS is full-batch: batch_size must be None, got {batch_size!r}")
    if schedule is not None:
        raise ValueError("LBFGS has no learning rate: schedule must be None")
    if any(layer.dropout for layer in net.layers):
        raise ValueError("LBFGS needs a deterministic loss: remove the layers' dropout")
    if cuda_graph:
        raise ValueError("cuda_graph=True needs a first-order optimizer, not LBFGS")


def check_callbacks(callbacks: Callback | Sequence[Callback] | None) -> list[Callback]:
    """``callbacks`` (None, a callable or a sequence of callables) as a list.

    Raises
    ------
    TypeError
        For something that is not callable.
    """
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


def _train_on_dask(
    net: Network, X: Any, y: Any, *, unsupported: dict[str, bool], **kwargs: Any
) -> History:
    used = [name for name, given in unsupported.items() if given]
    if used:
        raise ValueError(
            f"{', '.join(used)} {'is' if len(used) == 1 else 'are'} not supported with dask "
            "inputs (the workers train with NumPy); train on in-memory arrays or drop it"
        )
    # named, not imported: deltaprop.parallel sits above training (ARCHITECTURE.md, "ways up")
    result: History = importlib.import_module("deltaprop.parallel").train(net, X, y, **kwargs)
    return result
