"""A live page that shows backpropagation training a network on your data.

:func:`serve` trains a network in a background thread with :func:`deltaprop.train` and
serves a page on ``http://127.0.0.1:PORT/`` that draws it as it learns: the network
(units coloured by one sample's activation or delta, links by weight or gradient,
exact values and formulas on hover), the loss and accuracy curves, and the decision
boundary; with controls to pause, take one step (and read its
:func:`deltaprop.explain` trace), change the learning rate and batch size, reset with
a new architecture, and download the model file. Everything the page needs ships in
this package (see ``static/README.md``); nothing is fetched from the network.
"""

from __future__ import annotations

import inspect
import sys
import threading
import webbrowser
from collections.abc import Sequence
from typing import Any

import numpy as np

from deltaprop.core.network import Network
from deltaprop.core.validation import check_number
from deltaprop.estimators import plan as estimator_plan
from deltaprop.explain import DEFAULT_LEARNING_RATE
from deltaprop.live._data import checked_rows, toy_dataset
from deltaprop.live._server import LiveServer
from deltaprop.live._session import (
    SETTING_RULES,
    Settings,
    TrainingSession,
    check_settings,
    rebuild,
)
from deltaprop.live._table import TableModel, model_from_table
from deltaprop.live.toys import TOYS, toy
from deltaprop.optim.optimizers import LBFGS, SGD, Optimizer

__all__ = [
    "SETTING_RULES",
    "TOYS",
    "LiveServer",
    "TableModel",
    "model_from_table",
    "serve",
    "serve_toy",
    "toy",
]

_HOSTS = ("127.0.0.1", "localhost")


def _network_of(model: Any) -> Network:
    """The network to train: a :class:`Network` itself, or a copy of a fitted estimator's."""
    if isinstance(model, Network):
        return model
    if _is_estimator(model):
        if not hasattr(model, "coefs_"):
            raise ValueError(
                f"this {type(model).__name__} is not fitted: fit it first (serve trains its "
                "network further), or pass a deltaprop Network"
            )
        return model._network(np.result_type(*model.coefs_))
    raise TypeError(
        "network_or_estimator must be a deltaprop Network, MLPClassifier or MLPRegressor, "
        f"got {type(model).__name__}"
    )


def _is_estimator(model: Any) -> bool:
    module = type(model).__module__
    return module.startswith("deltaprop.estimators.") and hasattr(model, "_network")


def _estimator_targets(estimator: Any, net: Network, y: Any, validation_data: Any):
    """Encode an estimator's targets as its network sees them (0/1 or one-hot columns)."""

    def encode(labels):
        if not hasattr(estimator, "classes_"):  # a regressor: numbers as they are
            return np.asarray(labels, dtype=np.float64)
        Y = estimator._label_binarizer.transform(labels).astype(np.float64)
        if Y.shape[1] == 1 and net.n_outputs == 2:  # binary with a softmax output
            Y = np.hstack([1.0 - Y, Y])
        return Y

    if validation_data is not None:
        validation_data = (validation_data[0], encode(validation_data[1]), *validation_data[2:])
    return encode(y), validation_data


def _estimator_optimizer(estimator: Any) -> Optimizer:
    # the page takes first-order steps: an lbfgs estimator trains by gradient descent
    solver = "gd" if estimator.solver == "lbfgs" else None
    return estimator_plan.optimizer(estimator, solver=solver)


def _names(names: Sequence[str] | None, n: int, what: str, default: str) -> list[str]:
    if names is None:
        return [f"{default}{i}" for i in range(n)]
    names = [str(v) for v in names]
    if len(names) != n:
        raise ValueError(f"{what} must have {n} names, got {len(names)}")
    return names


def serve(
    network_or_estimator: Any,
    X: Any,
    y: Any,
    *,
    sample_weight: Any = None,
    class_weight: Any = None,
    host: str = "127.0.0.1",
    port: int = 0,
    open_browser: bool = False,
    optimizer: Optimizer | None = None,
    batch_size: int | None = None,
    max_iter: int = 1000,
    target_loss: float | None = None,
    validation_data: tuple[Any, ...] | None = None,
    validation_fraction: float | None = None,
    random_state: Any = None,
    epochs_per_second: float | None = None,
    paused: bool = False,
    feature_names: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    target_name: str | None = None,
    title: str | None = None,
    preprocessor: Any = None,
    block: bool = True,
) -> LiveServer:
    """Train a network while a local web page shows it learning.

    Parameters
    ----------
    network_or_estimator : Network, or a fitted MLPClassifier or MLPRegressor
        A Network is trained in place (a reset on the page trains a new one:
        ``server.network``). For a fitted estimator the page trains a copy of its
        network, starting from its ``coefs_``, with ``y`` given as the estimator takes it
        (labels or numbers) and, unless ``optimizer`` is given, the estimator's solver
        (adam, or SGD with its momentum; lbfgs becomes plain gradient descent) at
        ``learning_rate_init``; the estimator itself is left unchanged (download the
        trained network from the page).
    X : array of shape (n_samples, n_inputs)
    y : array of shape (n_samples, n_outputs), or (n_samples,) for one output
        As :func:`deltaprop.train` takes it: 0/1 for one sigmoid output, one-hot rows
        for softmax, numbers for regression.
    sample_weight : array of shape (n_samples,), optional
    class_weight : "balanced" or mapping of int to float, optional
        As :func:`deltaprop.train` takes it; it multiplies the sample weights.
    host : {"127.0.0.1", "localhost"}
        The page is served on the loopback interface only.
    port : int, default 0
        0 picks a free port.
    open_browser : bool, default False
        Open the page in the default web browser.
    optimizer : Optimizer, default ``SGD(learning_rate=0.5)``
        A first-order optimizer (the page changes its ``learning_rate``).
    batch_size : int or None
        None for full-batch gradient descent.
    max_iter : int, default 1000
        Training stops after this many epochs (the page can raise it).
    target_loss : float, optional
        Training stops once an epoch's loss is at or below it.
    validation_data : tuple ``(X_val, y_val)`` or ``(X_val, y_val, w_val)``, optional
    validation_fraction : float in (0, 1), optional
        Instead: hold out this fraction of the rows (seeded, stratified by class).
        Below 50 rows nothing is held out (every row trains) and the page says so.
    random_state : int, numpy Generator or None
        Seeds the split, the mini-batch order and a reset's new weights; None uses
        ``net.random_state``.
    epochs_per_second : float, optional
        Slow training down to at most this many epochs per second (the page can
        change it); None trains at full speed.
    paused : bool, default False
        Start paused (press play on the page).
    feature_names, class_names : list of str, optional
        Shown on the page.
    target_name, title : str, optional
        Shown on the page.
    preprocessor : object, optional
        A :class:`deltaprop.tabular.Preprocessor` (or anything :func:`deltaprop.save` takes)
        that the page offers for download next to the network.
    block : bool, default True
        True: print the URL, serve until Ctrl-C, then stop and return the (closed)
        server. False: return the running server at once (close it when done).

    Returns
    -------
    LiveServer

    Raises
    ------
    ValueError, TypeError
        For bad data or options (as :func:`deltaprop.train`), a host other than the
        loopback one, or an optimizer without a learning rate (L-BFGS).
    OSError
        When the port is taken.

    Examples
    --------
    >>> import numpy as np, urllib.request, json
    >>> import deltaprop as dp
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> y = np.array([0.0, 1.0, 1.0, 0.0])
    >>> net = dp.Network([dp.Dense(2, 4, "tanh"), dp.Dense(4, 1)], random_state=0)
    >>> with dp.serve(net, X, y, max_iter=20, block=False) as server:
    ...     server.url.startswith("http://127.0.0.1:")
    True
    """
    net = _network_of(network_or_estimator)
    if _is_estimator(network_or_estimator):
        y, validation_data, optimizer, class_names = _estimator_defaults(
            network_or_estimator, net, y, validation_data, optimizer, class_names
        )
    options = {name: value for name, value in locals().items() if name in _OPTIONS}
    return _launch(net, X, y, "given", options)


def serve_toy(
    name: str,
    *,
    hidden: Sequence[int] = (16, 8),
    activation: str = "tanh",
    alpha: float = 0.0,
    random_state: int = 0,
    **options: Any,
) -> LiveServer:
    """Serve the live page on one of the toy data sets (:mod:`deltaprop.live.toys`).

    Parameters
    ----------
    name : {"xor", "circles", "moons", "spirals", "linear", "sine"}
    hidden : sequence of int, default (16, 8)
        Hidden-layer sizes.
    activation : str, default "tanh"
        The hidden layers' activation (the output layer fits the task: sigmoid and
        binary cross-entropy, or identity and squared error for ``sine``).
    alpha : float, default 0.0
        L2 penalty.
    random_state : int, default 0
        Seeds the rows, the split and the initial weights.
    **options
        Any keyword :func:`serve` takes (``optimizer``, ``max_iter``, ``paused``,
        ``block``, ...), except the data's own (``sample_weight``, ``class_weight``,
        ``validation_data``, names and title).

    Returns
    -------
    LiveServer

    Examples
    --------
    >>> import deltaprop.live as live
    >>> with live.serve_toy("xor", max_iter=20, block=False) as server:
    ...     server.session.data.key, server.session.X.shape
    ('xor', (200, 2))
    """
    own = {"sample_weight", "class_weight", "validation_data", "feature_names", "class_names"}
    own |= {"target_name", "title", "preprocessor"}
    unknown = sorted(set(options) - (_OPTIONS - own))
    if unknown:
        raise TypeError(f"serve_toy() got unexpected keyword arguments {unknown}")
    fraction = options.get("validation_fraction")
    hidden, activation = list(hidden), str(activation)
    data = toy_dataset(
        name,
        hidden=hidden,
        activation=activation,
        alpha=check_number("alpha", alpha, low=0.0),
        seed=random_state,
        validation_fraction=fraction,
    )
    net = rebuild(data.template, hidden, activation, random_state)
    info = data.info
    options = {
        **_DEFAULTS,
        **options,
        "random_state": random_state,
        "feature_names": info["feature_names"],
        "class_names": info["class_names"],
        "target_name": info["target_name"],
        "title": info["title"],
    }
    return _launch(net, data.X, data.y, name, options)


def _launch(net: Network, X: Any, y: Any, data_key: str, o: dict[str, Any]) -> LiveServer:
    """Check the options ``o`` (:func:`serve`'s keywords), start the session and server."""
    host = o["host"]
    if host not in _HOSTS:
        raise ValueError(f"host must be one of {list(_HOSTS)} (loopback only), got {host!r}")
    port = check_number("port", o["port"], low=0, high=65535, integer=True)
    optimizer = _checked_optimizer(o["optimizer"])
    settings = Settings(
        **check_settings(
            {
                "learning_rate": float(optimizer.learning_rate),
                **{name: o[name] for name in SETTING_RULES if name != "learning_rate"},
            }
        )
    )
    for name in ("open_browser", "paused", "block"):
        if not isinstance(o[name], bool):
            raise TypeError(f"{name} must be a bool, got {o[name]!r}")

    seed = net.random_state if o["random_state"] is None else o["random_state"]
    X, y, w, validation, note = checked_rows(
        net,
        X,
        y,
        o["sample_weight"],
        class_weight=o["class_weight"],
        validation_data=o["validation_data"],
        validation_fraction=o["validation_fraction"],
        seed=seed,
    )
    class_names = o["class_names"]
    info = {
        "title": o["title"],
        "feature_names": _names(o["feature_names"], net.n_inputs, "feature_names", "x"),
        "class_names": None if class_names is None else [str(c) for c in class_names],
        "target_name": o["target_name"],
    }
    session = TrainingSession(
        net,
        X,
        y,
        w,
        validation,
        optimizer=optimizer,
        settings=settings,
        random_state=seed,
        paused=o["paused"],
        info=info,
        preprocessor=o["preprocessor"],
        note=note,
        data_key=data_key,
        validation_fraction=o["validation_fraction"],
    )
    server = LiveServer(session, host, port).start()
    if o["open_browser"]:
        threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
    if o["block"]:
        _serve_until_interrupted(server)
    return server


def _estimator_defaults(
    estimator: Any, net: Network, y: Any, validation_data: Any, optimizer: Any, class_names: Any
) -> tuple[Any, Any, Any, Any]:
    """``y``, ``validation_data``, the optimizer and class names for a fitted estimator."""
    y, validation_data = _estimator_targets(estimator, net, y, validation_data)
    if optimizer is None:
        optimizer = _estimator_optimizer(estimator)
    if class_names is None and hasattr(estimator, "classes_"):
        class_names = [str(c) for c in estimator.classes_]
    return y, validation_data, optimizer, class_names


def _checked_optimizer(optimizer: Any) -> Optimizer:
    """The optimizer the page steps with: default ``SGD(learning_rate=0.5)``."""
    if optimizer is None:
        return SGD(learning_rate=DEFAULT_LEARNING_RATE)
    if isinstance(optimizer, LBFGS):
        raise ValueError("serve needs an optimizer with a learning rate (SGD or Adam), not LBFGS")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be an Optimizer, got {type(optimizer).__name__}")
    return optimizer


#: :func:`serve`'s keyword options and their defaults.
_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(serve).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
}
_OPTIONS = set(_DEFAULTS)


def _serve_until_interrupted(server: LiveServer) -> None:
    # serve() with block=True is the interactive entry point: it must say where the page is
    print(f"deltaprop: serving {server.url}  (Ctrl-C to stop)", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        print("\ndeltaprop: stopped", file=sys.stderr, flush=True)
    finally:
        server.close()
