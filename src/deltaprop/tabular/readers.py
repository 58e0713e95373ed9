"""Reading tables: CSV and TSV (optionally compressed), Parquet, NPZ and Excel into pandas.

:func:`read_table` reads a file into a :class:`pandas.DataFrame`: it sniffs the text
encoding (UTF-8, with or without a byte-order mark; UTF-16 or UTF-32 with one; else
cp1252 / latin-1), the separator (comma, semicolon, tab or bar) and the decimal mark (a
comma where the numbers are written so), strips whitespace from the header and the text
cells, reads the common null spellings as missing values and ``"45%"`` or ``"1,234"`` as
numbers, and makes a Parquet file's named pandas index ordinary columns. It refuses
malformed files (missing, a folder that holds no Parquet files, empty, header only,
ragged rows, duplicate or empty column names) with a ``ValueError`` naming the file and
the problem. The rules are spelled out in ``docs/data.md``. pandas and pyarrow are
optional: ``pip install "deltaprop[data]"`` (openpyxl for ``.xlsx``).
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import lzma
import re
import tokenize
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deltaprop.files.archives import (
    ArchiveError,
    check_expansion,
    check_zip_layout,
    expansion_limit,
    read_bounded,
    read_npy_header,
)
from deltaprop.tabular.columns import (
    DECIMAL,
    FILE_ROWS,
    NESTED_TYPES,
    NULL_SPELLINGS,
    SHOW,
    DataWarning,
    column_names,
    currency_of,
    did_you_mean,
    holds_booleans,
    is_missing_value,
    looks_decimal_comma,
    number_from_text,
    parse_numbers,
    read_written_numbers,
    require_pandas,
    without_currency,
)

__all__ = [
    "MAX_COLUMNS",
    "MAX_FIELD_CHARS",
    "MAX_PREAMBLE_LINES",
    "blank_preamble",
    "column_names",
    "read_table",
    "require_pandas",
    "warn_preamble",
]

#: The longest field of a CSV file, in characters (Python's ``csv`` module's default
#: limit, which deltaprop does not change: it is global to the process).
MAX_FIELD_CHARS = 131_072
#: The most columns a table may have (a single gigantic line would otherwise become
#: millions of columns).
MAX_COLUMNS = 100_000


_INSTALL = 'pip install "deltaprop[data]"'
_OPENERS = {"": open, ".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_CSV_OPENERS = {
    f"{kind}{packed}": opener
    for kind in (".csv", ".tsv", ".txt")
    for packed, opener in _OPENERS.items()
}
_PARQUET_SUFFIXES = (".parquet", ".pq")
_SUFFIXES = (*_CSV_OPENERS, *_PARQUET_SUFFIXES, ".npz", ".xlsx")
_SEPARATORS = (",", ";", "\t", "|")
_SNIFF_CHARS = 65536
_DECIMAL_COMMA = re.compile(r"^[+-]?([0-9]{1,3}(\.[0-9]{3})+|[0-9]+),[0-9]+$")
_DECIMAL_POINT = re.compile(r"^[+-]?[0-9]+\.[0-9]+$")
#: A whole number with points between its thousands (never a leading 0: 0.250 is a decimal).
_THOUSANDS_POINT = re.compile(r"^[+-]?[1-9][0-9]{0,2}(\.[0-9]{3})+$")
#: How many such numbers, and no other number with a point, make ``.`` the thousands mark.
_MIN_GROUPED = 3
# UTF-32's marks first: UTF-32-LE's (FF FE 00 00) starts with UTF-16-LE's (FF FE)
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# what a damaged .npz raises, from its ZIP directory, a member's header (NumPy tokenizes
# it: TokenError) or its data
_NPZ_ERRORS = (
    ValueError,
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    NotImplementedError,
    tokenize.TokenError,
)


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


def read_table(
    path: str | Path,
    sep: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    keep_spelling: Iterable[str] = (),
    sheet: str | None = None,
) -> Any:
    """Read a CSV, TSV, Parquet, NPZ or Excel file into a :class:`pandas.DataFrame`.

    Parameters
    ----------
    path : str or path-like
        ``.csv``, ``.tsv`` or ``.txt`` (optionally ``.gz``, ``.bz2``, ``.xz``
        compressed): text, the first line names the columns; a first header cell left
        empty (the index column pandas writes) is named ``"Unnamed: 0"``. ``.parquet`` /
        ``.pq`` or a folder of Parquet files: a named pandas index (as
        ``df.set_index("date").to_parquet(path)`` writes it) becomes the first
        column(s), an unnamed one is dropped. ``.npz``: one 1-D array per column, named
        by the column (see ``docs/data.md``). ``.xlsx``: the first sheet that holds a
        table (a header and a row of data; needs openpyxl), or ``sheet``.
    sep : str, optional
        The field separator; default: sniffed among ``,`` ``;`` tab ``|`` (tab for
        ``.tsv``).
    decimal : {".", ","}, optional
        The decimal mark; default: a comma where the numbers of a file not separated by
        commas are written ``1,5`` (then ``.`` separates thousands), else a point.
    encoding : str, optional
        The text encoding; default: UTF-16 or UTF-32 when the file starts with their
        byte-order mark (Excel's "Unicode Text"), else UTF-8 (a byte-order mark is
        dropped), else cp1252 (latin-1 where cp1252 cannot decode a byte).
    keep_spelling : iterable of str, optional
        Columns kept as text even where they read as numbers (stripped, null spellings
        None): identifiers and codes as written (``00983057``, not 983057). Names not in
        the file are ignored. (The decimal mark used is ``frame.attrs[DECIMAL]``, for
        :func:`numbers_or_text` to read them as numbers later.)
    sheet : str, optional
        The sheet of an ``.xlsx`` file to read, by name (an error for other files).

    Returns
    -------
    pandas.DataFrame
        One row per data row, columns named as in the file (strings without surrounding
        whitespace), at least one row. Text cells are stripped, null spellings
        (``NA``, ``N/A``, ``null``, ``?``, ``-``, empty, ...) are missing, and a text
        column whose every present value is a number (``"45%"``, ``"1,234"``) is numbers.

    Raises
    ------
    ValueError
        Naming the file and the problem: missing file, unknown extension, a folder
        without Parquet files, empty file, header without data rows, ragged rows (the
        line and field counts), duplicate or empty column names, unreadable content,
        a bad ``sep``, ``decimal`` or ``encoding``.
    ImportError
        When pandas (or pyarrow, for Parquet; openpyxl, for Excel) is not installed.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> _ = open(path, "w").write("x,colour\\n1.5,red\\n2.5,blue\\n")
    >>> read_table(path)
         x colour
    0  1.5    red
    1  2.5   blue
    >>> _ = open(path, "w").write("price; paid ;colour\\n1.234,5;45%; red \\n7,25;NA;blue\\n")
    >>> read_table(path)
         price  paid colour
    0  1234.50  45.0    red
    1     7.25   NaN   blue
    """
    pd = require_pandas()
    path = Path(path)
    _check_options(sep, decimal, encoding)
    keep_spelling = tuple(keep_spelling)
    if sheet is not None and _suffix(path) != ".xlsx":
        raise ValueError(
            f"sheet={sheet!r} (--sheet) names a sheet of an .xlsx file; {str(path)!r} is none"
        )
    typed = True  # Parquet and NPZ: a row without values was written as such
    if not path.exists():
        raise ValueError(f"{str(path)!r}: no such file or folder")
    if path.is_dir():
        _check_parquet_folder(path)
        frame = _read_parquet(path, pd)
        decimal = "."
    else:
        suffix = _suffix(path)
        if suffix not in _SUFFIXES:
            raise ValueError(
                f"{str(path)!r}: unknown file type {suffix or '(no extension)'!r}; "
                f"expected one of {list(_SUFFIXES)} or a folder of Parquet files"
            )
        if path.stat().st_size == 0:
            raise ValueError(f"{str(path)!r}: the file is empty")
        typed = suffix not in _CSV_OPENERS and suffix != ".xlsx"
        if suffix in _CSV_OPENERS:
            frame, decimal = _read_csv(path, suffix, pd, sep, decimal, encoding)
        elif suffix == ".npz":
            frame = _read_npz(path, pd)
        elif suffix == ".xlsx":
            frame = _read_excel(path, pd, sheet)
        else:
            frame = _read_parquet(path, pd)
    if frame.shape[1] == 0:
        raise ValueError(f"{str(path)!r}: the file has no columns")
    if frame.shape[0] == 0:
        raise ValueError(f"{str(path)!r}: the file has a header but no data rows")
    nested = frame.attrs.get(NESTED_TYPES, {})
    original = list(frame.columns)
    frame.columns = column_names(original, str(path))
    units: dict[str, str] = {}
    read = tidy(frame, pd, decimal or ".", keep_spelling, units)
    if not typed:
        read = _without_empty_rows(read, str(path), keep_spelling)
        read, units = _without_end_matter(read, frame, str(path), pd, decimal, keep_spelling, units)
    units_warning(units)
    frame = read
    if nested:  # kept with the table, so that its roles name the Arrow types
        renamed = dict(zip(original, frame.columns, strict=True))
        frame.attrs[NESTED_TYPES] = {renamed[k]: v for k, v in nested.items() if k in renamed}
    return frame


def _without_end_matter(
    read: Any,
    frame: Any,
    where: str,
    pd: Any,
    decimal: str | None,
    keep_spelling: tuple,
    units: dict[str, str],
) -> tuple[Any, dict[str, str]]:
    """``read`` (``frame`` as :func:`tidy` made it) without the rows :func:`end_matter`
    finds, read again without them (a column that its ``Total`` made text is numbers
    again), and the units of that reading. When rows between data rows go, the file's
    data rows left out are ``attrs[FILE_ROWS]``, for messages."""

    def as_numbers(read: Any) -> list[np.ndarray]:
        # the columns kept as written (a target, IDs) as numbers where they read so: a
        # target's subtotals are totals too
        spelled = set(keep_spelling)
        return [
            _numbers_or_text(read[c], pd, decimal or ".", c, {}).to_numpy()
            if c in spelled
            else read[c].to_numpy()
            for c in read.columns
        ]

    columns = as_numbers(read)
    rows = np.arange(len(read))  # the file's data rows read
    for _ in range(3):  # a header again made a column text: its totals show once read
        keep, notes, summaries, headers = end_matter(columns, list(read.columns))
        if not (notes or summaries or headers):
            break
        end_matter_warning(where, columns, notes, summaries, headers, rows)
        units, rows = {}, rows[keep]
        raw = frame.iloc[rows].reset_index(drop=True)
        read = tidy(raw, pd, decimal or ".", keep_spelling, units)
        columns = as_numbers(read)
    if rows[-1] + 1 != len(rows):  # rows left out between data rows
        read.attrs[FILE_ROWS] = np.setdiff1d(np.arange(rows[-1]), rows).tolist()
    return read, units


def _without_empty_rows(frame: Any, where: str, keep_spelling: Iterable[str]) -> Any:
    """``frame`` (as :func:`tidy` made it) without the rows after its last value.

    A spreadsheet saved as text keeps rows it once used as ``,,,,`` lines (or rows of
    ``NA``) below its data: they are no data, as the blank lines pandas skips are none.
    They are named in a :class:`DataWarning`, and the columns they alone made float64 are
    int64 again, as :func:`tidy` reads the same file without them. A row without values
    between data rows stays, so that row numbers are the file's.
    """
    empty = frame.isna().to_numpy().all(axis=1)
    if not empty[-1]:
        return frame
    if empty.all():
        raise ValueError(f"{where!r}: the file has a header but no values in its rows")
    n_kept = int(np.flatnonzero(~empty)[-1]) + 1
    empty_rows_warning(where, n_kept, len(frame))
    return _first_rows(frame, n_kept, keep_spelling)


def _first_rows(frame: Any, n_kept: int, keep_spelling: Iterable[str]) -> Any:
    """The first ``n_kept`` rows of ``frame`` (as :func:`tidy` made it), read as
    :func:`tidy` reads them alone: a float64 column of whole numbers is int64 again."""
    kept = frame.iloc[:n_kept].reset_index(drop=True)
    keep = set(keep_spelling)
    for name in kept.columns:
        values = kept[name].to_numpy()
        if name not in keep and values.dtype == np.float64 and _whole(values):
            kept[name] = values.astype(np.int64)
    return kept


#: A summary row's label, its first value: ``Total``, ``Totals``, ``Total sales``,
#: ``Total (EUR)``, ``Subtotal A``, ``Grand total``, ``Sum``, ``Overall``; ``Average`` and
#: ``Mean`` hold means.
_SUMMARY = re.compile(r"(sub[- ]?totals?|grand total|totals?|sum|overall|average|mean)\b", re.I)
_MEAN_LABEL = re.compile(r"(average|mean)\b", re.I)
_SUMMARY_IN_TEXT = re.compile("\0" + _SUMMARY.pattern, re.I)  # labels joined by NULs


def end_matter(
    columns: list[np.ndarray], names: Sequence[str] = ()
) -> tuple[np.ndarray, list[int], list[int], list[int]]:
    """Which rows of a text export's tidied ``columns`` (named ``names``) are its data:
    not the notes under the table, nor the rows that summarise the rows above them, nor
    the header written again (two exports joined, two tables one under the other).

    - A **summary row** has a label such as ``Total``, ``Total sales``, ``Subtotal A``,
      ``Grand total``, ``Average`` as its first value, and in one numeric column at least
      the sum (the mean, for ``Average`` or ``Mean``) of the data rows above it, since the
      previous summary row or since the first row (a grand total), to 0.1 % for rounded
      exports.
    - A **note** follows the table's last data row (blank rows between them too): text
      in the first cell alone, that starts as notes do (``Source: ERP export``,
      ``Note``, ``* preliminary``, ``(1)``) or is a sentence of 4 words or more under
      values of 2 words or fewer.
    - A **header again**: a row whose every cell is its column's name (two of them at
      least).

    Returns
    -------
    keep : ndarray of bool, shape (n_rows,)
    notes, summaries, headers : list of int
        The 0-based rows left out as notes, as summary rows, as headers again.
    """
    n = len(columns[0]) if columns else 0
    keep = np.ones(n, dtype=bool)
    if n < 3 or len(columns) < 2:
        return keep, [], [], []

    labels, counts = _first_values(columns)
    headers = _headers_again(columns, names)
    keep[headers] = False
    summaries = _summary_rows(columns, labels, counts)
    keep[summaries] = False
    notes: list[int] = []
    for i in range(n - 1, 0, -1):  # from the end, over blank rows and summary rows
        if not keep[i] or not counts[i]:
            continue
        if counts[i] != 1 or not _is_note(columns[0], i):  # (a text in the first cell alone)
            break
        notes.append(i)
    last = n - 1  # the last data row: what follows it (blank rows too) is no data
    while last > 0 and (not keep[last] or last in notes or not counts[last]):
        last -= 1
    keep[last + 1 :] = False
    if not keep.any():
        return np.ones(n, dtype=bool), [], [], []
    return keep, sorted(notes), summaries, headers


#: How a note under a table starts: ``Source:``, ``Note``, ``* preliminary``, ``(1)``.
_NOTE_START = re.compile(
    r"(sources?|notes?|n\.?b\.?|footnotes?|remarks?|compiled|prepared|copyright|last updated"
    r"|updated|generated|exported|created)\b|[*†‡¹²³©]|\(\d{1,2}\)|\[\d{1,2}\]",
    re.I,
)


def _is_note(column: np.ndarray, i: int) -> bool:
    """Whether the first column's cell ``i``, alone in its row under the table, reads as a
    note: it starts as notes do (``Source:``, ``Note``, ``*``), or it is a sentence (4
    words or more) in a column of short values (2 words or fewer, most of them)."""
    cell = column[i]
    if not isinstance(cell, str):
        return False
    if _NOTE_START.match(cell.strip()):
        return True
    if len(cell.split()) < 4:
        return False
    words = [len(v.split()) for v in column[:i] if isinstance(v, str)]
    return bool(words) and float(np.median(words)) <= 2


def _first_values(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The first value of each row that is not missing (None where none is), and how
    many values each row holds."""
    labels = np.empty(len(columns[0]), dtype=object)
    unset = np.ones(len(labels), dtype=bool)
    counts = np.zeros(len(labels), dtype=np.intp)
    for column in columns:
        if column.dtype == object:  # (None, or NaN, which differs from itself)
            filled = np.array([v is not None for v in column], dtype=bool) & (column == column)
        elif column.dtype.kind in "fc":
            filled = ~np.isnan(column)
        else:
            filled = np.ones(len(column), dtype=bool)
        take = unset & filled
        labels[take] = column[take]
        unset &= ~take
        counts += filled
    return labels, counts


def _headers_again(columns: list[np.ndarray], names: Sequence[str]) -> list[int]:
    """The rows of :func:`end_matter` that write the header again."""
    if len(names) != len(columns) or len(columns) < 2:
        return []
    keys = [str(name).strip() for name in names]
    if columns[0].dtype != object:
        return []
    again = []
    for i in np.flatnonzero(columns[0] == keys[0]):
        if all(c[i] == k for c, k in zip(columns, keys, strict=True)):
            again.append(int(i))
    return again


#: The most rows labelled like summaries that :func:`end_matter` checks (a column of
#: such words is data, not a report's totals).
_MAX_SUMMARY_CANDIDATES = 200


def _summary_rows(columns: list[np.ndarray], labels: np.ndarray, counts: np.ndarray) -> list[int]:
    """The summary rows of :func:`end_matter`, in order (``labels``, ``counts``: each
    row's first value, its label, and how many values it holds: :func:`_first_values`)."""
    numbers = [c.astype(np.float64) for c in columns if c.dtype.kind in "if"]
    if not numbers:
        return []
    # one scan of all labels, joined: a loop over the rows in Python cost 0.1 s a 200,000
    text = "\0" + "\0".join(v if isinstance(v, str) else "" for v in labels)
    starts = np.cumsum([0] + [1 + (len(v) if isinstance(v, str) else 0) for v in labels])
    candidates = []
    for match in _SUMMARY_IN_TEXT.finditer(text):
        i = int(np.searchsorted(starts, match.start(), side="right")) - 1
        candidates.append((i, bool(_MEAN_LABEL.match(match.group(1)))))
        if len(candidates) > _MAX_SUMMARY_CANDIDATES:
            return []
    sums = _RunningSums(numbers)
    # the last data row: of two values or more, and not labelled like a summary
    labelled = {i for i, _ in candidates}
    rows_of_data = np.flatnonzero(counts > 1)
    last_data = next((int(i) for i in rows_of_data[::-1] if int(i) not in labelled), -1)
    summaries: list[int] = []
    for i, mean in candidates:
        if mean and i < last_data:
            continue  # an average among data rows: a mean by chance, more likely data
        since = (summaries[-1] + 1 if summaries else 0, 0)  # since the last summary; all
        if mean:  # every number of the row a mean: one mean may be chance (a year's)
            present = [values for values in numbers if np.isfinite(values[i])]
            found = bool(present) and any(
                all(_summarises(values, i, _data_rows(i, a, summaries), True) for values in present)
                for a in since
            )
        else:  # a sum: told from running sums first (a table may hold 200 candidates)
            found = any(
                sums.matches(j, i, a, summaries)
                and _summarises(numbers[j], i, _data_rows(i, a, summaries), False)
                for j in range(len(numbers))
                for a in since
            )
        if found:
            summaries.append(i)
    return summaries


def _data_rows(i: int, start: int, summaries: list[int]) -> np.ndarray:
    """Which rows above row ``i`` count: from ``start`` on, the summary rows left out."""
    rows = np.zeros(i, dtype=bool)
    rows[start:] = True
    rows[[s for s in summaries if s < i]] = False
    return rows


class _RunningSums:
    """Running sums of numeric columns' finite values, for :func:`_summary_rows`."""

    def __init__(self, numbers: list[np.ndarray]) -> None:
        self.numbers = numbers
        with np.errstate(over="ignore", invalid="ignore"):  # 1e308s: inf, which matches nothing
            self.sums = [
                np.concatenate([[0.0], np.cumsum(np.where(np.isfinite(v), v, 0.0))])
                for v in numbers
            ]

    def matches(self, j: int, i: int, start: int, summaries: list[int]) -> bool:
        """Whether column ``j``'s row ``i`` is about the sum of the rows ``start .. i - 1``
        that are no summaries (to 1 %: :func:`_summarises` then checks exactly)."""
        values = self.numbers[j]
        total = float(values[i])
        if not np.isfinite(total):
            return False
        inside = [s for s in summaries if start <= s < i and np.isfinite(values[s])]
        with np.errstate(over="ignore", invalid="ignore"):
            expected = float(self.sums[j][i] - self.sums[j][start] - np.sum(values[inside]))
            return expected != 0.0 and abs(total - expected) <= 1e-2 * abs(expected)


def _summarises(values: np.ndarray, i: int, rows: np.ndarray, mean: bool) -> bool:
    """Whether ``values[i]`` is the sum (or mean) of ``values[:i][rows]``, to 0.1 %."""
    above = values[:i][rows]
    above = above[np.isfinite(above)]
    total = float(values[i])
    if len(above) < 2 or not np.isfinite(total):
        return False
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing sum matches nothing
        expected = float(np.mean(above) if mean else np.sum(above))
        if not mean and abs(total) <= np.max(np.abs(above)):
            return False  # a sum of one value and zeros (0/1 flags): no evidence of a total
        return expected != 0.0 and abs(total - expected) <= 1e-3 * abs(expected)


def end_matter_warning(
    where: str,
    columns: list[np.ndarray],
    notes: list[int],
    summaries: list[int],
    headers: list[int],
    file_rows: np.ndarray | None = None,
) -> None:
    """The :class:`DataWarning` for the rows :func:`end_matter` leaves out (``columns``'
    row ``i`` is the file's data row ``file_rows[i] + 1``)."""

    def number(i: int) -> int:
        return i + 1 if file_rows is None else int(file_rows[i]) + 1

    def shown(i: int) -> str:
        values = [c[i].item() if isinstance(c[i], np.generic) else c[i] for c in columns[:5]]
        return ", ".join(repr(v) for v in values if not is_missing_value(v))

    if not notes and not headers and summaries == [len(columns[0]) - 1]:
        i = summaries[0]
        label = next((v for v in (c[i] for c in columns) if isinstance(v, str)), "")
        what = "means" if _MEAN_LABEL.match(label.strip()) else "sums"
        said = (
            f"the last row (data row {number(i)}: {shown(i)}, ...) holds the {what} of the "
            "columns above it: left out as a totals row"
        )
    else:
        said = ""
        if summaries:
            rows = "; ".join(f"data row {number(i)} ({shown(i)}, ...)" for i in summaries[:SHOW])
            more = f" and {len(summaries) - SHOW} more" if len(summaries) > SHOW else ""
            said = (
                f"{len(summaries)} row(s) hold the sums (or means) of the rows above them: "
                f"left out as totals rows: {rows}{more}"
            )
        if notes:
            texts = "; ".join(f"data row {number(i)} ({shown(i)})" for i in notes[:SHOW])
            said += ("; " if said else "") + (
                f"{len(notes)} row(s) under the table hold text in one cell alone: left out "
                f"as notes: {texts}"
            )
        if headers:
            rows = ", ".join(str(number(i)) for i in headers[:SHOW])
            said += ("; " if said else "") + (
                f"data row(s) {rows} repeat the header (files joined, or tables one under "
                "the other?): left out"
            )
    warnings.warn(f"{where!r}: {said}", DataWarning, stacklevel=4)


def _whole(numbers: np.ndarray) -> bool:
    """Whether float64 ``numbers`` are all integers below 2**53 (none NaN): tidy's int64 rule."""
    return bool(np.all(np.abs(numbers) < 2.0**53) and np.all(numbers == np.round(numbers)))


def empty_rows_warning(where: str, n_kept: int, n_rows: int) -> None:
    """The :class:`DataWarning` for the data rows after row ``n_kept`` (of ``n_rows``),
    left out as rows without values."""
    first, last = n_kept + 1, n_rows
    rows = f"data row {first}" if first == last else f"data rows {first}-{last}"
    warnings.warn(
        f"{where!r}: {last - n_kept} row(s) without any value at the end of the file left "
        f"out ({rows})",
        DataWarning,
        stacklevel=4,
    )


def _check_parquet_folder(path: Path) -> None:
    """A folder is read as one Parquet dataset: it must hold Parquet files and nothing else.

    Hidden files and those starting with ``_`` (``_SUCCESS``, ``_metadata``) are skipped, as
    pyarrow skips them. The walk stops at the first file that answers the question.
    """
    found_parquet, other = False, None
    for file in path.rglob("*"):
        if not file.is_file() or file.name.startswith((".", "_")):
            continue
        if file.name.lower().endswith(_PARQUET_SUFFIXES):
            found_parquet = True
        else:
            other = file
            break
    usage = "pass a file (.csv, .tsv, .parquet, .npz, .xlsx) or a folder of Parquet files"
    if other is not None:
        raise ValueError(
            f"{str(path)!r} is a folder, not a table file, and not a Parquet dataset: it holds "
            f"{str(other.relative_to(path))!r}, which is not a Parquet file; {usage}"
        )
    if not found_parquet:
        raise ValueError(
            f"{str(path)!r} is a folder, not a table file, and it holds no Parquet files; {usage}"
        )


def _check_options(sep: str | None, decimal: str | None, encoding: str | None) -> None:
    if sep is not None and (not isinstance(sep, str) or len(sep) != 1 or sep in '"\r\n'):
        raise ValueError(f"sep must be one character (not a quote or newline), got {sep!r}")
    if decimal not in (None, ".", ","):
        raise ValueError(f"decimal must be '.' or ',', got {decimal!r}")
    if encoding is not None:
        try:
            "".encode(encoding)
        except (LookupError, TypeError):
            raise ValueError(f"encoding {encoding!r} is not a known text encoding") from None


def tidy(
    frame: Any,
    pd: Any,
    decimal: str = ".",
    keep_spelling: Iterable[str] = (),
    units: dict[str, str] | None = None,
) -> Any:
    """Text cells stripped, null spellings missing, text columns of numbers as numbers.

    A text column whose every present value reads as a number (``"45%"`` as 45,
    ``"1,234"`` as 1234, ``"1.234,5"`` as 1234.5 with ``decimal=","``) becomes float64
    (int64 when they are integers and none is missing), except the columns of
    ``keep_spelling``, which stay text (:func:`numbers_or_text` reads them later).
    Columns of numbers written with a unit are named in a :class:`DataWarning`, or in
    ``units`` (name: unit) when it is given.
    """
    keep = set(keep_spelling)
    out = {}
    said = units is None
    units = {} if units is None else units
    for name in frame.columns:
        series = frame[name]
        if holds_booleans(series, pd):  # a workbook's TRUE/FALSE cells, as in Parquet
            missing = series.isna().to_numpy()
            series = series.astype(bool) if not missing.any() else series.where(~missing, None)
        elif series.dtype == object or pd.api.types.is_string_dtype(series):
            series = (
                stripped_text(series, pd)
                if name in keep
                else _numbers_or_text(series, pd, decimal, name, units)
            )
        out[name] = series.reset_index(drop=True)
    tidied = pd.DataFrame(out)
    tidied.attrs[DECIMAL] = decimal
    if said:
        units_warning(units)
    return tidied


def units_warning(units: dict[str, str]) -> None:
    """The :class:`DataWarning` for columns of numbers written with a unit (``name: unit``),
    for columns of text that look like numbers with a decimal comma in a table read
    with a decimal point (``name: ","``), and for columns of numbers in several currencies
    (``name: "¤$, €"``)."""
    with_units = {name: unit for name, unit in units.items() if unit != "," and unit[:1] != "¤"}
    commas = [name for name, unit in units.items() if unit == ","]
    mixed = {name: unit[1:] for name, unit in units.items() if unit[:1] == "¤"}
    said = []
    if mixed:
        shown = ", ".join(f"{name!r} ({marks})" for name, marks in list(mixed.items())[:SHOW])
        said.append(
            f"column(s) {shown} write their numbers in several currencies: read as the "
            "numbers written, not converted (convert them, or split the column by currency)"
        )
    if with_units:
        shown = ", ".join(f"{name!r} ({unit})" for name, unit in list(with_units.items())[:SHOW])
        more = f" and {len(with_units) - SHOW} more" if len(with_units) > SHOW else ""
        said.append(f"column(s) {shown}{more} write their numbers with a unit: read as the numbers")
    if commas:
        shown = ", ".join(map(repr, commas[:SHOW]))
        more = f" and {len(commas) - SHOW} more" if len(commas) > SHOW else ""
        said.append(
            f"column(s) {shown}{more} look like numbers written with a decimal comma (1,5): "
            "read as text; give the file's decimal mark (--decimal , or decimal=',') to read "
            "them as numbers"
        )
    if said:
        warnings.warn("; ".join(said), DataWarning, stacklevel=4)


def stripped_text(series: Any, pd: Any) -> Any:
    """A text column's cells stripped, null spellings None (object dtype)."""
    values = series.astype("object").to_numpy()
    cleaned = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        if isinstance(value, str):
            text = value.strip()
            value = None if text.lower() in NULL_SPELLINGS else text
        cleaned[i] = value
    return pd.Series(cleaned, dtype=object)


def numbers_or_text(series: Any, pd: Any, decimal: str = ".") -> Any:
    """A text column as :func:`tidy` reads it: numbers when every present value reads as
    one (int64 when all are integers below 2**53 and none is missing; accounting's
    ``(12)`` beside plain numbers is -12, ``6.61 mm`` beside ``5 mm`` is 6.61), else
    stripped text.
    """
    return _numbers_or_text(series, pd, decimal, "", {})


def _numbers_or_text(series: Any, pd: Any, decimal: str, name: str, units: dict) -> Any:
    """:func:`numbers_or_text`, recording in ``units[name]`` a unit it left out."""
    texts: set[str] = set()  # those pandas did not read as numbers
    numbers, missing = parse_numbers(series, pd, decimal, written=False, unparsed=texts)
    present = ~missing
    bad = present & np.isnan(numbers)
    if bad.any():
        cells = series.to_numpy(dtype=object)
        how = read_written_numbers(cells, numbers, bad, decimal)
        if how is None:
            if decimal == "." and 2 * bad.sum() >= present.sum() and looks_decimal_comma(cells):
                units[name] = ","  # said, not read: the file's mark is the user's to give
            return stripped_text(series, pd)
        if how != "()":
            units[name] = how
    if not present.any():
        return stripped_text(series, pd)
    written = {c for c in map(currency_of, texts) if c is not None}
    if len(written) > 1:  # $12 beside €12: not one quantity, and said
        units[name] = "¤" + ", ".join(sorted(written))
    integers = not missing.any() and _whole(numbers)
    return pd.Series(numbers.astype(np.int64) if integers else numbers)


def _decode(path: Path, suffix: str, encoding: str | None) -> str:
    """The file's text in ``encoding``; else in UTF-32 or UTF-16 when it starts with their
    byte-order mark (Excel's "Unicode Text" is UTF-16), else UTF-8, else cp1252 / latin-1.
    A byte-order mark is dropped."""
    where = str(path)
    try:
        with _CSV_OPENERS[suffix](path, "rb") as raw:
            if _CSV_OPENERS[suffix] is open:
                data = raw.read()
            else:  # inflated at most to the expansion limit (no gzip or bzip2 bomb)
                limit = expansion_limit(path.stat().st_size)
                data = read_bounded(raw, limit, repr(where), "the text")
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:  # zlib: a damaged .gz
        raise ValueError(f"{where!r}: cannot read the file: {exc}") from None
    if encoding is not None:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"{where!r}: not {encoding} text ({exc.reason} at byte {exc.start})"
            ) from None
    for bom, bom_encoding in _BYTE_ORDER_MARKS:
        if data.startswith(bom):  # the codec reads the byte order from the mark, and drops it
            claim = f"starts with a {bom_encoding.upper()} byte-order mark"
            return _decoded_as_claimed(data, bom_encoding, where, claim)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    unmarked = _utf16_without_mark(data)
    if unmarked is not None:
        claim = f"looks like {unmarked.upper()} text without a byte-order mark"
        return _decoded_as_claimed(data, unmarked, where, claim)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # every byte is a latin-1 character


def _decoded_as_claimed(data: bytes, encoding: str, where: str, claim: str) -> str:
    """``data`` in the ``encoding`` its first bytes ``claim``, or the error saying so."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{where!r}: {claim} but is not {encoding.upper()} text ({exc.reason} at byte "
            f"{exc.start}); pass the encoding it is written in (encoding=, --encoding)"
        ) from None


def _utf16_without_mark(data: bytes) -> str | None:
    """``"utf-16-le"`` or ``"utf-16-be"`` for UTF-16 text written without its byte-order
    mark (``to_csv(encoding="utf-16-le")`` writes none), else None.

    Such text holds a zero byte beside every Latin letter, digit and separator: after each
    (little-endian) or before each (big-endian). UTF-8 and the one-byte encodings hold none.
    """
    head = data[: 4096 - 4096 % 2] if len(data) >= 2 else b""
    if len(head) < 2:
        return None
    even, odd = head[0::2], head[1::2]
    zeros_even, zeros_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if zeros_odd >= 0.5 and zeros_even < 0.05:
        return "utf-16-le"
    if zeros_even >= 0.5 and zeros_odd < 0.05:
        return "utf-16-be"
    return None


def _records(text: str, sep: str, limit: int | None = None) -> list[list[str]]:
    """The first ``limit`` non-blank records of ``text`` split at ``sep``."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    rows = []
    try:
        for row in reader:
            if row:
                rows.append(row)
            if limit is not None and len(rows) >= limit:
                break
    except csv.Error:
        pass
    return rows


#: The most lines before the header that a CSV file may have (a title, a date, a note).
MAX_PREAMBLE_LINES = 10


def blank_preamble(text: str, sep: str | None = None) -> tuple[str, list[str]]:
    """The text with the lines before its header blanked, and those lines.

    Exports often open with a title or a note (``Sales report, exported 2024-05-01``)
    above the header. Such lines are recognised when, once they are left out, the
    sample's every record has the same field count (more than one) for a separator
    (``sep``, or one of ``, ; tab |``), each of them has at least two fields fewer than
    that (or, fewer, starts with ``#``), and the line then first is a header (no cell
    of it is a number). A spreadsheet saved as CSV pads its title to the table's width
    (``Sales report,,,``): a line with text in one field only and empty fields for the
    rest is a title too, in a table of 3 columns or more. At most
    :data:`MAX_PREAMBLE_LINES` lines. They are blanked, not removed, so that line
    numbers in later messages stay those of the file; blank lines are skipped.

    Returns
    -------
    text : str
        ``text`` itself when there is no such line.
    lines : list of str
        The blanked lines that were not blank, as they were.
    """
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    lines = sample.split("\n", MAX_PREAMBLE_LINES + 1)
    separators = _SEPARATORS if sep is None else (sep,)
    for k in range(MAX_PREAMBLE_LINES + 1):
        if k >= len(lines) - 1:
            break
        if k and not lines[k - 1].strip():
            continue  # a blank line changes nothing: the next k has the same records
        body = sample[sum(len(line) + 1 for line in lines[:k]) :]
        for s in separators:
            rows = _records(body, s, 200)
            width = len(rows[0]) if rows else 0
            if width < 2 or any(len(r) != width for r in rows):
                continue
            if k == 0:
                if not _padded_title(rows[0], width):
                    return text, []  # the first record is the header
                continue  # a title padded to the table's width: try the next line
            skipped = [line for line in lines[:k] if _used(line, s)]
            titles = all(_is_title(line, s, width) for line in skipped)
            names = not any(_is_number(cell) for cell in rows[0])
            if titles and names and not _padded_title(rows[0], width):
                shown = [line.strip().rstrip(s).strip() for line in skipped]
                return "\n" * k + text.split("\n", k)[k], shown
    return text, []


def _is_title(line: str, sep: str, width: int) -> bool:
    """Whether ``line``, above a table of ``width`` fields, reads as a title or a note.

    Narrower than the table: at least two fields fewer once empty fields at its end are
    left out (a header one field short is R's row names, or rows with a trailing
    separator), or fewer and starting with ``#``. As wide or wider: a spreadsheet's
    title row, padded with separators (:func:`_padded_title`).
    """
    records = _records(line, sep, 1)
    cells = records[0] if records else []
    if len(cells) >= width:
        return _padded_title(cells, width)
    return _filled(cells) <= width - 2 or line.lstrip().startswith("#")


def _padded_title(cells: list[str], width: int) -> bool:
    """A record of a table of 3 fields or more with text in one field only: a title
    padded to the table's width (``Sales report,,,``). A header names two columns or
    more (``name,city,,`` is a header whose last columns lack names)."""
    return width >= 3 and sum(1 for cell in cells if cell.strip()) <= 1


def _used(line: str, sep: str) -> int:
    """The fields of ``line`` up to its last non-empty one (0 for a blank line)."""
    records = _records(line, sep, 1)
    return _filled(records[0]) if records else 0


def _filled(cells: list[str]) -> int:
    """The number of ``cells`` up to the last non-empty one."""
    n = len(cells)
    while n and not cells[n - 1].strip():
        n -= 1
    return n


def _is_number(cell: str) -> bool:
    return bool(np.isfinite(number_from_text(cell))) if cell.strip() else False


def sniff_separator(text: str) -> str:
    """The separator among ``, ; tab |`` that splits the sample's lines most evenly.

    A separator that gives every sampled line the header's field count (more than one)
    wins, the one with most fields among those; without one, the one that splits the
    header most. The sample is the first 64 KB (its last, maybe cut, line ignored).
    """
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    best, best_key = ",", (False, 0)
    for sep in _SEPARATORS:
        rows = _records(sample, sep, 200)
        if not rows:
            continue
        width = len(rows[0])
        key = (width > 1 and all(len(r) == width for r in rows), width)
        if key > best_key:
            best, best_key = sep, key
    return best


def sniff_decimal(text: str, sep: str) -> str:
    """``","`` when the sample writes more numbers as ``1,5`` than as ``1.5`` (not for ``,``),
    or, separated by ``;``, writes no decimal comma and every number with a point as
    thousands (``4.733``, ``12.500``, ``1.250.000``: a German or Dutch export of whole
    numbers, where ``0.250`` or ``1.5`` would be decimals)."""
    if sep == ",":
        return "."
    comma = point = grouped = 0
    for row in _records(text[:_SNIFF_CHARS], sep, 200)[1:]:
        for cell in row:
            cell = without_currency(cell.strip()).removesuffix("%").rstrip()
            comma += bool(_DECIMAL_COMMA.match(cell))
            if _THOUSANDS_POINT.match(cell):
                grouped += 1
            elif _DECIMAL_POINT.match(cell):
                point += 1
    if comma > point:  # 1.250.000 beside 1,5: thousands, the comma a decimal mark
        return ","
    if sep == ";" and comma == point == 0 and grouped >= _MIN_GROUPED:
        return ","
    return "."


def thousands_warning(text: str, sep: str, where: str) -> None:
    """A DataWarning when :func:`sniff_decimal` read points as thousands because every
    number with a point groups thousands (``4.733``): a column of prices 1.650, 1.659
    with three decimals would be read 1650, 1659, and the user must know."""
    if sep != ";":
        return
    examples = []
    for row in _records(text[:_SNIFF_CHARS], sep, 200)[1:]:
        for cell in row:
            cell = without_currency(cell.strip()).removesuffix("%").rstrip()
            if _DECIMAL_COMMA.match(cell):
                return  # the decimal comma decided
            if _THOUSANDS_POINT.match(cell) and len(examples) < 3:
                examples.append(cell)
    if examples:
        warnings.warn(
            f"{where!r}: every number with a point groups thousands ({', '.join(examples)}): "
            "'.' read as the thousands mark; if it is the decimal mark, pass --decimal . "
            "(decimal='.')",
            DataWarning,
            stacklevel=4,
        )


def _read_csv(
    path: Path, suffix: str, pd: Any, sep: str | None, decimal: str | None, encoding: str | None
) -> tuple[Any, str]:
    """Check the header and the field count of every line (pandas pads short rows), parse.

    Returns the frame (all text) and the decimal mark used.
    """
    where = str(path)
    text = _decode(path, suffix, encoding)
    if sep is None and suffix.startswith(".tsv"):
        sep = "\t"
    text, preamble = blank_preamble(text, sep)
    if sep is None:
        sep = sniff_separator(text)
    if decimal is None:
        decimal = sniff_decimal(text, sep)
        if decimal == ",":
            thousands_warning(text, sep, where)
    empty = _check_fields(text, sep, where)
    warn_preamble(where, preamble)
    try:
        frame = pd.read_csv(
            io.StringIO(text, newline=""),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            engine="c",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise ValueError(f"{where!r}: cannot parse the table: {exc}") from None
    if empty:
        dropped = set(empty) | set(_second_tables(frame, empty, where))
        frame = frame.iloc[:, [i for i in range(frame.shape[1]) if i not in dropped]]
    names = list(frame.columns)
    if names and not str(names[0]).strip():
        names[0] = "Unnamed: 0"  # the index column that pandas' to_csv writes
        frame.columns = names
    return frame, decimal


def warn_preamble(where: str, lines: list[str], unit: str = "line") -> None:
    """A :class:`DataWarning` naming the lines (or rows) read as a title above the header."""
    if lines:
        shown = "; ".join(repr(line[:60]) for line in lines[:3])
        more = f" and {len(lines) - 3} more" if len(lines) > 3 else ""
        warnings.warn(
            f"{where!r}: {len(lines)} {unit}(s) above the header left out as a title: "
            f"{shown}{more}",
            DataWarning,
            stacklevel=3,
        )


def _check_fields(text: str, sep: str, where: str) -> list[int]:
    """Header names present and distinct, every row as long as the header.

    Returns the positions of the columns without a name and without a value (a
    spreadsheet's empty columns, saved as ``a,b,,``), which the readers leave out with a
    warning; a column without a name that holds a value is an error.
    """
    n_fields = 0
    n_rows = 0
    header_line, header = 0, ""
    unnamed: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip() and n_fields != 1):
                continue  # a blank line, skipped by pandas too
            if n_fields == 0:
                header_line, header = reader.line_num, sep.join(row)
                names = [name.strip() for name in row]
                unnamed = [i for i, name in enumerate(names) if not name and i > 0]
                names = [name for i, name in enumerate(names) if name or i == 0]
                if len(row) > MAX_COLUMNS:
                    raise ValueError(
                        f"{where!r}: the header has {len(row):,} fields, more than the "
                        f"limit of {MAX_COLUMNS:,} columns (MAX_COLUMNS)"
                    )
                if len(set(names)) != len(names):
                    dup = _first_duplicate(names)
                    raise ValueError(f"{where!r}: column name {dup!r} appears more than once")
                n_fields = len(row)
                continue
            if len(row) != n_fields:
                hint = _note_hint(text, sep, row, n_fields, reader.line_num)
                hint = hint or _title_hint(header_line, header, row, n_fields, n_rows == 0)
                raise ValueError(
                    f"{where!r}: ragged rows: line {reader.line_num} has {len(row)} "
                    f"field(s), the header has {n_fields}{hint}"
                )
            for i in unnamed:
                if row[i].strip():
                    raise ValueError(
                        f"{where!r}: column {i + 1} of the header has no name, and line "
                        f"{reader.line_num} holds {row[i].strip()[:40]!r} in it"
                        + _second_header_hint(row if n_rows == 0 else [])
                    )
            n_rows += 1
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise ValueError(
                f"{where!r}: line {reader.line_num} has a field longer than "
                f"{MAX_FIELD_CHARS:,} characters (MAX_FIELD_CHARS; an unclosed quote?)"
            ) from None
        raise ValueError(f"{where!r}: not a valid CSV file: {exc}") from None
    if n_fields == 0:
        raise ValueError(f"{where!r}: the file is empty")
    if n_rows == 0:
        raise ValueError(f"{where!r}: the file has a header but no data rows")
    if unnamed:
        shown = ", ".join(str(i + 1) for i in unnamed[:SHOW])
        more = f" and {len(unnamed) - SHOW} more" if len(unnamed) > SHOW else ""
        warnings.warn(
            f"{where!r}: column(s) {shown}{more} have no name and no value in any row: left out",
            DataWarning,
            stacklevel=3,
        )
    return unnamed


def _note_hint(text: str, sep: str, row: list[str], n_fields: int, line: int) -> str:
    """What a short last line may be: a note under the table (``Source: ...``)."""
    if len(row) < n_fields and not "".join(text.split("\n")[line:]).strip():
        return (
            f"; if this last line ({sep.join(row)[:60]!r}) is a note under the table (a "
            "source, a footnote), delete it"
        )
    return ""


def _title_hint(header_line: int, header: str, row: list[str], n_fields: int, first: bool) -> str:
    """What a header shorter than the first data row may be: a title above the header."""
    if first and any(cell.strip() for cell in row[n_fields:]):
        return (
            f"; if line {header_line} ({header[:60]!r}) is a title above the header, delete "
            "it (a title is recognised only above a header of names, none of them a number)"
        )
    return ""


def _first_duplicate(names: list[str]) -> str:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    raise AssertionError("no duplicate")  # only called when there is one


def _check_zip(path: Path, what: str) -> list[zipfile.ZipInfo]:
    """The members of a ZIP-based table (``.npz``, ``.xlsx``), checked before any is read.

    Members must lie side by side (no overlapping-member bomb) and their declared sizes
    together must stay within the expansion limit of the file's size (no zip bomb).
    """
    where = repr(str(path))
    size = path.stat().st_size
    try:
        with open(path, "rb") as file, zipfile.ZipFile(file) as archive:
            check_zip_layout(archive, file, where)
            infos = archive.infolist()
    except ArchiveError as exc:
        raise ValueError(str(exc)) from None
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise ValueError(f"{where}: not a readable {what} (damaged?): {exc}") from None
    check_expansion(sum(info.file_size for info in infos), size, where, f"the {what}'s members")
    return infos


def _read_excel(path: Path, pd: Any, sheet: str | None = None) -> Any:
    """The table of the sheet named ``sheet``, or of the first sheet that holds one."""
    try:
        import openpyxl  # noqa: F401  (optional dependency: pip install openpyxl)
    except ImportError:
        raise ImportError("reading .xlsx files needs openpyxl: pip install openpyxl") from None
    _check_zip(path, ".xlsx workbook")
    where = str(path)
    try:
        with pd.ExcelFile(path, engine="openpyxl") as book:
            names = [str(name) for name in book.sheet_names]
            if sheet is not None and sheet not in names:
                said = did_you_mean(sheet, names)
                raise _SheetError(f"{where!r} has no sheet {sheet!r} ({said}its sheets: {names})")
            found = _sheet_with_a_table(book, pd, names if sheet is None else [sheet])
            if found is None:
                raise _SheetError(
                    f"{where!r}: none of its sheets holds a table (a header and a row of "
                    f"data): {names}"
                )
            name, top = found
            header, title = _excel_header(top)
            frame = pd.read_excel(book, sheet_name=name, dtype=object, header=header)
            percent = _percent_columns(book.book[name], header)  # the sheet pandas opened
    except (MemoryError, _SheetError):
        raise
    except Exception as exc:
        # openpyxl parses a ZIP of XML parts: a damaged file fails in zipfile, zlib, the
        # XML parser or openpyxl itself, each with its own exception; all mean the same
        raise ValueError(
            f"{where!r}: cannot read the workbook: {type(exc).__name__}: {exc}"
        ) from None
    _check_unnamed_columns(where, top, header, frame)
    if header < len(top):
        # read_excel renames a repeated name ("a", "a.1"): the header's own cells tell
        cells = [str(cell).strip() for cell in top.iloc[header].dropna()]
        if len(set(cells)) != len(cells):
            dup = _first_duplicate(cells)
            raise ValueError(f"{where!r}: column name {dup!r} appears more than once")
    empty = [str(c) for c in frame.columns if frame[c].isna().all()]
    if empty and len(frame):
        _formulas_warning(path, name, header, list(frame.columns), empty)
    frame = _without_spacers(_percents_as_shown(frame, path, percent), top, header, where)
    if sheet is None and name != names[0]:
        skipped = names[: names.index(name)]
        warnings.warn(
            f"{where!r}: read its sheet {name!r}, the first that holds a table (before it: "
            f"{skipped}); --sheet NAME (sheet=...) chooses another",
            DataWarning,
            stacklevel=3,
        )
    warn_preamble(where, title, "row")
    return frame


def _second_header_hint(first_row: Sequence[Any]) -> str:
    """A hint for a nameless column whose value stands in the first data row, when that
    row holds text alone (a report's second header row: ``length (mm)`` under a group
    name ``Bill`` merged over two columns); else nothing."""
    cells = [str(c).strip() for c in first_row if c is not None and str(c).strip()]
    cells = [c for c in cells if c.lower() != "nan"]
    if not cells or any(_is_number(c) for c in cells):
        return ""
    return "; a header of two rows (group names above the columns' own)? write one row of names"


def _check_unnamed_columns(where: str, top: Any, header: int, frame: Any) -> None:
    """Refuse a column of the sheet whose header cell is empty and that holds a value, as
    the CSV reader refuses it (the first column excepted: an index written with the
    table), with a hint when the row under the header looks like a second header."""
    if header >= len(top):
        return
    names = top.iloc[header].tolist()
    for i, name in enumerate(names[: frame.shape[1]]):
        if i == 0 or not is_missing_value(name):
            continue
        values = frame.iloc[:, i]
        filled = np.flatnonzero(values.notna().to_numpy())
        if len(filled):
            k = int(filled[0])
            first = frame.iloc[0].tolist() if k == 0 else []
            raise ValueError(
                f"{where!r}: column {i + 1} of the header has no name, and data row {k + 1} "
                f"holds {str(values.iloc[k]).strip()[:40]!r} in it" + _second_header_hint(first)
            )


#: The data rows whose number formats tell a column of percentages (a format applies to
#: whole columns in practice; reading every cell's style twice would double the reading).
PERCENT_ROWS_READ = 1000


# What a number format writes as it is, not as a code: "text", \x, [Red], [$€-407].
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')


def _shows_percent(number_format: str) -> bool:
    """Whether a number format multiplies by 100 (``0.0%``), not writes a % sign after
    the number as it is (``0.0"%"``, ``0.0\\%``)."""
    return "%" in _FORMAT_LITERALS.sub("", number_format)


def _percent_columns(sheet: Any, header: int) -> list[int]:
    """The columns whose numbers ``sheet`` (openpyxl's, as ``read_excel`` read it: from
    its first used row, the header ``header`` rows down) formats as percentages, all of
    them in its first :data:`PERCENT_ROWS_READ` data rows."""
    percent: dict[int, bool] = {}
    for i, row in enumerate(sheet.iter_rows(min_row=None)):
        if i <= header:
            continue
        if i > header + PERCENT_ROWS_READ:
            break
        for j, cell in enumerate(row):
            if getattr(cell, "data_type", None) == "n" and cell.value is not None:
                shown = _shows_percent(str(getattr(cell, "number_format", "")))
                percent[j] = percent.get(j, True) and shown
    return [j for j, shown in sorted(percent.items()) if shown]


def _percents_as_shown(frame: Any, path: Path, percent: list[int]) -> Any:
    """The frame with the columns ``percent`` (:func:`_percent_columns`) read as the
    numbers shown: the cell 0.479 shown ``47.9%`` is 47.9, as a CSV export of the sheet
    writes it and as ``read_table`` reads ``47.9%`` in a CSV file, so that a model reads
    the table the same way from either. Said in a :class:`DataWarning`."""
    columns = [j for j in percent if j < frame.shape[1]]
    if not columns:
        return frame
    frame = frame.copy()
    for j in columns:
        frame.iloc[:, j] = [
            float(f"{value * 100:.15g}")  # 0.479 * 100 is 47.900000000000006: 47.9, shown
            if isinstance(value, int | float) and not isinstance(value, bool)
            else value
            for value in frame.iloc[:, j]
        ]
    names = [str(frame.columns[j]) for j in columns]
    warnings.warn(
        f"{str(path)!r}: column(s) {names[:SHOW]} hold percentages: read as the numbers "
        "shown (47.9 for a cell shown 47.9%), as a CSV export of the sheet writes them",
        DataWarning,
        stacklevel=4,
    )
    return frame


def _formulas_warning(path: Path, sheet: str, header: int, names: list, empty: list[str]) -> None:
    """A DataWarning for columns without a value whose first cell under the header is a
    formula: a program that writes workbooks without computing them saved no values."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        rows = book[sheet].iter_rows(min_row=header + 2, max_row=header + 2, values_only=True)
        first = next(iter(rows), ())
    finally:
        book.close()
    formulas = [
        str(n)
        for n, cell in zip(names, first, strict=False)
        if str(n) in empty and isinstance(cell, str) and cell.startswith("=")
    ]
    if formulas:
        warnings.warn(
            f"{str(path)!r}: column(s) {formulas[:SHOW]} hold formulas without saved values "
            "(the program that wrote the workbook did not compute them): open and save it "
            "in Excel or LibreOffice to keep their values",
            DataWarning,
            stacklevel=4,
        )


def _sheet_with_a_table(book: Any, pd: Any, names: list[str]) -> tuple[str, Any] | None:
    """The first of the sheets ``names`` that holds a table, and its first rows: a header
    of two columns or more and a row under it (a README or cover sheet is one column of
    notes); else the first with a header and a row of one column; else the first sheet
    when it is the only one asked for (its reading then says what it lacks); else None."""
    one_column = None
    for name in names:
        top = pd.read_excel(
            book, sheet_name=name, dtype=object, header=None, nrows=MAX_PREAMBLE_LINES + 2
        )
        header, _ = _excel_header(top)
        if len(top) > header + 1:
            if top.iloc[header].notna().sum() >= 2:
                return name, top
            one_column = one_column or (name, top)
        elif len(names) == 1:
            return name, top
    return one_column


class _SheetError(ValueError):
    """No such sheet, or no sheet with a table: said as it is."""


def _excel_header(top: Any) -> tuple[int, list[str]]:
    """The header's row in a sheet's first rows, and the title rows above it.

    Reports put a title (a cell or two) above the table, and may start the table below
    and to the right of the first cell (at C3). The header is the first row whose every
    cell is filled over the table's columns (those with a cell in it or below it), when
    every such cell is text and no number, and it comes within
    :data:`MAX_PREAMBLE_LINES` rows; else the first row, as usual.
    """
    filled = top.notna().to_numpy()
    for k in range(min(len(top), MAX_PREAMBLE_LINES + 1)):
        columns = filled[k:].any(axis=0)  # a title's own column is not the table's
        if columns.any() and filled[k][columns].all():
            break
    else:
        return 0, []  # no full row to stand for a header
    names = top.iloc[k][columns].tolist()
    if k == 0 or not all(isinstance(c, str) and not _is_number(c) for c in names):
        return 0, []  # the usual header
    title = [" ".join(str(c) for c in row[row.notna()]) for _, row in top[:k].iterrows()]
    return k, [t for t in title if t.strip()]


def _without_spacers(frame: Any, top: Any, header: int, where: str) -> Any:
    """The frame without the sheet's columns that hold nothing, not even a name: those
    left of a table that starts to the right of column A, or empty between its columns
    (and a second table they set apart: :func:`_second_tables`)."""
    if header >= len(top):
        return frame
    names = top.iloc[header].tolist()
    spacers = [
        i
        for i, name in enumerate(names[: frame.shape[1]])
        if is_missing_value(name) and frame.iloc[:, i].isna().all()
    ]
    if not spacers or len(spacers) == frame.shape[1]:
        return frame
    dropped = set(spacers) | set(_second_tables(frame, spacers, where))
    return frame.iloc[:, [i for i in range(frame.shape[1]) if i not in dropped]]


def _second_tables(frame: Any, spacers: list[int], where: str) -> list[int]:
    """The columns of the tables that empty columns (``spacers``: no name, no value) set
    apart from the table, and that hold at most half as many rows: a lookup table beside
    the data, which read as columns of the table would fill a few of its rows. Named in a
    warning. Longer blocks are the table's own columns, an empty column between them."""
    blocks: list[list[int]] = [[]]
    for i in range(frame.shape[1]):
        if i in spacers:
            blocks.append([])
        else:
            blocks[-1].append(i)
    blocks = [b for b in blocks if b]
    if len(blocks) < 2:
        return []
    rows = [_rows_held(frame.iloc[:, block]) for block in blocks]
    longest = max(rows)
    apart = [(b, n) for b, n in zip(blocks, rows, strict=True) if 2 * n <= longest]
    for block, n in apart:
        names = [str(frame.columns[i]) for i in block][:SHOW]
        warnings.warn(
            f"{where!r}: column(s) {block[0] + 1}-{block[-1] + 1} ({names}) stand apart from "
            f"the table after empty columns and hold {n} row(s) against its {longest}: left "
            "out as a second table (move it to a sheet or file of its own)",
            DataWarning,
            stacklevel=4,
        )
    return [i for b, _ in apart for i in b]


def _rows_held(block: Any) -> int:
    """How many rows a block of columns holds: up to its last row with a value."""
    text = block.astype("object").to_numpy()
    blank = np.array([[isinstance(v, str) and not v.strip() for v in row] for row in text])
    filled = block.notna().to_numpy() & ~blank.reshape(text.shape)
    hits = np.flatnonzero(filled.any(axis=1))
    return int(hits[-1]) + 1 if len(hits) else 0


def _check_npz_members(path: Path) -> None:
    """Each ``.npy`` member's declared shape and dtype, checked before NumPy allocates it.

    NumPy allocates ``prod(shape) * itemsize`` bytes from a member's header before it
    reads the data: the header must declare a 1-D array of an allowed dtype whose bytes
    fit in the member's (bounded) size.
    """
    where = repr(str(path))
    infos = _check_zip(path, ".npz archive")
    with zipfile.ZipFile(path) as archive:
        for info in infos:
            name = info.filename.removesuffix(".npy")
            try:
                with archive.open(info) as member:
                    shape, _, dtype = read_npy_header(member)
            except _NPZ_ERRORS as exc:
                raise ValueError(f"{where}: array {name!r} cannot be read: {exc}") from None
            if len(shape) != 1:
                raise ValueError(
                    f"{where}: array {name!r} has shape {shape!r:.60}; each array of an .npz "
                    "table is one column and must be 1-D"
                )
            if dtype.hasobject:
                raise ValueError(
                    f"{where}: array {name!r} cannot be read: it holds Python objects, which "
                    "would need pickle (never loaded); columns must hold numbers, booleans or "
                    "text (dtype 'U')"
                )
            if shape[0] * dtype.itemsize > info.file_size:
                raise ValueError(
                    f"{where}: array {name!r} declares {shape[0]:,} values of {dtype} "
                    f"({shape[0] * dtype.itemsize:,} bytes) but its member holds "
                    f"{info.file_size:,} bytes; refused before allocating"
                )


def _read_npz(path: Path, pd: Any) -> Any:
    where = str(path)
    _check_npz_members(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except _NPZ_ERRORS as exc:
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
            except _NPZ_ERRORS as exc:
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


def _check_parquet_sizes(path: Path) -> None:
    """The sizes a Parquet file's metadata declares, checked before its data is read.

    The rows times the columns times 8 bytes (what pandas holds at least) must stay
    within the expansion limit of the files' size. For a folder, the files add up.
    """
    import pyarrow.parquet  # optional dependency: pip install "deltaprop[data]"

    files = [path] if path.is_file() else _parquet_files(path)
    size = sum(file.stat().st_size for file in files)
    n_bytes = 0
    for file in files:
        metadata = pyarrow.parquet.ParquetFile(file).metadata
        declared = max(metadata.num_rows, 0) * max(metadata.num_columns, 1) * 8
        row_groups = sum(
            max(metadata.row_group(i).total_byte_size, 0) for i in range(metadata.num_row_groups)
        )
        n_bytes += max(declared, row_groups)
    check_expansion(n_bytes, size, repr(str(path)), "the rows and columns its metadata declares")


def _parquet_files(folder: Path) -> list[Path]:
    return [
        file
        for file in sorted(folder.rglob("*"))
        if file.is_file()
        and not file.name.startswith((".", "_"))
        and file.name.lower().endswith(_PARQUET_SUFFIXES)
    ]


def _read_parquet(path: Path, pd: Any) -> Any:
    _require_pyarrow()
    import pyarrow
    import pyarrow.parquet

    try:
        _check_parquet_sizes(path)
        frame = _index_as_columns(pd.read_parquet(path))
        schema = pyarrow.parquet.ParquetDataset(path).schema
        frame = _categories_as_written(frame, schema, pd)
        if any(dtype.kind == "O" for dtype in frame.dtypes):
            # list, struct and map columns arrive as objects: record their Arrow types
            frame.attrs[NESTED_TYPES] = {
                field.name: str(field.type)
                for field in schema
                if pyarrow.types.is_nested(field.type)
            }
    except ArchiveError:
        raise
    except (OSError, ValueError, pyarrow.ArrowException) as exc:
        raise ValueError(f"{str(path)!r}: cannot read Parquet: {exc}") from None
    return frame


def _categories_as_written(frame: Any, schema: Any, pd: Any) -> Any:
    """The frame with the columns that pandas wrote as ``category`` categories again.

    Arrow stores a category of numbers (cylinders 4, 6, 8) as plain integers, with the
    dtype only in pandas' metadata, which ``read_parquet`` does not apply: the table then
    lost its word that the numbers are codes (:func:`~deltaprop.tabular.columns.coded_categories`).
    """
    metadata = schema.pandas_metadata or {}
    written = {
        str(c.get("name"))
        for c in metadata.get("columns", [])
        if c.get("pandas_type") == "categorical"
    }
    lost = [
        c
        for c in frame.columns
        if c in written and not isinstance(frame[c].dtype, pd.CategoricalDtype)
    ]
    return frame.assign(**{c: frame[c].astype("category") for c in lost}) if lost else frame


def _index_as_columns(frame: Any) -> Any:
    """The frame with its named index levels as its first columns, its unnamed ones dropped.

    ``to_parquet`` stores a pandas index with the table and ``read_parquet`` gives it back
    as the index, which :func:`tidy` would drop: a named index is data (the dates of a
    time series, the customer of each row). An unnamed one (or one named ``""``) is row
    numbers (a RangeIndex, or what filtering rows left of one). A name that a column has
    too is kept twice, so that :func:`column_names` refuses it as any duplicate.
    """
    named = [
        level
        for level, name in enumerate(frame.index.names)
        if name is not None and str(name).strip()
    ]
    if named:
        frame = frame.reset_index(level=named, allow_duplicates=True)
    return frame.reset_index(drop=True)
