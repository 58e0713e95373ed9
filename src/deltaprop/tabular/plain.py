"""Small CSV files without pandas: :class:`PlainTable` and :func:`read_small_csv`.

``deltaprop predict`` on a small file should answer before pandas has finished importing
(about 0.4 s). :func:`read_small_csv` reads a CSV or TSV file below
:data:`SMALL_CSV_BYTES` with the rules of :func:`~deltaprop.tabular.read_table` (the same
encoding, separator and decimal-mark sniffing, the same header checks, the same tidying:
stripped text, null spellings missing, columns of numbers as int64 or float64) into a
:class:`PlainTable` of NumPy columns, which :class:`~deltaprop.tabular.Preprocessor` and
:class:`~deltaprop.TabularModel` take as they take a DataFrame, with the same results.

It answers None, and the caller reads the file with pandas, for every file whose reading
it cannot promise to be pandas's own: a larger file, another format, a quote that is not
a whole quoted field (RFC 4180), a line of only whitespace, a carriage return that does
not end a line, a single column, or anything :func:`~deltaprop.tabular.read_table` would
refuse (pandas then gives its error).
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deltaprop.tabular.columns import (
    NULL_SPELLINGS,
    DataWarning,
    column_names,
    currency_of,
    looks_decimal_comma,
    number_from_text,
    read_written_numbers,
)
from deltaprop.tabular.readers import (
    _CSV_OPENERS,
    _check_fields,
    _check_options,
    _decode,
    _suffix,
    _whole,
    blank_preamble,
    empty_rows_warning,
    end_matter,
    end_matter_warning,
    sniff_decimal,
    sniff_separator,
    thousands_warning,
    units_warning,
    warn_preamble,
)

__all__ = [
    "SMALL_CSV_BYTES",
    "PlainTable",
    "plain_category_strings",
    "plain_csv_text",
    "plain_numbers",
    "read_small_csv",
    "tidy_strings",
]

#: Files up to this size (on disk) are read without pandas when they allow it.
SMALL_CSV_BYTES = 2**20


class PlainTable:
    """Columns of a table as NumPy arrays: what :func:`read_small_csv` reads.

    Each column is int64 or float64 (NaN where missing), or an object array of stripped
    strings and None (missing): the dtypes :func:`~deltaprop.tabular.read_table` gives a
    CSV file's columns.

    Parameters
    ----------
    columns : mapping of str -> ndarray of shape (n_rows,)
        In the table's order; at least one column and one row, all of one length.

    Attributes
    ----------
    columns : list of str
    """

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1 or 0 in lengths:
            raise ValueError(f"a PlainTable needs columns of one length >= 1, got {lengths}")
        self._data = dict(columns)
        self.columns = list(self._data)

    def __len__(self) -> int:
        return len(next(iter(self._data.values())))

    def __getitem__(self, name: str) -> np.ndarray:
        return self._data[name]

    def __contains__(self, name: object) -> bool:
        return name in self._data

    def without(self, names: Iterable[str]) -> PlainTable:
        """This table without the columns ``names``."""
        drop = set(names)
        return PlainTable({k: v for k, v in self._data.items() if k not in drop})

    def __repr__(self) -> str:
        return f"PlainTable({len(self)} rows, columns {self.columns[:10]})"


# -- the values ---------------------------------------------------------------------------
def tidy_strings(
    cells: Sequence[str], decimal: str | None = ".", units: dict | None = None, name: str = ""
) -> np.ndarray:
    """One column's cells as :func:`~deltaprop.tabular.readers.tidy` makes them.

    Cells are stripped and the null spellings are missing; when every present cell is a
    number (``"45%"``, ``"1,234"``), the column is float64 (NaN where missing), or int64
    when every value is an integer below 2**53 and none is missing; else an object array
    of the stripped texts and None.

    Parameters
    ----------
    cells : sequence of str, length n_rows
    decimal : {".", ","} or None
        None: the stripped texts and None, never numbers.

    Returns
    -------
    ndarray of shape (n_rows,)
    """
    texts: list[str | None] = []
    for cell in cells:
        text = cell.strip()
        texts.append(None if _is_null(text) else text)
    if decimal is None:  # the text alone, as read (a column to write back as written)
        kept = np.empty(len(texts), dtype=object)
        kept[:] = texts
        return kept
    numbers = np.array([np.nan if t is None else number_from_text(t, decimal) for t in texts])
    missing = np.array([t is None for t in texts], dtype=bool)
    present = ~missing
    bad = present & np.isnan(numbers)
    how = read_written_numbers(texts, numbers, bad, decimal) if bad.any() else ""
    if how and how != "()" and units is not None:
        units[name] = how
    if how is None and decimal == "." and 2 * bad.sum() >= present.sum() and units is not None:
        if looks_decimal_comma(texts):  # said, as read_table says it
            units[name] = ","
    if present.any() and how is not None:
        written = {currency_of(t) for t in set(texts) if t is not None} - {None}
        if len(written) > 1 and units is not None:  # said, as read_table says it
            units[name] = "¤" + ", ".join(sorted(written))  # type: ignore[arg-type]
        integers = not missing.any() and _whole(numbers)
        return numbers.astype(np.int64) if integers else numbers
    out = np.empty(len(texts), dtype=object)
    out[:] = texts
    return out


def _is_null(cell: str) -> bool:
    """Whether a cell is missing: empty or a null spelling, once stripped."""
    return cell.strip().lower() in NULL_SPELLINGS


def plain_numbers(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(numbers, missing)`` of a :class:`PlainTable` column, as ``parse_numbers`` gives.

    Numbers are float64, NaN where missing or not a number (texts read with
    :func:`~deltaprop.tabular.columns.number_from_text`, decimal point).
    """
    if values.dtype != object:
        numbers = values.astype(np.float64)
        return numbers, np.isnan(numbers)
    missing = np.array([v is None for v in values], dtype=bool)
    numbers = np.array([np.nan if v is None else number_from_text(v) for v in values])
    return numbers, missing


def plain_category_strings(values: np.ndarray) -> np.ndarray:
    """A :class:`PlainTable` column's values as ``category_strings`` gives them.

    Stripped strings (object array, None where missing); integral floats read as
    integers (``2.0`` as ``"2"``).
    """
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values.tolist()):
        if value is None or (isinstance(value, float) and value != value):
            out[i] = None
        elif isinstance(value, float) and value.is_integer():
            out[i] = str(int(value))
        else:
            out[i] = str(value).strip()
    return out


# -- reading ------------------------------------------------------------------------------
def _fields_pattern(sep: str) -> re.Pattern:
    """One field, RFC 4180: quoted (quotes doubled inside) or without quotes, then its end."""
    s = re.escape(sep)
    return re.compile(rf'(?:"((?:[^"]|"")*)"|([^"{s}\r\n]*))({s}|\r\n|\n|\Z)')


def _records(text: str, sep: str) -> list[list[str]] | None:
    """The records of ``text`` (empty lines skipped), or None where pandas might differ."""
    if "\r" in text.replace("\r\n", ""):
        return None  # a carriage return that does not end a line
    if '"' not in text:
        lines = text.replace("\r\n", "\n").split("\n")
        if lines[-1] == "":
            lines.pop()
        if any(line.isspace() for line in lines):
            return None  # a line of whitespace: pandas may skip it or not
        return [line.split(sep) for line in lines if line]
    pattern = _fields_pattern(sep)
    records: list[list[str]] = []
    row: list[str] = []
    position, end = 0, len(text)
    while position < end:
        match = pattern.match(text, position)
        if match is None:
            return None  # a quote inside a field, or after a quoted one
        quoted, bare, ending = match.groups()
        if quoted is not None and "\r" in quoted:
            return None
        row.append(bare if quoted is None else quoted.replace('""', '"'))
        position = match.end()
        if ending != sep:
            if len(row) == 1 and quoted is None and not row[0].strip():
                if row[0]:
                    return None  # a line of whitespace: pandas may skip it or not
                row = []  # an empty line, which pandas skips too
                continue
            records.append(row)
            row = []
    if row:  # the file ends in a separator
        records.append([*row, ""])
    return records


def read_small_csv(
    path: str | Path,
    sep: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    keep_spelling: Iterable[str] = (),
    sheet: str | None = None,
) -> PlainTable | None:
    """Read a small CSV or TSV file into a :class:`PlainTable`, or None (read it with pandas).

    Parameters are those of :func:`~deltaprop.tabular.read_table`.

    Returns
    -------
    PlainTable or None
        The table :func:`~deltaprop.tabular.read_table` would read, column by column
        (same names, same values, same dtypes), or None for a file larger than
        :data:`SMALL_CSV_BYTES`, of another format, or one whose reading by pandas this
        function cannot promise to match (see the module's docstring).

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> _ = open(path, "w").write("x, colour\\n1.5, red \\nNA,blue\\n")
    >>> table = read_small_csv(path)
    >>> table.columns, table["x"], table["colour"]
    (['x', 'colour'], array([1.5, nan]), array(['red', 'blue'], dtype=object))
    >>> _ = open(path, "w").write('x,colour\\n1.5,"re"d\\n')  # pandas decides this one
    >>> read_small_csv(path) is None
    True
    """
    path = Path(path)
    if sheet is not None:
        return None  # a workbook's sheet: read_table reads it, or says why not
    try:
        _check_options(sep, decimal, encoding)
        suffix = _suffix(path)
        if suffix not in _CSV_OPENERS or not path.is_file():
            return None
        if not 0 < path.stat().st_size <= SMALL_CSV_BYTES:
            return None
        text = _decode(path, suffix, encoding)
        if sep is None and suffix.startswith(".tsv"):
            sep = "\t"
        text, preamble = blank_preamble(text, sep)
        if sep is None:
            sep = sniff_separator(text)
        sniffed = decimal is None
        decimal = decimal or sniff_decimal(text, sep)
        with warnings.catch_warnings():  # said once, by the reader that reads the file
            warnings.simplefilter("ignore", DataWarning)
            empty = _check_fields(text, sep, str(path))
        if empty:
            return None  # columns to leave out: pandas's reading does it
        records = _records(text, sep)
        if records is None or len(records) < 2 or len(records[0]) < 2:
            return None
        names = _header_names(records[0], str(path))
    except (OSError, ValueError):
        return None  # pandas reads it again, and says what is wrong
    if any(len(r) != len(names) for r in records):
        return None
    warn_preamble(str(path), preamble)
    if sniffed and decimal == ",":
        thousands_warning(text, sep, str(path))
    records = _without_empty_records(records, str(path))
    if records is None:
        return None  # read_table's error
    keep = set(keep_spelling)

    def tidied(rows: list[list[str]], units: dict | None = None) -> dict[str, np.ndarray]:
        cells = list(zip(*rows, strict=True))
        return {
            name: tidy_strings(column, None if name in keep else decimal, units, name)
            for name, column in zip(names, cells, strict=True)
        }

    rows = _data_rows(records[1:], names, decimal, str(path))
    if rows is None:
        return None  # rows left out between data rows: read_table numbers the rest
    units: dict[str, str] = {}
    columns = tidied(rows, units)
    units_warning(units)
    return PlainTable(columns)


def _data_rows(rows: list[list[str]], names: list[str], decimal: str, where: str):
    """The data records without what :func:`~deltaprop.tabular.readers.end_matter` leaves
    out at their end (with its warning), found as ``read_table`` finds it: on every column
    read as numbers where it reads so (the columns kept as written too), again once
    rows went (a header again made columns text). None when rows between data rows go."""
    for _ in range(3):
        columns = [tidy_strings(cells, decimal) for cells in zip(*rows, strict=True)]
        data, notes, summaries, headers = end_matter(columns, names)
        if not (notes or summaries or headers):
            break
        if data.sum() != int(np.flatnonzero(data)[-1]) + 1:
            return None
        end_matter_warning(where, columns, notes, summaries, headers)
        rows = rows[: int(data.sum())]
    return rows


def _without_empty_records(records: list[list[str]], where: str) -> list[list[str]] | None:
    """The header and data records without the rows after the last value (with
    read_table's warning), or None when no row holds a value."""
    n_rows = len(records) - 1
    n_kept = n_rows
    while n_kept and all(_is_null(cell) for cell in records[n_kept]):
        n_kept -= 1
    if n_kept == 0:
        return None
    if n_kept < n_rows:
        empty_rows_warning(where, n_kept, n_rows)
    return records[: n_kept + 1]


def _header_names(header: list[str], where: str) -> list[str]:
    """The column names as ``read_table`` gives them (the pandas index column named)."""
    if not header[0].strip():
        header = ["Unnamed: 0", *header[1:]]
    return column_names(header, where)


# -- writing ------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    """A value as ``DataFrame.to_csv`` writes it (missing values as empty cells)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def plain_csv_text(columns: Sequence[tuple[str, np.ndarray]]) -> str:
    """The CSV text ``pandas.DataFrame(dict(columns)).to_csv(index=False)`` writes.

    Parameters
    ----------
    columns : sequence of (name, ndarray of shape (n_rows,))
        int64, float32, float64, bool or object (text, None) columns.

    Returns
    -------
    str
        Lines ending in ``"\\n"``, fields quoted where they must be.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([name for name, _ in columns])
    texts = []
    for _, values in columns:
        if values.dtype.kind == "f":  # NumPy's shortest text of each value, as pandas writes
            text = values.astype(str)
            text[np.isnan(values)] = ""
            texts.append(text.tolist())
        else:
            texts.append([_cell(v) for v in values.tolist()])
    writer.writerows(zip(*texts, strict=True))
    return buffer.getvalue()
