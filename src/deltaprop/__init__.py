"""deltaprop: feed-forward neural networks trained by error backpropagation.

>>> import numpy as np
>>> import deltaprop as dp
>>> net = dp.Network([dp.Dense(2, 2, "sigmoid"), dp.Dense(2, 1, "sigmoid")], random_state=0)
>>> X = np.array([[0.0, 1.0]]); y = np.array([1.0])
>>> loss, grads = net.loss_and_gradients(X, y)
>>> [g[0].shape for g in grads]
[(2, 2), (2, 1)]
"""

from . import data as data  # registers the "preprocessor" kind of model files
from . import schedules
from .activations import ACTIVATIONS, Activation, get_activation
from .checkpoint import Checkpoint
from .explain import Trace, explain
from .gradcheck import check_gradients
from .io import load, save
from .layers import Dense
from .live import serve
from .losses import LOSSES, Loss, get_loss
from .model import TabularModel
from .network import Network
from .optimizers import LBFGS, SGD, Adam, Optimizer
from .training import DivergenceWarning, History, train

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "LBFGS",
    "LOSSES",
    "SGD",
    "Activation",
    "Adam",
    "Checkpoint",
    "Dense",
    "DivergenceWarning",
    "History",
    "Loss",
    "MLPClassifier",
    "MLPRegressor",
    "Network",
    "Optimizer",
    "TabularModel",
    "Trace",
    "__version__",
    "check_gradients",
    "explain",
    "get_activation",
    "get_loss",
    "load",
    "save",
    "schedules",
    "serve",
    "train",
]


def __getattr__(name: str):
    # The scikit-learn estimators load scikit-learn, an optional dependency: only on use.
    if name in ("MLPClassifier", "MLPRegressor"):
        try:
            from . import estimator
        except ImportError as exc:
            raise ImportError(
                f"deltaprop.{name} needs scikit-learn, an optional dependency: "
                'pip install "deltaprop[sklearn]"'
            ) from exc
        return getattr(estimator, name)
    raise AttributeError(f"module 'deltaprop' has no attribute {name!r}")
