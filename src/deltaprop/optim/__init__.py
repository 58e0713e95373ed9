"""Optimizers (each update rule written once, in place) and learning-rate schedules."""

from deltaprop.optim import schedules
from deltaprop.optim.optimizers import LBFGS, OPTIMIZERS, SGD, Adam, Optimizer

__all__ = ["LBFGS", "OPTIMIZERS", "SGD", "Adam", "Optimizer", "schedules"]
