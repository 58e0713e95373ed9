"""Preprocessing: a table in, the float matrix a network trains on out.

:class:`Preprocessor` is fitted on training data and turns a table into
the float matrix a network trains on: numeric columns standardised, string columns
one-hot encoded, the target label-encoded (classification) or standardised
(regression). It is stored inside model files (kind ``"preprocessor"``, see
:mod:`deltaprop.files`). The rules are spelled out in ``docs/data.md``.

pandas is optional: ``pip install "deltaprop[data]"``.

Examples
--------
>>> import deltaprop.tabular as dd
>>> table = {"size": [1.0, 2.0, 3.0], "colour": ["red", "blue", "red"],
...          "label": ["yes", "no", "yes"]}
>>> pre = dd.Preprocessor(target="label").fit(table)
>>> pre.get_feature_names_out()
['size', 'colour=blue', 'colour=red']
>>> pre.transform(table).round(3)
array([[-1.225,  0.   ,  1.   ],
       [ 0.   ,  1.   ,  0.   ],
       [ 1.225,  0.   ,  1.   ]])
>>> pre.classes_
array(['no', 'yes'], dtype=object)
>>> pre.transform_target(table)
array([1, 0, 1])
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from deltaprop.files.container import (
    ArrayStore,
    ModelFileError,
    check_keys,
    get_field,
    get_number,
    register_kind,
)
from deltaprop.tabular.columns import (
    SHOW,
    as_series,
    category_strings,
    class_labels,
    infer_task,
    is_numeric_column,
    missing_error,
    most_frequent,
    numeric_values,
    table_frame,
)
from deltaprop.tabular.readers import require_pandas

__all__ = ["DataWarning", "Preprocessor"]

_IMPUTE = (None, "mean", "median", "most_frequent")
_TASKS = (None, "classification", "regression")
_DTYPES = ("float32", "float64")


class DataWarning(UserWarning):
    """Something in the data was handled in a way the user should know about."""


class Preprocessor:
    """Turns a table into the float matrix a network trains on, and back for the target.

    Fitted on the training table: numeric columns are standardised to zero mean and
    unit variance (a constant column is only centred), text columns are one-hot encoded
    (categories sorted), and the target is label-encoded (classification, ``classes_``
    sorted like :func:`numpy.unique`) or standardised (regression; map predictions back
    with :meth:`inverse_transform_target`). At transform time columns are matched by
    name: their order may differ, a missing column is an error and extra ones are
    ignored with a :class:`DataWarning`. The rules are listed in ``docs/data.md``.

    Parameters
    ----------
    target : str or None
        The target column (excluded from the features); None for features only.
    task : {"classification", "regression"} or None
        None infers it from the target with :func:`infer_task`.
    impute : {None, "mean", "median", "most_frequent"}
        None: a missing value is a ``ValueError`` naming the column. Otherwise missing
        feature values are filled with the training column's mean, median or most
        frequent value (text columns always use the most frequent category).
    categorical : sequence of str, optional
        Columns to one-hot encode even though their values are numbers.
    standardize : bool, default True
        Standardise the numeric feature columns.
    standardize_target : bool, default True
        Standardise a regression target.
    dtype : {"float64", "float32"}
        The dtype of the arrays :meth:`transform` and :meth:`transform_target` return.

    Attributes
    ----------
    feature_names_in_ : list of str
        The feature columns seen in fit, in order.
    columns_ : list of dict
        Per feature column: ``name``, ``kind`` (``"numeric"`` or ``"categorical"``), and
        ``categories`` (sorted strings) for categorical ones.
    mean_, scale_ : ndarray of shape (n_numeric,)
        Per numeric column: ``(x - mean_) / scale_`` (``0`` and ``1`` without
        standardisation; ``scale_`` is 1 for a constant column).
    fill_values_ : dict or None
        Per column, the value that replaces a missing one (None without ``impute``).
    task_ : str or None
    classes_ : ndarray of shape (n_classes,)
        Classification only.
    target_mean_, target_scale_ : float
        Regression only: ``y_scaled = (y - target_mean_) / target_scale_``.
    n_features_out_ : int
    """

    def __init__(
        self,
        target: str | None = None,
        *,
        task: str | None = None,
        impute: str | None = None,
        categorical: Sequence[str] | None = None,
        standardize: bool = True,
        standardize_target: bool = True,
        dtype: str = "float64",
    ) -> None:
        if target is not None and not isinstance(target, str):
            raise TypeError(f"target must be a column name (str) or None, got {target!r}")
        if task not in _TASKS:
            raise ValueError(f"task must be one of {list(_TASKS)}, got {task!r}")
        if impute not in _IMPUTE:
            raise ValueError(f"impute must be one of {list(_IMPUTE)}, got {impute!r}")
        if isinstance(categorical, str):
            raise TypeError(f"categorical must be a list of column names, got {categorical!r}")
        categorical = None if categorical is None else [str(c) for c in categorical]
        if np.dtype(dtype).name not in _DTYPES:
            raise ValueError(f"dtype must be one of {list(_DTYPES)}, got {dtype!r}")
        self.target = target
        self.task = task
        self.impute = impute
        self.categorical = categorical
        self.standardize = bool(standardize)
        self.standardize_target = bool(standardize_target)
        self.dtype = np.dtype(dtype).name

    # -- fit --------------------------------------------------------------------------
    def fit(self, table: Any) -> Preprocessor:
        """Learn columns, statistics and classes from the training table.

        Parameters
        ----------
        table : pandas.DataFrame or mapping of column name -> 1-D array-like

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Naming the column (and row): a mostly numeric column with values that are not
            numbers, infinite values, missing values without ``impute``, a target column
            that is absent, has missing values or a single class, a ``categorical`` name
            that is not a column, no feature columns.
        """
        pd = require_pandas()
        frame = table_frame(table, pd)
        features = self._feature_columns(list(frame.columns))
        forced = set(self.categorical or ())

        columns, means, scales, numeric_fill = [], [], [], []
        fill_values: dict[str, Any] | None = None if self.impute is None else {}
        hint = '; fill them, or use impute="mean", "median" or "most_frequent"'
        for name in features:
            series = frame[name]
            if name not in forced and is_numeric_column(name, series, pd):
                values = numeric_values(name, series, pd)
                missing = np.isnan(values)
                if missing.all():
                    raise ValueError(f"column {name!r} has no values (all {len(values)} missing)")
                if missing.any() and self.impute is None:
                    raise missing_error(name, missing, hint)
                fill = 0.0
                if self.impute is not None:
                    present = values[~missing]
                    fill = float(
                        np.mean(present)
                        if self.impute == "mean"
                        else np.median(present)
                        if self.impute == "median"
                        else most_frequent(present)
                    )
                    values = np.where(missing, fill, values)
                    fill_values[name] = fill
                mean, scale = self._scaling(values) if self.standardize else (0.0, 1.0)
                columns.append({"name": name, "kind": "numeric"})
                means.append(mean)
                scales.append(scale)
                numeric_fill.append(fill)
            else:
                strings = category_strings(series, pd)
                missing = np.array([s is None for s in strings])
                if missing.all():
                    raise ValueError(f"column {name!r} has no values (all {len(strings)} missing)")
                if missing.any() and self.impute is None:
                    raise missing_error(name, missing, hint)
                present = strings[~missing].astype(str)
                if self.impute is not None:
                    fill_values[name] = str(most_frequent(present))
                categories = sorted(set(present.tolist()))
                columns.append({"name": name, "kind": "categorical", "categories": categories})

        self._set_columns(features, columns, means, scales, numeric_fill, fill_values)
        self.task_ = None
        if self.target is not None:
            self._fit_target(frame[self.target], pd)
        return self

    def _feature_columns(self, columns: list[Any], sample_weight: Any = None) -> list[Any]:
        """The table's feature columns: all but the target and the weight column, checked."""
        if self.target is not None and self.target not in columns:
            raise ValueError(
                f"target column {self.target!r} is not in the table (columns: {columns[:20]})"
            )
        if sample_weight is not None:
            if sample_weight == self.target:
                raise ValueError(f"sample_weight column {sample_weight!r} is the target")
            if sample_weight not in columns:
                raise ValueError(f"sample_weight column {sample_weight!r} is not in the table")
        features = [c for c in columns if c not in (self.target, sample_weight)]
        if not features:
            raise ValueError("the table has no feature columns besides the target")
        unknown = sorted(set(self.categorical or ()) - set(features))
        if unknown:
            raise ValueError(f"categorical names columns that are not features: {unknown}")
        return features

    def _set_columns(self, features, columns, means, scales, numeric_fill, fill_values) -> None:
        """Record the fitted feature columns (by :meth:`fit`, or from Dask summaries)."""
        self.feature_names_in_ = features
        self.columns_ = columns
        self.mean_ = np.array(means, dtype=np.float64)
        self.scale_ = np.array(scales, dtype=np.float64)
        self._numeric_fill = np.array(numeric_fill, dtype=np.float64)
        self.fill_values_ = fill_values
        self.n_features_out_ = len(self.get_feature_names_out())

    def _set_classes(self, classes: np.ndarray) -> None:
        """Record the target's classes (sorted, unique); a single class is an error."""
        if len(classes) < 2:
            raise ValueError(
                f"target column {self.target!r} has a single class {classes[0]!r}; "
                "classification needs at least 2"
            )
        self.classes_ = classes

    @staticmethod
    def _scaling(values: np.ndarray) -> tuple[float, float]:
        if np.ptp(values) == 0.0:
            # A constant column: centre it exactly, and do not divide by a zero spread.
            return float(values[0]), 1.0
        return float(np.mean(values)), float(np.std(values))

    def _fit_target(self, series: Any, pd: Any) -> None:
        name = self.target
        missing = series.isna().to_numpy()
        if missing.any():
            raise missing_error(name, missing, " (a target cannot be imputed)")
        self.task_ = self.task or infer_task(series, name=name)
        if self.task_ == "regression":
            values = numeric_values(name, series, pd)
            self.target_mean_, self.target_scale_ = (
                self._scaling(values) if self.standardize_target else (0.0, 1.0)
            )
            return
        self._set_classes(np.unique(class_labels(series, pd)))

    def _check_fitted(self) -> None:
        if not hasattr(self, "columns_"):
            raise ValueError("this Preprocessor is not fitted yet: call fit(table) first")

    def get_feature_names_out(self) -> list[str]:
        """Names of the output columns: ``name`` for numeric, ``name=category`` for one-hot."""
        self._check_fitted()
        out = []
        for column in self.columns_:
            if column["kind"] == "numeric":
                out.append(column["name"])
            else:
                out += [f"{column['name']}={c}" for c in column["categories"]]
        return out

    # -- transform --------------------------------------------------------------------
    def transform(self, table: Any) -> np.ndarray:
        """The feature matrix of a table.

        Parameters
        ----------
        table : pandas.DataFrame or mapping of column name -> 1-D array-like
            Must hold every feature column seen in fit (any order); others are ignored.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out_), dtype ``self.dtype``

        Raises
        ------
        ValueError
            A feature column is absent, holds a value that is not a number (numeric
            columns) or a missing value without ``impute``.

        Warns
        -----
        DataWarning
            For extra columns (ignored) and unseen categories (encoded as all zeros).
        """
        pd = require_pandas()
        self._check_fitted()
        frame = table_frame(table, pd)
        absent = [c for c in self.feature_names_in_ if c not in frame.columns]
        if absent:
            raise ValueError(f"the table lacks the column(s) {absent} the model was trained on")
        extra = [c for c in frame.columns if c not in self.feature_names_in_ and c != self.target]
        if extra:
            warnings.warn(
                f"ignoring column(s) the model was not trained on: {extra[:20]}",
                DataWarning,
                stacklevel=2,
            )
        hint = "; fill them, or fit with impute=..."
        blocks = []
        i_numeric = 0
        for column in self.columns_:
            name = column["name"]
            series = frame[name]
            if column["kind"] == "numeric":
                values = numeric_values(name, series, pd)
                missing = np.isnan(values)
                if missing.any():
                    if self.fill_values_ is None:
                        raise missing_error(name, missing, hint)
                    values = np.where(missing, self._numeric_fill[i_numeric], values)
                blocks.append(((values - self.mean_[i_numeric]) / self.scale_[i_numeric])[:, None])
                i_numeric += 1
            else:
                blocks.append(self._one_hot(name, column["categories"], series, pd, hint))
        return np.ascontiguousarray(np.hstack(blocks), dtype=self.dtype)

    def _one_hot(self, name: str, categories: list[str], series: Any, pd: Any, hint: str):
        strings = category_strings(series, pd)
        missing = np.array([s is None for s in strings])
        if missing.any():
            if self.fill_values_ is None:
                raise missing_error(name, missing, hint)
            strings = np.where(missing, self.fill_values_[name], strings)
        codes = pd.Index(categories).get_indexer(strings.astype(str))
        unseen = codes < 0
        if unseen.any():
            values = sorted(set(strings[unseen].astype(str).tolist()))
            warnings.warn(
                f"column {name!r}: {int(unseen.sum())} row(s) hold categories not seen in "
                f"training, encoded as all zeros: {values[:SHOW]}",
                DataWarning,
                stacklevel=3,
            )
        return (codes[:, None] == np.arange(len(categories))).astype(np.float64)

    def transform_target(self, y: Any) -> np.ndarray:
        """Encode the target: class indices (classification) or scaled values (regression).

        Parameters
        ----------
        y : pandas.DataFrame or mapping holding the target column, or 1-D array-like

        Returns
        -------
        ndarray of shape (n_samples,)
            Classification: int64 indices into ``classes_``. Regression:
            ``(y - target_mean_) / target_scale_`` in ``self.dtype``.

        Raises
        ------
        ValueError
            No target column, missing values, labels not seen in fit, non-numbers in a
            regression target.
        """
        pd = require_pandas()
        self._check_fitted()
        if self.task_ is None:
            raise ValueError("this Preprocessor was fitted without a target")
        name = self.target
        if isinstance(y, pd.DataFrame) or isinstance(y, Mapping):
            frame = table_frame(y, pd)
            if name not in frame.columns:
                raise ValueError(f"the table lacks the target column {name!r}")
            series = frame[name]
        else:
            series = as_series(y, "y", pd)
        missing = series.isna().to_numpy()
        if missing.any():
            raise missing_error(name, missing, " (a target cannot be imputed)")
        if self.task_ == "regression":
            values = numeric_values(name, series, pd)
            return ((values - self.target_mean_) / self.target_scale_).astype(self.dtype)
        labels = class_labels(series, pd)
        if self.classes_.dtype == object:
            labels = labels.astype(str).astype(object)
        codes = np.searchsorted(self.classes_, labels)
        codes = np.minimum(codes, len(self.classes_) - 1)
        unseen = self.classes_[codes] != labels
        if np.any(unseen):
            values = sorted({str(v) for v in labels[unseen]})
            raise ValueError(
                f"target column {name!r} holds label(s) not seen in training: {values[:SHOW]} "
                f"(known: {self.classes_.tolist()[:20]})"
            )
        return codes.astype(np.int64)

    def inverse_transform_target(self, y: Any) -> np.ndarray:
        """Map encoded targets back: class indices to labels, scaled values to the target's units.

        Parameters
        ----------
        y : array-like of shape (n_samples,)
            Class indices (classification) or scaled predictions (regression).

        Returns
        -------
        ndarray of shape (n_samples,)
            ``classes_[y]``, or ``y * target_scale_ + target_mean_`` in float64.
        """
        self._check_fitted()
        if self.task_ is None:
            raise ValueError("this Preprocessor was fitted without a target")
        y = np.asarray(y)
        if self.task_ == "regression":
            return np.asarray(y, dtype=np.float64) * self.target_scale_ + self.target_mean_
        if y.dtype.kind not in "iu" or (y.size and (y.min() < 0 or y.max() >= len(self.classes_))):
            raise ValueError(
                f"y must hold class indices in [0, {len(self.classes_) - 1}], got {y[:5]!r}"
            )
        return self.classes_[y]

    def __repr__(self) -> str:
        return f"Preprocessor(target={self.target!r}, task={self.task!r}, impute={self.impute!r})"


# -- storage in model files -----------------------------------------------------------
_LABEL_TYPES = {"str": object, "int": np.int64, "float": np.float64, "bool": bool}


def _classes_to_json(classes: np.ndarray) -> dict:
    if classes.dtype == object:
        return {"type": "str", "values": [str(c) for c in classes]}
    if classes.dtype == bool:
        return {"type": "bool", "values": [bool(c) for c in classes]}
    if classes.dtype.kind in "iu":
        return {"type": "int", "values": [int(c) for c in classes]}
    return {"type": "float", "values": [float(c) for c in classes]}


def _classes_from_json(state: Any) -> np.ndarray:
    where = "config.classes"
    check_keys(state, ("type", "values"), where)
    kind = get_field(state, "type", str, where)
    if kind not in _LABEL_TYPES:
        raise ModelFileError(f"{where}.type must be one of {list(_LABEL_TYPES)}, got {kind!r}")
    values = get_field(state, "values", list, where)
    element = {"str": str, "int": int, "float": (int, float), "bool": bool}[kind]
    for v in values:
        if (isinstance(v, bool) and kind != "bool") or not isinstance(v, element):
            raise ModelFileError(f"{where}.values must hold {kind} labels, got {v!r:.40}")
    if len(values) < 2:
        raise ModelFileError(f"{where}.values must hold at least 2 classes")
    classes = np.array(values, dtype=_LABEL_TYPES[kind])
    if not all(classes[i] < classes[i + 1] for i in range(len(classes) - 1)):
        raise ModelFileError(f"{where}.values must be sorted and distinct")
    return classes


_PARAMS = ("target", "task", "impute", "categorical", "standardize", "standardize_target", "dtype")


def _preprocessor_to_state(pre: Preprocessor) -> tuple[dict, dict[str, np.ndarray]]:
    pre._check_fitted()
    config = {
        "params": {key: getattr(pre, key) for key in _PARAMS},
        "columns": pre.columns_,
        "fill_values": (
            None
            if pre.fill_values_ is None
            else {c["name"]: pre.fill_values_[c["name"]] for c in pre.columns_}
        ),
        "task": pre.task_,
        "classes": _classes_to_json(pre.classes_) if pre.task_ == "classification" else None,
        "target_mean": pre.target_mean_ if pre.task_ == "regression" else None,
        "target_scale": pre.target_scale_ if pre.task_ == "regression" else None,
    }
    arrays = {"mean": pre.mean_, "scale": pre.scale_}
    return config, arrays


def _preprocessor_from_state(config: dict, arrays: ArrayStore) -> Preprocessor:
    keys = ("params", "columns", "fill_values", "task", "classes", "target_mean", "target_scale")
    check_keys(config, keys, "config")
    params = get_field(config, "params", dict, "config")
    check_keys(params, _PARAMS, "config.params")
    try:
        pre = Preprocessor(**params)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"config.params: {exc}") from None

    columns = get_field(config, "columns", list, "config")
    names = _column_names_from_state(columns)
    if len(set(names)) != len(names) or pre.target in names:
        raise ModelFileError("config.columns: column names must be distinct and not the target")
    n_numeric = sum(c["kind"] == "numeric" for c in columns)

    pre.feature_names_in_ = names
    pre.columns_ = columns
    pre.mean_ = arrays.take("mean", (n_numeric,)).astype(np.float64)
    pre.scale_ = arrays.take("scale", (n_numeric,)).astype(np.float64)
    if not np.all(pre.scale_ > 0):
        raise ModelFileError("array 'scale' must be > 0")

    fill_values = config["fill_values"]
    if (fill_values is None) != (pre.impute is None):
        raise ModelFileError("config.fill_values must be given exactly when impute is set")
    numeric_fill = _numeric_fill_from_state(fill_values, columns, names, n_numeric)
    pre.fill_values_ = fill_values
    pre._numeric_fill = np.array(numeric_fill, dtype=np.float64)
    pre.n_features_out_ = len(pre.get_feature_names_out())
    _target_from_state(pre, config)
    return pre


def _column_names_from_state(columns: list) -> list[str]:
    """The names of ``config.columns``, each entry checked (kind, sorted categories)."""
    if not columns:
        raise ModelFileError("config.columns is empty")
    names: list[str] = []
    for i, column in enumerate(columns):
        where = f"config.columns[{i}]"
        kind = get_field(column, "kind", str, where)
        if kind == "numeric":
            check_keys(column, ("name", "kind"), where)
        elif kind == "categorical":
            check_keys(column, ("name", "kind", "categories"), where)
            categories = get_field(column, "categories", list, where)
            if not categories or not all(isinstance(c, str) for c in categories):
                raise ModelFileError(f"{where}.categories must be a non-empty list of strings")
            if categories != sorted(set(categories)):
                raise ModelFileError(f"{where}.categories must be sorted and distinct")
        else:
            raise ModelFileError(f"{where}.kind must be 'numeric' or 'categorical', got {kind!r}")
        names.append(get_field(column, "name", str, where))
    return names


def _numeric_fill_from_state(
    fill_values: dict | None, columns: list, names: list[str], n_numeric: int
) -> list[float]:
    """The numeric columns' fill values (zeros without ``impute``), ``fill_values`` checked."""
    if fill_values is None:
        return [0.0] * n_numeric
    check_keys(fill_values, names, "config.fill_values")
    numeric_fill = []
    for column in columns:
        value = fill_values[column["name"]]
        where = f"config.fill_values[{column['name']!r}]"
        if column["kind"] == "numeric":
            numeric_fill.append(get_number(fill_values, column["name"], "config.fill_values"))
        elif not isinstance(value, str):
            raise ModelFileError(f"{where} must be a string, got {value!r:.40}")
    return numeric_fill


def _target_from_state(pre: Preprocessor, config: dict) -> None:
    """``task_`` and the classes or the target's scaling, checked against ``pre``'s target."""
    task = config["task"]
    if task != (pre.task or task) or task not in _TASKS or (task is None) != (pre.target is None):
        raise ModelFileError(f"config.task {task!r} does not fit target {pre.target!r}")
    pre.task_ = task
    if task == "classification":
        pre.classes_ = _classes_from_json(config["classes"])
    elif config["classes"] is not None:
        raise ModelFileError("config.classes must be null unless the task is classification")
    if task == "regression":
        pre.target_mean_ = get_number(config, "target_mean", "config")
        pre.target_scale_ = get_number(config, "target_scale", "config")
        if not pre.target_scale_ > 0:
            raise ModelFileError("config.target_scale must be > 0")
    elif config["target_mean"] is not None or config["target_scale"] is not None:
        raise ModelFileError("config.target_mean/target_scale must be null unless regression")


register_kind("preprocessor", Preprocessor, _preprocessor_to_state, _preprocessor_from_state)
