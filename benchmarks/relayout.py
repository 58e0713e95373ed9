"""Re-layout benchmark: two checkouts of deltaprop timed side by side in one run.

    git worktree add /tmp/deltaprop-old 5956152      # the commit before the re-layout
    python benchmarks/relayout.py --old /tmp/deltaprop-old/src --new src \\
        [--repeats 5] [--quick] [--output BENCHMARKS.md]

Each path is a ``src`` folder that holds a ``deltaprop`` package. Two versions of one
package cannot live in one process, so every timed run is a fresh ``python -c <case code>``
with ``PYTHONPATH=<src>``; the child checks that it imported the ``deltaprop`` it was meant
to, builds its data, warms up (two short iterations on a small slice: lazy imports and
first-call set-up), then times the training call alone and prints the seconds and the final
loss as JSON. The start-up case is the wall time of ``python -c "import deltaprop"`` itself.

Old and new alternate, the order flipping every repetition, so that a slow spell of the
shared machine hits both alike. The report gives medians with min and max and the ratio
new/old (below 1.00: the new tree is faster). Old and new must end every case with the same
final loss (relative difference at most 1e-6); a difference is flagged in the table and on
stderr, and the exit status is then 1.

The children run without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE in their environment (some
machines set them for old OpenBLAS builds; they slow a current NumPy: see run.py).

Without ``--output`` the Markdown section is printed; with it, the section replaces the
text between ``<!-- relayout:start -->`` and ``<!-- relayout:end -->`` in that file, or is
appended to it when the markers are absent.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from _report import cpu_model, write_section

BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
START_MARK = "<!-- relayout:start -->"
END_MARK = "<!-- relayout:end -->"
LOSS_RTOL = 1e-6
HUGE = 10**9  # n_iter_no_change / max_fun: never stop early

# Shared by every child: the parameters (argv[1]), the data generators of run.py, the report.
PRELUDE = '''
import json
import sys
import time
import warnings

import numpy as np

P = json.loads(sys.argv[1])
HUGE = 10**9


from _workloads import seed_data


def mnist_like(n_samples, seed=0):
    """784 standard-normal inputs (float32), 10 classes from a random linear teacher."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, 784), dtype=np.float32)
    teacher = rng.standard_normal((784, 10)).astype(np.float32) / 28.0
    labels = np.argmax(X @ teacher + rng.gumbel(size=(n_samples, 10)), axis=1)
    return X, labels, np.eye(10, dtype=np.float32)[labels]


def report(seconds, loss, n_iter):
    print(json.dumps({"seconds": seconds, "loss": float(loss), "n_iter": int(n_iter),
                      "module": dp.__file__}))


import deltaprop as dp
'''

SEED_BODY = """
X, y, w = seed_data(P["n_samples"], np.dtype(P["dtype"]))


def fit(X, y, w, max_iter):
    net = dp.Network([dp.Dense(64, 128, "sigmoid"), dp.Dense(128, 1, "sigmoid")], random_state=0)
    optimizer = dp.SGD(learning_rate=0.5)
    start = time.perf_counter()
    history = dp.train(net, X, y, sample_weight=w, optimizer=optimizer, max_iter=max_iter,
                       random_state=0)
    return time.perf_counter() - start, history.loss


fit(X[:256], y[:256], w[:256], 2)
seconds, losses = fit(X, y, w, P["max_iter"])
report(seconds, losses[-1], len(losses))
"""

ADAM_BODY = """
X, labels, Y = mnist_like(P["n_samples"])


def fit(X, Y, max_iter):
    layers = [dp.Dense(784, 256, "relu"), dp.Dense(256, 256, "relu"), dp.Dense(256, 10, "softmax")]
    net = dp.Network(layers, loss="cross_entropy", random_state=0)
    optimizer = dp.Adam(learning_rate=1e-3)
    start = time.perf_counter()
    history = dp.train(net, X, Y, optimizer=optimizer, batch_size=P["batch_size"],
                       max_iter=max_iter, random_state=0)
    return time.perf_counter() - start, history.loss


fit(X[: 2 * P["batch_size"]], Y[: 2 * P["batch_size"]], 1)
seconds, losses = fit(X, Y, P["max_iter"])
report(seconds, losses[-1], len(losses))
"""

DIGITS_BODY = """
from sklearn.datasets import load_digits

warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is the point here
X, labels = load_digits(return_X_y=True)
X = X / 16.0


def fit(X, labels, max_iter):
    clf = dp.MLPClassifier(hidden_layer_sizes=(100,), solver="adam", max_iter=max_iter,
                           random_state=0, tol=0.0, n_iter_no_change=HUGE)
    start = time.perf_counter()
    clf.fit(X, labels)
    return time.perf_counter() - start, clf


fit(X[:400], labels[:400], 2)
seconds, clf = fit(X, labels, P["max_iter"])
report(seconds, clf.loss_, clf.n_iter_)
"""

LBFGS_BODY = """
X, y, w = seed_data(P["n_samples"], np.float64)


def fit(X, y, w, max_iter):
    net = dp.Network([dp.Dense(64, 128, "sigmoid"), dp.Dense(128, 1, "sigmoid")], random_state=0)
    optimizer = dp.LBFGS(max_iter=max_iter, tol=1e-12, max_fun=HUGE)
    start = time.perf_counter()
    history = dp.train(net, X, y, sample_weight=w, optimizer=optimizer, max_iter=max_iter)
    return time.perf_counter() - start, history.loss


fit(X[:256], y[:256], w[:256], 2)
seconds, losses = fit(X, y, w, P["max_iter"])
report(seconds, losses[-1], len(losses))
"""

STARTUP_CODE = "import deltaprop, sys; sys.stdout.write(deltaprop.__file__)"


@dataclass
class Case:
    """One benchmark case: a label, the child's code and its parameters.

    Parameters
    ----------
    label : str
        The row's name in the report.
    body : str or None
        The case code run after ``PRELUDE`` in the child; None for the start-up case,
        which runs ``STARTUP_CODE`` and is timed from outside.
    params : dict
        Passed to the child as JSON in ``sys.argv[1]`` (``P`` there).
    """

    label: str
    body: str | None
    params: dict = field(default_factory=dict)


@dataclass
class Tree:
    """One checkout under test and what its runs returned."""

    name: str
    src: Path
    seconds: dict[str, list[float]] = field(default_factory=dict)
    losses: dict[str, float] = field(default_factory=dict)
    n_iters: dict[str, int] = field(default_factory=dict)


def make_cases(quick: bool) -> list[Case]:
    """The cases, after benchmarks/run.py's workloads (smaller, and tiny with ``quick``).

    Parameters
    ----------
    quick : bool
        Tiny sizes for a smoke test.

    Returns
    -------
    list of Case
    """
    seed_n, seed_iter = (2_000, 5) if quick else (50_000, 100)
    adam_n, adam_epochs = (1_000, 1) if quick else (20_000, 2)
    lbfgs_n, lbfgs_iter = (2_000, 5) if quick else (20_000, 100)
    digits_epochs = 3 if quick else 50
    return [
        Case('start-up: `python -c "import deltaprop"`', None),
        *(
            Case(
                f"seed network, {seed_n} x 64 -> 128 -> 1, SGD full batch, "
                f"{seed_iter} iterations, {dtype}",
                SEED_BODY,
                {"n_samples": seed_n, "dtype": dtype, "max_iter": seed_iter},
            )
            for dtype in ("float32", "float64")
        ),
        *(
            Case(
                f"784-256-256-10 Adam, {adam_n} rows, batch {batch}, {adam_epochs} epoch(s), "
                "float32",
                ADAM_BODY,
                {"n_samples": adam_n, "batch_size": batch, "max_iter": adam_epochs},
            )
            for batch in (128, 32)
        ),
        Case(
            f"`MLPClassifier(solver='adam')` on digits, 64-100-10, {digits_epochs} epochs",
            DIGITS_BODY,
            {"max_iter": digits_epochs},
        ),
        Case(
            f"seed network L-BFGS full batch, {lbfgs_n} rows, {lbfgs_iter} iterations, float64",
            LBFGS_BODY,
            {"n_samples": lbfgs_n, "max_iter": lbfgs_iter},
        ),
    ]


def child_env(src: Path) -> dict[str, str]:
    """The environment of a child: ``PYTHONPATH`` is ``src`` and this folder (for the shared
    workloads, which import no deltaprop), no OpenBLAS overrides."""
    env = {k: v for k, v in os.environ.items() if k not in BLAS_OVERRIDES}
    env["PYTHONPATH"] = os.pathsep.join([str(src), str(Path(__file__).resolve().parent)])
    return env


def check_module(tree: Tree, module: str) -> None:
    """Stop if the child imported a deltaprop other than the one in ``tree.src``."""
    if not Path(module).resolve().is_relative_to(tree.src.resolve()):
        raise SystemExit(f"{tree.name}: the child imported {module}, not the one in {tree.src}")


def run_case(case: Case, tree: Tree) -> dict:
    """Run ``case`` once in a fresh interpreter on ``tree``.

    Parameters
    ----------
    case : Case
    tree : Tree

    Returns
    -------
    dict
        ``seconds`` (the training call, or the whole interpreter for the start-up case) and,
        except for the start-up case, ``loss`` and ``n_iter``.

    Raises
    ------
    SystemExit
        When the child fails or imports a deltaprop from elsewhere.
    """
    if case.body is None:
        cmd = [sys.executable, "-c", STARTUP_CODE]
    else:
        code = PRELUDE + textwrap.dedent(case.body)
        cmd = [sys.executable, "-c", code, json.dumps(case.params)]
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=child_env(tree.src))
    wall = time.perf_counter() - start
    if out.returncode != 0:
        tail = "\n".join(out.stderr.strip().splitlines()[-15:])
        raise SystemExit(f"{tree.name}: case {case.label!r} failed:\n{tail}")
    if case.body is None:
        check_module(tree, out.stdout.strip())
        return {"seconds": wall}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    check_module(tree, result["module"])
    return result


def git_commit(src: Path) -> str | None:
    """Short commit of the checkout holding ``src`` (with "+ local changes"), else None."""
    head = subprocess.run(
        ["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    if head.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "-C", str(src), "status", "--porcelain", "--", "."], capture_output=True, text=True
    ).stdout.strip()
    return head.stdout.strip() + (" + local changes" if dirty else "")


def relative_difference(a: float, b: float) -> float:
    """``|a - b|`` relative to the larger magnitude (0 when both are 0)."""
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale > 0 else 0.0


def spread(ts: list[float]) -> str:
    """Median with min and max, in seconds."""
    return f"{statistics.median(ts):.3f} s ({min(ts):.3f}-{max(ts):.3f})"


def report(cases, old, new, args, elapsed, loads) -> tuple[list[str], list[str]]:
    """The Markdown section, and the labels of the cases whose final losses differ.

    Parameters
    ----------
    cases : list of Case
    old, new : Tree
        The checkouts, with their runs' results.
    args : argparse.Namespace
    elapsed : float
        The run's wall time in seconds.
    loads : tuple of float
        The one-minute load average at the start and at the end of the run.

    Returns
    -------
    lines : list of str
    mismatches : list of str
    """
    mode = "quick mode: tiny sizes, smoke test only" if args.quick else "full run"
    lines = [
        START_MARK,
        "## Re-layout: before and after",
        "",
        f"Generated {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by "
        f"`python benchmarks/relayout.py{' --quick' if args.quick else ''}` ({mode}, "
        f"{args.repeats} repetition(s), {elapsed / 60:.1f} minutes).",
        "",
        f"- Machine: {cpu_model()}, {os.cpu_count()} logical CPUs; {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, NumPy {np.__version__}",
    ]
    for tree in (old, new):
        commit = git_commit(tree.src)
        where = f"commit {commit}" if commit else "not a git checkout"
        lines.append(f"- {tree.name}: `{tree.src}` ({where})")
    lines += [
        "",
        "| case | old median (min-max) | new median (min-max) | new/old | final loss old / new |",
        "|---|---|---|---|---|",
    ]
    mismatches, ratios = [], []
    for case in cases:
        t_old, t_new = old.seconds[case.label], new.seconds[case.label]
        ratio = statistics.median(t_new) / statistics.median(t_old)
        ratios.append(ratio)
        if case.body is None:
            losses = "-"
        else:
            a, b = old.losses[case.label], new.losses[case.label]
            losses = f"{a:.6g} / {b:.6g}"
            if relative_difference(a, b) > LOSS_RTOL:
                losses += f" **DIFFER** ({relative_difference(a, b):.1e})"
                mismatches.append(case.label)
            if old.n_iters[case.label] != new.n_iters[case.label]:
                losses += f" (iterations {old.n_iters[case.label]} / {new.n_iters[case.label]})"
        lines.append(
            f"| {case.label} | {spread(t_old)} | {spread(t_new)} | {ratio:.2f} | {losses} |"
        )
    geomean = float(np.exp(np.mean(np.log(ratios))))
    lines += [
        "",
        f"Geometric mean of new/old: {geomean:.2f} (below 1.00: the new layout is faster).",
        "",
        "How it was run: every run is a fresh `python -c` with `PYTHONPATH` set to one tree's "
        "`src` (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset), old and new alternating in an "
        "order that flips every repetition; each child builds its data and warms up untimed, "
        "then times the training call alone (start-up: the whole interpreter's wall time); "
        f"medians, min and max of {args.repeats} repetition(s); one-minute load average "
        f"{loads[0]:.2f} at the start, {loads[1]:.2f} at the end "
        f"on {os.cpu_count()} CPUs.",
        END_MARK,
    ]
    return lines, mismatches


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="src folder of the old tree")
    parser.add_argument("--new", type=Path, required=True, help="src folder of the new tree")
    parser.add_argument("--repeats", type=int, default=None, help="default 5 (1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repetition")
    parser.add_argument("--output", type=Path, help="Markdown file to write the section into")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    for name in ("old", "new"):
        src = getattr(args, name)
        if not (src / "deltaprop" / "__init__.py").is_file():
            parser.error(f"--{name} must be a src folder holding a deltaprop package, got {src}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Time both trees, write or print the section; 1 when a final loss differs."""
    args = parse_args(argv)
    cases = make_cases(args.quick)
    old, new = Tree("old", args.old), Tree("new", args.new)
    loads = [os.getloadavg()[0]]
    start = time.perf_counter()
    for tree in (old, new):  # untimed: compile the .pyc files, so both start alike
        run_case(cases[0], tree)
    for r in range(args.repeats):
        for case in cases:
            for tree in (old, new) if r % 2 == 0 else (new, old):
                result = run_case(case, tree)
                tree.seconds.setdefault(case.label, []).append(result["seconds"])
                if "loss" in result:
                    tree.losses[case.label] = result["loss"]
                    tree.n_iters[case.label] = result["n_iter"]
                print(
                    f"[{r + 1}/{args.repeats}] {tree.name} {case.label}: {result['seconds']:.3f} s",
                    file=sys.stderr,
                )
    loads.append(os.getloadavg()[0])
    lines, mismatches = report(cases, old, new, args, time.perf_counter() - start, loads)
    if args.output:
        write_section(args.output, lines, START_MARK, END_MARK)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print("\n".join(lines))
    for label in mismatches:
        print(f"final loss differs between old and new: {label}", file=sys.stderr)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
