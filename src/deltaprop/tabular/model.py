"""A trained model for tables: preprocessing and an estimator, saved as one file.

:class:`TabularModel` joins a :class:`~deltaprop.tabular.Preprocessor` (column roles
inferred; numbers robustly scaled, categories one-hot, dates as calendar features, free
text as hashed words, missing values filled and flagged; an encoded target) and a
:class:`~deltaprop.MLPClassifier` or :class:`~deltaprop.MLPRegressor`. It takes tables
(a pandas DataFrame, or a mapping of column name -> values) and answers in the
target's own terms: class labels as they were written, regression predictions in the
target's units. This is what ``deltaprop train`` writes and ``deltaprop predict``,
``evaluate``, ``info`` and ``explain`` read (model-file kind ``"tabular_model"``).

It needs pandas and scikit-learn: ``pip install "deltaprop[cli]"``.

Examples
--------
>>> import deltaprop as dp
>>> table = {"size": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
...          "colour": ["red", "red", "blue", "blue", "red", "blue"],
...          "label": ["small", "small", "small", "big", "big", "big"]}
>>> model = dp.TabularModel(dp.MLPClassifier((8,), solver="lbfgs", random_state=0))
>>> model = model.fit(table, "label")
>>> model.predict(table).tolist()
['small', 'small', 'small', 'big', 'big', 'big']
>>> sorted(model.evaluate(table))
['accuracy', 'balanced_accuracy', 'confusion_matrix', 'log_loss', 'roc_auc']
"""

from __future__ import annotations

import importlib
import os
import warnings
from typing import Any

import numpy as np

from deltaprop.estimators.predictor import Predictor, predictor_of
from deltaprop.estimators.state import recipe_to_state
from deltaprop.files.container import (
    ArrayStore,
    ModelFileError,
    check_keys,
    dump_nested,
    load_nested,
    nest_state,
    register_kind,
)
from deltaprop.tabular.columns import (
    SHOW,
    SpelledError,
    columns_shown,
    file_rows,
    infer_task,
    missing_mask,
    missing_text,
    numbered_as,
    row_numbers,
    rows_listed,
    table_frame,
)
from deltaprop.tabular.plain import PlainTable
from deltaprop.tabular.preprocessing import DataWarning, Preprocessor
from deltaprop.tabular.readers import require_pandas
from deltaprop.tabular.stored import (
    StoredEstimator,
    read_stored_estimator,
    stored_plain_recipe,
)

__all__ = ["CLASSIFICATION_METRICS", "REGRESSION_METRICS", "TabularModel", "rows_with_target"]

#: The keys of :meth:`TabularModel.evaluate` for each task.
CLASSIFICATION_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "log_loss",
    "roc_auc",
    "confusion_matrix",
)
REGRESSION_METRICS = ("r2", "rmse", "mse", "mae", "mape")
_INSTALL = 'pip install "deltaprop[cli]"'


#: The model-file kinds of the estimators each task takes, and their classes' names.
_KINDS_OF_TASK = {
    "classification": {
        "mlp_classifier": "MLPClassifier",
        "tabular_classifier": "TabularClassifier",
    },
    "regression": {"mlp_regressor": "MLPRegressor", "tabular_regressor": "TabularRegressor"},
}


def _plain_recipes() -> dict[str, type]:
    """The tabular recipe's classes without scikit-learn, by task."""
    from deltaprop.estimators.plain_recipe import PlainTabularClassifier, PlainTabularRegressor

    return {"classification": PlainTabularClassifier, "regression": PlainTabularRegressor}


def _estimators_for(task: str) -> tuple[type, type]:
    """The estimator classes a ``task`` takes: its MLP estimator (the default), then the
    tabular recipe's."""
    try:  # deltaprop.estimators.mlp and .recipe import scikit-learn (optional dependency)
        from deltaprop.estimators.mlp import MLPClassifier, MLPRegressor
        from deltaprop.estimators.recipe import TabularClassifier, TabularRegressor
    except ImportError:
        raise ImportError(f"TabularModel needs scikit-learn: {_INSTALL}") from None
    if task == "classification":
        return MLPClassifier, TabularClassifier
    return MLPRegressor, TabularRegressor


class TabularModel:
    """Preprocessing fitted on a table, and a network trained on what it produces.

    Parameters
    ----------
    estimator : MLPClassifier, MLPRegressor, TabularClassifier or TabularRegressor, optional
        The estimator to train, fitted in place by :meth:`fit` (its ``callbacks`` must be
        None again before the model is saved): an MLP estimator, or the tabular recipe
        (what ``deltaprop train`` uses by default). Default: an MLP estimator with
        default parameters, of the class the task needs.
    task : {"classification", "regression"} or None
        None infers it from the target (:func:`deltaprop.tabular.infer_task`).
    impute : {"median", "mean", "most_frequent", None}, default "median"
        How missing feature values are filled (None: a missing value is an error).
    standardize : bool, default True
        Scale the numeric feature columns.
    categorical : sequence of str, optional
        Columns to one-hot encode although their values are numbers.
    numeric : sequence of str, optional
        Columns to scale as numbers whatever the rules say (integer codes, IDs that
        repeat, a pandas category of numbers): values that are not numbers read as missing.
    scaling : {"robust", "standard"}, default "robust"
        How numeric columns are scaled (see :class:`~deltaprop.tabular.Preprocessor`).
    add_indicator : bool, default True
        Add a missing-value indicator column per column with missing values.
    drop : sequence of str, optional
        Columns to leave out.
    id_columns : sequence of str, optional
        Columns that identify rows: no features (``deltaprop predict`` writes them next
        to each prediction).

    Attributes
    ----------
    preprocessor_ : Preprocessor
        Fitted on the training table (with the target).
    estimator_ : MLPClassifier, MLPRegressor, TabularClassifier or TabularRegressor
        Fitted on the preprocessed rows; a classifier's classes are ``0 .. n - 1``,
        indices into ``classes_``, and a regressor learns the standardised target
        (the target itself with ``loss="poisson"``). A model loaded from a file builds
        it (importing scikit-learn) when it is first asked for; until then the
        model predicts with ``predictor_``.
    predictor_ : Predictor
        Predicts as ``estimator_`` does, bit for bit, with NumPy alone
        (:class:`~deltaprop.estimators.predictor.Predictor`).
    target_ : str
        The target column.
    task_ : str
        ``"classification"`` or ``"regression"``.
    classes_ : ndarray of shape (n_classes,)
        Classification only: the labels, sorted.
    sample_weight_ : str or None
        The column that held the sample weights (ignored in tables given later).
    feature_names_in_ : list of str
        The feature columns the model needs.
    roles_ : dict of str -> ColumnRole
        Every column of the training table with its role and the reason
        (:func:`~deltaprop.tabular.infer_roles`).
    id_columns_ : list of str
        The ID columns.
    """

    def __init__(
        self,
        estimator: Any = None,
        *,
        task: str | None = None,
        impute: str | None = "median",
        standardize: bool = True,
        categorical: Any = None,
        scaling: str = "robust",
        add_indicator: bool = True,
        drop: Any = None,
        id_columns: Any = None,
        numeric: Any = None,
    ) -> None:
        self.estimator = estimator
        self.task = task
        self.impute = impute
        self.standardize = standardize
        self.categorical = categorical
        self.scaling = scaling
        self.add_indicator = add_indicator
        self.drop = drop
        self.id_columns = id_columns
        self.numeric = numeric

    # -- fitting ----------------------------------------------------------------------
    def fit(
        self,
        table: Any,
        target: str,
        *,
        sample_weight: str | Any = None,
        resume: str | os.PathLike | None = None,
    ) -> TabularModel:
        """Fit the preprocessing and train the estimator on ``table``.

        Parameters
        ----------
        table : pandas.DataFrame or mapping of column name -> 1-D array-like
        target : str
            The column to predict; every other column (except ``sample_weight``) is a
            feature.
        sample_weight : str or array-like of shape (n_samples,), optional
            A column of the table holding non-negative weights (not a feature then),
            or the weights themselves.
        resume : path, optional
            Continue the run saved by a :class:`~deltaprop.Checkpoint` among the
            estimator's ``callbacks`` (same table, settings and seed): the result is
            bit-identical to a run that never stopped. Needs a first-order solver and,
            with early stopping, ``early_stopping_metric="loss"``.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Naming the column and the problem (see :class:`~deltaprop.tabular.Preprocessor`),
            a bad weight column, or an estimator of the wrong class for the task.
        """
        pd = require_pandas()
        plain = _plain_recipes()
        if type(self._estimator) not in plain.values():
            _estimators_for("classification")  # scikit-learn, or an ImportError naming the extra
        if not isinstance(target, str):
            raise TypeError(f"target must be a column name (str), got {target!r}")
        data = table_frame(table, pd)
        task = self.task
        if task is None and target in data.columns:
            missing = missing_mask(data[target], pd)
            if missing.any() and not missing.all():
                # decided on the whole column, as the command line decides it: integer
                # codes that blank cells made floats are classes (infer_task's rule)
                task = infer_task(data[target], name=target)
        full, sample_weight, kept = _labelled_rows(
            data, target, sample_weight, pd, "left out of training"
        )
        with numbered_as(kept):  # messages number the rows as the table does
            frame, weights, weight_column = _sample_weights(full, sample_weight, target, pd)
            pre = Preprocessor(
                target,
                task=task,
                impute=self.impute,
                categorical=self.categorical,
                standardize=self.standardize,
                # counts for the Poisson loss must stay >= 0: not centred, not scaled
                standardize_target=getattr(self.estimator, "loss", None) != "poisson",
                scaling=self.scaling,
                add_indicator=self.add_indicator,
                drop=self.drop,
                id_columns=self.id_columns,
                sample_weight=weight_column,
                numeric=self.numeric,
            ).fit(full)
            X = pre.transform(frame)
            y = pre.transform_target(frame)
            if type(self._estimator) in plain.values():
                return self._fit_plain(pre, X, y, weights, target, weight_column, resume)
            wanted = _estimators_for(pre.task_)
            estimator = self.estimator if self.estimator is not None else wanted[0]()
            if type(estimator) not in wanted:
                raise ValueError(
                    f"the target {target!r} is a {pre.task_} target: it needs a "
                    f"{' or a '.join(c.__name__ for c in wanted)}, got a {type(estimator).__name__}"
                )
            if resume is not None and type(estimator) is not wanted[0]:
                raise ValueError(
                    f"resume needs a {wanted[0].__name__} (checkpoints hold the state of one "
                    f"network's training), got a {type(estimator).__name__}"
                )
            if resume is None:
                estimator.fit(X, y, sample_weight=weights)
            else:
                estimator._validate_params()
                estimator._fit(X, y, sample_weight=weights, incremental=False, resume=resume)
            return self._set_fitted(pre, estimator, target, weight_column)

    def _known_labels(
        self, frame: Any, target: str, sample_weight: Any, kept: np.ndarray | None
    ) -> tuple[Any, Any, np.ndarray | None]:
        """:meth:`report`'s rows without the labels that are no class of the model (a new
        species in a test file), named in a DataWarning: the model can never predict
        them, and the other rows are still scored. All of them unseen: left to
        ``transform_target``'s error."""
        unseen = self.preprocessor_.unseen_labels(frame[target])
        if not unseen.any() or unseen.all():
            return frame, sample_weight, kept
        table_rows = np.arange(len(unseen)) if kept is None else kept
        rows = table_rows[unseen] + 1
        labels = sorted({str(v).strip() for v in frame[target].to_numpy()[unseen]})
        warnings.warn(
            f"target column {target!r}: {len(rows)} row(s) (rows {rows_listed(rows, len(rows))}) "
            f"hold label(s) the model was not trained on, {labels[:SHOW]}: not scored (the "
            f"model can predict only {self.classes_.tolist()[:20]})",
            DataWarning,
            stacklevel=3,
        )
        frame, sample_weight = _rows_kept(frame, sample_weight, ~unseen)
        return frame, sample_weight, table_rows[~unseen]

    def _fit_plain(self, pre, X, y, weights, target, weight_column, resume) -> TabularModel:
        """Fit a plain tabular recipe (no scikit-learn), held as its estimator's state."""
        estimator, wanted = self._estimator, _plain_recipes()[pre.task_]
        if type(estimator) is not wanted:
            raise ValueError(
                f"the target {target!r} is a {pre.task_} target: it needs a "
                f"{wanted.__name__}, got a {type(estimator).__name__}"
            )
        if resume is not None:
            raise ValueError(
                f"resume needs an MLP estimator (checkpoints hold the state of one "
                f"network's training), got a {type(estimator).__name__}"
            )
        estimator.fit(X, y, sample_weight=weights)
        return self._set_fitted(pre, stored_plain_recipe(estimator), target, weight_column)

    # A model loaded from a file holds a StoredEstimator in place of its estimator: the
    # properties below build the scikit-learn estimator when something asks for it.
    @property
    def estimator(self) -> Any:
        return _built(self._estimator)

    @estimator.setter
    def estimator(self, value: Any) -> None:
        self._estimator = value

    @property
    def estimator_(self) -> Any:
        if "_fitted_estimator" not in self.__dict__:
            raise AttributeError("'TabularModel' object has no attribute 'estimator_'")
        return _built(self._fitted_estimator)

    @estimator_.setter
    def estimator_(self, value: Any) -> None:
        self._fitted_estimator = value

    @property
    def predictor_(self) -> Predictor:
        answering = self._answering()
        return answering if isinstance(answering, Predictor) else predictor_of(answering)

    def _answering(self) -> Any:
        """What computes the predictions: the estimator, or (loaded, not built) its predictor.

        Both answer alike, bit for bit; the estimator wins once it exists, as the user
        may have changed it.
        """
        self._check_fitted()
        stored = self._fitted_estimator
        if isinstance(stored, StoredEstimator) and not stored.built:
            return stored.predictor
        return self.estimator_

    def _set_fitted(self, pre: Any, estimator: Any, target: str, weight_column: Any):
        """Record the fitted parts (after ``fit``, or when a model file is loaded)."""
        self.preprocessor_ = pre
        self.estimator_ = estimator
        self.target_ = target
        self.task_ = pre.task_
        self.sample_weight_ = weight_column
        self.feature_names_in_ = list(pre.feature_names_in_)
        self.roles_ = pre.roles_
        self.id_columns_ = list(pre.id_columns)
        if pre.task_ == "classification":
            self.classes_ = pre.classes_
        return self

    def _check_fitted(self) -> None:
        if "_fitted_estimator" not in self.__dict__:
            raise ValueError("this TabularModel is not fitted yet: call fit(table, target) first")

    def transform(self, table: Any) -> np.ndarray:
        """The preprocessed feature matrix of ``table`` (the estimator's input).

        The target and sample-weight columns are ignored when present; columns are
        matched by name, and a missing one is a ``ValueError`` naming it.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out)
        """
        self._check_fitted()
        weight = self.sample_weight_
        if isinstance(table, PlainTable):  # a small CSV file read without pandas
            return self.preprocessor_.transform(table.without([weight] if weight else []))
        frame = table_frame(table, require_pandas())
        if weight is not None and weight in frame.columns:
            frame = frame.drop(columns=[weight])
        return self.preprocessor_.transform(frame)

    # -- predicting -------------------------------------------------------------------
    def predict(self, table: Any) -> np.ndarray:
        """Predictions for each row: class labels as in training, or the target's units.

        Parameters
        ----------
        table : pandas.DataFrame or mapping of column name -> 1-D array-like
            Holds every feature column (any order; extra columns are ignored with a
            :class:`~deltaprop.tabular.DataWarning`). A
            :class:`~deltaprop.tabular.plain.PlainTable` is taken too (see
            :meth:`Preprocessor.transform <deltaprop.tabular.Preprocessor.transform>`).

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        output = self._answering().predict(self._input(table))
        return self.preprocessor_.inverse_transform_target(output)

    def predict_proba(self, table: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns ordered as ``classes_``.

        Raises
        ------
        ValueError
            For a regression model.
        """
        self._check_fitted()
        if self.task_ != "classification":
            raise ValueError("probabilities need a classification model; this is regression")
        return self._answering().predict_proba(self._input(table))

    def _input(self, table: Any) -> np.ndarray:
        """``transform(table)``, refused when a value overflows the dtype the model computes in.

        Without robust scaling's smooth clipping (``scaling="standard"``, or no
        standardisation) a finite number can be too large for float32, in which the
        tabular recipe computes: it would become infinite and its row's answer NaN.
        """
        X = self.transform(table)
        if X.dtype == np.float32:
            return X
        limit = float(np.finfo(np.float32).max)
        beyond = (np.abs(X) > limit) & np.isfinite(X)
        # the predictor is asked only then: building one for a fresh estimator costs
        if np.any(beyond) and self.predictor_.input_dtype == "float32":
            rows, columns = np.nonzero(beyond)
            name = self.preprocessor_.get_feature_names_out()[columns[0]]
            numbers = row_numbers(rows[:5], len(X))
            shown = ", ".join(map(str, numbers)) + (" ..." if len(rows) > 5 else "")
            raise ValueError(
                f"feature {name!r} is {X[rows[0], columns[0]]:.3g} after preprocessing in row(s) "
                f"{shown}, beyond the float32 range (+-{limit:.3g}) this model computes in; "
                "robust scaling (the default) bounds such values"
            )
        return X

    def evaluate(
        self, table: Any, target: str | None = None, sample_weight: str | Any = None
    ) -> dict[str, Any]:
        """Scores on a labelled table, as one flat dict (:meth:`report` has them all).

        Parameters
        ----------
        table : pandas.DataFrame or mapping of column name -> 1-D array-like
        target : str, optional
            The column holding the true values (default: the training target's name).
        sample_weight : str or array-like of shape (n_rows,), optional
            A column of the table, or the weights themselves (numbers >= 0): every score
            becomes a weighted mean (weighted sums in the confusion matrix, weighted
            means in ``r2``'s sums of squares, as scikit-learn's metrics with
            ``sample_weight``). Default: every row counts once.

        Returns
        -------
        dict
            ``report(...)["metrics"]`` and, for classification, ``confusion_matrix`` (a
            list of rows: true class by predicted class, both in ``classes_`` order;
            sums of weights when weighted). Classification: ``accuracy``,
            ``balanced_accuracy``, ``log_loss``, ``roc_auc``; regression: ``r2``,
            ``rmse``, ``mse``, ``mae``, ``mape`` (see :meth:`report`). Plain Python
            floats and ints; a score that is not defined on the table is None.

        Raises
        ------
        ValueError
            For a missing target or weight column, weights that are not numbers >= 0,
            or weights that sum to zero.
        """
        report = self.report(table, target=target, sample_weight=sample_weight)
        scores = dict(report["metrics"])
        if self.task_ == "classification":
            scores["confusion_matrix"] = report["confusion_matrix"]["matrix"]
        return scores

    def report(
        self, table: Any, target: str | None = None, sample_weight: str | Any = None
    ) -> dict[str, Any]:
        """Every score of the model on a labelled table, computed with scikit-learn.

        Parameters are those of :meth:`evaluate`.

        Returns
        -------
        dict
            Plain JSON (what ``deltaprop evaluate --json`` prints)::

                {"task": "classification" | "regression",
                 "target": the column of true values, as the table names it,
                 "n_rows": int, "sample_weight": the weight column or None,
                 "metrics": {name: float or None},
                 "absent": {name: why that metric is None},
                 # classification only, classes as the training table wrote them:
                 "per_class": [{"class", "precision", "recall", "f1", "support"}, ...],
                 "confusion_matrix": {"labels": [class, ...], "matrix": [[...], ...]}}

            Classification metrics: ``accuracy``; ``balanced_accuracy`` (the mean
            recall over the classes present in the table); ``log_loss`` (natural log,
            probabilities clipped to ``[eps, 1 - eps]``); ``roc_auc`` (two classes: of
            the second class's probability; more: one-vs-rest, the unweighted mean
            over the classes), None when a class of the model is missing from the
            table. ``per_class`` holds precision, recall and F1 (0.0 where undefined)
            and the support (the rows, or their weight, of that true class); the
            matrix has true classes as rows and predicted classes as columns, counts
            (sums of weights when weighted). Regression metrics, in the target's units:
            ``r2`` (1 - SS_res / SS_tot), ``rmse``, ``mse``, ``mae`` and ``mape`` (mean
            of ``|y - prediction| / |y|``, a fraction; None when a true value is 0).

        Raises
        ------
        ValueError
            As :meth:`evaluate`.
        """
        pd = require_pandas()
        self._check_fitted()
        frame = table_frame(table, pd)
        target = self.target_ if target is None else target
        if target not in frame.columns:
            raise ValueError(
                f"the table lacks the target column {target!r} "
                f"{columns_shown(target, list(frame.columns))}"
            )
        weight_column = sample_weight if isinstance(sample_weight, str) else None
        frame, sample_weight, kept = _labelled_rows(frame, target, sample_weight, pd, "not scored")
        if self.task_ == "classification":
            frame, sample_weight, kept = self._known_labels(frame, target, sample_weight, kept)
        with numbered_as(kept):  # messages number the rows as the table does
            frame, weights, _ = _sample_weights(frame, sample_weight, target, pd)
            if weights is not None and not np.sum(weights) > 0.0:
                raise ValueError("the sample weights sum to zero: there is nothing to score")
            y_true = self.preprocessor_.transform_target(frame[target])
            if target != self.target_:
                frame = frame.drop(columns=[target])
            X = self._input(frame)
            report: dict[str, Any] = {
                "task": self.task_,
                "target": target,
                "n_rows": len(frame),
                "sample_weight": weight_column,
            }
            answering = self._answering()
            if self.task_ == "classification":
                proba = answering.predict_proba(X)
                predicted = answering.predict(X)
                return {
                    **report,
                    **_classification_report(y_true, proba, predicted, weights, self.classes_),
                }
            predicted = self.preprocessor_.inverse_transform_target(answering.predict(X))
            actual = self.preprocessor_.inverse_transform_target(y_true)
            return {**report, **_regression_report(actual, predicted, weights)}

    # -- export -----------------------------------------------------------------------

    def to_onnx(
        self, path: str | os.PathLike, *, opset: int | None = None, dtype: Any = None
    ) -> Any:
        """Write the model to an ONNX file that takes the table's raw columns.

        One input per feature column, named after it, shape (N, 1): numeric columns in
        the model's float type, text columns as string tensors. The preprocessing runs
        as graph nodes (standardisation, one-hot; an unseen category is all zeros);
        the outputs are ``label`` and ``probabilities`` (classification) or
        ``predictions`` in the target's units (regression). Without ``impute`` a missing
        value must be filled first (a NaN gives NaN outputs). Needs
        ``pip install "deltaprop[onnx]"``; see ``docs/onnx.md``.

        Parameters
        ----------
        path : str or os.PathLike
        opset : int, optional
            Default-domain opset; default the lowest that expresses the model.
        dtype : {"float32", "float64"}, optional
            Default: the dtype of the estimator's weights.

        Returns
        -------
        onnx.ModelProto
            The model written.
        """
        # named, not imported: deltaprop.export sits above this room (ARCHITECTURE.md)
        export = importlib.import_module("deltaprop.export.tabular")
        return export.tabular_model_to_onnx(self, path, opset=opset, dtype=dtype)

    def __repr__(self) -> str:
        return f"TabularModel(estimator={self.estimator!r}, task={self.task!r})"


def _rows_kept(frame: Any, sample_weight: Any, keep: np.ndarray) -> tuple[Any, Any]:
    """``frame`` and the weights given as values (not a column) at the rows ``keep``."""
    if sample_weight is not None and not isinstance(sample_weight, str):
        values = np.asarray(sample_weight)
        if values.shape == (len(frame),):  # (another shape: _sample_weights says so)
            sample_weight = values[keep]
    return frame.loc[keep].reset_index(drop=True), sample_weight


def _built(estimator: Any) -> Any:
    """``estimator``, or the one a StoredEstimator builds (importing scikit-learn)."""
    return estimator.estimator() if isinstance(estimator, StoredEstimator) else estimator


def _labelled_rows(
    frame: Any, target: str, sample_weight: str | Any, pd: Any, what_happens: str
) -> tuple[Any, Any, np.ndarray | None]:
    """``(frame, sample_weight, kept)`` without the rows whose ``target`` is missing.

    A :class:`~deltaprop.tabular.DataWarning` names them (``what_happens`` to them); weights
    given as values (not a column) lose the same rows. ``kept`` lists the table's rows
    left (0-based; for :func:`~deltaprop.tabular.columns.numbered_as`), None when all are.
    A table whose every target is missing, or that lacks the target, is left as it is
    for the preprocessor's error.
    """
    missing, table_rows = _target_missing(frame, target, pd)
    if missing is None:
        return frame, sample_weight, table_rows
    with numbered_as(table_rows):
        said = missing_text(target, missing)
    warnings.warn(f"{said}: rows without a target are {what_happens}", DataWarning, stacklevel=3)
    frame, sample_weight = _rows_kept(frame, sample_weight, ~missing)
    kept = np.flatnonzero(~missing)
    return frame, sample_weight, kept if table_rows is None else table_rows[kept]


def _target_missing(frame: Any, target: str, pd: Any) -> tuple[np.ndarray | None, Any]:
    """Where ``frame``'s target is missing (None when nowhere, everywhere or without the
    column), and the file's rows of ``frame`` (:func:`~deltaprop.tabular.columns.file_rows`)."""
    rows = file_rows(frame)  # the file's numbers, where read_table left rows out
    if target not in frame.columns:
        return None, rows
    missing = missing_mask(frame[target], pd)
    return (None if not missing.any() or missing.all() else missing), rows


def rows_with_target(frame: Any, target: str) -> tuple[Any, np.ndarray | None]:
    """The rows of ``frame`` that :meth:`TabularModel.fit` trains on, those whose
    ``target`` is present (all of them when none or every one is missing), and the
    table's rows they are (0-based, for :func:`~deltaprop.tabular.columns.numbered_as`;
    None when they are all, in order). The roles of these rows are the model's."""
    pd = require_pandas()
    missing, table_rows = _target_missing(frame, target, pd)
    if missing is None:
        return frame, table_rows
    kept = np.flatnonzero(~missing)
    rows = kept if table_rows is None else table_rows[kept]
    return frame.loc[~missing].reset_index(drop=True), rows


def _sample_weights(
    frame: Any, sample_weight: str | Any, target: str, pd: Any
) -> tuple[Any, np.ndarray | None, str | None]:
    """The table without the weight column, the weights (or None) and the column's name.

    ``sample_weight`` is a column name, an array of shape (n_rows,) or None; the weights
    must be numbers >= 0.
    """
    weights, weight_column = None, None
    if isinstance(sample_weight, str):
        weight_column = sample_weight
        if weight_column == target:
            raise SpelledError(
                f"sample_weight column {weight_column!r} is the target",
                f"--sample-weight {weight_column}: that is the target",
            )
        if weight_column not in frame.columns:
            raise SpelledError(
                f"sample_weight column {weight_column!r} is not in the table",
                f"--sample-weight {weight_column}: no such column "
                f"{columns_shown(weight_column, list(frame.columns))}",
            )
        column = frame[weight_column]
        weights = pd.to_numeric(column.astype("object"), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        bad = np.flatnonzero(np.isnan(weights) & column.notna().to_numpy())
        if bad.size:
            raise ValueError(
                f"sample_weight column {weight_column!r} must hold numbers: row "
                f"{row_numbers(bad[:1], len(column))[0]} holds {column.iloc[bad[0]]!r}"
            )
        frame = frame.drop(columns=[weight_column])
    elif sample_weight is not None:
        weights = np.asarray(sample_weight, dtype=np.float64)
        if weights.shape != (len(frame),):
            raise ValueError(f"sample_weight must have shape ({len(frame)},), got {weights.shape}")
    if weights is not None:
        _check_weights(weights, weight_column)
    return frame, weights, weight_column


def _check_weights(weights: np.ndarray, weight_column: str | None) -> None:
    """Weights >= 0 and finite, with a finite sum (a sum of inf makes every metric NaN)."""
    what = "sample weights" if weight_column is None else f"sample_weight column {weight_column!r}"
    option = "" if weight_column is None else f"--sample-weight {weight_column}: "
    bad = np.flatnonzero(~((weights >= 0.0) & (weights < np.inf)))
    if bad.size:
        rule = (
            f"{what} must hold finite numbers >= 0 and no missing values: row {bad[0] + 1} "
            f"holds {float(weights[bad[0]])!r}"
        )
        raise SpelledError(rule, f"{option}{rule}")
    with np.errstate(over="ignore"):
        total = float(np.sum(weights))
    if total == np.inf:  # (a sum of 0 is refused by whoever divides by it)
        rule = (
            f"{what} must have a finite sum: it overflows to inf (largest weight "
            f"{float(np.max(weights)):.3g}); divide the weights by their largest"
        )
        raise SpelledError(rule, f"{option}{rule}")


def _classification_report(
    y: np.ndarray,
    proba: np.ndarray,
    predicted: np.ndarray,
    weights: np.ndarray | None,
    classes: np.ndarray,
) -> dict:
    """The classification part of :meth:`TabularModel.report`; ``y`` and ``predicted``
    are class indices into ``classes``, ``proba`` has shape (n_rows, n_classes)."""
    from sklearn import metrics  # optional dependency: the cli extra

    labels = np.arange(proba.shape[1])
    matrix = metrics.confusion_matrix(y, predicted, labels=labels, sample_weight=weights)
    if weights is not None:
        matrix = matrix.astype(np.float64)
    present = np.isin(labels, y[weights > 0.0] if weights is not None else y)
    precision, recall, f1, _ = metrics.precision_recall_fscore_support(
        y, predicted, labels=labels, sample_weight=weights, zero_division=0.0
    )
    absent = {}
    if present.all():
        # binary: the score of class 1 (the second, sorted); more: one-vs-rest, macro mean
        score = proba[:, 1] if len(labels) == 2 else proba
        roc_auc = float(
            metrics.roc_auc_score(
                y, score, multi_class="ovr", average="macro", labels=labels, sample_weight=weights
            )
        )
    else:
        roc_auc = None
        missing = [str(c) for c in classes[~present].tolist()]
        absent["roc_auc"] = f"class(es) {', '.join(missing)} do not occur in the table"
    eps = float(np.finfo(np.float64).eps)
    p_true = np.clip(proba[np.arange(len(y)), y].astype(np.float64), eps, 1.0 - eps)
    names = classes.tolist()  # the labels as the training table wrote them
    support = matrix.sum(axis=1).tolist()
    return {
        "metrics": {
            "accuracy": float(metrics.accuracy_score(y, predicted, sample_weight=weights)),
            "balanced_accuracy": float(np.mean(recall[present]) if present.any() else 0.0),
            "log_loss": float(-np.average(np.log(p_true), weights=weights)),
            "roc_auc": roc_auc,
        },
        "absent": absent,
        "per_class": [
            {
                "class": names[k],
                "precision": float(precision[k]),
                "recall": float(recall[k]),
                "f1": float(f1[k]),
                "support": support[k],
            }
            for k in labels
        ],
        "confusion_matrix": {"labels": names, "matrix": matrix.tolist()},
    }


def _regression_report(
    y: np.ndarray, predicted: np.ndarray, weights: np.ndarray | None = None
) -> dict:
    """The regression part of :meth:`TabularModel.report`, in the target's units."""
    from sklearn import metrics  # optional dependency: the cli extra

    mse = float(metrics.mean_squared_error(y, predicted, sample_weight=weights))
    absent = {}
    n_zero = int(np.sum(y == 0.0))
    if n_zero:
        mape = None
        absent["mape"] = f"the target is 0 in {n_zero} row(s): a percentage of 0 is undefined"
    else:
        mape = float(metrics.mean_absolute_percentage_error(y, predicted, sample_weight=weights))
    return {
        "metrics": {
            "r2": float(metrics.r2_score(y, predicted, sample_weight=weights)),
            "rmse": float(np.sqrt(mse)),
            "mse": mse,
            "mae": float(metrics.mean_absolute_error(y, predicted, sample_weight=weights)),
            "mape": mape,
        },
        "absent": absent,
    }


# -- the "tabular_model" kind of model files -------------------------------------------
def _model_to_state(model: TabularModel) -> tuple[dict, dict[str, Any]]:
    model._check_fitted()
    arrays: dict[str, Any] = {}
    config = {
        "target": model.target_,
        "sample_weight": model.sample_weight_,
        "preprocessor": dump_nested(model.preprocessor_, "preprocessor", arrays),
    }
    stored = model._fitted_estimator
    if isinstance(stored, StoredEstimator) and stored.plain is not None and not stored.built:
        # the plain recipe is stored as its estimator's kind, without scikit-learn
        config["estimator"] = nest_state(
            stored.kind, *recipe_to_state(stored.plain), "estimator", arrays
        )
    else:
        config["estimator"] = dump_nested(model.estimator_, "estimator", arrays)
    return config, arrays


def _model_from_state(config: dict, arrays: ArrayStore) -> TabularModel:
    check_keys(config, ("target", "sample_weight", "preprocessor", "estimator"), "config")
    target, weight = config["target"], config["sample_weight"]
    pre = load_nested(config["preprocessor"], arrays, "preprocessor", where="config.preprocessor")
    if not isinstance(pre, Preprocessor) or pre.task_ is None:
        raise ModelFileError("config.preprocessor must hold a preprocessor fitted with a target")
    if target != pre.target:
        raise ModelFileError(f"config.target {target!r:.60} is not the preprocessor's target")
    if weight is not None and (not isinstance(weight, str) or weight in pre.feature_names_in_):
        raise ModelFileError("config.sample_weight must be null or a column that is no feature")
    estimator = read_stored_estimator(
        config["estimator"], arrays, "estimator", where="config.estimator"
    )
    classifier = pre.task_ == "classification"
    wanted = _KINDS_OF_TASK[pre.task_]
    if estimator.kind not in wanted or estimator.predictor.task == "multilabel":
        names = " or a ".join(wanted.values())
        raise ModelFileError(f"config.estimator must hold a {names} for {pre.task_}")
    if estimator.n_features_in_ != pre.n_features_out_:
        raise ModelFileError(
            f"config.estimator takes {estimator.n_features_in_} inputs, the preprocessor "
            f"gives {pre.n_features_out_}"
        )
    if classifier and not np.array_equal(estimator.classes_, np.arange(len(pre.classes_))):
        raise ModelFileError("config.estimator's classes must be 0 .. n_classes - 1")
    model = TabularModel(
        estimator,
        task=pre.task,
        impute=pre.impute,
        standardize=pre.standardize,
        categorical=pre.categorical,
        scaling=pre.scaling,
        add_indicator=pre.add_indicator,
        drop=pre.drop,
        id_columns=pre.id_columns,
        numeric=pre.numeric,
    )
    return model._set_fitted(pre, estimator, target, weight)


register_kind("tabular_model", TabularModel, _model_to_state, _model_from_state)
