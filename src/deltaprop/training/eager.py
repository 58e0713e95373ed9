"""The eager first-order iteration: each step computed as it comes, on any array library.

One iteration is one full-batch step, or one epoch of (shuffled) mini-batches with
fresh dropout masks for each batch; :func:`train_eager` runs them through
:func:`~deltaprop.training.loop.first_order_loop`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from deltaprop.core.arrays import array_namespace, device, from_numpy
from deltaprop.core.network import Network
from deltaprop.kernels import data_term_for
from deltaprop.training.loop import (
    Outcome,
    batch_order,
    first_order_loop,
    full_batch_iteration,
    run_epoch,
)
from deltaprop.training.stopping import Tracker

__all__ = ["mask_drawer", "train_eager"]


def train_eager(
    net: Network,
    optimizer: Any,
    params: list[Any],
    data: tuple[Any, Any, Any, float],
    *,
    batch_size: int | None,
    shuffle: bool,
    max_iter: int,
    rng: np.random.Generator,
    tracker: Tracker,
) -> list[Any]:
    """Steps of a first-order optimizer; ``data`` is ``(X, y, w, total_weight)``.

    Returns
    -------
    list of arrays
        The parameters training ends with.
    """
    X, y, w, total_weight = data
    xp = tracker.xp
    n_samples = X.shape[0]
    rows = n_samples if batch_size is None else batch_size
    full_batch = rows >= n_samples
    draw_masks = mask_drawer(net, rng, X)
    kernel = data_term_for(X, xp=xp, dropout=any(layer.dropout for layer in net.layers))
    last_finite = params if tracker.last_finite is None else tracker.last_finite

    def one_iteration(iteration: int) -> Outcome:
        nonlocal params, last_finite
        if full_batch:
            masks = draw_masks(n_samples)

            def loss_and_gradients(current: list[Any]) -> tuple[float, list[Any]]:
                return net.objective(
                    current, X, y, w, total_weight, xp=xp, masks=masks, data=kernel
                )

            outcome = full_batch_iteration(
                loss_and_gradients, optimizer, params, last_finite, tracker, xp=xp
            )
        else:
            order = batch_order(rng, n_samples, shuffle, xp=xp, like=X)
            step = _BatchSteps(
                net, optimizer, (params, last_finite), data, order, draw_masks, kernel
            )
            loss, bad_batch = run_epoch(
                step, n_samples, rows, tracker.interrupt, tracker.watch.unsound
            )
            outcome = Outcome(loss, step.params, step.last_finite, bad_batch is not None, bad_batch)
        params, last_finite = outcome.params, outcome.last_finite
        return outcome

    return first_order_loop(optimizer, max_iter, tracker, params, last_finite, one_iteration)


class _BatchSteps:
    """The eager mini-batch step over rows ``order[start:stop]`` (a ``BatchStep``)."""

    def __init__(
        self,
        net: Network,
        optimizer: Any,
        start: tuple[list[Any], list[Any]],
        data: tuple[Any, Any, Any, float],
        order: Any,
        draw_masks: Callable[[int], Any],
        kernel: Any,
    ) -> None:
        self.net, self.optimizer, self.order, self.kernel = net, optimizer, order, kernel
        self.params, self.last_finite = start  # updated by each batch's step
        self.X, self.y, self.w, _ = data
        self.draw_masks, self.xp = draw_masks, array_namespace(self.X)

    def __call__(self, start: int, stop: int) -> tuple[float, float, Callable[[], None] | None]:
        xp, idx = self.xp, self.order[start:stop]
        X_b, y_b = xp.take(self.X, idx, axis=0), xp.take(self.y, idx, axis=0)
        w_b = None if self.w is None else xp.take(self.w, idx, axis=0)
        batch_weight = float(idx.shape[0]) if w_b is None else float(xp.sum(w_b))
        # drawn even for a batch of weight 0, so that later batches get the same masks
        masks = self.draw_masks(idx.shape[0])
        if batch_weight == 0.0:
            return 0.0, 0.0, None
        loss, grads = self.net.objective(
            self.params, X_b, y_b, w_b, batch_weight, xp=xp, masks=masks, data=self.kernel
        )

        def update() -> None:
            self.last_finite = self.params
            self.params = self.optimizer.step(self.params, grads, xp=xp)

        return loss, batch_weight, update


def mask_drawer(net: Network, rng: np.random.Generator, X: Any) -> Callable[[int], Any]:
    """A function ``n_rows -> masks`` of inverted dropout (None when no layer has dropout).

    Parameters
    ----------
    net : Network
        Each layer's ``dropout`` rate.
    rng : numpy.random.Generator
        Draws the masks, layer by layer.
    X : array of shape (n_samples, n_features)
        The masks take its array library, dtype and device.

    Returns
    -------
    callable
        ``draw(n_rows)``: a list with, per layer, None (no dropout) or an array of shape
        (n_rows, n_out) holding 0 or ``1 / (1 - rate)``.
    """
    rates = [layer.dropout for layer in net.layers]
    if not any(rates):
        return lambda n_rows: None
    xp, dtype, dev = array_namespace(X), X.dtype, device(X)

    def draw(n_rows: int) -> list[Any]:
        masks: list[Any] = []
        for layer, p in zip(net.layers, rates, strict=True):
            if not p:
                masks.append(None)
                continue
            keep = rng.random((n_rows, layer.n_out)) >= p
            masks.append(from_numpy(keep / (1.0 - p), xp=xp, dtype=dtype, device=dev))
        return masks

    return draw
