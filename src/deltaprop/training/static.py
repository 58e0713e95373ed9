"""First-order training on static buffers: the steps that CUDA graphs capture and replay.

:func:`choose` decides whether :func:`deltaprop.train` takes this path (PyTorch tensors
on a CUDA device, :class:`~deltaprop.SGD` or :class:`~deltaprop.Adam`, no dropout);
:func:`train_static` runs the steps of :mod:`deltaprop.kernels.cuda_graph` through the
one first-order loop (:func:`~deltaprop.training.loop.first_order_loop`).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from deltaprop.core.arrays import device, to_numpy
from deltaprop.core.network import Network
from deltaprop.kernels import cuda_graph
from deltaprop.optim.optimizers import SGD, Adam, Optimizer
from deltaprop.training.loop import Outcome, batch_order, first_order_loop, run_epoch
from deltaprop.training.stopping import Tracker

__all__ = ["choose", "train_static", "unsupported_reason"]


def unsupported_reason(net: Network, optimizer: Any) -> str | None:
    """Why the static-buffer step cannot train this setup, or None when it can."""
    if type(optimizer) not in (SGD, Adam):
        return f"the optimizer is {type(optimizer).__name__}, not SGD or Adam"
    if any(layer.dropout for layer in net.layers):
        return "a layer has dropout (new masks every step)"
    return None


def choose(cuda_graph_option: bool | None, net: Network, optimizer: Any, X: Any) -> bool:
    """Whether :func:`deltaprop.train` should train through the static-buffer step.

    Parameters
    ----------
    cuda_graph_option : bool or None
        ``train``'s ``cuda_graph``: None decides by the arrays' device and the setup
        (``DELTAPROP_CUDA_GRAPH=0`` says no), True requires it, False refuses it.
    net : Network
    optimizer : Optimizer
    X : array of shape (n_samples, n_features)

    Raises
    ------
    ValueError
        ``cuda_graph=True`` for arrays not on a CUDA device or an unsupported setup.
    """
    if cuda_graph_option is False:
        return False
    on_cuda = cuda_graph.is_cuda(X)
    reason = unsupported_reason(net, optimizer)
    if cuda_graph_option is None:
        return on_cuda and reason is None and os.environ.get("DELTAPROP_CUDA_GRAPH", "1") != "0"
    if not on_cuda:
        raise ValueError(
            f"cuda_graph=True needs PyTorch tensors on a CUDA device, got a "
            f"{type(X).__module__}.{type(X).__name__} on {device(X)!r}"
        )
    if reason is not None:
        raise ValueError(f"cuda_graph=True cannot be used: {reason}")
    return True


def train_static(
    net: Network,
    optimizer: Optimizer,
    params: list[Any],
    data: tuple[Any, Any, Any, float],
    *,
    batch_size: int | None,
    shuffle: bool,
    max_iter: int,
    rng: np.random.Generator,
    tracker: Tracker,
) -> list[Any]:
    """The first-order loop of :func:`deltaprop.train` through static-buffer steps.

    One iteration does what the eager iteration (:mod:`deltaprop.training.eager`) does,
    on the buffers of a :class:`~deltaprop.kernels.cuda_graph.TrainingBuffers` (the
    tests compare both bit for bit). On a CUDA device each batch length's step is
    captured by :func:`~deltaprop.kernels.cuda_graph.capture`.

    Returns
    -------
    list of arrays
        The parameters training ends with.
    """
    X, y, w, total_weight = data
    xp = cuda_graph.capture_safe(tracker.xp)
    n_samples = X.shape[0]
    rows = n_samples if batch_size is None else batch_size
    full_batch = rows >= n_samples
    on_cuda = cuda_graph.is_cuda(X)
    block_size = cuda_graph.block_size_for(net, X, on_cuda=on_cuda)
    buffers = cuda_graph.TrainingBuffers(
        params, params if tracker.last_finite is None else tracker.last_finite, optimizer, xp=xp
    )
    params, last_finite = buffers.params, buffers.previous
    steps: dict[int, Any] = {}

    def step_for(n_rows: int) -> Any:
        if n_rows not in steps:
            fixed = total_weight if full_batch else (float(n_rows) if w is None else None)
            step = cuda_graph.StaticStep(
                net,
                optimizer,
                buffers,
                (X, y, w),
                rows=None if full_batch else n_rows,
                total_weight=fixed,
                block_size=block_size,
                xp=xp,
            )
            steps[n_rows] = cuda_graph.capture(step) if on_cuda else cuda_graph.DirectStep(step)
        return steps[n_rows]

    def full_batch_step() -> Outcome:
        step = step_for(n_samples)
        summary, grads = step.gradient()
        loss = float(to_numpy(summary)[0])  # the iteration's one synchronisation
        if tracker.watch.unsound(loss):  # not finite, or exploded
            return Outcome(loss, params, last_finite, diverged=True)
        if tracker.reached_target(loss):
            return Outcome(loss, params, params)
        buffers.load_scalars(optimizer._start_step())
        step.update(grads)
        return Outcome(loss, params, buffers.previous)

    def one_iteration(iteration: int) -> Outcome:
        nonlocal last_finite
        if full_batch:
            outcome = full_batch_step()
        else:
            order = batch_order(rng, n_samples, shuffle, xp=tracker.xp, like=X)
            batch_step = _BatchSteps(step_for, buffers, optimizer, order)
            loss, bad_batch = run_epoch(
                batch_step, n_samples, rows, tracker.interrupt, tracker.watch.unsound
            )
            outcome = Outcome(loss, params, buffers.previous, bad_batch is not None, bad_batch)
        last_finite = outcome.last_finite
        return outcome

    def tracked(current: list[Any]) -> list[Any]:
        # best_params keeps what it is given; the buffers change under it
        if tracker.validation is None:
            return current
        return [xp.asarray(p, copy=True) for p in current]

    try:
        return first_order_loop(
            optimizer,
            max_iter,
            tracker,
            params,
            last_finite,
            one_iteration,
            tracked,
            state=lambda: [a for arrays in buffers.state.values() for a in arrays],
        )
    finally:
        for key, arrays in buffers.state.items():
            setattr(optimizer, key, arrays)


class _BatchSteps:
    """The static mini-batch step over rows ``order[start:stop]`` (a ``BatchStep``)."""

    def __init__(self, step_for: Any, buffers: Any, optimizer: Any, order: Any) -> None:
        self.step_for, self.buffers, self.optimizer, self.order = (
            step_for,
            buffers,
            optimizer,
            order,
        )

    def __call__(self, start: int, stop: int) -> tuple[float, float, Any]:
        step = self.step_for(stop - start)
        step.step.index[...] = self.order[start:stop]
        summary, grads = step.gradient()
        loss, batch_weight = (float(v) for v in to_numpy(summary))  # one synchronisation

        def update() -> None:
            self.buffers.load_scalars(self.optimizer._start_step())
            step.update(grads)

        return loss, batch_weight, update
