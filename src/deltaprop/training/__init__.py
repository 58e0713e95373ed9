"""Training: the front door ``train``, the loops, stopping rules, splits and checkpoints."""

from deltaprop.training.checkpoint import Checkpoint
from deltaprop.training.trainer import DivergenceWarning, History, train

__all__ = ["Checkpoint", "DivergenceWarning", "History", "train"]
