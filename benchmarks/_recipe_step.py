"""The tabular recipe's training step, for ``benchmarks/run.py``: its contenders and floor.

The recipe (``deltaprop.TabularRegressor``, ``deltaprop train``) trains 5 members of
50 -> 128 -> 128 -> 128 -> 1 ReLU units side by side (their weights stacked,
:func:`deltaprop.training.members.train_members`), each on its own rows and batch order,
with Adam (beta_2 0.95), scoring each member's held-out rows after every epoch and
keeping its best epoch's weights. The contenders here run exactly that, from the same
initial weights and batch orders:

- deltaprop's ``train_members``, as the recipe calls it (the stack's halves on two
  threads, each with a single-threaded BLAS, where the step is large enough);
- the same on one thread (``MIN_WORK_TO_SPLIT`` out of reach): the same bits;
- PyTorch eager, the members stacked as deltaprop stacks them (``torch.baddbmm`` over
  weights of shape (5, n_in, n_out), ``torch.optim.Adam`` on the stacked tensors, which
  is each member's own Adam: the update is element-wise), with the same validation pass
  and best-epoch copy after each epoch;
- the floor: the step's matrix products alone (``np.matmul`` over the stacks).

The learning rate is constant (the recipe decays it by a cosine; the step's work is the
same) and there is no weight decay, so that PyTorch's Adam is the same update.
"""

from __future__ import annotations

import itertools

import numpy as np

import deltaprop as dp
import deltaprop.kernels.stacked as stacked
from deltaprop.training.members import train_members

UNITS = (50, 128, 128, 128, 1)
MEMBERS = 5
BATCH = 256
LEARNING_RATE = 1e-3
BETA_2 = 0.95
VALIDATION = 0.2
HUGE = 10**9


def recipe_data(n_samples, seed=0):
    """``X`` (n, 50) standard normal and ``y`` (n, 1) from a nonlinear teacher, float32;
    each member's training and held-out rows (shapes (5, n_train), (5, n_val))."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, UNITS[0]), dtype=np.float32)
    y = (
        X[:, :5] @ rng.standard_normal(5)
        + np.sin(2 * X[:, 5])
        + 0.1 * rng.standard_normal(n_samples)
    )
    y = y.astype(np.float32).reshape(-1, 1)
    n_val = max(1, int(VALIDATION * n_samples))
    orders = [np.random.default_rng(100 + m).permutation(n_samples) for m in range(MEMBERS)]
    train_rows = np.stack([order[n_val:] for order in orders])
    val_rows = np.stack([order[:n_val] for order in orders])
    return X, y, train_rows, val_rows


def recipe_init():
    """Each member's initial parameters ``[W_0, b_0, ...]`` (float32), from deltaprop's
    initialisation with seeds 0 ... 4."""
    return [
        [np.array(p, dtype=np.float32) for p in _network(seed).parameters]
        for seed in range(MEMBERS)
    ]


def _network(seed):
    sizes = list(itertools.pairwise(UNITS))
    layers = [dp.Dense(a, b, "relu") for a, b in sizes[:-1]]
    layers.append(dp.Dense(*sizes[-1], "identity"))
    return dp.Network(layers, loss="squared_error", random_state=seed)


class DeltapropMembers:
    """``train_members`` as the recipe calls it; ``one_thread`` keeps the stack whole."""

    def __init__(self, init, data, epochs, *, one_thread=False):
        self.init, self.data, self.epochs, self.one_thread = init, data, epochs, one_thread

    def prepare(self):
        self.nets = []
        for m, params in enumerate(self.init):
            net = _network(m)
            net._set_parameters([p.copy() for p in params])
            self.nets.append(net)

    def run(self):
        X, y, train_rows, val_rows = self.data
        default = stacked.MIN_WORK_TO_SPLIT
        if self.one_thread:
            stacked.MIN_WORK_TO_SPLIT = 2**62
        try:
            histories = train_members(
                self.nets,
                X,
                y,
                train_rows,
                (val_rows, y),
                optimizer=dp.Adam(learning_rate=LEARNING_RATE, beta_2=BETA_2),
                batch_size=BATCH,
                max_iter=self.epochs,
                rngs=[np.random.default_rng(m) for m in range(MEMBERS)],
                n_iter_no_change=HUGE,
            )
        finally:
            stacked.MIN_WORK_TO_SPLIT = default
        return np.mean([h.loss for h in histories], axis=0).tolist()


class TorchMembers:
    """PyTorch eager, the members' weights stacked: the recipe's step, batch order,
    validation pass and best-epoch copy."""

    def __init__(self, init, data, epochs):
        import torch

        self.torch, self.init, self.epochs = torch, init, epochs
        X, y, train_rows, val_rows = data
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.train_rows, self.val_rows = train_rows, torch.from_numpy(val_rows)

    def prepare(self):
        torch = self.torch
        self.params = []
        for i in range(len(UNITS) - 1):
            W = np.stack([member[2 * i] for member in self.init])  # (k, n_in, n_out)
            b = np.stack([member[2 * i + 1] for member in self.init])[:, None, :]
            self.params += [
                torch.tensor(W, requires_grad=True),
                torch.tensor(b, requires_grad=True),
            ]

    def _forward(self, a):
        torch = self.torch
        n_layers = len(self.params) // 2
        for i in range(n_layers):
            a = torch.baddbmm(self.params[2 * i + 1], a, self.params[2 * i])
            if i < n_layers - 1:
                a = torch.relu(a)
        return a

    def run(self):
        torch = self.torch
        optimizer = torch.optim.Adam(self.params, lr=LEARNING_RATE, betas=(0.9, BETA_2))
        rngs = [np.random.default_rng(m) for m in range(MEMBERS)]
        n_train = self.train_rows.shape[1]
        best_loss = torch.full((MEMBERS,), float("inf"))
        best = [p.detach().clone() for p in self.params]
        curve = []
        for _ in range(self.epochs):
            orders = torch.from_numpy(
                np.stack([self.train_rows[m][rngs[m].permutation(n_train)] for m in range(MEMBERS)])
            )
            total = torch.zeros(MEMBERS, dtype=torch.float64)
            for start in range(0, n_train, BATCH):
                rows = orders[:, start : start + BATCH]
                optimizer.zero_grad()
                diff = self._forward(self.X[rows]) - self.y[rows]
                per_member = 0.5 * (diff * diff).sum(dim=2).mean(dim=1)  # (k,)
                per_member.sum().backward()  # each member's gradient is its own mean's
                optimizer.step()
                total += per_member.detach().double() * rows.shape[1]
            curve.append(float((total / n_train).mean()))
            with torch.no_grad():
                diff = self._forward(self.X[self.val_rows]) - self.y[self.val_rows]
                val_loss = 0.5 * (diff * diff).sum(dim=2).mean(dim=1)
                better = val_loss < best_loss
                best_loss = torch.where(better, val_loss, best_loss)
                for kept, p in zip(best, self.params, strict=True):
                    kept[better] = p[better]
        return curve


def recipe_floor(n_samples, epochs, floor_class):
    """An epoch's matrix products over the stack (forward 4, backward 7), ``epochs`` times."""
    rng = np.random.default_rng(1)
    f = np.float32
    k, B = MEMBERS, BATCH
    Xb = rng.standard_normal((k, B, UNITS[0])).astype(f)
    W = [rng.standard_normal((k, a, b)).astype(f) for a, b in itertools.pairwise(UNITS)]
    a = [rng.standard_normal((k, B, n)).astype(f) for n in UNITS[1:]]
    n_train = n_samples - max(1, int(VALIDATION * n_samples))
    n_batches = -(-n_train // B)

    def products():
        Xb @ W[0], a[0] @ W[1], a[1] @ W[2], a[2] @ W[3]
        a[2].transpose(0, 2, 1) @ a[3], a[3] @ W[3].transpose(0, 2, 1)
        a[1].transpose(0, 2, 1) @ a[2], a[2] @ W[2].transpose(0, 2, 1)
        a[0].transpose(0, 2, 1) @ a[1], a[1] @ W[1].transpose(0, 2, 1)
        Xb.transpose(0, 2, 1) @ a[0]

    weights = sum(a * b for a, b in itertools.pairwise(UNITS))
    flops_per_batch = 2 * k * B * (3 * weights - UNITS[0] * UNITS[1])
    return floor_class(products, n_batches * epochs, n_batches * epochs * flops_per_batch)
