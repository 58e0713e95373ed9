"""Tabular data in, arrays out: reading CSV, Parquet and NPZ files, and preprocessing.

:func:`read_table` reads a file into a :class:`pandas.DataFrame` and refuses malformed
ones (missing, empty, header only, ragged rows) with a ``ValueError`` naming the file
and the problem. :class:`Preprocessor` is fitted on training data and turns a table into
the float matrix a network trains on: numeric columns standardised, string columns
one-hot encoded, the target label-encoded (classification) or standardised
(regression). It is stored inside model files (kind ``"preprocessor"``, see
:mod:`deltaprop.files`). :func:`infer_task` decides between classification and
regression from the target column. The rules are spelled out in ``docs/data.md``.

pandas and pyarrow are optional: ``pip install "deltaprop[data]"``.

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

import bz2
import csv
import gzip
import lzma
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deltaprop.core.diagnostics import check_feature_scales
from deltaprop.files.container import (
    ArrayStore,
    ModelFileError,
    check_keys,
    get_field,
    get_number,
    register_kind,
)

__all__ = ["DataWarning", "Preprocessor", "check_feature_scales", "infer_task", "read_table"]


_INSTALL = 'pip install "deltaprop[data]"'
_CSV_OPENERS = {".csv": open, ".csv.gz": gzip.open, ".csv.bz2": bz2.open, ".csv.xz": lzma.open}
_PARQUET_SUFFIXES = (".parquet", ".pq")
_SUFFIXES = (*_CSV_OPENERS, *_PARQUET_SUFFIXES, ".npz")
#: Integer targets with at most this many distinct values are classification targets.
MAX_CLASSES_INFERRED = 20
_IMPUTE = (None, "mean", "median", "most_frequent")
_TASKS = (None, "classification", "regression")
_DTYPES = ("float32", "float64")
_SHOW = 5  # how many offending values an error message lists


class DataWarning(UserWarning):
    """Something in the data was handled in a way the user should know about."""


def _require_pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError(f"reading and preprocessing tables needs pandas: {_INSTALL}") from None
    return pandas


def _require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ImportError(f"reading Parquet files needs pyarrow: {_INSTALL}") from None


# -- reading files --------------------------------------------------------------------
def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def read_table(path: str | Path) -> Any:
    """Read a CSV, Parquet or NPZ file into a :class:`pandas.DataFrame`.

    Parameters
    ----------
    path : str or path-like
        ``.csv`` (optionally ``.gz``, ``.bz2``, ``.xz`` compressed): UTF-8 text, comma
        separated, the first line names the columns. ``.parquet`` / ``.pq`` or a folder of
        Parquet files. ``.npz``: one 1-D array per column, named by the column (see
        ``docs/data.md``).

    Returns
    -------
    pandas.DataFrame
        One row per data row, columns named as in the file (strings), at least one row.

    Raises
    ------
    ValueError
        Naming the file and the problem: missing file, unknown extension, empty file,
        header without data rows, ragged rows (the line and field counts), duplicate or
        empty column names, unreadable content.
    ImportError
        When pandas (or pyarrow, for Parquet) is not installed.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> _ = open(path, "w").write("x,colour\\n1.5,red\\n2.5,blue\\n")
    >>> read_table(path)
         x colour
    0  1.5    red
    1  2.5   blue
    """
    pd = _require_pandas()
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{str(path)!r}: no such file or folder")
    if path.is_dir():
        frame = _read_parquet(path, pd)
    else:
        suffix = _suffix(path)
        if suffix not in _SUFFIXES:
            raise ValueError(
                f"{str(path)!r}: unknown file type {suffix or '(no extension)'!r}; "
                f"expected one of {list(_SUFFIXES)} or a folder of Parquet files"
            )
        if path.stat().st_size == 0:
            raise ValueError(f"{str(path)!r}: the file is empty")
        if suffix in _CSV_OPENERS:
            frame = _read_csv(path, suffix, pd)
        elif suffix == ".npz":
            frame = _read_npz(path, pd)
        else:
            frame = _read_parquet(path, pd)
    if frame.shape[1] == 0:
        raise ValueError(f"{str(path)!r}: the file has no columns")
    if frame.shape[0] == 0:
        raise ValueError(f"{str(path)!r}: the file has a header but no data rows")
    frame.columns = _column_names(frame.columns, str(path))
    return frame


def _column_names(columns: Any, where: str) -> list[str]:
    names = [str(c) for c in columns]
    seen = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{where!r}: column name {name!r} appears more than once")
        seen.add(name)
    return names


def _read_csv(path: Path, suffix: str, pd: Any) -> Any:
    """Check the field count of every line (pandas pads short rows silently), then parse."""
    where = str(path)
    n_fields = 0
    n_rows = 0
    try:
        with _CSV_OPENERS[suffix](path, "rt", newline="", encoding="utf-8") as text:
            reader = csv.reader(text)
            for row in reader:
                if not row:  # blank line, skipped by pandas too
                    continue
                if n_fields == 0:
                    for i, name in enumerate(row):
                        if not name.strip():
                            raise ValueError(f"{where!r}: column {i + 1} of the header has no name")
                    if len(set(row)) != len(row):
                        dup = next(name for name in row if row.count(name) > 1)
                        raise ValueError(f"{where!r}: column name {dup!r} appears more than once")
                    n_fields = len(row)
                    continue
                if len(row) != n_fields:
                    raise ValueError(
                        f"{where!r}: ragged rows: line {reader.line_num} has {len(row)} "
                        f"field(s), the header has {n_fields}"
                    )
                n_rows += 1
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where!r}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise ValueError(f"{where!r}: not a valid CSV file: {exc}") from None
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise ValueError(f"{where!r}: cannot read the file: {exc}") from None
    if n_fields == 0:
        raise ValueError(f"{where!r}: the file is empty")
    if n_rows == 0:
        raise ValueError(f"{where!r}: the file has a header but no data rows")
    try:
        return pd.read_csv(path, encoding="utf-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise ValueError(f"{where!r}: cannot parse the CSV: {exc}") from None


def _read_npz(path: Path, pd: Any) -> Any:
    where = str(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{where!r}: not a readable .npz archive: {exc}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{where!r}: not an .npz archive (a single .npy array?)")
    columns = {}
    with archive:
        if not archive.files:
            raise ValueError(f"{where!r}: the file is empty (no arrays)")
        for name in archive.files:
            try:
                values = archive[name]
            except (ValueError, OSError, EOFError) as exc:
                raise ValueError(f"{where!r}: array {name!r} cannot be read: {exc}") from None
            if values.ndim != 1:
                raise ValueError(
                    f"{where!r}: array {name!r} has shape {values.shape}; each array of an .npz "
                    "table is one column and must be 1-D"
                )
            if values.dtype.kind not in "biufU":
                raise ValueError(
                    f"{where!r}: array {name!r} has dtype {values.dtype}; columns must hold "
                    "numbers, booleans or text (dtype 'U')"
                )
            columns[name] = values
    lengths = {name: len(v) for name, v in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"{where!r}: ragged columns: the arrays have lengths {lengths}")
    frame = pd.DataFrame(columns)
    for name, values in columns.items():  # text as pandas' string type, as read_csv gives
        if values.dtype.kind == "U":
            frame[name] = frame[name].astype("str")
    return frame


def _read_parquet(path: Path, pd: Any) -> Any:
    _require_pyarrow()
    import pyarrow

    try:
        return pd.read_parquet(path)
    except (OSError, ValueError, pyarrow.ArrowException) as exc:
        raise ValueError(f"{str(path)!r}: cannot read Parquet: {exc}") from None


# -- columns as numbers or categories -------------------------------------------------
def _as_series(values: Any, name: str, pd: Any) -> Any:
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {values.shape}")
    return pd.Series(values)


def _is_numeric_dtype(series: Any, pd: Any) -> bool:
    return bool(pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series))


def _parse_numbers(series: Any, pd: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(numbers, missing)``: float64 values (NaN where not a number) and the missing mask."""
    missing = series.isna().to_numpy()
    if _is_numeric_dtype(series, pd):
        numbers = series.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        parsed = pd.to_numeric(series.astype("object"), errors="coerce")
        numbers = parsed.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
    return numbers, missing


def _describe_rows(rows: np.ndarray, series: Any) -> str:
    shown = ", ".join(f"row {i + 1} ({series.iloc[i]!r})" for i in rows[:_SHOW])
    more = f" and {len(rows) - _SHOW} more" if len(rows) > _SHOW else ""
    return shown + more


def _not_numbers_error(name: str, series: Any, bad: np.ndarray, n_numbers: int) -> ValueError:
    rows = np.flatnonzero(bad)
    first = rows[0]
    return ValueError(
        f"column {name!r}, row {first + 1}: {series.iloc[first]!r} is not a number, but "
        f"{n_numbers} of the column's {n_numbers + len(rows)} values are, so it is numeric "
        f"(not numbers: {_describe_rows(rows, series)}); fix the values, or declare the "
        "column categorical"
    )


def _numeric_values(name: str, series: Any, pd: Any) -> np.ndarray:
    """The column as float64 (NaN where missing); any other non-number is a ValueError."""
    numbers, missing = _parse_numbers(series, pd)
    bad = ~missing & np.isnan(numbers)
    if bad.any():
        raise _not_numbers_error(name, series, bad, int((~missing & ~bad).sum()))
    infinite = np.isinf(numbers)
    if infinite.any():
        rows = np.flatnonzero(infinite)
        raise ValueError(f"column {name!r} holds infinite values: {_describe_rows(rows, series)}")
    return numbers


def _is_numeric_column(name: str, series: Any, pd: Any) -> bool:
    """The rule: numeric when at least half of the non-missing values are numbers.

    Then every non-missing value must be a number (a typo is an error, not a category).
    """
    if _is_numeric_dtype(series, pd):
        return True
    numbers, missing = _parse_numbers(series, pd)
    bad = ~missing & np.isnan(numbers)
    n_present = int((~missing).sum())
    n_numbers = n_present - int(bad.sum())
    if not bad.any():
        return True
    if 2 * n_numbers >= n_present:
        raise _not_numbers_error(name, series, bad, n_numbers)
    return False


def _category_strings(series: Any, pd: Any) -> np.ndarray:
    """Values as strings (object array, None where missing); 2.0 reads as "2"."""
    missing = series.isna().to_numpy()
    values = series.astype("object").to_numpy()
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        if missing[i]:
            out[i] = None
        elif isinstance(value, float | np.floating) and float(value).is_integer():
            out[i] = str(int(value))
        else:
            out[i] = str(value)
    return out


def infer_task(y: Any, *, name: str = "target") -> str:
    """``"classification"`` or ``"regression"``, decided from the target's values.

    The rule: text and booleans are classification; floating-point numbers are
    regression; integers are classification when they take at most
    ``MAX_CLASSES_INFERRED`` (20) distinct values and at least one value repeats,
    regression otherwise. Text whose values are numbers follows the numeric rule.

    Parameters
    ----------
    y : 1-D array-like or pandas.Series
    name : str
        The column's name, for error messages.

    Raises
    ------
    ValueError
        For a mostly numeric column with a few values that are not numbers.

    Examples
    --------
    >>> infer_task(["cat", "dog", "cat"]), infer_task([0, 1, 1, 0]), infer_task([0.5, 1.2])
    ('classification', 'classification', 'regression')
    """
    pd = _require_pandas()
    series = _as_series(y, name, pd)
    present = series.dropna().reset_index(drop=True)
    if pd.api.types.is_bool_dtype(series) or (
        series.dtype == object
        and len(present)
        and all(isinstance(v, bool | np.bool_) for v in present)
    ):
        return "classification"
    if not _is_numeric_dtype(series, pd):
        if not _is_numeric_column(name, present, pd):
            return "classification"
        numbers, _ = _parse_numbers(present, pd)
        if not np.all(numbers == np.round(numbers)):
            return "regression"
    elif pd.api.types.is_float_dtype(series):
        return "regression"
    else:
        numbers = present.to_numpy(dtype=np.float64)
    n_distinct = len(np.unique(numbers))
    if n_distinct <= MAX_CLASSES_INFERRED and n_distinct < len(numbers):
        return "classification"
    return "regression"


# -- feature scales -------------------------------------------------------------------
# -- the preprocessor -----------------------------------------------------------------
def _table(table: Any, pd: Any, what: str = "table") -> Any:
    if isinstance(table, pd.DataFrame):
        frame = table
    elif isinstance(table, Mapping):
        try:
            frame = pd.DataFrame(dict(table))
        except ValueError as exc:
            raise ValueError(f"{what} must hold columns of equal length: {exc}") from None
    else:
        raise TypeError(
            f"{what} must be a pandas DataFrame or a mapping of columns, got {table!r:.60}"
        )
    if len(frame) == 0:
        raise ValueError(f"{what} has no rows")
    frame = frame.reset_index(drop=True)
    frame.columns = _column_names(frame.columns, what)
    return frame


def _missing_error(name: str, missing: np.ndarray, hint: str) -> ValueError:
    rows = np.flatnonzero(missing) + 1
    shown = ", ".join(str(r) for r in rows[:_SHOW]) + (", ..." if len(rows) > _SHOW else "")
    plural = "s" if len(rows) > 1 else ""
    return ValueError(
        f"column {name!r} has missing values in {len(rows)} row{plural} (row{plural} {shown}){hint}"
    )


def _most_frequent(values: np.ndarray) -> Any:
    """The most frequent value; ties go to the smallest (scikit-learn's rule)."""
    uniques, counts = np.unique(values, return_counts=True)
    return uniques[int(np.argmax(counts))]


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
        pd = _require_pandas()
        frame = _table(table, pd)
        features = self._feature_columns(list(frame.columns))
        forced = set(self.categorical or ())

        columns, means, scales, numeric_fill = [], [], [], []
        fill_values: dict[str, Any] | None = None if self.impute is None else {}
        hint = '; fill them, or use impute="mean", "median" or "most_frequent"'
        for name in features:
            series = frame[name]
            if name not in forced and _is_numeric_column(name, series, pd):
                values = _numeric_values(name, series, pd)
                missing = np.isnan(values)
                if missing.all():
                    raise ValueError(f"column {name!r} has no values (all {len(values)} missing)")
                if missing.any() and self.impute is None:
                    raise _missing_error(name, missing, hint)
                fill = 0.0
                if self.impute is not None:
                    present = values[~missing]
                    fill = float(
                        np.mean(present)
                        if self.impute == "mean"
                        else np.median(present)
                        if self.impute == "median"
                        else _most_frequent(present)
                    )
                    values = np.where(missing, fill, values)
                    fill_values[name] = fill
                mean, scale = self._scaling(values) if self.standardize else (0.0, 1.0)
                columns.append({"name": name, "kind": "numeric"})
                means.append(mean)
                scales.append(scale)
                numeric_fill.append(fill)
            else:
                strings = _category_strings(series, pd)
                missing = np.array([s is None for s in strings])
                if missing.all():
                    raise ValueError(f"column {name!r} has no values (all {len(strings)} missing)")
                if missing.any() and self.impute is None:
                    raise _missing_error(name, missing, hint)
                present = strings[~missing].astype(str)
                if self.impute is not None:
                    fill_values[name] = str(_most_frequent(present))
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
            raise _missing_error(name, missing, " (a target cannot be imputed)")
        self.task_ = self.task or infer_task(series, name=name)
        if self.task_ == "regression":
            values = _numeric_values(name, series, pd)
            self.target_mean_, self.target_scale_ = (
                self._scaling(values) if self.standardize_target else (0.0, 1.0)
            )
            return
        self._set_classes(np.unique(_labels(series, pd)))

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
        pd = _require_pandas()
        self._check_fitted()
        frame = _table(table, pd)
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
                values = _numeric_values(name, series, pd)
                missing = np.isnan(values)
                if missing.any():
                    if self.fill_values_ is None:
                        raise _missing_error(name, missing, hint)
                    values = np.where(missing, self._numeric_fill[i_numeric], values)
                blocks.append(((values - self.mean_[i_numeric]) / self.scale_[i_numeric])[:, None])
                i_numeric += 1
            else:
                blocks.append(self._one_hot(name, column["categories"], series, pd, hint))
        return np.ascontiguousarray(np.hstack(blocks), dtype=self.dtype)

    def _one_hot(self, name: str, categories: list[str], series: Any, pd: Any, hint: str):
        strings = _category_strings(series, pd)
        missing = np.array([s is None for s in strings])
        if missing.any():
            if self.fill_values_ is None:
                raise _missing_error(name, missing, hint)
            strings = np.where(missing, self.fill_values_[name], strings)
        codes = pd.Index(categories).get_indexer(strings.astype(str))
        unseen = codes < 0
        if unseen.any():
            values = sorted(set(strings[unseen].astype(str).tolist()))
            warnings.warn(
                f"column {name!r}: {int(unseen.sum())} row(s) hold categories not seen in "
                f"training, encoded as all zeros: {values[:_SHOW]}",
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
        pd = _require_pandas()
        self._check_fitted()
        if self.task_ is None:
            raise ValueError("this Preprocessor was fitted without a target")
        name = self.target
        if isinstance(y, pd.DataFrame) or isinstance(y, Mapping):
            frame = _table(y, pd)
            if name not in frame.columns:
                raise ValueError(f"the table lacks the target column {name!r}")
            series = frame[name]
        else:
            series = _as_series(y, "y", pd)
        missing = series.isna().to_numpy()
        if missing.any():
            raise _missing_error(name, missing, " (a target cannot be imputed)")
        if self.task_ == "regression":
            values = _numeric_values(name, series, pd)
            return ((values - self.target_mean_) / self.target_scale_).astype(self.dtype)
        labels = _labels(series, pd)
        if self.classes_.dtype == object:
            labels = labels.astype(str).astype(object)
        codes = np.searchsorted(self.classes_, labels)
        codes = np.minimum(codes, len(self.classes_) - 1)
        unseen = self.classes_[codes] != labels
        if np.any(unseen):
            values = sorted({str(v) for v in labels[unseen]})
            raise ValueError(
                f"target column {name!r} holds label(s) not seen in training: {values[:_SHOW]} "
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


def _labels(series: Any, pd: Any) -> np.ndarray:
    """Class labels as a NumPy array: text stays text (object dtype), numbers stay numbers."""
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=bool)
    if pd.api.types.is_integer_dtype(series):
        return series.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(series):
        return series.to_numpy(dtype=np.float64)
    return np.array([str(v) for v in series.astype("object")], dtype=object)


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
    numeric_fill = []
    if fill_values is not None:
        check_keys(fill_values, names, "config.fill_values")
        for column in columns:
            value = fill_values[column["name"]]
            where = f"config.fill_values[{column['name']!r}]"
            if column["kind"] == "numeric":
                numeric_fill.append(get_number(fill_values, column["name"], "config.fill_values"))
            elif not isinstance(value, str):
                raise ModelFileError(f"{where} must be a string, got {value!r:.40}")
    else:
        numeric_fill = [0.0] * n_numeric
    pre.fill_values_ = fill_values
    pre._numeric_fill = np.array(numeric_fill, dtype=np.float64)
    pre.n_features_out_ = len(pre.get_feature_names_out())

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
    return pre


register_kind("preprocessor", Preprocessor, _preprocessor_to_state, _preprocessor_from_state)
