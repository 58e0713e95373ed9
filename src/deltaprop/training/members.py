"""Networks of one shape trained side by side: :func:`train_members`.

An ensemble whose members differ only in their seeds (initial weights, held-out rows,
batch order) can take its steps together. The members' parameters are stacked along a
leading axis; each step gathers one mini-batch per member into an array of shape
(k, batch_size, n_features), runs the forward and backward pass of
:mod:`deltaprop.core.backprop` once over the stack (one matrix product per member in
each ``matmul`` call), and the optimizer updates the stacked arrays as one set.

Each member's arithmetic is that of :func:`deltaprop.train` with mini-batches, a
validation set and ``early_stopping=True``: the same passes, optimizer formulas,
schedule, batch order (a permutation of its rows per epoch from its own generator),
stop rule and best-epoch restore. The numbers are bit for bit those of ``train`` for
batches of up to 32 rows, and equal to float32 rounding above (``train``'s NumPy kernel,
:mod:`deltaprop.kernels.blocked`, sums a bias gradient with a matrix-vector product).
What the members share is the cost of each step's Python and of its small arrays, and
BLAS runs single-threaded on their small matrices (two halves of the stack on two
threads): about a quarter less CPU time on a quiet machine, and several times less
wall time on a busy one.

A member that stops (early stopping, a callback, a divergence) leaves the stack at
once: the others carry on with smaller arrays, the optimizer's state trimmed with them
(:meth:`deltaprop.optim.Optimizer.keep_members`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deltaprop.core.network import Network
from deltaprop.kernels.stacked import stacked_batch, stacked_forward
from deltaprop.optim.optimizers import Optimizer
from deltaprop.optim.schedules import Schedule
from deltaprop.training.divergence import Watch
from deltaprop.training.history import History
from deltaprop.training.stopping import InterruptGuard

__all__ = ["train_members"]

#: ``score(y, output, sample_weight) -> float`` of one member's validation rows.
Score = Callable[[Any, Any, Any], float]


def train_members(
    nets: Sequence[Network],
    X: np.ndarray,
    y: np.ndarray,
    train_rows: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray],
    *,
    optimizer: Optimizer,
    batch_size: int,
    max_iter: int,
    rngs: Sequence[np.random.Generator],
    sample_weight: np.ndarray | None = None,
    schedule: Schedule | None = None,
    n_iter_no_change: int = 10,
    score: Score | None = None,
    callbacks: Sequence[Callable[[int, History, Network], Any]] = (),
    deadline: float | None = None,
) -> list[History]:
    """Train ``k`` networks of one shape side by side, each on its own rows.

    Member ``i`` learns rows ``train_rows[i]`` of ``X, y`` by mini-batches (a fresh
    permutation from ``rngs[i]`` each epoch; the last batch may be smaller), is scored
    after each epoch on rows ``validation[0][i]`` and ends with the weights of its epoch
    with the lowest validation loss. It stops after ``n_iter_no_change`` epochs without
    a lower validation loss (``"early_stopping"``), after ``max_iter`` epochs
    (``"max_iter"``), when a callback returns True (``"callback"``), once ``deadline``
    has passed (``"time_budget"``, after the epoch that crossed it), on Ctrl-C
    (``"interrupted"``, after the current batch) or when its loss or weights stop being
    finite (``"diverged"``, with a :class:`~deltaprop.training.divergence.Divergence`
    and a warning, as :func:`deltaprop.train`).

    Parameters
    ----------
    nets : sequence of Network
        ``k`` networks with the same layers (sizes, activations; no dropout) and loss;
        their parameters are the starting weights, and each ends with its kept weights.
    X : array of shape (n_samples, n_features)
        Every row the members draw from, in the dtype to train in.
    y : array of shape (n_samples, n_outputs)
        The targets learned.
    train_rows : int array of shape (k, n_train)
        Each member's training rows (indices into ``X``).
    validation : tuple (rows, y_val)
        ``rows`` an int array of shape (k, n_val), each member's held-out rows;
        ``y_val`` of shape (n_samples, n_outputs), the targets its validation loss and
        score use (the true labels where ``y`` is smoothed).
    optimizer : Optimizer
        A fresh optimizer; its state holds the stacked members' moments.
    batch_size : int
    max_iter : int
        Epochs at most.
    rngs : sequence of numpy.random.Generator
        One per member: its batch order.
    sample_weight : array of shape (n_samples,), optional
        Strictly positive weights of the rows (zero weights need :func:`deltaprop.train`,
        which skips a batch that weighs nothing).
    schedule : Schedule, optional
        A learning rate per epoch, shared by the members (its ``end_epoch`` is not
        consulted: the members' losses differ).
    n_iter_no_change : int
    score : callable, optional
        ``score(y_val_rows, output, w_val_rows)``, appended to ``History.val_score``.
    callbacks : sequence of callables
        ``callback(epoch, history, net)`` after each epoch of each running member (in
        member order), ``net`` holding that member's current weights.
    deadline : float, optional
        A ``time.perf_counter()`` value.

    Returns
    -------
    list of History
        One per member, as :func:`deltaprop.train` fills it.
    """
    for net in nets:
        if any(layer.dropout for layer in net.layers):
            raise ValueError("train_members trains networks without dropout")
    run = _Run(nets, X, y, sample_weight, optimizer, batch_size, rngs)
    run.stack = _Stack(nets, X, train_rows, validation, sample_weight)
    initial_rate = optimizer.learning_rate
    if schedule is not None:
        schedule.reset(initial_rate)
    try:
        with InterruptGuard() as interrupt:
            for epoch in range(1, max_iter + 1):
                if schedule is not None:
                    optimizer.learning_rate = schedule.learning_rate(epoch)
                sums = run.epoch(epoch, interrupt)
                if not run.stack.members:
                    break
                stops = run.end_epoch(epoch, sums, score, callbacks, n_iter_no_change)
                if interrupt.requested:
                    stops = {i: _first(stops.get(i), "interrupted") for i in run.positions()}
                elif deadline is not None and time.perf_counter() >= deadline:
                    stops = {i: stops.get(i, "time_budget") for i in run.positions()}
                elif epoch == max_iter:
                    stops = {i: stops.get(i, "max_iter") for i in run.positions()}
                run.stop(stops)
                if not run.stack.members:
                    break
    finally:
        optimizer.learning_rate = initial_rate
    for net, record in zip(nets, run.best, strict=True):
        net._set_parameters(record.params if record.params is not None else record.last_sound)
    return run.histories


class _Run:
    """The state of :func:`train_members` between epochs."""

    def __init__(self, nets, X, y, w, optimizer, batch_size, rngs) -> None:
        self.nets, self.X, self.y, self.w = nets, X, y, w
        self.optimizer, self.batch_size, self.rngs = optimizer, batch_size, rngs
        self.layers, self.loss = nets[0].layers, nets[0].loss
        self.histories = [History() for _ in nets]
        self.watches = [Watch(net, X, w, None, xp=np) for net in nets]
        for watch, net in zip(self.watches, nets, strict=True):
            watch.start(net.parameters, History())
        self.best = [_Best(net.parameters, X.dtype) for net in nets]
        self.stack: _Stack

    def positions(self) -> range:
        return range(len(self.stack.members))

    def epoch(self, epoch: int, interrupt: InterruptGuard) -> np.ndarray:
        """The epoch's batches; returns, per running member, ``[sum w * loss, sum w]``."""
        stack, n_train = self.stack, self.stack.train_rows.shape[1]
        sums = np.zeros((2, len(stack.members)))
        orders = np.stack(
            [
                stack.train_rows[i][self.rngs[m].permutation(n_train)]
                for i, m in enumerate(stack.members)
            ]
        )
        for batch, start in enumerate(range(0, n_train, self.batch_size), start=1):
            rows = orders[:, start : start + self.batch_size]
            losses, weights, grads = stacked_batch(
                self.layers, self.loss, stack.params, self.X, self.y, self.w, rows
            )
            keep = self._sound(losses, epoch, batch)
            if len(keep) < len(losses):  # no update from an unsound loss
                grads, losses, weights = [g[keep] for g in grads], losses[keep], weights[keep]
                sums, orders = sums[:, keep], orders[keep]
                stack.keep(keep, self.optimizer)
                if not stack.members:
                    break
            sums += np.stack([losses * weights, weights])
            stack.params = self.optimizer.step(stack.params, grads, xp=np)
            if interrupt.requested:
                break
        return sums

    def _sound(self, losses: np.ndarray, epoch: int, batch: int) -> list[int]:
        """Positions whose batch loss is sound; the others are reported as diverged."""
        keep = []
        for i, member in enumerate(self.stack.members):
            watch, history = self.watches[member], self.histories[member]
            if not watch.unsound(float(losses[i])):
                keep.append(i)
                continue
            history.learning_rate.append(self.optimizer.learning_rate)
            problem = watch.check_loss(float(losses[i])) or "the loss is unsound"
            watch.report(history, epoch, problem, optimizer=self.optimizer, batch=batch)
        return keep

    def end_epoch(self, epoch, sums, score, callbacks, n_iter_no_change) -> dict[int, str]:
        """Record the epoch of every running member; return ``{position: stop reason}``."""
        stack = self.stack
        z_out, a_out = stacked_forward(self.layers, stack.params, stack.X_val)
        stops: dict[int, str] = {}
        for i, member in enumerate(stack.members):
            history, record, watch = self.histories[member], self.best[member], self.watches[member]
            epoch_loss = float(sums[0, i] / sums[1, i])
            history.learning_rate.append(self.optimizer.learning_rate)
            history.loss.append(epoch_loss)
            val_loss = _validation_loss(self.loss, self.layers[-1], stack, i, z_out[i], a_out[i])
            history.val_loss.append(val_loss)
            if score is not None:
                w_val = None if stack.w_val is None else stack.w_val[i]
                history.val_score.append(float(score(stack.y_val[i], a_out[i], w_val)))
            member_params = [p[i] for p in stack.params]
            problem = watch.check_loss(epoch_loss) or watch.check_weights(member_params)
            if problem is not None:
                watch.report(history, epoch, problem, optimizer=self.optimizer)
                stops[i] = "diverged"
                continue
            if record.improved(val_loss, member_params):
                history.best_iteration = epoch
            if record.no_improvement >= n_iter_no_change:
                stops[i] = "early_stopping"
            if callbacks:
                self.nets[member]._set_parameters(member_params)
                if any(
                    callback(epoch, history, self.nets[member]) is True for callback in callbacks
                ):
                    stops.setdefault(i, "callback")
        return stops

    def stop(self, stops: dict[int, str]) -> None:
        """Record the stop reasons and take those members out of the stack."""
        for i, reason in stops.items():
            member = self.stack.members[i]
            self.histories[member].stop_reason = reason
            if reason != "diverged":
                self.best[member].last_sound = self.stack.member_params(i)
        self.stack.keep([i for i in self.positions() if i not in stops], self.optimizer)


class _Stack:
    """The members still training: their stacked parameters and held-out rows.

    ``members[i]`` is the member (index into the caller's lists) in position ``i`` of
    every stacked array.
    """

    def __init__(self, nets, X, train_rows, validation, w) -> None:
        val_rows, y_val = validation
        self.members = list(range(len(nets)))
        self.params = [
            np.stack([np.asarray(p, dtype=X.dtype) for p in group])
            for group in zip(*(net.parameters for net in nets), strict=True)
        ]
        self.train_rows = np.asarray(train_rows)
        self.X_val, self.y_val = X[val_rows], y_val[val_rows]
        self.w_val = None if w is None else w[val_rows]

    def member_params(self, i: int) -> list[np.ndarray]:
        """Position ``i``'s parameters, as copies ``[W_0, b_0, ...]``."""
        return [p[i].copy() for p in self.params]

    def keep(self, positions: list[int], optimizer: Optimizer) -> None:
        """Keep only the members at ``positions`` (in that order)."""
        if len(positions) == len(self.members):
            return
        self.members = [self.members[i] for i in positions]
        self.params = [p[positions] for p in self.params]
        self.train_rows, self.X_val = self.train_rows[positions], self.X_val[positions]
        self.y_val = self.y_val[positions]
        self.w_val = None if self.w_val is None else self.w_val[positions]
        optimizer.keep_members(positions)


class _Best:
    """One member's epoch with the lowest validation loss, and its stop counter.

    ``last_sound`` holds the weights to end with when no epoch has a finite validation
    loss: those it stopped with, or its starting weights after a divergence.
    """

    def __init__(self, start: Sequence[Any], dtype: Any) -> None:
        self.val_loss = math.inf
        self.params: list[np.ndarray] | None = None
        self.last_sound = [np.array(p, dtype=dtype) for p in start]
        self.no_improvement = 0

    def improved(self, val_loss: float, params: Sequence[np.ndarray]) -> bool:
        """Count an epoch; keep copies of ``params`` if ``val_loss`` is the lowest yet."""
        if val_loss < self.val_loss:
            self.val_loss, self.params = val_loss, [p.copy() for p in params]
            self.no_improvement = 0
            return True
        self.no_improvement += 1
        return False


def _first(reason: str | None, default: str) -> str:
    """A divergence stays the stop reason; anything else gives way to ``default``."""
    return "diverged" if reason == "diverged" else default


def _validation_loss(loss, output_layer, stack, i, z, a) -> float:
    """Position ``i``'s weighted mean loss on its held-out rows (as ``validation_loss``)."""
    y_val = stack.y_val[i]
    losses, _, _ = loss.output(y_val, z, a, output_layer.activation, xp=np)
    if stack.w_val is None:
        return float(np.sum(losses)) / y_val.shape[0]
    return float(np.sum(losses * stack.w_val[i])) / float(np.sum(stack.w_val[i]))
