"""Training: the front door ``train``, the loops, stopping rules, splits and checkpoints.

- :mod:`~deltaprop.training.trainer`: :func:`train`, argument checks and set-up;
- :mod:`~deltaprop.training.loop`: the one first-order loop, into which the eager
  iteration (:mod:`~deltaprop.training.eager`) and the static-buffer iteration that CUDA
  graphs replay (:mod:`~deltaprop.training.static`) plug;
- :mod:`~deltaprop.training.lbfgs`: the L-BFGS driver;
- :mod:`~deltaprop.training.stopping`: the stop rules, Ctrl-C and divergence;
- :mod:`~deltaprop.training.splits`: validation split, class weights, validation loss;
- :mod:`~deltaprop.training.history` and :mod:`~deltaprop.training.checkpoint`;
- :mod:`~deltaprop.training.metrics`: a validation score per epoch (accuracy, R²);
- :mod:`~deltaprop.training.members`: :func:`train_members`, networks of one shape
  trained side by side (the tabular recipe's ensemble).
"""

from deltaprop.training.checkpoint import Checkpoint, ResumeMismatchError
from deltaprop.training.history import DivergenceWarning, History
from deltaprop.training.members import train_members
from deltaprop.training.metrics import ValidationScore
from deltaprop.training.trainer import train

__all__ = [
    "Checkpoint",
    "DivergenceWarning",
    "History",
    "ResumeMismatchError",
    "ValidationScore",
    "train",
    "train_members",
]
