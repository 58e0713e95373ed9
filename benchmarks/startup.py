"""Start-up benchmark: how long the ``deltaprop`` command takes to answer.

    python benchmarks/startup.py [--repeats 10] [--deltaprop PATH] [--note TEXT]
        [--output BENCHMARKS.md]

Times, as fresh processes, the commands a user waits on before any real work:
``deltaprop --help``, ``deltaprop info MODEL`` and ``deltaprop predict MODEL small.csv``
(20 rows), next to the floor under them: the bare interpreter (``python -c pass``) and
``python -c "import deltaprop"``. MODEL is written first by ``deltaprop train`` on the
shipped breast-cancer table (a 16-unit network, 20 epochs; its size does not matter
here). Each repetition runs every command once, in an order that rotates every
repetition, so a slow spell of the machine hits all of them alike; the report gives
medians with min and max, and whether the median is under the 0.5 s the command-line
tool aims for (issue 18). Every command must exit with status 0.

``deltaprop`` is the console script beside this interpreter unless ``--deltaprop``
names another; the children inherit the environment (``PYTHONPATH`` included), without
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (see run.py).

Without ``--output`` the Markdown section is printed; with it, the section replaces the
text between ``<!-- startup:start -->`` and ``<!-- startup:end -->`` in that file, or is
appended to it when the markers are absent.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _report import cpu_model, write_section

START_MARK = "<!-- startup:start -->"
END_MARK = "<!-- startup:end -->"
GOAL_SECONDS = 0.5
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def child_env() -> dict[str, str]:
    """The environment of the timed processes."""
    env = {k: v for k, v in os.environ.items() if k not in BLAS_OVERRIDES}
    env["MPLBACKEND"] = "Agg"
    return env


def prepare(folder: Path, deltaprop: str, env: dict[str, str]) -> None:
    """Write train.csv, small.csv (20 rows) and model.deltaprop into ``folder``."""
    code = (
        "from deltaprop.datasets import breast_cancer_path\n"
        "from deltaprop.tabular import read_table\n"
        "table = read_table(breast_cancer_path())\n"
        "table.to_csv('train.csv', index=False)\n"
        "table.drop(columns='diagnosis').head(20).to_csv('small.csv', index=False)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=folder, env=env, check=True)
    train = [deltaprop, "train", "train.csv", "--target", "diagnosis", "--hidden", "16"]
    train += ["--max-iter", "20", "--out", "model.deltaprop", "--quiet"]
    subprocess.run(train, cwd=folder, env=env, check=True, stdout=subprocess.DEVNULL)


def cases(deltaprop: str) -> dict[str, list[str]]:
    """label -> command line."""
    return {
        "`python -c pass` (the interpreter alone)": [sys.executable, "-c", "pass"],
        '`python -c "import deltaprop"`': [sys.executable, "-c", "import deltaprop"],
        "`deltaprop --help`": [deltaprop, "--help"],
        "`deltaprop info model.deltaprop`": [deltaprop, "info", "model.deltaprop"],
        "`deltaprop predict model.deltaprop small.csv` (20 rows)": [
            deltaprop, "predict", "model.deltaprop", "small.csv",
        ],
    }  # fmt: skip


def time_once(argv: list[str], folder: Path, env: dict[str, str]) -> float:
    """Wall time of one run of ``argv`` in ``folder``; exits the benchmark if it fails."""
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited with {result.returncode}:\n{result.stderr}")
    return seconds


def git_commit() -> str:
    """Short commit of this checkout (with "+ local changes"), or "?"."""
    root = Path(__file__).resolve().parent.parent
    head = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    if head.returncode != 0:
        return "?"
    dirty = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--", "src"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return head.stdout.strip() + (" + local changes" if dirty else "")


def deltaprop_location(env: dict[str, str]) -> str:
    """The folder of the ``deltaprop`` package the children import."""
    code = "import deltaprop, os; print(os.path.dirname(deltaprop.__file__))"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return result.stdout.strip() or "?"


def report(
    seconds: dict[str, list[float]], args: argparse.Namespace, loads: tuple, where: str
) -> list[str]:
    """The Markdown section."""
    lines = [
        START_MARK,
        "## Start-up of the command-line tool",
        "",
        f"Generated {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by "
        f"`python benchmarks/startup.py` ({args.repeats} repetitions, commit {git_commit()}, "
        f"package `{where}`).",
        "",
        f"- Machine: {cpu_model()}, {os.cpu_count()} logical CPUs; {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}",
        f"- Load: one-minute load average {loads[0]:.2f} at the start, {loads[1]:.2f} at the "
        f"end, on {os.cpu_count()} CPUs.",
    ]
    if args.note:
        lines.append(f"- Note: {args.note}")
    lines += [
        "",
        f"| command (a fresh process) | median (min-max) | under {GOAL_SECONDS} s |",
        "|---|---|---|",
    ]
    for label, ts in seconds.items():
        median = statistics.median(ts)
        goal = "-" if label.startswith("`python") else ("yes" if median < GOAL_SECONDS else "no")
        lines.append(f"| {label} | {median:.3f} s ({min(ts):.3f}-{max(ts):.3f}) | {goal} |")
    lines += [
        "",
        "How it was run: model.deltaprop from `deltaprop train` on the breast-cancer table "
        "(569 rows, 16 hidden units, 20 epochs); every command a fresh process with its "
        "output captured, all commands once per repetition in a rotating order; wall time "
        f"from start to exit; medians, min and max of {args.repeats} repetitions.",
        END_MARK,
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10, help="repetitions (default 10)")
    parser.add_argument("--deltaprop", help="the deltaprop command (default: beside python)")
    parser.add_argument("--note", help="a line for the report (e.g. what else ran)")
    parser.add_argument("--output", type=Path, help="write the section into this file")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    deltaprop = args.deltaprop or shutil.which("deltaprop", path=str(Path(sys.executable).parent))
    if deltaprop is None:
        parser.error("no deltaprop command beside this python: pip install -e . or --deltaprop")

    env = child_env()
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="deltaprop-startup-") as name:
        folder = Path(name)
        prepare(folder, deltaprop, env)
        commands = cases(deltaprop)
        labels = list(commands)
        seconds: dict[str, list[float]] = {label: [] for label in labels}
        for label in labels:  # untimed: the first run fills the disk cache and .pyc files
            time_once(commands[label], folder, env)
        for repetition in range(args.repeats):
            shift = repetition % len(labels)
            for label in labels[shift:] + labels[:shift]:
                seconds[label].append(time_once(commands[label], folder, env))
    loads.append(os.getloadavg()[0])
    lines = report(seconds, args, tuple(loads), deltaprop_location(env))
    if args.output is None:
        print("\n".join(lines))
    else:
        write_section(args.output, lines, START_MARK, END_MARK)
        print(f"wrote the start-up section of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
