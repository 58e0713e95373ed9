"""Column roles: what each column of a table is, decided from its values, with a reason.

:func:`infer_roles` gives every column one role (:data:`ROLES`) and a short reason in
plain words; :class:`~deltaprop.tabular.Preprocessor` encodes each role its own way and
keeps the roles it used (``roles_``), so ``deltaprop info`` and ``deltaprop train
--dry-run`` can print them. The rules, in order, for a column that is not the target, the
weight, an ID, dropped on request, or declared categorical or numeric (``categorical``,
``numeric``: then that is its role, whatever the rules below would say):

1. no value at all, or one value in every row: ``"constant"`` (dropped);
2. booleans and Yes/No-like text: ``"categorical"``;
3. numbers (at least half of the present values; the others are read as missing):
   ``"identifier"``
   when they are distinct integers counting the rows (1..n, 0..n-1) or the column is
   named like an ID or a pandas index; ``"categorical"`` when they are integer codes
   named like codes of places or units (``county``, ``townid``, ``schidkn``, ``distcod``)
   or IDs that repeat (``id``: a household's purchases), :data:`MAX_CODE_CATEGORIES`
   values at most, :data:`ROWS_PER_CODE` rows each on average; else ``"numeric"``; a
   column without one finite number is ``"dropped"``;
4. dates and timestamps (every present value looks like one; impossible dates such as
   ``0000-00-00``, at most half of them, are read as missing): ``"datetime"``;
5. text: ``"identifier"`` when (nearly) every row has its own value without spaces,
   ``"text"`` above :data:`MAX_CATEGORIES` distinct values, ``"categorical"`` below; names
   of a few words (:data:`MAX_NAME_WORDS` on average) are categories up to
   :data:`MAX_WORD_CATEGORIES` values with :data:`ROWS_PER_WORD_CATEGORY` rows each on
   average.

Identifiers need :data:`MIN_ROWS_FOR_IDENTIFIERS` rows (a tiny table has too little
evidence). The rules are spelled out in ``docs/data.md``.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deltaprop.tabular.columns import (
    SpelledError,
    category_strings,
    clean_text,
    coded_categories,
    columns_shown,
    describe_rows,
    folded_yes_no,
    holds_booleans,
    is_numeric_column,
    is_numeric_dtype,
    nested_error,
    numeric_cells,
    read_as_missing_reason,
    table_frame,
    text_key,
    truth_column,
    written_reason,
)
from deltaprop.tabular.readers import require_pandas

__all__ = [
    "FEATURE_ROLES",
    "MAX_CATEGORIES",
    "MAX_CODE_CATEGORIES",
    "MAX_NAME_WORDS",
    "MAX_WORD_CATEGORIES",
    "MIN_ROWS_FOR_IDENTIFIERS",
    "ROLES",
    "ROWS_PER_CODE",
    "ROWS_PER_WORD_CATEGORY",
    "ColumnRole",
    "code_name",
    "codes_reason",
    "infer_roles",
    "integer_codes",
    "not_day_first",
    "parse_dates",
    "reads_day_first",
]

#: Every role a column can have.
ROLES = (
    "numeric",
    "categorical",
    "text",
    "datetime",
    "identifier",
    "constant",
    "target",
    "weight",
    "id",
    "dropped",
)
#: The roles whose columns become features.
FEATURE_ROLES = ("numeric", "categorical", "text", "datetime")
#: Text columns with more distinct values than this are ``"text"``, not categories...
MAX_CATEGORIES = 30
#: ... unless the values are names of a few words (:data:`MAX_NAME_WORDS` on average: a
#: state, a country, a team, a maker, a model; ``United States``, ``Werder Bremen``):
#: hashing their words into a few buckets loses them, so they are categories up to this
#: many, each with :data:`ROWS_PER_WORD_CATEGORY` rows on average. Tried on 7 tables
#: with such columns (hashed words -> one-hot, R²): states 0.42 -> 0.63 (52 names), a
#: country's GDP 0.935 -> 0.998 and savings 0.907 -> 0.932 (125 names).
MAX_WORD_CATEGORIES = 300
ROWS_PER_WORD_CATEGORY = 5
#: The most words a text column's distinct values hold on average for names.
MAX_NAME_WORDS = 3
#: Integer columns named like codes of places or units (a school, a county), or like an
#: ID that repeats (a household's several purchases, a person's several years): the
#: number orders nothing, so they are categorical up to this many values, each with
#: :data:`ROWS_PER_CODE` rows on average. Scaled as one number, a network has no level
#: per school or household; one-hot it learns one. Tried on 10 real tables: R² +0.056
#: (schools), +0.051 (counties), +0.026 (towns), +0.012 (communes), -0.001 (states),
#: +0.219 (532 persons), +0.088 and +0.007 (firms in panels), +0.008 (airlines);
#: accuracy +0.129 and +0.077 (households), -0.009; district codes of one row each
#: (-0.003 one-hot) stay numeric by the rows-per-code floor.
MAX_CODE_CATEGORIES = 1000
ROWS_PER_CODE = 3
#: A name of codes: an ID of a place or unit (``townid``, ``schidkn``, ``hh_id``), a code
#: (``distcod``, ``fips``, ``zip``), or a place or unit itself (``county``, ``state``,
#: ``firm``, ``airline``); not ``school`` alone, which in survey tables is years of
#: schooling.
_CODE_NAME = re.compile(
    r"^(sch|school|town|city|dist|district|cnty|county|state|firm|hh|household|hosp|store|"
    r"shop|team|grp|group|site|plant|fam|family|pers|person|ind|indiv|country|region|"
    r"village|commune|ward|station|clinic|branch)_?(id|no|num|code|cod)"
    r"|(^|[\s_.\-])(fips|zip|zipcode|postcode|county|commune|district|state|region|"
    r"village|ward|municipality|province|prefecture|canton|station|firm|company|airline)$"
    r"|^[a-z]{3,}(code|cod)$",
    re.I,
)
#: Identifiers are only inferred in tables with at least this many rows.
MIN_ROWS_FOR_IDENTIFIERS = 20
#: Share of distinct values (of the present ones) above which text is an identifier.
_NEARLY_UNIQUE = 0.95

_ID_NAME = re.compile(r"(^|[\s_.\-])(id|uuid|guid|key|index|idx)$|^(unnamed: ?0|index|#)$", re.I)
#: A name of a time: consecutive integers so named are years or periods (a trend to
#: learn), not a row counter.
_TIME_NAME = re.compile(r"(^|[\s_.\-])(year|yr|time|period|month|week|day|quarter)s?$", re.I)
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_DATE = re.compile(
    r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"  # 2021-03-04, 2021/3/4
    r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"  # 04/03/2021, 4.3.21
    rf"|\d{{1,2}}[ -]({_MONTHS})[a-z]*\.?[-, ]+\d{{2,4}}"  # 4 March 2021, 04-Mar-2021
    rf"|({_MONTHS})[a-z]*\.? \d{{1,2}},? \d{{4}})"  # March 4, 2021
    r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([ap]m)?)?\s*(z|utc|[+-]\d{2}:?\d{2})?$",
    re.I,
)


#: A time of day alone (14:35, 2:05:30 pm): read on 1970-01-01, so that only its hour
#: changes (pandas would put it on the day it parses it).
_TIME_OF_DAY = re.compile(r"^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([ap]m)?$", re.I)
#: A date of numbers alone, day and month in either order: 04/03/2021, 4.3.21, 19-08-2022.
_NUMERIC_DATE = re.compile(r"^(\d{1,2})([-/.])(\d{1,2})([-/.]\d{2,4}\b.*)$")


@dataclass(frozen=True)
class ColumnRole:
    """The role of one column and why it was given.

    Attributes
    ----------
    role : str
        One of :data:`ROLES`.
    reason : str
        Why, in plain words (``"all 300 present values are numbers"``).
    n_missing : int
        Missing values in the column (null spellings count).
    n_distinct : int
        Distinct present values.
    """

    role: str
    reason: str
    n_missing: int = 0
    n_distinct: int = 0

    @property
    def is_feature(self) -> bool:
        """Whether the column becomes features."""
        return self.role in FEATURE_ROLES


def parse_dates(values: Any, pd: Any, day_first: bool = False) -> np.ndarray:
    """Dates and timestamps as float days since 1970-01-01 (UTC), NaN where none.

    Parameters
    ----------
    values : pandas.Series of shape (n_rows,)
        datetime64 values, or text in any of the common formats (mixed in one column:
        ISO ``2021-03-04``, ``04/03/2021`` (month first), ``March 4, 2021``, with or
        without a time and a time zone, which is converted to UTC). Impossible dates
        (``0000-00-00``, ``2021-02-30``) are NaN.
    day_first : bool, default False
        Dates of numbers alone (``04/03/2021``, ``4.3.21``) put the day first
        (:func:`reads_day_first` tells from a column); other formats are unaffected.

    Returns
    -------
    ndarray of shape (n_rows,)
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = pd.to_datetime(values, utc=True)
    else:
        values = values.astype("object")
        if any(isinstance(v, _CLOCK_OR_CALENDAR) for v in values.dropna().head(1000)):
            # a Parquet time64 column, a workbook's date cells (read with dtype=object)
            values = values.map(_time_text)
        text = clean_text(values, pd)
        times = text.str.match(_TIME_OF_DAY).fillna(False).to_numpy(dtype=bool)
        if times.any():
            text = text.where(~times, "1970-01-01 " + text)
        impossible = None
        if day_first:  # day and month swapped: then pandas reads them month first
            impossible = not_day_first(text, pd)
            text = text.str.replace(_NUMERIC_DATE, r"\3\2\1\4", regex=True)
        with warnings.catch_warnings():  # pandas warns that mixed formats parse one by one
            warnings.simplefilter("ignore")
            stamps = pd.to_datetime(text, format="mixed", errors="coerce", utc=True)
        if impossible is not None and impossible.any():
            # pandas would read 01/13/2012 month first: one column, two readings
            stamps = stamps.where(~impossible)
    nanoseconds = stamps.dt.tz_localize(None).astype("datetime64[ns]").astype("int64")
    days = nanoseconds.to_numpy(dtype=np.float64) / 86_400e9
    days[stamps.isna().to_numpy()] = np.nan
    return days


def not_day_first(text: Any, pd: Any) -> np.ndarray:
    """Where a column's cleaned text holds a date of numbers alone whose second field
    passes 12 (``01/13/2012``): impossible read day first, so missing for a model that
    reads the column so."""
    fields = text.astype("object").str.extract(_NUMERIC_DATE)[2]
    return (pd.to_numeric(fields, errors="coerce") > 12).fillna(False).to_numpy(dtype=bool)


#: Python's dates and times, as pandas and openpyxl give them in an object column.
_CLOCK_OR_CALENDAR = (datetime.time, datetime.date)


def _time_text(value: Any) -> Any:
    """A ``datetime.time`` (Arrow's ``time64`` read by pandas), ``datetime.date`` or
    ``datetime.datetime`` (a workbook's date cell) as ISO text, else the value."""
    return value.isoformat() if isinstance(value, _CLOCK_OR_CALENDAR) else value


def reads_day_first(strings: Iterable[Any]) -> bool:
    """Whether a column's dates of numbers alone put the day first.

    They do when some first field is above 12 (``19/08/2022``) and no second field is
    (a column with both is left to each value's own reading, month first where it can).

    Examples
    --------
    >>> reads_day_first(["19/08/2022", "08/07/2021"]), reads_day_first(["08/07/2021"])
    (True, False)
    """
    first_above_12 = second_above_12 = False
    for text in strings:
        match = _NUMERIC_DATE.match(text) if isinstance(text, str) else None
        if match is not None:
            first_above_12 = first_above_12 or int(match.group(1)) > 12
            second_above_12 = second_above_12 or int(match.group(3)) > 12
    return first_above_12 and not second_above_12


def _looks_like_dates(strings: np.ndarray) -> bool:
    return all(_DATE.match(s) is not None or _is_clock(s) for s in strings)


def _is_clock(text: str) -> bool:
    """Whether ``text`` is a time of day on a clock (23:59:59 at most, 1-12 with am or pm):
    ``3:45`` beside ``65:20`` is a duration, not a time."""
    if _TIME_OF_DAY.match(text) is None:
        return False
    text = text.strip().lower()
    half = text[-2:] if text.endswith(("am", "pm")) else ""
    fields = (text[:-2].strip() if half else text).split(":")
    hours, minutes = int(fields[0]), int(fields[1])
    seconds = float(fields[2]) if len(fields) > 2 else 0.0
    on_clock = 1 <= hours <= 12 if half else hours <= 23
    return on_clock and minutes <= 59 and seconds < 60.0


def _role(role: str, reason: str, missing: np.ndarray, n_distinct: int) -> ColumnRole:
    return ColumnRole(role, reason, int(missing.sum()), int(n_distinct))


def _constant(missing: np.ndarray, distinct: Sequence[Any]) -> ColumnRole | None:
    n = len(missing)
    if missing.all():
        return _role("constant", f"all {n} values are missing", missing, 0)
    if len(distinct) == 1 and not missing.any():
        return _role("constant", f"one value ({distinct[0]!r}) in every row", missing, 1)
    return None


def _numeric_role(name: str, numbers: np.ndarray, missing: np.ndarray) -> ColumnRole:
    present = numbers[~missing]
    distinct = np.unique(present)
    shown = [int(v) if np.isfinite(v) and v == np.round(v) else float(v) for v in distinct[:2]]
    constant = _constant(missing, shown)
    if constant is not None:
        return constant
    finite = present[np.isfinite(present)]
    if finite.size == 0:
        return _role("dropped", "no finite number (only infinities)", missing, len(distinct))
    n = len(numbers)
    integers = bool(np.all(present == np.round(present)))
    if integers and len(distinct) == n and n >= 2:
        counting = distinct[-1] - distinct[0] == n - 1 and not _TIME_NAME.search(name)
        if (counting and n >= MIN_ROWS_FOR_IDENTIFIERS) or _ID_NAME.search(name):
            what = "counts the rows" if counting else "is named like an ID"
            return _role(
                "identifier",
                f"a different integer in each of the {n} rows ({what}): no feature",
                missing,
                n,
            )
    n_present = len(present)
    if integers and integer_codes(name, len(distinct), n_present):
        reason = codes_reason(name, len(distinct), n_present)
        return _role("categorical", reason, missing, len(distinct))
    return _role("numeric", f"all {n_present} present values are numbers", missing, len(distinct))


def code_name(name: str) -> bool:
    """Whether a column's name names codes of places or units, or IDs
    (:data:`MAX_CODE_CATEGORIES`)."""
    return bool(_CODE_NAME.search(name) or _ID_NAME.search(name))


def integer_codes(name: str, n_distinct: int, n_present: int) -> bool:
    """Whether a column of integers with ``n_distinct`` values in ``n_present`` rows holds
    codes: named so, :data:`MAX_CODE_CATEGORIES` values at most (3 at least), and
    :data:`ROWS_PER_CODE` rows each on average."""
    return (
        code_name(name)
        and 3 <= n_distinct <= MAX_CODE_CATEGORIES
        and n_present >= ROWS_PER_CODE * n_distinct
    )


def codes_reason(name: str, n_distinct: int, n_present: int) -> str:
    """The reason of a categorical role given by :func:`integer_codes`: an ID's
    (``household_id``) advises ``--drop`` for rows to predict that hold other IDs."""
    if _CODE_NAME.search(name) and not _ID_NAME.search(name):
        return (
            f"{n_distinct} integer codes named like codes of places or units: one category "
            "each (their numbers order nothing)"
        )
    return (
        f"{n_distinct} IDs, {n_present / n_distinct:.1f} rows each on average: one category "
        f"each; drop it (--drop {name}) if the rows to predict hold other IDs"
    )


def _text_role(name: str, series: Any, pd: Any) -> ColumnRole:
    strings = category_strings(series, pd)
    missing = np.array([s is None for s in strings], dtype=bool)
    present = strings[~missing]
    distinct = sorted(set(present.tolist()))
    constant = _constant(missing, distinct)
    if constant is not None:
        return constant
    n_present, n_distinct = len(present), len(distinct)
    truths = folded_yes_no(np.array(distinct, dtype=object))
    if truths is not None:
        folded = sorted(set(truths))
        any_case = "" if len(folded) == n_distinct else f": read as {', '.join(folded)}"
        reason = f"yes/no values ({', '.join(distinct)}{any_case})"
        return _role("categorical", reason, missing, len(folded))
    if pd.api.types.is_datetime64_any_dtype(series) or _looks_like_dates(distinct):
        days = parse_dates(series, pd, reads_day_first(distinct))
        impossible = ~missing & np.isnan(days)
        n_impossible = int(impossible.sum())
        if 2 * n_impossible <= n_present:  # 0000-00-00 among real dates: read as missing
            kind = "times of day" if all(_TIME_OF_DAY.match(s) for s in distinct) else "dates"
            reason = f"all {n_present} present values are {kind}"
            if n_impossible:
                examples = sorted({str(s) for s in strings[impossible]})[:3]
                reason = (
                    f"{n_present - n_impossible} of {n_present} present values are dates; "
                    f"{n_impossible} are not real dates ({', '.join(examples)}): "
                    "read as missing"
                )
            return _role("datetime", reason, missing | impossible, n_distinct)
    nearly_unique = n_distinct >= _NEARLY_UNIQUE * n_present
    if (
        nearly_unique
        and len(strings) >= MIN_ROWS_FOR_IDENTIFIERS
        and not any(" " in s for s in distinct)
    ) or (n_distinct == n_present and _ID_NAME.search(name) and n_present >= 2):
        return _role(
            "identifier",
            f"{n_distinct} distinct values in {n_present} rows: a label per row, no feature",
            missing,
            n_distinct,
        )
    n_folded = len({text_key(d) for d in distinct})  # Adelie, adelie: one category
    if (
        MAX_CATEGORIES < n_folded <= MAX_WORD_CATEGORIES
        and n_present >= ROWS_PER_WORD_CATEGORY * n_folded
        and sum(len(d.split()) for d in distinct) <= MAX_NAME_WORDS * len(distinct)
    ):  # names: states, countries, teams, makers, models
        single = not any(any(c.isspace() for c in d) for d in distinct)
        what = "single words" if single else "names (a few words each)"
        return _role(
            "categorical",
            f"{n_folded} distinct {what}, {n_present // n_folded} rows each on average",
            missing,
            n_folded,
        )
    if n_folded > MAX_CATEGORIES:
        return _role(
            "text",
            f"{n_folded} distinct values (more than {MAX_CATEGORIES}): encoded by its words",
            missing,
            n_folded,
        )
    in_any_case = f" ({n_distinct} as written)" if n_folded != n_distinct else ""
    return _role("categorical", f"{n_folded} distinct values{in_any_case}", missing, n_folded)


def _feature_role(name: str, series: Any, forced: str | None, pd: Any) -> ColumnRole:
    """The role of one feature column (rules 1-5 of the module docstring), or the role
    ``forced`` by name (``"categorical"``, ``"numeric"``)."""
    if forced == "numeric":
        return _declared_numeric(name, series, pd)
    if forced == "categorical" or coded_categories(series, pd):
        strings = category_strings(series, pd)
        missing = np.array([s is None for s in strings], dtype=bool)
        distinct = sorted(set(strings[~missing].tolist()))
        why = "declared categorical" if forced else "a pandas category column of codes"
        return _constant(missing, distinct) or _role("categorical", why, missing, len(distinct))
    if holds_booleans(series, pd):
        missing = series.isna().to_numpy()
        n_distinct = int(series.dropna().nunique())
        return _constant(missing, series.dropna().unique()[:2].tolist()) or _role(
            "categorical", "booleans", missing, n_distinct
        )
    if pd.api.types.is_datetime64_any_dtype(series) or truth_column(series, pd):
        return _text_role(name, series, pd)  # Y, N, 1, 0: yes/no, not numbers among words
    if is_numeric_dtype(series, pd) or is_numeric_column(name, series, pd):
        numbers, missing, not_numbers, hows = numeric_cells(series, pd)
        role = _numeric_role(name, numbers, missing | not_numbers)
        if role.role != "numeric":
            return role
        return _numbers_read(role, series, missing, not_numbers, hows)
    return _text_role(name, series, pd)


def _numbers_read(
    role: ColumnRole,
    series: Any,
    missing: np.ndarray,
    not_numbers: np.ndarray,
    hows: set[str],
    declared: bool = False,
) -> ColumnRole:
    """A numeric role whose reason also says which values were read as missing (after
    ``declared numeric``, or instead of the count of numbers) and how the numbers were
    written."""
    reason = role.reason
    if not_numbers.any():
        rows = np.flatnonzero(not_numbers)
        said = read_as_missing_reason(
            int((~missing & ~not_numbers).sum()), len(rows), describe_rows(rows, series)
        )
        reason = f"{reason}; {said}" if declared else said
    if hows:  # said, as the readers' warning says it
        reason = f"{reason} ({'; '.join(written_reason(how) for how in sorted(hows))})"
    return dataclasses.replace(role, reason=reason)


def _declared_numeric(name: str, series: Any, pd: Any) -> ColumnRole:
    """A column declared numeric: its numbers scaled whatever the rules would say (codes,
    IDs, a pandas category, booleans as 0 and 1); its other values read as missing.

    Raises
    ------
    ValueError
        When no value of the column is a number.
    """
    if holds_booleans(series, pd):  # (pandas' NA of a nullable boolean column too)
        series = series.astype(object).map(lambda v: None if pd.isna(v) else float(v))
    numbers, missing, not_numbers, hows = numeric_cells(series, pd, truths=True)
    present = numbers[~missing & ~not_numbers]
    if not present.size:
        examples = sorted({str(v) for v in series[not_numbers].tolist()})[:3]
        shown = f" ({', '.join(map(repr, examples))})" if examples else ""
        raise SpelledError(
            f"numeric names column {name!r}, which holds no number{shown}",
            f"--numeric {name}: the column holds no number{shown}",
        )
    distinct = np.unique(present)
    constant = _constant(missing | not_numbers, [float(v) for v in distinct[:2]])
    if constant is not None:
        return constant
    if not np.isfinite(present).any():
        return _role("dropped", "no finite number (only infinities)", missing, len(distinct))
    role = _role("numeric", "declared numeric", missing | not_numbers, len(distinct))
    return _numbers_read(role, series, missing, not_numbers, hows, declared=True)


def infer_roles(
    frame: Any,
    target: str | None = None,
    *,
    sample_weight: str | None = None,
    id_columns: Iterable[str] = (),
    drop: Iterable[str] = (),
    categorical: Iterable[str] = (),
    numeric: Iterable[str] = (),
) -> dict[str, ColumnRole]:
    """The role of every column of a table, in the table's order, each with its reason.

    Parameters
    ----------
    frame : pandas.DataFrame or mapping of column name -> 1-D array-like
    target : str, optional
        The column to predict (role ``"target"``).
    sample_weight : str, optional
        The column of row weights (role ``"weight"``).
    id_columns : iterable of str
        Columns that identify rows (role ``"id"``: no feature, written next to each
        prediction by ``deltaprop predict``).
    drop : iterable of str
        Columns to leave out (role ``"dropped"``).
    categorical : iterable of str
        Columns to treat as categories even though their values are numbers.
    numeric : iterable of str
        Columns to scale as numbers whatever the rules say (integer codes, repeated IDs,
        a pandas category of numbers, a column of integers counting the rows, mostly
        text): their values that are not numbers are read as missing.

    Returns
    -------
    dict of str -> ColumnRole
        Ordered as the table's columns; names stripped of surrounding whitespace.

    Raises
    ------
    ValueError
        A named column that is not in the table, a column named twice (e.g. both the
        target and dropped), or a mostly numeric column with values that are not numbers.

    Examples
    --------
    >>> roles = infer_roles({"size": [1.5, 2.0, 2.5], "colour": [" red", "blue", "red"],
    ...                      "k": [7, 7, 7], "label": ["a", "b", "a"]}, "label")
    >>> {name: role.role for name, role in roles.items()}
    {'size': 'numeric', 'colour': 'categorical', 'k': 'constant', 'label': 'target'}
    >>> roles["k"].reason
    'one value (7) in every row'
    """
    pd = require_pandas()
    frame = table_frame(frame, pd)
    categorical, numeric = list(categorical), list(numeric)
    named = _named_roles(
        list(frame.columns), target, sample_weight, id_columns, drop, categorical, numeric
    )
    roles: dict[str, ColumnRole] = {}
    forced = {str(c).strip(): "categorical" for c in categorical}
    forced.update({str(c).strip(): "numeric" for c in numeric})
    for name in frame.columns:
        given = named.get(name)
        error = None if given and given.role == "dropped" else nested_error(name, frame[name])
        if error is not None:
            raise error
        if name in named:
            roles[name] = named[name]
        else:
            roles[name] = _feature_role(name, frame[name], forced.get(name), pd)
    return roles


_FLAGS = {
    "target": "--target",
    "sample_weight": "--sample-weight",
    "id_columns": "--id",
    "drop": "--drop",
    "categorical": "--categorical",
    "numeric": "--numeric",
}
_WHY = {
    "target": "the column to predict",
    "weight": "row weights",
    "id": "identifies rows: no feature, written next to each prediction",
    "dropped": "dropped on request",
}


def _named_roles(
    columns: list[str],
    target: str | None,
    sample_weight: str | None,
    id_columns: Iterable[str],
    drop: Iterable[str],
    categorical: Iterable[str],
    numeric: Iterable[str],
) -> dict[str, ColumnRole]:
    """The roles the caller gave by name, checked against the table's columns."""
    given: list[tuple[str, str, str]] = []  # (column, role, parameter)
    if target is not None:
        given.append((target, "target", "target"))
    if sample_weight is not None:
        given.append((sample_weight, "weight", "sample_weight"))
    given += [(str(c).strip(), "id", "id_columns") for c in id_columns]
    given += [(str(c).strip(), "dropped", "drop") for c in drop]
    given += [(str(c).strip(), "categorical", "categorical") for c in categorical]
    given += [(str(c).strip(), "numeric", "numeric") for c in numeric]
    seen: dict[str, str] = {}
    shown = f"(columns: {columns[:20]})"
    for column, _, parameter in given:
        flag = _FLAGS[parameter]
        if column not in columns:
            what = "target column" if parameter == "target" else f"{parameter} column"
            shown = columns_shown(column, columns)
            raise SpelledError(
                f"{what} {column!r} is not in the table {shown}",
                f"{flag} {column}: no such column {shown}",
            )
        if column in seen and seen[column] != parameter:
            raise SpelledError(
                f"column {column!r} is named by both {seen[column]} and {parameter}",
                f"column {column!r} is named by both {_FLAGS[seen[column]]} and {flag}",
            )
        seen[column] = parameter
    return {c: ColumnRole(role, _WHY[role]) for c, role, _ in given if role in _WHY}
