"""A training session that a live page watches and steers.

Training runs in a background thread through :func:`deltaprop.train` itself, in chunks:
each chunk is one ``train`` call with the same optimizer object (its state carries
over) and the same random generator (the mini-batch order continues), so a run that
is paused and resumed gives bit-identical weights to one that never stopped. The
callback passed to ``train`` records the curves, publishes a frame when one is due and
returns True when the page asked for something (pause, one step, new settings, a
reset): ``train`` then stops after the current epoch, the request is applied, and the
next chunk starts.

Frames are published at most every 0.1 s, and never more often than every 20 times
the time one frame takes to compute, so watching costs training at most about 5% of
its speed; with no page connected, none are computed.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltaprop.core.activations import ACTIVATIONS
from deltaprop.core.initializers import make_rng
from deltaprop.core.layers import Dense
from deltaprop.core.network import Network
from deltaprop.core.validation import check_number
from deltaprop.explain.trace import explain
from deltaprop.live._data import DataSet, toy_dataset
from deltaprop.live._frames import (
    GRID_SIZE,
    Projection,
    finite_or_none,
    loss_warning,
    network_frame,
    network_task,
    point_labels,
    step_row,
)
from deltaprop.live.toys import TOYS
from deltaprop.optim.optimizers import SGD, Optimizer
from deltaprop.training.trainer import train

#: The shortest time between two frames (at most 10 frames per second).
MIN_FRAME_INTERVAL = 0.1
#: A frame waits at least this many times the time computing the last one took.
FRAME_COST_FACTOR = 20.0
#: Limits of an architecture chosen on the page.
MAX_HIDDEN_LAYERS = 8
MAX_UNITS = 1024
#: A weight or bias set on the page lies in [-MAX_PARAMETER, MAX_PARAMETER].
MAX_PARAMETER = 1000.0
#: The slowest pace the page may ask for: one epoch per 100 s (a pause is "pause").
MIN_EPOCHS_PER_SECOND = 0.01
#: The range of each setting: the page's ``set`` and :func:`deltaprop.serve`'s arguments.
SETTING_RULES: dict[str, dict[str, Any]] = {
    "learning_rate": {"low": 0.0, "low_open": True, "high": 1e6},
    "batch_size": {"low": 1, "high": 10**9, "integer": True, "allow_none": True},
    "max_iter": {"low": 1, "high": 10**9, "integer": True},
    "target_loss": {"low": 0.0, "allow_none": True},
    "epochs_per_second": {"low": MIN_EPOCHS_PER_SECOND, "high": 1e6, "allow_none": True},
}
#: Seconds a step or parameter change waits for another one to finish (then 503).
LOCK_WAIT = 5.0
#: Seconds a step or parameter change waits for the training thread (then 503).
REQUEST_WAIT = 30.0
#: The actions of :meth:`TrainingSession.control`.
ACTIONS = ("play", "pause", "step", "set", "reset", "sample", "param", "restore", "data")

STATES = ("running", "paused", "done", "diverged", "error", "closed")
#: The names a control message may carry (an error names one of them first).
FIELDS = frozenset(
    {"action", "name", "index", "hidden", "activation", "seed", "layer", "kind", "i", "j"}
    | {"value", *SETTING_RULES}
)

logger = logging.getLogger("deltaprop.live")


class SessionBusy(RuntimeError):
    """A request that cannot be served now (the HTTP server answers 503)."""


class FrameHub:
    """The newest frame, shared by every connected page: a new frame replaces the old.

    Readers wait for a sequence number newer than the one they sent; a slow reader
    simply skips frames, so it never holds the training thread back.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seq = 0
        self._item: Any = None
        self._closed = False
        self._clients = 0

    @property
    def n_clients(self) -> int:
        """How many event streams are open."""
        return self._clients

    def add_client(self, limit: int) -> bool:
        """Count one more open stream, unless ``limit`` are open; whether it was counted."""
        with self._cond:
            if self._clients >= limit:
                return False
            self._clients += 1
            return True

    def remove_client(self) -> None:
        with self._cond:
            self._clients -= 1

    def publish(self, item: Any) -> None:
        with self._cond:
            self._seq += 1
            self._item = (self._seq, item)
            self._cond.notify_all()

    def latest(self) -> tuple[int, Any] | None:
        return self._item

    def wait(self, after: int, timeout: float) -> tuple[int, Any] | None:
        """The newest item once its number exceeds ``after``; None after ``timeout`` s.

        Raises ``EOFError`` once the hub is closed.
        """
        with self._cond:
            self._cond.wait_for(lambda: self._closed or self._seq > after, timeout)
            if self._closed:
                raise EOFError("the session is closed")
            return self._item if self._seq > after else None

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less when the hub closes (then raise ``EOFError``)."""
        with self._cond:
            if self._cond.wait_for(lambda: self._closed, seconds):
                raise EOFError("the session is closed")

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


@dataclass
class Settings:
    """What the page may change without a reset (they apply from the next epoch)."""

    learning_rate: float
    batch_size: int | None
    max_iter: int
    target_loss: float | None
    epochs_per_second: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "max_iter": self.max_iter,
            "target_loss": self.target_loss,
            "epochs_per_second": self.epochs_per_second,
        }


def check_settings(changes: dict[str, Any]) -> dict[str, Any]:
    """Validated setting changes (keys of :class:`Settings`, ranges :data:`SETTING_RULES`).

    Raises
    ------
    ValueError, TypeError
        For an unknown setting or a value out of its range, naming it.

    Examples
    --------
    >>> check_settings({"learning_rate": 0.1, "batch_size": None})
    {'learning_rate': 0.1, 'batch_size': None}
    >>> check_settings({"epochs_per_second": 1e-300})
    Traceback (most recent call last):
    ...
    ValueError: epochs_per_second must be >= 0.01, got 1e-300
    """
    out = {}
    for key, value in changes.items():
        if key not in SETTING_RULES:
            raise ValueError(f"unknown setting {key!r}; expected one of {list(SETTING_RULES)}")
        out[key] = _number(key, value, **SETTING_RULES[key])
    return out


def _number(name: str, value: Any, **rule: Any) -> Any:
    """``check_number``, with an integer too large for a float refused as out of range."""
    try:
        return check_number(name, value, **rule)
    except OverflowError:
        raise ValueError(
            f"{name} must be a finite number, got an integer of {len(str(abs(value)))} digits"
        ) from None


def check_architecture(hidden: Any, activation: Any) -> tuple[list[int], str]:
    """Validated hidden-layer sizes and activation name for a reset."""
    if isinstance(hidden, str) or not isinstance(hidden, list | tuple):
        raise TypeError(f"hidden must be a list of layer sizes, got {hidden!r}")
    if len(hidden) > MAX_HIDDEN_LAYERS:
        raise ValueError(f"hidden must have at most {MAX_HIDDEN_LAYERS} layers, got {len(hidden)}")
    sizes = [
        _number(f"hidden[{i}]", h, low=1, high=MAX_UNITS, integer=True)
        for i, h in enumerate(hidden)
    ]
    if sum(sizes) > MAX_UNITS:
        raise ValueError(f"hidden must have at most {MAX_UNITS} units in all, got {sum(sizes)}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {activation!r}")
    return sizes, activation


def rebuild(template: Network, hidden: list[int], activation: str, random_state: Any) -> Network:
    """A fresh network with ``template``'s inputs, output layer, loss and ``alpha``.

    Examples
    --------
    >>> import deltaprop as dp
    >>> net = dp.Network([dp.Dense(3, 4), dp.Dense(4, 2, "softmax")], loss="cross_entropy")
    >>> new = rebuild(net, [5, 3], "tanh", 0)
    >>> [(layer.n_in, layer.n_out, layer.activation.name) for layer in new.layers]
    [(3, 5, 'tanh'), (5, 3, 'tanh'), (3, 2, 'softmax')]
    """
    sizes = [template.n_inputs, *hidden, template.n_outputs]
    layers = [Dense(sizes[i], sizes[i + 1], activation) for i in range(len(hidden))]
    output = template.layers[-1]
    layers.append(Dense(sizes[-2], sizes[-1], output.activation, init=output.init))
    return Network(layers, loss=template.loss, alpha=template.alpha, random_state=random_state)


def _index(name: str, value: Any, size: int, what: str) -> int:
    index = _number(name, value, low=0, integer=True)
    if index >= size:
        raise ValueError(f"{name} must be < {size} ({what}), got {index!r}")
    return index


def check_parameter(net: Network, params: dict[str, Any]) -> dict[str, Any]:
    """A validated ``param`` request: ``layer``, ``kind``, ``i``, ``j``, ``value``.

    Indices are 0-based positions in the frame's arrays (``weights[i][j]`` of
    ``layers[layer]``, or ``bias[j]``); the page shows them 1-based.
    """
    allowed = {"layer", "kind", "i", "j", "value"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"param takes {sorted(allowed)}, got unknown {unknown}")
    layer = _index("layer", params.get("layer"), len(net.layers), "the layers")
    kind = params.get("kind", "weight")
    if kind not in ("weight", "bias"):
        raise ValueError(f"kind must be 'weight' or 'bias', got {kind!r}")
    dense = net.layers[layer]
    i = None
    if kind == "weight":
        i = _index("i", params.get("i"), dense.n_in, "the layer's inputs")
    elif "i" in params:
        raise ValueError("a bias has no input index i")
    j = _index("j", params.get("j"), dense.n_out, "the layer's units")
    value = _number("value", params.get("value"), low=-MAX_PARAMETER, high=MAX_PARAMETER)
    if not math.isfinite(value):
        raise ValueError(f"value must be finite, got {value!r}")
    return {"layer": layer, "kind": kind, "i": i, "j": j, "value": float(value)}


@dataclass
class _Request:
    """Work the training thread does for a page that waits for the answer."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)
    result: dict[str, Any] | None = None
    error: str | None = None


class TrainingSession:
    """Train ``net`` in a background thread while pages watch it.

    Parameters
    ----------
    net : Network
    X, y : ndarray
        Validated training rows, shapes (n_samples, n_inputs) and (n_samples, n_outputs).
    sample_weight : ndarray of shape (n_samples,) or None
    validation : tuple ``(X_val, y_val, w_val)`` or None
    optimizer : Optimizer
    settings : Settings
    random_state : int, Generator or None
        Seeds training (the mini-batch order) and a reset's new weights.
    paused : bool
        Start paused instead of training.
    info : dict
        Shown on the page: ``title``, ``feature_names``, ``class_names``,
        ``target_name``.
    preprocessor : object or None
        Offered for download next to the network.
    note : str, optional
        Shown on the page: why there is no validation split.
    data_key : str, default "given"
        The name of this data in the page's data menu (a toy data set's name when it
        is one).
    validation_fraction : float, optional
        The share of a toy data set's rows held out when the page switches to one.
    """

    def __init__(
        self,
        net: Network,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None,
        validation: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None,
        *,
        optimizer: Optimizer,
        settings: Settings,
        random_state: Any,
        paused: bool,
        info: dict[str, Any],
        preprocessor: Any = None,
        note: str | None = None,
        data_key: str = "given",
        validation_fraction: float | None = None,
    ) -> None:
        self.net = net
        self.optimizer = optimizer
        self.settings = settings
        self.random_state = random_state
        self.validation_fraction = validation_fraction
        self.given = DataSet(
            data_key, X, y, sample_weight, validation, net, info, note, preprocessor
        )
        self._use_data(self.given)
        self.hub = FrameHub()

        self._cond = threading.Condition()
        self.state = "paused" if paused else "running"
        self.stop_reason: str | None = None
        self.message: str | None = None
        self.epoch = 0
        self.run = 0
        self.sample_index = 0
        self.architecture = {
            "hidden": [layer.n_out for layer in net.layers[:-1]],
            "activation": net.layers[0].activation.name if len(net.layers) > 1 else "tanh",
            "seed": random_state if isinstance(random_state, int) else None,
        }
        self._rng = make_rng(random_state)
        self._new_run()
        self._pending: dict[str, Any] = {}
        self._reset: dict[str, Any] | None = None
        self._request: _Request | None = None
        self._request_lock = threading.Lock()
        self._trained: list[Any] | None = None  # the weights before the page set any
        self._force_frame = True
        self._interrupt = False
        self._closed = False
        self._offset = 0
        self._frame_due = 0.0
        self._pace_due = 0.0
        self._paced = True
        self._published: tuple[Network, list[Any]] | None = None
        self._latest_loss: float | None = None
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="deltaprop-live", daemon=True)
        self._blas = _blas_controller()

    def _use_data(self, data: DataSet) -> None:
        """Train on ``data`` from now on (its rows, plane, names and note)."""
        self.data = data
        self.X, self.y, self.sample_weight = data.X, data.y, data.sample_weight
        self.validation = None
        if data.validation is not None:
            X_v, y_v, w_v = data.validation
            total_v = float(X_v.shape[0]) if w_v is None else float(np.sum(w_v))
            self.validation = (X_v, y_v, w_v, total_v)
        self.info = data.info
        self.preprocessor = data.preprocessor
        self.task = network_task(data.template)
        self.projection = Projection(
            data.X,
            data.info["feature_names"],
            np.random.default_rng(0),
            grid_size=_grid_size(data.template),
        )
        self.point_labels = point_labels(data.y, self.task, self.projection.shown)

    def datasets(self) -> list[dict[str, str]]:
        """The page's data menu: ``key`` and ``label`` of each data set."""
        given = self.given
        if given.key in TOYS:
            entries = []
        else:
            entries = [{"key": given.key, "label": given.info.get("title") or "your data"}]
        return entries + [{"key": name, "label": f"toy: {name}"} for name in TOYS]

    # -- the page's side ----------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop training (after the current epoch) and end every event stream."""
        with self._cond:
            self._closed = True
            self._interrupt = True
            self._cond.notify_all()
        self.hub.close()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def control(self, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Apply a request from the page; returns the status (and a step's trace).

        Actions: ``play``, ``pause``, ``step``, ``set`` (``params``: any of
        :class:`Settings`' fields), ``reset`` (``hidden``, ``activation``, ``seed``),
        ``sample`` (``index``: the row whose passes colour the units), ``param``
        (``layer``, ``kind`` ``"weight"`` or ``"bias"``, ``i``, ``j``, ``value``: set one
        parameter, pausing training, and recompute the frame), ``restore`` (the weights
        from before the first ``param``) and ``data`` (``name``: train on another data
        set of :meth:`datasets`, a new run). Indices are 0-based positions in the
        frame's arrays.

        Raises
        ------
        ValueError, TypeError
            For an unknown action or bad parameters.
        """
        params = {} if params is None else dict(params)
        if not isinstance(action, str):
            raise TypeError(f"action must be a string, got {action!r}")
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {list(ACTIONS)}, got {action!r}")
        if action in ("play", "pause", "step", "restore") and params:
            raise ValueError(f"action {action!r} takes no parameters, got {sorted(params)}")
        if action in ("step", "restore"):
            return self._wait_for(_Request(action))
        if action == "param":
            check_parameter(self.net, params)  # a bad request is refused without waiting
            return self._wait_for(_Request(action, params))
        with self._cond:
            if self._closed:
                raise ValueError("the session is closed")
            if action == "play":
                self.state, self.stop_reason, self.message = "running", None, None
            elif action == "pause":
                if self.state == "running":
                    self.state = "paused"
                    self._interrupt = True
                self._force_frame = True
            elif action == "set":
                self._pending.update(check_settings(params))
                self._interrupt = True
                self._force_frame = True
            elif action in ("reset", "data"):
                self._reset = self._checked_reset(action, params)
                self._interrupt = True
            else:  # sample
                self.sample_index = _index(
                    "index", params.get("index"), self.X.shape[0], "the training rows"
                )
                self._force_frame = True
                self._frame_due = 0.0
            self._cond.notify_all()
            return self.status()

    def _checked_reset(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """A new run's architecture, seed and data set, from a ``reset`` or ``data``."""
        if action == "data":
            keys = [entry["key"] for entry in self.datasets()]
            name = params.get("name")
            if set(params) != {"name"} or name not in keys:
                raise ValueError(f"data takes a name, one of {keys}; got {params!r}")
            params = {}
        else:
            name = None
            unknown = sorted(set(params) - {"hidden", "activation", "seed"})
            if unknown:
                raise ValueError(f"reset takes hidden, activation and seed; got {unknown}")
        hidden, activation = check_architecture(
            params.get("hidden", self.architecture["hidden"]),
            params.get("activation", self.architecture["activation"]),
        )
        seed = params.get("seed", self.architecture["seed"])
        if seed is not None:
            seed = _number("seed", seed, low=0, high=2**63 - 1, integer=True)
        return {"hidden": hidden, "activation": activation, "seed": seed, "data": name}

    def status(self) -> dict[str, Any]:
        """State, epoch, run, settings and architecture."""
        return {
            "state": self.state,
            "stop_reason": self.stop_reason,
            "message": self.message,
            "epoch": self.epoch,
            "run": self.run,
            "settings": {**self.settings.to_dict(), **self._pending},  # pending: next epoch
            "architecture": dict(self.architecture),
            "dataset": self.data.key,
            "edited": self._trained is not None,
            "loss": self._latest_loss,
        }

    def snapshot(self) -> Network:
        """A copy of the network with the weights of the newest frame."""
        with self._cond:
            published = self._published
        if published is None:
            return copy.deepcopy(self.net)
        net, params = published
        out = copy.deepcopy(net)
        out._set_parameters(params)
        return out

    def init_message(self) -> dict[str, Any]:
        """What does not change during a run: the data, the architecture, the plane."""
        net = self.net
        return {
            "run": self.run,
            "title": self.info.get("title"),
            "task": self.task,
            "loss_name": net.loss.name,
            "alpha": net.alpha,
            "n_samples": int(self.X.shape[0]),
            "n_validation": 0 if self.validation is None else int(self.validation[0].shape[0]),
            "feature_names": self.info["feature_names"],
            "class_names": self.info.get("class_names"),
            "target_name": self.info.get("target_name"),
            "layers": [
                {"n_in": layer.n_in, "n_out": layer.n_out, "activation": layer.activation.name}
                for layer in net.layers
            ],
            "optimizer": repr(self.optimizer),
            "projection": self.projection.describe(),
            "points": {
                "u": self.projection.points[:, 0].tolist(),
                "v": (
                    self.projection.points[:, 1].tolist()
                    if self.projection.points.shape[1] > 1
                    else None
                ),
                "label": self.point_labels,
                "row": self.projection.shown.tolist(),
            },
            "activations": list(ACTIVATIONS),
            "has_preprocessor": self.preprocessor is not None,
            "architecture": dict(self.architecture),
            "dataset": self.data.key,
            "datasets": self.datasets(),
            "validation_note": self.data.note,
        }

    # -- the training thread ------------------------------------------------------------
    def _new_run(self) -> None:
        self.curves: dict[str, list] = {"loss": [], "val_loss": [], "accuracy": []}
        self.init = self.init_message()

    def _wait_for(self, request: _Request) -> dict[str, Any]:
        """Hand ``request`` to the training thread (pausing training); wait for it.

        Requests from several pages are served one after another; one that waits
        :data:`LOCK_WAIT` s for another, or :data:`REQUEST_WAIT` s for the training
        thread, raises :class:`SessionBusy` (it never hangs).
        """
        if not self._request_lock.acquire(timeout=LOCK_WAIT):
            raise SessionBusy(
                f"the {request.kind} waited {LOCK_WAIT:g} s for another step or parameter "
                "change to finish; try again"
            )
        try:
            return self._hand_over(request)
        finally:
            self._request_lock.release()

    def _hand_over(self, request: _Request) -> dict[str, Any]:
        with self._cond:
            if self._closed:
                raise SessionBusy("the session is closed")
            if not self._thread.is_alive():
                raise SessionBusy("the training thread is not running")
            if self.state == "running":
                self.state = "paused"
            self._request = request
            self._interrupt = True
            self._cond.notify_all()
        if not request.done.wait(REQUEST_WAIT):
            with self._cond:
                if self._request is request:  # not begun: withdraw it
                    self._request = None
            raise SessionBusy(
                f"the {request.kind} did not finish within {REQUEST_WAIT:g} s (training is "
                "busy with a long epoch); try again"
            )
        if request.error is not None:
            raise ValueError(request.error)
        return {**self.status(), **(request.result or {})}

    def _has_work(self) -> bool:
        return bool(
            self._closed
            or self._reset is not None
            or self._pending
            or self._request is not None
            or self._force_frame
            or self.state == "running"
        )

    def _loop(self) -> None:
        """The training thread: apply what the page asked for, train, publish; never die.

        An error in any of these is a state the page shows ("error", with the
        message), not the end of the thread: the next play or step tries again.
        """
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(self._has_work)
                    if self._closed:
                        break
                    reset, self._reset = self._reset, None
                    pending, self._pending = self._pending, {}
                    request, self._request = self._request, None
                    self._interrupt = False
                    self._force_frame = False
                    running = self.state == "running"
                try:
                    self._work(reset, pending, request, running)
                except Exception as exc:  # the page shows it; training waits for play
                    self._fail(exc, request)
        finally:
            with self._cond:
                request, self._request = self._request, None
            if request is not None:
                request.error = request.error or "the session is closed"
                request.done.set()

    def _work(
        self,
        reset: dict[str, Any] | None,
        pending: dict[str, Any],
        request: _Request | None,
        running: bool,
    ) -> None:
        if reset is not None:
            self._apply_reset(reset)
        if pending:
            self._apply_settings(pending)
        if request is not None:
            self._run_request(request)
        elif running:
            self._train_chunk()
        else:
            self._publish()

    def _fail(self, exc: Exception, request: _Request | None) -> None:
        """Record an error of the training thread: state "error", the message, a frame."""
        logger.error("live training stopped by an error", exc_info=exc)
        with self._cond:
            self.state = "error"
            self.stop_reason = "error"
            self.message = (
                f"training stopped by an error: {type(exc).__name__}: {exc}. "
                "Press play to try again, or reset."
            )
        try:
            self._publish(quiet=True)
        except Exception:  # no frame can be computed: the status still says why
            logger.debug("no frame after the error", exc_info=True)
        if request is not None and not request.done.is_set():  # after the frame: the page
            request.error = self.message  # that asked reads the error state in it
            request.done.set()

    def _apply_settings(self, pending: dict[str, Any]) -> None:
        for key, value in pending.items():
            setattr(self.settings, key, value)
        if "learning_rate" in pending:
            self.optimizer.learning_rate = pending["learning_rate"]
        with self._cond:
            if self.state in ("done", "diverged") and (
                "max_iter" in pending or "target_loss" in pending
            ):
                self.state, self.stop_reason, self.message = "paused", None, None

    def _apply_reset(self, reset: dict[str, Any]) -> None:
        data = self.data
        if reset["data"] is not None:
            data = self._dataset(reset["data"], reset)
        net = rebuild(data.template, reset["hidden"], reset["activation"], reset["seed"])
        self.optimizer.reset()
        self.optimizer.learning_rate = self.settings.learning_rate
        self._rng = make_rng(reset["seed"])
        with self._cond:
            if data is not self.data:
                self._use_data(data)
            self.net = net
            self.architecture = {k: reset[k] for k in ("hidden", "activation", "seed")}
            self._trained = None
            self._latest_loss = None
            self.run += 1
            self.epoch = self._offset = 0
            self.sample_index = 0
            self._published = None
            if self.state != "running":
                self.state = "paused"
            self.stop_reason = self.message = None
            self._new_run()

    def _dataset(self, key: str, reset: dict[str, Any]) -> DataSet:
        if key == self.given.key:
            return self.given
        seed = self.random_state if isinstance(self.random_state, int) else 0
        return toy_dataset(
            key,
            hidden=reset["hidden"],
            activation=reset["activation"],
            alpha=self.given.template.alpha,
            seed=seed,
            validation_fraction=self.validation_fraction,
        )

    def _train(self, max_iter: int, *, paced: bool = True):
        """``max_iter`` epochs of :func:`deltaprop.train`; ``paced`` by the page's speed."""
        self._paced = paced
        s = self.settings
        return train(
            self.net,
            self.X,
            self.y,
            sample_weight=self.sample_weight,
            optimizer=self.optimizer,
            batch_size=s.batch_size,
            max_iter=max_iter,
            target_loss=s.target_loss,
            validation_data=None if self.validation is None else self.validation[:3],
            random_state=self._rng,
            callbacks=self._callback,
        )

    def _train_chunk(self) -> None:
        remaining = self.settings.max_iter - self.epoch
        if remaining <= 0:
            self._finish("max_iter")
            return
        self._offset = self.epoch
        self._pace_due = time.monotonic()
        self._trained = None  # training goes on from the weights set on the page
        history = self._train(remaining)
        reason = history.stop_reason
        if reason == "callback":
            with self._cond:
                if not self._has_work():
                    self._force_frame = True
            return
        self._finish(reason)

    def _finish(self, reason: str) -> None:
        with self._cond:
            self.stop_reason = reason
            if reason == "diverged":
                self.state = "diverged"
                self.message = (
                    f"training diverged in epoch {self.epoch + 1}: the loss became NaN or "
                    f"infinite with learning_rate={self.settings.learning_rate!r}. The last "
                    "weights with a finite loss are kept; lower the learning rate, then play, "
                    "or reset."
                )
            else:
                self.state = "done"
                self.message = {
                    "max_iter": f"stopped after {self.epoch} epochs (the epoch limit)",
                    "target_loss": (
                        f"stopped in epoch {self.epoch}: the loss reached the target "
                        f"{self.settings.target_loss!r}"
                    ),
                }.get(reason, f"stopped: {reason}")
        # a diverged network's numbers may not compute (the page then shows no weights),
        # but the page must still learn that training diverged
        self._publish(quiet=reason == "diverged")

    def _run_request(self, request: _Request) -> None:
        try:
            if request.kind == "step":
                self._run_step(request)
                return
            if request.kind == "param":  # checked again: a reset may have come between
                self._set_parameter(**check_parameter(self.net, request.params))
            elif self._trained is not None:  # restore
                self.net._set_parameters(self._trained)
                self._trained = None
            self._publish()
            request.result = {"loss": self._latest_loss}
        except (ValueError, TypeError) as exc:
            request.error = str(exc)
        request.done.set()

    def _set_parameter(self, layer: int, kind: str, i: int | None, j: int, value: float) -> None:
        """Set one weight or bias (new arrays: published frames keep their own)."""
        with self._cond:
            if self.state in ("done", "diverged"):
                self.state, self.stop_reason, self.message = "paused", None, None
        if self._trained is None:
            self._trained = list(self.net.parameters)
        dense = self.net.layers[layer]
        if kind == "weight":
            weights = np.array(dense.weights, copy=True)
            weights[i, j] = value
            dense.weights = weights
        else:
            bias = np.array(dense.bias, copy=True)
            bias[j] = value
            dense.bias = bias

    def _run_step(self, request: _Request) -> None:
        """One epoch, and the explain trace of a full-batch gradient-descent step."""
        try:
            lr = self.settings.learning_rate
            trace = explain(self.net, self.X, self.y, self.sample_weight, learning_rate=lr)
            row = step_row(trace, self.net, self.sample_index)
            self._offset = self.epoch
            self._pace_due = time.monotonic()
            self._trained = None  # training goes on from the weights set on the page
            history = self._train(1, paced=False)  # a step is one epoch now, whatever the speed
        except ValueError as exc:
            request.error = str(exc)
            request.done.set()
            return
        if history.stop_reason == "diverged":
            self._finish("diverged")
        else:
            with self._cond:
                if self.state != "running":  # a step leaves the run paused, even when done
                    self.state, self.stop_reason, self.message = "paused", None, None
            self._publish()
        exact = (
            isinstance(self.optimizer, SGD)
            and self.optimizer.momentum == 0.0
            and (self.settings.batch_size is None or self.settings.batch_size >= self.X.shape[0])
            and not any(layer.dropout for layer in self.net.layers)
        )
        request.result = {
            "trace_text": trace.to_text(),
            "trace_markdown": trace.to_markdown(),
            "step_loss": finite_or_none(history.loss[0]) if history.loss else None,
            "trace_is_the_step": exact,
            "row": row,
        }
        request.done.set()

    def _callback(self, iteration: int, history, net: Network) -> bool:
        with self._cond:
            self.epoch = self._offset + iteration
            self.curves["loss"].append(finite_or_none(history.loss[-1]))
            if history.val_loss:
                self.curves["val_loss"].append(finite_or_none(history.val_loss[-1]))
            stop = self._interrupt or self._closed
        if stop:
            return True
        if self.hub.n_clients > 0 and time.monotonic() >= self._frame_due:
            self._publish()
        rate = self.settings.epochs_per_second
        if rate is not None and self._paced:
            period = 1.0 / max(rate, MIN_EPOCHS_PER_SECOND)
            self._pace_due = max(self._pace_due + period, time.monotonic() - 1.0)
            with self._cond:
                self._cond.wait_for(
                    lambda: self._interrupt or self._closed, self._pace_due - time.monotonic()
                )
                stop = self._interrupt or self._closed
        return stop

    def _publish(self, quiet: bool = False) -> None:
        """Compute a frame at the current weights and hand it to the hub."""
        started = time.monotonic()
        with self._cond:
            net, run, epoch, index = self.net, self.run, self.epoch, self.sample_index
            curves, init = self.curves, self.init
        try:
            with self._blas_limit():
                numbers = network_frame(
                    net,
                    (self.X, self.y, self.sample_weight),
                    self.validation,
                    task=self.task,
                    projection=self.projection,
                    sample_index=index,
                )
        except Exception:
            if not quiet:
                raise
            numbers = {"loss": None, "diverged": True, "layers": []}
        params = list(net.parameters)
        with self._cond:
            if run != self.run:  # a reset came in meanwhile: this frame is stale
                return
            self._latest_loss = numbers.get("loss")
            accuracy = numbers.get("accuracy")
            if accuracy is not None and (
                not curves["accuracy"] or curves["accuracy"][-1][0] < epoch
            ):
                curves["accuracy"].append([epoch, accuracy, numbers.get("val_accuracy")])
            frame = {
                "run": run,
                "epoch": epoch,
                "state": self.state,
                "stop_reason": self.stop_reason,
                "message": self.message,
                **numbers,
                "diverged": bool(numbers.get("diverged")) or self.state == "diverged",
                "edited": self._trained is not None,
                "warning": (
                    None
                    if self.state == "diverged"
                    else loss_warning(curves["loss"], self.settings.learning_rate)
                ),
                "settings": self.settings.to_dict(),
                "time": started - self._start,
            }
            self._published = (net, params)
        meta = {
            "init": init,
            "curves": curves,
            "n_loss": epoch,
            "n_accuracy": len(curves["accuracy"]),
        }
        self.hub.publish((frame, meta))
        cost = time.monotonic() - started
        self._frame_due = started + max(MIN_FRAME_INTERVAL, FRAME_COST_FACTOR * cost)

    def _blas_limit(self):
        # Multi-threaded BLAS on a frame's products (the boundary grid) slowed the next
        # epochs of training by up to 40% on two cores; one thread computes a frame in
        # a few milliseconds. threadpoolctl (a scikit-learn dependency) is optional.
        if self._blas is None:
            return contextlib.nullcontext()
        return self._blas.limit(limits=1, user_api="blas")

    @property
    def elapsed(self) -> float:
        """Seconds since the session was created (the clock of frames' ``time``)."""
        return time.monotonic() - self._start


def _blas_controller() -> Any:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def _grid_size(net: Network) -> int:
    return 200 if net.n_inputs == 1 else GRID_SIZE
