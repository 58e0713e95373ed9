"""Checkpoints: save a run of :func:`deltaprop.train` and resume it exactly.

A checkpoint is written at the end of an iteration (an epoch with mini-batches) and
holds everything training needs to go on as if it had never stopped:

- the network's weights (and, for the stop rules, the last weights with a finite loss
  and the weights with the lowest validation loss);
- the optimizer's state: SGD's velocities, Adam's moments and step count, and its
  hyper-parameters with the *initial* learning rate;
- the schedule's state (:meth:`~deltaprop.optim.schedules.Schedule.state_dict`);
- the state of ``train``'s random generator (the next mini-batch order and dropout
  masks) and its state at the start of training (the validation split);
- the :class:`~deltaprop.History` so far and the stop rules' counters.

:class:`Checkpoint` is a callback that writes one every ``every`` iterations;
``deltaprop.train(..., resume=path)`` continues from it. Given the same data, network
architecture, seed and settings, the resumed run ends with bit-identical weights and
History to a run that was never stopped. Checkpoints are model files of kind
``"checkpoint"`` (``docs/model-format.md``): written atomically, read by
:func:`deltaprop.load` as a :class:`TrainingState`, never executing anything.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> import deltaprop as dp
>>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
>>> y = np.array([0.0, 1.0, 1.0, 0.0])
>>> path = os.path.join(tempfile.mkdtemp(), "run.ckpt")
>>> def run(max_iter, **kwargs):
...     net = dp.Network([dp.Dense(2, 4), dp.Dense(4, 1)], random_state=0)
...     opt = dp.Adam(learning_rate=0.1)
...     history = dp.train(net, X, y, optimizer=opt, batch_size=2, max_iter=max_iter, **kwargs)
...     return net, history
>>> _ = run(10, callbacks=[dp.Checkpoint(path, every=5)])  # "stopped" after 10 epochs
>>> resumed, h1 = run(30, resume=path)                      # continues with epoch 11
>>> straight, h2 = run(30)                                  # never stopped
>>> h1 == h2, all(np.array_equal(a, b) for a, b in zip(resumed.parameters, straight.parameters))
(True, True)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from deltaprop.core.arrays import device, from_numpy, to_numpy
from deltaprop.core.network import Network
from deltaprop.core.validation import check_number
from deltaprop.files.container import (
    ArrayStore,
    ModelFileError,
    check_keys,
    decode_float,
    dump_nested,
    encode_float,
    get_field,
    load,
    load_nested,
    register_kind,
    save,
)
from deltaprop.optim.optimizers import LBFGS, OPTIMIZERS, Optimizer
from deltaprop.optim.schedules import SCHEDULES, Schedule
from deltaprop.training.history import History
from deltaprop.training.lbfgs import WORKSPACE, workspace_shapes

__all__ = [
    "Checkpoint",
    "ResumeMismatchError",
    "TrainingState",
    "data_fingerprint",
    "describe_change",
    "run_options",
]

#: Optimizers that can be rebuilt from a checkpoint by name.
#: NumPy bit generators whose state a checkpoint may hold.
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
_HEX = re.compile(r"[0-9a-f]{32}")
_DTYPES = ("float16", "float32", "float64")
_KEYS = (
    "iteration",
    "network",
    "optimizer",
    "schedule",
    "rng",
    "history",
    "stopping",
    "best_params",
    "last_finite",
    "data",
)
_DATA_KEYS = ("n_samples", "n_features", "n_outputs", "batch_size")
#: Keys of ``config`` that checkpoints written before fingerprints (0.x) lack.
_OPTIONAL_KEYS = ("options",)
#: Rows hashed at a time: bounds the copy a non-contiguous array needs.
_HASH_ROWS = 65536


class TrainingState:
    """A snapshot of a run of :func:`deltaprop.train` at the end of an iteration.

    Written by :class:`Checkpoint`, read back with :func:`deltaprop.load` and passed to
    ``deltaprop.train(..., resume=state)``. All arrays are NumPy copies.

    Attributes
    ----------
    iteration : int
        The last completed iteration (from 1); a resumed run starts with the next.
    network : Network
        The network with the weights at the end of ``iteration``.
    optimizer : dict
        ``{"name", "hyper_parameters", "scalar_state", "array_state"}``: the class name,
        its hyper-parameters (``learning_rate`` is the initial rate, before any
        schedule), scalar state such as Adam's step count ``t``, and array state (per
        name a list of arrays shaped like ``network.parameters``, or None). For
        :class:`~deltaprop.LBFGS`: scalar state ``n_iterations`` and ``n_evaluations``,
        and per name of :data:`~deltaprop.training.lbfgs.WORKSPACE` a list of one float64
        array (L-BFGS-B's iterate, gradient, curvature pairs and line-search state).
    schedule : dict or None
        :meth:`Schedule.state_dict() <deltaprop.optim.schedules.Schedule.state_dict>`.
    rng_state, initial_rng_state : dict
        ``bit_generator.state`` of training's generator now and at the start of
        training (before the validation split), as plain JSON values.
    history : History
        The history of iterations ``1..iteration`` (``stop_reason`` None).
    stopping : dict
        The stop rules' counters: ``best_loss``, ``no_improvement``, ``best_val_loss``.
    best_params : list of ndarray or None
        The weights with the lowest validation loss so far (None without validation).
    last_finite : list of ndarray or None
        The last weights whose loss was finite (restored if the next iteration
        diverges); None when they are the network's weights.
    data : dict
        ``n_samples`` (training rows after any validation split), ``n_features``,
        ``n_outputs`` and ``batch_size``, and ``fingerprint`` (see
        :func:`data_fingerprint`; absent in checkpoints of older versions): checked on
        resume.
    options : dict or None
        The options of the run that decide its result (see :func:`run_options`),
        checked on resume; None in checkpoints of older versions.
    """

    def __init__(
        self,
        *,
        iteration: int,
        network: Network,
        optimizer: dict,
        schedule: dict | None,
        rng_state: dict,
        initial_rng_state: dict,
        history: History,
        stopping: dict,
        best_params: list[np.ndarray] | None,
        last_finite: list[np.ndarray] | None,
        data: dict,
        options: dict | None = None,
    ) -> None:
        self.iteration = iteration
        self.network = network
        self.optimizer = optimizer
        self.schedule = schedule
        self.rng_state = rng_state
        self.initial_rng_state = initial_rng_state
        self.history = history
        self.stopping = stopping
        self.best_params = best_params
        self.last_finite = last_finite
        self.data = data
        self.options = options

    def make_optimizer(self) -> Optimizer | LBFGS:
        """A new optimizer of the saved class, hyper-parameters and state.

        An :class:`~deltaprop.LBFGS` gets its hyper-parameters here; its workspace is
        put back by ``train(..., resume=...)``.

        Raises
        ------
        ValueError
            For an optimizer class that is not built in (pass one to ``train``).
        """
        name = self.optimizer["name"]
        if name == "LBFGS":
            return LBFGS(**self.optimizer["hyper_parameters"])
        if name not in OPTIMIZERS:
            raise ValueError(
                f"the checkpoint's optimizer {name!r} is not built in ({sorted(OPTIMIZERS)}): "
                "pass an optimizer of that class to train"
            )
        optimizer = OPTIMIZERS[name](**self.optimizer["hyper_parameters"])
        _load_optimizer_state(optimizer, self.optimizer)
        return optimizer

    def make_schedule(self) -> Schedule | None:
        """A new schedule of the saved class, parameters and state (None if none).

        Raises
        ------
        ValueError
            For a schedule class that is not built in (pass one to ``train``).
        """
        if self.schedule is None:
            return None
        name = self.schedule["name"]
        if name not in SCHEDULES:
            raise ValueError(
                f"the checkpoint's schedule {name!r} is not built in ({sorted(SCHEDULES)}): "
                "pass a schedule of that class to train"
            )
        schedule = SCHEDULES[name](**self.schedule["params"])
        schedule.load_state_dict(self.schedule)
        return schedule

    def __repr__(self) -> str:
        return (
            f"TrainingState(iteration={self.iteration}, network={self.network!r}, "
            f"optimizer={self.optimizer['name']})"
        )


class Checkpoint:
    """A callback for :func:`deltaprop.train` that saves a :class:`TrainingState`.

    Pass it in ``callbacks=[...]``. After every ``every``-th iteration it writes the
    state of training to ``path``, atomically (a crash or a kill during the write
    leaves the previous checkpoint intact). When training is interrupted by Ctrl-C at
    the end of a complete iteration (full-batch training) it writes that iteration
    too; an epoch of mini-batches cut short is not a state training could resume
    from, so the previous checkpoint stays. Nothing is written when the weights or the
    optimizer state are no longer finite (training is diverging). Resume with
    ``deltaprop.train(..., resume=path)``.

    Works with every optimizer: first-order ones (:class:`~deltaprop.SGD`,
    :class:`~deltaprop.Adam`, subclasses) and :class:`~deltaprop.LBFGS` (with SciPy >=
    1.15, whose L-BFGS-B workspace it saves: the curvature pairs and the line search's
    state), in memory and on Dask (:func:`deltaprop.parallel.train`); the network's
    activations and loss must be built in, as for :func:`deltaprop.save`.

    Parameters
    ----------
    path : str or path-like
        The checkpoint file (its folder must exist). Conventionally ``*.ckpt`` or
        ``*.deltaprop``.
    every : int >= 1, default 1
        Save after iterations ``every, 2 * every, ...``.

    Attributes
    ----------
    last_saved : int or None
        The iteration of the last checkpoint this object wrote.
    """

    def __init__(self, path: str | os.PathLike, every: int = 1) -> None:
        self.path = Path(path)
        self.every = check_number("every", every, low=1, integer=True)
        self.last_saved: int | None = None
        self._tracker: Any = None

    def __call__(self, iteration: int, history: History, net: Network) -> None:
        tracker = self._tracker
        if tracker is None:
            raise RuntimeError(
                "a Checkpoint saves the state of deltaprop.train: pass it to "
                "train(callbacks=[...]) rather than calling it"
            )
        interrupt = tracker.interrupt
        interrupted = interrupt is not None and interrupt.requested
        if interrupted and interrupt.cut_short:
            return None
        if iteration % self.every and not interrupted:
            return None
        state = _snapshot(tracker, iteration, net)
        if state is not None:
            save(state, self.path)
            self.last_saved = iteration
        return None

    def _attach(self, tracker: Any) -> None:
        folder = self.path.parent
        if not folder.is_dir():
            raise ValueError(
                f"Checkpoint path {str(self.path)!r}: folder {str(folder)!r} does not exist"
            )
        # what cannot be saved (a custom activation, a schedule's odd parameters) fails
        # now rather than after hours of training
        state = _snapshot(tracker, 0, tracker.net)
        if state is not None:
            config, _ = _state_to_config(state)
            try:
                json.dumps(config, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"cannot save the state of this run in a checkpoint: {exc}"
                ) from None
        self._tracker = tracker

    def __repr__(self) -> str:
        return f"Checkpoint({str(self.path)!r}, every={self.every})"


@contextlib.contextmanager
def attached(checkpoints: list[Checkpoint], tracker: Any):
    """Let ``checkpoints`` read ``tracker`` (the state of a training run) meanwhile."""
    try:
        for checkpoint in checkpoints:
            checkpoint._attach(tracker)
        yield
    finally:
        for checkpoint in checkpoints:
            checkpoint._tracker = None


# -- taking a snapshot ----------------------------------------------------------------
def _network_node(net: Network) -> tuple[dict, dict]:
    arrays: dict[str, Any] = {}
    return dump_nested(net, "network", arrays), arrays


def _copies(params) -> list[np.ndarray]:
    return [np.array(to_numpy(p), copy=True) for p in params]


def _finite(arrays) -> bool:
    return all(bool(np.all(np.isfinite(a))) for a in arrays)


def _plain(value: Any) -> Any:
    """A bit generator's state as JSON values (arrays become lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.integer):
        return int(value)
    return value


def _optimizer_state(optimizer: Optimizer, learning_rate: float) -> dict:
    hyper = {key: getattr(optimizer, key) for key in optimizer._hyper_parameters}
    hyper["learning_rate"] = learning_rate
    arrays = {}
    for key in optimizer._array_state:
        value = getattr(optimizer, key)
        arrays[key] = None if value is None else _copies(value)
    return {
        "name": type(optimizer).__name__,
        "hyper_parameters": hyper,
        "scalar_state": {key: getattr(optimizer, key) for key in optimizer._scalar_state},
        "array_state": arrays,
    }


def _lbfgs_state(optimizer: LBFGS, run: Any) -> dict:
    """An LBFGS's hyper-parameters and its running workspace (none before it starts)."""
    hyper: dict[str, Any] = {
        "tol": optimizer.tol,
        "max_fun": optimizer.max_fun,
        "memory": optimizer.memory,
    }
    if optimizer.max_iter is not None:
        hyper["max_iter"] = optimizer.max_iter
    scalars, arrays = {}, {}
    if run is not None:
        state = run.state()
        scalars = {k: state[k] for k in ("n_iterations", "n_evaluations")}
        # model files hold floats: the integer arrays travel as exact float64 values
        arrays = {k: [np.asarray(v, dtype=np.float64)] for k, v in state["arrays"].items()}
    return {
        "name": "LBFGS",
        "hyper_parameters": hyper,
        "scalar_state": scalars,
        "array_state": arrays,
    }


def _snapshot(tracker: Any, iteration: int, net: Network) -> TrainingState | None:
    history, schedule, optimizer = tracker.history, tracker.schedule, tracker.optimizer
    params = _copies(net.parameters)
    node, arrays = _network_node(net)
    network = load_nested(node, ArrayStore(arrays), "network")
    network._set_parameters(params)
    if isinstance(optimizer, LBFGS):
        opt_state = _lbfgs_state(optimizer, tracker.lbfgs)
    else:
        initial_rate = schedule.initial if schedule is not None else optimizer.learning_rate
        opt_state = _optimizer_state(optimizer, initial_rate)
    best = None if tracker.best_params is None else _copies(tracker.best_params)
    last = None if tracker.last_finite is None else _copies(tracker.last_finite)
    if last is not None and all(np.array_equal(a, b) for a, b in zip(last, params, strict=True)):
        last = None
    checked = params + (best or []) + (last or [])
    for value in opt_state["array_state"].values():
        checked += value or []
    if not _finite(checked):
        return None  # diverging: train reports it; the previous checkpoint stays
    return TrainingState(
        iteration=iteration,
        network=network,
        optimizer=opt_state,
        schedule=None if schedule is None else schedule.state_dict(),
        rng_state=_plain(tracker.rng.bit_generator.state),
        initial_rng_state=_plain(tracker.initial_rng_state),
        history=History(
            loss=list(history.loss),
            val_loss=list(history.val_loss),
            learning_rate=list(history.learning_rate),
            best_iteration=history.best_iteration,
            val_score=list(history.val_score),
        ),
        stopping={
            "best_loss": tracker.best_loss,
            "no_improvement": tracker.no_improvement,
            "best_val_loss": tracker.best_val_loss,
        },
        best_params=best,
        last_finite=last,
        data=dict(tracker.data_info),
        options=dict(tracker.options) if tracker.options else None,
    )


# -- what a resumed run must share with the checkpoint's ------------------------------
class ResumeMismatchError(ValueError):
    """``resume``: this run is not the checkpoint's run continued.

    Parameters
    ----------
    changes : list of tuple ``(name, checkpoint's, this run's)``
        Each option that changed, by its :func:`deltaprop.train` name, or ``"data"``
        with a description of the data before and after (rows, columns or contents).

    Attributes
    ----------
    changes : list of tuple
    """

    def __init__(self, changes: list[tuple[str, Any, Any]]) -> None:
        self.changes = list(changes)
        super().__init__(
            "resume: this run differs from the checkpoint's: "
            + "; ".join(describe_change(*change) for change in self.changes)
            + " (resume with the checkpoint's options and data, or train afresh)"
        )


def describe_change(name: str, old: Any, new: Any) -> str:
    """``"learning_rate 0.01 -> 0.1"``, or ``"the training data changed (...)"`` for ``"data"``.

    Examples
    --------
    >>> describe_change("learning_rate", 0.01, 0.1)
    'learning_rate 0.01 -> 0.1'
    """
    if name == "data":
        return f"the training data changed ({old} -> {new})"
    return f"{name} {old!r} -> {new!r}"


def data_fingerprint(*arrays: Any) -> dict[str, Any]:
    """The shape and a hash of the training data as the model sees it.

    Parameters
    ----------
    *arrays : arrays or None
        ``X`` of shape (n_samples, n_features) first, then any arrays whose rows or
        values decide the result (targets, sample weights, validation rows); any array
        library (copied to NumPy a block of rows at a time).

    Returns
    -------
    dict
        ``{"rows": n_samples, "columns": n_features, "hash": hex digest}``: the
        BLAKE2b hash of each array's dtype, shape and bytes in row order.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(6.0).reshape(3, 2)
    >>> a, b = data_fingerprint(X, np.ones(3)), data_fingerprint(X, np.zeros(3))
    >>> a["rows"], a["columns"], a["hash"] == b["hash"]
    (3, 2, False)
    """
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        if array is None:
            digest.update(b"None;")
            continue
        shape = tuple(int(n) for n in array.shape)
        if not shape:
            digest.update(np.ascontiguousarray(to_numpy(array)).data)
            continue
        for start in range(0, max(shape[0], 1), _HASH_ROWS):
            block = np.ascontiguousarray(
                to_numpy(array[start : min(start + _HASH_ROWS, shape[0]), ...])
            )
            if start == 0:
                digest.update(f"{block.dtype.str}{shape};".encode())
            digest.update(block.data)
    X = arrays[0]
    return {"rows": int(X.shape[0]), "columns": int(X.shape[1]), "hash": digest.hexdigest()}


def run_options(
    optimizer: Optimizer | LBFGS, schedule: Schedule | None, settings: Mapping[str, Any]
) -> dict[str, Any]:
    """The options of a :func:`deltaprop.train` run that decide its result, as JSON values.

    ``max_iter`` and the callbacks are not among them: resuming to train longer is
    what checkpoints are for. The random state and the dtype are checked apart (the
    generator's saved state replaces the one; the other is the data's).

    Parameters
    ----------
    optimizer : Optimizer
    schedule : Schedule or None
    settings : mapping
        ``train``'s other arguments that decide the result, by name: ``batch_size``,
        ``shuffle``, ``target_loss``, ``tol``, ``n_iter_no_change``, ``early_stopping``,
        ``validation_fraction``, ``class_weight`` (a mapping is stored as JSON text).

    Returns
    -------
    dict
        ``{name: value}``: ``optimizer`` (class name) and its hyper-parameters by name
        (``learning_rate`` the initial rate), ``schedule`` (class name or None) and its
        parameters as ``schedule.NAME``, then the other arguments by name.
    """
    hyper = {key: getattr(optimizer, key) for key in optimizer._hyper_parameters}
    options: dict[str, Any] = {"optimizer": type(optimizer).__name__, **hyper}
    options["schedule"] = None if schedule is None else type(schedule).__name__
    if schedule is not None:
        for key, value in schedule.state_dict()["params"].items():  # type: ignore[attr-defined]
            options[f"schedule.{key}"] = value
    options.update(settings)
    class_weight = options.get("class_weight")
    if isinstance(class_weight, Mapping):
        pairs = sorted((str(k), float(v)) for k, v in class_weight.items())
        options["class_weight"] = json.dumps(dict(pairs))
    return {key: _plain_option(value) for key, value in options.items()}


def _plain_option(value: Any) -> Any:
    if isinstance(value, bool | str | type(None)):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    return repr(value)


def _changes(state: TrainingState, tracker: Any) -> list[tuple[str, Any, Any]]:
    """What differs between the checkpoint's run and this one: options, then the data."""
    changes = []
    if state.options is not None:
        now = tracker.options
        for key in list(state.options) + [k for k in now if k not in state.options]:
            old, new = state.options.get(key), now.get(key)
            # True == 1 in Python, but a flag and a number are not the same setting
            if old != new or isinstance(old, bool) != isinstance(new, bool):
                changes.append((key, old, new))
    old_print, new_print = state.data.get("fingerprint"), tracker.data_info.get("fingerprint")
    if old_print is not None and new_print is not None and old_print != new_print:
        shape = "{rows} rows x {columns} columns"
        before, after = shape.format(**old_print), shape.format(**new_print)
        if before == after:
            before, after = f"contents {old_print['hash'][:12]}", f"{new_print['hash'][:12]}"
            after += f", same {shape.format(**new_print)}"
        changes.append(("data", before, after))
    return changes


# -- resuming -------------------------------------------------------------------------
def read_resume(resume: Any) -> TrainingState:
    """``train``'s ``resume`` argument as a :class:`TrainingState`."""
    if isinstance(resume, TrainingState):
        return resume
    if isinstance(resume, str | os.PathLike):
        state = load(resume)
        if not isinstance(state, TrainingState):
            raise ValueError(
                f"resume={str(resume)!r} holds a {type(state).__name__}, not a checkpoint "
                "(write one with deltaprop.Checkpoint)"
            )
        return state
    raise TypeError(f"resume must be a path or a TrainingState, got {type(resume).__name__}")


def _architecture(net: Network) -> dict:
    config = dump_nested(net, "x", {})["config"]
    config.pop("random_state")
    return config


def _load_optimizer_state(optimizer: Optimizer, saved: dict) -> None:
    fields = {
        "scalar_state": tuple(optimizer._scalar_state),
        "array_state": tuple(optimizer._array_state),
    }
    for group, keys in fields.items():
        if sorted(saved[group]) != sorted(keys):
            raise ValueError(
                f"the checkpoint's optimizer is a {saved['name']} with {group} "
                f"{sorted(saved[group])}, which a {type(optimizer).__name__} ({sorted(keys)}) "
                "cannot continue"
            )
    for key in optimizer._scalar_state:
        setattr(optimizer, key, saved["scalar_state"][key])
    for key in optimizer._array_state:
        value = saved["array_state"][key]
        setattr(optimizer, key, None if value is None else [a.copy() for a in value])


def _lbfgs_resume(optimizer: LBFGS, saved: dict) -> dict[str, Any]:
    """The workspace an LBFGS run continues from (``tracker.lbfgs_resume``)."""
    if saved["name"] != "LBFGS" or not saved["array_state"]:
        raise ValueError(
            f"the checkpoint's optimizer is a {saved['name']} "
            + ("" if saved["name"] != "LBFGS" else "saved before its first iteration ")
            + "that an LBFGS cannot continue"
        )
    memory = saved["hyper_parameters"]["memory"]
    if optimizer.memory != memory:
        raise ValueError(
            f"resume: the checkpoint's LBFGS keeps memory={memory} curvature pairs, this "
            f"run's keeps {optimizer.memory}; give LBFGS(memory={memory})"
        )
    arrays = {k: v[0].astype(WORKSPACE[k]) for k, v in saved["array_state"].items()}
    return {**saved["scalar_state"], "arrays": arrays}


def _check_same_shapes(
    state: TrainingState, net: Network, params: list[Any], optimizer: Any, tracker: Any
) -> None:
    """The network, the kind of optimizer, the data's shapes and dtype match ``state``."""
    expected, got = _architecture(state.network), _architecture(net)
    if expected != got:
        raise ValueError(
            "resume: the network does not match the checkpoint's "
            f"({state.network!r} vs {net!r}, or their initialisers, dropout or alpha)"
        )
    saved_name = state.optimizer["name"]
    if isinstance(optimizer, LBFGS) != (saved_name == "LBFGS"):
        raise ValueError(
            f"resume: the checkpoint was written by an {saved_name} run, which an "
            f"{type(optimizer).__name__} cannot continue (L-BFGS and first-order optimizers "
            "keep different state); pass optimizer=None to rebuild the checkpoint's"
        )
    # with a fingerprint, changed rows and batch_size are among the changes named below
    fingerprinted = "fingerprint" in state.data and "fingerprint" in tracker.data_info
    for key in ("n_features", "n_outputs") if fingerprinted else _DATA_KEYS:
        if state.data[key] != tracker.data_info[key]:
            raise ValueError(
                f"resume: the checkpoint was written with {key}={state.data[key]!r}, "
                f"this run has {tracker.data_info[key]!r}; resume with the same data and "
                "settings"
            )
    dtype = to_numpy(params[0]).dtype
    saved_dtype = state.network.layers[0].weights.dtype
    if saved_dtype != dtype:
        raise ValueError(f"resume: the checkpoint holds {saved_dtype} weights, the data is {dtype}")


def restore(
    state: TrainingState,
    *,
    net: Network,
    params: list[Any],
    optimizer: Optimizer | LBFGS,
    schedule: Schedule | None,
    tracker: Any,
    max_iter: int,
    check_initial_rng: bool,
    xp: Any,
) -> list[Any]:
    """Put ``state`` into a run that is about to start; return its parameters.

    ``params`` are the network's parameters already in the data's library and dtype.
    """
    _check_same_shapes(state, net, params, optimizer, tracker)
    if check_initial_rng and state.initial_rng_state != _plain(tracker.initial_rng_state):
        raise ValueError(
            "resume: the random generator does not start as in the checkpoint's run, so "
            "validation_fraction would hold out other rows; pass the same random_state"
        )
    if state.iteration >= max_iter:
        raise ValueError(
            f"resume: the checkpoint is at iteration {state.iteration}, max_iter={max_iter} "
            "leaves nothing to do (max_iter counts the iterations before the checkpoint too)"
        )
    if (state.schedule is None) != (schedule is None):
        raise ValueError(
            "resume: the checkpoint was written "
            + ("without a schedule" if state.schedule is None else "with a schedule")
            + ", this run has "
            + ("none" if schedule is None else repr(schedule))
        )
    if schedule is not None and state.schedule is not None:
        name = type(schedule).__name__
        if state.schedule["name"] != name:
            raise ValueError(
                f"resume: the checkpoint's schedule is {state.schedule['name']}, not {name}"
            )
    if isinstance(optimizer, LBFGS):
        tracker.lbfgs_resume = _lbfgs_resume(optimizer, state.optimizer)
    else:
        _load_optimizer_state(optimizer, state.optimizer)
    changes = _changes(state, tracker)
    if changes:
        raise ResumeMismatchError(changes)
    if state.options is None:
        warnings.warn(
            "resume: the checkpoint was written by an older deltaprop, without the "
            "options and a fingerprint of the data: only their shapes were checked",
            UserWarning,
            stacklevel=3,
        )
    rng = tracker.rng
    saved_generator = state.rng_state.get("bit_generator")
    if saved_generator != type(rng.bit_generator).__name__:
        raise ValueError(
            f"resume: the checkpoint's generator is {saved_generator}, this run's is "
            f"{type(rng.bit_generator).__name__}"
        )
    rng.bit_generator.state = state.rng_state

    dev = device(params[0])

    def move(arrays):
        return [
            from_numpy(a, xp=xp, dtype=p.dtype, device=dev)
            for a, p in zip(arrays, params, strict=True)
        ]

    new_params = move(state.network.parameters)
    history = tracker.history
    history.loss[:] = state.history.loss
    history.val_loss[:] = state.history.val_loss
    history.learning_rate[:] = state.history.learning_rate
    history.best_iteration = state.history.best_iteration
    history.val_score[:] = state.history.val_score
    tracker.best_loss = state.stopping["best_loss"]
    tracker.no_improvement = state.stopping["no_improvement"]
    tracker.best_val_loss = state.stopping["best_val_loss"]
    tracker.best_params = None if state.best_params is None else move(state.best_params)
    tracker.last_finite = None if state.last_finite is None else move(state.last_finite)
    tracker.schedule_state = state.schedule
    tracker.first_iteration = state.iteration + 1
    return new_params


# -- the "checkpoint" kind of model files ----------------------------------------------
def _get_int(config: dict, key: str, where: str, low: int, allow_none: bool = False) -> Any:
    types = (int, type(None)) if allow_none else int
    value = get_field(config, key, types, where)
    if value is not None and value < low:
        raise ModelFileError(f"{where}.{key} must be >= {low}, got {value!r}")
    return value


def _scalars(mapping: Any, where: str) -> dict:
    """A JSON object of word keys and finite numbers or bools."""
    if not isinstance(mapping, dict):
        raise ModelFileError(f"{where} must be a JSON object")
    for key, value in mapping.items():
        if not _WORD.fullmatch(key):
            raise ModelFileError(f"{where}: key {key!r:.60} is not a word")
        if not isinstance(value, bool) and (
            not isinstance(value, int | float) or not math.isfinite(float(value))
        ):
            raise ModelFileError(f"{where}.{key} must be a finite number or a bool")
    return dict(mapping)


def _state_to_config(state: TrainingState) -> tuple[dict, dict[str, Any]]:
    arrays: dict[str, Any] = {}
    network = dump_nested(state.network, "network", arrays)
    opt = state.optimizer
    array_state = {}
    for key, values in opt["array_state"].items():
        array_state[key] = None if values is None else len(values)
        for i, value in enumerate(values or []):
            arrays[f"optimizer.{key}.{i}"] = value
    schedule = None
    if state.schedule is not None:
        saved = dict(state.schedule)
        name, params, initial = saved.pop("name"), saved.pop("params"), saved.pop("initial")
        for key, value in params.items():
            if not isinstance(value, int | float | str | bool):
                raise TypeError(f"cannot save schedule parameter {key}={value!r}")
        schedule = {
            "name": name,
            "params": params,
            "initial": initial,
            "state": {},
        }
        for key, value in saved.items():
            if isinstance(value, bool) or not isinstance(value, int | float | type(None)):
                raise TypeError(f"cannot save schedule state {key}={value!r}: not a number")
            schedule["state"][key] = encode_float(value) if isinstance(value, float) else value
    for name, values in (("best", state.best_params), ("last_finite", state.last_finite)):
        for i, value in enumerate(values or []):
            arrays[f"{name}.{i}"] = value
    history = state.history
    config = {
        "iteration": state.iteration,
        "network": network,
        "optimizer": {
            "name": opt["name"],
            "hyper_parameters": opt["hyper_parameters"],
            "scalar_state": opt["scalar_state"],
            "array_state": array_state,
        },
        "schedule": schedule,
        "rng": {"initial": state.initial_rng_state, "current": state.rng_state},
        "history": {
            "loss": [encode_float(v) for v in history.loss],
            "val_loss": [encode_float(v) for v in history.val_loss],
            "learning_rate": [encode_float(v) for v in history.learning_rate],
            "best_iteration": history.best_iteration,
            "val_score": [encode_float(v) for v in history.val_score],
        },
        "stopping": {
            "best_loss": encode_float(state.stopping["best_loss"]),
            "no_improvement": state.stopping["no_improvement"],
            "best_val_loss": encode_float(state.stopping["best_val_loss"]),
        },
        "best_params": None if state.best_params is None else "stored",
        "last_finite": "network" if state.last_finite is None else "stored",
        "data": dict(state.data),
    }
    if state.options is not None:
        config["options"] = dict(state.options)
    return config, arrays


def _rng_state(value: Any, where: str) -> dict:
    """A bit generator state, checked by loading it into a fresh generator."""
    if not isinstance(value, dict) or value.get("bit_generator") not in _BIT_GENERATORS:
        raise ModelFileError(
            f"{where} must be the state of a NumPy bit generator {list(_BIT_GENERATORS)}"
        )
    bit_generator = getattr(np.random, value["bit_generator"])()
    try:
        bit_generator.state = value
    except (ValueError, TypeError, KeyError, OverflowError, IndexError) as exc:
        raise ModelFileError(f"{where} is not a valid generator state: {exc}") from None
    return value


def _float_list(values: Any, where: str) -> list[float]:
    if not isinstance(values, list):
        raise ModelFileError(f"{where} must be a list")
    return [decode_float(v, f"{where}[{i}]") for i, v in enumerate(values)]


def _state_from_config(config: dict, arrays: ArrayStore) -> TrainingState:
    where = "config"
    check_keys(config, _KEYS + tuple(k for k in _OPTIONAL_KEYS if k in config), where)
    iteration = _get_int(config, "iteration", where, 1)
    network = load_nested(config["network"], arrays, "network", where="config.network")
    if type(network) is not Network:
        raise ModelFileError("config.network must be a network")
    shapes = [tuple(p.shape) for p in network.parameters]

    def take_list(prefix: str, n: int, at: str) -> list[np.ndarray]:
        if n != len(shapes):
            raise ModelFileError(f"{at} must hold {len(shapes)} arrays, got {n}")
        return [arrays.take(f"{prefix}.{i}", shape) for i, shape in enumerate(shapes)]

    optimizer = _optimizer_from_config(config["optimizer"], take_list, arrays, shapes)
    schedule = None
    if config["schedule"] is not None:
        schedule = _schedule_from_config(config["schedule"])

    at = "config.rng"
    check_keys(config["rng"], ("initial", "current"), at)
    initial_rng_state = _rng_state(config["rng"]["initial"], f"{at}.initial")
    rng_state = _rng_state(config["rng"]["current"], f"{at}.current")

    history = _history_from_config(config["history"], iteration)
    stopping = _stopping_from_config(config["stopping"])

    if config["best_params"] not in (None, "stored"):
        raise ModelFileError("config.best_params must be null or 'stored'")
    best = None if config["best_params"] is None else take_list("best", len(shapes), "best")
    if config["last_finite"] not in ("network", "stored"):
        raise ModelFileError("config.last_finite must be 'network' or 'stored'")
    last = None
    if config["last_finite"] == "stored":
        last = take_list("last_finite", len(shapes), "last_finite")

    return TrainingState(
        iteration=iteration,
        network=network,
        optimizer=optimizer,
        schedule=schedule,
        rng_state=rng_state,
        initial_rng_state=initial_rng_state,
        history=history,
        stopping=stopping,
        best_params=best,
        last_finite=last,
        data=_data_from_config(config["data"], network),
        options=None if "options" not in config else _options_from_config(config["options"]),
    )


def _optimizer_from_config(
    opt: Any, take_list: Any, arrays: ArrayStore, shapes: list[tuple[int, ...]]
) -> dict[str, Any]:
    at = "config.optimizer"
    check_keys(opt, ("name", "hyper_parameters", "scalar_state", "array_state"), at)
    name = get_field(opt, "name", str, at)
    if not _WORD.fullmatch(name):
        raise ModelFileError(f"{at}.name must be a class name, got {name!r:.60}")
    hyper = _scalars(opt["hyper_parameters"], f"{at}.hyper_parameters")
    scalar_state = _scalars(opt["scalar_state"], f"{at}.scalar_state")
    if not isinstance(opt["array_state"], dict):
        raise ModelFileError(f"{at}.array_state must be a JSON object")
    if name == "LBFGS":
        return _lbfgs_from_config(hyper, scalar_state, opt["array_state"], arrays, shapes)
    array_state = {}
    for key, n in opt["array_state"].items():
        if not _WORD.fullmatch(key):
            raise ModelFileError(f"{at}.array_state: key {key!r:.60} is not a word")
        n = _get_int(opt["array_state"], key, f"{at}.array_state", 0, allow_none=True)
        array_state[key] = None if n is None else take_list(f"optimizer.{key}", n, at)
    if name in OPTIMIZERS:  # a built-in one must be rebuildable: check it now
        cls = OPTIMIZERS[name]
        if sorted(scalar_state) != sorted(cls._scalar_state) or sorted(array_state) != sorted(
            cls._array_state
        ):
            raise ModelFileError(f"{at}: the state does not match a {name}")
        for key in cls._scalar_state:
            check_number(f"{at}.scalar_state.{key}", scalar_state[key], low=0, integer=True)
        cls(**hyper)
    return {
        "name": name,
        "hyper_parameters": hyper,
        "scalar_state": scalar_state,
        "array_state": array_state,
    }


def _lbfgs_from_config(
    hyper: dict,
    scalar_state: dict,
    counts: dict,
    arrays: ArrayStore,
    parameter_shapes: list[tuple[int, ...]],
) -> dict[str, Any]:
    """An LBFGS's saved state: its workspace checked against the network's size."""
    at = "config.optimizer"
    try:
        LBFGS(**hyper)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{at}.hyper_parameters: {exc}") from None
    array_state: dict[str, Any] = {}
    if counts:  # none when saved before the first iteration
        check_keys(counts, tuple(WORKSPACE), f"{at}.array_state")
        check_keys(scalar_state, ("n_iterations", "n_evaluations"), f"{at}.scalar_state")
        for key in scalar_state:
            check_number(f"{at}.scalar_state.{key}", scalar_state[key], low=0, integer=True)
        n_parameters = sum(int(np.prod(shape)) for shape in parameter_shapes)
        shapes = workspace_shapes(n_parameters, int(hyper.get("memory", 10)))
        for key, dtype in WORKSPACE.items():
            if counts[key] != 1:
                raise ModelFileError(f"{at}.array_state.{key} must be 1, got {counts[key]!r}")
            value = arrays.take(f"optimizer.{key}.0", shapes[key])
            if not bool(np.all(np.isfinite(value))) or (
                dtype is np.int32 and not bool(np.all(value == np.round(value)))
            ):
                raise ModelFileError(f"{at}: array optimizer.{key}.0 holds invalid values")
            array_state[key] = [value]
    return {
        "name": "LBFGS",
        "hyper_parameters": hyper,
        "scalar_state": scalar_state,
        "array_state": array_state,
    }


def _schedule_from_config(saved: Any) -> dict[str, Any]:
    at = "config.schedule"
    check_keys(saved, ("name", "params", "initial", "state"), at)
    name = get_field(saved, "name", str, at)
    params = get_field(saved, "params", dict, at)
    initial = get_field(saved, "initial", (int, float, type(None)), at)
    dynamic = get_field(saved, "state", dict, at)
    for key, value in params.items():
        if not _WORD.fullmatch(key) or not isinstance(value, int | float | str | bool):
            raise ModelFileError(f"{at}.params.{key:.60} must be a number, string or bool")
    schedule = {"name": name, "params": params, "initial": initial}
    for key, value in dynamic.items():
        if not _WORD.fullmatch(key) or key in schedule:
            raise ModelFileError(f"{at}.state: key {key!r:.60} is not allowed")
        if isinstance(value, str) or isinstance(value, float):
            value = decode_float(value, f"{at}.state.{key}")
        elif not isinstance(value, int | type(None)):
            raise ModelFileError(f"{at}.state.{key} must be a number or null")
        schedule[key] = value
    if name in SCHEDULES:  # check that it can be rebuilt
        expected = sorted(SCHEDULES[name]._dynamic_state)
        if sorted(dynamic) != expected:
            raise ModelFileError(f"{at}.state must have the keys {expected} for a {name}")
        SCHEDULES[name](**params).load_state_dict(schedule)
    return schedule


def _history_from_config(saved: Any, iteration: int) -> History:
    at = "config.history"
    keys: tuple[str, ...] = ("loss", "val_loss", "learning_rate", "best_iteration")
    # checkpoints written before History had val_score lack it
    if isinstance(saved, dict) and "val_score" in saved:
        keys += ("val_score",)
    check_keys(saved, keys, at)
    history = History(
        loss=_float_list(saved["loss"], f"{at}.loss"),
        val_loss=_float_list(saved["val_loss"], f"{at}.val_loss"),
        learning_rate=_float_list(saved["learning_rate"], f"{at}.learning_rate"),
        best_iteration=_get_int(saved, "best_iteration", at, 1, allow_none=True),
        val_score=_float_list(saved.get("val_score", []), f"{at}.val_score"),
    )
    if len(history.loss) != iteration:
        raise ModelFileError(f"{at}.loss must have {iteration} entries")
    if len(history.learning_rate) not in (0, iteration):  # none for LBFGS
        raise ModelFileError(f"{at}.learning_rate must have 0 or {iteration} entries")
    if len(history.val_loss) not in (0, iteration):
        raise ModelFileError(f"{at}.val_loss must have 0 or {iteration} entries")
    if len(history.val_score) not in (0, iteration):
        raise ModelFileError(f"{at}.val_score must have 0 or {iteration} entries")
    if history.best_iteration is not None and history.best_iteration > iteration:
        raise ModelFileError(f"{at}.best_iteration is after iteration {iteration}")
    return history


def _stopping_from_config(saved: Any) -> dict[str, Any]:
    at = "config.stopping"
    check_keys(saved, ("best_loss", "no_improvement", "best_val_loss"), at)
    return {
        "best_loss": decode_float(saved["best_loss"], f"{at}.best_loss"),
        "no_improvement": _get_int(saved, "no_improvement", at, 0),
        "best_val_loss": decode_float(saved["best_val_loss"], f"{at}.best_val_loss"),
    }


def _data_from_config(saved: Any, network: Network) -> dict[str, Any]:
    at = "config.data"
    check_keys(saved, _DATA_KEYS + (("fingerprint",) if "fingerprint" in saved else ()), at)
    data = {
        "n_samples": _get_int(saved, "n_samples", at, 1),
        "n_features": _get_int(saved, "n_features", at, 1),
        "n_outputs": _get_int(saved, "n_outputs", at, 1),
        "batch_size": _get_int(saved, "batch_size", at, 1, allow_none=True),
    }
    if (data["n_features"], data["n_outputs"]) != (network.n_inputs, network.n_outputs):
        raise ModelFileError(f"{at}: n_features and n_outputs do not match the network")
    if "fingerprint" in saved:
        where = f"{at}.fingerprint"
        fingerprint = saved["fingerprint"]
        check_keys(fingerprint, ("rows", "columns", "hash"), where)
        data["fingerprint"] = {
            "rows": _get_int(fingerprint, "rows", where, 1),
            "columns": _get_int(fingerprint, "columns", where, 1),
            "hash": get_field(fingerprint, "hash", str, where),
        }
        if not _HEX.fullmatch(data["fingerprint"]["hash"]):
            raise ModelFileError(f"{where}.hash must be 32 hexadecimal digits")
    return data


def _options_from_config(saved: Any) -> dict[str, Any]:
    """The run's options: option names to finite numbers, bools, short strings or null."""
    at = "config.options"
    if not isinstance(saved, dict) or len(saved) > 100:
        raise ModelFileError(f"{at} must be a JSON object of at most 100 options")
    for key, value in saved.items():
        if not _OPTION.fullmatch(key):
            raise ModelFileError(f"{at}: key {key!r:.60} is not an option name")
        if isinstance(value, str):
            if len(value) > 1000:
                raise ModelFileError(f"{at}.{key} is longer than 1000 characters")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(float(value)):
                raise ModelFileError(f"{at}.{key} must be finite")
        elif not isinstance(value, bool | type(None)):
            raise ModelFileError(f"{at}.{key} must be a number, a bool, a string or null")
    return dict(saved)


register_kind("checkpoint", TrainingState, _state_to_config, _state_from_config)
