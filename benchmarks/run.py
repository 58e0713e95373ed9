"""Benchmarks: deltaprop against scikit-learn and PyTorch; writes BENCHMARKS.md.

    python benchmarks/run.py [--quick | --smoke] [--output BENCHMARKS.md]

Everything runs in this one process, except the peak-memory probes (one subprocess per
case and contender, so that each reads its own peak resident memory). For every case the
contenders first train from the same initial weights for a few iterations and their loss
trajectories are compared (the run stops if they differ; this is also the warm-up). Then
the timed runs alternate between the contenders (the order rotates every repetition), so
that a slow spell of the shared machine hits them all alike. Reported times are medians
over the repetitions.

If OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE are set (some machines set them to work around
old OpenBLAS builds; they slow a current NumPy), the script restarts itself once with
both removed from its own environment, and BENCHMARKS.md says so. See README.md here.
"""

from __future__ import annotations

import os
import sys

_BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_UNSET_MARK = "DELTAPROP_BENCH_UNSET"


def _restart_without_blas_overrides() -> None:
    """Re-execute this script without the OpenBLAS overrides (before NumPy loads)."""
    found = {k: os.environ[k] for k in _BLAS_OVERRIDES if k in os.environ}
    if found and _UNSET_MARK not in os.environ:
        env = {k: v for k, v in os.environ.items() if k not in _BLAS_OVERRIDES}
        env[_UNSET_MARK] = ";".join(f"{k}={v}" for k, v in found.items())
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


if __name__ == "__main__":
    _restart_without_blas_overrides()
    if "--smoke" in sys.argv:
        # before NumPy and PyTorch load their thread pools: where other processes held the
        # cores, OpenMP threads spinning while they wait and OpenBLAS's threads waiting on
        # each other made the tiny cases of a smoke run up to ten times slower
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# ruff: noqa: E402  (the imports below must follow the restart above)
import argparse
import datetime
import gc
import json
import math
import platform
import re
import resource
import statistics
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # benchmark this checkout, not an installed copy

from _recipe_step import DeltapropMembers, TorchMembers, recipe_data, recipe_floor, recipe_init
from _workloads import seed_data

import deltaprop as dp
from deltaprop.optim.fused import fused_adam

SEED_LR = 0.5
ADAM_LR = 1e-3
HUGE = 10**9  # n_iter_no_change for scikit-learn: never stop early


@dataclass(frozen=True)
class Sizes:
    """How big a run is: the rows, iterations and repetitions of every case."""

    repeats: int
    seed_samples: int
    seed_iters: int
    check_iters: int  # the seed network's trajectory check
    mlp_samples: int
    lbfgs_iters: int
    big_samples: int  # the bounded-memory probe
    gemm_size: int
    gemm_repeats: int
    recipe_samples: int  # the tabular recipe's step: rows, and epochs per timed run
    recipe_epochs: int


SIZES = {
    "full": Sizes(5, 50_000, 200, 10, 60_000, 100, 2_000_000, 2048, 9, 10_000, 10),
    "quick": Sizes(3, 50_000, 20, 10, 12_800, 20, 200_000, 2048, 9, 10_000, 3),
    # checks that the script runs end to end (tests/test_benchmarks.py); figures mean nothing
    "smoke": Sizes(1, 2_000, 3, 3, 512, 3, 20_000, 256, 1, 1_000, 1),
}


# ----------------------------------------------------------------------------- data


def seed_init():
    net = dp.Network([dp.Dense(64, 128, "sigmoid"), dp.Dense(128, 1, "sigmoid")], random_state=0)
    return [np.array(p, dtype=np.float64) for p in net.parameters]


def mnist_like(n_samples, seed=0):
    """784 standard-normal inputs (float32), 10 classes from a random linear teacher."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, 784), dtype=np.float32)
    teacher = rng.standard_normal((784, 10)).astype(np.float32) / 28.0
    labels = np.argmax(X @ teacher + rng.gumbel(size=(n_samples, 10)), axis=1)
    return X, labels, np.eye(10, dtype=np.float32)[labels]


def mlp_init():
    layers = [dp.Dense(784, 256, "relu"), dp.Dense(256, 256, "relu"), dp.Dense(256, 10, "softmax")]
    net = dp.Network(layers, loss="cross_entropy", random_state=0)
    return [np.array(p, dtype=np.float64) for p in net.parameters]


def _pairs(params):
    return list(zip(params[::2], params[1::2], strict=True))


# ------------------------------------------------------------------------ contenders
# Each contender: prepare() resets to the initial weights (not timed); run() trains and
# returns the loss trajectory (timed).


class DeltapropTrain:
    name = "deltaprop train"

    def __init__(self, init, layers, loss, X, y, w, optimizer, batch_size, max_iter):
        self.init, self.layers, self.loss = init, layers, loss
        self.X, self.y, self.w = X, y, w
        self.make_optimizer, self.batch_size, self.max_iter = optimizer, batch_size, max_iter

    def prepare(self):
        self.net = dp.Network(self.layers(), loss=self.loss, random_state=0)
        for layer, (W, b) in zip(self.net.layers, _pairs(self.init), strict=True):
            layer.weights, layer.bias = W.copy(), b.copy()

    def run(self):
        history = dp.train(
            self.net,
            self.X,
            self.y,
            sample_weight=self.w,
            optimizer=self.make_optimizer(),
            batch_size=self.batch_size,
            max_iter=self.max_iter,
            random_state=0,
        )
        return history.loss


class SklearnMLP:
    """scikit-learn's MLPClassifier (or deltaprop's drop-in) started from ``init``."""

    name = "scikit-learn MLPClassifier"

    def __init__(self, init, X, labels, w, max_iter, **params):
        self.init, self.X, self.labels, self.w = init, X, labels, w
        self.max_iter, self.params = max_iter, params

    def estimator_class(self):
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier

    def prepare(self):
        from sklearn.exceptions import ConvergenceWarning

        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Got `batch_size` less than 1")
        cls = self.estimator_class()
        dtype = self.X.dtype
        # One short fit creates the fitted attributes; warm_start then keeps the weights.
        self.clf = cls(max_iter=1, **self.params)
        n_small = min(2000, self.X.shape[0])
        w_small = None if self.w is None else self.w[:n_small]
        self.clf.fit(self.X[:n_small], self.labels[:n_small], sample_weight=w_small)
        self.clf.set_params(warm_start=True, max_iter=self.max_iter)
        self.clf.coefs_ = [W.astype(dtype) for W in self.init[::2]]
        self.clf.intercepts_ = [b.astype(dtype) for b in self.init[1::2]]
        self.n_before = len(getattr(self.clf, "loss_curve_", []))

    def run(self):
        self.clf.fit(self.X, self.labels, sample_weight=self.w)
        curve = [float(v) for v in getattr(self.clf, "loss_curve_", [])[self.n_before :]]
        return curve or [float(self.clf.loss_)]


class DeltapropMLP(SklearnMLP):
    name = "deltaprop MLPClassifier(solver='gd')"

    def estimator_class(self):
        return dp.MLPClassifier


class TorchSeed:
    """PyTorch eager loop: Linear-sigmoid-Linear, weighted BCE with logits, SGD."""

    name = "PyTorch eager"

    def __init__(self, init, X, y, w, max_iter):
        import torch

        self.torch, self.init, self.max_iter = torch, init, max_iter
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y).reshape(-1, 1)
        self.w = torch.from_numpy(w)
        self.dtype = self.X.dtype

    def prepare(self):
        torch = self.torch
        W1, b1, W2, b2 = (torch.from_numpy(p).to(self.dtype) for p in self.init)
        self.l1, self.l2 = torch.nn.Linear(64, 128), torch.nn.Linear(128, 1)
        self.l1.to(self.dtype), self.l2.to(self.dtype)
        with torch.no_grad():
            self.l1.weight.copy_(W1.T), self.l1.bias.copy_(b1)
            self.l2.weight.copy_(W2.T), self.l2.bias.copy_(b2)

    def run(self):
        torch, F = self.torch, self.torch.nn.functional
        params = [*self.l1.parameters(), *self.l2.parameters()]
        optimizer = torch.optim.SGD(params, lr=SEED_LR)
        total = self.w.sum()
        losses = []
        for _ in range(self.max_iter):
            optimizer.zero_grad()
            z = self.l2(torch.sigmoid(self.l1(self.X)))
            per_sample = F.binary_cross_entropy_with_logits(z, self.y, reduction="none")
            loss = (per_sample[:, 0] * self.w).sum() / total
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses


class TorchMLP:
    """PyTorch eager loop: 784-256-256-10 ReLU, cross-entropy, Adam, dp's batch order."""

    name = "PyTorch eager"

    def __init__(self, init, X, labels, batch_size):
        import torch

        self.torch, self.init, self.batch_size = torch, init, batch_size
        self.X, self.labels = torch.from_numpy(X), torch.from_numpy(labels)

    def prepare(self):
        torch = self.torch
        nn = torch.nn
        self.model = nn.Sequential(
            nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
        )
        with torch.no_grad():
            for i, layer in enumerate(self.model[::2]):
                layer.weight.copy_(torch.from_numpy(self.init[2 * i].T.astype(np.float32)))
                layer.bias.copy_(torch.from_numpy(self.init[2 * i + 1].astype(np.float32)))

    def run(self):
        torch, F = self.torch, self.torch.nn.functional
        optimizer = torch.optim.Adam(self.model.parameters(), lr=ADAM_LR)
        n = self.X.shape[0]
        order = torch.from_numpy(np.random.default_rng(0).permutation(n))  # as dp's seed 0
        loss_sum = 0.0
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            optimizer.zero_grad()
            loss = F.cross_entropy(self.model(self.X[idx]), self.labels[idx])
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * idx.shape[0]
        return [loss_sum / n]


# ------------------------------------------------------------------------ cases
def seed_contenders(X, y, w, max_iter, *, include_missing=True):
    init = seed_init()

    def deltaprop_train():
        return DeltapropTrain(
            init,
            lambda: [dp.Dense(64, 128, "sigmoid"), dp.Dense(128, 1, "sigmoid")],
            "binary_cross_entropy",
            X,
            y,
            w,
            lambda: dp.SGD(learning_rate=SEED_LR),
            None,
            max_iter,
        )

    out = {
        "deltaprop": WithCompiledLoops("1", deltaprop_train()),
        "sklearn": SklearnMLP(
            init,
            X,
            y.astype(np.int64),
            w,
            max_iter,
            hidden_layer_sizes=(128,),
            activation="logistic",
            solver="sgd",
            batch_size=X.shape[0],
            learning_rate_init=SEED_LR,
            momentum=0.0,
            alpha=0.0,
            shuffle=False,
            tol=0.0,
            n_iter_no_change=HUGE,
        ),
        "torch": TorchSeed(init, X, y, w, max_iter),
    }
    if include_missing:
        out["deltaprop_numpy"] = WithCompiledLoops("0", deltaprop_train())
    if include_missing and hasattr(dp, "MLPClassifier"):
        out["deltaprop_mlp"] = DeltapropMLP(
            init,
            X,
            y.astype(np.int64),
            w,
            max_iter,
            hidden_layer_sizes=(128,),
            activation="logistic",
            solver="gd",
            learning_rate_init=SEED_LR,
            alpha=0.0,
            tol=0.0,
            n_iter_no_change=HUGE,
        )
    return out


def mlp_contenders(X, labels, Y, batch_size, *, shuffle=True):
    init = mlp_init()
    return {
        "deltaprop": WithCompiledLoops("1", mlp_deltaprop(init, X, Y, batch_size)),
        "sklearn": SklearnMLP(
            init,
            X,
            labels,
            None,
            1,
            hidden_layer_sizes=(256, 256),
            activation="relu",
            solver="adam",
            batch_size=batch_size,
            learning_rate_init=ADAM_LR,
            alpha=0.0,
            shuffle=shuffle,
            random_state=0,
            tol=0.0,
            n_iter_no_change=HUGE,
        ),
        "torch": TorchMLP(init, X, labels, batch_size),
        "deltaprop_numpy": WithCompiledLoops("0", mlp_deltaprop(init, X, Y, batch_size)),
    }


def mlp_deltaprop(init, X, Y, batch_size):
    return DeltapropTrain(
        init,
        lambda: [
            dp.Dense(784, 256, "relu"),
            dp.Dense(256, 256, "relu"),
            dp.Dense(256, 10, "softmax"),
        ],
        "cross_entropy",
        X,
        Y,
        None,
        lambda: dp.Adam(learning_rate=ADAM_LR),
        batch_size,
        1,
    )


def _numba_version():
    try:
        import numba
    except ImportError:
        return "not installed (Adam's NumPy operations throughout)"
    return numba.__version__


class WithCompiledLoops:
    """A contender run with ``DELTAPROP_FUSED`` set: ``"1"`` Numba's compiled loops from
    the first step (Adam's update, the sigmoid's element-wise work; Numba loaded once
    per process, as PyTorch's import is not timed), ``"0"`` NumPy's operations. The same
    bits (deltaprop.core.compiled), so the before/after of the loops is measured side by
    side in one run.
    """

    def __init__(self, setting, inner):
        self.setting, self.inner = setting, inner

    def prepare(self):
        self.inner.prepare()
        if self.setting == "1":  # load the compiled loop outside the timed (and measured) run
            os.environ["DELTAPROP_FUSED"] = "1"
            update = fused_adam()
            if update is not None:
                a = np.zeros(1, dtype=np.float32)
                update(a, a, a.copy(), a.copy(), a.copy(), *(np.float32(0.5),) * 10)
            del os.environ["DELTAPROP_FUSED"]

    def run(self):
        before = os.environ.get("DELTAPROP_FUSED")
        os.environ["DELTAPROP_FUSED"] = self.setting
        try:
            return self.inner.run()
        finally:
            if before is None:
                del os.environ["DELTAPROP_FUSED"]
            else:
                os.environ["DELTAPROP_FUSED"] = before


NAMES = {
    "deltaprop": "deltaprop `train`",
    "deltaprop_mlp": "deltaprop `MLPClassifier(solver='gd')`",
    "deltaprop_numpy": "deltaprop `train`, NumPy's operations only (`DELTAPROP_FUSED=0`)",
    "sklearn": "scikit-learn `MLPClassifier`",
    "torch": "PyTorch eager",
    "floor": "matrix products alone (the floor)",
    "members": "deltaprop `train_members` (the recipe's step)",
    "members_one_thread": "deltaprop `train_members`, the stack on one thread",
    "members_numpy": "deltaprop `train_members`, NumPy's operations only (`DELTAPROP_FUSED=0`)",
    "torch_members": "PyTorch eager, the members stacked (`baddbmm`)",
}


# ------------------------------------------------------------------------ measuring
def alternate(contenders, repeats):
    """Time ``repeats`` rounds in rotating order (the trajectory check was the warm-up)."""
    times = {k: [] for k in contenders}
    keys = list(contenders)
    for r in range(repeats):
        for k in keys[r % len(keys) :] + keys[: r % len(keys)]:
            contenders[k].prepare()
            gc.collect()
            start = time.perf_counter()
            losses = contenders[k].run()
            times[k].append(time.perf_counter() - start)
            contenders[k].last_loss = losses[-1]
    return times


def compare_trajectories(contenders, rtol):
    """Train each contender briefly; return the largest relative difference to deltaprop."""
    curves = {}
    for k, c in contenders.items():
        c.prepare()
        curves[k] = np.asarray(c.run(), dtype=np.float64)
    ref = curves["deltaprop"]
    worst = {}
    for k, curve in curves.items():
        if curve.shape != ref.shape:
            raise SystemExit(f"{k}: {curve.shape[0]} losses, deltaprop {ref.shape[0]}")
        worst[k] = float(np.max(np.abs(curve - ref) / np.abs(ref)))
        if worst[k] > rtol:
            raise SystemExit(
                f"{k} does not follow deltaprop's loss trajectory: relative difference "
                f"{worst[k]:.2e} > {rtol:.0e}\n deltaprop {ref}\n {k} {curve}"
            )
    return worst, ref


def gemm_peak(dtype, size, repeats):
    """GFLOP/s of the fastest of ``repeats`` size x size products (a peak, not a median)."""
    A = np.random.default_rng(0).standard_normal((size, size)).astype(dtype)
    A @ A
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        A @ A
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


class Floor:
    """The case's matrix products alone, at NumPy's BLAS speed: timed like a contender."""

    name = "matrix products alone (floor)"

    def __init__(self, products, repeat, flops):
        self.products, self.repeat, self.flops = products, repeat, flops

    def prepare(self):
        pass

    def run(self):
        for _ in range(self.repeat):
            self.products()
        return [float("nan")]


def seed_floor(X, iters):
    """One iteration's products: X @ W1 and X.T @ delta1 (GEMMs), a1 @ w2 and delta2 @ a1
    (matrix-vector products). The rank-one product delta2 w2^T is element-wise work (a
    broadcast) and not counted."""
    n = X.shape[0]
    rng = np.random.default_rng(1)
    W1 = rng.standard_normal((64, 128)).astype(X.dtype)
    a1 = rng.uniform(size=(n, 128)).astype(X.dtype)
    w2 = rng.standard_normal(128).astype(X.dtype)
    d2 = rng.standard_normal(n).astype(X.dtype)

    def products():
        X @ W1
        a1 @ w2
        d2 @ a1
        X.T @ a1

    return Floor(products, iters, 2 * n * 64 * 128 * 2 + 2 * n * 128 * 2)


def mlp_floor(batch_size, n_samples):
    """One epoch's products (forward 3, backward 5) on fixed batches."""
    rng = np.random.default_rng(1)
    f = np.float32
    Xb = rng.standard_normal((batch_size, 784)).astype(f)
    W = [rng.standard_normal(s).astype(f) for s in [(784, 256), (256, 256), (256, 10)]]
    a = [rng.standard_normal((batch_size, k)).astype(f) for k in (256, 256, 10)]
    n_batches = -(-n_samples // batch_size)

    def products():
        Xb @ W[0], a[0] @ W[1], a[1] @ W[2]
        a[1].T @ a[2], a[2] @ W[2].T, a[0].T @ a[1], a[1] @ W[1].T, Xb.T @ a[0]

    per_batch = 784 * 256 + 256 * 256 + 256 * 10
    return Floor(products, n_batches, n_batches * 2 * batch_size * (3 * per_batch - 784 * 256))


# ------------------------------------------------------------------------ memory probes
def _rss_kib(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_probe(case, contender, sizes):
    """(Subprocess) peak extra resident memory of one training run, in MiB, as JSON."""
    if case == "big":
        X, y, w = seed_data(sizes.big_samples, np.float32)
        contenders = {"deltaprop": seed_contenders(X, y, w, 2, include_missing=False)["deltaprop"]}
    elif case.startswith("seed"):
        dtype = np.float32 if case == "seed32" else np.float64
        X, y, w = seed_data(sizes.seed_samples, dtype)
        contenders = seed_contenders(X, y, w, 3)
    else:
        X, y, w = mnist_like(sizes.mlp_samples)
        contenders = mlp_contenders(X, y, w, 128)
    c = contenders[contender]
    c.prepare()
    gc.collect()
    before = _rss_kib("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM, the peak resident set size, to the current RSS
        method = "VmHWM after resetting it"
    except OSError:
        method = "VmHWM (not resettable here: includes import peaks)"
    start = time.perf_counter()
    losses = c.run()
    seconds = time.perf_counter() - start
    peak = _rss_kib("VmHWM")
    result = {
        "extra_mib": (peak - before) / 1024,
        "data_mib": sum(a.nbytes for a in (X, y, w)) / 2**20,
        "seconds_per_iter": seconds / len(losses) if case == "big" else None,
        "method": method,
    }
    print(json.dumps(result))


def probe(case, contender, mode):
    cmd = [sys.executable, __file__, "--memory-probe", case, contender]
    if mode != "full":
        cmd.append(f"--{mode}")
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def probed(times, case, mode):
    """The contenders whose peak memory is measured in ``case``.

    A smoke run measures deltaprop alone, once per kind of probe (seed32 stands for
    seed64): each probe is a fresh process that imports PyTorch, seconds a smoke run lacks.
    """
    if mode == "smoke":
        return [] if case == "seed64" else ["deltaprop"]
    return [k for k in times if k != "floor"]


# ------------------------------------------------------------------------ report
def machine_section():
    info = {}
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    flags = info.get("flags", "").split()
    simd = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16") if f in flags]
    with open("/proc/meminfo") as fh:
        mem_kib = int(fh.readline().split()[1])
    import scipy
    import sklearn
    import threadpoolctl
    import torch

    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    lines = [
        "## Machine and software",
        "",
        f"- CPU: {info.get('model name', '?')}, {os.cpu_count()} logical CPUs "
        f"({info.get('cpu cores', '?')} cores per socket), SIMD: {', '.join(simd)}; "
        f"memory {mem_kib / 2**20:.1f} GiB; {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, NumPy {np.__version__}, SciPy {scipy.__version__}, "
        f"scikit-learn {sklearn.__version__}, PyTorch {torch.__version__}, "
        f"Numba {_numba_version()}, "
        f"deltaprop {dp.__version__} (commit {commit}{' + local changes' if dirty else ''})",
        f"- PyTorch threads: {torch.get_num_threads()}",
        "- Thread pools (threadpoolctl):",
        "",
        "| library | API | version | kernel (architecture) | threads |",
        "|---|---|---|---|---|",
    ]
    for pool in threadpoolctl.threadpool_info():
        lib = Path(pool.get("filepath", "?")).name
        lines.append(
            f"| {lib} | {pool.get('internal_api')} | {pool.get('version')} | "
            f"{pool.get('architecture', '-')} | {pool.get('num_threads')} |"
        )
    unset = os.environ.get(_UNSET_MARK)
    lines += [""]
    if unset:
        lines.append(
            f"- The environment had `{unset.replace(';', '`, `')}`; the script restarted itself "
            "with `OPENBLAS_CORETYPE` and `OPENBLAS_L2_SIZE` unset (for this run only), so "
            "OpenBLAS picked its kernel for this CPU (the architecture column above)."
        )
    else:
        lines.append(
            "- `OPENBLAS_CORETYPE` and `OPENBLAS_L2_SIZE` were not set: OpenBLAS picked its "
            "kernel for this CPU (the architecture column above)."
        )
    return lines


def cpu_counters():
    """(machine busy CPU-seconds incl. steal, this process's and its children's CPU-seconds)."""
    with open("/proc/stat") as fh:
        fields = [int(v) for v in fh.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    busy = sum(fields[:3]) + sum(fields[5:8])
    tick = os.sysconf("SC_CLK_TCK")
    own = sum(
        u.ru_utime + u.ru_stime
        for u in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )
    return busy / tick, own


def load_section(start, end, elapsed):
    machine = elapsed * (os.cpu_count() or 1)
    others = (end[0] - start[0]) - (end[1] - start[1])
    return [
        "## Load from other processes",
        "",
        f"During this run the machine's {os.cpu_count()} CPUs offered {machine:.0f} CPU-seconds; "
        f"this benchmark used {end[1] - start[1]:.0f} and other processes (or the hypervisor) "
        f"{max(others, 0.0):.0f}, that is {max(others, 0.0) / machine:.0%} of the machine. The "
        "more they took, the noisier the timings (see the min/max spread).",
    ]


def fmt_ratio(x):
    return f"{x:.2f}x"


def write_report(path, args, sections, elapsed):
    command = "python benchmarks/run.py" + ("" if args.mode == "full" else f" --{args.mode}")
    mode = {
        "full": "full run",
        "quick": "quick mode: fewer iterations and repetitions",
        "smoke": "smoke run: tiny sizes and one repetition, checking that the script runs; "
        "its figures mean nothing",
    }[args.mode]
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by benchmarks/run.py: do not edit by hand. -->",
        "",
        f"Generated {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by "
        f"`{command}` ({mode}, {elapsed / 60:.1f} minutes). How to read and rerun it: "
        "[benchmarks/README.md](benchmarks/README.md).",
        "",
    ]
    lines += [*machine_section(), ""]
    for section in sections:
        lines += [*section, ""]
    Path(path).write_text("\n".join(lines) + _other_sections(path))


def _other_sections(path):
    """The sections other scripts write into ``path`` between their markers, kept as they are.

    They follow this script's part: everything from the first section that starts with a
    ``## `` heading just before a ``<!-- name:start -->`` or ``<!-- name:end -->`` marker.
    """
    old = Path(path).read_text() if Path(path).exists() else ""
    marker = re.search(r"^<!-- [a-z_]+:(start|end) -->$", old, flags=re.M)
    if marker is None:
        return ""
    heading = old.rfind("\n## ", 0, marker.start())
    start = marker.start() if heading < 0 or marker.group(1) == "start" else heading + 1
    return "\n" + old[start:]


def timing_table(times, flops, iters, peak, memory, losses, trajectory, unit):
    """Rows per contender; ``times["floor"]`` holds the matrix products' own times."""
    base = statistics.median(times["deltaprop"])
    floor = statistics.median(times["floor"])
    rows = [
        f"| contender | median time | per {unit} | deltaprop faster by | GFLOP/s | "
        "of GEMM peak | time / floor | extra peak memory | final loss | "
        "trajectory vs deltaprop |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for k, ts in times.items():
        t = statistics.median(ts)
        gflops = flops / t / 1e9
        mem = memory.get(k, {})
        mem_text = f"{mem['extra_mib']:.0f} MiB" if "extra_mib" in mem else mem.get("error", "-")
        if k == "floor":
            faster, loss, traj = "-", "-", "-"
        else:
            faster = fmt_ratio(t / base)
            loss, traj = f"{losses[k]:.6g}", f"{trajectory[k]:.1e}"
        rows.append(
            f"| {NAMES[k]} | {t:.3f} s (min {min(ts):.3f}, max {max(ts):.3f}) | "
            f"{t / iters * 1e3:.2f} ms | {faster} | {gflops:.1f} | "
            f"{gflops / peak:.0%} | {t / floor:.2f} | {mem_text} | {loss} | {traj} |"
        )
    return rows


# ------------------------------------------------------------------------ main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--quick", action="store_true", help="fewer iterations and repeats")
    modes.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, one repetition: checks that the script runs, its figures mean "
        "nothing (needs --output)",
    )
    parser.add_argument("--output", help="the report's file (default: BENCHMARKS.md)")
    parser.add_argument("--memory-probe", nargs=2, metavar=("CASE", "CONTENDER"))
    args = parser.parse_args(argv)
    args.mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    sizes = SIZES[args.mode]
    if args.memory_probe:
        memory_probe(*args.memory_probe, sizes)
        return 0
    if args.output is None:
        if args.smoke:
            parser.error("--smoke needs --output: a smoke run never replaces BENCHMARKS.md")
        args.output = str(ROOT / "BENCHMARKS.md")

    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    mode = args.mode
    repeats, seed_iters, mlp_samples = sizes.repeats, sizes.seed_iters, sizes.mlp_samples
    started = time.perf_counter()
    counters_at_start = cpu_counters()
    sections = []
    summary = {}

    def log(msg):
        print(f"[{time.perf_counter() - started:6.1f} s] {msg}", flush=True)

    peaks = {
        dtype: gemm_peak(dtype, sizes.gemm_size, sizes.gemm_repeats)
        for dtype in (np.float32, np.float64)
    }
    log(f"GEMM peak: float32 {peaks[np.float32]:.0f}, float64 {peaks[np.float64]:.0f} GFLOP/s")
    sections.append(
        [
            "## GEMM peak",
            "",
            f"A {sizes.gemm_size} x {sizes.gemm_size} by {sizes.gemm_size} x "
            f"{sizes.gemm_size} product with NumPy's BLAS, the fastest of {sizes.gemm_repeats}.",
            "",
            "| dtype | GFLOP/s |",
            "|---|---|",
            f"| float32 | {peaks[np.float32]:.1f} |",
            f"| float64 | {peaks[np.float64]:.1f} |",
        ]
    )

    # 1. the seed network ------------------------------------------------------------
    n_seed = f"{sizes.seed_samples:,}".replace(",", " ")
    seed_section = [
        "## 1. The seed network, full-batch gradient descent",
        "",
        f"n = {n_seed} samples, 64 inputs -> 128 sigmoid -> 1 sigmoid, weighted binary "
        f"cross-entropy (random weights in [0.5, 2]), learning rate {SEED_LR}, "
        f"{seed_iters} iterations per run, medians of {repeats} alternated runs. "
        "scikit-learn: `MLPClassifier(solver='sgd', batch_size=n, momentum=0, alpha=0, "
        "shuffle=False, tol=0)` with `sample_weight`, started from the same weights through "
        "`coefs_`/`intercepts_` and `warm_start=True`. PyTorch: an eager loop with "
        "`binary_cross_entropy_with_logits` and `torch.optim.SGD`. The matrix-product floor is "
        "the time NumPy's BLAS needs for the iteration's products alone (two GEMMs, two "
        "matrix-vector products). deltaprop `train` runs with Numba's compiled loops "
        "(`DELTAPROP_FUSED=1`: the sigmoid's element-wise work in one pass); the row of "
        "NumPy's operations only is the same code with them off, the same bits.",
        "",
    ]
    if not hasattr(dp, "MLPClassifier"):
        seed_section += [
            "`deltaprop.MLPClassifier(solver='gd')`: skipped, `deltaprop.MLPClassifier` does "
            "not exist yet (the scikit-learn estimator issue).",
            "",
        ]
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        X, y, w = seed_data(sizes.seed_samples, dtype)
        check = seed_contenders(X, y, w, sizes.check_iters)
        trajectory, _ = compare_trajectories(check, 1e-3 if dtype == np.float32 else 1e-7)
        log(f"seed {name}: trajectories agree (max rel. diff {max(trajectory.values()):.1e})")
        contenders = seed_contenders(X, y, w, seed_iters)
        contenders["floor"] = floor = seed_floor(X, seed_iters)
        times = alternate(contenders, repeats)
        losses = {k: c.last_loss for k, c in contenders.items()}
        case = "seed32" if dtype == np.float32 else "seed64"
        memory = {k: probe(case, k, mode) for k in probed(times, case, mode)}
        log(
            "seed "
            + name
            + ": "
            + ", ".join(f"{k} {statistics.median(v):.3f} s" for k, v in times.items())
        )
        seed_section += [f"### {name}", ""]
        seed_section += timing_table(
            times,
            floor.flops * seed_iters,
            seed_iters,
            peaks[dtype],
            memory,
            losses,
            trajectory,
            "iteration",
        )
        seed_section += ["", f"Matrix products: {floor.flops / 1e9:.2f} GFLOP per iteration.", ""]
        summary[name] = {k: statistics.median(v) for k, v in times.items()}
    sections.append(seed_section)

    # 2. 784-256-256-10 with Adam --------------------------------------------------------
    X, labels, Y = mnist_like(mlp_samples)
    mlp_section = [
        "## 2. 784-256-256-10 ReLU/softmax, Adam, one epoch",
        "",
        f"{mlp_samples} synthetic samples (float32), cross-entropy, Adam (learning rate "
        f"{ADAM_LR}), one epoch of shuffled mini-batches, medians of {repeats} alternated runs. "
        "PyTorch visits the batches in deltaprop's order; scikit-learn shuffles with its own "
        "generator. The trajectory check trains one epoch on the first 16 batches' worth of "
        "rows, with scikit-learn given the rows in deltaprop's order (`shuffle=False`).",
        "",
    ]
    for batch_size in (128, 32, 1024):
        n_check = min(16 * batch_size, mlp_samples)
        perm = np.random.default_rng(0).permutation(n_check)
        check = mlp_contenders(X[:n_check], labels[:n_check], Y[:n_check], batch_size)
        check["sklearn"] = mlp_contenders(
            X[:n_check][perm], labels[:n_check][perm], Y[:n_check][perm], batch_size, shuffle=False
        )["sklearn"]
        # float32, as the seed network's float32 check: over 16 batches of 32 rows the
        # implementations' rounding drifts past 1e-4 (1.5e-4 seen on a 2-core Xeon)
        trajectory, _ = compare_trajectories(check, 1e-3)
        contenders = mlp_contenders(X, labels, Y, batch_size)
        contenders["floor"] = floor = mlp_floor(batch_size, mlp_samples)
        times = alternate(contenders, repeats)
        losses = {k: c.last_loss for k, c in contenders.items()}
        memory = {}
        if batch_size == 128:
            memory = {k: probe("mlp", k, mode) for k in probed(times, "mlp", mode)}
        log(
            f"mlp batch {batch_size}: "
            + ", ".join(f"{k} {statistics.median(v):.3f} s" for k, v in times.items())
        )
        mlp_section += [f"### batch size {batch_size}", ""]
        mlp_section += timing_table(
            times, floor.flops, 1, peaks[np.float32], memory, losses, trajectory, "epoch"
        )
        mlp_section += ["", f"Matrix products: {floor.flops / 1e9:.2f} GFLOP per epoch.", ""]
        summary[f"mlp{batch_size}"] = {k: statistics.median(v) for k, v in times.items()}
    sections.append(mlp_section)

    # 3. L-BFGS ------------------------------------------------------------------------
    lbfgs_section = ["## 3. Full-batch L-BFGS on the seed network", ""]
    if hasattr(dp, "LBFGS"):
        lbfgs_section += lbfgs_case(repeats, sizes.lbfgs_iters, sizes.seed_samples)
    else:
        lbfgs_section.append(
            "Skipped: `deltaprop.LBFGS` does not exist yet (the learning-algorithms issue)."
        )
    sections.append(lbfgs_section)

    # 4. bounded memory ------------------------------------------------------------------
    big = probe("big", "deltaprop", mode)
    n_big = sizes.big_samples
    log(f"big full batch: {big}")
    ok = "extra_mib" in big and big["extra_mib"] <= 256
    seconds = big.get("seconds_per_iter") or float("nan")
    sections.append(
        [
            f"## 4. Bounded memory: {n_big:,} x 64 float32, full batch",
            "",
            "The seed network trained for 2 full-batch iterations by `deltaprop.train` in a fresh "
            "process; extra peak memory is the peak resident set size during training minus the "
            f"resident size before it (data already loaded). Measured with {big.get('method')}.",
            "",
            "| rows | data | extra peak memory | bound | time per iteration |",
            "|---|---|---|---|---|",
            f"| {n_big:,} | {big.get('data_mib', float('nan')):.0f} MiB | "
            f"{big.get('extra_mib', float('nan')):.0f} MiB | 256 MiB: "
            f"{'within' if ok else 'EXCEEDED'} | {seconds:.2f} s |",
        ]
    )

    # 5. the tabular recipe's step -------------------------------------------------------
    sections.append(recipe_section(sizes, peaks[np.float32], log, summary))

    sections.append(targets_section(summary))
    sections.append(gpu_section())
    sections.append(
        [
            "## Method",
            "",
            "- One process; contenders alternate (the order rotates every repetition); the "
            "trajectory check, which runs every contender first, is the warm-up; times are "
            "medians, with min and max shown. Each run starts from the same initial weights, "
            "reset outside the timed region.",
            "- Memory: one subprocess per case and contender; the extra peak is `VmHWM` "
            "(reset through `/proc/self/clear_refs`) minus `VmRSS` before training: it counts "
            "NumPy's, scikit-learn's and PyTorch's allocations alike.",
            "- The machine is shared (2 cores, other jobs run beside the benchmark), so single "
            "timings are noisy; the min/max spread shows how much.",
        ]
    )
    elapsed = time.perf_counter() - started
    sections.append(load_section(counters_at_start, cpu_counters(), elapsed))
    write_report(args.output, args, sections, elapsed)
    log(f"wrote {args.output}")
    return 0


def recipe_contenders(data, epochs):
    init = recipe_init()
    return {
        "members": WithCompiledLoops("1", DeltapropMembers(init, data, epochs)),
        "members_one_thread": WithCompiledLoops(
            "1", DeltapropMembers(init, data, epochs, one_thread=True)
        ),
        "members_numpy": WithCompiledLoops("0", DeltapropMembers(init, data, epochs)),
        "torch_members": TorchMembers(init, data, epochs),
    }


def recipe_section(sizes, peak, log, summary):
    """Section 5: the tabular recipe's training step (benchmarks/_recipe_step.py)."""
    n, epochs = sizes.recipe_samples, sizes.recipe_epochs
    data = recipe_data(n)
    check = recipe_contenders(data, min(2, epochs))
    check["deltaprop"] = check.pop("members")
    trajectory, _ = compare_trajectories(check, 1e-3)
    trajectory["members"] = trajectory.pop("deltaprop")
    contenders = recipe_contenders(data, epochs)
    contenders["floor"] = floor = recipe_floor(n, epochs, Floor)
    times = alternate(contenders, sizes.repeats)
    losses = {k: c.last_loss for k, c in contenders.items()}
    log("recipe step: " + ", ".join(f"{k} {statistics.median(v):.3f} s" for k, v in times.items()))
    summary["recipe"] = {k: statistics.median(v) for k, v in times.items()}
    # timing_table's base is "deltaprop": the recipe's own step
    times = {("deltaprop" if k == "members" else k): v for k, v in times.items()}
    losses["deltaprop"] = losses.pop("members")
    trajectory["deltaprop"] = trajectory.pop("members")
    table = timing_table(times, floor.flops, epochs, peak, {}, losses, trajectory, "epoch")
    table = [row.replace("| deltaprop `train` |", f"| {NAMES['members']} |") for row in table]
    return [
        "## 5. The tabular recipe's training step",
        "",
        f"{n:,} synthetic rows (50 standard-normal float32 inputs, a nonlinear teacher), 5 "
        "members of 50-128-128-128-1 ReLU side by side as `deltaprop train` and "
        "`TabularRegressor` train them (each on its own 80% of the rows and its own batch "
        f"order, batch 256, Adam with beta_2 0.95, each member's held-out rows scored after "
        f"every epoch and its best epoch's weights kept), {epochs} epochs per run, medians "
        f"of {sizes.repeats} alternated runs, from the same initial weights and batch "
        "orders. PyTorch stacks the members as deltaprop does (`torch.baddbmm` over weights "
        "of shape (5, n_in, n_out); `torch.optim.Adam` on the stacked tensors is each "
        "member's own Adam). The floor is the epoch's matrix products over the stacks "
        "(`np.matmul`, forward 4, backward 7). The learning rate is constant and there is "
        "no weight decay, so that PyTorch's Adam is the same update "
        "(`benchmarks/_recipe_step.py`).",
        "",
        *table,
        "",
        f"Matrix products: {floor.flops / epochs / 1e9:.2f} GFLOP per epoch.",
        "",
    ]


def lbfgs_case(repeats, max_iter, n_samples):
    """deltaprop's L-BFGS against scikit-learn's (both SciPy's L-BFGS-B) from the same start."""
    X, y, w = seed_data(n_samples, np.float64)
    init = seed_init()

    class DeltapropLBFGS(DeltapropTrain):
        def run(self):
            return dp.train(
                self.net,
                self.X,
                self.y,
                sample_weight=self.w,
                optimizer=dp.LBFGS(max_iter=max_iter, tol=1e-12, max_fun=HUGE),
                max_iter=max_iter,
            ).loss

    contenders = {
        "deltaprop": DeltapropLBFGS(
            init,
            lambda: [dp.Dense(64, 128, "sigmoid"), dp.Dense(128, 1, "sigmoid")],
            "binary_cross_entropy",
            X,
            y,
            w,
            None,
            None,
            max_iter,
        ),
        "sklearn": SklearnMLP(
            init,
            X,
            y.astype(np.int64),
            w,
            max_iter,
            hidden_layer_sizes=(128,),
            activation="logistic",
            solver="lbfgs",
            alpha=0.0,
            tol=0.0,
            max_fun=HUGE,
        ),
    }
    try:
        for c in contenders.values():  # warm-up
            c.prepare()
            c.run()
        times = alternate(contenders, repeats)
    except (TypeError, ValueError) as exc:
        return [f"Not run: deltaprop.LBFGS did not accept the benchmark's call ({exc})."]
    rows = [
        f"{max_iter} L-BFGS iterations, float64, from the same initial weights.",
        "",
        "| contender | median time | deltaprop faster by | final loss |",
        "|---|---|---|---|",
    ]
    base = statistics.median(times["deltaprop"])
    for k, ts in times.items():
        t = statistics.median(ts)
        rows.append(f"| {NAMES[k]} | {t:.3f} s | {t / base:.2f}x | {contenders[k].last_loss:.6g} |")
    return rows


GPU_RESULTS = ROOT / "benchmarks" / "results" / "gpu.md"


def gpu_section():
    """The GPU results benchmarks/gpu.py wrote, or a note that there are none yet."""
    rows = ["## GPU", ""]
    if GPU_RESULTS.exists():
        rows += [
            "From `benchmarks/results/gpu.md`, written by `python benchmarks/gpu.py "
            "--markdown benchmarks/results/gpu.md` on a GPU machine (not by this run):",
            "",
            GPU_RESULTS.read_text().strip(),
        ]
        return rows
    rows += [
        "No GPU was available to run `benchmarks/gpu.py` yet: nothing here is measured on a "
        "GPU. On a machine with an NVIDIA GPU and a CUDA build of PyTorch, "
        "`python benchmarks/gpu.py --markdown benchmarks/results/gpu.md` (under five "
        "minutes) checks the float32 gradients on the GPU against float64 NumPy and times "
        "deltaprop eager, deltaprop with CUDA graphs, a PyTorch eager loop and a "
        "hand-captured PyTorch CUDA-graph loop; the next run of this script includes its "
        "tables here. Without CUDA it exits with code 2.",
        "",
        "For reference, the figures the GPU issue quotes (the issue's measurements, NVIDIA "
        "H200, PyTorch 2.11, not ours): the 784-256-256-10 Adam epoch (60 000 samples, "
        "batch 128) takes 0.97 s in an eager PyTorch loop and 0.10 s replayed as a CUDA "
        "graph; the seed network (n = 50 000, full batch) takes 1.11 ms per iteration eager "
        "and 0.23 ms as a graph. The issue's goals on that card: batch-128 epoch <= 0.12 s "
        "and seed network <= 0.3 ms per iteration with deltaprop's CUDA graphs.",
    ]
    return rows


def targets_section(summary):
    rows = ["## Targets (from the issue)", "", "| target | measured | met |", "|---|---|---|"]

    def add(label, value, goal):
        rows.append(f"| {label} | {value:.2f}x | {'yes' if value >= goal else 'no'} |")

    s32, s64 = summary["float32"], summary["float64"]
    add("seed float32: >= 2.0x scikit-learn", s32["sklearn"] / s32["deltaprop"], 2.0)
    add("seed float32: >= 1.0x PyTorch eager", s32["torch"] / s32["deltaprop"], 1.0)
    add("seed float64: >= 1.5x scikit-learn", s64["sklearn"] / s64["deltaprop"], 1.5)
    floor_ratio = s32["deltaprop"] / s32["floor"]
    rows.append(
        f"| seed float32: within 1.5x of the matrix-product floor | {floor_ratio:.2f}x the floor "
        f"| {'yes' if floor_ratio <= 1.5 else 'no'} |"
    )
    floor64 = s64["deltaprop"] / s64["floor"]
    rows.append(
        f"| seed float64: within 1.5x of the matrix-product floor | {floor64:.2f}x the floor "
        f"| {'yes' if floor64 <= 1.5 else 'no'} |"
    )
    m = summary["mlp128"]
    add("784-256-256-10 Adam batch 128: >= 1.5x scikit-learn", m["sklearn"] / m["deltaprop"], 1.5)
    add("784-256-256-10 Adam batch 128: >= 1.0x PyTorch eager", m["torch"] / m["deltaprop"], 1.0)
    rows += [
        "",
        "The scale-and-speed issue's targets (issue 20), from the same run:",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]

    def within(label, ratio, goal):
        met = "yes" if ratio <= goal else "no"
        rows.append(f"| {label} | {ratio:.2f}x the floor | {met} |")

    add("seed float32: >= 4x scikit-learn", s32["sklearn"] / s32["deltaprop"], 4.0)
    add("seed float32: >= 2.5x PyTorch eager", s32["torch"] / s32["deltaprop"], 2.5)
    if "deltaprop_numpy" in s32:
        rows.append(
            "| seed float32: the compiled sigmoid loops (Numba) against NumPy's operations "
            f"(before / after) | {s32['deltaprop_numpy'] / s32['deltaprop']:.2f}x | - |"
        )
    for batch, vs_sklearn, vs_torch in ((128, 2.0, 1.5), (32, 1.5, 1.2)):
        m = summary[f"mlp{batch}"]
        name = f"784-256-256-10 Adam batch {batch}"
        add(f"{name}: >= {vs_sklearn}x scikit-learn", m["sklearn"] / m["deltaprop"], vs_sklearn)
        add(f"{name}: >= {vs_torch}x PyTorch eager", m["torch"] / m["deltaprop"], vs_torch)
        within(f"{name}: within 1.3x of the matrix-product floor", m["deltaprop"] / m["floor"], 1.3)
        if "deltaprop_numpy" in m:
            rows.append(
                f"| {name}: the fused Adam update (Numba) against its NumPy operations "
                f"(before / after) | {m['deltaprop_numpy'] / m['deltaprop']:.2f}x | - |"
            )
    r = summary.get("recipe")
    if r:
        name = "the tabular recipe's step (5 members 50-128-128-128-1, batch 256)"
        rows.append(
            f"| {name}: against PyTorch eager, members stacked | "
            f"{r['torch_members'] / r['members']:.2f}x | - |"
        )
        rows.append(
            f"| {name}: the stack's halves on two threads against one thread "
            f"(before / after) | {r['members_one_thread'] / r['members']:.2f}x | - |"
        )
        rows.append(
            f"| {name}: the compiled loops (Numba) against NumPy's operations "
            f"(before / after) | {r['members_numpy'] / r['members']:.2f}x | - |"
        )
        rows.append(
            f"| {name}: time against the matrix-product floor | "
            f"{r['members'] / r['floor']:.2f}x the floor | - |"
        )
    return rows


if __name__ == "__main__":
    sys.exit(main())
