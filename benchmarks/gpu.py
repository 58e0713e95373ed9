"""deltaprop on a GPU: gradients against float64 NumPy, and training speed.

    python benchmarks/gpu.py                       # on a CUDA machine, about 1-2 minutes
    python benchmarks/gpu.py --quick               # smaller data, one repetition
    python benchmarks/gpu.py --device cpu --quick  # the same code paths on PyTorch CPU
    python benchmarks/gpu.py --markdown PATH       # also write a markdown fragment

(a) Gradients: the seed network and the 784-256-256-10 network, float32 tensors on the
device, against float64 NumPy on the same weights; the largest relative error
``max |g32 - g64| / max |g64|`` per parameter must be below 1e-4 (exit code 1 if not).

(b) Speed, the speed issue's two cases (data and initial weights from run.py):
the seed network (n = 50 000, 64-128-1 sigmoid, weighted binary cross-entropy,
full-batch gradient descent) per iteration, and 784-256-256-10 ReLU/softmax with Adam at
batch 128, one epoch of 60 000 samples. Contenders: ``deltaprop.train`` eager
(``cuda_graph=False``), ``deltaprop.train`` with CUDA graphs (``cuda_graph=True``), a
PyTorch eager loop, and a PyTorch loop whose step is captured by hand in a
``torch.cuda.CUDAGraph`` (the short last batch runs eagerly). deltaprop's times are
steady-state: iterations 2..k of one ``train`` call (a callback notes the first's end), so
the first iteration (with the one-off capture) is left out; it is reported apart.
Medians over the repetitions. The CUDA-graph contenders need CUDA (on the CPU they are
listed as not run).

Without CUDA (and without ``--device cpu``) the script prints why on stderr and exits
with code 2; nothing is measured. Exit code 1: a gradient check failed.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # run.py: the cases' data and initial weights
from run import ADAM_LR, SEED_LR, mlp_init, mnist_like, seed_data, seed_init  # noqa: E402

import deltaprop as dp  # noqa: E402  (run.py put this checkout's src first)

GRADIENT_TOLERANCE = 1e-4


def _sync(torch, device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _seed_layers():
    return [dp.Dense(64, 128, "sigmoid"), dp.Dense(128, 1, "sigmoid")]


def _mlp_layers():
    return [dp.Dense(784, 256, "relu"), dp.Dense(256, 256, "relu"), dp.Dense(256, 10, "softmax")]


def _net(layers, loss, init):
    net = dp.Network(layers, loss=loss)
    net._set_parameters([np.array(p) for p in init])
    return net


# ------------------------------------------------------------------ (a) gradients
def gradient_check(torch, device, n_seed, n_mlp):
    """Largest relative error of float32 device gradients against float64 NumPy."""
    X, y, w = seed_data(n_seed, np.float64)
    Xm, _, Ym = mnist_like(n_mlp)
    cases = [
        ("seed network", _seed_layers, "binary_cross_entropy", seed_init(), X, y, w),
        ("784-256-256-10", _mlp_layers, "cross_entropy", mlp_init(), Xm, Ym, None),
    ]
    rows = []
    for name, layers, loss, init, X, y, w in cases:
        net = _net(layers(), loss, init)
        X64 = np.asarray(X, dtype=np.float64)
        y64 = np.asarray(y, dtype=np.float64)
        loss64, grads64 = net.loss_and_gradients(X64, y64, w)

        def on_device(a):
            return None if a is None else torch.asarray(a, dtype=torch.float32, device=device)

        loss32, grads32 = net.loss_and_gradients(on_device(X), on_device(y), on_device(w))
        errors = []
        for pair32, pair64 in zip(grads32, grads64, strict=True):
            for g32, g64 in zip(pair32, pair64, strict=True):
                assert g32.device.type == device.type
                diff = np.max(np.abs(g32.cpu().numpy().astype(np.float64) - g64))
                errors.append(diff / np.max(np.abs(g64)))
        rows.append((name, abs(loss32 - loss64) / abs(loss64), max(errors)))
    return rows


# ------------------------------------------------------------------ (b) timing
def time_deltaprop(torch, device, make_net, X, y, w, optimizer, batch_size, iters, graph):
    """Steady-state seconds per iteration, the first iteration's extra time, the last loss.

    One ``train`` call of ``iters`` iterations; a callback notes when the first one ends.
    The time per iteration is that of iterations 2..iters, so the first iteration's
    one-off work (capturing the graphs, the first call's setup) is reported apart.
    """
    net, opt, stamps = make_net(), optimizer(), []
    _sync(torch, device)
    start = time.perf_counter()
    history = dp.train(
        net,
        X,
        y,
        sample_weight=w,
        optimizer=opt,
        batch_size=batch_size,
        max_iter=iters,
        random_state=0,
        cuda_graph=graph,
        callbacks=lambda iteration, history, net: stamps.append(time.perf_counter()),
    )
    _sync(torch, device)
    end = time.perf_counter()
    per_iter = (end - stamps[0]) / (iters - 1)
    return per_iter, stamps[0] - start - per_iter, history.loss[-1]


class TorchSeed:
    """The seed network in PyTorch: Linear-sigmoid-Linear, weighted BCE with logits, SGD."""

    def __init__(self, torch, device, X, y, w):
        self.torch, self.device = torch, device
        self.X, self.y, self.w = X, y.reshape(-1, 1), w
        nn = torch.nn
        self.model = nn.Sequential(nn.Linear(64, 128), nn.Sigmoid(), nn.Linear(128, 1)).to(device)
        with torch.no_grad():
            for i, layer in enumerate(self.model[::2]):
                layer.weight.copy_(torch.asarray(seed_init()[2 * i].T, dtype=torch.float32))
                layer.bias.copy_(torch.asarray(seed_init()[2 * i + 1], dtype=torch.float32))
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=SEED_LR)
        self.total = w.sum()

    def step(self):
        F = self.torch.nn.functional
        self.optimizer.zero_grad(set_to_none=True)
        losses = F.binary_cross_entropy_with_logits(self.model(self.X), self.y, reduction="none")
        loss = (losses[:, 0] * self.w).sum() / self.total
        loss.backward()
        self.optimizer.step()
        return loss


class TorchMLP:
    """784-256-256-10 in PyTorch, cross-entropy, Adam (capturable), batches in dp's order."""

    def __init__(self, torch, device, X, labels, batch_size):
        self.torch, self.device, self.batch_size = torch, device, batch_size
        self.X, self.labels = X, labels
        nn = torch.nn
        self.model = nn.Sequential(
            nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
        ).to(device)
        init = mlp_init()
        with torch.no_grad():
            for i, layer in enumerate(self.model[::2]):
                layer.weight.copy_(torch.asarray(init[2 * i].T, dtype=torch.float32))
                layer.bias.copy_(torch.asarray(init[2 * i + 1], dtype=torch.float32))
        capturable = device.type == "cuda"
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=ADAM_LR, capturable=capturable
        )
        n = X.shape[0]
        self.order = torch.asarray(np.random.default_rng(0).permutation(n), device=device)

    def step(self, X_b, labels_b):
        F = self.torch.nn.functional
        self.optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(self.model(X_b), labels_b)
        loss.backward()
        self.optimizer.step()
        return loss

    def epoch(self, graph=None):
        n, b = self.X.shape[0], self.batch_size
        loss_sum = self.torch.zeros((), device=self.device)
        for start in range(0, n, b):
            idx = self.order[start : start + b]
            if graph is not None and idx.shape[0] == b:
                graph.inputs[0].copy_(self.X[idx])
                graph.inputs[1].copy_(self.labels[idx])
                loss = graph.replay()
            else:
                loss = self.step(self.X[idx], self.labels[idx])
            loss_sum += loss.detach() * idx.shape[0]
        return float(loss_sum) / n  # one synchronisation per epoch


class HandCaptured:
    """``step(*inputs)`` captured in a CUDA graph as PyTorch's documentation shows."""

    def __init__(self, torch, step, inputs, optimizer):
        self.torch, self.inputs = torch, inputs
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                step(*inputs)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(self.graph):
            self.loss = step(*inputs)

    def replay(self):
        self.graph.replay()
        return self.loss


def timed(torch, device, function, repeats):
    times, result = [], None
    for _ in range(repeats):
        _sync(torch, device)
        start = time.perf_counter()
        result = function()
        _sync(torch, device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def deltaprop_rows(torch, device, make_net, data, optimizer, batch_size, iters, repeats, digits):
    """Table rows of deltaprop eager and with CUDA graphs: median time per iteration."""
    X, y, w = data
    rows = []
    for label, graph in (("deltaprop eager", False), ("deltaprop CUDA graph", True)):
        if graph and device.type != "cuda":
            rows.append((label, None, None, "needs CUDA"))
            continue
        results = [
            time_deltaprop(torch, device, make_net, X, y, w, optimizer, batch_size, iters, graph)
            for _ in range(repeats)
        ]
        per_iter = statistics.median(r[0] for r in results)
        setup = statistics.median(r[1] for r in results)
        rows.append((label, per_iter, results[-1][2], f"first call +{setup * 1e3:.{digits}f} ms"))
    return rows


def seed_case(torch, device, n, iters, repeats):
    X, y, w = seed_data(n, np.float32)
    Xt, yt, wt = (torch.asarray(a, device=device) for a in (X, y, w))
    init = seed_init()
    rows = deltaprop_rows(
        torch,
        device,
        lambda: _net(_seed_layers(), "binary_cross_entropy", init),
        (Xt, yt, wt),
        lambda: dp.SGD(learning_rate=SEED_LR),
        None,
        iters,
        repeats,
        digits=1,
    )
    torch_seed = TorchSeed(torch, device, Xt, yt, wt)
    for _ in range(3):
        torch_seed.step()  # warm-up (changes the weights: the loss column is indicative)

    def eager_loop():
        for _ in range(iters):
            loss = torch_seed.step()
        return float(loss.detach())

    t, loss = timed(torch, device, eager_loop, repeats)
    rows.append(("PyTorch eager", t / iters, loss, ""))
    if device.type == "cuda":
        captured = HandCaptured(torch, torch_seed.step, (), torch_seed.optimizer)

        def graph_loop():
            for _ in range(iters):
                loss = captured.replay()
            return float(loss.detach())

        t, loss = timed(torch, device, graph_loop, repeats)
        rows.append(("PyTorch CUDA graph (by hand)", t / iters, loss, ""))
    else:
        rows.append(("PyTorch CUDA graph (by hand)", None, None, "needs CUDA"))
    return rows


def mlp_case(torch, device, n, batch_size, repeats):
    X, labels, Y = mnist_like(n)
    Xt, Yt = torch.asarray(X, device=device), torch.asarray(Y, device=device)
    labels_t = torch.asarray(labels, device=device)
    init = mlp_init()
    rows = deltaprop_rows(
        torch,
        device,
        lambda: _net(_mlp_layers(), "cross_entropy", init),
        (Xt, Yt, None),
        lambda: dp.Adam(learning_rate=ADAM_LR),
        batch_size,
        3,
        repeats,
        digits=0,
    )
    mlp = TorchMLP(torch, device, Xt, labels_t, batch_size)
    mlp.epoch()  # warm-up epoch
    t, loss = timed(torch, device, mlp.epoch, repeats)
    rows.append(("PyTorch eager", t, loss, ""))
    if device.type == "cuda":
        inputs = (torch.zeros_like(Xt[:batch_size]), torch.zeros_like(labels_t[:batch_size]))
        captured = HandCaptured(torch, mlp.step, inputs, mlp.optimizer)
        t, loss = timed(torch, device, lambda: mlp.epoch(captured), repeats)
        rows.append(("PyTorch CUDA graph (by hand)", t, loss, "short last batch eager"))
    else:
        rows.append(("PyTorch CUDA graph (by hand)", None, None, "needs CUDA"))
    return rows


# ------------------------------------------------------------------ report
def table(rows, unit, scale, digits):
    base = rows[0][1]
    out = [
        f"| contender | per {unit} | vs deltaprop eager | last loss | note |",
        "|---|---|---|---|---|",
    ]
    for label, t, loss, note in rows:
        if t is None:
            out.append(f"| {label} | not run | | | {note} |")
            continue
        out.append(
            f"| {label} | {t * scale:.{digits}f} {'ms' if scale == 1e3 else 's'} "
            f"| {base / t:.2f}x faster | {loss:.5g} | {note} |"
        )
    return out


def agreement(rows):
    """Relative difference of the last losses of deltaprop's two rows (same run, same seed)."""
    eager, graph = rows[0][2], rows[1][2]
    if graph is None:
        return []
    return [
        "",
        f"deltaprop with and without CUDA graph, same iterations and seed: last losses "
        f"differ by {abs(graph - eager) / abs(eager):.1e} (relative). The PyTorch rows "
        "ran a different number of steps (their warm-up included): their losses only show "
        "that they train.",
    ]


def machine(torch, device):
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
        ).stdout.strip()
    except OSError:
        commit = "unknown"
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    cuda = f", CUDA {torch.version.cuda}" if device.type == "cuda" else ""
    return (
        f"Device: {device.type} ({card or platform.machine()}); PyTorch {torch.__version__}{cuda}; "
        f"NumPy {np.__version__}; Python {platform.python_version()}; deltaprop commit {commit}."
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="'cuda' (default), 'cuda:1' or 'cpu'")
    parser.add_argument("--quick", action="store_true", help="smaller data, one repetition")
    parser.add_argument("--markdown", help="also write the tables as markdown here")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("benchmarks/gpu.py needs PyTorch: pip install torch", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(
            "benchmarks/gpu.py: no CUDA device is available (torch.cuda.is_available() is "
            f"False, PyTorch {torch.__version__}); nothing was measured. Run it on a machine "
            "with an NVIDIA GPU and a CUDA build of PyTorch, or pass --device cpu to "
            "exercise the script on the CPU.",
            file=sys.stderr,
        )
        return 2
    quick = args.quick
    repeats = 1 if quick else 3
    n_seed, seed_iters = (5_000, 20) if quick else (50_000, 200)
    n_mlp = 6_000 if quick else 60_000
    started = time.perf_counter()
    lines = [machine(torch, device), ""]

    lines += ["### (a) Gradients: float32 on the device against float64 NumPy", ""]
    lines += [
        "| network | loss rel. error | max gradient rel. error | < 1e-4 |",
        "|---|---|---|---|",
    ]
    failed = False
    for name, loss_error, grad_error in gradient_check(torch, device, n_seed, 2_000):
        ok = grad_error < GRADIENT_TOLERANCE
        failed |= not ok
        lines.append(f"| {name} | {loss_error:.1e} | {grad_error:.1e} | {'yes' if ok else 'NO'} |")
    print("\n".join(lines), flush=True)

    seed_rows = seed_case(torch, device, n_seed, seed_iters, repeats)
    section = [
        "",
        f"### (b) Seed network: n = {n_seed:,}, full-batch gradient descent, float32",
        "",
        *table(seed_rows, "iteration", 1e3, 3),
        *agreement(seed_rows),
    ]
    print("\n".join(section), flush=True)
    lines += section
    mlp_rows = mlp_case(torch, device, n_mlp, 128, repeats)
    section = [
        "",
        f"### (b) 784-256-256-10 ReLU/softmax, Adam, batch 128, one epoch of {n_mlp:,}",
        "",
        *table(mlp_rows, "epoch", 1.0, 3),
        *agreement(mlp_rows),
    ]
    print("\n".join(section), flush=True)
    lines += section
    footer = [
        "",
        f"`python benchmarks/gpu.py{' --quick' if quick else ''} --device {args.device}`, "
        f"{time.perf_counter() - started:.0f} s; medians of {repeats} repetition(s).",
    ]
    print("\n".join(footer))
    lines += footer
    if args.markdown:
        Path(args.markdown).write_text("\n".join(lines) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
