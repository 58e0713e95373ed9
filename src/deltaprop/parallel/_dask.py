"""Data-parallel training on a ``dask.distributed`` cluster.

The rows of ``X``, ``y`` and the sample weights are cut into aligned blocks, validated
and persisted together on the workers once; the data never comes back to the client.
Each iteration the client broadcasts the flat parameter vector under a fresh key, every
block computes its share of the loss and gradient with the core's
:func:`~deltaprop.core.backprop.forward_pass` / :func:`~deltaprop.core.backprop.backward_pass`, a
tree of additions on the workers reduces the shares, and the client (which holds only
parameters and gradients) takes the step.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from deltaprop.core.arrays import is_dask_collection, to_numpy
from deltaprop.core.initializers import make_rng
from deltaprop.core.layers import Dense
from deltaprop.core.network import Network
from deltaprop.core.objective import add_penalty
from deltaprop.core.validation import check_number
from deltaprop.optim.optimizers import LBFGS, SGD, Optimizer
from deltaprop.parallel._blocks import (
    Model,
    add,
    average_states,
    block_loss_and_gradient,
    flatten,
    local_sgd_block,
    make_part,
    part_stats,
    unflatten,
)
from deltaprop.training.divergence import forget_overflowed_state
from deltaprop.training.history import History
from deltaprop.training.lbfgs import run_lbfgs
from deltaprop.training.loop import Outcome, first_order_loop, full_batch_iteration
from deltaprop.training.stopping import Tracker

__all__ = ["SOLVERS", "is_dask_collection", "train"]

SOLVERS = ("gd", "lbfgs", "local_sgd")
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


def _persist_parts(client, X, y, sample_weight, model: Model):
    """Validate and persist aligned ``(X, y, w)`` blocks on the workers.

    Returns
    -------
    parts : list of Future
        One per non-empty row block, each holding a :class:`~._blocks.Part`.
    weights : list of float
        Each part's total sample weight.
    dtype : numpy dtype
        float32 when X is float32, else float64.
    """
    dask, da, _ = _import_distributed()
    if not is_dask_collection(X):
        raise TypeError(
            f"X must be a dask array or dask DataFrame, got {type(X).__name__} "
            "(use deltaprop.train for in-memory arrays)"
        )
    X = _as_dask_array(X, "X", rows=None, da=da)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got {X.ndim}-D")
    if X.shape[1] != model.layers[0].n_in:
        raise ValueError(
            f"X has {X.shape[1]} features, but the network expects {model.layers[0].n_in}"
        )
    dtype = np.dtype(np.float32) if X.dtype == np.float32 else np.dtype(np.float64)
    rows = X.chunks[0]
    y = _as_dask_array(y, "y", rows=rows, da=da)
    w = _as_dask_array(sample_weight, "sample_weight", rows=rows, da=da)
    x_blocks = X.to_delayed().ravel()
    y_blocks = y.to_delayed().ravel()
    w_blocks = [None] * len(x_blocks) if w is None else w.to_delayed().ravel()
    make = dask.delayed(make_part, pure=False)
    parts = client.compute(
        [
            make(xb, yb, wb, i, model, dtype)
            for i, (xb, yb, wb) in enumerate(zip(x_blocks, y_blocks, w_blocks, strict=True))
        ]
    )
    stats = client.gather(client.map(part_stats, parts, pure=False))
    kept = [(p, weight) for p, (n_rows, weight) in zip(parts, stats, strict=True) if n_rows > 0]
    if not kept:
        raise ValueError("X is empty: it has 0 samples")
    weights = [weight for _, weight in kept]
    try:
        total = math.fsum(weights)
    except OverflowError:  # partial sums beyond the largest float
        total = math.inf
    if not total > 0.0:
        raise ValueError("sample_weight must not be all zero")
    if total == math.inf:
        raise ValueError(
            f"sample_weight must have a finite sum, got inf (largest partition sum "
            f"{max(weights):.3g}); rescale the weights, e.g. divide them by their largest"
        )
    return [p for p, _ in kept], [weight for _, weight in kept], dtype


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
    return [
        client.submit(
            function,
            part,
            theta_future,
            *shared,
            *(() if per_part is None else per_part(index)),
            pure=False,
        )
        for index, part in enumerate(parts)
    ]


class _Objective:
    """The distributed full-batch objective ``theta -> (loss, gradient)``."""

    def __init__(self, client, parts, model_future, model: Model, total_weight: float):
        self.client, self.parts = client, parts
        self.model_future, self.model = model_future, model
        self.total_weight = total_weight

    def __call__(self, theta: np.ndarray) -> tuple[float, list[np.ndarray]]:
        shared = (self.model_future, self.total_weight)
        shares = _submit_per_part(self.client, self.parts, block_loss_and_gradient, theta, shared)
        total = _tree_sum(self.client, shares).result()
        params = unflatten(theta, self.model.shapes)
        grads = [g.copy() for g in unflatten(total[1:], self.model.shapes)]
        loss, grads = add_penalty(
            float(total[0]), grads, params, self.model.alpha, self.total_weight, xp=np
        )
        return float(loss), grads


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
        Default ``SGD(learning_rate)`` (``LBFGS()`` for ``solver="lbfgs"``). Its state
        carries over between calls, as with :func:`deltaprop.train`.
    learning_rate : float, optional
        Learning rate of the default SGD (0.1 when not given).
    max_iter : int, default 200
        Iterations (``"gd"``, ``"lbfgs"``) or averaging rounds (``"local_sgd"``).
    target_loss : float, optional
        Stop once an iteration's loss is at or below this value.
    tol : float, optional
        Only when given, stop after ``n_iter_no_change`` iterations whose loss did not
        improve by ``tol`` (L-BFGS's own gradient tolerance is ``LBFGS(tol=...)``).
    n_iter_no_change : int, default 10
    batch_size : int, optional
        ``"local_sgd"``: rows per local step (200 when not given).
    local_steps : int, default 10
        ``"local_sgd"``: mini-batch steps each replica takes between averagings.
    random_state : int, numpy Generator or None
        Seeds local SGD's shuffling; None uses ``net.random_state``.

    Returns
    -------
    History
        ``loss[k]``: for ``"gd"``, the loss at the start of iteration ``k`` (before its
        update); for ``"lbfgs"``, the loss at the iterate iteration ``k`` accepted; for
        ``"local_sgd"``, the weighted mean of round ``k``'s batch losses. ``stop_reason``
        as for :func:`deltaprop.train`: ``"max_iter"``, ``"target_loss"``,
        ``"no_improvement"``, ``"diverged"`` and, for L-BFGS, ``"converged"``,
        ``"max_fun"`` or ``"line_search_failed"``.

    Raises
    ------
    ImportError
        Without ``dask.distributed`` (``pip install "deltaprop[dask]"``).
    ValueError, TypeError
        For bad data (raised from the worker that found it, naming the row block) or
        hyper-parameters.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a Network, got {type(net).__name__}")
    batch_size = check_number("batch_size", batch_size, low=1, integer=True, allow_none=True)
    solver, optimizer = _resolve_solver(solver, optimizer, learning_rate, batch_size)
    if any(getattr(layer, "dropout", 0.0) for layer in net.layers):
        raise ValueError("dropout layers are not supported on Dask yet (set dropout=0)")
    max_iter = check_number("max_iter", max_iter, low=1, integer=True)
    tracker = Tracker(
        net,
        History(),
        None,
        target_loss=check_number("target_loss", target_loss, allow_none=True),
        tol=check_number("tol", tol, low=0.0, allow_none=True),
        n_iter_no_change=check_number("n_iter_no_change", n_iter_no_change, low=1, integer=True),
        xp=np,
    )
    local_steps = check_number("local_steps", local_steps, low=1, integer=True)
    seed_source = net.random_state if random_state is None else random_state
    seed = int(make_rng(seed_source).integers(2**63 - 1)) if solver == "local_sgd" else 0

    model = Model(
        [Dense(layer.n_in, layer.n_out, layer.activation, init=layer.init) for layer in net.layers],
        net.loss,
        net.alpha,
    )
    with client_for(client) as cl, np.errstate(over="ignore", invalid="ignore"):
        parts, weights, dtype = _persist_parts(cl, X, y, sample_weight, model)
        model_future = cl.scatter(model, broadcast=True, hash=False)
        objective = _Objective(cl, parts, model_future, model, math.fsum(weights))
        tracker.watch.total_weight = objective.total_weight  # the penalty's divisor
        theta = flatten([to_numpy(p) for p in net.parameters], dtype=dtype)
        if solver == "lbfgs":
            params = _lbfgs(objective, theta, optimizer, max_iter, tracker)
        else:
            params = unflatten(theta, model.shapes)
            optimizer._match_state(params, xp=np)
            if solver == "gd":
                params = _gradient_descent(objective, params, optimizer, max_iter, tracker)
            else:
                blocks = (cl, parts, weights, model_future)
                steps = (batch_size or 200, local_steps, seed)
                params = _local_sgd(blocks, params, optimizer, max_iter, tracker, steps)
    if tracker.history.stop_reason == "diverged" and solver != "lbfgs":
        forget_overflowed_state(optimizer, xp=np)
    net._set_parameters([p.copy() for p in params])
    return tracker.history


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
def _gradient_descent(objective, params, optimizer, max_iter, tracker):
    """Full-batch steps: exactly the iterates of :func:`deltaprop.train` on the same rows."""
    dtype, last_finite = params[0].dtype, params

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

    return first_order_loop(optimizer, max_iter, tracker, params, params, one_iteration)


def _lbfgs(objective, theta, optimizer, max_iter, tracker):
    """SciPy's L-BFGS-B on the client, through training's driver."""
    dtype, shapes = theta.dtype, objective.model.shapes

    def flat_objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grads = objective(x.astype(dtype))
        return loss, flatten(grads, dtype=np.float64)

    def to_params(x: np.ndarray) -> list[np.ndarray]:
        return unflatten(x.astype(dtype), shapes)

    x0 = theta.astype(np.float64)
    return run_lbfgs(
        optimizer, flat_objective, x0, max_iter=max_iter, tracker=tracker, to_params=to_params
    )


def _local_sgd(blocks, params, optimizer, max_iter, tracker, steps):
    """Rounds of local SGD on every row block, then a weighted average of the replicas."""
    client, parts, weights, model_future = blocks
    batch_size, local_steps, seed = steps
    dtype, shapes = params[0].dtype, [p.shape for p in params]

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
        results = client.gather(futures)
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

    return first_order_loop(optimizer, max_iter, tracker, params, params, one_round)
