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
import numbers
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from deltaprop.estimators import state
from deltaprop.estimators.plain_recipe import (
    PlainTabularClassifier,
    PlainTabularRegressor,
    _PlainTabular,
    auto_batch_size,
    auto_epochs,
)
from deltaprop.files.container import register_kind

__all__ = ["TabularClassifier", "TabularRegressor", "auto_batch_size", "auto_epochs"]


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


class _TabularBase(BaseEstimator, _PlainTabular):
    """What the two recipe estimators share (not for direct use): the plain recipe's
    fit behind scikit-learn's parameter and input validation."""

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

    @staticmethod
    def _weights(sample_weight, X) -> np.ndarray | None:
        if sample_weight is None:
            return None
        return _check_sample_weight(sample_weight, X, dtype=np.float32, ensure_non_negative=True)

    def _mean_output(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        return super()._mean_output(X)


class TabularClassifier(ClassifierMixin, _TabularBase, PlainTabularClassifier):
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

    def _encode(self, y):
        encoder = LabelEncoder().fit(y)
        return encoder.classes_, encoder.transform(y)

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
        self._fit(X, y, self._weights(sample_weight, X))
        del self._codes
        return self


class TabularRegressor(RegressorMixin, _TabularBase, PlainTabularRegressor):
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
        return self._fit(X, y, self._weights(sample_weight, X))

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
