"""What the benchmark scripts share: the machine's CPU and their sections of BENCHMARKS.md.

Each script writes one section between its own markers (``<!-- NAME:start -->`` and
``<!-- NAME:end -->``), so that several scripts can keep their results in one file.
"""

from __future__ import annotations

import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("?" where there is none)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or "?"


def write_section(path: Path, lines: list[str], start_mark: str, end_mark: str) -> None:
    """Replace the text between the markers in ``path``, or append the section to it.

    ``lines`` is the whole section, its first line ``start_mark`` and its last ``end_mark``.
    """
    section = "\n".join(lines)
    text = path.read_text() if path.exists() else ""
    start, end = text.find(start_mark), text.find(end_mark)
    if start != -1 and end > start:
        text = text[:start] + section + text[end + len(end_mark) :]
    else:
        text = text.rstrip("\n") + ("\n\n" if text.strip() else "") + section + "\n"
    path.write_text(text)
