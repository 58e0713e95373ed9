"""Full-batch gradient descent on Dask vs in-process, at n = 1 000 000 rows.

The seed network (64 inputs -> 128 sigmoid -> 1 sigmoid, binary cross-entropy) trained
by full-batch gradient descent, on a ``LocalCluster`` with 1 and 2 worker processes (one
thread each) and in-process with NumPy. The data (512 MB of float64) are generated on
the workers and never pass through the client; the client's peak memory is sampled
during each call. Writes ``benchmarks/results/dask_scale.md`` (``--output``: elsewhere).

Run from the repository root (about 2-3 minutes on 2 cores)::

    python benchmarks/dask_scale.py            # --n, --iters, --chunk to change the size
"""

from __future__ import annotations

import argparse
import os
import platform
import threading
import time
from pathlib import Path

import dask
import dask.array as da
import distributed
import numpy as np
import psutil

import deltaprop as dp
from deltaprop.parallel import train as parallel_train

N_FEATURES, N_HIDDEN = 64, 128
OUT = Path(__file__).resolve().parent / "results" / "dask_scale.md"


class PeakRSS:
    """Sample this process's resident memory every 5 ms; ``peak`` is the increase in bytes."""

    def __init__(self):
        self.process = psutil.Process()

    def __enter__(self):
        self.base = self.peak_rss = self.process.memory_info().rss
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak = self.peak_rss - self.base


def make_data(n, chunk):
    """X ~ N(0, 1) and y from a fixed linear rule, built lazily on the workers."""
    rng = da.random.default_rng(0)
    X = rng.standard_normal((n, N_FEATURES), chunks=(chunk, N_FEATURES))
    coef = np.random.default_rng(1).normal(size=N_FEATURES)
    y = ((X @ coef) > 0).astype(np.float64)
    return X, y


def seed_net():
    layers = [dp.Dense(N_FEATURES, N_HIDDEN, "sigmoid"), dp.Dense(N_HIDDEN, 1, "sigmoid")]
    return dp.Network(layers, loss="binary_cross_entropy", random_state=0)


def timed(run, iters):
    """Best of two: seconds of a 1-iteration call, and per further iteration; peak client RSS.

    The per-iteration time is the difference between a (1 + iters)-iteration call and a
    1-iteration call, divided by ``iters``, so that the setup of each call cancels.
    """
    one, more = [], []
    for _ in range(2):
        t0 = time.perf_counter()
        first = run(1)
        one.append(time.perf_counter() - t0)
        with PeakRSS() as memory:
            t0 = time.perf_counter()
            history = run(1 + iters)
            more.append(time.perf_counter() - t0)
    per_iteration = (min(more) - min(one)) / iters
    return min(one), per_iteration, memory.peak, first.loss[0], history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--output", type=Path, default=OUT, help="default: results/dask_scale.md")
    args = parser.parse_args(argv)
    rows = []
    X_local = y_local = None
    for n_workers in (1, 2):
        with (
            distributed.LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            X, y = client.persist(list(make_data(args.n, args.chunk)))
            distributed.wait([X, y])

            def run(k, X=X, y=y, client=client):
                return parallel_train(
                    seed_net(), X, y, learning_rate=0.5, max_iter=k, client=client
                )

            setup, per_it, peak, loss0, history = timed(run, args.iters)
            workers = f"{n_workers} worker" + ("s" if n_workers > 1 else "")
            rows.append((f"Dask, {workers} x 1 thread", setup, per_it, peak, loss0))
            if X_local is None:  # the same numbers in memory, for the in-process baseline
                X_local, y_local = client.compute([X, y], sync=True)
    del X, y

    def run_local(k):
        return dp.train(seed_net(), X_local, y_local, optimizer=dp.SGD(0.5), max_iter=k)

    setup, per_it, peak, loss0, local_history = timed(run_local, args.iters)
    rows.append((f"in-process NumPy ({os.cpu_count()} BLAS threads)", setup, per_it, peak, loss0))
    agree = np.max(np.abs(np.array(history.loss) / np.array(local_history.loss) - 1.0))
    write(args, rows, agree)


def write(args, rows, agree):
    lines = [
        "# Dask data-parallel full-batch gradient descent vs in-process",
        "",
        "Generated by `python benchmarks/dask_scale.py` "
        f"(n = {args.n:,} rows, {args.chunk:,}-row chunks, {args.iters} timed iterations). "
        f"Seed network {N_FEATURES}-{N_HIDDEN}-1 sigmoid, binary cross-entropy, float64. "
        f"Machine: {os.cpu_count()} CPU cores, {platform.python_version()}, "
        f"NumPy {np.__version__}, Dask {dask.__version__}, distributed {distributed.__version__}.",
        "",
        "| configuration | a 1-iteration call (s) | per further iteration (s) "
        "| client peak memory increase (MB) | loss at iteration 1 |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, setup, per_it, peak, loss0 in rows:
        lines.append(f"| {name} | {setup:.2f} | {per_it:.2f} | {peak / 2**20:.0f} | {loss0:.12f} |")
    lines += [
        "",
        f"The Dask and in-process losses agree to a relative {agree:.1e} over all "
        f"{1 + args.iters} iterations (the distributed gradient is the exact sum of the "
        "blocks' gradient sums; only the order of the additions differs).",
        "",
        "- Times are the best of two runs. The data are generated and persisted on the "
        "workers before timing; a 1-iteration call then includes `train`'s setup: "
        "validating the blocks and keeping X, y and w together on the workers (Dask), "
        "or validating the arrays (in-process). Other jobs shared the 2 cores, so the "
        "figures are noisy.",
        "- *Client memory* is the peak increase of the client process's resident memory "
        "during the timed call; on a LocalCluster this process also runs the scheduler. "
        "The data (512 MB) never pass through it: per iteration it sends the flat "
        f"parameter vector ({N_FEATURES * N_HIDDEN + 2 * N_HIDDEN + 1:,} floats) to each "
        "worker and receives one summed gradient of the same size. In-process training "
        "instead holds the data and the full-batch activations and deltas.",
        "- *In-process* full-batch training materialises (n, 128) temporaries (1 GB each "
        "at this n) for every activation, delta and product, so it is bound by memory "
        "traffic and fresh page allocations rather than by arithmetic; the Dask blocks' "
        f"temporaries are (chunk, 128) ({args.chunk * N_HIDDEN * 8 / 2**20:.0f} MB). "
        "That is why one single-threaded worker can beat in-process NumPy here; a "
        "chunked in-process full batch would close most of that gap.",
        "",
        "**Expected scaling with workers.** The work per iteration is two matrix products "
        "per layer over all rows, split evenly over the blocks, so with W workers the "
        "compute time is about 1/W of one worker's. The fixed cost per iteration is one "
        "broadcast of the parameters, one task per block and a reduction tree of depth "
        "log_8(blocks) over gradient vectors of 8 449 floats: milliseconds, against "
        "seconds of arithmetic at this size. Scaling should therefore stay close to "
        "linear until a block's compute time falls to the order of the scheduling "
        "overhead (~1 ms per task: tens of thousands of rows per block per worker "
        "thread), or until the cores are shared. On this 2-core machine, 2 workers use "
        "both cores, as does in-process NumPy through its multithreaded BLAS, so the "
        "2-worker figure is the fair comparison with in-process.",
        "",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
