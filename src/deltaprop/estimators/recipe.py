"""The tabular recipe: :class:`TabularClassifier` and :class:`TabularRegressor`.

scikit-learn estimators on numeric matrices (for a raw table, put
:class:`deltaprop.tabular.Preprocessor` in front: robust scaling with smooth clipping,
one-hot categories, imputed gaps). Unlike :class:`~deltaprop.MLPClassifier`, which keeps
scikit-learn's defaults so that it is a drop-in, these carry defaults chosen by measuring
on real tables (``benchmarks/tabular.py``; the evidence is in ``BENCHMARKS.md`` and
``docs/estimators.md``). Each fit trains ``n_ensemble`` networks and averages them; each
member:

- is an MLP of ``hidden_layer_sizes`` :class:`~deltaprop.Dense` layers (ReLU, He
  initialisation) with a softmax output (classification) or an identity output on the
  standardised target (regression);
- holds out its own ``validation_fraction`` of the rows (stratified by class), drawn with
  its own seed, so the ensemble as a whole learns from every row;
- trains with Adam (``beta_2=0.95``, decoupled ``weight_decay``) on mini-batches whose
  size grows with the table, under a cosine learning-rate decay over ``max_epochs``;
- keeps the weights of its epoch with the lowest validation loss (stopping after
  ``n_iter_no_change`` epochs without improvement);
- for classification, can learn label-smoothed targets (``label_smoothing``, off by
  default; the loss takes class probabilities as targets) while its validation loss uses
  the true labels.

The members train side by side (:func:`deltaprop.training.train_members`: one step
of every member at once, each member's numbers those of :func:`deltaprop.train`
trained alone, to float32 rounding); with ``dropout`` they train one after another.

Predictions average the members' class probabilities (classification) or their outputs
mapped back to the target's units and clipped to the training targets' range
(regression). ``max_epochs="auto"`` and ``batch_size="auto"`` depend only on the table's
size (so a seed gives bit-identical results); ``time_budget`` caps the wall time
(the members stop after the epoch that crosses it).
"""

from __future__ import annotations

import functools
import math
import numbers
import time
from itertools import pairwise
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from deltaprop.core.initializers import make_rng
from deltaprop.core.network import Network
from deltaprop.estimators import plan, state
from deltaprop.files.container import register_kind
from deltaprop.optim.optimizers import Adam
from deltaprop.optim.schedules import CosineAnnealing
from deltaprop.training.members import train_members
from deltaprop.training.metrics import ValidationScore, accuracy, r2_score
from deltaprop.training.trainer import train

__all__ = ["TabularClassifier", "TabularRegressor", "auto_batch_size", "auto_epochs"]

#: The work ``max_epochs="auto"`` allows for all members together, in units of one
#: parameter times one row (plus :data:`STEP_OVERHEAD` rows per step for the update): about
#: 20 s of float32 NumPy on 2 cores, so that a table of 10,000 rows by 50 columns fits in
#: under 30 s with everything else.
WORK_BUDGET = 3.0e10
#: A step costs about as much as this many more rows (Adam's update of every parameter).
STEP_OVERHEAD = 128
#: The bounds of ``max_epochs="auto"``.
MIN_EPOCHS, MAX_EPOCHS = 8, 128


def auto_batch_size(n_train: int) -> int:
    """``batch_size="auto"``: a power of two near ``n_train / 24``, within [32, 256].

    Small tables then take about 24 steps per epoch (enough updates to learn from few
    rows); large ones batches of 256 (RealMLP-TD's), where NumPy's matrix products are
    efficient.

    Examples
    --------
    >>> [auto_batch_size(n) for n in (100, 1000, 3000, 100000)]
    [32, 32, 64, 256]
    """
    power = math.floor(math.log2(max(n_train, 1) / 24.0)) if n_train >= 24 else 0
    return int(min(256, max(32, 2**power)))


def auto_epochs(n_train: int, batch_size: int, n_parameters: int, n_members: int) -> int:
    """``max_epochs="auto"``: the epochs :data:`WORK_BUDGET` pays for, within [8, 128].

    Parameters
    ----------
    n_train : int
        Training rows of one member.
    batch_size : int
    n_parameters : int
        Weights and biases of one member.
    n_members : int

    Examples
    --------
    >>> auto_epochs(300, 32, 40_000, 5), auto_epochs(8000, 256, 40_000, 5)
    (93, 12)
    """
    steps = math.ceil(max(n_train, 1) / batch_size)
    per_epoch = steps * (batch_size + STEP_OVERHEAD) * max(n_parameters, 1) * n_members
    return int(min(MAX_EPOCHS, max(MIN_EPOCHS, math.floor(WORK_BUDGET / per_epoch))))


class _Deadline:
    """Callback asking training to stop once ``time.perf_counter()`` passes ``at``."""

    def __init__(self, at: float) -> None:
        self.at = at
        self.fired = False

    def __call__(self, iteration, history, net) -> bool:
        self.fired = self.fired or time.perf_counter() >= self.at
        return self.fired


_COMMON_DOC = """
    hidden_layer_sizes : tuple of int, default=(128, 128, 128)
        Hidden units per layer: RealMLP-TD's depth at half its width (256 costs about
        four times the time per step, which buys fewer epochs and members here).
    n_ensemble : int >= 1, default=5
        Members trained with different seeds (and validation rows) and averaged: the
        largest reliable gain of the recipe on the benchmark tables.
    learning_rate : float > 0, default=2e-3
        Adam's initial learning rate, decayed by a cosine to 0 over ``max_epochs``.
    beta_1, beta_2 : float in [0, 1), defaults 0.9 and 0.95
        Adam's moment decay rates; beta_2 0.95 (RealMLP-TD's) adapts faster to the
        gradients' scale than 0.999, which suits short runs.
    weight_decay : float >= 0, default=0.0
        Decoupled weight decay (AdamW), multiplied by the learning rate.
    dropout : float in [0, 1), default=0.0
        Dropout rate of the hidden layers.
    batch_size : int or "auto", default="auto"
        ``"auto"``: :func:`auto_batch_size` of the training rows.
    max_epochs : int or "auto", default="auto"
        Epochs per member (the length of the cosine). ``"auto"``: :func:`auto_epochs`,
        from the rows, the network's size and ``n_ensemble``, so that fits stay short.
    validation_fraction : float in (0, 1), default=0.2
        Rows each member holds out to pick its best epoch.
    n_iter_no_change : int >= 1, default=16
        A member stops after this many epochs without a lower validation loss.
    time_budget : float > 0 or None, default=None
        Wall-clock seconds for the whole fit: the members, trained side by side, stop
        after the epoch that crosses it (each keeping its best epoch). With ``dropout``
        the members train one after another: each gets an equal share of what is left,
        and no new member starts once the budget is spent (at least one always trains).
    random_state : int, RandomState or None, default=None
        Seeds the members (weights, validation rows, batches, dropout).
    callbacks : callable or list of callables, optional
        Called after every epoch of every member as ``callback(iteration, history,
        network)`` (see :func:`deltaprop.train`); ``history.val_score`` holds the
        member's validation score so far. Must be None to save the model.
"""

_ATTRIBUTES_DOC = """
    Attributes
    ----------
    members_ : list of Network
        The trained members.
    n_iter_ : list of int
        Epochs each member ran.
    best_iterations_ : list of int
        The epoch whose weights each member kept (its lowest validation loss).
    validation_loss_curves_ : list of list of float
        Each member's validation loss after every epoch (true labels, standardised
        targets).
    validation_score_curves_ : list of list of float
        Each member's validation score after every epoch: accuracy (classification) or
        R² (regression, before clipping).
    loss_curves_ : list of list of float
        Each member's training loss per epoch.
    stop_reasons_ : list of str
        Why each member stopped: ``"early_stopping"`` (``n_iter_no_change`` epochs
        without a lower validation loss), ``"max_iter"`` (``max_epochs_`` ran),
        ``"time_budget"`` (``time_budget``, or its share of it, was spent), or a reason of
        :class:`~deltaprop.training.History` (``"callback"``, ``"interrupted"``, ...).
    fit_time_ : float
        Wall-clock seconds the fit took (what ``time_budget`` caps).
    batch_size_, max_epochs_ : int
        The values used.
    n_features_in_ : int
"""


class _TabularBase(BaseEstimator):
    """What the two recipe estimators share (not for direct use)."""

    _parameter_constraints: ClassVar[dict] = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "n_ensemble": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "max_epochs": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "time_budget": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "random_state": ["random_state"],
        "callbacks": [callable, list, tuple, None],
    }

    def __init__(
        self,
        *,
        hidden_layer_sizes=(128, 128, 128),
        n_ensemble=5,
        learning_rate=2e-3,
        beta_1=0.9,
        beta_2=0.95,
        weight_decay=0.0,
        dropout=0.0,
        batch_size="auto",
        max_epochs="auto",
        validation_fraction=0.2,
        n_iter_no_change=16,
        time_budget=None,
        random_state=None,
        callbacks=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.n_ensemble = n_ensemble
        self.learning_rate = learning_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.time_budget = time_budget
        self.random_state = random_state
        self.callbacks = callbacks

    # -- subclass hooks ---------------------------------------------------------------
    _out_activation = "identity"
    _loss = "squared_error"

    _score = staticmethod(r2_score)
    _score_name = "R2"

    def _targets(self, y):
        """``(Y_train, Y_val)``: float targets to learn and to select epochs on."""
        raise NotImplementedError

    def _stratify(self):
        return None

    # -- fitting ----------------------------------------------------------------------
    def _fit(self, X, y, sample_weight):
        start = time.perf_counter()
        X = np.asarray(X, dtype=np.float32)  # float32 halves the time of NumPy's products
        Y_fit, Y_val = self._targets(y)
        w = None
        if sample_weight is not None:
            w = _check_sample_weight(sample_weight, X, dtype=np.float32, ensure_non_negative=True)
        units = [X.shape[1], *plan.hidden_sizes(self.hidden_layer_sizes), Y_fit.shape[1]]
        n_parameters = sum(a * b + b for a, b in pairwise(units))
        n_val = max(1, math.ceil(self.validation_fraction * X.shape[0]))
        n_train = X.shape[0] - n_val
        if n_train < 1:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves no training rows "
                f"of {X.shape[0]}"
            )
        self.batch_size_ = (
            auto_batch_size(n_train)
            if self.batch_size == "auto"
            else min(int(self.batch_size), n_train)
        )
        self.max_epochs_ = (
            auto_epochs(n_train, self.batch_size_, n_parameters, self.n_ensemble)
            if self.max_epochs == "auto"
            else int(self.max_epochs)
        )
        seeds = check_random_state(self.random_state).randint(
            np.iinfo(np.int32).max, size=self.n_ensemble
        )
        self.members_, self.n_iter_, self.best_iterations_ = [], [], []
        self.validation_loss_curves_, self.validation_score_curves_ = [], []
        self.loss_curves_, self.stop_reasons_ = [], []
        if self.dropout == 0.0 and (w is None or bool(np.all(w > 0.0))):
            self._fit_side_by_side(X, Y_fit, Y_val, w, units, [int(s) for s in seeds], start)
        else:
            self._fit_one_after_another(X, Y_fit, Y_val, w, units, seeds, start)
        self.fit_time_ = time.perf_counter() - start
        return self

    def _fit_one_after_another(self, X, Y_fit, Y_val, w, units, seeds, start) -> None:
        """Train the members in turn: dropout masks, and batches that weigh nothing,
        follow train()'s own path."""
        for i, seed in enumerate(seeds):
            deadline = None
            if self.time_budget is not None:
                left = start + float(self.time_budget) - time.perf_counter()
                if i > 0 and left <= 0.0:
                    break
                deadline = time.perf_counter() + left / (self.n_ensemble - i)
            self._fit_member(X, Y_fit, Y_val, w, units, int(seed), deadline)
            if self.stop_reasons_[-1] == "interrupted":
                break  # Ctrl-C: the members trained so far make the model

    def _fit_side_by_side(self, X, Y_fit, Y_val, w, units, seeds, start) -> None:
        """Train every member at once (:func:`~deltaprop.training.members.train_members`)."""
        splits = [
            _split(X.shape[0], self.validation_fraction, seed, self._stratify()) for seed in seeds
        ]
        nets = [self._member_network(units, seed) for seed in seeds]
        deadline = None if self.time_budget is None else start + float(self.time_budget)
        histories = train_members(
            nets,
            X,
            Y_fit,
            np.stack([train_idx for train_idx, _ in splits]),
            (np.stack([val_idx for _, val_idx in splits]), Y_val),
            optimizer=self._optimizer(),
            batch_size=self.batch_size_,
            max_iter=self.max_epochs_,
            rngs=[make_rng(seed) for seed in seeds],
            sample_weight=w,
            schedule=CosineAnnealing(t_max=self.max_epochs_),
            n_iter_no_change=int(self.n_iter_no_change),
            score=self._score,
            callbacks=self._user_callbacks(),
            deadline=deadline,
        )
        for net, history in zip(nets, histories, strict=True):
            self._record(net, history, str(history.stop_reason))

    def _member_network(self, units, seed) -> Network:
        layers = plan.dense_layers(units, "relu", self._out_activation, dropout=self.dropout)
        return Network(layers, loss=self._loss, random_state=seed)

    def _optimizer(self) -> Adam:
        return Adam(
            learning_rate=float(self.learning_rate),
            beta_1=float(self.beta_1),
            beta_2=float(self.beta_2),
            weight_decay=float(self.weight_decay),
        )

    def _user_callbacks(self) -> list:
        user = self.callbacks
        if user is None:
            return []
        return list(user) if isinstance(user, list | tuple) else [user]

    def _record(self, net, history, stop_reason: str) -> None:
        """Append one trained member and its curves to the fitted attributes."""
        self.members_.append(net)
        self.n_iter_.append(history.n_iter)
        self.best_iterations_.append(history.best_iteration)
        self.validation_loss_curves_.append(list(history.val_loss))
        self.validation_score_curves_.append(list(history.val_score))
        self.loss_curves_.append(list(history.loss))
        self.stop_reasons_.append(stop_reason)

    def _fit_member(self, X, Y_fit, Y_val, w, units, seed, deadline) -> None:
        train_idx, val_idx = _split(X.shape[0], self.validation_fraction, seed, self._stratify())
        net = self._member_network(units, seed)
        w_val = None if w is None else w[val_idx]
        callbacks = [
            ValidationScore(
                X[val_idx], Y_val[val_idx], self._score, sample_weight=w_val, name=self._score_name
            )
        ]
        timer = None if deadline is None else _Deadline(deadline)
        if timer is not None:
            callbacks.append(timer)
        callbacks += self._user_callbacks()
        history = train(
            net,
            X[train_idx],
            Y_fit[train_idx],
            sample_weight=None if w is None else w[train_idx],
            optimizer=self._optimizer(),
            batch_size=self.batch_size_,
            max_iter=self.max_epochs_,
            random_state=seed,
            schedule=CosineAnnealing(t_max=self.max_epochs_),
            validation_data=(X[val_idx], Y_val[val_idx], w_val),
            early_stopping=True,
            n_iter_no_change=int(self.n_iter_no_change),
            callbacks=callbacks,
        )
        out_of_time = timer is not None and timer.fired and history.stop_reason == "callback"
        self._record(net, history, "time_budget" if out_of_time else str(history.stop_reason))

    # -- prediction -------------------------------------------------------------------
    def _mean_output(self, X) -> np.ndarray:
        """The members' outputs averaged, shape (n_samples, n_outputs), float64."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        X = np.asarray(X, dtype=np.float32)
        total = np.zeros((X.shape[0], self.members_[0].layers[-1].n_out))
        for net in self.members_:
            total += np.asarray(net.forward(X), dtype=np.float64)
        return total / len(self.members_)


def _split(n_samples: int, fraction: float, seed: int, stratify: Any):
    """``(train_idx, val_idx)``: ``fraction`` of the rows held out, stratified if possible."""
    rows = np.arange(n_samples)
    if stratify is not None:
        _, counts = np.unique(stratify, return_counts=True)
        n_val = math.ceil(fraction * n_samples)
        if counts.min() < 2 or n_val < len(counts) or n_samples - n_val < len(counts):
            stratify = None  # a class too small to appear on both sides
    return train_test_split(rows, test_size=fraction, random_state=seed, stratify=stratify)


class TabularClassifier(ClassifierMixin, _TabularBase):
    __doc__ = (
        """A classifier for tables: an ensemble of MLPs trained by deltaprop's recipe.

    See :mod:`deltaprop.estimators.recipe` for what the recipe does.

    Parameters
    ----------
    label_smoothing : float in [0, 1), default=0.0
        Each member learns ``(1 - label_smoothing) * one_hot + label_smoothing /
        n_classes`` (RealMLP-TD uses 0.1); its validation loss uses the true labels.
        Off by default: 0.1 scored lower on 4 of the 6 benchmark tables measured."""
        + _COMMON_DOC
        + _ATTRIBUTES_DOC
        + """    classes_ : ndarray of shape (n_classes,)

    Examples
    --------
    >>> import numpy as np
    >>> from deltaprop import TabularClassifier
    >>> X = np.array([[0.0], [0.2], [0.4], [1.6], [1.8], [2.0]] * 5)
    >>> y = np.array([0, 0, 0, 1, 1, 1] * 5)
    >>> clf = TabularClassifier(n_ensemble=2, max_epochs=20, random_state=0).fit(X, y)
    >>> clf.predict([[0.1], [1.9]])
    array([0, 1])
    """
    )

    _parameter_constraints: ClassVar[dict] = {
        **_TabularBase._parameter_constraints,
        "label_smoothing": [Interval(numbers.Real, 0, 1, closed="left")],
    }
    _out_activation = "softmax"
    _loss = "cross_entropy"
    _score = staticmethod(accuracy)
    _score_name = "accuracy"

    def __init__(
        self,
        *,
        label_smoothing=0.0,
        hidden_layer_sizes=(128, 128, 128),
        n_ensemble=5,
        learning_rate=2e-3,
        beta_1=0.9,
        beta_2=0.95,
        weight_decay=0.0,
        dropout=0.0,
        batch_size="auto",
        max_epochs="auto",
        validation_fraction=0.2,
        n_iter_no_change=16,
        time_budget=None,
        random_state=None,
        callbacks=None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            n_ensemble=n_ensemble,
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            weight_decay=weight_decay,
            dropout=dropout,
            batch_size=batch_size,
            max_epochs=max_epochs,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            time_budget=time_budget,
            random_state=random_state,
            callbacks=callbacks,
        )
        self.label_smoothing = label_smoothing

    def _targets(self, y):
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"y must hold at least 2 classes to classify, got 1: {self.classes_[0]!r}"
            )
        self._codes = encoder.transform(y)
        one_hot = np.eye(len(self.classes_), dtype=np.float32)[self._codes]
        k = len(self.classes_)
        smoothed = (1.0 - self.label_smoothing) * one_hot + self.label_smoothing / k
        return smoothed.astype(np.float32), one_hot

    def _stratify(self):
        return self._codes

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the members on ``X`` and the class labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numbers (scale them first: :class:`deltaprop.tabular.Preprocessor`).
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32))
        check_classification_targets(y)
        self._fit(X, y, sample_weight)
        del self._codes
        return self

    def predict_proba(self, X):
        """The members' class probabilities averaged, shape (n_samples, n_classes)."""
        return self._mean_output(X)

    def predict(self, X):
        """The most probable class of each row, shape (n_samples,)."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class TabularRegressor(RegressorMixin, _TabularBase):
    __doc__ = (
        """A regressor for tables: an ensemble of MLPs trained by deltaprop's recipe.

    The members learn the standardised target; predictions are mapped back to the
    target's units and clipped to the range of the training targets (a network's
    extrapolation beyond it is rarely right on tables). See
    :mod:`deltaprop.estimators.recipe`.

    Parameters
    ----------"""
        + _COMMON_DOC
        + _ATTRIBUTES_DOC
        + """    target_mean_, target_scale_ : ndarray of shape (n_outputs,)
        ``y_scaled = (y - target_mean_) / target_scale_``.
    target_min_, target_max_ : ndarray of shape (n_outputs,)
        The range predictions are clipped to.

    Examples
    --------
    >>> import numpy as np
    >>> from deltaprop import TabularRegressor
    >>> X = np.linspace(-1.0, 1.0, 40).reshape(-1, 1)
    >>> reg = TabularRegressor(n_ensemble=2, max_epochs=30, random_state=0)
    >>> reg = reg.fit(X, 10.0 * X[:, 0])
    >>> bool(np.all(np.abs(reg.predict(X)) <= 10.0))
    True
    """
    )

    def _targets(self, y):
        Y = np.asarray(y, dtype=np.float64)
        self._one_output = Y.ndim == 1
        Y = Y.reshape(-1, 1) if Y.ndim == 1 else Y
        self.target_mean_ = Y.mean(axis=0)
        scale = Y.std(axis=0)
        self.target_scale_ = np.where(scale > 0.0, scale, 1.0)
        self.target_min_, self.target_max_ = Y.min(axis=0), Y.max(axis=0)
        scaled = ((Y - self.target_mean_) / self.target_scale_).astype(np.float32)
        return scaled, scaled

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the members on ``X`` and the targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numbers (scale them first: :class:`deltaprop.tabular.Preprocessor`).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        X, y = validate_data(
            self, X, y, dtype=(np.float64, np.float32), multi_output=True, y_numeric=True
        )
        return self._fit(X, y, sample_weight)

    def predict(self, X):
        """The members' mean prediction in the target's units, clipped to its range.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        Y = self._mean_output(X) * self.target_scale_ + self.target_mean_
        Y = np.clip(Y, self.target_min_, self.target_max_)
        return Y[:, 0] if self._one_output else Y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


# the "tabular_classifier" and "tabular_regressor" kinds of model files
register_kind(
    "tabular_classifier",
    TabularClassifier,
    state.recipe_to_state,
    functools.partial(state.recipe_from_state, TabularClassifier),
)
register_kind(
    "tabular_regressor",
    TabularRegressor,
    state.recipe_to_state,
    functools.partial(state.recipe_from_state, TabularRegressor),
)
