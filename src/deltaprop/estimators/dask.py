"""``MLPClassifier.fit`` and ``MLPRegressor.fit`` on Dask collections.

When ``X`` (or ``y``, or the sample weights) is a dask array or DataFrame, ``fit``
trains through :func:`deltaprop.parallel.train`; the rows never pass through this
process. What this module adds to that function is the estimators' part: the labels'
classes found with Dask (only the unique labels come back), the targets encoded block
by block on the workers (``map_blocks``), the initial weights drawn exactly as the
in-memory ``fit`` draws them, and the solver translated:

- ``"lbfgs"`` -> distributed L-BFGS and ``"gd"`` -> distributed full-batch gradient
  descent: the same iterates as the in-memory fit, up to the order of additions;
- ``"sgd"``/``"adam"`` with ``batch_size >= n_samples`` -> full-batch steps of that
  optimizer (as in memory, where one batch is the whole data);
- ``"sgd"``/``"adam"`` otherwise -> local SGD with parameter averaging: one round per
  epoch, each row block's replica taking ``ceil(n_samples / (n_blocks * batch_size))``
  steps, so a round processes about ``n_samples`` rows (``local_steps=`` overrides
  that count: ``deltaprop train --dask --local-steps``). Not step-for-step the
  in-memory fit.

With early stopping, the held-out partitions' score (accuracy or R^2, as the in-memory
``validation_scores_``) is computed on the workers after every epoch, from per-block
sums (:class:`_Accuracy`, :class:`_R2`), in the pass that sums their loss. With
``early_stopping_metric="score"`` (the default) training stops by the in-memory rule on
that score and keeps the best-scoring weights (:class:`~deltaprop.estimators.plan.ScoreStop`).

``deltaprop train DATA --dask`` trains through :func:`fit_on_dask` too: it hands over
the partitions encoded by the fitted preprocessor, as the in-memory command hands the
encoded table to ``fit`` (see :mod:`deltaprop.tabular.dask`).

Predictions on dask arrays are computed block by block (``map_blocks``) and returned as
dask arrays.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import is_classifier
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_feature_names

from deltaprop.estimators import plan
from deltaprop.estimators.predictor import class_labels_from_outputs
from deltaprop.parallel import client_for, held_out_blocks, watched_compute
from deltaprop.parallel import train as parallel_train

__all__ = ["fit_on_dask", "predict_on_dask"]


def _import_dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:
        raise ImportError(
            'fitting on dask collections needs dask.distributed: pip install "deltaprop[dask]"'
        ) from exc
    return dask, da


def _refuse(name: str, value: Any, why: str) -> None:
    raise ValueError(f"{name}={value!r} is not supported when fitting on dask collections: {why}")


def _check_parameters(est: Any) -> None:
    """Refuse, naming it, every parameter the distributed path cannot honour."""
    if est.device is not None:
        _refuse("device", est.device, "the workers train with NumPy; use device=None")


def _rows(value: Any, name: str, da: Any, client: Any) -> Any:
    """``value`` (dask array, DataFrame or Series) as a dask array with known row chunks."""
    if isinstance(value, da.Array):
        arr = value
    elif hasattr(value, "to_dask_array"):
        # the partitions' rows, counted on the workers
        partitions = value.to_delayed(optimize_graph=False)
        lengths = watched_compute(client, [_length(p) for p in partitions])
        arr = value.to_dask_array(lengths=tuple(int(n) for n in lengths))
    else:
        raise TypeError(
            f"{name} must be a dask array or dask DataFrame/Series when another input is "
            f"one, got {type(value).__name__}"
        )
    if any(math.isnan(c) for c in arr.chunks[0]):
        arr = _with_row_counts(arr, name, da, client)
    return arr


def _with_row_counts(arr: Any, name: str, da: Any, client: Any) -> Any:
    """``arr`` with its blocks' row counts known, counted on the workers (one pass).

    What ``compute_chunk_sizes`` does, through :func:`~deltaprop.parallel.watched_compute`
    (a pass over the workers' data, watched for memory like the others).
    """
    widths_known = all(not math.isnan(width) for axis in arr.chunks[1:] for width in axis)
    if arr.ndim not in (1, 2) or not widths_known:
        raise ValueError(
            f"{name} must be a 1-D or 2-D dask array whose blocks have known widths, got "
            f"{arr.ndim}-D with chunks {arr.chunks}"
        )
    # unoptimised: the blocks keep their tasks, so later passes compute the same keys
    grid = arr.to_delayed(optimize_graph=False).reshape(arr.numblocks[0], -1)
    counts = watched_compute(client, [_length(row[0]) for row in grid])
    widths = arr.chunks[1] if arr.ndim == 2 else [None]
    meta = np.empty((0,) * arr.ndim, dtype=arr.dtype)
    rows = [
        [
            da.from_delayed(block, shape=(int(n),) if c is None else (int(n), c), meta=meta)
            for block, c in zip(row, widths, strict=True)
        ]
        for row, n in zip(grid, counts, strict=True)
    ]
    if arr.ndim == 1:
        return da.concatenate([row[0] for row in rows])
    return da.block(rows)


def _length(partition: Any) -> Any:
    """``len(partition)``, computed where the partition is (a ``dask.delayed``)."""
    import dask  # optional dependency: the dask extra

    return dask.delayed(len, pure=True)(partition)


def _next_to(value: Any, X: Any, name: str, da: Any, client: Any) -> Any:
    """``y`` or ``sample_weight``: a dask collection as is, an in-memory array cut like ``X``."""
    if value is None:
        return None
    if hasattr(value, "__dask_graph__"):
        return _rows(value, name, da, client)
    arr = np.asarray(value)
    if arr.shape[:1] != (X.shape[0],):
        raise ValueError(f"{name} has {arr.shape[:1]} rows, but X has {X.shape[0]}")
    return da.from_array(arr, chunks=(X.chunks[0], *((s,) for s in arr.shape[1:])))


# -- targets, encoded on the workers ---------------------------------------------------
def _binarize_block(y_block, binarizer, two_columns, n_out, out_dtype):
    if len(y_block) == 0:  # an empty partition; LabelBinarizer refuses 0 rows
        return np.zeros((0, n_out), dtype=out_dtype)
    Y = binarizer.transform(y_block).astype(out_dtype)
    return np.hstack([1.0 - Y, Y]) if two_columns else Y


def _multilabel_targets(est, y, first_pass, dtype, da, client):
    """Multilabel indicator targets (one 0/1 column per label): used as they are."""
    y = y.rechunk({1: -1})
    values = np.asarray(watched_compute(client, da.unique(y)))
    if not set(values.tolist()) <= {0, 1}:
        raise ValueError(
            "y with several columns must be a multilabel indicator matrix of 0/1 values, "
            f"got the values {values[:10].tolist()}"
        )
    n_labels = int(y.shape[1])
    # the binarizer of the indicator matrix: classes 0..n_labels-1, type multilabel
    binarizer = LabelBinarizer().fit(np.vstack([np.eye(n_labels), np.zeros(n_labels)]))
    if first_pass or not hasattr(est, "classes_"):
        est._label_binarizer, est.classes_ = binarizer, binarizer.classes_
    elif not np.array_equal(est.classes_, binarizer.classes_):
        raise ValueError(
            "warm_start can only be used where `y` has the same classes as in the previous "
            f"call to fit. Previously got {est.classes_}, `y` has {binarizer.classes_}"
        )
    est._class_weight_indices()  # refuses class_weight, as in memory
    return y.astype(dtype)


def _classifier_targets(est, y, first_pass, dtype, da, client):
    """One-hot (or 0/1) targets, encoded lazily block by block.

    ``class_weight`` is left to :func:`deltaprop.parallel.train` (as the in-memory fit
    leaves it to :func:`deltaprop.train`), which counts the classes on the workers.
    """
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2:
        return _multilabel_targets(est, y, first_pass, dtype, da, client)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D or 2-D, got {y.ndim}-D")
    classes = np.asarray(watched_compute(client, da.unique(y)))
    check_classification_targets(classes)
    if first_pass or not hasattr(est, "classes_"):
        est._label_binarizer = LabelBinarizer().fit(classes)
        est.classes_ = est._label_binarizer.classes_
    elif set(classes.tolist()) != set(est.classes_.tolist()):
        raise ValueError(
            "warm_start can only be used where `y` has the same classes as in the previous "
            f"call to fit. Previously got {est.classes_}, `y` has {classes}"
        )
    binarizer = est._label_binarizer
    n_out = 1 if len(binarizer.classes_) <= 2 else len(binarizer.classes_)
    two_columns = est._out_activation() == "softmax" and n_out == 1
    n_out = 2 if two_columns else n_out
    Y = y.map_blocks(
        _binarize_block,
        binarizer=binarizer,
        two_columns=two_columns,
        n_out=n_out,
        out_dtype=dtype,
        dtype=dtype,
        new_axis=1,
        chunks=(y.chunks[0], (n_out,)),
        meta=np.empty((0, n_out), dtype=dtype),
    )
    return Y


def _regressor_targets(est, y, first_pass, dtype, da, client):
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D or 2-D, got {y.ndim}-D")
    Y = y[:, None] if y.ndim == 1 else y.rechunk({1: -1})
    return Y.astype(dtype)


def _poisson_constant(Y, w, da, client) -> float:
    """The dask version of the estimator's ``_poisson_constant`` (a reduction)."""
    positive = Y > 0.0
    per_row = da.sum(da.where(positive, Y * da.log(da.where(positive, Y, 1.0)), 0.0) - Y, axis=1)
    if w is None:
        return float(watched_compute(client, per_row.mean()))
    total, weight = watched_compute(client, [(per_row * w).sum(), w.sum()])
    return float(total / weight)


# -- the held-out partitions' score, from per-block sums --------------------------------------
class _Accuracy:
    """``accuracy_score`` of the labels ``predict`` gives, summed block by block.

    A block's sums: the weight of its rows predicted right (every label right, for
    multilabel targets: subset accuracy), its total weight, and 1 when an output is not
    finite (the score is then NaN, as in memory). The encoded targets decode to their
    labels by the same rule as the outputs (a one-hot row, a 0/1 column, a 0/1 indicator
    row), so labels are compared as class indices.
    """

    def __init__(self, n_classes: int, *, softmax: bool, multilabel: bool) -> None:
        self.classes = np.arange(n_classes)
        self.softmax, self.multilabel = softmax, multilabel

    def _labels(self, values: np.ndarray) -> np.ndarray:
        return class_labels_from_outputs(
            values, self.classes, softmax=self.softmax, multilabel=self.multilabel
        )

    def sums(self, y: np.ndarray, output: np.ndarray, w: np.ndarray | None) -> np.ndarray:
        if not np.isfinite(output).all():
            return np.array([0.0, 0.0, 1.0])
        right = self._labels(output) == self._labels(y)
        if right.ndim == 2:
            right = right.all(axis=1)
        weights = np.ones(len(right)) if w is None else np.asarray(w, dtype=np.float64)
        return np.array([float(np.dot(weights, right)), float(np.sum(weights)), 0.0])

    def value(self, sums: list[np.ndarray]) -> float:
        if any(block[2] for block in sums):
            return math.nan
        return math.fsum(block[0] for block in sums) / math.fsum(block[1] for block in sums)


class _R2:
    """``r2_score`` (averaged over outputs) from per-block sufficient statistics.

    A block's sums, per output: its total weight ``W_b``, ``sum w y``, the sum of squares
    around its own weighted mean ``M2_b`` and the residual sum of squares; plus 1 when
    an output is not finite. The client combines the blocks' squares around the mean of
    all the validation rows exactly (Chan et al.'s pairwise update: ``M2 = sum_b M2_b +
    W_b (mean_b - mean)^2``), in one pass and without the cancellation of
    ``sum w y^2 - W mean^2``.
    """

    def sums(self, y: np.ndarray, output: np.ndarray, w: np.ndarray | None) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        out = np.asarray(output, dtype=np.float64).reshape(len(y), -1)
        weights = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64)
        total = float(np.sum(weights))
        weighted_sum = weights @ y
        if not np.isfinite(out).all():
            return np.concatenate([[total, 1.0], np.zeros(3 * y.shape[1])])
        mean = weighted_sum / total if total > 0.0 else np.zeros(y.shape[1])
        squares = weights @ (y - mean) ** 2
        residuals = weights @ (y - out) ** 2
        return np.concatenate([[total, 0.0], weighted_sum, squares, residuals])

    def value(self, sums: list[np.ndarray]) -> float:
        if any(block[1] for block in sums):
            return math.nan
        stacked = np.stack(sums)
        n_outputs = (stacked.shape[1] - 2) // 3
        weights = stacked[:, 0]
        weighted_sums = stacked[:, 2 : 2 + n_outputs]
        squares = stacked[:, 2 + n_outputs : 2 + 2 * n_outputs]
        residuals = stacked[:, 2 + 2 * n_outputs :].sum(axis=0)
        mean = weighted_sums.sum(axis=0) / weights.sum()
        held = weights > 0.0
        block_means = weighted_sums[held] / weights[held, None]
        total = squares.sum(axis=0) + weights[held] @ (block_means - mean) ** 2
        safe = np.where(total > 0.0, total, 1.0)
        scores = np.where(total > 0.0, 1.0 - residuals / safe, np.where(residuals == 0.0, 1.0, 0.0))
        return float(scores.mean())


def _block_score(est: Any) -> _Accuracy | _R2:
    """The score ``est.score`` gives, computed block by block."""
    if not is_classifier(est):
        return _R2()
    softmax = est._out_activation() == "softmax"
    return _Accuracy(len(est.classes_), softmax=softmax, multilabel=est._multilabel())


class _Scores(plan.ScoreStop):
    """Callback recording the held-out partitions' score of each epoch (and printing it).

    :func:`deltaprop.parallel.train` appends the score to ``History.val_score`` before
    the callbacks run; this keeps the scores of this fit (a resumed run's history also
    holds those before it) and applies the in-memory fit's stop rule to them
    (:class:`~deltaprop.estimators.plan.ScoreStop`, ``early_stopping_metric="score"``).
    """

    def __init__(self, verbose: bool, *, stop: bool, tol: float, patience: int) -> None:
        super().__init__(stop=stop, tol=tol, patience=patience)
        self.verbose = verbose

    def __call__(self, iteration, history, net) -> bool:
        score = history.val_score[-1]
        if self.verbose:
            print(f"Validation score: {score:f}")
        return self.record(score, net)

    def _snapshot(self, net: Any) -> list[Any]:
        return [np.array(p, copy=True) for p in net.parameters]


# -- fit ---------------------------------------------------------------------------------
def fit_on_dask(
    est: Any,
    X: Any,
    y: Any,
    sample_weight: Any,
    *,
    client: Any = None,
    local_steps: int | None = None,
    resume: Any = None,
    data: Any = "auto",
) -> Any:
    """Fit ``est`` (an MLPClassifier or MLPRegressor) on dask collections; returns ``est``.

    Parameters
    ----------
    est : MLPClassifier or MLPRegressor
    X : dask array or DataFrame of shape (n_samples, n_features)
    y : dask array, DataFrame or Series of shape (n_samples,) or (n_samples, n_outputs)
        Labels (classifier) or targets (regressor); NumPy arrays are cut like ``X``.
    sample_weight : dask array or Series of shape (n_samples,), optional
    client : distributed.Client, optional
        Default: the current client, else a ``LocalCluster`` started for this call
        (as :func:`deltaprop.parallel.train`).
    local_steps : int, optional
        Local SGD only: steps per row block between averagings, instead of
        ``ceil(n_samples / (n_blocks * batch_size))``.
    resume : path or TrainingState, optional
        Continue the run a :class:`~deltaprop.Checkpoint` in ``est.callbacks`` saved
        (on the same partitions), as :func:`deltaprop.parallel.train` does.
    data : {"auto", "persist", "stream"} or DataPlan, default "auto"
        Keep the row blocks in the workers' memory or stream them from their source at
        every pass (:func:`deltaprop.parallel.train`'s ``data``).

    See ``docs/scale.md``.
    """
    _check_parameters(est)
    dask, da = _import_dask()
    with client_for(client) as client, dask.config.set(scheduler=client):
        return _fit(est, client, (X, y, sample_weight), (local_steps, data), resume, da)


def _fit(est, client, data, settings, resume, da):
    X, y, sample_weight = data
    local_steps, data_mode = settings
    hidden = plan.hidden_sizes(est.hidden_layer_sizes)
    first_pass = not hasattr(est, "coefs_") or not est.warm_start
    X_in, X = X, _rows(X, "X", da, client)
    X, _, n_features = _features(est, X_in, X, first_pass)
    y = _next_to(y, X, "y", da, client)
    w = _next_to(sample_weight, X, "sample_weight", da, client)
    targets = _classifier_targets if is_classifier(est) else _regressor_targets
    Y = targets(est, y, first_pass, X.dtype, da, client)

    random_state = check_random_state(est.random_state)
    layer_units = [n_features, *hidden, int(Y.shape[1])]
    est._prepare_parameters(layer_units, X.dtype, random_state, first_pass)
    stop = plan.stopping(est)
    (X, Y, w), validation = _holdout(est, X, Y, w, stop, random_state)
    n_train = int(sum(X.chunks[0]))
    poisson = getattr(est, "loss", None) == "poisson"
    offset = _poisson_constant(Y, w, da, client) if poisson else 0.0
    solver, batch_size, local_steps = _solver(est, X, n_train, local_steps)
    plan.check_resume(est, resume, stop)
    scores = None
    if validation is not None:
        scores = _Scores(
            bool(est.verbose), stop=stop.score_stops, tol=float(est.tol), patience=stop.patience
        )
    history = parallel_train(
        net := est._network(X.dtype),
        X,
        Y,
        sample_weight=w,
        solver=solver,
        client=client,
        optimizer=(optimizer := est._optimizer(first_pass)),
        max_iter=stop.max_iter,
        target_loss=plan.target_loss(est, offset),
        tol=stop.tol,
        n_iter_no_change=stop.n_iter_no_change,
        batch_size=batch_size,
        local_steps=local_steps,
        random_state=plan.train_seed(random_state),
        schedule=plan.schedule(est, stop, n_train=n_train, t=est.t_),
        validation_data=validation,
        early_stopping=stop.on_validation_loss,
        callbacks=est._callbacks(offset, scores),
        class_weight=est._class_weight_indices(),
        resume=resume,
        data=data_mode,
        validation_score=None if validation is None else _block_score(est),
    )
    previous = {
        name: getattr(est, name, None)
        for name in ("validation_loss_curve_", "validation_scores_", "best_validation_score_")
    }
    est._keep(net, scores, on_device=False)
    # the score only for stop_reason_; the validation attributes follow (block sums)
    est._store(net, optimizer, history, n_train, offset, None, scores, False)
    if scores is not None:
        # the held-out partitions' loss and score, as the in-memory fit stores them
        val_offset = _poisson_constant(validation[1], validation[2], da, client) if poisson else 0.0
        curve = [loss + val_offset for loss in history.val_loss]
        est.validation_loss_curve_ = [*(previous["validation_loss_curve_"] or []), *curve]
        est.validation_scores_ = [*(previous["validation_scores_"] or []), *scores.scores]
        best = previous["best_validation_score_"]
        est.best_validation_score_ = max(scores.best_score, -np.inf if best is None else best)
        est.best_loss_ = None
    est._warn_if_not_converged(history, stacklevel=6)
    return est


def _holdout(est, X, Y, w, stop, random_state):
    """``((X, Y, w) to train on, validation data or None)``: whole partitions held out.

    ``validation_fraction`` of the non-empty row blocks, drawn from ``random_state``
    (:func:`deltaprop.parallel.held_out_blocks`); the rows never come to this process.
    """
    if not stop.holdout:
        return (X, Y, w), None
    rows = X.chunks[0]
    Y = Y.rechunk({0: rows})
    w = None if w is None else w.rechunk({0: rows})
    blocks = [i for i, n in enumerate(rows) if n > 0]
    held = {blocks[i] for i in held_out_blocks(len(blocks), est.validation_fraction, random_state)}
    kept = [i for i in range(len(rows)) if i not in held]
    held_list = sorted(held)

    def take(a, idx):
        return None if a is None else a.blocks[idx]

    training = tuple(take(a, kept) for a in (X, Y, w))
    validation = tuple(take(a, held_list) for a in (X, Y, w))
    return training, validation


def _features(est: Any, X_in: Any, X: Any, first_pass: bool) -> tuple[Any, int, int]:
    """``(X, n_samples, n_features)``: ``X`` checked, as floats, one column chunk."""
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got {X.ndim}-D")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    X = X.rechunk({1: -1})
    n_samples, n_features = int(sum(X.chunks[0])), int(X.shape[1])
    if n_samples < 1:
        raise ValueError("X is empty: it has 0 samples")
    # a dask DataFrame's empty pandas stand-in carries its column names
    _check_feature_names(est, getattr(X_in, "_meta", X_in), reset=first_pass)
    if first_pass or not hasattr(est, "n_features_in_"):
        est.n_features_in_ = n_features
    elif n_features != est.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {type(est).__name__} is expecting "
            f"{est.n_features_in_} features as input."
        )
    return X, n_samples, n_features


def _solver(est, X, n_samples: int, local_steps: int | None) -> tuple[str, int | None, int]:
    """``(solver, batch_size, local_steps)`` for :func:`deltaprop.parallel.train`."""
    batch_size = plan.batch_size(est, n_samples, stacklevel=7)
    if batch_size is None:  # lbfgs and gd: full batch
        return est.solver, None, 1
    if batch_size >= n_samples:  # one batch per epoch: full-batch steps, exactly as in memory
        return "gd", None, 1
    if not est.shuffle:
        _refuse("shuffle", False, "local SGD draws each block's mini-batches in random order")
    if local_steps is None:
        n_blocks = sum(1 for rows in X.chunks[0] if rows > 0)
        local_steps = math.ceil(n_samples / (n_blocks * batch_size))
    return "local_sgd", batch_size, local_steps


# -- predict -------------------------------------------------------------------------------
def _predict_block(block, estimator, method):
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:  # fitted on a DataFrame: give the block its column names back
        import pandas as pd

        block = pd.DataFrame(block, columns=names)
    return getattr(estimator, method)(block)


def predict_on_dask(est: Any, X: Any, method: str) -> Any:
    """``est.<method>(X)`` block by block: a dask array with ``X``'s row chunks."""
    _, da = _import_dask()
    if isinstance(X, da.Array):
        arr = X
    elif hasattr(X, "to_dask_array"):
        arr = X.to_dask_array()
    else:
        raise TypeError(f"X must be a dask array or DataFrame, got {type(X).__name__}")
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got {arr.ndim}-D")
    arr = arr.rechunk({1: -1})
    probe = _predict_block(np.zeros((1, arr.shape[1])), est, method)
    kwargs = {"dtype": probe.dtype, "meta": np.empty((0, *probe.shape[1:]), dtype=probe.dtype)}
    if probe.ndim == 1:
        return arr.map_blocks(_predict_block, est, method, drop_axis=1, **kwargs)
    return arr.map_blocks(
        _predict_block, est, method, chunks=(arr.chunks[0], (probe.shape[1],)), **kwargs
    )
