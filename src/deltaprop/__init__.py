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
from .explain import Trace, explain
from .gradcheck import check_gradients
from .io import load, save
from .layers import Dense
from .live import serve
from .losses import LOSSES, Loss, get_loss
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
    "Dense",
    "DivergenceWarning",
    "History",
    "Loss",
    "Network",
    "Optimizer",
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
