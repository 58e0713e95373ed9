"""The fuzz harness: the time box, the per-example guard and the oracle.

Every fuzz target is a Hypothesis test run in rounds until its share of the budget is
spent. The budget is ``DELTAPROP_FUZZ_SECONDS`` (default 10 s, the slice the default
``python -m pytest`` runs), split evenly across :data:`TARGETS`. The seed is
``DELTAPROP_FUZZ_SEED``: a number (default 0) makes the run deterministic (round ``k``
runs with seed ``number + k``, and Hypothesis's example database is off), ``random``
draws new inputs on every run (the long run).

Each example runs under :func:`guard`: a wall-clock deadline (``SIGALRM`` raises
:class:`Hang`, which no ``except Exception`` swallows), an address-space limit a few
GiB above the process's size (on Linux: an allocation beyond it raises ``MemoryError``
instead of taking the machine down) and a check that the peak resident memory grew by
less than :data:`MEMORY_BOUND`. The harness needs POSIX (``SIGALRM``, ``resource``):
tests/fuzz/conftest.py leaves it out on Windows. Anything the oracle of a target does
not expect fails the test, with the input that caused it.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

#: The fuzz targets; the budget is split evenly among them.
TARGETS = ("tables", "models", "onnx", "cli", "http")
#: Seconds for all targets together unless DELTAPROP_FUZZ_SECONDS says otherwise.
DEFAULT_SECONDS = 10.0
#: How much the peak resident memory may grow during one example.
MEMORY_BOUND = 1 << 30
#: The address-space headroom of one example (an allocation beyond it is a MemoryError).
ADDRESS_SPACE_HEADROOM = 4 << 30
#: Examples per Hypothesis round (a round past the budget runs no more targets' code).
ROUND = 25


class Hang(BaseException):
    """Raised in the main thread when an example runs past its deadline.

    A ``BaseException``, so that the code under test (which catches ``Exception``) lets
    it through.
    """


def total_seconds() -> float:
    """The whole fuzz budget in seconds (``DELTAPROP_FUZZ_SECONDS``)."""
    text = os.environ.get("DELTAPROP_FUZZ_SECONDS", "")
    if not text.strip():
        return DEFAULT_SECONDS
    value = float(text)
    if not value > 0:
        raise ValueError(f"DELTAPROP_FUZZ_SECONDS must be > 0, got {text!r}")
    return value


def target_seconds() -> float:
    """One target's share of the budget."""
    return total_seconds() / len(TARGETS)


def base_seed() -> int | None:
    """The seed of the first round (``DELTAPROP_FUZZ_SEED``), None for random."""
    text = os.environ.get("DELTAPROP_FUZZ_SEED", "0").strip().lower()
    return None if text == "random" else int(text)


@dataclass
class Stats:
    """What one target did: examples run, seconds spent, outcomes counted by name."""

    examples: int = 0
    seconds: float = 0.0
    outcomes: Counter = field(default_factory=Counter)
    skipped_known: Counter = field(default_factory=Counter)


#: target name -> its statistics (printed at the end of the run by conftest.py).
STATS: dict[str, Stats] = {}


def outcome(target: str, name: str) -> None:
    """Count an outcome (``"ok"``, ``"ValueError"``, ``"exit 2"``...) of ``target``."""
    STATS.setdefault(target, Stats()).outcomes[name] += 1


def skipped_known(target: str, name: str) -> None:
    """Count an input left out because it triggers the known defect ``name``."""
    STATS.setdefault(target, Stats()).skipped_known[name] += 1


def run_for(
    target: str, body: Callable[..., None], seconds: float | None = None, **strategies: Any
) -> None:
    """Run ``body`` on inputs drawn from ``strategies`` until ``target``'s budget is spent.

    ``body`` takes the strategies' names as keywords; it must call :func:`out_of_time`
    first and return at once when it says so. Round ``k`` is one Hypothesis run of
    :data:`ROUND` examples.
    """
    seconds = target_seconds() if seconds is None else seconds
    stats = STATS.setdefault(target, Stats())
    start = time.monotonic()
    _DEADLINES[target] = start + seconds
    first = base_seed()
    round_number = 0
    phases = [Phase.explicit, Phase.generate]
    if first is None:  # the long run: shrink what it finds, to a readable reproducer
        phases.append(Phase.shrink)
    while time.monotonic() < _DEADLINES[target]:
        configured = settings(
            max_examples=ROUND,
            deadline=None,
            database=None,
            phases=phases,
            print_blob=True,
            suppress_health_check=list(HealthCheck),
        )(given(**strategies)(body))
        if first is not None:
            configured = hypothesis_seed(first + round_number)(configured)
        try:
            configured()
        finally:
            stats.seconds = time.monotonic() - start
        round_number += 1


_DEADLINES: dict[str, float] = {}


def out_of_time(target: str) -> bool:
    """Whether ``target``'s budget is spent (then an example returns without running)."""
    if time.monotonic() >= _DEADLINES.get(target, float("inf")):
        return True
    STATS.setdefault(target, Stats()).examples += 1
    return False


def _address_space() -> int | None:
    """The process's virtual size in bytes; None where /proc does not tell (macOS)."""
    try:
        with open("/proc/self/statm") as file:
            pages = int(file.read().split()[0])
    except OSError:
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def _peak_rss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def _on_alarm(signum: int, frame: Any) -> None:
    raise Hang("the example ran past its deadline")


def _keep(files: tuple[Path, ...]) -> None:
    """Copy the input files of a failing example to ``DELTAPROP_FUZZ_FAILURES``, if set."""
    folder = os.environ.get("DELTAPROP_FUZZ_FAILURES")
    if not folder:
        return
    os.makedirs(folder, exist_ok=True)
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{len(os.listdir(folder))}"
    for file in files:
        if file.is_file():
            target = Path(folder) / stamp / file.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, target)


@contextlib.contextmanager
def guard(what: str, seconds: float = 30.0, files: tuple[Path, ...] = ()) -> Iterator[None]:
    """Run an example's code with a deadline and a memory bound; ``what`` names the input.

    A hang becomes an ``AssertionError`` naming ``what``; so does a peak resident memory
    that grew by more than :data:`MEMORY_BOUND`. pytest-timeout's own alarm, when it
    set one, is put back afterwards. When the example fails, its input ``files`` are
    copied to the folder ``DELTAPROP_FUZZ_FAILURES`` names (when set).
    """
    old_handler = signal.signal(signal.SIGALRM, _on_alarm)
    old_alarm, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    old_limit = resource.getrlimit(resource.RLIMIT_AS)
    size = _address_space()
    if size is not None:  # Linux: an allocation past the headroom is a MemoryError
        limit = size + ADDRESS_SPACE_HEADROOM
        if old_limit[1] != resource.RLIM_INFINITY:
            limit = min(limit, old_limit[1])
        resource.setrlimit(resource.RLIMIT_AS, (limit, old_limit[1]))
    rss_before = _peak_rss()
    start = time.monotonic()
    try:
        yield
    except Hang:
        _keep(files)
        raise AssertionError(f"hang: {what} ran for more than {seconds:g} s") from None
    except BaseException:
        _keep(files)
        raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        resource.setrlimit(resource.RLIMIT_AS, old_limit)
        if old_alarm > 0:
            signal.setitimer(signal.ITIMER_REAL, max(old_alarm - (time.monotonic() - start), 1e-3))
    grown = _peak_rss() - rss_before
    if grown > MEMORY_BOUND:
        raise AssertionError(
            f"memory bound exceeded: {what} grew the peak resident memory by "
            f"{grown / 2**20:.0f} MiB (bound {MEMORY_BOUND / 2**20:.0f} MiB)"
        )


def names_the(message: str, *spellings: str) -> bool:
    """Whether an error message names one of ``spellings`` (a file or an argument)."""
    return any(spelling and spelling in message for spelling in spellings)
