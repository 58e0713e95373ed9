"""The fuzz targets' summary at the end of a run: examples, seconds, outcomes, known defects."""

from __future__ import annotations

import sys

if sys.platform == "win32":  # the harness's deadline and memory bound need SIGALRM and rlimits
    collect_ignore_glob = ["*.py"]
else:
    from .harness import STATS, base_seed, total_seconds


def pytest_terminal_summary(terminalreporter) -> None:
    if sys.platform == "win32" or not STATS:
        return
    seed = base_seed()
    terminalreporter.section(
        f"fuzz: budget {total_seconds():g} s, seed {'random' if seed is None else seed}"
    )
    for target, stats in STATS.items():
        outcomes = ", ".join(f"{name} {n}" for name, n in stats.outcomes.most_common())
        terminalreporter.write_line(
            f"{target}: {stats.examples} examples in {stats.seconds:.1f} s ({outcomes})"
        )
        for name, n in stats.skipped_known.items():
            terminalreporter.write_line(f"  left out {n}: known defect {name}")
