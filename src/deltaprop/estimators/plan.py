"""The one translation of scikit-learn's MLP hyper-parameters into engine objects.

Every path that trains from scikit-learn-style settings (the estimators in memory and on
Dask, the tabular model through them, the live page given an estimator) asks this module
what those settings mean; nothing else spells the translation out:

- ``hidden_layer_sizes`` -> one :class:`~deltaprop.Dense` layer per entry of ``coefs_``
  (:func:`hidden_sizes`, :func:`dense_layers`, :func:`network`), the initial weights
  drawn as scikit-learn draws them (:func:`initial_parameters`);
- the task -> the output activation and the loss (:func:`output_activation`,
  :func:`loss_name`);
- ``solver`` with ``learning_rate_init``, ``momentum``, ``nesterovs_momentum``,
  ``beta_1``, ``beta_2``, ``epsilon``, ``tol``, ``max_fun`` -> an optimizer
  (:func:`optimizer`, and :func:`restore_state` for warm starts);
- ``learning_rate`` (``"constant"``, ``"invscaling"``, ``"adaptive"``) with ``power_t`` ->
  a schedule (:func:`schedule`);
- ``batch_size`` (``"auto"``: ``min(200, n_samples)``) -> :func:`batch_size`;
- ``early_stopping``, ``validation_fraction``, ``n_iter_no_change``, ``tol``,
  ``max_iter`` -> :class:`Stopping`, the arguments of :func:`deltaprop.train`'s stop rules.

``est`` below is anything with scikit-learn's hyper-parameter names as attributes (an
:class:`~deltaprop.MLPClassifier` or :class:`~deltaprop.MLPRegressor`); this module does
not import scikit-learn.

Examples
--------
>>> from types import SimpleNamespace
>>> est = SimpleNamespace(solver="sgd", learning_rate_init=0.01, momentum=0.9,
...                       nesterovs_momentum=True, batch_size="auto")
>>> type(optimizer(est)).__name__, batch_size(est, 1000)
('SGD', 200)
>>> [layer.n_out for layer in dense_layers([4, 8, 3], "relu", "softmax")]
[8, 3]
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from deltaprop.core.activations import ACTIVATIONS, get_activation
from deltaprop.core.activations import ALIASES as ACTIVATION_ALIASES
from deltaprop.core.initializers import allocating, check_weight_shape, glorot_parameters
from deltaprop.core.layers import Dense
from deltaprop.core.network import Network
from deltaprop.optim.optimizers import LBFGS, SGD, Adam, Optimizer
from deltaprop.optim.schedules import InverseScaling, ReduceOnPlateau, Schedule
from deltaprop.training.defaults import auto_batch_size

__all__ = [
    "FIRST_ORDER",
    "HIDDEN_ACTIVATIONS",
    "NOT_CONVERGED",
    "OUTPUT_ACTIVATIONS",
    "SOLVERS",
    "Stopping",
    "batch_size",
    "dense_layers",
    "hidden_sizes",
    "initial_parameters",
    "loss_name",
    "network",
    "optimizer",
    "output_activation",
    "restore_state",
    "schedule",
    "stopping",
    "target_loss",
    "train_seed",
]

#: Every ``solver``; ``"gd"`` (full-batch gradient descent) is deltaprop's own.
SOLVERS = ("lbfgs", "sgd", "adam", "gd")
#: The solvers that take first-order steps (epochs, mini-batches, ``partial_fit``).
FIRST_ORDER = ("sgd", "adam", "gd")
#: Names ``activation`` may take: every activation and alias but softmax.
HIDDEN_ACTIVATIONS = (set(ACTIVATIONS) | set(ACTIVATION_ALIASES)) - {"softmax"}
#: Names ``output_activation`` may take.
OUTPUT_ACTIVATIONS = set(ACTIVATIONS) | set(ACTIVATION_ALIASES)
#: The stop reasons after which scikit-learn warns that the optimisation has not converged.
NOT_CONVERGED = ("max_iter", "max_fun", "line_search_failed")


# -- the network ------------------------------------------------------------------------
def hidden_sizes(hidden_layer_sizes: Any) -> list[int]:
    """``hidden_layer_sizes`` (an int or a sequence of ints > 0) as a list of ints.

    Raises
    ------
    ValueError
        For a size that is not an integer > 0.
    """
    sizes = hidden_layer_sizes
    sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
    if any(not isinstance(s, numbers.Integral) or s <= 0 for s in sizes):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
    return [int(s) for s in sizes]


def initial_parameters(
    layer_units: Sequence[int], activation: str, random_state: Any, dtype: Any
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """scikit-learn's initial weights, number for number: ``(coefs, intercepts)``.

    The default scheme of every network (``init="auto"``,
    :func:`deltaprop.core.initializers.glorot_parameters`): Glorot uniform for weights and
    biases, drawn layer by layer (weights, then biases) from ``random_state`` (a
    :class:`numpy.random.RandomState`), with the numerator of the *hidden* activation in
    every layer (2 instead of 6 when the hidden units are logistic), as scikit-learn.

    Parameters
    ----------
    layer_units : sequence of int
        ``[n_features, *hidden_sizes, n_outputs]``.
    activation : str
        The hidden activation.
    random_state : numpy.random.RandomState
    dtype : numpy dtype

    Returns
    -------
    coefs : list of ndarray of shape (n_in, n_out)
    intercepts : list of ndarray of shape (n_out,)
    """
    numerator = get_activation(activation).glorot_numerator
    coefs, intercepts = [], []
    for fan_in, fan_out in pairwise(layer_units):
        check_weight_shape(fan_in, fan_out, "hidden_layer_sizes")
    for fan_in, fan_out in pairwise(layer_units):
        with allocating(fan_in, fan_out, "hidden_layer_sizes"):
            coef, intercept = glorot_parameters(fan_in, fan_out, numerator, random_state)
        coefs.append(coef.astype(dtype, copy=False))
        intercepts.append(intercept.astype(dtype, copy=False))
    return coefs, intercepts


def output_activation(task: str, *, multiclass: bool = False, loss: str = "squared_error") -> str:
    """scikit-learn's output activation for a task.

    Single-label multiclass targets get softmax, other classification targets (binary,
    multilabel) one logistic unit per column; regression gets identity, or exp for the
    Poisson loss.

    Examples
    --------
    >>> output_activation("classification", multiclass=True), output_activation("regression")
    ('softmax', 'identity')
    """
    if task == "classification":
        return "softmax" if multiclass else "logistic"
    return "exp" if loss == "poisson" else "identity"


def loss_name(task: str, out_activation: str, loss: str = "squared_error") -> str:
    """deltaprop's loss for a task and output activation (a regressor's ``loss`` itself).

    Examples
    --------
    >>> loss_name("classification", "softmax"), loss_name("classification", "logistic")
    ('cross_entropy', 'binary_cross_entropy')
    """
    if task == "classification":
        return "cross_entropy" if out_activation == "softmax" else "binary_cross_entropy"
    return loss


def dense_layers(
    layer_units: Sequence[int], activation: str, out_activation: str, *, dropout: float = 0.0
) -> list[Dense]:
    """One :class:`~deltaprop.Dense` layer per pair of consecutive sizes in ``layer_units``.

    The hidden layers have ``activation`` and dropout rate ``dropout``; the last layer has
    ``out_activation`` and no dropout. The weights are not drawn here.
    """
    last = len(layer_units) - 2
    return [
        Dense(
            n_in,
            n_out,
            out_activation if i == last else activation,
            dropout=0.0 if i == last else float(dropout),
        )
        for i, (n_in, n_out) in enumerate(pairwise(layer_units))
    ]


def network(
    coefs: Sequence[Any],
    intercepts: Sequence[Any],
    *,
    activation: str,
    out_activation: str,
    loss: str,
    alpha: float,
    dropout: float,
    dtype: Any,
) -> Network:
    """A :class:`~deltaprop.Network` holding ``coefs`` and ``intercepts`` (as ``dtype``).

    Parameters
    ----------
    coefs : sequence of arrays of shape (n_in, n_out)
    intercepts : sequence of arrays of shape (n_out,)
    activation, out_activation : str
        The hidden and output activations.
    loss : str
    alpha : float
        The L2 penalty strength.
    dropout : float
        The hidden layers' dropout rate.
    dtype : numpy dtype
    """
    units = [np.shape(coefs[0])[0], *(np.shape(c)[1] for c in coefs)]
    layers = dense_layers(units, activation, out_activation, dropout=dropout)
    for layer, coef, intercept in zip(layers, coefs, intercepts, strict=True):
        layer.weights = np.asarray(coef, dtype=dtype)
        layer.bias = np.asarray(intercept, dtype=dtype)
    return Network(layers, loss=loss, alpha=float(alpha), random_state=0)


# -- the optimizer and its schedule -------------------------------------------------------
def optimizer(est: Any, *, solver: str | None = None) -> Optimizer | LBFGS:
    """The optimizer ``est.solver`` (or ``solver``) names, with ``est``'s settings.

    ``"sgd"`` -> :class:`~deltaprop.SGD` (``momentum``, Nesterov when
    ``nesterovs_momentum`` and ``momentum > 0``); ``"adam"`` -> :class:`~deltaprop.Adam`;
    ``"gd"`` -> SGD without momentum; ``"lbfgs"`` -> :class:`~deltaprop.LBFGS` with
    ``gtol=tol`` and ``max_fun``.
    """
    solver = est.solver if solver is None else solver
    if solver == "lbfgs":
        # scikit-learn hands tol to SciPy's gtol, where 0 means "never"; LBFGS wants > 0.
        tol = est.tol if est.tol > 0 else np.finfo(np.float64).tiny
        return LBFGS(tol=float(tol), max_fun=int(est.max_fun))
    if solver == "adam":
        return Adam(
            learning_rate=float(est.learning_rate_init),
            beta_1=float(est.beta_1),
            beta_2=float(est.beta_2),
            epsilon=float(est.epsilon),
        )
    if solver == "sgd":
        momentum = float(est.momentum)
        return SGD(
            learning_rate=float(est.learning_rate_init),
            momentum=momentum,
            nesterov=bool(est.nesterovs_momentum) and momentum > 0.0,
        )
    return SGD(learning_rate=float(est.learning_rate_init))


def restore_state(optimizer: Any, state: dict | None, shapes: Sequence[tuple]) -> None:
    """Continue a warm start: load ``state`` into ``optimizer`` where it fits.

    ``state`` (an earlier :meth:`~deltaprop.Optimizer.state_dict`) is loaded only when it
    comes from the same optimizer class and its arrays have the parameters' ``shapes``;
    the current hyper-parameters win over the saved ones.
    """
    if state is None or state.get("name") != type(optimizer).__name__:
        return
    current = optimizer.state_dict()
    hyper = {k: current[k] for k in optimizer._hyper_parameters}
    arrays = [state[k] for k in optimizer._array_state if state[k] is not None]
    if all([a.shape for a in group] == list(shapes) for group in arrays):
        optimizer.load_state_dict({**state, **hyper})


class InverseScalingFrom(InverseScaling):
    """scikit-learn's ``"invscaling"``: ``lr_0 / (1 + t)**power_t``.

    ``t = offset + scale * (epoch - 1)`` is the number of samples seen before the epoch
    (``offset`` of them in earlier calls), so a warm start continues the decay.
    """

    def __init__(self, power_t: float, scale: float, offset: int) -> None:
        super().__init__(power_t=power_t, scale=scale)
        self.offset = offset

    def _rate(self, epoch):
        return self.initial / (1.0 + self.offset + self.scale * (epoch - 1)) ** self.power_t


def batch_size(est: Any, n_samples: int, *, stacklevel: int = 2) -> int | None:
    """The mini-batch size for ``n_samples`` training rows; None for full-batch solvers.

    ``"auto"`` is ``min(200, n_samples)`` (:func:`deltaprop.training.defaults.auto_batch_size`,
    ``train``'s default too); a larger size is clipped to ``n_samples`` with
    scikit-learn's warning (``stacklevel`` as for :func:`warnings.warn`).
    """
    if est.solver in ("lbfgs", "gd"):
        return None
    if est.batch_size == "auto":
        return auto_batch_size(n_samples)
    if est.batch_size > n_samples:
        warnings.warn(
            "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
            stacklevel=stacklevel,
        )
    return min(int(est.batch_size), n_samples)


# -- when to stop -------------------------------------------------------------------------
@dataclass(frozen=True)
class Stopping:
    """How ``early_stopping``, ``n_iter_no_change``, ``tol`` and ``max_iter`` translate.

    Attributes
    ----------
    max_iter : int
        Epochs (iterations for lbfgs); 1 for ``partial_fit``.
    patience : int
        ``n_iter_no_change``, or ``max_iter`` when it is infinite.
    holdout : bool
        Hold out ``validation_fraction`` of the rows (early stopping, first-order solvers).
    adaptive : bool
        ``learning_rate="adaptive"`` applies (solvers sgd and gd).
    score_stops : bool
        The validation score's own rule may stop training (``early_stopping_metric``
        "score", a finite patience, no adaptive schedule).
    tol, n_iter_no_change, on_validation_loss
        :func:`deltaprop.train`'s ``tol``, ``n_iter_no_change`` and ``early_stopping``:
        scikit-learn stops after *more than* ``n_iter_no_change`` epochs without an
        improvement by ``tol``, so train gets ``n_iter_no_change + 1``.
    """

    max_iter: int
    patience: int
    holdout: bool
    adaptive: bool
    score_stops: bool
    tol: float | None
    n_iter_no_change: int
    on_validation_loss: bool


def stopping(est: Any, *, incremental: bool = False) -> Stopping:
    """The stop rules for ``est``'s settings; ``incremental`` for ``partial_fit``.

    Raises
    ------
    ValueError
        For ``partial_fit`` with ``early_stopping=True``.
    """
    if incremental and est.early_stopping:
        raise ValueError("partial_fit does not support early_stopping=True")
    stochastic = est.solver in FIRST_ORDER
    holdout = bool(est.early_stopping) and stochastic
    adaptive = est.learning_rate == "adaptive" and est.solver in ("sgd", "gd")
    finite_patience = math.isfinite(est.n_iter_no_change)
    max_iter = 1 if incremental else int(est.max_iter)
    patience = int(est.n_iter_no_change) if finite_patience else max_iter
    tol, n_no_change, on_validation_loss = None, max_iter + 1, False
    if holdout and est.early_stopping_metric == "loss":
        on_validation_loss, tol = True, float(est.tol)
        if finite_patience and not adaptive:
            n_no_change = patience + 1 if finite_patience else 1
    elif stochastic and not holdout and not adaptive and finite_patience:
        tol, n_no_change = float(est.tol), patience + 1
    if tol is None and not on_validation_loss:
        # read by no rule of train's; a value that does not move with max_iter, so that
        # a checkpoint resumed with a larger max_iter records the same options
        n_no_change = patience + 1 if finite_patience else 1
    return Stopping(
        max_iter=max_iter,
        patience=patience,
        holdout=holdout,
        adaptive=adaptive,
        score_stops=est.early_stopping_metric == "score" and not adaptive and finite_patience,
        tol=tol,
        n_iter_no_change=n_no_change,
        on_validation_loss=on_validation_loss,
    )


class ScoreStop:
    """scikit-learn's early-stopping rule on the validation score, written once.

    Counts the epochs whose score is below ``best + tol``; asks training to stop when
    there are more than ``patience`` of them in a row (when ``stop`` is True). Keeps the
    parameters with the best score, which the estimator restores at the end. NaN (a
    diverged output) never counts as best.
    """

    def __init__(self, *, stop: bool, tol: float, patience: int) -> None:
        self.stop, self.tol, self.patience = stop, tol, patience
        self.scores: list[float] = []
        self.best_score = -np.inf
        self.best_params: list[Any] | None = None
        self.no_improvement = 0
        self.stopped = False

    def record(self, score: float, net: Any) -> bool:
        """Record the epoch's ``score`` (``net`` holds its weights); True: stop now."""
        self.scores.append(score)
        self.no_improvement = self.no_improvement + 1 if score < self.best_score + self.tol else 0
        if score > self.best_score:
            self.best_score, self.best_params = score, self._snapshot(net)
        self.stopped = self.stop and self.no_improvement > self.patience
        return self.stopped

    def _snapshot(self, net: Any) -> list[Any]:
        # training gives each step new arrays: the list keeps this epoch's
        return list(net.parameters)


def check_resume(est: Any, resume: Any, stop: Stopping) -> None:
    """Refuse to resume a run that stops on the validation score.

    :class:`ScoreStop`'s state (best score, patience) is not in checkpoints; with metric
    "loss" :func:`deltaprop.train` keeps the stop rule's state, and only
    ``validation_scores_`` starts afresh after the resumed iteration.
    """
    if resume is not None and stop.holdout and est.early_stopping_metric == "score":
        raise ValueError(
            "resuming from a checkpoint needs early_stopping_metric='loss' when early_stopping=True"
        )


def schedule(est: Any, stop: Stopping, *, n_train: int, t: int) -> Schedule | None:
    """The learning-rate schedule ``est.learning_rate`` names (None: constant).

    ``"invscaling"`` (sgd, gd) -> ``lr_0 / (1 + t)**power_t`` with ``t`` the samples seen
    (``t`` of them before this call, ``n_train`` per epoch); ``"adaptive"`` ->
    :class:`~deltaprop.optim.schedules.ReduceOnPlateau` (factor 0.2, patience
    ``stop.patience``, threshold ``tol``, floor 1e-6) on the validation loss when rows
    are held out, else on the training loss.
    """
    if est.solver in ("sgd", "gd") and est.learning_rate == "invscaling":
        if est.power_t > 0:
            return InverseScalingFrom(float(est.power_t), float(n_train), int(t))
        return None
    if stop.adaptive:
        return ReduceOnPlateau(
            factor=0.2,
            patience=stop.patience,
            threshold=float(est.tol),
            min_learning_rate=1e-6,
            monitor="val_loss" if stop.holdout else "loss",
        )
    return None


def target_loss(est: Any, offset: float) -> float | None:
    """``est.target_loss`` as :func:`deltaprop.train` sees it (the reported offset removed)."""
    return None if est.target_loss is None else float(est.target_loss) - offset


def train_seed(random_state: Any) -> int:
    """The seed of deltaprop's own generator (mini-batch order, dropout masks).

    Drawn from ``random_state`` (a :class:`numpy.random.RandomState`) after the initial
    weights and the validation split.
    """
    return int(random_state.randint(np.iinfo(np.int32).max))
