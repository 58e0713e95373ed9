"""Reading tables: CSV (optionally compressed), Parquet and NPZ files into pandas.

:func:`read_table` reads a file into a :class:`pandas.DataFrame` and refuses malformed
ones (missing, empty, header only, ragged rows, duplicate or empty column names) with a
``ValueError`` naming the file and the problem. The rules are spelled out in
``docs/data.md``. pandas and pyarrow are optional: ``pip install "deltaprop[data]"``.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import lzma
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["column_names", "read_table", "require_pandas"]


_INSTALL = 'pip install "deltaprop[data]"'
_CSV_OPENERS = {".csv": open, ".csv.gz": gzip.open, ".csv.bz2": bz2.open, ".csv.xz": lzma.open}
_PARQUET_SUFFIXES = (".parquet", ".pq")
_SUFFIXES = (*_CSV_OPENERS, *_PARQUET_SUFFIXES, ".npz")


def require_pandas() -> Any:
    """The pandas module; an ``ImportError`` naming the extra to install without it."""
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
    pd = require_pandas()
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
    frame.columns = column_names(frame.columns, str(path))
    return frame


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
