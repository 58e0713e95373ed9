"""Training through Dask on a Parquet dataset larger than the workers' memory.

Generates a Parquet dataset (by default 10 million rows x 20 float64 features and a
regression target, about 1.7 GB on disk and in memory, in files of 50 000 rows) and
runs ``deltaprop train DATA --dask`` on a local cluster of 2 worker processes of 400 MB
each (800 MB in all, less than half the data): ``--dask-data auto`` sees the data do not
fit and streams them, reading every partition again at each epoch. A sampler records
the resident memory of the command's process (the client) and of every worker process
(a process tree walk every 0.2 s). Writes ``benchmarks/results/dask_out_of_core.md`` and
its section of BENCHMARKS.md.

Run from the repository root (several minutes; the dataset is written once, under
``--folder``, and reused)::

    python benchmarks/dask_out_of_core.py      # --rows, --workers, --memory, --epochs
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import psutil
from _report import cpu_model, write_section

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "dask_out_of_core.md"
TITLE = "Dask training on data larger than the workers' memory"
START_MARK, END_MARK = "<!-- dask_out_of_core:start -->", "<!-- dask_out_of_core:end -->"
N_FEATURES = 20


def write_dataset(folder: Path, n_rows: int, rows_per_file: int, seed: int = 0) -> int:
    """Write the Parquet files (skipped when they are there); returns their bytes."""
    import pandas as pd  # the benchmark's own dependency (the dask extra brings it)

    folder.mkdir(parents=True, exist_ok=True)
    n_files = -(-n_rows // rows_per_file)
    done = folder / "_complete"
    if not done.exists():
        for old in folder.glob("*.parquet"):
            old.unlink()
        rng = np.random.default_rng(seed)
        coef = rng.normal(size=N_FEATURES)
        for i in range(n_files):
            n = min(rows_per_file, n_rows - i * rows_per_file)
            X = rng.normal(size=(n, N_FEATURES))
            frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(N_FEATURES)])
            frame["y"] = np.tanh(X @ coef / 4.0) + 0.1 * rng.normal(size=n)
            frame.to_parquet(folder / f"part-{i:05d}.parquet", index=False)
        done.write_text(f"{n_rows} rows\n")
    return sum(p.stat().st_size for p in folder.glob("*.parquet"))


class TreeSampler:
    """Peak resident memory of a process and of each of its descendants, every 0.2 s."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peaks: dict[int, tuple[int, str]] = {}
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for p in processes:
                try:
                    rss = p.memory_info().rss
                    role = self._role(p)
                except psutil.Error:
                    continue
                old = self.peaks.get(p.pid, (0, role))[0]
                self.peaks[p.pid] = (max(old, rss), role)
            time.sleep(0.2)

    def _role(self, p: psutil.Process) -> str:
        if p.pid == self.root.pid:
            return "client (the deltaprop command, with the scheduler and the nannies)"
        # a LocalCluster's nannies live in the command's process; each starts its worker
        # as a child process through multiprocessing
        line = " ".join(p.cmdline())
        return "worker" if "spawn_main" in line or "forkserver" in line else "other"

    def stop(self) -> None:
        self.running = False
        self.thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rows-per-file", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory", default="400MB", help="memory limit per worker")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/deltaprop-out-of-core"))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args()

    start = time.perf_counter()
    data_bytes = write_dataset(args.folder / "data", args.rows, args.rows_per_file)
    written = time.perf_counter() - start
    command = [
        sys.executable, "-m", "deltaprop.cli", "train", str(args.folder / "data"),
        "--target", "y", "--task", "regression", "--hidden", "16", "--solver", "gd",
        "--learning-rate", "0.1", "--max-iter", str(args.epochs),
        "--dask", "--dask-workers", str(args.workers), "--dask-worker-memory", args.memory,
        "--dask-data", "auto", "--out", str(args.folder / "model.dp"),
    ]  # fmt: skip
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = TreeSampler(process.pid)
    output, _ = process.communicate()
    sampler.stop()
    elapsed = time.perf_counter() - start
    print(output)
    peaks = sampler.peaks.values()
    workers = sorted((rss for rss, role in peaks if role == "worker"), reverse=True)
    client = max((rss for rss, role in peaks if role.startswith("client")), default=0)
    said = [line for line in output.splitlines() if line.strip()]
    # Dask's own log lines (memory warnings, pauses): counted by kind, not copied
    logged = [line for line in said if re.match(r"\d{4}-\d\d-\d\d .* - distributed\.", line)]
    kinds = Counter(re.sub(r".* - (WARNING|INFO|ERROR) - ", "", line)[:40] for line in logged)
    lines = [
        f"`python benchmarks/dask_out_of_core.py` on {cpu_model()} ({platform.machine()}, "
        f"{os.cpu_count()} cores, shared with other jobs: the machine was loaded, so the time "
        f"is indicative), Python {platform.python_version()}.",
        "",
        f"- dataset: {args.rows:,} rows x {N_FEATURES} float64 features + target, "
        f"{-(-args.rows // args.rows_per_file)} Parquet files, {data_bytes / 1e9:.2f} GB on disk "
        f"(written in {written:.0f} s, or reused)",
        f"- cluster: {args.workers} worker processes x {args.memory} "
        "(`--dask-workers`, `--dask-worker-memory`), one thread each",
        f"- command: `deltaprop train DATA --target y --task regression --hidden 16 --solver gd "
        f"--max-iter {args.epochs} --dask --dask-data auto ...` (exit code {process.returncode})",
        f"- wall time of the command (start of the cluster, preprocessing passes, "
        f"{args.epochs} epochs): {elapsed:.0f} s",
        "- peak resident memory per worker process: "
        + ", ".join(f"{rss / 1e6:.0f} MB" for rss in workers),
        f"- peak resident memory of the client (the command's process): {client / 1e6:.0f} MB",
        "- Dask's log lines during the run: "
        + (", ".join(f"{n} x '{kind}...'" for kind, n in kinds.most_common(4)) or "none"),
        "",
        "The command's output (without Dask's log lines):",
        "",
        "```text",
        *[line for line in said if line not in logged],
        "```",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join([f"# {TITLE}", "", *lines]))
    write_section(
        args.output, [START_MARK, f"## {TITLE}", "", *lines, END_MARK], START_MARK, END_MARK
    )
    print("\n".join(lines))
    sys.exit(process.returncode)


if __name__ == "__main__":
    main()
