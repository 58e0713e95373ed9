"""Predictions from trained networks with NumPy alone: :class:`Predictor`.

A fitted estimator answers ``predict`` and ``predict_proba`` with a forward pass and a
small mapping of the output layer's activations: class probabilities and labels
(classification), an indicator matrix (multilabel), values in the target's units
(regression). :class:`Predictor` holds just that: one or more member
:class:`~deltaprop.Network` s, whose outputs it averages, and the mapping. It imports
neither scikit-learn nor pandas, so a model file can answer ``deltaprop predict`` without
them; :class:`~deltaprop.MLPClassifier` and :class:`~deltaprop.MLPRegressor` decode
their outputs with the functions of this module, so both paths give the same numbers
bit for bit.

The output mapping, for the outputs ``out`` of shape (n_samples, n_outputs):

- classification, one output (a logistic unit): ``P(classes[1]) = out``; the label is
  ``classes[1]`` where ``out > 0.5``;
- classification, several outputs: softmax outputs are the probabilities; logistic
  outputs (one-vs-rest) are divided by their row sum; the label is the class of the
  largest output;
- multilabel: each output is its label's probability; the prediction is the 0/1
  indicator ``out > 0.5``;
- regression: ``out * target_scale + target_mean`` (when given), clipped to
  ``[target_min, target_max]`` (when given).

Examples
--------
>>> import numpy as np
>>> import deltaprop as dp
>>> from deltaprop.estimators.predictor import Predictor
>>> net = dp.Network([dp.Dense(2, 3, "softmax")], loss="cross_entropy", random_state=0)
>>> predictor = Predictor([net], task="classification", classes=np.array(["a", "b", "c"]))
>>> X = np.array([[0.0, 1.0], [1.0, 0.0]])
>>> predictor.predict_proba(X).shape, predictor.predict(X).shape
((2, 3), (2,))
>>> bool(np.allclose(predictor.predict_proba(X).sum(axis=1), 1.0))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deltaprop.core.backprop import forward_pass
from deltaprop.core.network import Network

__all__ = [
    "TASKS",
    "Predictor",
    "class_labels_from_outputs",
    "class_probabilities",
    "network_outputs",
    "predictor_of",
]

#: The tasks a :class:`Predictor` maps outputs for.
TASKS = ("classification", "multilabel", "regression")
#: The probability above which a logistic output predicts its class (scikit-learn's
#: ``LabelBinarizer`` threshold: halfway between its labels 0 and 1).
THRESHOLD = 0.5


def network_outputs(layers: Sequence[Any], params: Sequence[Any], X: np.ndarray) -> np.ndarray:
    """The output layer's activations for ``X``, in the widest of the dtypes involved.

    The parameters are cast to ``result_type(p, X)`` and ``X`` to the result type of
    all of them (float32 inputs meet float64 weights in float64), as
    :class:`~deltaprop.MLPClassifier` has always computed its predictions.

    Parameters
    ----------
    layers : sequence of Dense
    params : sequence of arrays
        ``[W_0, b_0, W_1, b_1, ...]``.
    X : ndarray of shape (n_samples, n_features)

    Returns
    -------
    ndarray of shape (n_samples, n_outputs)
    """
    params = [np.asarray(p, dtype=np.result_type(p, X)) for p in params]
    X = np.asarray(X, dtype=np.result_type(X, *params))
    _, activations = forward_pass(layers, params, X, xp=np)
    return activations[-1]


def class_probabilities(out: np.ndarray, *, softmax: bool, multilabel: bool) -> np.ndarray:
    """Class probabilities from a classifier's outputs.

    Parameters
    ----------
    out : ndarray of shape (n_samples, n_outputs)
    softmax : bool
        Whether the outputs are a softmax (else logistic units).
    multilabel : bool
        Whether each output is an independent label.

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        One output: ``[1 - out, out]``. Logistic outputs of a single-label task: divided
        by their row sum. Otherwise ``out`` itself.
    """
    if out.shape[1] == 1:
        p = out.ravel()
        return np.vstack([1.0 - p, p]).T
    if not multilabel and not softmax:
        return out / np.sum(out, axis=1, keepdims=True)
    return out


def class_labels_from_outputs(
    out: np.ndarray, classes: np.ndarray, *, softmax: bool, multilabel: bool
) -> np.ndarray:
    """Predicted labels from a classifier's outputs (scikit-learn's ``LabelBinarizer`` rules).

    Parameters
    ----------
    out : ndarray of shape (n_samples, n_outputs)
    classes : ndarray of shape (n_classes,)
        The labels, sorted.
    softmax : bool
        Whether the outputs are a softmax (else logistic units).
    multilabel : bool
        Whether each output is an independent label.

    Returns
    -------
    ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Multilabel: the integer indicator ``out > 0.5``. One output: ``classes[1]``
        where ``out > 0.5``, else ``classes[0]``. Several: the class of the largest
        output (the first on ties).
    """
    if multilabel:
        return np.asarray(out > THRESHOLD, dtype=np.intp)
    if out.shape[1] == 1:
        above = np.asarray(out.ravel() > THRESHOLD, dtype=np.intp)
        if len(classes) == 1:
            return np.repeat(classes[0], len(above))
        return classes[above]
    if softmax and len(classes) == 1:
        # a single class trained with a softmax pair (the label and its complement)
        return classes[[0, 0]][np.argmax(out, axis=1)]
    return classes[np.argmax(out, axis=1)]


def _optional_vector(value: Any, name: str, n_outputs: int) -> np.ndarray | None:
    if value is None:
        return None
    vector = np.asarray(value, dtype=np.float64)
    if vector.ndim > 1 or (vector.ndim == 1 and vector.shape != (n_outputs,)):
        raise ValueError(
            f"{name} must be a number or have shape ({n_outputs},), got shape {vector.shape}"
        )
    return vector


class Predictor:
    """Trained networks and the mapping of their averaged outputs to predictions.

    Parameters
    ----------
    members : sequence of Network
        One or more networks with the same inputs and outputs; their outputs are
        averaged.
    task : {"classification", "multilabel", "regression"}
    classes : array-like of shape (n_classes,), optional
        Classification: the labels, sorted, in the order of the outputs (one logistic
        output stands for ``classes[1]``). Multilabel: optional label names (the
        predictions are the indicator matrix).
    input_dtype : {"float32", "float64"} or None, default None
        Cast ``X`` to this dtype first (None: float32 and float64 inputs are kept, any
        other is read as float64). Each member then computes in the widest of the
        input's and its weights' dtypes.
    mean_dtype : {"float64"} or None, default None
        How the members' outputs are averaged: None returns a single member's outputs
        as they are and sums several in float64; ``"float64"`` always sums in float64.
        The sum runs over the members in order and is divided by their number.
    target_mean, target_scale : float or array-like of shape (n_outputs,), optional
        Regression: the outputs are standardised targets, mapped back as
        ``out * target_scale + target_mean``.
    target_min, target_max : float or array-like of shape (n_outputs,), optional
        Regression: the range predictions are clipped to.
    flatten_single_output : bool, default True
        Regression: return one output as shape (n_samples,) (False: (n_samples, 1)).

    Attributes
    ----------
    members : list of Network
    n_features_in_ : int
    n_outputs_ : int
    classes_ : ndarray of shape (n_classes,) or None
    softmax : bool
        Whether the members' output layer is a softmax.

    Raises
    ------
    ValueError
        For no members, members of different shapes or output activations, an unknown
        task, classes that do not fit the outputs, or target vectors of the wrong length.

    Examples
    --------
    >>> import numpy as np
    >>> import deltaprop as dp
    >>> net = dp.Network([dp.Dense(1, 1, "identity")], loss="squared_error", random_state=0)
    >>> net.layers[0].weights[...] = 2.0
    >>> net.layers[0].bias[...] = 0.0
    >>> Predictor([net], task="regression", target_mean=10.0, target_scale=3.0,
    ...           target_max=15.0).predict(np.array([[0.5], [1.0]]))
    array([13., 15.])
    """

    def __init__(
        self,
        members: Sequence[Network],
        *,
        task: str,
        classes: Any = None,
        input_dtype: str | None = None,
        mean_dtype: str | None = None,
        target_mean: Any = None,
        target_scale: Any = None,
        target_min: Any = None,
        target_max: Any = None,
        flatten_single_output: bool = True,
    ) -> None:
        members = list(members)
        if not members or not all(isinstance(m, Network) for m in members):
            raise ValueError(f"members must be one or more Networks, got {members!r:.80}")
        if task not in TASKS:
            raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}")
        shapes = {(m.n_inputs, m.n_outputs, m.layers[-1].activation.name) for m in members}
        if len(shapes) != 1:
            raise ValueError(
                "members must have the same inputs, outputs and output activation, got "
                f"{sorted(shapes)}"
            )
        if input_dtype not in (None, "float32", "float64"):
            raise ValueError(
                f"input_dtype must be None, 'float32' or 'float64', got {input_dtype!r}"
            )
        if mean_dtype not in (None, "float64"):
            raise ValueError(f"mean_dtype must be None or 'float64', got {mean_dtype!r}")
        self.members = members
        self.task = task
        self.input_dtype = input_dtype
        self.mean_dtype = mean_dtype
        self.n_features_in_ = members[0].n_inputs
        self.n_outputs_ = members[0].n_outputs
        self.softmax = members[0].layers[-1].activation.name == "softmax"
        self.classes_ = None if classes is None else np.asarray(classes)
        self._check_classes()
        n = self.n_outputs_
        self.target_mean = _optional_vector(target_mean, "target_mean", n)
        self.target_scale = _optional_vector(target_scale, "target_scale", n)
        self.target_min = _optional_vector(target_min, "target_min", n)
        self.target_max = _optional_vector(target_max, "target_max", n)
        if (self.target_mean is None) != (self.target_scale is None):
            raise ValueError("target_mean and target_scale must be given together")
        self.flatten_single_output = bool(flatten_single_output)

    def _check_classes(self) -> None:
        classes, n = self.classes_, self.n_outputs_
        if self.task == "regression":
            if classes is not None:
                raise ValueError("classes must be None for regression")
            return
        if self.task == "classification":
            if classes is None or classes.ndim != 1 or len(classes) == 0:
                raise ValueError("classes must be a 1-D array of labels for classification")
            expected = {len(classes)} if len(classes) > 2 else {1, 2}
            if n not in expected:
                raise ValueError(
                    f"{len(classes)} classes need {sorted(expected)} outputs, the members have {n}"
                )
        elif classes is not None and classes.shape != (n,):
            raise ValueError(f"multilabel classes must have shape ({n},), got {classes.shape}")

    # -- the members' outputs ---------------------------------------------------------
    def _check_X(self, X: Any) -> np.ndarray:
        X = np.asarray(X)
        if self.input_dtype is not None:
            X = X.astype(self.input_dtype, copy=False)
        elif X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have shape (n_samples, {self.n_features_in_}), got {X.shape}")
        return X

    def outputs(self, X: Any) -> np.ndarray:
        """The members' output activations averaged.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray of shape (n_samples, n_outputs_)
            A single member's outputs in its computing dtype (unless ``mean_dtype``);
            the float64 mean of several.
        """
        X = self._check_X(X)
        if len(self.members) == 1 and self.mean_dtype is None:
            net = self.members[0]
            return network_outputs(net.layers, net.parameters, X)
        total = np.zeros((X.shape[0], self.n_outputs_))
        for net in self.members:
            total += np.asarray(network_outputs(net.layers, net.parameters, X), dtype=np.float64)
        return total / len(self.members)

    # -- predictions ------------------------------------------------------------------
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (classification and multilabel).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Ordered as ``classes_``; multilabel: each label's probability.

        Raises
        ------
        ValueError
            For a regression predictor.
        """
        if self.task == "regression":
            raise ValueError("probabilities need a classification predictor; this is regression")
        return class_probabilities(
            self.outputs(X), softmax=self.softmax, multilabel=self.task == "multilabel"
        )

    def predict(self, X: Any) -> np.ndarray:
        """Predictions for each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs_)
            Class labels (classification), a 0/1 integer indicator matrix (multilabel),
            or values in the target's units (regression; one output flattened unless
            ``flatten_single_output`` is False).
        """
        out = self.outputs(X)
        if self.task != "regression":
            return class_labels_from_outputs(
                out, self.classes_, softmax=self.softmax, multilabel=self.task == "multilabel"
            )
        if self.target_mean is not None:
            out = out * self.target_scale + self.target_mean
        if self.target_min is not None or self.target_max is not None:
            out = np.clip(out, self.target_min, self.target_max)
        if self.flatten_single_output and out.shape[1] == 1:
            return out.ravel()
        return out

    def __repr__(self) -> str:
        return (
            f"Predictor({len(self.members)} member(s), task={self.task!r}, "
            f"n_features_in_={self.n_features_in_}, n_outputs_={self.n_outputs_})"
        )


def predictor_of(estimator: Any) -> Predictor:
    """The :class:`Predictor` that answers as a fitted deltaprop estimator does.

    Parameters
    ----------
    estimator : MLPClassifier, MLPRegressor, TabularClassifier or TabularRegressor
        Fitted.

    Returns
    -------
    Predictor
        Its ``predict`` (and ``predict_proba``) equal the estimator's bit for bit.

    Raises
    ------
    TypeError
        For anything else.
    """
    if hasattr(estimator, "members_"):  # the tabular recipe: members averaged in float64
        common = {"members": estimator.members_, "input_dtype": "float32", "mean_dtype": "float64"}
        if hasattr(estimator, "classes_"):
            return Predictor(task="classification", classes=estimator.classes_, **common)
        return Predictor(
            task="regression",
            target_mean=estimator.target_mean_,
            target_scale=estimator.target_scale_,
            target_min=estimator.target_min_,
            target_max=estimator.target_max_,
            flatten_single_output=estimator._one_output,
            **common,
        )
    if hasattr(estimator, "network_") and hasattr(estimator, "out_activation_"):
        if hasattr(estimator, "classes_"):
            multilabel = estimator._label_binarizer.y_type_.startswith("multilabel")
            task = "multilabel" if multilabel else "classification"
            return Predictor([estimator.network_], task=task, classes=estimator.classes_)
        return Predictor([estimator.network_], task="regression")
    raise TypeError(f"no Predictor answers for a {type(estimator).__name__}")
