"""Known defects the fuzz harness finds, each fixed on another branch: left out until then.

Each :class:`Known` names the defect, the branch that owns its fix, a reproducer (input
and command, and a corpus file) and a predicate telling whether a fuzz input triggers
it; a target skips such an input (counting it in the run's summary) instead of failing.
tests/fuzz/test_known.py expects each entry's corpus file to fail the target's oracle
(a strict xfail): once a fix is merged that test says so; remove the entry then, and
the harness sends such inputs again and must pass.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Known:
    """One known defect: ``matches(case)`` says whether a fuzz input of ``target`` hits it.

    ``corpus`` is a file of ``tests/fuzz/corpus`` that reproduces it
    (tests/fuzz/test_known.py checks that it still does).
    """

    name: str
    target: str
    owner: str
    defect: str
    reproducer: str
    matches: Callable[[Any], bool]
    corpus: str


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


_SPEED = re.compile(rb'"epochs_per_second"\s*:\s*([0-9.eE+-]+)')


def _http_tiny_speed(request: bytes) -> bool:
    for match in _SPEED.finditer(request):
        try:
            value = float(match.group(1))
        except ValueError:
            continue
        if 0 < value < 1e-6:
            return True
    return False


def _http_deep_json(request: bytes) -> bool:
    """Whether the body nests brackets deeper than Python's JSON decoder can recurse."""
    body = request.partition(b"\r\n\r\n")[2]
    depth = deepest = 0
    for byte in body:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest > 500


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
        corpus="tables/huge-shape.npz",
    ),
    Known(
        name="live-tiny-speed-kills-training",
        target="http",
        owner="issue-live-server",
        defect=(
            "a /control 'set' with a tiny epochs_per_second (1e-300) makes the pacing wait "
            "1/rate seconds: OverflowError (timestamp out of range), the training thread "
            "ends in the 'error' state for good"
        ),
        reproducer=(
            "deltaprop serve --toy xor, then curl -H 'Content-Type: application/json' "
            '-d \'{"action": "set", "epochs_per_second": 1e-300}\' '
            "http://127.0.0.1:PORT/control  (corpus/requests/post-tiny-speed.http)"
        ),
        matches=_http_tiny_speed,
        corpus="requests/post-tiny-speed.http",
    ),
    Known(
        name="live-deep-json-no-answer",
        target="http",
        owner="issue-live-server",
        defect=(
            "a /control body nesting JSON arrays thousands deep raises RecursionError in "
            "json.loads, which the handler does not catch: the connection closes with no "
            "answer and socketserver prints a traceback"
        ),
        reproducer=(
            "deltaprop serve --toy xor, then send corpus/requests/post-deep-json.http "
            "({HOST} replaced by 127.0.0.1:PORT), e.g. with nc: the reply is empty"
        ),
        matches=_http_deep_json,
        corpus="requests/post-deep-json.http",
    ),
]


def known_defect(target: str, case: Any) -> Known | None:
    """The known defect that the input ``case`` of ``target`` triggers, or None."""
    for entry in KNOWN:
        if entry.target == target and entry.matches(case):
            return entry
    return None
