"""How values read: which are numbers, which are missing, what task a target sets.

The rules that :class:`~deltaprop.tabular.Preprocessor`, :func:`~deltaprop.tabular.infer_roles`
and the Dask summaries (:mod:`deltaprop.tabular.dask`) all follow: text cells lose their
surrounding whitespace; the common null spellings (:data:`NULL_SPELLINGS`: empty, ``NA``,
``N/A``, ``NaN``, ``null``, ``None``, ``?``, ``-``) are missing values; ``"45%"`` reads
as 45 and ``"1,234"`` as 1234; a column is numeric when at least half of its present
values are numbers (then every one must be); categories are the values as strings
(``2.0`` reads as ``"2"``); :func:`infer_task` decides between classification and
regression from the target. The rules are spelled out in ``docs/data.md``.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import reprlib
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import numpy as np

__all__ = [
    "COUNT_VALUES",
    "DECIMAL",
    "FEATURE_REMEDY",
    "FILE_ROWS",
    "MAX_CLASSES_INFERRED",
    "NESTED_TYPES",
    "NULL_SPELLINGS",
    "SHOW",
    "TARGET_REMEDY",
    "TRUTH_FAMILIES",
    "TRUTH_SPELLINGS",
    "VALUES_REMEDY",
    "YES_NO",
    "DataWarning",
    "SpelledError",
    "accounting_negatives",
    "accounting_number",
    "as_series",
    "as_text",
    "category_strings",
    "class_labels",
    "clean_text",
    "coded_categories",
    "column_names",
    "columns_shown",
    "currency_of",
    "describe_rows",
    "did_you_mean",
    "feature_numbers",
    "file_rows",
    "folded_yes_no",
    "holds_booleans",
    "in_family",
    "infer_task",
    "is_missing_value",
    "is_numeric_column",
    "is_numeric_dtype",
    "looks_decimal_comma",
    "looks_like_counts",
    "meant_column",
    "missing_error",
    "missing_mask",
    "missing_rows_error",
    "missing_rows_text",
    "missing_text",
    "mode",
    "most_frequent",
    "nested_error",
    "not_numbers_error",
    "not_numbers_rows_error",
    "number_from_text",
    "numbered_as",
    "numbers_as_written",
    "numeric_cells",
    "numeric_values",
    "parse_numbers",
    "read_as_missing_reason",
    "read_cells_as_numbers",
    "read_written_numbers",
    "reads_yes_no",
    "require_pandas",
    "row_numbers",
    "rows_described",
    "rows_listed",
    "table_frame",
    "task_rule",
    "text_key",
    "truth_column",
    "truth_family",
    "truth_number",
    "unit_number",
    "unit_numbers",
    "written_reason",
]

_INSTALL = 'pip install "deltaprop[data]"'


def require_pandas() -> Any:
    """The pandas module; an ``ImportError`` naming the extra to install without it."""
    try:
        import pandas
    except ImportError:
        raise ImportError(f"reading and preprocessing tables needs pandas: {_INSTALL}") from None
    return pandas


def column_names(columns: Any, where: str) -> list[str]:
    """The column names as strings without surrounding whitespace.

    A duplicate (after stripping) is a ``ValueError`` naming ``where``.
    """
    names = [str(c).strip() for c in columns]
    seen = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{where!r}: column name {name!r} appears more than once")
        seen.add(name)
    return names


#: Integer targets with at most this many distinct values are classification targets.
MAX_CLASSES_INFERRED = 20
#: How many offending values an error message lists.
SHOW = 5
#: Cell texts that mean "no value" (compared after stripping whitespace, ignoring case).
NULL_SPELLINGS = frozenset(
    {"", "na", "n/a", "n.a.", "nan", "null", "none", "?", "-", "--", ".", "#n/a", "<na>", "nil"}
    # the error values a spreadsheet exports where a formula failed
    | {"#div/0!", "#value!", "#ref!", "#name?", "#num!", "#null!", "#spill!", "#calc!"}
    # the dashes reports print for "no value", and a pivot table's empty group
    | {"\u2014", "\u2013", "\u2012", "\u2014\u2014", "(blank)"}
)

_PERCENT = re.compile(r"^[+-]?[0-9][0-9.,\s]*$")  # what stands before a percent sign
#: An accounting export's negative, a decimal part before its minus: ``1,234.50-``, or
#: ``1.234,50-`` with the decimal comma (``65-``, ``4711-`` are age bands and codes).
_TRAILING_MINUS = {
    ".": re.compile(r"^[0-9][0-9,\s]*\.[0-9]+-$"),
    ",": re.compile(r"^[0-9][0-9.\s]*,[0-9]+-$"),
}
_THOUSANDS = {
    ".": re.compile(r"^[+-]?[0-9]{1,3}([, \u00a0\u202f][0-9]{3})+(\.[0-9]*)?$"),
    ",": re.compile(r"^[+-]?[0-9]{1,3}([. \u00a0\u202f][0-9]{3})+(,[0-9]*)?$"),
}
#: Indian grouping (lakh, crore): 1,23,456 and 12,34,56,789.50, with the decimal point.
_LAKHS = re.compile(r"^[+-]?[0-9]{1,2}(,[0-9]{2})+,[0-9]{3}(\.[0-9]*)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?[0-9]*,[0-9]+([eE][+-]?[0-9]+)?$")
# a currency symbol before the number (after its sign, or before it) or after it
_CURRENCY = frozenset("$€£¥₹")
#: ISO 4217 codes of the currencies most written beside amounts (``USD 1,234``,
#: ``1.234,50 EUR``); a code is read only in capitals and apart from other letters.
_CURRENCY_CODES = frozenset(
    "USD EUR GBP JPY CNY INR CHF CAD AUD NZD SEK NOK DKK PLN CZK HUF RON BGN ISK RUB UAH "
    "TRY ILS AED SAR QAR KWD EGP ZAR NGN KES MAD BRL MXN ARS CLP COP PEN KRW SGD HKD TWD "
    "THB IDR MYR PHP VND PKR BDT LKR".split()
)


class DataWarning(UserWarning):
    """Something in the data was handled in a way the user should know about."""


class SpelledError(ValueError):
    """A ``ValueError`` whose remedy names a setting, spelled for each interface.

    ``str(error)`` uses the Python spelling (``impute="median"``); :attr:`cli` the
    command line's (``--impute median``), which ``deltaprop`` prints instead.
    """

    def __init__(self, python: str, cli: str) -> None:
        super().__init__(python)
        self.cli = cli


def as_text(values: Any) -> np.ndarray:
    """Values as an object array of Python strings (never a fixed-width ``'U'`` array).

    A fixed-width array is as wide as its longest value times the number of values: a
    few long labels would make it huge, so text is always held as Python objects.
    """
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = str(value)
    return out


def clean_text(series: Any, pd: Any) -> Any:
    """``series`` with text cells stripped and null spellings made missing (``None``).

    Non-text cells (numbers, booleans, dates) are kept as they are.
    """
    if is_numeric_dtype(series, pd) or not (
        series.dtype == object or pd.api.types.is_string_dtype(series)
    ):
        return series
    values = series.astype("object").to_numpy()
    out = np.empty(len(values), dtype=object)
    cleaned: dict[str, str | None] = {}  # each distinct text is cleaned once
    for i, value in enumerate(values):
        if isinstance(value, str):
            if value not in cleaned:
                text = value.strip()
                cleaned[value] = None if text.lower() in NULL_SPELLINGS else text
            out[i] = cleaned[value]
        elif value is None or (isinstance(value, float) and np.isnan(value)):
            out[i] = None
        else:
            out[i] = value
    return pd.Series(out, index=series.index, dtype=object, name=series.name)


def number_from_text(text: str, decimal: str = ".") -> float:
    """A cleaned number from text: ``"45%"`` -> 45, ``"1,234.5"`` -> 1234.5,
    ``"$1,234.50"`` -> 1234.5, ``"-€12"`` -> -12, ``"12,50 €"`` -> 12.5 (``decimal=","``),
    ``"₹1,23,456"`` -> 123456 (Indian grouping), ``"USD 1,234"`` -> 1234; else NaN.

    ``decimal`` is the decimal mark (``"."`` or ``","``); the other one (and spaces)
    may separate thousands. A currency symbol ($ € £ ¥ ₹) or a currency's ISO code in
    capitals (``USD``, ``EUR``, ...: :data:`_CURRENCY_CODES`) before or after the number
    is dropped. The minus sign may be Unicode's (``"\u221212"`` -> -12) or written after
    the number's decimal part, as accounting systems export negatives (``"12.50-"`` ->
    -12.5; ``"65-"`` is no number: an age band, a code). NaN when the
    text is no number. (Parentheses are not read as a negative sign: ``(1)``, ``(2019)``
    are labels as often as amounts.)
    """
    text = without_currency(text.strip().replace("\u2212", "-"))
    if text[-1:] == "-" and _TRAILING_MINUS[decimal].match(text):
        text = "-" + text[:-1]
    if text[-1:] == "%":
        text = text[:-1].rstrip()
        if not _PERCENT.match(text):
            return float("nan")
    if _THOUSANDS[decimal].match(text) or (decimal == "." and _LAKHS.match(text)):
        text = re.sub(r"[,. \u00a0\u202f]", lambda m: "." if m.group() == decimal else "", text)
    elif decimal == "," and _DECIMAL_COMMA.match(text):
        text = text.replace(",", ".")
    elif decimal == "," and "." in text:
        return float("nan")
    try:
        return float(text)
    except ValueError:
        return float("nan")


def without_currency(text: str) -> str:
    """``text`` (stripped) without a currency symbol or ISO code before or after the
    number: ``"-$12"`` -> ``"-12"``, ``"USD 1,234"`` -> ``"1,234"``, ``"12,50 €"`` ->
    ``"12,50"``; other text as it is."""
    # string operations, not a regular expression: no backtracking over long runs of spaces
    if len(text) > 3:
        sign = text[:1] if text[:1] in ("+", "-") else ""
        rest = text[len(sign) :].lstrip()
        if rest[:3] in _CURRENCY_CODES and not rest[3:4].isalpha():
            text = sign + rest[3:].lstrip()  # then a symbol may follow: USD $12
        elif text[-3:] in _CURRENCY_CODES and not text[-4:-3].isalpha():
            text = text[:-3].rstrip()
    if text[-1:] in _CURRENCY:
        return text[:-1].rstrip()
    sign = text[:1] if text[:1] in ("+", "-") else ""
    rest = text[len(sign) :].lstrip()
    if rest[:1] in _CURRENCY:
        return sign + rest[1:].lstrip()  # "-$-12" gives "--12": no number
    return text


#: The codes of the currencies whose symbols :func:`currency_of` knows: one currency.
_SYMBOL_OF = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "¥", "INR": "₹"}


def currency_of(text: str) -> str | None:
    """The currency written before or after a number (a symbol, or an ISO code in
    capitals; the code of a known symbol as that symbol): ``"$12"`` and ``"12 USD"`` ->
    ``"$"``, ``"1.234,50 CHF"`` -> ``"CHF"``; else None."""
    text = text.strip().lstrip("+-\u2212").strip()
    for mark in (text[:1], text[-1:]):
        if mark in _CURRENCY:
            return mark
    for code, beside in ((text[:3], text[3:4]), (text[-3:], text[-4:-3])):
        if code in _CURRENCY_CODES and not beside.isalpha():
            return _SYMBOL_OF.get(code, code)
    return None


def accounting_number(text: str, decimal: str = ".") -> float:
    """Accounting's negative: ``"(1,234.5)"`` -> -1234.5; NaN for other text."""
    text = text.strip()
    inner = text[1:-1] if text[:1] == "(" and text[-1:] == ")" else ""
    value = number_from_text(inner, decimal) if inner.strip() else float("nan")
    return -value if np.isfinite(value) and value >= 0.0 else float("nan")


def _distinct_read(
    cells: Sequence[Any], bad: np.ndarray, read: Any
) -> dict[str, tuple[float, Any]] | None:
    """``read(text) -> (number, tag)`` of each distinct ``bad`` cell, or None as soon as
    one gives no finite number."""
    found: dict[str, tuple[float, Any]] = {}
    for i in np.flatnonzero(bad):
        text = cells[i] if isinstance(cells[i], str) else ""
        if text not in found:
            found[text] = read(text)
            if not np.isfinite(found[text][0]):
                return None
    return found


def _write_read(cells: Sequence[Any], numbers: np.ndarray, bad: np.ndarray, found: dict) -> None:
    """Write the numbers :func:`_distinct_read` found into the ``bad`` places."""
    for i in np.flatnonzero(bad):
        numbers[i] = found[cells[i]][0]


def accounting_negatives(
    cells: Sequence[Any], numbers: np.ndarray, bad: np.ndarray, decimal: str = "."
) -> bool:
    """Read the ``bad`` cells of a column of numbers as accounting's negatives
    (:func:`accounting_number`), written into ``numbers``, when every one of them is a
    number in parentheses and the column holds plain numbers too (a column of ``(1)``,
    ``(2)`` alone is labels). Returns whether it did; ``numbers`` is left as it was
    otherwise."""
    if not bad.any() or bad.all():
        return False
    found = _distinct_read(cells, bad, lambda text: (accounting_number(text, decimal), None))
    if found is None:
        return False
    _write_read(cells, numbers, bad, found)
    return True


#: A number, then a unit of measure: ``6.61 mm``, ``37min``, ``16.9 km/h``, ``21 °C``; a
#: unit of one letter stands apart (``5 m``): ``136A`` or ``12B`` is a code, not amperes.
_WITH_UNIT = re.compile(
    r"^(.*?[0-9.])(?:\s*([^\W\d_]{2,6}(?:\s?/\s?[^\W\d_]{1,6})?|°[CF]?|[²³])"
    r"|\s+([^\W\d_](?:\s?/\s?[^\W\d_]{1,6})?))$"
)
#: Not units: the halves of a day (10am is a time).
_NOT_UNITS = frozenset({"am", "pm"})


def unit_number(text: str, decimal: str = ".") -> tuple[float, str | None]:
    """A number written with a unit of measure and the unit: ``"6.61 mm"`` -> (6.61,
    ``"mm"``), ``"16.9 km / h"`` -> (16.9, ``"km/h"``); (NaN, None) for other text."""
    match = _WITH_UNIT.match(text.strip())
    written = None if match is None else match.group(2) or match.group(3)
    if written is None or written.lower() in _NOT_UNITS:
        return float("nan"), None
    value = number_from_text(match.group(1), decimal)
    return (value, "".join(written.split())) if np.isfinite(value) else (float("nan"), None)


def unit_numbers(
    cells: Sequence[Any], numbers: np.ndarray, bad: np.ndarray, decimal: str = "."
) -> str | None:
    """Read the ``bad`` cells of a column as numbers written with one unit of measure
    (:func:`unit_number`), written into ``numbers``, when every one of them is a number
    with the same unit. Returns the unit, or None (``numbers`` left as it was). Units are
    not converted: ``5 min`` beside ``2 h`` is text."""
    if not bad.any():
        return None
    found = _distinct_read(cells, bad, lambda text: unit_number(text, decimal))
    units = {unit for _, unit in found.values()} if found is not None else set()
    if found is None or len(units) != 1:
        return None
    _write_read(cells, numbers, bad, found)
    return units.pop()


def read_written_numbers(
    cells: Sequence[Any], numbers: np.ndarray, bad: np.ndarray, decimal: str = "."
) -> str | None:
    """Read the ``bad`` cells of a column of numbers as the readers read a whole column:
    accounting's negatives (:func:`accounting_negatives`), else numbers with one unit
    (:func:`unit_numbers`). Returns how they were written (``"()"`` or the unit), or None
    where they do not read (``numbers`` left as it was)."""
    if accounting_negatives(cells, numbers, bad, decimal):
        return "()"
    return unit_numbers(cells, numbers, bad, decimal)


#: A decimal comma that cannot group thousands: one, two, four or more digits after it.
_PROVEN_DECIMAL_COMMA = re.compile(r"^[+-]?[0-9]+,([0-9]{1,2}|[0-9]{4,})$")
#: The distinct texts of a column that :func:`looks_decimal_comma` reads at most.
_DECIMAL_COMMA_SAMPLE = 200


def looks_decimal_comma(texts: Iterable[Any]) -> bool:
    """Whether a column the point-decimal reading leaves as text holds numbers written
    with a decimal comma (``"1,1"``, ``"62,0"`` quoted in a comma-separated file, as
    ``to_csv(decimal=",")`` writes them): some comma cannot group thousands and every
    text (its first :data:`_DECIMAL_COMMA_SAMPLE` distinct ones) reads so. Only said in
    a warning: the mark is the file's (``decimal=","``, ``--decimal ,``), which a model
    must be given again to read a table to predict the same way."""
    seen: set[str] = set()
    proven = False
    for text in texts:
        if not isinstance(text, str) or text in seen:
            continue
        seen.add(text)
        bare = without_currency(text.strip())
        if not np.isfinite(number_from_text(bare, ",")) or "." in bare:
            return False
        proven = proven or bool(_PROVEN_DECIMAL_COMMA.match(bare))
        if len(seen) >= _DECIMAL_COMMA_SAMPLE:
            break
    return proven


# -- columns as numbers or categories -------------------------------------------------
def as_series(values: Any, name: str, pd: Any) -> Any:
    """``values`` (a Series or 1-D array-like) as a Series indexed ``0 .. n - 1``."""
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {values.shape}")
    return pd.Series(values)


def is_missing_value(value: Any) -> bool:
    """Whether a cell of an object column is missing: None or a float NaN."""
    return value is None or (isinstance(value, float) and value != value)


def holds_booleans(series: Any, pd: Any) -> bool:
    """Whether a column holds booleans: a boolean dtype, or an object column of booleans
    and missing values (a Parquet boolean column with nulls, a workbook's TRUE cells)."""
    if pd.api.types.is_bool_dtype(series):
        return True
    if series.dtype != object:
        return False
    first = next((v for v in series.to_numpy() if not is_missing_value(v)), None)
    if not isinstance(first, bool | np.bool_):
        return False  # text, numbers: told at the first value, without a pass
    present = series.dropna().tolist()
    return all(isinstance(v, bool | np.bool_) for v in present)


def is_numeric_dtype(series: Any, pd: Any) -> bool:
    """Whether pandas stores the column as numbers (booleans count)."""
    return bool(pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series))


def coded_categories(series: Any, pd: Any) -> bool:
    """Whether a column is a pandas ``category`` whose categories are numbers: codes the
    table declares categorical (cylinders 4, 6, 8; region 1, 2, 3), as a Parquet file
    written from such a frame keeps them."""
    dtype = series.dtype
    return isinstance(dtype, pd.CategoricalDtype) and is_numeric_dtype(
        pd.Series(dtype.categories), pd
    )


def parse_numbers(
    series: Any,
    pd: Any,
    decimal: str = ".",
    *,
    written: bool = True,
    unparsed: set[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(numbers, missing)``: float64 values (NaN where not a number) and the missing mask.

    Text is cleaned first (:func:`clean_text`: null spellings are missing), and a text
    that pandas does not read as a number gets a second chance through
    :func:`number_from_text` (percent signs, thousands separators, currency symbols).
    With ``written`` (the default), the cells left are read as the readers read a whole
    column (:func:`read_written_numbers`: accounting's ``(12)`` beside plain numbers,
    ``6.61 mm`` beside ``5 mm``), so that a table built in Python reads as the same
    table read from a file. ``unparsed``, when given, receives the distinct texts that
    pandas did not read (currencies, percents: :func:`number_from_text`'s).
    """
    if not written:
        return _numbers_and_cells(series, pd, decimal, unparsed)[:2]
    numbers, missing, _ = numbers_as_written(series, pd, decimal)
    return numbers, missing


def numbers_as_written(
    series: Any, pd: Any, decimal: str = "."
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """:func:`parse_numbers`, and how the column's other cells were written: None (plain
    numbers, or cells that do not read), ``"()"`` (accounting's negatives) or the unit
    left out (``"mm"``)."""
    numbers, missing, cells = _numbers_and_cells(series, pd, decimal)
    bad = np.isnan(numbers) & ~missing
    if cells is None or not bad.any():
        return numbers, missing, None
    return numbers, missing, read_written_numbers(cells, numbers, bad, decimal)


def written_reason(how: str) -> str:
    """What a column role's reason adds for :func:`numbers_as_written`'s ``how`` (and
    :func:`read_cells_as_numbers`')."""
    if how == "()":
        return "accounting's (12) read as -12"
    if how == "yes/no":
        return "yes and no read as 1 and 0"
    return f"written with the unit {how!r}"


def read_cells_as_numbers(
    cells: Any, values: np.ndarray, bad: np.ndarray, truths: bool
) -> tuple[np.ndarray, set[str]]:
    """Write into ``values`` the numbers of the ``bad`` cells of a numeric column, read one
    by one: accounting's ``(12)`` as -12, ``6.61 mm`` as 6.61 (a table to predict may hold
    only such cells; a column may hold them beside words; units are read when the cells
    write one unit: ``5 min`` beside ``2 h`` is not one quantity), and with ``truths`` the
    1 or 0 of a truth value (``TRUE``, ``no``, in any case: a CSV export of a column of
    booleans). Fitting and transforming read a numeric column's cells this way alike.

    Returns
    -------
    still : ndarray of bool, shape (n_rows,)
        The cells still not numbers.
    hows : set of str
        How the cells read were written: ``"()"``, ``"yes/no"`` or the unit.
    """
    still = bad.copy()
    hows: set[str] = set()
    units: dict[int, tuple[float, str]] = {}  # read only when one unit is written
    seen: dict[str, tuple[float, str, bool]] = {}  # per distinct text: a column repeats
    for j in np.flatnonzero(bad).tolist():
        cell = cells[j]
        if not isinstance(cell, str):
            continue
        if cell not in seen:
            seen[cell] = _cell_number(cell, truths)
        number, how, with_unit = seen[cell]
        if np.isnan(number):
            continue
        if with_unit:
            units[j] = (number, how)
        else:
            values[j], still[j] = number, False
            hows.add(how)
    if len({unit for _, unit in units.values()}) == 1:  # 5 min beside 2 h: not one quantity
        for k, (number, unit) in units.items():
            values[k], still[k] = number, False
            hows.add(unit)
    return still, hows


def _cell_number(cell: str, truths: bool) -> tuple[float, str, bool]:
    """``(number, how, with a unit)`` of one cell of :func:`read_cells_as_numbers`: how
    is ``"yes/no"``, ``"()"`` or the unit; the number NaN where the cell reads as none."""
    number = truth_number(cell.strip().lower()) if truths else np.nan
    if not np.isnan(number):
        return number, "yes/no", False
    number = accounting_number(cell)
    if not np.isnan(number):
        return number, "()", False
    number, unit = unit_number(cell)
    return number, unit or "", unit is not None


def numeric_cells(
    series: Any, pd: Any, as_written: tuple | None = None, truths: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, set[str]]:
    """A numeric column's cells as fitting reads them: :func:`numbers_as_written` (or
    ``as_written``, its result), then the cells left one by one
    (:func:`read_cells_as_numbers`; with ``truths``, for a column declared numeric,
    ``TRUE`` and ``no`` as 1 and 0 too).

    Returns
    -------
    numbers : ndarray of float64, shape (n_rows,)
        NaN where missing or not a number.
    missing, not_numbers : ndarray of bool, shape (n_rows,)
    hows : set of str
        How the numbers not written plainly were written (:func:`written_reason`).
    """
    numbers, missing, written = as_written or numbers_as_written(series, pd)
    numbers = numbers.copy()
    not_numbers = ~missing & np.isnan(numbers)
    hows = set() if written is None else {written}
    if not_numbers.any():
        cells = series.to_numpy(dtype=object)
        not_numbers, read = read_cells_as_numbers(cells, numbers, not_numbers, truths)
        hows |= read
    return numbers, missing, not_numbers, hows


def _numbers_and_cells(
    series: Any, pd: Any, decimal: str, unparsed: set[str] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """:func:`parse_numbers` without the written reading, and the cleaned cells of a text
    column (None for a numeric dtype)."""
    if is_numeric_dtype(series, pd):
        missing = series.isna().to_numpy()
        numbers = series.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
        return numbers, missing, None
    series = clean_text(series, pd)
    missing = series.isna().to_numpy()
    values = series.astype("object")
    if decimal == ".":
        parsed = pd.to_numeric(values, errors="coerce")
        numbers = parsed.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    else:
        numbers = np.full(len(values), np.nan)
    cells = values.to_numpy()
    # a text column repeats a few words many times: each distinct text is parsed once
    parsed: dict[str, float] = {}
    for i in np.flatnonzero(np.isnan(numbers) & ~missing):
        value = cells[i]
        if isinstance(value, str):
            if value not in parsed:
                parsed[value] = number_from_text(value, decimal)
            numbers[i] = parsed[value]
        elif isinstance(value, bool | np.bool_ | int | float | np.number):
            numbers[i] = float(value)
    if unparsed is not None:
        unparsed.update(parsed)
    return numbers, missing, cells


# The table's own rows of the frame being read, 0-based, while rows without a target are
# left out (numbered_as): messages then number rows as the user's file does.
_table_rows: ContextVar[np.ndarray | None] = ContextVar("table_rows", default=None)


@contextlib.contextmanager
def numbered_as(table_rows: Sequence[int] | np.ndarray | None) -> Iterator[None]:
    """Within this, messages about a frame of ``len(table_rows)`` rows number its rows as
    the table it was cut from: row ``i`` is the table's row ``table_rows[i] + 1``.

    :class:`~deltaprop.tabular.TabularModel` leaves out the rows without a target before
    its preprocessor reads the rest; a value that is not a number in the table's row 60
    is then named "row 60", not by its place among the rows kept. None changes nothing.
    """
    if table_rows is None:
        yield
        return
    token = _table_rows.set(np.asarray(table_rows, dtype=np.intp))
    try:
        yield
    finally:
        _table_rows.reset(token)


def row_numbers(positions: Sequence[int] | np.ndarray, n_rows: int) -> list[int]:
    """The 1-based row numbers, for messages, of the 0-based ``positions`` in a column of
    ``n_rows`` rows: ``positions + 1``, or the table's own rows within :func:`numbered_as`
    (for a column as long as the frame it numbers)."""
    positions = np.asarray(positions, dtype=np.intp)
    table_rows = _table_rows.get()
    if table_rows is not None and len(table_rows) == n_rows:
        positions = table_rows[positions]
    return (positions + 1).tolist()


def rows_described(examples: Sequence[tuple[int, str]], total: int) -> str:
    """``"row 3 ('x'), row 9 ('y') and 2 more"`` from the first ``(row, repr)`` pairs.

    ``examples`` lists (1-based row number, the value's ``repr``) for the first of
    ``total`` offending rows; at most ``SHOW`` of them are shown.
    """
    shown = ", ".join(f"row {r} ({v})" for r, v in examples[:SHOW])
    return shown + (f" and {total - SHOW} more" if total > SHOW else "")


def describe_rows(rows: np.ndarray, series: Any) -> str:
    """:func:`rows_described` for the 0-based ``rows`` of ``series`` (a Series, or a
    :class:`~deltaprop.tabular.plain.PlainTable`'s column)."""
    return rows_described(_examples(rows, series), len(rows))


def _examples(rows: np.ndarray, series: Any) -> list[tuple[int, str]]:
    """(row number, repr) of the values of ``series`` at its first 0-based ``rows``."""
    shown = rows[:SHOW]
    numbers = row_numbers(shown, len(series))
    values = series.iloc if hasattr(series, "iloc") else series
    return [(r, repr(values[i])) for r, i in zip(numbers, shown, strict=True)]


#: What to do about values that are not numbers: in a feature, a target, a weight column.
FEATURE_REMEDY = "fix the values, or declare the column categorical"
TARGET_REMEDY = "fix the values, or give the task as classification to read them all as labels"
VALUES_REMEDY = "fix the values"


def not_numbers_rows_error(
    name: str,
    examples: Sequence[tuple[int, str]],
    n_bad: int,
    n_numbers: int,
    remedy: str = FEATURE_REMEDY,
) -> ValueError:
    """The error for a numeric column with ``n_bad`` values that are not numbers.

    ``examples`` as for :func:`rows_described`; ``n_numbers`` values are numbers;
    ``remedy`` ends the message.
    """
    row, value = examples[0]
    return ValueError(
        f"column {name!r}, row {row}: {value} is not a number, but {n_numbers} of the "
        f"column's {n_numbers + n_bad} values are, so it is numeric (not numbers: "
        f"{rows_described(examples, n_bad)}); {remedy}"
    )


def not_numbers_error(
    name: str, series: Any, bad: np.ndarray, n_numbers: int, remedy: str = FEATURE_REMEDY
) -> ValueError:
    """:func:`not_numbers_rows_error` for the values of ``series`` where ``bad`` holds."""
    rows = np.flatnonzero(bad)
    return not_numbers_rows_error(name, _examples(rows, series), len(rows), n_numbers, remedy)


def numeric_values(name: str, series: Any, pd: Any) -> np.ndarray:
    """The column as float64 (NaN where missing); any other non-number is a ValueError."""
    numbers, missing = parse_numbers(series, pd)
    bad = ~missing & np.isnan(numbers)
    if bad.any():
        raise not_numbers_error(name, series, bad, int((~missing & ~bad).sum()), VALUES_REMEDY)
    infinite = np.isinf(numbers)
    if infinite.any():
        rows = np.flatnonzero(infinite)
        raise ValueError(f"column {name!r} holds infinite values: {describe_rows(rows, series)}")
    return numbers


def feature_numbers(series: Any, pd: Any) -> tuple[np.ndarray, np.ndarray]:
    """A numeric feature column's numbers, and where they are missing.

    As :func:`numeric_cells` (fitting's reading), the values that are not numbers
    counting as missing: the reading of :func:`is_numeric_column`'s columns when they are
    prepared.
    """
    numbers, _, _, _ = numeric_cells(series, pd)
    return numbers, np.isnan(numbers)


def is_numeric_column(name: str, series: Any, pd: Any) -> bool:
    """The rule: numeric when at least half of the non-missing values are numbers.

    The other values of such a column (a typo, ``"rotary"`` among cylinder counts) are
    read as missing when the column is prepared (:func:`read_as_missing_reason` says so), or
    are an error without imputation.
    """
    if is_numeric_dtype(series, pd):
        return True
    numbers, missing = parse_numbers(series, pd)
    if missing.all():
        return False
    n_present = int((~missing).sum())
    n_numbers = n_present - int(np.isnan(numbers[~missing]).sum())
    return 2 * n_numbers >= n_present


def read_as_missing_reason(n_numbers: int, n_bad: int, described: str) -> str:
    """The role's reason for a numeric column with ``n_bad`` values that are not numbers.

    ``"8 of 10 present values are numbers; 2 values are not numbers (row 3 ('x'), row 9
    ('y')), read as missing"``; ``described`` lists the rows (:func:`rows_described`).
    """
    values = "value is not a number" if n_bad == 1 else "values are not numbers"
    return (
        f"{n_numbers} of {n_numbers + n_bad} present values are numbers; "
        f"{n_bad} {values} ({described}), read as missing"
    )


#: The key of ``DataFrame.attrs`` where :func:`~deltaprop.tabular.read_table` records the
#: Arrow type of each nested Parquet column (``{name: "list<element: int64>"}``).
NESTED_TYPES = "deltaprop_nested_types"
#: ``frame.attrs`` key of the decimal mark a reader used (``"."`` or ``","``).
DECIMAL = "deltaprop_decimal"
#: ``frame.attrs`` key: the file's data rows (0-based, a list of ints: JSON, as pandas
#: writes attrs to Parquet) that :func:`~deltaprop.tabular.readers.read_table` left out
#: between data rows (subtotals, a header again), so that messages number the others as
#: the file does (:func:`file_rows`).
FILE_ROWS = "deltaprop_rows_left_out"


def file_rows(frame: Any) -> np.ndarray | None:
    """The file's data rows (0-based) of ``frame``'s rows, from ``attrs[FILE_ROWS]``;
    None when no row was left out, or when the frame is no longer the one read (its
    index is not ``0 .. n - 1``: sorted, filtered or joined since)."""
    left_out = getattr(frame, "attrs", {}).get(FILE_ROWS)
    if not left_out:
        return None
    index = frame.index
    if not (index.is_monotonic_increasing and len(index) and index[0] == 0):
        return None
    if index[-1] != len(frame) - 1:
        return None
    rows = np.delete(np.arange(len(frame) + len(left_out)), np.asarray(left_out, dtype=np.intp))
    return rows if len(rows) == len(frame) else None


_NESTED_VALUES = (list, tuple, dict, set, frozenset, np.ndarray)


def nested_error(name: str, series: Any) -> SpelledError | None:
    """The error for a column of nested values (lists, structs, maps), or None.

    A cell of such a column holds several values; read as a category, each distinct
    list would be a class of its own, so such a column is refused, naming its type: the
    Arrow type that :func:`~deltaprop.tabular.read_table` recorded for a Parquet column,
    else the Python type of its first nested value.

    Parameters
    ----------
    name : str
        The column's name.
    series : pandas.Series

    Examples
    --------
    >>> import pandas as pd
    >>> error = nested_error("tags", pd.Series([[1, 2], [3]]))
    >>> str(error).split(":")[0], error.cli.split(", ")[-1]
    ("column 'tags' holds nested values (lists, e.g. [1, 2])", 'or leave it out with --drop tags')
    >>> nested_error("size", pd.Series([1.0, 2.0])) is None
    True
    """
    kind = series.attrs.get(NESTED_TYPES, {}).get(name)
    if kind is not None:
        kind = f"the nested Parquet type {kind}"
    elif series.dtype == object:
        for value in series.to_numpy():
            if isinstance(value, _NESTED_VALUES):
                kind = f"nested values ({type(value).__name__}s, e.g. {reprlib.repr(value)})"
                break
    if kind is None:
        return None
    what = (
        f"column {name!r} holds {kind}: deltaprop reads one number, category, text or date "
        "per cell. Flatten it into plain columns, or leave it out with "
    )
    return SpelledError(f"{what}drop=[{name!r}]", f"{what}--drop {name}")


def category_strings(series: Any, pd: Any) -> np.ndarray:
    """Values as stripped strings (object array, None where missing); 2.0 reads as "2"."""
    series = clean_text(series, pd)
    missing = series.isna().to_numpy()
    values = series.astype("object").to_numpy()
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        if missing[i]:
            out[i] = None
        elif isinstance(value, str):
            out[i] = value  # clean_text stripped it
        elif isinstance(value, float | np.floating) and float(value).is_integer():
            out[i] = str(int(value))
        else:
            out[i] = str(value).strip()
    return out


#: The spellings of a yes/no value, in lower case: a column of them is read in any case.
YES_NO = frozenset({"yes", "no", "y", "n", "true", "false", "t", "f"})


#: The spellings of a truth value in families: a column written in one family keeps it.
TRUTH_FAMILIES = (("yes", "no"), ("y", "n"), ("true", "false"), ("t", "f"))
_TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1"})
_FALSE_WORDS = frozenset({"no", "n", "false", "f", "0"})
#: Every spelling of a truth value, in lower case: :data:`YES_NO`, ``1`` and ``0``.
TRUTH_SPELLINGS = _TRUE_WORDS | _FALSE_WORDS


def truth_number(word: str) -> float:
    """1.0 for a spelling of true (lower case: ``yes``, ``t``), 0.0 for one of false,
    NaN for another word."""
    return 1.0 if word in _TRUE_WORDS else 0.0 if word in _FALSE_WORDS else float("nan")


def truth_family(categories: Iterable[Any]) -> tuple[str, str] | None:
    """The family ``(true, false)`` of :data:`TRUTH_FAMILIES` that spells every one of
    ``categories`` (lower case), or None."""
    spelled = set(categories)
    for family in TRUTH_FAMILIES:
        if spelled and spelled <= set(family):
            return family
    return None


def in_family(value: Any, family: tuple[str, str]) -> Any:
    """A truth value in another spelling (lower case: ``y``, ``1``, ``false``) as
    ``family`` spells it; any other value as it is."""
    if value in _TRUE_WORDS:
        return family[0]
    if value in _FALSE_WORDS:
        return family[1]
    return value


def folded_yes_no(strings: np.ndarray) -> np.ndarray | None:
    """A column's strings in lower case when every present one spells a truth value.

    ``TRUE``, ``true`` and ``True`` are one value, as ``Yes`` and ``yes`` are. Spellings
    of several families (``yes`` beside ``Y`` or ``TRUE``), or ``1`` and ``0`` among
    words (columns joined from several systems), are ``yes`` and ``no``. A column of
    other words keeps its case (None is returned).

    Parameters
    ----------
    strings : object array of str or None (missing)

    Returns
    -------
    object array or None
        The strings lowered (None stays None), or None when some present string is not
        a truth value's spelling, or none is present, or none is a word.
    """
    present = {s for s in strings if s is not None}
    lowered = {s: s.lower() for s in present}
    spelled = set(lowered.values())
    if not present or not _spell_truths(spelled):
        return None
    if truth_family(spelled) is None:
        lowered = {s: in_family(v, TRUTH_FAMILIES[0]) for s, v in lowered.items()}
    out = np.empty(len(strings), dtype=object)
    out[:] = [None if s is None else lowered[s] for s in strings]
    return out


def text_key(text: str) -> str:
    """What two spellings of one value share: ``text`` in any case and Unicode form.

    ``Rêve`` typed with the one character ``ê`` and ``Rêve`` written with ``e`` and a
    combining circumflex (as macOS and some databases store names: NFD) look alike and
    are one value, as ``RÊVE`` is.
    """
    return (text if text.isascii() else unicodedata.normalize("NFC", text)).casefold()


def case_variants(strings: Iterable[Any]) -> dict[str, str]:
    """For text values that differ only in case (``Adelie``, ``adelie``, ``ADELIE``), the
    one spelling each is read as; values without a variant are left out.

    The spelling kept is the one in mixed case (``Adelie``), else the lower-case one, else
    the first in sorted order: a rule of the spellings alone, so that a table read in parts
    (Dask) keeps the spelling a table read whole does.

    Examples
    --------
    >>> case_variants(["Adelie", "adelie", "ADELIE", "Gentoo"])
    {'ADELIE': 'Adelie', 'adelie': 'Adelie'}
    """
    groups: dict[str, list[str]] = {}
    for value in set(strings):
        if isinstance(value, str):
            groups.setdefault(text_key(value), []).append(value)
    spelled: dict[str, str] = {}
    for spellings in groups.values():
        if len(spellings) > 1:
            kept = min(spellings, key=lambda v: (v.islower() or v.isupper(), v.isupper(), v))
            spelled.update({v: kept for v in spellings if v != kept})
    return dict(sorted(spelled.items()))


def case_warning(what: str, spelled: dict[str, str]) -> str:
    """The words of the DataWarning for case variants read as one value."""
    kept: dict[str, list[str]] = {}
    for variant, spelling in spelled.items():
        kept.setdefault(spelling, []).append(variant)
    shown = "; ".join(f"{k!r} ({', '.join(map(repr, v))})" for k, v in list(kept.items())[:SHOW])
    more = f" and {len(kept) - SHOW} more" if len(kept) > SHOW else ""
    return f"{what} writes values in several cases, read as one value each: {shown}{more}"


def truth_column(series: Any, pd: Any) -> bool:
    """Whether a text column spells truth values in words and digits together (``Y``,
    ``N``, ``1``, ``0``): read as yes/no (:func:`folded_yes_no`), not as numbers with
    words among them. At most a dozen distinct values, told without a pass in Python."""
    if is_numeric_dtype(series, pd):
        return False
    distinct = series.dropna().unique()
    if len(distinct) > 12 or not all(isinstance(v, str) for v in distinct):
        return False
    spelled = {v.strip().lower() for v in distinct} - NULL_SPELLINGS
    return _spell_truths(spelled) and bool(spelled & {"0", "1"})


def _spell_truths(spelled: set[str]) -> bool:
    """Whether lower-case values all spell truth values, one of them in a word."""
    return spelled <= TRUTH_SPELLINGS and bool(spelled & YES_NO)


def reads_yes_no(categories: Sequence[Any]) -> bool:
    """Whether a fitted categorical column reads its values in lower case: its
    categories are all yes/no spellings in lower case (:func:`folded_yes_no` made them)."""
    return bool(categories) and all(isinstance(c, str) and c in YES_NO for c in categories)


def infer_task(y: Any, *, name: str = "target") -> str:
    """``"classification"`` or ``"regression"``, decided from the target's values.

    The rule: text and booleans are classification; floating-point numbers are
    regression; integers are classification when they take at most
    ``MAX_CLASSES_INFERRED`` (20) distinct values and at least one value repeats, unless
    they look like counts (:func:`looks_like_counts`: 0 to 7 or more, mostly 0 and 1),
    regression otherwise. Floating-point whole numbers with missing values count as
    integers (pandas stores a file's integer column with blank cells as floats, and the
    blanks should not turn class codes into a regression). Text whose values are numbers
    follows the numeric rule; text
    mostly of numbers with a few other values is classification when the numbers are
    repeated integer codes (``"1"`` ... ``"9"``, ``"X"``), else an error.

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
    numeric_dtype = is_numeric_dtype(series, pd)
    numbers, _ = parse_numbers(present, pd)
    bad = np.isnan(numbers)
    values, frequencies = np.unique(numbers[~bad], return_counts=True)
    return task_rule(
        bool_like=bool(
            pd.api.types.is_bool_dtype(series)
            or (
                series.dtype == object
                and len(present)
                and all(isinstance(v, bool | np.bool_) for v in present)
            )
        ),
        numeric_dtype=numeric_dtype,
        float_dtype=bool(pd.api.types.is_float_dtype(series)),
        has_missing=len(present) < len(series),
        n_present=len(present),
        n_bad=0 if numeric_dtype else int(bad.sum()),
        integers=bool(np.all(numbers[~bad] == np.round(numbers[~bad]))),
        n_distinct=len(values),
        not_numbers=lambda: not_numbers_error(name, present, bad, int((~bad).sum()), TARGET_REMEDY),
        counts=not bad.any() and looks_like_counts(values, frequencies),
    )


#: Integer targets of this many distinct values or more, skewed as counts are
#: (:func:`looks_like_counts`), are regression.
COUNT_VALUES = 8


def looks_like_counts(values: np.ndarray, frequencies: np.ndarray) -> bool:
    """Whether a target's distinct integers ``values`` (sorted), seen ``frequencies``
    times, are counts (doctor visits, articles, accidents) rather than class codes: 0 to
    7 or more (:data:`COUNT_VALUES` values), most often 0 or 1, and at most a tenth of
    the rows in the upper half of the range. Digits 0 to 9, seen alike, are classes; a
    count target classified was scored at the share of its zeros (quality trials: R²
    -0.29 classified against 0.09 as numbers on articles of 915 biochemists).

    Examples
    --------
    >>> looks_like_counts(np.arange(10), np.array([60, 20, 9, 5, 3, 1, 1, 1, 1, 1]))
    True
    >>> looks_like_counts(np.arange(10), np.full(10, 10))
    False
    """
    values, frequencies = np.asarray(values, dtype=np.float64), np.asarray(frequencies)
    if len(values) < COUNT_VALUES or values[0] != 0 or not np.all(values == np.round(values)):
        return False
    if values[int(np.argmax(frequencies))] > 1:
        return False
    upper = frequencies[values > values[-1] / 2].sum()
    return bool(10 * upper <= frequencies.sum())


def task_rule(
    *,
    bool_like: bool,
    numeric_dtype: bool,
    float_dtype: bool,
    has_missing: bool,
    n_present: int,
    n_bad: int,
    integers: bool,
    n_distinct: int,
    not_numbers: Any,
    counts: bool = False,
) -> str:
    """:func:`infer_task`'s rule, from facts about the target's present values.

    The facts come from the column itself, or from summaries of its partitions
    (:mod:`deltaprop.tabular.dask`).

    Parameters
    ----------
    bool_like : bool
        The values are booleans.
    numeric_dtype, float_dtype : bool
        pandas stores them as numbers, as floating-point numbers.
    has_missing : bool
        Some values are missing.
    n_present : int
        Values that are not missing.
    n_bad : int
        Values that are not numbers (text columns).
    integers : bool
        Every number is an integer.
    n_distinct : int
        Distinct numbers (counting up to ``MAX_CLASSES_INFERRED + 1`` is enough).
    not_numbers : callable
        Returns the ``ValueError`` for a mostly numeric column with values that are not
        numbers.
    counts : bool
        The integers look like counts (:func:`looks_like_counts`): regression.

    Raises
    ------
    ValueError
        ``not_numbers()``, when at least half of the present values are numbers, unless
        they are a few integers that repeat (codes beside a word: classification).
    """
    if bool_like:
        return "classification"
    if not numeric_dtype:
        if n_bad:
            n_numbers = n_present - n_bad
            # a few repeated integer codes and a word ("1" ... "9", "X"): labels
            labels = integers and n_distinct < min(MAX_CLASSES_INFERRED, n_numbers)
            if 2 * n_numbers >= n_present and not labels:
                raise not_numbers()
            return "classification"
        if not integers:
            return "regression"
    elif float_dtype and not (has_missing and integers):
        return "regression"
    if n_distinct <= MAX_CLASSES_INFERRED and n_distinct < n_present - n_bad and not counts:
        return "classification"
    return "regression"


def table_frame(table: Any, pd: Any, what: str = "table") -> Any:
    """``table`` (a DataFrame or a mapping of columns) as a DataFrame with string names,
    durations (``timedelta64`` columns, Arrow's ``duration``) as their seconds.

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
    durations = [c for c in frame.columns if pd.api.types.is_timedelta64_dtype(frame[c])]
    if durations:  # a duration is a number: its seconds (NaT missing)
        frame = frame.assign(**{c: frame[c].dt.total_seconds() for c in durations})
    return frame


def meant_column(name: str, columns: Sequence[str]) -> str | None:
    """The column a name the table lacks may mean: the same name in another case or
    spacing (``Species`` for ``species``), else a near spelling; None."""
    columns = [str(c) for c in columns]
    key = name.casefold().replace(" ", "")
    same = [c for c in columns if c.casefold().replace(" ", "") == key]
    near = same or difflib.get_close_matches(name, columns, n=1, cutoff=0.8)
    return near[0] if near else None


def did_you_mean(name: str, names: Sequence[str]) -> str:
    """``"did you mean 'x'? "`` for a name that ``names`` lack, where :func:`meant_column`
    finds the one it may mean; else nothing."""
    meant = meant_column(name, names)
    return f"did you mean {meant!r}? " if meant else ""


def columns_shown(name: str, columns: Sequence[str]) -> str:
    """``"(columns: [...])"`` for a column ``name`` the table lacks, led by the one it may
    mean (:func:`did_you_mean`)."""
    return f"({did_you_mean(name, columns)}columns: {[str(c) for c in columns][:20]})"


def missing_mask(series: Any, pd: Any) -> np.ndarray:
    """Where ``series`` is missing: NaN, None, or a null spelling (:func:`clean_text`)."""
    return clean_text(series, pd).isna().to_numpy()


def missing_rows_text(name: str, rows: Sequence[int], total: int) -> str:
    """``"column 'x' has missing values in 7 rows (rows 1, 4, ...)"``.

    ``rows`` lists the first (1-based) row numbers; at most ``SHOW`` are shown.
    """
    plural = "s" if total > 1 else ""
    shown = rows_listed(rows, total)
    return f"column {name!r} has missing values in {total} row{plural} (row{plural} {shown})"


def rows_listed(rows: Sequence[int], total: int) -> str:
    """``"1, 4, ..."``: the first (1-based) row numbers of ``total``, at most ``SHOW``."""
    return ", ".join(str(r) for r in rows[:SHOW]) + (", ..." if total > SHOW else "")


def missing_rows_error(name: str, rows: Sequence[int], total: int, hint: str) -> ValueError:
    """The error for ``total`` missing values in column ``name``, then ``hint``."""
    return ValueError(missing_rows_text(name, rows, total) + hint)


def missing_text(name: str, missing: np.ndarray) -> str:
    """:func:`missing_rows_text` for the rows where the mask ``missing`` holds."""
    rows = np.flatnonzero(missing)
    return missing_rows_text(name, row_numbers(rows[:SHOW], len(missing)), len(rows))


def missing_error(name: str, missing: np.ndarray, hint: str) -> ValueError:
    """:func:`missing_rows_error` for the rows where the mask ``missing`` holds."""
    return ValueError(missing_text(name, missing) + hint)


def mode(uniques: Any, counts: Any) -> Any:
    """The value with the largest count; ties go to the smallest (scikit-learn's rule).

    Parameters
    ----------
    uniques : array-like of shape (n_values,)
        Distinct values (numbers or strings).
    counts : array-like of shape (n_values,)
    """
    uniques, counts = np.asarray(uniques), np.asarray(counts)
    return min(uniques[counts == counts.max()].tolist())


def most_frequent(values: np.ndarray) -> Any:
    """The most frequent value; ties go to the smallest (scikit-learn's rule)."""
    return mode(*np.unique(values, return_counts=True))


def class_labels(series: Any, pd: Any) -> np.ndarray:
    """Class labels as a NumPy array: text stays text (object dtype), numbers stay numbers."""
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=bool)
    if pd.api.types.is_integer_dtype(series):
        return series.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(series):
        return series.to_numpy(dtype=np.float64)
    return as_text([str(v).strip() for v in series.astype("object")])
