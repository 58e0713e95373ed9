"""Column roles: which values are numbers, which are categories, what task a target sets.

The rules that :class:`~deltaprop.tabular.Preprocessor` and the Dask summaries
(:mod:`deltaprop.tabular.dask`) both follow: a column is numeric when at least half of
its non-missing values are numbers (then every one must be); categories are the values
as strings (``2.0`` reads as ``"2"``); :func:`infer_task` decides between classification
and regression from the target. The rules are spelled out in ``docs/data.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from deltaprop.tabular.readers import column_names, require_pandas

__all__ = [
    "MAX_CLASSES_INFERRED",
    "SHOW",
    "as_series",
    "category_strings",
    "class_labels",
    "describe_rows",
    "infer_task",
    "is_numeric_column",
    "is_numeric_dtype",
    "missing_error",
    "most_frequent",
    "not_numbers_error",
    "numeric_values",
    "parse_numbers",
    "table_frame",
]

#: Integer targets with at most this many distinct values are classification targets.
MAX_CLASSES_INFERRED = 20
#: How many offending values an error message lists.
SHOW = 5


# -- columns as numbers or categories -------------------------------------------------
def as_series(values: Any, name: str, pd: Any) -> Any:
    """``values`` (a Series or 1-D array-like) as a Series indexed ``0 .. n - 1``."""
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {values.shape}")
    return pd.Series(values)


def is_numeric_dtype(series: Any, pd: Any) -> bool:
    """Whether pandas stores the column as numbers (booleans count)."""
    return bool(pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series))


def parse_numbers(series: Any, pd: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(numbers, missing)``: float64 values (NaN where not a number) and the missing mask."""
    missing = series.isna().to_numpy()
    if is_numeric_dtype(series, pd):
        numbers = series.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        parsed = pd.to_numeric(series.astype("object"), errors="coerce")
        numbers = parsed.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
    return numbers, missing


def describe_rows(rows: np.ndarray, series: Any) -> str:
    """``"row 3 ('x'), row 9 ('y') and 2 more"`` for 0-based ``rows`` of ``series``."""
    shown = ", ".join(f"row {i + 1} ({series.iloc[i]!r})" for i in rows[:SHOW])
    more = f" and {len(rows) - SHOW} more" if len(rows) > SHOW else ""
    return shown + more


def not_numbers_error(name: str, series: Any, bad: np.ndarray, n_numbers: int) -> ValueError:
    """The error for a numeric column holding values that are not numbers (mask ``bad``)."""
    rows = np.flatnonzero(bad)
    first = rows[0]
    return ValueError(
        f"column {name!r}, row {first + 1}: {series.iloc[first]!r} is not a number, but "
        f"{n_numbers} of the column's {n_numbers + len(rows)} values are, so it is numeric "
        f"(not numbers: {describe_rows(rows, series)}); fix the values, or declare the "
        "column categorical"
    )


def numeric_values(name: str, series: Any, pd: Any) -> np.ndarray:
    """The column as float64 (NaN where missing); any other non-number is a ValueError."""
    numbers, missing = parse_numbers(series, pd)
    bad = ~missing & np.isnan(numbers)
    if bad.any():
        raise not_numbers_error(name, series, bad, int((~missing & ~bad).sum()))
    infinite = np.isinf(numbers)
    if infinite.any():
        rows = np.flatnonzero(infinite)
        raise ValueError(f"column {name!r} holds infinite values: {describe_rows(rows, series)}")
    return numbers


def is_numeric_column(name: str, series: Any, pd: Any) -> bool:
    """The rule: numeric when at least half of the non-missing values are numbers.

    Then every non-missing value must be a number (a typo is an error, not a category).
    """
    if is_numeric_dtype(series, pd):
        return True
    numbers, missing = parse_numbers(series, pd)
    bad = ~missing & np.isnan(numbers)
    n_present = int((~missing).sum())
    n_numbers = n_present - int(bad.sum())
    if not bad.any():
        return True
    if 2 * n_numbers >= n_present:
        raise not_numbers_error(name, series, bad, n_numbers)
    return False


def category_strings(series: Any, pd: Any) -> np.ndarray:
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
    pd = require_pandas()
    series = as_series(y, name, pd)
    present = series.dropna().reset_index(drop=True)
    if pd.api.types.is_bool_dtype(series) or (
        series.dtype == object
        and len(present)
        and all(isinstance(v, bool | np.bool_) for v in present)
    ):
        return "classification"
    if not is_numeric_dtype(series, pd):
        if not is_numeric_column(name, present, pd):
            return "classification"
        numbers, _ = parse_numbers(present, pd)
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


def table_frame(table: Any, pd: Any, what: str = "table") -> Any:
    """``table`` (a DataFrame or a mapping of columns) as a DataFrame with string names.

    Raises
    ------
    TypeError
        For anything else.
    ValueError
        For columns of unequal length, no rows or duplicate names.
    """
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
    frame.columns = column_names(frame.columns, what)
    return frame


def missing_error(name: str, missing: np.ndarray, hint: str) -> ValueError:
    """The error for missing values (mask ``missing``) in column ``name``, then ``hint``."""
    rows = np.flatnonzero(missing) + 1
    shown = ", ".join(str(r) for r in rows[:SHOW]) + (", ..." if len(rows) > SHOW else "")
    plural = "s" if len(rows) > 1 else ""
    return ValueError(
        f"column {name!r} has missing values in {len(rows)} row{plural} (row{plural} {shown}){hint}"
    )


def most_frequent(values: np.ndarray) -> Any:
    """The most frequent value; ties go to the smallest (scikit-learn's rule)."""
    uniques, counts = np.unique(values, return_counts=True)
    return uniques[int(np.argmax(counts))]


def class_labels(series: Any, pd: Any) -> np.ndarray:
    """Class labels as a NumPy array: text stays text (object dtype), numbers stay numbers."""
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=bool)
    if pd.api.types.is_integer_dtype(series):
        return series.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(series):
        return series.to_numpy(dtype=np.float64)
    return np.array([str(v) for v in series.astype("object")], dtype=object)
