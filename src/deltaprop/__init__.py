"""deltaprop: feed-forward neural networks trained by error backpropagation.

``import deltaprop`` loads NumPy and the engine (:mod:`deltaprop.core`) only; every other
public name is imported from its room the first time it is used.

Examples
--------
>>> import numpy as np
>>> import deltaprop as dp
>>> net = dp.Network([dp.Dense(2, 2, "sigmoid"), dp.Dense(2, 1, "sigmoid")], random_state=0)
>>> X = np.array([[0.0, 1.0]]); y = np.array([1.0])
>>> loss, grads = net.loss_and_gradients(X, y)
>>> [g[0].shape for g in grads]
[(2, 2), (2, 1)]
"""

from __future__ import annotations

import importlib
from typing import Any

from deltaprop._version import __version__
from deltaprop.core import (
    ACTIVATIONS,
    LOSSES,
    Activation,
    Dense,
    Loss,
    Network,
    activations,
    check_gradients,
    get_activation,
    get_loss,
    losses,
)

#: Public names that live above the core: name -> the module that defines it, imported on
#: first use (so ``import deltaprop`` stays light and optional dependencies stay optional).
_LAZY = {
    "LBFGS": "deltaprop.optim",
    "SGD": "deltaprop.optim",
    "Adam": "deltaprop.optim",
    "Optimizer": "deltaprop.optim",
    "schedules": "deltaprop.optim",
    "load": "deltaprop.files",
    "save": "deltaprop.files",
    "Checkpoint": "deltaprop.training",
    "DivergenceWarning": "deltaprop.training",
    "History": "deltaprop.training",
    "train": "deltaprop.training",
    "MLPClassifier": "deltaprop.estimators",
    "MLPRegressor": "deltaprop.estimators",
    "TabularClassifier": "deltaprop.estimators",
    "TabularRegressor": "deltaprop.estimators",
    "TabularModel": "deltaprop.tabular",
    "Trace": "deltaprop.explain",
    "explain": "deltaprop.explain",
    "to_onnx": "deltaprop.export",
    "serve": "deltaprop.live",
}
#: Names whose room needs an optional dependency: the extra that installs it.
_EXTRAS = {
    "MLPClassifier": "sklearn",
    "MLPRegressor": "sklearn",
    "TabularClassifier": "sklearn",
    "TabularRegressor": "sklearn",
    "to_onnx": "onnx",
}

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "Activation",
    "Dense",
    "Loss",
    "Network",
    "__version__",
    "activations",
    "check_gradients",
    "get_activation",
    "get_loss",
    "losses",
    *sorted(_LAZY),
]


#: The rooms (subpackages) that ``deltaprop.<room>`` imports on first use, as
#: ``import deltaprop; deltaprop.tabular.read_table(...)`` expects.
_ROOMS = (
    "cli",
    "core",
    "datasets",
    "estimators",
    "explain",
    "export",
    "files",
    "kernels",
    "live",
    "optim",
    "parallel",
    "tabular",
    "training",
)


def __getattr__(name: str) -> Any:
    if name in _ROOMS:
        return importlib.import_module(f"deltaprop.{name}")
    if name not in _LAZY:
        raise AttributeError(f"module 'deltaprop' has no attribute {name!r}")
    try:
        module = importlib.import_module(_LAZY[name])
    except ImportError as exc:
        if name not in _EXTRAS:
            raise
        raise ImportError(
            f"deltaprop.{name} needs an optional dependency: "
            f'pip install "deltaprop[{_EXTRAS[name]}]"'
        ) from exc
    value = getattr(module, name)
    # Importing a room binds the room's module under its name on this package (the import
    # system does that); a public function of the same name (explain) must win.
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_ROOMS))
