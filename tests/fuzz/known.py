"""Known defects the fuzz harness finds, each fixed on another branch: left out until then.

Each :class:`Known` names the defect, the branch that owns its fix, a reproducer (input
and command, and a corpus file) and a predicate telling whether a fuzz input triggers
it; a target skips such an input (counting it in the run's summary) instead of failing.
tests/fuzz/test_known.py expects each entry's corpus file to fail the target's oracle
(a strict xfail): once a fix is merged that test says so; remove the entry then, and
the harness sends such inputs again and must pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


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


#: Empty since the memory-bounds and live-server fixes were merged (the three entries it
#: held: an .npz member's declared shape allocated, a tiny live-page speed ending the
#: training thread, deeply nested JSON left unanswered); their corpus files stay in the
#: corpus, so every run sends them again.
KNOWN: list[Known] = []


def known_defect(target: str, case: Any) -> Known | None:
    """The known defect that the input ``case`` of ``target`` triggers, or None."""
    for entry in KNOWN:
        if entry.target == target and entry.matches(case):
            return entry
    return None
