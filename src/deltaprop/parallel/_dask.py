"""Data-parallel training on a ``dask.distributed`` cluster.

The rows of ``X``, ``y`` and the sample weights are cut into aligned blocks, validated
and persisted together on the workers once, or, when they do not fit the workers'
memory, remade from their source at every pass (:mod:`._memory`); the data never come
back to the client. Each iteration the client broadcasts the flat parameter vector
under a fresh key, every block computes its share of the loss and gradient with the core's
:func:`~deltaprop.core.backprop.forward_pass` / :func:`~deltaprop.core.backprop.backward_pass`, a
tree of additions on the workers reduces the shares, and the client (which holds only
parameters and gradients) takes the step.

Everything around the step is training's own: the one loop and its stop rules
(:class:`~deltaprop.training.stopping.Tracker`: validation loss, early stopping,
schedules, callbacks, checkpoints), the L-BFGS driver, ``resume``. Validation rows are
blocks too, kept or streamed as the training rows (given, or whole blocks held out),
whose loss the workers sum (and, given a :class:`~._blocks.BlockScore`, the sums of a
score, in the same pass);
``class_weight`` is counted block by block; dropout masks are drawn where the rows are,
as one process would draw them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deltaprop.core.arrays import is_dask_collection, to_numpy
from deltaprop.core.initializers import make_rng
from deltaprop.core.layers import Dense
from deltaprop.core.network import Network
from deltaprop.core.objective import add_penalty
from deltaprop.core.validation import check_number
from deltaprop.optim.optimizers import LBFGS, SGD, Optimizer
from deltaprop.optim.schedules import Schedule
from deltaprop.parallel._blocks import (
    BlockScore,
    Model,
    add,
    average_states,
    block_loss,
    block_loss_and_gradient,
    block_loss_and_score,
    class_counts,
    flatten,
    local_sgd_block,
    make_part,
    part_digest,
    part_stats,
    reweighted,
    unflatten,
)
from deltaprop.parallel._memory import (
    DATA_MODES,
    DataPlan,
    Waiter,
    derive_parts,
    map_parts,
    plan_data,
)
from deltaprop.training.checkpoint import (
    Checkpoint,
    attached,
    read_resume,
    restore,
    run_options,
)
from deltaprop.training.divergence import forget_overflowed_state
from deltaprop.training.history import History
from deltaprop.training.lbfgs import run_lbfgs
from deltaprop.training.loop import Outcome, first_order_loop, full_batch_iteration
from deltaprop.training.splits import class_weights_from_counts
from deltaprop.training.stopping import Callback, InterruptGuard, Tracker
from deltaprop.training.trainer import check_callbacks, check_lbfgs, check_validation

__all__ = ["SOLVERS", "held_out_blocks", "is_dask_collection", "train"]

SOLVERS = ("gd", "lbfgs", "local_sgd")
_LOG = logging.getLogger("deltaprop.parallel")
_FAN_IN = 8  # additions per reduction task


def _import_distributed():
    try:
        import dask
        import dask.array as da
        import distributed
    except ImportError as exc:
        raise ImportError(
            'training on Dask collections needs dask.distributed: pip install "deltaprop[dask]"'
        ) from exc
    return dask, da, distributed


@contextlib.contextmanager
def client_for(client: Any) -> Iterator[Any]:
    """``client``, else the current client, else a LocalCluster closed on exit."""
    _, _, distributed = _import_distributed()
    if client is not None:
        if not isinstance(client, distributed.Client):
            raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}")
        yield client
        return
    try:
        current = distributed.get_client()
    except ValueError:  # no client running: start a local cluster for this call
        current = None
    if current is not None:
        yield current
        return
    with (
        distributed.LocalCluster() as cluster,
        distributed.Client(cluster, set_as_default=False) as local,
    ):
        yield local


# -- data ------------------------------------------------------------------------------
def _as_dask_array(value: Any, name: str, *, rows: Any, da: Any) -> Any:
    """``value`` as a dask array whose row chunks match ``rows`` (X's row chunks)."""
    if value is None:
        return None
    if isinstance(value, da.Array):
        arr = value
    elif is_dask_collection(value) and hasattr(value, "to_dask_array"):
        arr = value.to_dask_array()  # DataFrame / Series: one block per partition
    elif rows is None or any(math.isnan(c) for c in rows):
        raise TypeError(
            f"{name} must be a dask array or dask DataFrame/Series like X, "
            f"got {type(value).__name__}"
        )
    else:  # an in-memory array next to a dask X: cut it like X
        arr = np.asarray(to_numpy(value))
        arr = da.from_array(arr, chunks=(rows, *((s,) for s in arr.shape[1:])))
    if arr.ndim == 2 and arr.numblocks[1] != 1:
        arr = arr.rechunk({1: -1})
    if rows is None:
        return arr
    known = not any(math.isnan(c) for c in arr.chunks[0] + rows)
    if known and arr.chunks[0] != rows:
        if sum(arr.chunks[0]) != sum(rows):
            raise ValueError(f"{name} has {sum(arr.chunks[0])} rows, but X has {sum(rows)}")
        arr = arr.rechunk({0: rows})
    if arr.numblocks[0] != len(rows):
        raise ValueError(
            f"{name} has {arr.numblocks[0]} row blocks but X has {len(rows)}; "
            "give X, y and sample_weight the same row chunks (partitions)"
        )
    return arr


def _persist_parts(client, X, y, sample_weight, model: Model, *, what: str = "X", load=None):
    """Validate aligned ``(X, y, w)`` blocks and keep them on the workers, or stream them.

    Parameters
    ----------
    what : str
        ``"X"`` for the training rows; ``"validation_data"`` for validation rows, which
        may also be in-memory arrays (sent to the workers as one block).
    load : _Load
        The requested data mode and the waiter; its ``plan`` is set from the training
        rows (``what="X"``) and followed for the validation rows.

    Returns
    -------
    parts : list of Future or of dask.delayed
        One per non-empty row block: futures holding a :class:`~._blocks.Part`
        (``"persist"``), or recipes making it at each pass (``"stream"``).
    stats : list of (int, float)
        Each part's rows and total sample weight.
    dtype : numpy dtype
        float32 when X is float32, else float64.
    """
    dask, da, _ = _import_distributed()
    if not is_dask_collection(X):
        if what == "X":
            raise TypeError(
                f"X must be a dask array or dask DataFrame, got {type(X).__name__} "
                "(use deltaprop.train for in-memory arrays)"
            )
        X = da.from_array(np.asarray(to_numpy(X)))
    X = _as_dask_array(X, "X", rows=None, da=da)
    prefix = "" if what == "X" else f"{what}: "
    if X.ndim != 2:
        raise ValueError(f"{prefix}X must be 2-D (n_samples, n_features), got {X.ndim}-D")
    if X.shape[1] != model.layers[0].n_in:
        raise ValueError(
            f"{prefix}X has {X.shape[1]} features, but the network expects {model.layers[0].n_in}"
        )
    dtype = np.dtype(np.float32) if X.dtype == np.float32 else np.dtype(np.float64)
    rows = X.chunks[0]
    y = _as_dask_array(y, "y", rows=rows, da=da)
    w = _as_dask_array(sample_weight, "sample_weight", rows=rows, da=da)
    x_blocks = X.to_delayed().ravel()
    y_blocks = y.to_delayed().ravel()
    w_blocks = [None] * len(x_blocks) if w is None else w.to_delayed().ravel()
    make = dask.delayed(make_part, pure=False)
    recipes = [
        make(xb, yb, wb, i, model, dtype)
        for i, (xb, yb, wb) in enumerate(zip(x_blocks, y_blocks, w_blocks, strict=True))
    ]
    parts, stats = load.parts(recipes, rows, _row_bytes(model, dtype, w is not None))
    kept = [(p, stat) for p, stat in zip(parts, stats, strict=True) if stat[0] > 0]
    if not kept:
        raise ValueError(f"{prefix}X is empty: it has 0 samples")
    return [p for p, _ in kept], [stat for _, stat in kept], dtype


def _row_bytes(model: Model, dtype: Any, weighted: bool) -> tuple[int, int]:
    """``(bytes of a row of a block, bytes per row of the arrays computing its share)``."""
    size = np.dtype(dtype).itemsize
    columns = model.layers[0].n_in + model.layers[-1].n_out + int(weighted)
    # forward outputs and backward deltas of every layer, in float64 at worst
    work = 2 * 8 * sum(layer.n_out for layer in model.layers)
    return columns * size, work


class _Load:
    """How the blocks are held (``data``, then the :class:`DataPlan`) and the waiter."""

    def __init__(self, client, data: str | DataPlan) -> None:
        self.client = client
        self.requested = "auto" if isinstance(data, DataPlan) else data
        self.plan: DataPlan | None = data if isinstance(data, DataPlan) else None
        self.waiter = Waiter(client, self.plan)

    def _decide(self, n_rows: Sequence[int], row_bytes: tuple[int, int]) -> DataPlan:
        """The plan: the one given, else :func:`plan_data`'s for these blocks."""
        if self.plan is None:
            bytes_per_row, work = row_bytes
            self.plan = plan_data(
                self.client, n_rows, bytes_per_row, data=self.requested, work_per_row=work
            )
            self.waiter.plan = self.plan
        return self.plan

    def parts(self, recipes: list[Any], rows: Sequence[float], row_bytes: tuple[int, int]):
        """``(parts, stats)`` of the blocks ``recipes`` make, held as the plan says."""
        known = not any(math.isnan(n) for n in rows)
        if self.plan is None and not known:
            # row counts unknown (a DataFrame's partitions): count them on the first pass
            # (a streamed one, unless persisting was asked for), then decide
            if self.requested == "persist":
                parts = self.client.compute(recipes)
                stats = self.waiter.gather(map_parts(self.client, part_stats, parts))
                self._decide([n for n, _ in stats], row_bytes)
                return parts, stats
            stats = self.waiter.gather(map_parts(self.client, part_stats, recipes))
            if self._decide([n for n, _ in stats], row_bytes).mode == "stream":
                return recipes, stats
        plan = self._decide([int(n) for n in rows] if known else [], row_bytes)
        parts = recipes if plan.mode == "stream" else self.client.compute(recipes)
        return parts, self.waiter.gather(map_parts(self.client, part_stats, parts))


@dataclass
class _Rows:
    """Persisted parts and what the client knows of them: rows and total weight each."""

    parts: list[Any]
    n_rows: list[int]
    weights: list[float]

    @classmethod
    def of(cls, parts: list[Any], stats: Sequence[tuple[int, float]]) -> _Rows:
        return cls(list(parts), [n for n, _ in stats], [w for _, w in stats])

    @property
    def total_weight(self) -> float:
        try:
            return math.fsum(self.weights)
        except OverflowError:  # partial sums beyond the largest float
            return math.inf


def held_out_blocks(n_blocks: int, fraction: float, rng: Any) -> list[int]:
    """The blocks ``validation_fraction`` holds out: ``round(fraction * n_blocks)`` of them.

    At least one, and at least one left to train on; drawn as the first entries of
    ``rng.permutation(n_blocks)``, so the same seed and the same blocks give the same
    split.

    Parameters
    ----------
    n_blocks : int
        The non-empty row blocks (partitions).
    fraction : float in (0, 1)
    rng : numpy Generator or RandomState

    Returns
    -------
    list of int
        The held-out blocks' indices, sorted.

    Raises
    ------
    ValueError
        With fewer than 2 blocks.

    Examples
    --------
    >>> held_out_blocks(10, 0.2, np.random.default_rng(0))
    [4, 6]
    """
    if n_blocks < 2:
        raise ValueError(
            f"validation_fraction={fraction!r} holds out whole row blocks (partitions), but "
            f"X has {n_blocks} non-empty block; give X at least 2 (e.g. X.rechunk) or pass "
            "validation_data"
        )
    n_held = min(max(1, math.floor(fraction * n_blocks + 0.5)), n_blocks - 1)
    return sorted(int(i) for i in rng.permutation(n_blocks)[:n_held])


def _hold_out(rows: _Rows, fraction: float, rng: np.random.Generator) -> tuple[_Rows, _Rows]:
    """``(training, validation)``: the blocks :func:`held_out_blocks` picks held out."""
    held = set(held_out_blocks(len(rows.parts), fraction, rng))

    def pick(keep: bool) -> _Rows:
        chosen = [i for i in range(len(rows.parts)) if (i in held) == keep]
        return _Rows(
            [rows.parts[i] for i in chosen],
            [rows.n_rows[i] for i in chosen],
            [rows.weights[i] for i in chosen],
        )

    return pick(False), pick(True)


def _weigh_classes(client, rows: _Rows, validation: _Rows | None, class_weight, n_outputs, waiter):
    """Multiply ``class_weight`` into the rows' weights (counted on the training rows)."""
    n_classes = 2 if n_outputs == 1 else n_outputs
    counts = waiter.gather(map_parts(client, class_counts, rows.parts, n_classes=n_classes))
    if any(c is None for c in counts):
        raise ValueError(
            "class_weight needs class labels: y must be a single column of 0/1 values or "
            "one-hot rows (a single 1 per row)"
        )
    by_class = class_weights_from_counts(class_weight, np.sum(counts, axis=0))
    out = []
    for group in (rows, validation):
        if group is None:
            out.append(None)
            continue
        parts = derive_parts(client, reweighted, group.parts, weights_by_class=by_class)
        stats = waiter.gather(map_parts(client, part_stats, parts))
        out.append(_Rows.of(parts, stats))
    return out[0], out[1]


def _tree_sum(client, futures: Sequence[Any]) -> Any:
    """Sum futures of arrays on the workers, ``_FAN_IN`` at a time (a reduction tree)."""
    futures = list(futures)
    while len(futures) > 1:
        futures = [
            client.submit(add, *futures[i : i + _FAN_IN], pure=False)
            for i in range(0, len(futures), _FAN_IN)
        ]
    return futures[0]


def _submit_per_part(client, parts, function, theta, shared, per_part=None) -> list[Any]:
    """Broadcast ``theta``, then submit ``function(part, theta, *shared, *per_part(i))``.

    Returns the futures, one per part in order.
    """
    # a fresh key every call (hash=False): no block can see an older theta
    theta_future = client.scatter(theta, broadcast=True, hash=False)
    return map_parts(client, function, parts, theta_future, *shared, per_part=per_part)


class _Objective:
    """The distributed full-batch objective ``theta -> (loss, gradient)``.

    With dropout, each call draws one iteration's masks: every block draws its own rows
    of them from the state ``rng`` has at the call (:func:`~._blocks.block_masks`), and
    ``rng`` then skips the entries all the blocks drew, as one process would have.
    """

    def __init__(self, client, rows: _Rows, model_future, model: Model, rng=None, waiter=None):
        self.client, self.parts = client, rows.parts
        self.waiter = Waiter(client) if waiter is None else waiter
        self.model_future, self.model = model_future, model
        self.total_weight = rows.total_weight
        self.rng = rng if any(layer.dropout for layer in model.layers) else None
        self.n_total = sum(rows.n_rows)
        self.offsets = [sum(rows.n_rows[:i]) for i in range(len(rows.n_rows))]

    def _masks_at(self):
        """``per_part`` giving each block where its dropout masks start (None: none)."""
        if self.rng is None:
            return None
        state = self.rng.bit_generator.state
        width = sum(layer.n_out for layer in self.model.layers if layer.dropout)
        self.rng.bit_generator.advance(self.n_total * width)
        return lambda index: ((state, self.offsets[index], self.n_total),)

    def __call__(self, theta: np.ndarray) -> tuple[float, list[np.ndarray]]:
        shared = (self.model_future, self.total_weight)
        shares = _submit_per_part(
            self.client, self.parts, block_loss_and_gradient, theta, shared, self._masks_at()
        )
        total = self.waiter.gather(_tree_sum(self.client, shares))
        params = unflatten(theta, self.model.shapes)
        grads = [g.copy() for g in unflatten(total[1:], self.model.shapes)]
        loss, grads = add_penalty(
            float(total[0]), grads, params, self.model.alpha, self.total_weight, xp=np
        )
        return float(loss), grads


class _ValidationLoss:
    """``params -> validation loss`` summed over the validation blocks on the workers.

    With a ``score`` (:class:`~._blocks.BlockScore`), the same pass brings back each
    block's score sums, and the score of all the blocks is appended to
    ``history.val_score`` (scored with the sample weights of ``scored``'s parts when
    given: the validation rows before ``class_weight``).
    """

    def __init__(self, client, rows: _Rows, model_future, dtype, waiter=None, score=None):
        self.client, self.parts, self.model_future = client, rows.parts, model_future
        self.waiter = Waiter(client) if waiter is None else waiter
        self.total_weight, self.dtype = rows.total_weight, dtype
        self.score: BlockScore | None = None
        self.history: History | None = None
        self.scored: list[Any] | None = None
        if score is not None:
            self.score, self.history, self.scored = score

    def __call__(self, params: Sequence[np.ndarray]) -> float:
        theta = flatten(params, dtype=self.dtype)
        shared = (self.model_future, self.total_weight)
        if self.score is None or self.history is None:
            shares = _submit_per_part(self.client, self.parts, block_loss, theta, shared)
            return math.fsum(self.waiter.gather(shares))
        scored = self.scored
        results = self.waiter.gather(
            _submit_per_part(
                self.client,
                self.parts,
                block_loss_and_score,
                theta,
                (*shared, self.score),
                None if scored is None else lambda index: (scored[index],),
            )
        )
        scores = self.history.val_score
        # a run resumed from a checkpoint that recorded no score (one written without a
        # validation_score): the earlier epochs' scores are unknown, NaN, so that
        # val_score keeps one entry per iteration (as checkpoints require)
        scores.extend([math.nan] * (len(self.history.loss) - 1 - len(scores)))
        scores.append(float(self.score.value([sums for _, sums in results])))
        return math.fsum(loss for loss, _ in results)


# -- the public entry ------------------------------------------------------------------
def train(
    net: Network,
    X: Any,
    y: Any,
    *,
    sample_weight: Any = None,
    solver: str | None = None,
    client: Any = None,
    optimizer: Optimizer | LBFGS | None = None,
    learning_rate: float | None = None,
    max_iter: int = 200,
    target_loss: float | None = None,
    tol: float | None = None,
    n_iter_no_change: int = 10,
    batch_size: int | None = None,
    local_steps: int = 10,
    random_state: Any = None,
    schedule: Schedule | None = None,
    validation_data: tuple[Any, ...] | None = None,
    validation_fraction: float | None = None,
    early_stopping: bool = False,
    callbacks: Callback | Sequence[Callback] | None = None,
    class_weight: str | Mapping[int, float] | None = None,
    shuffle: bool = True,
    resume: Any = None,
    data: str | DataPlan = "auto",
    validation_score: BlockScore | None = None,
) -> History:
    """Train ``net`` in place on a Dask cluster, data-parallel over blocks of rows.

    Parameters
    ----------
    net : Network
    X : dask.array of shape (n_samples, n_inputs), or dask DataFrame
        Chunked along the rows (chunks may differ in size); column chunks are merged.
    y : dask.array of shape (n_samples, n_outputs) or (n_samples,), dask DataFrame/Series
        Row chunks are aligned to ``X``'s (a NumPy array is cut like ``X``).
    sample_weight : dask.array or dask Series of shape (n_samples,), optional
    solver : {"gd", "lbfgs", "local_sgd"}, optional
        ``"gd"``: full-batch steps of a first-order ``optimizer`` (exactly the
        single-process full-batch iterates). ``"lbfgs"``: SciPy's L-BFGS-B on the client
        (``optimizer``: a :class:`~deltaprop.LBFGS`, default ``LBFGS()``) with the
        distributed objective. ``"local_sgd"``: every row block trains its own replica
        with ``optimizer`` for ``local_steps`` mini-batches of ``batch_size`` rows, then
        parameters and optimizer state are averaged, weighted by the blocks' total
        sample weight; this is *not* step-for-step identical to single-machine
        mini-batch SGD. Default: ``"lbfgs"`` for an LBFGS optimizer, else
        ``"local_sgd"`` when ``batch_size`` is given, else ``"gd"``.
    client : distributed.Client, optional
        Default: the current client; when there is none, a ``LocalCluster`` is started
        for this call and closed at its end.
    optimizer : Optimizer or LBFGS, optional
        Default ``SGD(learning_rate)`` (``LBFGS()`` for ``solver="lbfgs"``; the
        checkpoint's when resuming). Its state carries over between calls, as with
        :func:`deltaprop.train`.
    learning_rate : float, optional
        Learning rate of the default SGD (0.1 when not given).
    max_iter : int, default 200
        Iterations (``"gd"``, ``"lbfgs"``) or averaging rounds (``"local_sgd"``).
    target_loss : float, optional
        Stop once an iteration's loss is at or below this value.
    tol : float, optional
        Only when given (or with ``early_stopping``), stop after ``n_iter_no_change``
        iterations whose loss did not improve by ``tol`` (L-BFGS's own gradient
        tolerance is ``LBFGS(tol=...)``).
    n_iter_no_change : int, default 10
    batch_size : int, optional
        ``"local_sgd"``: rows per local step (200 when not given).
    local_steps : int, default 10
        ``"local_sgd"``: mini-batch steps each replica takes between averagings.
    random_state : int, numpy Generator or None
        Seeds local SGD's shuffling, the blocks held out by ``validation_fraction`` and
        the dropout masks; None uses ``net.random_state``.
    schedule : Schedule, optional
        A learning-rate schedule, applied per iteration (per round for local SGD), as
        :func:`deltaprop.train` applies it. Not with L-BFGS.
    validation_data : tuple ``(X_val, y_val)`` or ``(X_val, y_val, w_val)``, optional
        Rows whose loss is ``History.val_loss``: dask collections (kept on the workers)
        or in-memory arrays (sent to them once).
    validation_fraction : float in (0, 1), optional
        Instead of ``validation_data``: hold out ``round(validation_fraction *
        n_blocks)`` whole row blocks (at least one, and one left to train on), drawn by
        the seeded generator. Blocks, not rows: the rows never come to the client, and
        the split is the same for the same seed and the same partitions. (In one
        process :func:`deltaprop.train` draws rows, stratified by class; pass those
        rows as ``validation_data`` on both sides for the same fit.)
    early_stopping : bool, default False
        Stop when the validation loss has not improved by ``tol`` (0 when None) for
        ``n_iter_no_change`` iterations and restore the weights with the lowest
        validation loss, as :func:`deltaprop.train`.
    callbacks : callable or list of callables, optional
        ``callback(iteration, history, net)`` after every iteration, on the client, with
        ``net`` holding the current weights; returning True stops training. A
        :class:`~deltaprop.Checkpoint` saves the run (every solver, L-BFGS included).
    class_weight : "balanced" or mapping, optional
        As :func:`deltaprop.train`: per-class weights multiplied into the training and
        validation rows' weights, ``"balanced"`` counted on the training rows (by the
        workers, block by block).
    shuffle : bool, default True
        False is refused with ``"local_sgd"`` (its blocks draw their batches at random);
        the full-batch solvers do not shuffle.
    resume : path or TrainingState, optional
        Continue a run saved by a :class:`~deltaprop.Checkpoint` (here or by
        :func:`deltaprop.train` in memory on the same rows), as ``deltaprop.train``
        does: the same data, partitions, seed and settings give the weights of a run
        that never stopped (up to the order of additions for ``"gd"`` and
        ``"lbfgs"``; exactly for ``"local_sgd"`` resumed on Dask).
    data : {"auto", "persist", "stream"} or DataPlan, default "auto"
        How the row blocks are held (:mod:`deltaprop.parallel` explains): ``"persist"``
        keeps them in the workers' memory, ``"stream"`` recomputes each block from its
        source (e.g. reads its Parquet partition) at every pass and releases it, so
        data larger than the workers' memory trains; ``"auto"`` keeps them when their
        estimated size fits (:func:`plan_data`). The choice and its reason are logged
        (logger ``"deltaprop.parallel"``, level INFO); a :class:`DataPlan` from
        :func:`plan_data` is followed as it is. Both give bit-identical results.
    validation_score : BlockScore, optional
        A score of the validation rows (``validation_data`` or ``validation_fraction``
        needed) appended to ``History.val_score`` after every iteration, before the
        callbacks run: each validation block returns ``validation_score.sums(y,
        output, w)`` in the pass that sums its loss, with its sample weights (not
        multiplied by ``class_weight``), and the client combines them with
        ``validation_score.value``. It never stops training.

    Returns
    -------
    History
        ``loss[k]``: for ``"gd"``, the loss at the start of iteration ``k`` (before its
        update); for ``"lbfgs"``, the loss at the iterate iteration ``k`` accepted; for
        ``"local_sgd"``, the weighted mean of round ``k``'s batch losses. ``stop_reason``
        as for :func:`deltaprop.train`: ``"max_iter"``, ``"target_loss"``,
        ``"early_stopping"``, ``"no_improvement"``, ``"min_learning_rate"``,
        ``"callback"``, ``"interrupted"``, ``"diverged"`` and, for L-BFGS,
        ``"converged"``, ``"max_fun"`` or ``"line_search_failed"``.

    Raises
    ------
    ImportError
        Without ``dask.distributed`` (``pip install "deltaprop[dask]"``).
    ValueError, TypeError
        For bad data (raised from the worker that found it, naming the row block) or
        hyper-parameters.
    WorkerMemoryError
        When a worker dies while training (most often killed for exceeding its memory)
        or every worker stays paused for memory: the message names the workers' limit,
        the data's estimated size and what to change.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a Network, got {type(net).__name__}")
    resumed = None if resume is None else read_resume(resume)
    data_mode = data
    if not isinstance(data_mode, DataPlan) and data_mode not in DATA_MODES:
        raise ValueError(f"data must be one of {list(DATA_MODES)} or a DataPlan, got {data!r}")
    batch_size = check_number("batch_size", batch_size, low=1, integer=True, allow_none=True)
    if resumed is not None and optimizer is None and learning_rate is None:
        optimizer = resumed.make_optimizer()
    if resumed is not None and schedule is None:
        schedule = resumed.make_schedule()
    solver, optimizer = _resolve_solver(solver, optimizer, learning_rate, batch_size)
    validation_fraction = check_validation(
        validation_data, validation_fraction, early_stopping, schedule
    )
    callbacks = check_callbacks(callbacks)
    _check_validation_score(validation_score, validation_data, validation_fraction)
    checkpoints = [c for c in callbacks if isinstance(c, Checkpoint)]
    rng = make_rng(net.random_state if random_state is None else random_state)
    saves_state = bool(checkpoints) or resumed is not None
    _check_solver_options(net, solver, schedule, shuffle, rng, saves_state)
    max_iter = check_number("max_iter", max_iter, low=1, integer=True)
    tracker = Tracker(
        net,
        History(),
        None,
        target_loss=check_number("target_loss", target_loss, allow_none=True),
        tol=check_number("tol", tol, low=0.0, allow_none=True),
        n_iter_no_change=check_number("n_iter_no_change", n_iter_no_change, low=1, integer=True),
        early_stopping=early_stopping,
        schedule=schedule,
        callbacks=callbacks,
        xp=np,
    )
    local_steps = check_number("local_steps", local_steps, low=1, integer=True)
    tracker.optimizer, tracker.rng = optimizer, rng
    tracker.initial_rng_state = rng.bit_generator.state
    # local SGD's seed is the generator's first draw (as before validation existed)
    seed = int(rng.integers(2**63 - 1)) if solver == "local_sgd" else 0

    model = Model(
        [
            Dense(layer.n_in, layer.n_out, layer.activation, init=layer.init, dropout=layer.dropout)
            for layer in net.layers
        ],
        net.loss,
        net.alpha,
    )
    arrays = (X, y, sample_weight)
    splits = (validation_data, validation_fraction, class_weight)
    with client_for(client) as cl, np.errstate(over="ignore", invalid="ignore"):
        load = _Load(cl, data_mode)
        rows, (validation, scored), dtype = _prepare_rows(cl, arrays, splits, model, rng, load)
        if load.plan is not None:
            _LOG.info("deltaprop.parallel.train: %s", load.plan.describe())
        model_future = cl.scatter(model, broadcast=True, hash=False)
        if validation is not None:
            score = None
            if validation_score is not None:
                score = (validation_score, tracker.history, scored)
            tracker.validation = _ValidationLoss(
                cl, validation, model_future, dtype, load.waiter, score
            )
        tracker.data_info = {
            "n_samples": sum(rows.n_rows),
            "n_features": model.layers[0].n_in,
            "n_outputs": model.layers[-1].n_out,
            "batch_size": (batch_size or 200) if solver == "local_sgd" else None,
        }
        if saves_state:
            n_columns = model.layers[0].n_in
            tracker.data_info["fingerprint"] = _fingerprint(
                load.waiter, rows, validation, n_columns
            )
            settings = dict(batch_size=batch_size, local_steps=local_steps, shuffle=shuffle)
            settings.update(target_loss=target_loss, tol=tol, n_iter_no_change=n_iter_no_change)
            settings.update(early_stopping=early_stopping, class_weight=class_weight)
            settings.update(validation_fraction=validation_fraction, solver=solver)
            tracker.options = run_options(optimizer, schedule, settings)
        params = [np.asarray(to_numpy(p), dtype=dtype) for p in net.parameters]
        if resumed is not None:
            check_rng = validation_fraction is not None or solver == "local_sgd"
            params = restore(
                resumed,
                net=net,
                params=params,
                optimizer=optimizer,
                schedule=schedule,
                tracker=tracker,
                max_iter=max_iter,
                check_initial_rng=check_rng,
                xp=np,
            )
        objective = _Objective(cl, rows, model_future, model, rng, load.waiter)
        tracker.watch.total_weight = objective.total_weight  # the penalty's divisor
        with InterruptGuard() as interrupt, attached(checkpoints, tracker):
            tracker.interrupt = interrupt
            blocks = (cl, rows, model_future, load.waiter)
            steps = (batch_size or 200, local_steps, seed)
            params = _solve(solver, objective, params, optimizer, max_iter, tracker, blocks, steps)
    history = tracker.history
    if history.stop_reason == "diverged" and solver != "lbfgs":
        forget_overflowed_state(optimizer, xp=np)
    keep_best = early_stopping or history.stop_reason == "interrupted"
    if keep_best and tracker.best_params is not None:
        params = tracker.best_params
    net._set_parameters([np.array(p, copy=True) for p in params])
    return history


def _prepare_rows(client, data, splits, model: Model, rng, load: _Load):
    """``(training rows, (validation rows or None, scored), dtype)``, held as ``load`` says.

    ``scored``: the validation parts before ``class_weight`` multiplied their weights
    (what a validation score counts), or None when the weights were not changed.
    """
    validation_data, validation_fraction, class_weight = splits
    X, y, sample_weight = data
    parts, stats, dtype = _persist_parts(client, X, y, sample_weight, model, load=load)
    rows, validation = _Rows.of(parts, stats), None
    if validation_fraction is not None:
        rows, validation = _hold_out(rows, validation_fraction, rng)
    elif validation_data is not None:
        if not isinstance(validation_data, tuple | list) or len(validation_data) not in (2, 3):
            raise TypeError(
                "validation_data must be a tuple (X_val, y_val) or (X_val, y_val, w_val), "
                f"got {type(validation_data).__name__}"
            )
        X_v, y_v, w_v = (*validation_data, None)[:3]
        v_parts, v_stats, _ = _persist_parts(
            client, X_v, y_v, w_v, model, what="validation_data", load=load
        )
        validation = _Rows.of(v_parts, v_stats)
    scored = None
    if class_weight is not None:
        scored = None if validation is None else validation.parts
        rows, validation = _weigh_classes(
            client, rows, validation, class_weight, model.layers[-1].n_out, load.waiter
        )
    if not rows.total_weight > 0.0:
        what = "sample_weight must not be all zero"
        if class_weight is not None:
            what = "the training rows' weights (after class_weight) are all zero"
        raise ValueError(what)
    if rows.total_weight == math.inf:
        raise ValueError(
            f"sample_weight must have a finite sum, got inf (largest partition sum "
            f"{max(rows.weights):.3g}); rescale the weights, e.g. divide them by their largest"
        )
    if validation is not None and not validation.total_weight > 0.0:
        raise ValueError("the validation rows' weights are all zero")
    return rows, (validation, scored), dtype


def _check_validation_score(score: Any, validation_data: Any, fraction: Any) -> None:
    """A :class:`~._blocks.BlockScore` needs validation rows and its two methods."""
    if score is None:
        return
    if not all(callable(getattr(score, name, None)) for name in ("sums", "value")):
        raise TypeError(
            "validation_score must have the methods sums(y, output, w) and value(sums), "
            f"got {type(score).__name__}"
        )
    if validation_data is None and fraction is None:
        raise ValueError(
            "validation_score scores the validation rows: give validation_data or "
            "validation_fraction"
        )


def _fingerprint(waiter, rows: _Rows, validation: _Rows | None, n_columns: int) -> dict[str, Any]:
    """The rows, columns and a hash of the row blocks (and validation blocks), in order.

    Hashed by the workers block by block, so it is the same for the same partitions of
    the same data; a checkpoint of a Dask run is checked against it when resumed.
    """
    groups = [rows] if validation is None else [rows, validation]
    digest = hashlib.blake2b(digest_size=16)
    for group in groups:
        for block in waiter.gather(map_parts(waiter.client, part_digest, group.parts)):
            digest.update(block)
        digest.update(b";")
    return {"rows": sum(rows.n_rows), "columns": n_columns, "hash": digest.hexdigest()}


def _check_solver_options(net, solver, schedule, shuffle, rng, saves_state) -> None:
    """What a solver cannot do on Dask, refused with the reason."""
    if not isinstance(shuffle, bool):
        raise TypeError(f"shuffle must be a bool, got {shuffle!r}")
    if solver == "lbfgs":
        check_lbfgs(net, None, schedule, None, saves_state)
    if solver == "local_sgd" and not shuffle:
        raise ValueError(
            "shuffle=False is not available with solver='local_sgd': each row block draws "
            "its mini-batches in a random order (use solver='gd' for a fixed order)"
        )
    dropout = any(layer.dropout for layer in net.layers)
    if solver == "gd" and dropout and not hasattr(rng.bit_generator, "advance"):
        raise ValueError(
            "dropout on Dask needs a generator that can jump ahead (each row block draws "
            "its own rows of the masks): random_state's bit generator "
            f"{type(rng.bit_generator).__name__} cannot; pass an int seed or a PCG64 Generator"
        )


def _resolve_solver(
    solver: str | None, optimizer: Any, learning_rate: float | None, batch_size: int | None
) -> tuple[str, Optimizer | LBFGS]:
    """The solver (its default picked by the optimizer and ``batch_size``) and its optimizer."""
    if optimizer is not None and not isinstance(optimizer, Optimizer | LBFGS):
        raise TypeError(f"optimizer must be an Optimizer or LBFGS, got {type(optimizer).__name__}")
    if solver is None:
        if isinstance(optimizer, LBFGS):
            solver = "lbfgs"
        else:
            solver = "gd" if batch_size is None else "local_sgd"
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {list(SOLVERS)}, got {solver!r}")
    if optimizer is not None and learning_rate is not None:
        raise ValueError("give either optimizer or learning_rate, not both")
    if solver == "lbfgs":
        if learning_rate is not None or not isinstance(optimizer, LBFGS | None):
            raise ValueError("solver='lbfgs' takes an LBFGS optimizer and no learning_rate")
        if batch_size is not None:
            raise ValueError(f"L-BFGS is full-batch: batch_size must be None, got {batch_size}")
        return solver, LBFGS() if optimizer is None else optimizer
    if isinstance(optimizer, LBFGS):
        raise ValueError(f"an LBFGS optimizer needs solver='lbfgs', got {solver!r}")
    if solver == "gd" and batch_size is not None:
        raise ValueError(f"solver='gd' is full-batch: batch_size must be None, got {batch_size}")
    if optimizer is None:
        optimizer = SGD(learning_rate=0.1 if learning_rate is None else learning_rate)
    return solver, optimizer


# -- the solvers: training's loop and L-BFGS driver, on the distributed objective --------
def _solve(solver, objective, params, optimizer, max_iter, tracker, blocks, steps):
    """Run ``solver`` from ``params``; return the parameters training ends with."""
    if solver == "lbfgs":
        return _lbfgs(objective, params, optimizer, max_iter, tracker)
    optimizer._match_state(params, xp=np)
    if solver == "gd":
        return _gradient_descent(objective, params, optimizer, max_iter, tracker)
    return _local_sgd(blocks, params, optimizer, max_iter, tracker, steps)


def _gradient_descent(objective, params, optimizer, max_iter, tracker):
    """Full-batch steps: exactly the iterates of :func:`deltaprop.train` on the same rows."""
    dtype = params[0].dtype
    last_finite = params if tracker.last_finite is None else tracker.last_finite

    def loss_and_gradients(current):
        return objective(flatten(current, dtype=dtype))

    def one_iteration(iteration: int) -> Outcome:
        nonlocal params, last_finite
        outcome = full_batch_iteration(
            loss_and_gradients, optimizer, params, last_finite, tracker, xp=np
        )
        # the gradients are float64: keep the parameters in the data's dtype
        params = outcome.params = [np.asarray(p, dtype=dtype) for p in outcome.params]
        last_finite = outcome.last_finite
        return outcome

    return first_order_loop(optimizer, max_iter, tracker, params, last_finite, one_iteration)


def _lbfgs(objective, params, optimizer, max_iter, tracker):
    """SciPy's L-BFGS-B on the client, through training's driver."""
    dtype, shapes = params[0].dtype, objective.model.shapes

    def flat_objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grads = objective(x.astype(dtype))
        return loss, flatten(grads, dtype=np.float64)

    def to_params(x: np.ndarray) -> list[np.ndarray]:
        return unflatten(x.astype(dtype), shapes)

    x0 = flatten(params, dtype=np.float64)
    return run_lbfgs(
        optimizer, flat_objective, x0, max_iter=max_iter, tracker=tracker, to_params=to_params
    )


def _local_sgd(blocks, params, optimizer, max_iter, tracker, steps):
    """Rounds of local SGD on every row block, then a weighted average of the replicas."""
    client, rows, model_future, waiter = blocks
    parts, weights = rows.parts, rows.weights
    batch_size, local_steps, seed = steps
    dtype, shapes = params[0].dtype, [p.shape for p in params]
    last_finite = params if tracker.last_finite is None else tracker.last_finite

    def one_round(round_: int) -> Outcome:
        nonlocal params
        optimizer_future = client.scatter(optimizer, broadcast=True, hash=False)
        futures = _submit_per_part(
            client,
            parts,
            local_sgd_block,
            flatten(params, dtype=dtype),
            (optimizer_future, model_future, batch_size, local_steps),
            per_part=lambda index: ((seed, round_, index),),
        )
        results = waiter.gather(futures)
        if any(not math.isfinite(loss_sum) for _, _, loss_sum, _ in results):
            return Outcome(math.nan, params, params, diverged=True)
        # replicas whose batches all had weight 0 took no step: they have no say
        stepped = [(r, w) for r, w in zip(results, weights, strict=True) if r[3] > 0.0]
        if not stepped:
            return Outcome(math.nan, params, params, skipped=True)
        total = math.fsum(w for _, w in stepped)
        theta = add(*[(w / total) * r[0] for r, w in stepped])
        averaged = average_states([r[1] for r, _ in stepped], [w for _, w in stepped])
        for key in (*optimizer._scalar_state, *optimizer._array_state):
            setattr(optimizer, key, getattr(averaged, key))
        loss = math.fsum(r[2] for r, _ in stepped) / math.fsum(r[3] for r, _ in stepped)
        outcome = Outcome(loss, unflatten(theta, shapes), params)
        params = outcome.params
        return outcome

    return first_order_loop(optimizer, max_iter, tracker, params, last_finite, one_round)
