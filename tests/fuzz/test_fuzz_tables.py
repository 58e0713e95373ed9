"""Fuzz the table readers: damaged corpus tables and tables drawn from scratch.

Oracle: :func:`deltaprop.tabular.read_table` returns a frame with at least one row and
unique, non-empty string column names, or raises a ``ValueError`` naming the file.
Anything else (another exception, a hang, memory past the bound) fails.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import strategies as st

from .harness import guard, names_the, out_of_time, outcome, run_for, skipped_known, target_seconds
from .known import known_defect
from .strategies import MESSY, corpus_files, mutated, text_tables

pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

from deltaprop.tabular import read_table

TARGET = "tables"
SEEDS = corpus_files("tables", also=MESSY)


def _suffix(path: Path) -> str:
    name = path.name
    for suffix in (".csv.gz", ".csv.bz2", ".csv.xz"):
        if name.endswith(suffix):
            return suffix
    return path.suffix


@st.composite
def table_files(draw) -> tuple[str, str, bytes]:
    """``(what, suffix, content)``: a corpus table, damaged or not, or one from scratch."""
    if draw(st.integers(0, 3)) == 0:
        suffix, content = draw(text_tables())
        return f"a drawn table {content!r:.300}", suffix, content
    seed = draw(st.sampled_from(SEEDS))
    suffix = _suffix(seed)
    if draw(st.integers(0, 9)) == 0:  # a table under another table's name
        suffix = draw(st.sampled_from([".csv", ".parquet", ".npz", ".xlsx", ".tsv", ".csv.gz"]))
    return f"corpus {seed.name}", suffix, draw(mutated(seed.read_bytes(), seed.name))


OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "sep": st.sampled_from([",", ";", "\t", "|", " ", "x", '"', "", ",,"]),
        "decimal": st.sampled_from([".", ",", ";"]),
        "encoding": st.sampled_from(["utf-8", "latin-1", "cp1252", "utf-16", "ascii", "nope"]),
    },
)


def check_read(path: Path, options: dict) -> None:
    """The oracle: a sound frame, or a ValueError naming ``path``."""
    try:
        frame = read_table(path, **options)
    except ValueError as exc:
        assert names_the(str(exc), str(path), *options), (
            f"the error does not name the file or the option: {exc}"
        )
        outcome(TARGET, "ValueError")
        return
    assert len(frame) >= 1
    names = list(frame.columns)
    assert all(isinstance(n, str) and n.strip() for n in names), names
    assert len(set(names)) == len(names), names
    outcome(TARGET, "read")


@pytest.mark.timeout(target_seconds() + 300)
def test_read_table_answers_or_names_the_file():
    folder = Path(tempfile.mkdtemp(prefix="deltaprop-fuzz-"))

    def read_one(table, options):
        if out_of_time(TARGET):
            return
        what, suffix, content = table
        known = known_defect(TARGET, (suffix, content, options))
        if known is not None:
            skipped_known(TARGET, known.name)
            return
        path = folder / f"table{suffix}"
        path.write_bytes(content)
        try:
            with guard(
                f"read_table of {what} ({suffix}, {len(content)} bytes, {options})", files=(path,)
            ):
                check_read(path, options)
        finally:
            path.unlink()

    try:
        run_for(TARGET, read_one, table=table_files(), options=OPTIONS)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
