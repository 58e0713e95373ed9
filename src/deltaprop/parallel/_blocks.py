"""The per-block math that runs on the workers (NumPy only; no Dask import).

A *part* is one block of rows, ``X``, ``y`` and the sample weights kept together on a
worker. Because the objective is a weighted sum over samples divided by the total
weight, the full-batch loss and gradient are the sums of the parts' results when each
part divides by the *global* total weight (:func:`block_loss_and_gradient`). The same
core functions as single-process training do the work: :func:`deltaprop.core.backprop.forward_pass`
and :func:`deltaprop.core.backprop.backward_pass`.

Parameters travel as one flat float vector (:func:`flatten` / :func:`unflatten`, row-major
``[W_0, b_0, W_1, b_1, ...]``): one array to broadcast to the workers per iteration and
the vector SciPy's L-BFGS works on.
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from deltaprop.core.backprop import backward_pass, forward_pass
from deltaprop.core.flat import flatten, unflatten
from deltaprop.core.layers import Dense
from deltaprop.core.losses import Loss
from deltaprop.core.objective import objective
from deltaprop.core.validation import check_targets, check_X
from deltaprop.kernels import data_term_for
from deltaprop.optim.optimizers import Optimizer
from deltaprop.training.splits import class_labels, validation_loss, weighted_by_class

__all__ = [
    "BlockScore",
    "Model",
    "Part",
    "add",
    "average_states",
    "block_loss",
    "block_loss_and_gradient",
    "block_loss_and_score",
    "block_masks",
    "class_counts",
    "flatten",
    "local_sgd_block",
    "make_part",
    "part_stats",
    "reweighted",
    "unflatten",
]


# -- flat parameter vectors -------------------------------------------------------------
def shapes_of(layers: Sequence[Dense]) -> list[tuple[int, ...]]:
    """Shapes of ``[W_0, b_0, W_1, b_1, ...]``."""
    out: list[tuple[int, ...]] = []
    for layer in layers:
        out += [(layer.n_in, layer.n_out), (layer.n_out,)]
    return out


# -- what the workers hold ----------------------------------------------------------------
@dataclass(frozen=True)
class Model:
    """The network's structure without its parameters: sent to the workers once.

    Attributes
    ----------
    layers : list of Dense
        Weightless copies of the network's layers.
    loss : Loss
    alpha : float
        L2 penalty strength.
    """

    layers: list[Dense]
    loss: Loss
    alpha: float

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        return shapes_of(self.layers)


@dataclass(frozen=True)
class Part:
    """One validated block of rows: ``X`` (n, n_features), ``y`` (n, n_outputs), ``w`` (n,)."""

    X: np.ndarray
    y: np.ndarray
    w: np.ndarray | None

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def weight(self) -> float:
        if self.w is None:
            return float(self.n_rows)
        with np.errstate(over="ignore"):  # a sum of inf is refused by the client
            return float(np.sum(self.w))


def make_part(X: Any, y: Any, w: Any, index: int, model: Model, dtype: Any) -> Part:
    """Validate one block of rows and keep ``X``, ``y`` and ``w`` together in ``dtype``.

    Raises
    ------
    ValueError, TypeError
        Naming the block, for misaligned blocks, NaN/inf, bad targets or weights.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 2 and X.shape[0] == 0:
        n_outputs = model.layers[-1].n_out
        return Part(X.astype(dtype), np.zeros((0, n_outputs), dtype=dtype), None)
    try:
        X, _ = check_X(X.astype(dtype, copy=False), model.layers[0].n_in)
        if y.shape[:1] != X.shape[:1]:
            raise ValueError(
                f"y has {y.shape[0]} rows but X has {X.shape[0]}; give X, y and "
                "sample_weight the same row chunks (partitions)"
            )
        y = check_targets(y, X, model.layers[-1].n_out, xp=np)
        model.loss.check_targets(y, xp=np)
        if w is not None:
            w = np.asarray(w, dtype=dtype)
            if w.shape != (X.shape[0],):
                raise ValueError(f"sample_weight has shape {w.shape}, expected ({X.shape[0]},)")
            if not bool(np.all(np.isfinite(w))):
                raise ValueError("sample_weight contains NaN or infinity")
            if not bool(np.all(w >= 0.0)):
                raise ValueError("sample_weight must be >= 0 (found a negative weight)")
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"row block {index}: {exc}") from None
    return Part(X, y, w)


def part_stats(part: Part) -> tuple[int, float]:
    """``(n_rows, sum of weights)`` of a part."""
    return part.n_rows, part.weight


def part_digest(part: Part) -> bytes:
    """A BLAKE2b digest of a part's ``X``, ``y`` and ``w`` (dtype, shape and bytes)."""
    digest = hashlib.blake2b(digest_size=16)
    for array in (part.X, part.y, part.w):
        if array is None:
            digest.update(b"None;")
            continue
        block = np.ascontiguousarray(array)
        digest.update(f"{block.dtype.str}{block.shape};".encode())
        digest.update(block.data)
    return digest.digest()


def class_counts(part: Part, n_classes: int) -> np.ndarray | None:
    """Rows per class index of a part (as :func:`~deltaprop.training.splits.class_labels`
    reads ``y``), or None when its targets are not class labels."""
    if part.n_rows == 0:
        return np.zeros(n_classes, dtype=np.int64)
    labels = class_labels(part.y)
    return None if labels is None else np.bincount(labels, minlength=n_classes)


def reweighted(part: Part, weights_by_class: dict[int, float]) -> Part:
    """The part with each row's weight multiplied by its class's weight (``class_weight``)."""
    if part.n_rows == 0:
        return part
    w = weighted_by_class(part.w, part.y, weights_by_class, "y", xp=np, like=part.X)
    return Part(part.X, part.y, np.asarray(w, dtype=part.X.dtype))


# -- dropout masks: each block's rows of the masks one generator draws for all rows ------
def block_masks(
    model: Model, masks_at: tuple[dict, int, int], n_rows: int, dtype: Any
) -> list[np.ndarray | None]:
    """The rows ``offset .. offset + n_rows`` of the full batch's inverted-dropout masks.

    In one process, :func:`deltaprop.train` draws each iteration's masks layer by layer
    as ``rng.random((n_samples, n_out))``: one 64-bit draw per entry, row after row.
    A block jumps its copy of the generator ahead (``bit_generator.advance``) to its
    first entry and draws only its own rows, so the blocks' masks together are exactly
    the masks drawn in one process.

    Parameters
    ----------
    model : Model
        The layers' ``dropout`` rates and widths.
    masks_at : tuple ``(state, offset, n_total)``
        The generator's ``bit_generator.state`` at the start of the iteration, the
        block's first row among all training rows and the number of training rows.
    n_rows : int
        The block's rows.
    dtype : numpy dtype

    Returns
    -------
    list
        Per layer None (no dropout) or an array of shape (n_rows, n_out) of 0 or
        ``1 / (1 - rate)``.
    """
    state, offset, n_total = masks_at
    masks: list[np.ndarray | None] = []
    skipped = 0  # entries the layers before this one drew
    for layer in model.layers:
        rate = layer.dropout
        if not rate:
            masks.append(None)
            continue
        bit_generator = getattr(np.random, state["bit_generator"])()
        bit_generator.state = state
        bit_generator.advance(skipped + offset * layer.n_out)
        keep = np.random.Generator(bit_generator).random((n_rows, layer.n_out)) >= rate
        masks.append((keep / (1.0 - rate)).astype(dtype))
        skipped += n_total * layer.n_out
    return masks


# -- full-batch gradient ------------------------------------------------------------------
def block_loss(part: Part, theta: np.ndarray, model: Model, total_weight: float) -> float:
    """One block's share of the validation loss: ``sum_i w_i l_i / total_weight``.

    No penalty and no dropout, as :func:`deltaprop.training.splits.validation_loss`.
    """
    if part.n_rows == 0:
        return 0.0
    params = unflatten(theta, model.shapes)
    with np.errstate(over="ignore", invalid="ignore"):
        return validation_loss(model, params, part.X, part.y, part.w, total_weight, xp=np)


class BlockScore(Protocol):
    """A validation score computed block by block: sums on the workers, a value on the client.

    A score of held-out rows (accuracy, R^2) is a function of a few sums over the rows,
    so each validation block returns its sums and the client combines them exactly;
    the rows never come to the client. Objects of this kind are pickled to the workers.
    """

    def sums(self, y: np.ndarray, output: np.ndarray, w: np.ndarray | None) -> np.ndarray:
        """One block's sums, a 1-D float64 array of a fixed length.

        ``y`` (n, n_outputs): the block's targets; ``output`` (n, n_outputs): the
        network's outputs; ``w`` (n,): the sample weights (None: all 1).
        """
        ...

    def value(self, sums: Sequence[np.ndarray]) -> float:
        """The score of all the blocks from their sums (in the blocks' order)."""
        ...


def block_loss_and_score(
    part: Part,
    theta: np.ndarray,
    model: Model,
    total_weight: float,
    score: BlockScore,
    scored: Part | None = None,
) -> tuple[float, np.ndarray]:
    """One validation block's loss share (:func:`block_loss`) and its ``score.sums``.

    Parameters
    ----------
    part : Part
        The block whose loss counts (its weights multiplied by ``class_weight``, if any).
    theta : array of shape (n_parameters,)
    model : Model
    total_weight : float
        The validation rows' total weight (the loss's divisor).
    score : BlockScore
    scored : Part, optional
        The same rows with the weights the score counts (the sample weights alone),
        when they differ from ``part``'s.

    Returns
    -------
    loss : float
    sums : array of shape (n_sums,)
    """
    loss = block_loss(part, theta, model, total_weight)
    scored = part if scored is None else scored
    params = unflatten(theta, model.shapes)
    with np.errstate(over="ignore", invalid="ignore"):
        _, activations = forward_pass(model.layers, params, scored.X, xp=np)
    return loss, np.asarray(score.sums(scored.y, activations[-1], scored.w), dtype=np.float64)


def block_loss_and_gradient(
    part: Part,
    theta: np.ndarray,
    model: Model,
    total_weight: float,
    masks_at: tuple[dict, int, int] | None = None,
) -> np.ndarray:
    """One block's share of the data term: ``sum_i w_i l_i / total_weight`` and its gradient.

    Parameters
    ----------
    part : Part
    theta : array of shape (n_parameters,)
        The flat parameters.
    model : Model
    total_weight : float
        The sum of the weights of *all* rows, so that the blocks' results add up.
    masks_at : tuple, optional
        Where this block's dropout masks start (:func:`block_masks`); None without
        dropout.

    Returns
    -------
    array of shape (1 + n_parameters,)
        The loss share followed by the flat gradient share (one array, so that a
        reduction adds one array), both without the L2 penalty, which the client adds once.
    """
    params = unflatten(theta, model.shapes)
    masks = None if masks_at is None else block_masks(model, masks_at, part.n_rows, part.X.dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        zs, activations = forward_pass(model.layers, params, part.X, xp=np, masks=masks)
        result = backward_pass(
            model.layers,
            model.loss,
            params,
            zs,
            activations,
            part.y,
            part.w,
            total_weight,
            xp=np,
            masks=masks,
        )
    return np.concatenate([np.reshape(result.loss, (1,)), flatten(result.grads)])


def add(*arrays: np.ndarray) -> np.ndarray:
    """Sum of arrays, left to right (a fixed order, so results are reproducible)."""
    total = arrays[0]
    for a in arrays[1:]:
        total = total + a
    return total


# -- local SGD --------------------------------------------------------------------------
def _objective(model: Model, params, X, y, w, total_weight, masks=None):
    loss, grads = objective(
        model.layers,
        model.loss,
        params,
        X,
        y,
        w,
        total_weight,
        model.alpha,
        xp=np,
        masks=masks,
        data=data_term_for(X, xp=np, dropout=masks is not None),
    )
    return float(loss), grads


def _draw_masks(model: Model, rng: np.random.Generator, n_rows: int, dtype: Any) -> Any:
    """Inverted-dropout masks for one local batch, layer by layer (None without dropout)."""
    if not any(layer.dropout for layer in model.layers):
        return None
    masks = []
    for layer in model.layers:
        if not layer.dropout:
            masks.append(None)
            continue
        keep = rng.random((n_rows, layer.n_out)) >= layer.dropout
        masks.append((keep / (1.0 - layer.dropout)).astype(dtype))
    return masks


def local_sgd_block(
    part: Part,
    theta: np.ndarray,
    optimizer: Optimizer,
    model: Model,
    batch_size: int,
    local_steps: int,
    seed: Sequence[int],
) -> tuple[np.ndarray, Optimizer, float, float]:
    """Run ``local_steps`` mini-batch steps of ``optimizer`` on one part.

    The rows are visited in a shuffled order drawn from ``numpy.random.default_rng(seed)``,
    reshuffled whenever a pass over the part is complete; the same generator draws each
    batch's dropout masks (layers with dropout). Each batch's objective is its
    weighted mean loss plus the L2 term over the batch weight, as in :func:`deltaprop.train`.

    Returns
    -------
    theta : array of shape (n_parameters,)
        The part's parameters after its local steps.
    optimizer : Optimizer
        A copy of ``optimizer`` holding the part's state after the steps.
    loss_sum : float
        Sum over the batches of ``batch loss * batch weight`` (NaN if a loss was not finite).
    weight_sum : float
        Sum of the batch weights.
    """
    optimizer = copy.deepcopy(optimizer)
    params = [p.copy() for p in unflatten(theta, model.shapes)]
    rng = np.random.default_rng(list(seed))
    n_rows = part.n_rows
    order, position = rng.permutation(n_rows), 0
    loss_sum, weight_sum = 0.0, 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(local_steps):
            if position >= n_rows:
                order, position = rng.permutation(n_rows), 0
            idx = order[position : position + batch_size]
            position += batch_size
            X_b, y_b = part.X[idx], part.y[idx]
            w_b = None if part.w is None else part.w[idx]
            batch_weight = float(idx.shape[0]) if w_b is None else float(np.sum(w_b))
            masks = _draw_masks(model, rng, idx.shape[0], part.X.dtype)
            if batch_weight == 0.0:  # nothing to learn from rows of weight 0
                continue
            loss, grads = _objective(model, params, X_b, y_b, w_b, batch_weight, masks)
            if not math.isfinite(loss):
                return flatten(params), optimizer, math.nan, weight_sum
            loss_sum += loss * batch_weight
            weight_sum += batch_weight
            params = optimizer.step(params, grads, xp=np)
    return flatten(params, dtype=part.X.dtype), optimizer, loss_sum, weight_sum


def average_states(optimizers: Sequence[Optimizer], weights: Sequence[float]) -> Optimizer:
    """Weighted average of the replicas' optimizer states.

    Each array state (``optimizer._array_state``: velocities, moments) is averaged with
    ``weights``; scalar state (Adam's step count ``t``) is taken from the first replica.
    Every replica must have taken at least one step, so that its state exists.
    """
    total = float(sum(weights))
    out = copy.deepcopy(optimizers[0])
    for key in out._array_state:
        values = [getattr(opt, key) for opt in optimizers]
        if any(v is None for v in values):  # a state this optimizer does not use
            continue
        averaged = [
            add(*[(weight / total) * v[i] for v, weight in zip(values, weights, strict=True)])
            for i in range(len(values[0]))
        ]
        setattr(out, key, averaged)
    return out
