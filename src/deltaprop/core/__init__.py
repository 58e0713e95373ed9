"""The engine: activations, losses, layers, initial weights, the network, the objective.

Everything here is the mathematics of backpropagation and nothing else; it imports no other
room of deltaprop (see ARCHITECTURE.md).
"""

from deltaprop.core.activations import ACTIVATIONS, Activation, get_activation
from deltaprop.core.gradcheck import check_gradients
from deltaprop.core.layers import Dense
from deltaprop.core.losses import LOSSES, Loss, get_loss
from deltaprop.core.network import Network

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "Activation",
    "Dense",
    "Loss",
    "Network",
    "check_gradients",
    "get_activation",
    "get_loss",
]
