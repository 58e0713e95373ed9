"""Known defects the fuzz harness finds, each fixed on another branch: left out until then.

Each :class:`Known` names the defect, the branch that owns its fix, a reproducer (input
and command) and a predicate telling whether a fuzz input triggers it; a target skips
such an input (counting it in the run's summary) instead of failing. Remove an entry
once its fix is merged: the harness then sends such inputs again and must pass.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Known:
    """One known defect: ``matches(case)`` says whether a fuzz input of ``target`` hits it."""

    name: str
    target: str
    owner: str
    defect: str
    reproducer: str
    matches: Callable[[Any], bool]


def _npz_declares_more_than(content: bytes, limit: int) -> bool:
    """Whether an .npz (or lone .npy) declares an array of more than ``limit`` bytes."""
    try:
        if content.startswith(b"\x93NUMPY"):
            members = [io.BytesIO(content)]
        else:
            archive = zipfile.ZipFile(io.BytesIO(content))
            members = [io.BytesIO(archive.open(info).read(4096)) for info in archive.infolist()]
    except Exception:
        return False
    for member in members:
        try:
            major, _ = np.lib.format.read_magic(member)
            read = {1: np.lib.format.read_array_header_1_0, 2: np.lib.format.read_array_header_2_0}
            shape, _, dtype = read[major](member, max_header_size=100_000)
            size = int(np.prod(shape, dtype=object)) * max(dtype.itemsize, 1)
        except Exception:
            continue
        if size > limit:
            return True
    return False


def _table_npz_huge_shape(case: Any) -> bool:
    suffix, content, _options = case
    return suffix == ".npz" and _npz_declares_more_than(content, 1 << 30)


KNOWN: list[Known] = [
    Known(
        name="npz-declared-shape-allocates",
        target="tables",
        owner="issue-mem-bounds",
        defect=(
            "read_table allocates whatever shape an .npz member's .npy header declares: a "
            "301-byte file declaring shape (10**13,) raises NumPy's MemoryError (72.8 TiB), "
            "and one declaring a few GiB allocates them, before any check"
        ),
        reproducer=(
            'python -c "import deltaprop.tabular as t; '
            "t.read_table('tests/fuzz/corpus/tables/huge-shape.npz')\"  -> MemoryError"
        ),
        matches=_table_npz_huge_shape,
    ),
]


def known_defect(target: str, case: Any) -> Known | None:
    """The known defect that the input ``case`` of ``target`` triggers, or None."""
    for entry in KNOWN:
        if entry.target == target and entry.matches(case):
            return entry
    return None
