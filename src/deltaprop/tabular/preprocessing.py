"""Preprocessing: a table in, the float matrix a network trains on out.

:class:`Preprocessor` is fitted on training data. It gives every column a role
(:func:`~deltaprop.tabular.infer_roles`: numeric, categorical, text, datetime,
identifier, constant, ...) and encodes each feature column by its role: numbers robustly
scaled and smoothly clipped, categories one-hot encoded, dates as calendar features,
free text as hashed words; a missing value is filled (the median, the most frequent
category) and flagged in an indicator column; identifiers and constants are left out.
The target is label-encoded (classification) or standardised (regression). It is
stored inside model files (kind ``"preprocessor"``, see :mod:`deltaprop.files`). The
rules are spelled out in ``docs/data.md``.

pandas is optional: ``pip install "deltaprop[data]"``.

Examples
--------
>>> import deltaprop.tabular as dd
>>> table = {"size": [1.0, 2.0, None], "colour": ["red", "blue", " red "],
...          "label": ["yes", "no", "yes"]}
>>> pre = dd.Preprocessor(target="label").fit(table)
>>> pre.get_feature_names_out()
['size', 'size (missing)', 'colour=blue', 'colour=red']
>>> pre.transform(table).round(3)
array([[-1.23,  0.  ,  0.  ,  1.  ],
       [ 1.23,  0.  ,  1.  ,  0.  ],
       [ 0.  ,  1.  ,  0.  ,  1.  ]])
>>> pre.classes_
array(['no', 'yes'], dtype=object)
>>> pre.transform_target(table)
array([1, 0, 1])
"""

from __future__ import annotations

import re
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
    DataWarning,
    SpelledError,
    as_series,
    as_text,
    case_variants,
    case_warning,
    category_strings,
    class_labels,
    clean_text,
    columns_shown,
    describe_rows,
    folded_yes_no,
    in_family,
    infer_task,
    meant_column,
    missing_error,
    most_frequent,
    not_numbers_error,
    numeric_cells,
    numeric_values,
    parse_numbers,
    read_cells_as_numbers,
    reads_yes_no,
    row_numbers,
    table_frame,
    text_key,
    truth_family,
)
from deltaprop.tabular.plain import PlainTable, plain_category_strings, plain_numbers
from deltaprop.tabular.readers import require_pandas
from deltaprop.tabular.roles import (
    ROLES,
    ColumnRole,
    infer_roles,
    not_day_first,
    parse_dates,
    reads_day_first,
)
from deltaprop.tabular.transforms import (
    HASH_BUCKETS,
    date_part_names,
    date_parts,
    hashed_words,
    marks_months,
    robust_scaling,
    scaled,
    smooth_clip,
    standard_scaling,
)

__all__ = ["DataWarning", "Preprocessor"]

_IMPUTE = (None, "mean", "median", "most_frequent")
_SCALING = ("robust", "standard")
_TASKS = (None, "classification", "regression")
_DTYPES = ("float32", "float64")
_KINDS = ("numeric", "categorical", "datetime", "text")
#: The date parts that are numbers to scale (the others lie on the unit circle).
_SCALED_PARTS = ("year", "days")

#: A classification target with a different class in every row is refused from this
#: many rows on (a column of codes or names); below it, a small example passes.
ROWS_NAMED = 20
#: More classes than this, and more than half as many as rows, are warned about: most
#: classes then hold a single row (numbers written with a unit, read as labels).
MANY_CLASSES = 100


def _names(value: Any, parameter: str) -> tuple[str, ...]:
    """A sequence of column names as a tuple of stripped strings (one string is refused)."""
    if value is None:
        return ()
    if isinstance(value, str):
        raise TypeError(f"{parameter} must be a list of column names, got {value!r}")
    return tuple(str(c).strip() for c in value)


#: The remedy for missing values at fit time: (Python spelling, command-line spelling).
_MISSING_HINTS = (
    '; fill them, or use impute="median" (or "mean", "most_frequent")',
    "; fill them, or leave out --impute none (missing values are then filled with the "
    "median or the most frequent category)",
)


def _missing(name: str, missing: np.ndarray, hints: tuple[str, str] = _MISSING_HINTS):
    """The error for missing values without imputation, in both spellings."""
    python, cli = (str(missing_error(name, missing, hint)) for hint in hints)
    return SpelledError(python, cli)


#: Regression targets farther than this many interquartile ranges from the median are
#: named in a warning: a price typed with three zeros too many, a code such as 99999 for
#: "unknown". Heavy-tailed targets (prices, incomes) stay within about 20.
FAR_TARGET_IQRS = 100.0


def _warn_about_far_targets(name: str, values: np.ndarray) -> None:
    """A DataWarning naming the regression targets far outside the rest (they steer the
    squared error, and the scaling of every other target)."""
    finite = values[np.isfinite(values)]
    if finite.size < 20:
        return
    low, median, high = np.percentile(finite, [25.0, 50.0, 75.0])
    if high - low <= 0.0:
        return
    far = np.flatnonzero(np.abs(values - median) > FAR_TARGET_IQRS * (high - low))
    if far.size == 0:
        return
    numbers = row_numbers(far[:SHOW], len(values))
    shown = ", ".join(f"row {r} ({values[i]:g})" for r, i in zip(numbers, far, strict=False))
    more = f" and {far.size - SHOW} more" if far.size > SHOW else ""
    warnings.warn(
        f"target column {name!r}: {far.size} value(s) lie more than {FAR_TARGET_IQRS:g} "
        f"interquartile ranges from the median {median:g}: {shown}{more}; if they are "
        "mistakes, fix or drop those rows (they weigh on every prediction)",
        DataWarning,
        stacklevel=5,
    )


def _codes_of_unseen(categories: list[str], strings: np.ndarray) -> np.ndarray:
    """The categories that values not written as any category still name, -1 where none.

    A value in another case (``adelie`` for ``Adelie``: categories in several cases are
    read as one), or a plain numeral spelled otherwise (``007``, ``7.0`` for ``7``, or
    ``7`` for ``007``: a column of codes read as numbers in one file and as text in
    another). A key two categories share matches neither. Each distinct value is looked
    up once.
    """
    by_case: dict[str, int] = {}
    by_numeral: dict[str, int] = {}
    for k, category in enumerate(categories):
        for key, table in ((text_key(category), by_case), (_numeral(category), by_numeral)):
            if key is not None:
                table[key] = -1 if key in table else k
    found: dict[Any, int] = {}
    for value in set(strings.tolist()):
        code = -1
        if isinstance(value, str):
            code = by_case.get(text_key(value), -1)
            numeral = _numeral(value)
            if code < 0 and numeral is not None:
                code = by_numeral.get(numeral, -1)
        found[value] = code
    return np.array([found[v] for v in strings.tolist()], dtype=np.intp)


#: A number written with digits alone (a sign, a point): no exponent, %, currency.
_PLAIN_NUMERAL = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")


def _numeral(text: str) -> str | None:
    """A plain numeral without its leading and trailing zeros (``007`` and ``7.0`` are
    ``7``), exactly, whatever its length; None for other text."""
    if not _PLAIN_NUMERAL.match(text):
        return None
    sign = "-" if text[0] == "-" else ""
    whole, _, fraction = text.lstrip("+-").partition(".")
    whole, fraction = whole.lstrip("0") or "0", fraction.rstrip("0")
    if whole == "0" and not fraction:
        sign = ""
    return sign + whole + ("." + fraction if fraction else "")


def _whole(values: np.ndarray) -> bool:
    """Whether every value is a whole number that int64 holds exactly."""
    return bool(
        np.all(np.isfinite(values) & (np.abs(values) < 2.0**53) & (values == np.round(values)))
    )


class Preprocessor:
    """Turns a table into the float matrix a network trains on, and back for the target.

    Fitted on the training table: every column gets a role
    (:func:`~deltaprop.tabular.infer_roles`, kept in ``roles_``) and each feature
    column is encoded by its role:

    - ``"numeric"``: infinities clipped to the column's finite range, then (default
      ``scaling="robust"``) centred by the median, divided by an interquartile-range
      spread and smoothly clipped to (-3, 3) by ``x / sqrt(1 + (x / 3)^2)``; or
      (``scaling="standard"``) standardised to zero mean and unit variance;
    - ``"categorical"``: one-hot (categories sorted; an unseen one is all zeros);
    - ``"datetime"``: the year, month, weekday (and hour, where the training dates have
      times) as sin/cos pairs, and the days since 1970 (year and days scaled as numbers);
      no weekday where every training date is the first or last day of its month
      (monthly data: :func:`~deltaprop.tabular.transforms.marks_months`);
    - ``"text"``: the words hashed into 16 columns
      (:func:`~deltaprop.tabular.transforms.hashed_words`);
    - ``"identifier"``, ``"constant"``, ``"id"``, ``"dropped"``: left out.

    A missing value is filled (``impute``) and, for a column that had any missing value
    in training, flagged in an extra 0/1 column ``"<name> (missing)"``. The target is
    label-encoded (classification, ``classes_`` sorted like :func:`numpy.unique`) or
    standardised (regression; map predictions back with
    :meth:`inverse_transform_target`). At transform time columns are matched by name:
    their order may differ, a missing column is an error and extra ones are ignored with
    a :class:`DataWarning`; unseen categories, unseen missing values and values that are
    not numbers are handled, counted in ``transform_report_`` and summarised in one
    :class:`DataWarning`. The rules are listed in ``docs/data.md``.

    Parameters
    ----------
    target : str or None
        The target column (excluded from the features); None for features only.
    task : {"classification", "regression"} or None
        None infers it from the target with :func:`infer_task`.
    impute : {"median", "mean", "most_frequent", None}, default "median"
        How a missing feature value is filled: the training column's median, mean or
        most frequent value for numbers (dates likewise); text columns always use the
        most frequent category (free text: no words). None: a missing value is a
        ``ValueError`` naming the column.
    categorical : sequence of str, optional
        Columns to one-hot encode even though their values are numbers.
    numeric : sequence of str, optional
        Columns to scale as numbers whatever the rules say (integer codes, IDs that
        repeat, a pandas category of numbers, mostly text): their values that are not
        numbers are read as missing, as in any numeric column.
    standardize : bool, default True
        Scale the numeric feature columns (``scaling``); False keeps them as they are.
    standardize_target : bool, default True
        Standardise a regression target.
    dtype : {"float64", "float32"}
        The dtype of the arrays :meth:`transform` and :meth:`transform_target` return.
    scaling : {"robust", "standard"}, default "robust"
        How numeric columns are scaled (see above).
    add_indicator : bool, default True
        Add a missing-value indicator column for each column with missing values in
        training (only with ``impute``).
    drop : sequence of str, optional
        Columns to leave out (role ``"dropped"``).
    id_columns : sequence of str, optional
        Columns that identify rows (role ``"id"``): no features.
    sample_weight : str, optional
        A column of row weights (role ``"weight"``): no feature.

    Attributes
    ----------
    roles_ : dict of str -> ColumnRole
        Every column of the training table, in order, with its role and the reason.
    feature_names_in_ : list of str
        The columns that become features, in order.
    columns_ : list of dict
        Per feature column: ``name``, ``kind`` (``"numeric"``, ``"categorical"``,
        ``"datetime"``, ``"text"``), ``categories`` (sorted strings) for categorical
        ones, ``hour`` (bool) for dates, ``buckets`` for text, and ``"missing": True``
        when it has an indicator column.
    mean_, scale_ : ndarray of shape (n_scaled,)
        Per scaled number (a numeric column; a date column's year and days): the centre
        and the spread, ``(x - mean_) / scale_`` (``0`` and ``1`` without scaling).
    low_, high_ : ndarray of shape (n_scaled,)
        The finite range seen in training; infinities are clipped to it.
    fill_values_ : dict or None
        Per feature column, the value that replaces a missing one (None without
        ``impute``): a number (dates: days since 1970), a category, or ``""`` (text).
    transform_report_ : dict
        After :meth:`transform`: per column, the counts of ``"unseen"`` categories,
        ``"missing"`` values and values that are ``"not_numbers"`` (read as missing).
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
        impute: str | None = "median",
        categorical: Sequence[str] | None = None,
        standardize: bool = True,
        standardize_target: bool = True,
        dtype: str = "float64",
        scaling: str = "robust",
        add_indicator: bool = True,
        drop: Sequence[str] | None = None,
        id_columns: Sequence[str] | None = None,
        sample_weight: str | None = None,
        numeric: Sequence[str] | None = None,
    ) -> None:
        # kept as given: scikit-learn's clone() rebuilds a Pipeline's step from get_params()
        # and checks that each value came back as the object it passed
        given = {
            "target": target,
            "task": task,
            "impute": impute,
            "categorical": categorical,
            "standardize": standardize,
            "standardize_target": standardize_target,
            "dtype": dtype,
            "scaling": scaling,
            "add_indicator": add_indicator,
            "drop": drop,
            "id_columns": id_columns,
            "sample_weight": sample_weight,
            "numeric": numeric,
        }
        if target is not None and not isinstance(target, str):
            raise TypeError(f"target must be a column name (str) or None, got {target!r}")
        if task not in _TASKS:
            raise ValueError(f"task must be one of {list(_TASKS)}, got {task!r}")
        if impute not in _IMPUTE:
            raise ValueError(f"impute must be one of {list(_IMPUTE)}, got {impute!r}")
        if scaling not in _SCALING:
            raise ValueError(f"scaling must be one of {list(_SCALING)}, got {scaling!r}")
        if sample_weight is not None and not isinstance(sample_weight, str):
            raise TypeError(f"sample_weight must be a column name (str), got {sample_weight!r}")
        categorical = None if categorical is None else list(_names(categorical, "categorical"))
        if np.dtype(dtype).name not in _DTYPES:
            raise ValueError(f"dtype must be one of {list(_DTYPES)}, got {dtype!r}")
        self.target = None if target is None else target.strip()
        self.task = task
        self.impute = impute
        self.categorical = categorical
        self.standardize = bool(standardize)
        self.standardize_target = bool(standardize_target)
        self.dtype = np.dtype(dtype).name
        self.scaling = scaling
        self.add_indicator = bool(add_indicator)
        self.drop = list(_names(drop, "drop"))
        self.id_columns = list(_names(id_columns, "id_columns"))
        self.sample_weight = sample_weight
        self.numeric = None if numeric is None else list(_names(numeric, "numeric"))
        self._params = given
        self._read_as = {name: getattr(self, name) for name in given}

    # -- fit --------------------------------------------------------------------------
    def fit(self, table: Any, y: Any = None) -> Preprocessor:
        """Infer the columns' roles and learn their statistics and the classes.

        Parameters
        ----------
        table : pandas.DataFrame or mapping of column name -> 1-D array-like
        y : ignored
            scikit-learn's transformer signature: a ``Preprocessor()`` without a target,
            as a step of a :class:`~sklearn.pipeline.Pipeline` before an estimator, leaves
            the target to that estimator.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Naming the column (and row): without ``impute``, a mostly numeric column
            with values that are not numbers, or missing values; a target column that is absent,
            has missing values, a single class, a different class in every row or a
            single value, a named column that is
            not in the table, no feature columns.
        """
        pd = require_pandas()
        frame = table_frame(table, pd)
        self._check_names(list(frame.columns))
        roles = infer_roles(
            frame,
            self.target,
            sample_weight=self.sample_weight,
            id_columns=self.id_columns,
            drop=self.drop,
            categorical=self.categorical or (),
            numeric=self.numeric or (),
        )
        features = [name for name, role in roles.items() if role.is_feature]
        if not features:
            left_out = [
                f"{n!r} ({r.role}: {r.reason})" for n, r in roles.items() if n != self.target
            ]
            raise ValueError(
                "the table has no feature columns besides the target"
                + (f"; left out: {', '.join(left_out[:SHOW])}" if left_out else "")
            )
        stats: list[tuple[float, float, float, float]] = []  # centre, spread, low, high
        columns, fill_values = [], ({} if self.impute is not None else None)
        for name in features:
            column, fill, column_stats = self._fit_column(name, roles[name].role, frame[name], pd)
            columns.append(column)
            stats += column_stats
            if fill_values is not None:
                fill_values[name] = fill
        self.roles_ = roles
        self._set_columns(features, columns, stats, fill_values)
        self.task_ = None
        if self.target is not None:
            self._fit_target(frame[self.target], pd)
        return self

    def _check_names(self, columns: list[str]) -> None:
        """The target is a column; ``categorical`` and ``numeric`` name feature columns."""
        if self.target is not None and self.target not in columns:
            raise ValueError(
                f"target column {self.target!r} is not in the table "
                f"{columns_shown(self.target, columns)}"
            )
        left_out = {self.target, self.sample_weight, *self.drop, *self.id_columns}
        for parameter in ("categorical", "numeric"):
            unknown = sorted(set(getattr(self, parameter) or ()) - (set(columns) - left_out))
            if unknown:
                raise SpelledError(
                    f"{parameter} names columns that are not features: {unknown}",
                    f"--{parameter} names columns that are not features: {unknown}",
                )

    def _fit_column(self, name: str, role: str, series: Any, pd: Any) -> tuple[dict, Any, list]:
        """One feature column: its entry in ``columns_``, its fill value, its scaled stats."""
        if role == "numeric":
            declared = name in (self.numeric or ())  # (its TRUE and no read as 1 and 0)
            numbers, missing, _, _ = numeric_cells(series, pd, truths=declared)
            missing = missing | self._not_numbers(name, series, numbers, missing)
            column = {"name": name, "kind": "numeric"}
            fill, stats = self._fit_numbers(name, numbers, missing)
        elif role == "datetime":
            day_first = not pd.api.types.is_datetime64_any_dtype(series) and reads_day_first(
                set(clean_text(series.astype("object"), pd).dropna())
            )
            days = parse_dates(series, pd, day_first)
            missing = np.isnan(days)
            fill, _ = self._fit_numbers(name, days, missing)
            filled = np.where(missing, 0.0 if fill is None else fill, days)
            hour = bool(np.any(filled[~missing] % 1.0 != 0.0))
            column = {"name": name, "kind": "datetime", "hour": hour}
            if day_first:  # kept only when true: files written before it read alike
                column["day_first"] = True
            monthly = marks_months(filled[~missing])
            if monthly:  # likewise
                column["monthly"] = True
            parts = date_parts(filled, hour, weekday=not monthly)
            stats = [self._stats(parts[:, 0]), self._stats(parts[:, -1])]
        else:
            strings = category_strings(series, pd)
            missing = np.array([s is None for s in strings], dtype=bool)
            if missing.any() and self.impute is None:
                raise _missing(name, missing)
            present = strings[~missing]
            stats = []
            if role == "text":
                column = {"name": name, "kind": "text", "buckets": HASH_BUCKETS}
                fill = ""
            else:
                folded = folded_yes_no(present)  # TRUE, true: one value
                present = present if folded is None else folded
                spelled = case_variants(present) if folded is None else {}
                if spelled:  # Adelie, adelie: one category
                    present = np.array([spelled.get(v, v) for v in present], dtype=object)
                    warnings.warn(case_warning(f"column {name!r}", spelled), DataWarning, 4)
                column = {"name": name, "kind": "categorical", "categories": sorted(set(present))}
                fill = str(most_frequent(present)) if len(present) else None
        if missing.any() and self.impute is not None and self.add_indicator:
            column["missing"] = True
        return column, fill, stats

    def _not_numbers(self, name: str, series: Any, numbers: np.ndarray, missing: np.ndarray):
        """Where a numeric column holds values that are not numbers: read as missing.

        The roles say so, and :meth:`transform` warns with the rows; without ``impute``
        they are an error.
        """
        bad = ~missing & np.isnan(numbers)
        if bad.any() and self.impute is None:
            raise not_numbers_error(name, series, bad, int((~missing & ~bad).sum()))
        return bad

    def _fit_numbers(self, name: str, values: np.ndarray, missing: np.ndarray):
        """The fill value and ``[stats]`` of a numeric column (infinities clipped first)."""
        if missing.any() and self.impute is None:
            raise _missing(name, missing)
        present = values[~missing]
        finite = present[np.isfinite(present)]
        present = np.clip(present, finite.min(), finite.max())
        fill = None
        if self.impute is not None and len(present):
            if self.impute == "mean":
                fill = standard_scaling(present)[0] if np.ptp(present) else float(present[0])
            elif self.impute == "median":
                fill = float(np.median(present))
            else:
                fill = float(most_frequent(present))
        filled = np.clip(
            np.where(missing, fill if fill is not None else 0.0, values), finite.min(), finite.max()
        )
        return fill, [self._stats(filled)]

    def _stats(self, values: np.ndarray) -> tuple[float, float, float, float]:
        """``(centre, spread, low, high)`` of a column of finite numbers."""
        low, high = float(np.min(values)), float(np.max(values))
        if not self.standardize:
            return 0.0, 1.0, low, high
        scaling = robust_scaling if self.scaling == "robust" else standard_scaling
        centre, spread = scaling(values)
        return centre, spread, low, high

    def _set_columns(self, features, columns, stats, fill_values) -> None:
        """Record the fitted feature columns (by :meth:`fit`, or from Dask summaries)."""
        self.feature_names_in_ = features
        self.columns_ = columns
        stats = np.array(stats, dtype=np.float64).reshape(-1, 4)
        self.mean_, self.scale_, self.low_, self.high_ = (stats[:, k].copy() for k in range(4))
        self.fill_values_ = fill_values
        self.n_features_out_ = len(self.get_feature_names_out())

    def _set_classes(self, classes: np.ndarray, n_rows: int) -> None:
        """Record the target's classes (sorted, unique) of ``n_rows`` labelled rows.

        A single class is an error, and so is a different class in every one of
        :data:`ROWS_NAMED` rows or more: such a column names the rows (a code, a name), and
        no row's class can be learnt from the others. (Fewer rows are let through: a
        handful of rows with a class each is a small example, not a mistaken column.)
        """
        if classes.dtype == object:
            classes = self._fold_yes_no_classes(classes)
            spelled = case_variants(classes)
            if spelled:  # Adelie, adelie: one class
                what = f"target column {self.target!r}"
                warnings.warn(case_warning(what, spelled), DataWarning, stacklevel=4)
                classes = np.unique(np.array([spelled.get(c, c) for c in classes], dtype=object))
        elif classes.dtype.kind == "f" and _whole(classes):
            # integer codes that blank cells made floats (infer_task's rule): the labels
            # are written 1, 2, 3 as in the file, not 1.0, 2.0, 3.0
            classes = classes.astype(np.int64)
        if len(classes) < 2:
            only = classes[0].item() if isinstance(classes[0], np.generic) else classes[0]
            raise ValueError(
                f"target column {self.target!r} has a single class {only!r}; "
                "classification needs at least 2"
            )
        if len(classes) == n_rows >= ROWS_NAMED:
            raise ValueError(
                f"target column {self.target!r} has a different class in every one of its "
                f"{n_rows} rows: it names the rows, and no row's class can be learnt from "
                "the others; choose another target column"
            )
        if len(classes) > MANY_CLASSES and 2 * len(classes) > n_rows:
            warnings.warn(
                f"target column {self.target!r} has {len(classes):,} classes in {n_rows:,} "
                "rows, most of them one row's: few can be learnt. If its values are numbers "
                "written with text (a unit, a code), write them as plain numbers and train "
                "a regression (--task regression; task='regression')",
                DataWarning,
                stacklevel=4,
            )
        self.classes_ = classes

    def _fold_yes_no_classes(self, classes: np.ndarray) -> np.ndarray:
        """Yes/no labels in several spellings (``Yes``, ``yes``) as one class each, in
        lower case, with a :class:`DataWarning`; other classes as they are."""
        folded = folded_yes_no(classes)
        if folded is None or len(set(folded)) == len(classes):
            return classes
        merged = np.unique(folded)
        spellings = "; ".join(
            f"{c!r} ({', '.join(str(v) for v in classes[folded == c])})" for c in merged
        )
        warnings.warn(
            f"target column {self.target!r} writes its yes/no labels in several spellings, "
            f"read as one class each: {spellings}",
            DataWarning,
            stacklevel=4,
        )
        return merged

    def _labels_in_any_case(self, labels: np.ndarray) -> np.ndarray:
        """Labels matched to the classes in any case (``YES`` is the class ``yes``,
        ``adelie`` the class ``Adelie``) where they are not a class as written; others as
        they are (and all of them for classes that differ only in case)."""
        classes = set(self.classes_.tolist())
        family = truth_family(classes)
        if family is not None:  # yes/no classes: Y, TRUE, 1 are yes too
            return as_text(
                [in_family(v.lower(), family) if isinstance(v, str) else v for v in labels]
            )
        lowered = {text_key(c): c for c in classes if isinstance(c, str)}
        if len(lowered) != len(classes):
            return labels
        return as_text(
            [
                lowered.get(text_key(v), v) if isinstance(v, str) and v not in classes else v
                for v in labels
            ]
        )

    def _fit_target(self, series: Any, pd: Any) -> None:
        name = self.target
        series = clean_text(series, pd)
        missing = series.isna().to_numpy()
        if missing.any():
            raise missing_error(name, missing, " (a target cannot be imputed)")
        self.task_ = self.task or infer_task(series, name=name)
        if self.task_ == "regression":
            values = numeric_values(name, series, pd)
            if np.ptp(values) == 0.0:
                raise ValueError(
                    f"target column {name!r} holds one value ({values[0]:g}) in every row: "
                    "there is nothing to learn"
                )
            _warn_about_far_targets(name, values)
            self.target_mean_, self.target_scale_ = (
                standard_scaling(values) if self.standardize_target else (0.0, 1.0)
            )
            return
        labels = class_labels(series, pd)
        self._set_classes(np.unique(labels), len(labels))

    def _check_fitted(self) -> None:
        if not hasattr(self, "columns_"):
            raise ValueError("this Preprocessor is not fitted yet: call fit(table) first")

    def get_feature_names_out(self) -> list[str]:
        """Names of the output columns, in order.

        ``name`` for a number, ``name=category`` per category, ``name.year``,
        ``name.month_sin``, ... for a date, ``name#0`` ... for hashed text, and
        ``name (missing)`` for a missing-value indicator.
        """
        self._check_fitted()
        out = []
        for column in self.columns_:
            name, kind = column["name"], column["kind"]
            if kind == "numeric":
                out.append(name)
            elif kind == "categorical":
                out += [f"{name}={c}" for c in column["categories"]]
            elif kind == "datetime":
                parts = date_part_names(column["hour"], not column.get("monthly", False))
                out += [f"{name}.{part}" for part in parts]
            else:
                out += [f"{name}#{k}" for k in range(column["buckets"])]
            if column.get("missing"):
                out.append(f"{name} (missing)")
        return out

    # -- transform --------------------------------------------------------------------
    def transform(self, table: Any) -> np.ndarray:
        """The feature matrix of a table.

        Parameters
        ----------
        table : pandas.DataFrame, mapping of column name -> 1-D array-like, or PlainTable
            Must hold every feature column seen in fit (any order); others are ignored.
            A :class:`~deltaprop.tabular.plain.PlainTable` (a small CSV file read
            without pandas) gives the matrix its file read by ``read_table`` gives; it
            cannot hold the dates of a datetime column.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out_), dtype ``self.dtype``

        Raises
        ------
        ValueError
            A feature column is absent, or holds a missing value (or one that is not a
            number, in a numeric column) without ``impute``.

        Warns
        -----
        DataWarning
            For extra columns (ignored), and once for all unseen categories (encoded as
            all zeros), missing values in columns that had none in training, and values
            that are not numbers (read as missing); ``transform_report_`` counts them.
        """
        self._check_fitted()
        if isinstance(table, PlainTable):
            if not self.reads_plain_tables():
                raise ValueError("datetime columns need pandas: pass a DataFrame, not a PlainTable")
            frame, pd = table, None
        else:
            pd = require_pandas()
            frame = table_frame(table, pd)
        absent = [c for c in self.feature_names_in_ if c not in frame.columns]
        if absent:
            has = [str(c) for c in frame.columns]
            meant = [(a, m) for a in absent if (m := meant_column(a, has)) is not None]
            said = "; ".join(f"did you mean {m!r} for {a!r}?" for a, m in meant[:SHOW])
            raise ValueError(
                f"the table lacks the column(s) {absent} the model was trained on "
                f"({said + ' ' if said else ''}it has {has[:20]})"
            )
        known = set(getattr(self, "roles_", {})) | {self.target}
        extra = [c for c in frame.columns if c not in self.feature_names_in_ and c not in known]
        if extra:
            warnings.warn(
                f"ignoring column(s) the model was not trained on: {extra[:20]}",
                DataWarning,
                stacklevel=2,
            )
        report: dict[str, dict[str, int]] = {}
        blocks = []
        i_scaled = 0
        for column in self.columns_:
            counts = report.setdefault(
                column["name"], {"unseen": 0, "missing": 0, "not_numbers": 0}
            )
            block, missing, used = self._encode(column, frame[column["name"]], i_scaled, counts, pd)
            blocks.append(block)
            if column.get("missing"):
                blocks.append(missing[:, None].astype(np.float64))
            i_scaled += used
        self._warn_about(report)
        self.transform_report_ = {k: v for k, v in report.items() if any(v.values())}
        return np.ascontiguousarray(np.hstack(blocks), dtype=self.dtype)

    def reads_plain_tables(self) -> bool:
        """Whether :meth:`transform` takes a :class:`~deltaprop.tabular.plain.PlainTable`.

        It does unless a feature column holds dates (parsed by pandas).
        """
        self._check_fitted()
        return all(column["kind"] != "datetime" for column in self.columns_)

    def _fill(self, name: str, values: np.ndarray, missing: np.ndarray) -> np.ndarray:
        if not missing.any():
            return values
        if self.fill_values_ is None:
            hints = (
                '; fill them, or fit with impute="median"',
                "; fill them, or train without --impute none",
            )
            raise _missing(name, missing, hints)
        return np.where(missing, self.fill_values_[name], values)

    def _encode(self, column: dict, series: Any, i: int, counts: dict, pd: Any):
        """``(block, missing mask, scaled numbers used)`` of one feature column."""
        name, kind = column["name"], column["kind"]
        if kind in ("numeric", "datetime"):
            if kind == "numeric":
                values, missing = plain_numbers(series) if pd is None else parse_numbers(series, pd)
                bad = ~missing & np.isnan(values)
                if bad.any():  # (12), 6.61 mm, and TRUE for a column of 0 and 1
                    cells = series if pd is None else series.to_numpy(dtype=object)
                    zero_one = self.low_[i] == 0.0 and self.high_[i] == 1.0
                    truths = zero_one or name in (self.numeric or ())
                    bad, _ = read_cells_as_numbers(cells, values, bad, truths)
                counts["not_numbers"] = int(bad.sum())
                if bad.any():
                    rows = np.flatnonzero(bad)
                    counts["not_numbers_rows"] = describe_rows(rows, series)  # type: ignore[assignment]
                if bad.any() and self.fill_values_ is None:
                    raise ValueError(
                        f"column {name!r} holds values that are not numbers: "
                        f"{sorted({str(v) for v in series[bad]})[:SHOW]}"
                    )
                missing = missing | bad
            else:
                day_first = column.get("day_first", False)
                values = parse_dates(series, pd, day_first)
                missing = np.isnan(values)
                if day_first:  # 01/13/2012 in a day-first column: missing, and said
                    month_first = not_day_first(clean_text(series, pd), pd)
                    counts["not_day_first"] = int(month_first.sum())
                    rows = np.flatnonzero(month_first)
                    counts["not_day_first_rows"] = describe_rows(rows, series)  # type: ignore[assignment]
            counts["missing"] = int(missing.sum())
            values = self._fill(name, values, missing)
            if kind == "numeric":
                return self._scale(values[:, None], [i]), missing, 1
            weekday = not column.get("monthly", False)
            parts = date_parts(np.clip(values, -1e6, 1e6), column["hour"], weekday)
            parts[:, [0, -1]] = self._scale(parts[:, [0, -1]], [i, i + 1])
            return parts, missing, 2
        strings = plain_category_strings(series) if pd is None else category_strings(series, pd)
        missing = np.array([s is None for s in strings], dtype=bool)
        counts["missing"] = int(missing.sum())
        if kind == "categorical" and reads_yes_no(column["categories"]):
            family = truth_family(column["categories"])  # yes/no: Y, TRUE, 1 are yes too
            lowered = [None if s is None else s.lower() for s in strings]
            if family is not None:
                lowered = [in_family(s, family) for s in lowered]
            strings = np.array(lowered, dtype=object)
        strings = self._fill(name, strings, missing)
        if kind == "text":
            return hashed_words([s or None for s in strings], column["buckets"]), missing, 0
        index = {category: k for k, category in enumerate(column["categories"])}
        codes = np.array([index.get(s, -1) for s in as_text(strings)], dtype=np.intp)
        unseen = codes < 0
        if unseen.any():
            codes[unseen] = _codes_of_unseen(column["categories"], strings[unseen])
            unseen = codes < 0
        counts["unseen"] = int(unseen.sum())
        counts["unseen_values"] = sorted({str(v) for v in strings[unseen]})[:SHOW]  # type: ignore[assignment]
        return (
            (codes[:, None] == np.arange(len(column["categories"]))).astype(np.float64),
            missing,
            0,
        )

    def _scale(self, values: np.ndarray, at: list[int]) -> np.ndarray:
        """Numbers clipped to the training range's infinities, scaled (and smoothly clipped)."""
        low, high = self.low_[at], self.high_[at]
        values = np.where(values == np.inf, high, np.where(values == -np.inf, low, values))
        z = scaled(values, self.mean_[at], self.scale_[at])
        if self.standardize and self.scaling == "robust":
            z = smooth_clip(z)
        return z

    def _warn_about(self, report: dict[str, dict[str, Any]]) -> None:
        """One DataWarning for what the training data did not prepare the model for."""
        parts = []
        for column in self.columns_:
            counts = report[column["name"]]
            name = column["name"]
            if counts["unseen"]:
                parts.append(
                    f"column {name!r}: {counts['unseen']} row(s) hold categories not seen in "
                    f"training, encoded as all zeros: {counts['unseen_values']}"
                )
            if counts["not_numbers"]:
                parts.append(
                    f"column {name!r}: {counts['not_numbers']} value(s) are not numbers "
                    f"({counts['not_numbers_rows']}), read as missing"
                )
            elif counts.get("not_day_first"):
                parts.append(
                    f"column {name!r}: {counts['not_day_first']} date(s) cannot be read day "
                    f"first, as in training ({counts['not_day_first_rows']}), read as missing; "
                    "is this file written month first?"
                )
            elif counts["missing"] and not column.get("missing"):
                parts.append(
                    f"column {name!r}: {counts['missing']} missing value(s), none in training, "
                    "filled"
                )
            counts.pop("unseen_values", None)
            counts.pop("not_numbers_rows", None)
            counts.pop("not_day_first_rows", None)
        if parts:
            warnings.warn("; ".join(parts), DataWarning, stacklevel=3)

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
            if isinstance(y, pd.Series) and isinstance(y.name, str):
                name = y.name  # another column scored as the target: messages name it
            series = as_series(y, "y", pd)
        series = clean_text(series, pd)
        missing = series.isna().to_numpy()
        if missing.any():
            raise missing_error(name, missing, " (a target cannot be imputed)")
        if self.task_ == "regression":
            values = numeric_values(name, series, pd)
            return ((values - self.target_mean_) / self.target_scale_).astype(self.dtype)
        labels, codes, unseen = self._class_codes(series, pd)
        if np.any(unseen):
            values = sorted({str(v) for v in labels[unseen]})
            raise ValueError(
                f"target column {name!r} holds label(s) not seen in training: {values[:SHOW]} "
                f"(known: {self.classes_.tolist()[:20]})"
            )
        return codes.astype(np.int64)

    def _class_codes(self, series: Any, pd: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(labels, codes, unseen)`` of a classification target's present values: the
        labels as read (matched to the classes in any case), their indices into
        ``classes_`` and where a label is no class."""
        labels = class_labels(series, pd)
        if self.classes_.dtype == object:
            labels = self._labels_in_any_case(as_text(labels))
        codes = np.searchsorted(self.classes_, labels)
        codes = np.minimum(codes, len(self.classes_) - 1)
        return labels, codes, self.classes_[codes] != labels

    def unseen_labels(self, y: Any) -> np.ndarray:
        """Where a classification target holds a label that is no class of the model.

        Parameters
        ----------
        y : 1-D array-like (missing values are not unseen)

        Returns
        -------
        ndarray of bool, shape (n_samples,)
        """
        pd = require_pandas()
        self._check_fitted()
        series = clean_text(as_series(y, "y", pd), pd)
        missing = series.isna().to_numpy()
        unseen = np.zeros(len(series), dtype=bool)
        if self.task_ == "classification" and not missing.all():
            unseen[~missing] = self._class_codes(series[~missing], pd)[2]
        return unseen

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

    # -- scikit-learn's transformer protocol (clone, Pipeline, cross_val_score) --------
    def fit_transform(self, table: Any, y: Any = None) -> np.ndarray:
        """``fit(table).transform(table)``."""
        return self.fit(table, y).transform(table)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters as given, or as set since on the attribute of
        the same name (``deep`` is ignored: none nests)."""
        return {
            name: given if _same(getattr(self, name), self._read_as[name]) else getattr(self, name)
            for name, given in self._params.items()
        }

    def set_params(self, **params: Any) -> Preprocessor:
        """Set constructor parameters by name (all validated before any is set); returns
        self."""
        unknown = sorted(set(params) - set(self._params))
        if unknown:
            raise ValueError(f"Preprocessor has no parameter(s) {unknown}")
        merged = {**self.get_params(), **params}
        type(self)(**merged)  # a refused value leaves this one as it was
        type(self).__init__(self, **merged)
        return self

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags (asked only by scikit-learn, so imported here): a
        transformer of tables with text, categories and missing values, no target."""
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type=None,
            target_tags=TargetTags(required=False),
            transformer_tags=TransformerTags(preserves_dtype=[]),
            input_tags=InputTags(categorical=True, string=True, allow_nan=True),
        )

    def __repr__(self) -> str:
        return (
            f"Preprocessor(target={self.target!r}, task={self.task!r}, impute={self.impute!r}, "
            f"scaling={self.scaling!r})"
        )


def _same(value: Any, other: Any) -> bool:
    """Whether an attribute still holds what the constructor made of its parameter."""
    return type(value) is type(other) and value == other


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


_PARAMS = (
    "target",
    "task",
    "impute",
    "categorical",
    "standardize",
    "standardize_target",
    "dtype",
    "scaling",
    "add_indicator",
    "drop",
    "id_columns",
    "sample_weight",
    "numeric",
)


def _preprocessor_to_state(pre: Preprocessor) -> tuple[dict, dict[str, np.ndarray]]:
    pre._check_fitted()
    config = {
        # numeric only when given: files without it read as they did in earlier versions
        "params": {key: getattr(pre, key) for key in _PARAMS if key != "numeric" or pre.numeric},
        "roles": [
            {
                "name": name,
                "role": r.role,
                "reason": r.reason,
                "n_missing": r.n_missing,
                "n_distinct": r.n_distinct,
            }
            for name, r in pre.roles_.items()
        ],
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
    arrays = {"mean": pre.mean_, "scale": pre.scale_, "low": pre.low_, "high": pre.high_}
    return config, arrays


#: The config of a preprocessor saved before column roles (deltaprop 0.1.0 files).
_KEYS_BEFORE_ROLES = ("params", "columns", "fill_values", "task", "classes", "target_mean")
_PARAMS_BEFORE_ROLES = _PARAMS[: _PARAMS.index("dtype") + 1]


class _ArraysBeforeRoles:
    """The file's ``mean`` and ``scale``, and no clipping range (those files had none)."""

    def __init__(self, arrays: ArrayStore) -> None:
        self._arrays = arrays

    def take(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        if name in ("low", "high"):
            bound = np.finfo(np.float64).max
            return np.full(shape, -bound if name == "low" else bound)
        return self._arrays.take(name, shape)


def _upgrade_before_roles(config: dict, arrays: ArrayStore) -> tuple[dict, Any]:
    """A preprocessor file written before column roles, read as the same transform.

    Such files standardised numeric columns (``(x - mean) / scale``, no clipping) and
    one-hot encoded text columns: they load as ``scaling="standard"`` with the roles their
    column kinds imply, so their models predict exactly as before.
    """
    check_keys(config, (*_KEYS_BEFORE_ROLES, "target_scale"), "config")
    params = get_field(config, "params", dict, "config")
    check_keys(params, _PARAMS_BEFORE_ROLES, "config.params")
    columns = get_field(config, "columns", list, "config")
    kinds = {"numeric": "numeric", "categorical": "categorical"}
    roles = []
    for i, column in enumerate(columns):
        kind = get_field(column, "kind", str, f"config.columns[{i}]")
        if kind not in kinds:
            raise ModelFileError(f"config.columns[{i}].kind must be one of {list(kinds)}")
        roles.append(
            {
                "name": get_field(column, "name", str, f"config.columns[{i}]"),
                "role": kinds[kind],
                "reason": "saved by deltaprop 0.1.0, before column roles",
                "n_missing": 0,
                "n_distinct": len(column.get("categories", ())),
            }
        )
    new_params = {
        **params,
        "scaling": "standard",
        "add_indicator": False,
        "drop": [],
        "id_columns": [],
        "sample_weight": None,
    }
    upgraded = {**config, "params": new_params, "roles": roles}
    return upgraded, _ArraysBeforeRoles(arrays)


def _preprocessor_from_state(config: dict, arrays: ArrayStore) -> Preprocessor:
    if isinstance(config, dict) and "roles" not in config and "params" in config:
        config, arrays = _upgrade_before_roles(config, arrays)
    keys = (
        "params",
        "roles",
        "columns",
        "fill_values",
        "task",
        "classes",
        "target_mean",
        "target_scale",
    )
    check_keys(config, keys, "config")
    params = get_field(config, "params", dict, "config")
    check_keys(params, tuple(k for k in _PARAMS if k != "numeric" or k in params), "config.params")
    try:
        pre = Preprocessor(**params)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"config.params: {exc}") from None

    columns = get_field(config, "columns", list, "config")
    names = _column_names_from_state(columns)
    if len(set(names)) != len(names) or pre.target in names:
        raise ModelFileError("config.columns: column names must be distinct and not the target")
    n_scaled = sum({"numeric": 1, "datetime": 2}.get(c["kind"], 0) for c in columns)
    pre.roles_ = _roles_from_state(get_field(config, "roles", list, "config"), names)
    pre.feature_names_in_ = names
    pre.columns_ = columns
    for key in ("mean", "scale", "low", "high"):
        setattr(pre, f"{key}_", arrays.take(key, (n_scaled,)).astype(np.float64))
    if not np.all(pre.scale_ > 0) or not np.all(np.isfinite(pre.scale_)):
        raise ModelFileError("array 'scale' must be finite and > 0")
    if not (np.all(np.isfinite(pre.low_)) and np.all(pre.low_ <= pre.high_)):
        raise ModelFileError("arrays 'low' and 'high' must be finite, low <= high")

    fill_values = config["fill_values"]
    if (fill_values is None) != (pre.impute is None):
        raise ModelFileError("config.fill_values must be given exactly when impute is set")
    _check_fill_values(fill_values, columns, names)
    pre.fill_values_ = fill_values
    pre.n_features_out_ = len(pre.get_feature_names_out())
    _target_from_state(pre, config)
    return pre


def _roles_from_state(entries: list, names: list[str]) -> dict[str, ColumnRole]:
    """``config.roles`` checked: known roles, every feature column among them."""
    roles = {}
    for i, entry in enumerate(entries):
        where = f"config.roles[{i}]"
        check_keys(entry, ("name", "role", "reason", "n_missing", "n_distinct"), where)
        role = get_field(entry, "role", str, where)
        if role not in ROLES:
            raise ModelFileError(f"{where}.role must be one of {list(ROLES)}, got {role!r:.40}")
        roles[get_field(entry, "name", str, where)] = ColumnRole(
            role,
            get_field(entry, "reason", str, where),
            get_field(entry, "n_missing", int, where),
            get_field(entry, "n_distinct", int, where),
        )
    features = [n for n, r in roles.items() if r.is_feature]
    if features != names:
        raise ModelFileError("config.roles must list the feature columns of config.columns")
    return roles


_COLUMN_KEYS = {
    "numeric": ("name", "kind"),
    "categorical": ("name", "kind", "categories"),
    "datetime": ("name", "kind", "hour"),
    "text": ("name", "kind", "buckets"),
}


def _column_names_from_state(columns: list) -> list[str]:
    """The names of ``config.columns``, each entry checked (kind, sorted categories)."""
    if not columns:
        raise ModelFileError("config.columns is empty")
    names: list[str] = []
    for i, column in enumerate(columns):
        where = f"config.columns[{i}]"
        kind = get_field(column, "kind", str, where)
        if kind not in _COLUMN_KEYS:
            raise ModelFileError(f"{where}.kind must be one of {list(_KINDS)}, got {kind!r:.40}")
        keys = _COLUMN_KEYS[kind]
        optional = [key for key in ("missing", "day_first", "monthly") if key in column]
        check_keys(column, (*keys, *optional), where)
        if "missing" in column and column["missing"] is not True:
            raise ModelFileError(f"{where}.missing must be true when present")
        if kind == "categorical":
            categories = get_field(column, "categories", list, where)
            if not categories or not all(isinstance(c, str) for c in categories):
                raise ModelFileError(f"{where}.categories must be a non-empty list of strings")
            if categories != sorted(set(categories)):
                raise ModelFileError(f"{where}.categories must be sorted and distinct")
        elif kind == "datetime":
            get_field(column, "hour", bool, where)
            for key in ("day_first", "monthly"):
                if key in column and column[key] is not True:
                    raise ModelFileError(f"{where}.{key} must be true when present")
        elif kind == "text" and not 1 <= get_field(column, "buckets", int, where) <= 4096:
            raise ModelFileError(f"{where}.buckets must be in [1, 4096]")
        names.append(get_field(column, "name", str, where))
    return names


def _check_fill_values(fill_values: dict | None, columns: list, names: list[str]) -> None:
    """Numbers for numeric and date columns, strings (or null) for the others."""
    if fill_values is None:
        return
    check_keys(fill_values, names, "config.fill_values")
    for column in columns:
        name = column["name"]
        value = fill_values[name]
        if column["kind"] in ("numeric", "datetime"):
            if value is not None:
                fill_values[name] = get_number(fill_values, name, "config.fill_values")
        elif value is not None and not isinstance(value, str):
            raise ModelFileError(
                f"config.fill_values[{name!r}] must be a string, got {value!r:.40}"
            )


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
