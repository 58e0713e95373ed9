"""Data-parallel training on a ``dask.distributed`` cluster.

The rows of ``X``, ``y`` and the sample weights are cut into aligned blocks, validated
and persisted together on the workers once; the data never comes back to the client.
Each iteration the client broadcasts the flat parameter vector under a fresh key, every
block computes its share of the loss and gradient with the core's
:func:`~deltaprop.network.forward_pass` / :func:`~deltaprop.network.backward_pass`, a
tree of additions on the workers reduces the shares, and the client (which holds only
parameters and gradients) takes the step.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .._validation import check_number
from .._xp import to_numpy
from ..initializers import make_rng
from ..layers import Dense
from ..network import Network, penalty
from ..optimizers import SGD, Optimizer
from ..training import DivergenceWarning, History
from ._blocks import (
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

__all__ = ["SOLVERS", "is_dask_collection", "train"]

SOLVERS = ("gd", "lbfgs", "local_sgd")
_FAN_IN = 8  # additions per reduction task


def is_dask_collection(*values: Any) -> bool:
    """True when any of ``values`` is a Dask collection (array, DataFrame, Series).

    Does not import Dask, so :func:`deltaprop.train` can call it on every input cheaply.

    Examples
    --------
    >>> import numpy as np
    >>> is_dask_collection(np.zeros(3), None)
    False
    """
    for value in values:
        module = type(value).__module__
        if (module == "dask" or module.startswith("dask.")) and hasattr(value, "__dask_graph__"):
            return True
    return False


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
def _client_for(client: Any) -> Iterator[Any]:
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
    if not math.fsum(weight for _, weight in kept) > 0.0:
        raise ValueError("sample_weight must not be all zero")
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


class _Objective:
    """The distributed full-batch objective ``theta -> (loss, gradient)``."""

    def __init__(self, client, parts, model_future, model: Model, total_weight: float):
        self.client, self.parts = client, parts
        self.model_future, self.model = model_future, model
        self.total_weight = total_weight

    def __call__(self, theta: np.ndarray) -> tuple[float, list[np.ndarray]]:
        client = self.client
        # a fresh key every call (hash=False): no block can see an older theta
        theta_future = client.scatter(theta, broadcast=True, hash=False)
        shares = [
            client.submit(
                block_loss_and_gradient,
                part,
                theta_future,
                self.model_future,
                self.total_weight,
                pure=False,
            )
            for part in self.parts
        ]
        total = _tree_sum(client, shares).result()
        params = unflatten(theta, self.model.shapes)
        grads = [g.copy() for g in unflatten(total[1:], self.model.shapes)]
        loss = float(total[0])
        reg, d_reg = penalty(params, self.model.alpha, self.total_weight, xp=np)
        if d_reg is not None:
            loss += reg
            for l, d_w in enumerate(d_reg):
                grads[2 * l] = grads[2 * l] + d_w
        return loss, grads


# -- the public entry ------------------------------------------------------------------
def train(
    net: Network,
    X: Any,
    y: Any,
    *,
    sample_weight: Any = None,
    solver: str = "gd",
    client: Any = None,
    optimizer: Optimizer | None = None,
    learning_rate: float | None = None,
    max_iter: int = 200,
    target_loss: float | None = None,
    tol: float | None = None,
    n_iter_no_change: int = 10,
    batch_size: int = 200,
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
    solver : {"gd", "lbfgs", "local_sgd"}, default "gd"
        ``"gd"``: full-batch gradient descent with ``optimizer`` (exactly the
        single-process full-batch iterates). ``"lbfgs"``: SciPy's L-BFGS-B on the client
        with the distributed objective. ``"local_sgd"``: every row block trains its own
        replica with ``optimizer`` for ``local_steps`` mini-batches of ``batch_size``
        rows, then parameters and optimizer state are averaged, weighted by the
        blocks' total sample weight. Local SGD is *not* step-for-step identical to
        single-machine mini-batch SGD.
    client : distributed.Client, optional
        Default: the current client; when there is none, a ``LocalCluster`` is started
        for this call and closed at its end.
    optimizer : Optimizer, optional
        For ``"gd"`` and ``"local_sgd"``; default ``SGD(learning_rate)``.
    learning_rate : float, optional
        Learning rate of the default optimizer (0.1 when not given).
    max_iter : int, default 200
        Iterations (``"gd"``, ``"lbfgs"``) or averaging rounds (``"local_sgd"``).
    target_loss : float, optional
        Stop once an iteration's loss is at or below this value.
    tol : float, optional
        ``"gd"``/``"local_sgd"``: stop after ``n_iter_no_change`` iterations without an
        improvement of ``tol``. ``"lbfgs"``: SciPy's ``tol`` (its ``ftol`` and ``gtol``).
    n_iter_no_change : int, default 10
    batch_size, local_steps : int, defaults 200 and 10
        ``"local_sgd"`` only.
    random_state : int, numpy Generator or None
        Seeds local SGD's shuffling; None uses ``net.random_state``.

    Returns
    -------
    History
        ``loss[k]``: for ``"gd"``, the loss at the start of iteration ``k`` (before its
        update); for ``"lbfgs"``, the loss after iteration ``k``; for ``"local_sgd"``,
        the weighted mean of round ``k``'s batch losses. ``stop_reason`` is one of
        ``"max_iter"``, ``"target_loss"``, ``"no_improvement"``, ``"diverged"`` or (L-BFGS)
        ``"converged"``.

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
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {list(SOLVERS)}, got {solver!r}")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be an Optimizer, got {type(optimizer).__name__}")
    if solver == "lbfgs" and (optimizer is not None or learning_rate is not None):
        raise ValueError("solver='lbfgs' takes neither optimizer nor learning_rate")
    if optimizer is not None and learning_rate is not None:
        raise ValueError("give either optimizer or learning_rate, not both")
    if optimizer is None and solver != "lbfgs":
        optimizer = SGD(learning_rate=0.1 if learning_rate is None else learning_rate)
    max_iter = check_number("max_iter", max_iter, low=1, integer=True)
    target_loss = check_number("target_loss", target_loss, allow_none=True)
    tol = check_number("tol", tol, low=0.0, allow_none=True)
    n_iter_no_change = check_number("n_iter_no_change", n_iter_no_change, low=1, integer=True)
    batch_size = check_number("batch_size", batch_size, low=1, integer=True)
    local_steps = check_number("local_steps", local_steps, low=1, integer=True)
    seed_source = net.random_state if random_state is None else random_state
    seed = int(make_rng(seed_source).integers(2**63 - 1)) if solver == "local_sgd" else 0

    model = Model(
        [Dense(layer.n_in, layer.n_out, layer.activation, init=layer.init) for layer in net.layers],
        net.loss,
        net.alpha,
    )
    with _client_for(client) as cl, np.errstate(over="ignore", invalid="ignore"):
        parts, weights, dtype = _persist_parts(cl, X, y, sample_weight, model)
        total_weight = math.fsum(weights)
        model_future = cl.scatter(model, broadcast=True, hash=False)
        objective = _Objective(cl, parts, model_future, model, total_weight)
        theta = flatten([to_numpy(p) for p in net.parameters], dtype=dtype)
        history = History()
        if solver == "gd":
            theta = _gradient_descent(
                objective, theta, optimizer, history, max_iter, target_loss, tol, n_iter_no_change
            )
        elif solver == "lbfgs":
            theta = _lbfgs(objective, theta, history, max_iter, target_loss, tol)
        else:
            theta = _local_sgd(
                cl,
                parts,
                weights,
                model_future,
                model,
                theta,
                optimizer,
                history,
                (max_iter, target_loss, tol, n_iter_no_change, batch_size, local_steps, seed),
            )
    net._set_parameters([p.copy() for p in unflatten(theta, model.shapes)])
    return history


# -- the solvers ------------------------------------------------------------------------
def _no_improvement(state: list[float], loss: float, tol: float | None, patience: int) -> bool:
    """Update ``state = [best_loss, count]``; True once ``count`` reaches ``patience``."""
    if tol is None:
        return False
    state[1] = state[1] + 1 if loss > state[0] - tol else 0
    state[0] = min(state[0], loss)
    return state[1] >= patience


def _diverged(history: History, iteration: int, what: str) -> None:
    history.stop_reason = "diverged"
    warnings.warn(
        f"training diverged at iteration {iteration}: the loss became NaN or infinite "
        f"with {what}; the last finite weights were kept. Try a smaller learning rate "
        "or standardise the inputs.",
        DivergenceWarning,
        stacklevel=4,
    )


def _gradient_descent(objective, theta, optimizer, history, max_iter, target_loss, tol, patience):
    shapes = objective.model.shapes
    state = [math.inf, 0]
    last_finite = theta
    for iteration in range(1, max_iter + 1):
        loss, grads = objective(theta)
        if not math.isfinite(loss):
            _diverged(history, iteration, f"learning_rate={optimizer.learning_rate!r}")
            return last_finite
        last_finite = theta
        history.loss.append(loss)
        if target_loss is not None and loss <= target_loss:
            history.stop_reason = "target_loss"
            return theta
        params = optimizer.step(unflatten(theta, shapes), grads, xp=np)
        theta = flatten(params, dtype=theta.dtype)
        if _no_improvement(state, loss, tol, patience):
            history.stop_reason = "no_improvement"
            return theta
    history.stop_reason = "max_iter"
    return theta


def _lbfgs(objective, theta, history, max_iter, target_loss, tol):
    try:
        from scipy.optimize import minimize
    except ImportError as exc:
        raise ImportError('solver="lbfgs" needs SciPy: pip install "deltaprop[scipy]"') from exc
    dtype = theta.dtype

    def fun(theta64):
        loss, grads = objective(theta64.astype(dtype))
        return loss, flatten(grads, dtype=np.float64)

    def callback(intermediate_result):
        history.loss.append(float(intermediate_result.fun))
        if target_loss is not None and intermediate_result.fun <= target_loss:
            raise StopIteration

    result = minimize(
        fun,
        theta.astype(np.float64),
        jac=True,
        method="L-BFGS-B",
        tol=tol,
        callback=callback,
        options={"maxiter": max_iter},
    )
    if not math.isfinite(result.fun):
        _diverged(history, result.nit, "L-BFGS")
        return theta
    if target_loss is not None and history.loss and history.loss[-1] <= target_loss:
        history.stop_reason = "target_loss"
    elif result.nit >= max_iter:
        history.stop_reason = "max_iter"
    elif result.success:
        history.stop_reason = "converged"
    else:  # too many function evaluations or a failed line search
        history.stop_reason = "no_improvement"
    return result.x.astype(dtype)


def _local_sgd(client, parts, weights, model_future, model, theta, optimizer, history, settings):
    max_iter, target_loss, tol, patience, batch_size, local_steps, seed = settings
    state = [math.inf, 0]
    for round_ in range(1, max_iter + 1):
        theta_future = client.scatter(theta, broadcast=True, hash=False)
        optimizer_future = client.scatter(optimizer, broadcast=True, hash=False)
        futures = [
            client.submit(
                local_sgd_block,
                part,
                theta_future,
                optimizer_future,
                model_future,
                batch_size,
                local_steps,
                (seed, round_, index),
                pure=False,
            )
            for index, part in enumerate(parts)
        ]
        results = client.gather(futures)
        if any(not math.isfinite(loss_sum) for _, _, loss_sum, _ in results):
            _diverged(history, round_, f"learning_rate={optimizer.learning_rate!r}")
            return theta
        stepped = [(r, w) for r, w in zip(results, weights, strict=True) if r[3] > 0.0]
        if not stepped:  # every batch of the round had weight 0
            continue
        total = math.fsum(w for _, w in stepped)
        theta = add(*[(w / total) * r[0] for r, w in stepped])
        averaged = average_states([r[1] for r, _ in stepped], [w for _, w in stepped])
        vars(optimizer).update(vars(averaged))
        loss = math.fsum(r[2] for r, _ in stepped) / math.fsum(r[3] for r, _ in stepped)
        history.loss.append(loss)
        if target_loss is not None and loss <= target_loss:
            history.stop_reason = "target_loss"
            return theta
        if _no_improvement(state, loss, tol, patience):
            history.stop_reason = "no_improvement"
            return theta
    history.stop_reason = "max_iter"
    return theta
