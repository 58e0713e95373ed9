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
import json
import math
import os
import re
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
from deltaprop.optim.optimizers import OPTIMIZERS, Optimizer
from deltaprop.optim.schedules import SCHEDULES, Schedule
from deltaprop.training.history import History

__all__ = ["Checkpoint", "TrainingState"]

#: Optimizers that can be rebuilt from a checkpoint by name.
#: NumPy bit generators whose state a checkpoint may hold.
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
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
        name a list of arrays shaped like ``network.parameters``, or None).
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
        ``n_outputs`` and ``batch_size``: checked on resume.
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

    def make_optimizer(self) -> Optimizer:
        """A new optimizer of the saved class, hyper-parameters and state.

        Raises
        ------
        ValueError
            For an optimizer class that is not built in (pass one to ``train``).
        """
        name = self.optimizer["name"]
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

    Works with first-order optimizers (:class:`~deltaprop.SGD`,
    :class:`~deltaprop.Adam`, subclasses), not :class:`~deltaprop.LBFGS`; the network's
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


def _snapshot(tracker: Any, iteration: int, net: Network) -> TrainingState | None:
    history, schedule, optimizer = tracker.history, tracker.schedule, tracker.optimizer
    params = _copies(net.parameters)
    node, arrays = _network_node(net)
    network = load_nested(node, ArrayStore(arrays), "network")
    network._set_parameters(params)
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
    )


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


def restore(
    state: TrainingState,
    *,
    net: Network,
    params: list[Any],
    optimizer: Optimizer,
    schedule: Schedule | None,
    tracker: Any,
    max_iter: int,
    check_initial_rng: bool,
    xp: Any,
) -> list[Any]:
    """Put ``state`` into a run that is about to start; return its parameters.

    ``params`` are the network's parameters already in the data's library and dtype.
    """
    expected, got = _architecture(state.network), _architecture(net)
    if expected != got:
        raise ValueError(
            "resume: the network does not match the checkpoint's "
            f"({state.network!r} vs {net!r}, or their initialisers, dropout or alpha)"
        )
    for key in ("n_samples", "n_features", "n_outputs", "batch_size"):
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
    _load_optimizer_state(optimizer, state.optimizer)
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
    check_keys(config, _KEYS, where)
    iteration = _get_int(config, "iteration", where, 1)
    network = load_nested(config["network"], arrays, "network", where="config.network")
    if type(network) is not Network:
        raise ModelFileError("config.network must be a network")
    shapes = [tuple(p.shape) for p in network.parameters]

    def take_list(prefix: str, n: int, at: str) -> list[np.ndarray]:
        if n != len(shapes):
            raise ModelFileError(f"{at} must hold {len(shapes)} arrays, got {n}")
        return [arrays.take(f"{prefix}.{i}", shape) for i, shape in enumerate(shapes)]

    optimizer = _optimizer_from_config(config["optimizer"], take_list)
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
    )


def _optimizer_from_config(opt: Any, take_list: Any) -> dict[str, Any]:
    at = "config.optimizer"
    check_keys(opt, ("name", "hyper_parameters", "scalar_state", "array_state"), at)
    name = get_field(opt, "name", str, at)
    if not _WORD.fullmatch(name):
        raise ModelFileError(f"{at}.name must be a class name, got {name!r:.60}")
    hyper = _scalars(opt["hyper_parameters"], f"{at}.hyper_parameters")
    scalar_state = _scalars(opt["scalar_state"], f"{at}.scalar_state")
    if not isinstance(opt["array_state"], dict):
        raise ModelFileError(f"{at}.array_state must be a JSON object")
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
    if len(history.loss) != iteration or len(history.learning_rate) != iteration:
        raise ModelFileError(f"{at}: loss and learning_rate must have {iteration} entries")
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
    check_keys(saved, ("n_samples", "n_features", "n_outputs", "batch_size"), at)
    data = {
        "n_samples": _get_int(saved, "n_samples", at, 1),
        "n_features": _get_int(saved, "n_features", at, 1),
        "n_outputs": _get_int(saved, "n_outputs", at, 1),
        "batch_size": _get_int(saved, "batch_size", at, 1, allow_none=True),
    }
    if (data["n_features"], data["n_outputs"]) != (network.n_inputs, network.n_outputs):
        raise ModelFileError(f"{at}: n_features and n_outputs do not match the network")
    return data


register_kind("checkpoint", TrainingState, _state_to_config, _state_from_config)
