"""scikit-learn estimators: :class:`MLPClassifier` and :class:`MLPRegressor`.

Drop-in replacements for ``sklearn.neural_network.MLPClassifier`` and ``MLPRegressor``:
the same constructor parameters (names, defaults, meaning), the same fitted attributes,
and the same behaviour in pipelines, grid searches and metadata routing. The classes are
thin: each ``fit`` translates the parameters into a :class:`~deltaprop.Network` (one
:class:`~deltaprop.Dense` layer per entry of ``coefs_``), an optimizer and a schedule,
and calls :func:`deltaprop.train`; all the training happens there.

How the parameters translate
----------------------------
- ``solver``: ``"sgd"`` -> :class:`~deltaprop.SGD` (``momentum``, Nesterov when
  ``nesterovs_momentum`` and ``momentum > 0``); ``"adam"`` -> :class:`~deltaprop.Adam`;
  ``"lbfgs"`` -> :class:`~deltaprop.LBFGS` (``gtol=tol``, ``max_fun``); ``"gd"`` (not in
  scikit-learn) -> full-batch gradient descent without momentum.
- ``learning_rate``: ``"invscaling"`` -> ``lr_0 / (t + 1)**power_t`` with ``t`` the
  number of samples seen before the epoch (``t_``, carried across warm starts);
  ``"adaptive"`` -> :class:`~deltaprop.optim.schedules.ReduceOnPlateau` (factor 0.2, patience
  ``n_iter_no_change``, threshold ``tol``, floor 1e-6).
- ``tol``/``n_iter_no_change``: scikit-learn stops once the loss (or the validation
  score) has failed to improve by ``tol`` for more than ``n_iter_no_change`` epochs in a
  row, so ``train`` gets ``n_iter_no_change + 1``.
- The objective is scikit-learn's: the sample-weighted mean loss plus
  ``alpha/2 * sum ||W||^2 / sum(sample_weight)``, and ``loss_curve_`` reports it. For
  one output (and every classifier) it is scikit-learn's number; for several regression
  outputs scikit-learn reports the *mean* over outputs of the squared error while its
  gradient is that of the *sum*, and deltaprop reports the sum, the function actually
  minimised. For ``loss="poisson"`` the constant ``xlogy(y, y) - y`` that scikit-learn
  includes (so a perfect fit scores 0) is added to the reported values.
- Initial weights are drawn exactly as scikit-learn draws them (Glorot uniform from
  ``check_random_state(random_state)``, biases too), so both libraries start from the
  same numbers for the same integer ``random_state``; the mini-batch order then comes
  from deltaprop's own seeded generator.

- ``device``: a PyTorch device name; ``fit`` moves the validated training arrays there
  once and trains on tensors; the fitted attributes come back as NumPy arrays.
- Dask inputs: ``fit(dask_X, dask_y)`` trains through :func:`deltaprop.parallel.train`
  (see :mod:`deltaprop.estimators.dask` and ``docs/scale.md``).

See ``docs/estimators.md`` for every parameter and every difference from scikit-learn.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import math
import numbers
import warnings
from itertools import pairwise
from typing import Any, ClassVar

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "deltaprop.MLPClassifier and deltaprop.MLPRegressor need scikit-learn, an optional "
        'dependency: pip install "deltaprop[sklearn]"'
    ) from exc
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from deltaprop.core.arrays import to_numpy
from deltaprop.core.network import Network
from deltaprop.estimators import plan, state
from deltaprop.estimators.dask import fit_on_dask, predict_on_dask
from deltaprop.estimators.predictor import (
    class_labels_from_outputs,
    class_probabilities,
    network_outputs,
)
from deltaprop.files.container import register_kind
from deltaprop.optim.optimizers import LBFGS
from deltaprop.parallel import is_dask_collection
from deltaprop.training.trainer import train

__all__ = ["MLPClassifier", "MLPRegressor"]


class _Verbose:
    """Callback printing scikit-learn's ``Iteration N, loss = x`` lines."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def __call__(self, iteration, history, net):
        print(f"Iteration {iteration}, loss = {history.loss[-1] + self.offset:.8f}")


class _ValidationScore(plan.ScoreStop):
    """Callback scoring the held-out rows after every epoch (scikit-learn's early stopping).

    The stop rule and the best parameters: :class:`~deltaprop.estimators.plan.ScoreStop`.
    Each score is also appended to ``History.val_score`` (what ``deltaprop train`` shows).
    """

    def __init__(self, estimator, X_val, y_val, w_val, *, stop, tol, patience, verbose):
        super().__init__(stop=stop, tol=tol, patience=patience)
        self.estimator, self.X_val, self.y_val, self.w_val = estimator, X_val, y_val, w_val
        self.verbose = verbose

    def __call__(self, iteration, history, net):
        out = to_numpy(net.forward(self.X_val))  # X_val may live on a device (device=)
        if not np.isfinite(out).all():
            score = np.nan
        else:
            y_pred = self.estimator._decode(out)
            score = float(
                self.estimator._score_function(self.y_val, y_pred, sample_weight=self.w_val)
            )
        history.val_score.append(score)
        if self.verbose:
            print(f"Validation score: {score:f}")
        return self.record(score, net)


def _device_mover(device: str):
    """A function putting NumPy arrays (None passes) on the PyTorch device ``device``.

    Raises
    ------
    ImportError
        Without PyTorch or array-api-compat.
    ValueError
        For a device PyTorch rejects or cannot use here (no CUDA, no MPS, ...).
    """
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            f"device={device!r} trains on PyTorch tensors and needs PyTorch (torch), "
            "which is not installed: pip install torch"
        ) from exc
    try:
        import array_api_compat  # noqa: F401  (deltaprop reaches torch through it)
    except ImportError as exc:
        raise ImportError(
            f'device={device!r} needs array-api-compat: pip install "deltaprop[arrayapi]"'
        ) from exc
    try:
        dev = torch.device(device)
        if dev.type == "meta":
            raise ValueError("the meta device holds no data")
        torch.empty(0, device=dev)  # fails for a device this build or machine lacks
    except (RuntimeError, AssertionError, NotImplementedError, ValueError, TypeError) as exc:
        reason = str(exc).strip().split(". ")[0] or type(exc).__name__
        raise ValueError(
            f"device must name a PyTorch device usable here, got {device!r}: {reason}"
        ) from None

    def move(a):
        if a is None:
            return None
        try:
            return torch.asarray(a, device=dev)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(
                f"cannot put the training data ({a.dtype}) on device {device!r}: {exc}"
            ) from None

    return move


def _refuse_dask_for(*, incremental: bool) -> None:
    if incremental:
        raise TypeError(
            "partial_fit takes in-memory arrays, not dask collections (it would pull the "
            "data into this process); fit trains on dask collections"
        )


def _poisson_constant(Y: np.ndarray, w: np.ndarray | None) -> float:
    """Weighted mean over rows of ``sum_k xlogy(y, y) - y``: scikit-learn's extra term."""
    Y = np.asarray(Y, dtype=np.float64)
    safe = np.where(Y > 0.0, Y, 1.0)
    per_row = np.sum(np.where(Y > 0.0, Y * np.log(safe), 0.0) - Y, axis=1)
    return float(np.average(per_row, weights=w))


class _BaseMLP(BaseEstimator):
    """Shared machinery of the two estimators (not for direct use)."""

    _parameter_constraints: ClassVar[dict] = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [StrOptions(plan.HIDDEN_ACTIVATIONS)],
        "solver": [StrOptions(set(plan.SOLVERS))],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(numbers.Integral, 1, None, closed="left"),
            Options(numbers.Real, {np.inf}),
        ],
        "max_fun": [Interval(numbers.Integral, 1, None, closed="left")],
        "output_activation": [StrOptions(plan.OUTPUT_ACTIVATIONS), None],
        "target_loss": [numbers.Real, None],
        "callbacks": [callable, list, tuple, None],
        "early_stopping_metric": [StrOptions({"score", "loss"})],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "device": [str, None],
    }

    # -- subclass hooks ---------------------------------------------------------------
    def _validate_input(self, X, y, incremental, reset):
        """Return ``(X, Y, y)``: ``Y`` the 2-D float targets, ``y`` the validated labels."""
        raise NotImplementedError

    def _out_activation(self) -> str:
        """The output activation: ``output_activation``, or scikit-learn's choice."""
        raise NotImplementedError

    def _loss_name(self) -> str:
        """The name of deltaprop's loss for ``out_activation_``."""
        raise NotImplementedError

    def _decode(self, out):
        """Predictions from the output layer's activations."""
        raise NotImplementedError

    def _class_weight_indices(self):
        return None

    def _stratify(self, y):
        return None

    # -- fitting ----------------------------------------------------------------------
    def _initialize(self, layer_units, dtype, random_state, draw=True) -> None:
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = int(layer_units[-1])
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        if draw:
            self.coefs_, self.intercepts_ = plan.initial_parameters(
                layer_units, self.activation, random_state, dtype
            )
        self.loss_curve_ = []
        self.validation_loss_curve_ = None
        self.optimizer_state_ = None
        self.best_loss_ = np.inf
        self.validation_scores_ = None
        self.best_validation_score_ = None

    def _prepare_parameters(self, layer_units, dtype, random_state, first_pass: bool) -> None:
        """Draw the initial weights (first pass) or check the ones a warm start continues."""
        if first_pass:
            self._initialize(layer_units, dtype, random_state)
            return
        if not hasattr(self, "n_layers_"):  # coefs_ set by hand before any fit
            self._initialize(layer_units, dtype, random_state, draw=False)
        self._check_coefs(layer_units)
        self.n_outputs_ = int(layer_units[-1])

    def _check_coefs(self, layer_units) -> None:
        shapes = [(a, b) for a, b in pairwise(layer_units)]
        found = [tuple(np.shape(c)) for c in self.coefs_]
        found_b = [tuple(np.shape(b)) for b in self.intercepts_]
        if found != shapes or found_b != [(b,) for _, b in shapes]:
            raise ValueError(
                f"coefs_ and intercepts_ must have the shapes {shapes} and "
                f"{[(b,) for _, b in shapes]} for these data and hidden_layer_sizes "
                f"(warm start), got {found} and {found_b}"
            )

    def _parameters(self) -> list[Any]:
        """``[W_0, b_0, W_1, b_1, ...]`` from ``coefs_`` and ``intercepts_``."""
        return [p for pair in zip(self.coefs_, self.intercepts_, strict=True) for p in pair]

    def _check_solver(self) -> bool:
        if self.solver not in plan.FIRST_ORDER:
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} "
                "is not stochastic."
            )
        return True

    def _network(self, dtype) -> Network:
        """A Network holding ``coefs_`` and ``intercepts_`` (as ``dtype``)."""
        return plan.network(
            self.coefs_,
            self.intercepts_,
            activation=self.activation,
            out_activation=self.out_activation_,
            loss=self._loss_name(),
            alpha=self.alpha,
            dropout=self.dropout,
            dtype=dtype,
        )

    def _optimizer(self, first_pass: bool):
        optimizer = plan.optimizer(self)
        if not first_pass and not isinstance(optimizer, LBFGS):
            shapes = [np.shape(p) for p in self._parameters()]
            plan.restore_state(optimizer, getattr(self, "optimizer_state_", None), shapes)
        return optimizer

    def _fit(self, X, y, sample_weight=None, incremental=False, resume=None):
        if is_dask_collection(X, y, sample_weight):
            _refuse_dask_for(incremental=incremental)
            return fit_on_dask(self, X, y, sample_weight, resume=resume)
        to_device = None if self.device is None else _device_mover(self.device)
        hidden = plan.hidden_sizes(self.hidden_layer_sizes)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, Y, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=X.dtype, ensure_non_negative=True
            )
        random_state = check_random_state(self.random_state)
        self._prepare_parameters(
            [X.shape[1], *hidden, Y.shape[1]], X.dtype, random_state, first_pass
        )
        stop = plan.stopping(self, incremental=incremental)
        (X_train, Y_train, w_train), validation, score = self._holdout(
            X, Y, y, sample_weight, stop, random_state
        )
        plan.check_resume(self, resume, stop)
        n_train = X_train.shape[0]
        offset = self._loss_offset(Y_train, w_train)
        batch_size = plan.batch_size(self, n_train, stacklevel=4)
        callbacks = self._callbacks(offset, score)
        if to_device is not None:
            # once, before training: the loop then runs on the device's tensors
            X_train, Y_train, w_train = (to_device(a) for a in (X_train, Y_train, w_train))
            if validation is not None:
                validation = tuple(to_device(a) for a in validation)
                score.X_val = to_device(score.X_val)
        net = self._network(X.dtype)
        optimizer = self._optimizer(first_pass)
        history = train(
            net,
            X_train,
            Y_train,
            sample_weight=w_train,
            optimizer=optimizer,
            batch_size=batch_size,
            shuffle=bool(self.shuffle),
            max_iter=stop.max_iter,
            target_loss=plan.target_loss(self, offset),
            tol=stop.tol,
            n_iter_no_change=stop.n_iter_no_change,
            random_state=plan.train_seed(random_state),
            schedule=plan.schedule(self, stop, n_train=n_train, t=self.t_),
            validation_data=validation,
            early_stopping=stop.on_validation_loss,
            callbacks=callbacks,
            class_weight=self._class_weight_indices(),
            resume=resume,
        )
        self._keep(net, score, on_device=to_device is not None)
        self._store(net, optimizer, history, n_train, offset, validation, score, stop.holdout)
        if self.verbose and self.stop_reason_ in ("no_improvement", "early_stopping"):
            what = "Validation score" if stop.holdout else "Training loss"
            print(
                f"{what} did not improve more than tol={self.tol:f} for "
                f"{self.n_iter_no_change} consecutive epochs. Stopping."
            )
        if not incremental:
            self._warn_if_not_converged(history)
        return self

    def _holdout(self, X, Y, y, sample_weight, stop, random_state):
        """``((X, Y, w) to train on, validation data or None, _ValidationScore or None)``."""
        if not stop.holdout:
            return (X, Y, sample_weight), None, None
        train_idx, val_idx = train_test_split(
            np.arange(X.shape[0]),
            random_state=random_state,
            test_size=self.validation_fraction,
            stratify=self._stratify(Y),
        )
        if val_idx.size < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        w_val = None if sample_weight is None else sample_weight[val_idx]
        w_train = None if sample_weight is None else sample_weight[train_idx]
        score = _ValidationScore(
            self,
            X[val_idx],
            y[val_idx],
            w_val,
            stop=stop.score_stops,
            tol=float(self.tol),
            patience=stop.patience,
            verbose=bool(self.verbose),
        )
        validation = (X[val_idx], Y[val_idx], w_val)
        return (X[train_idx], Y[train_idx], w_train), validation, score

    def _callbacks(self, offset: float, score) -> list:
        """The verbose printer, the validation score, then the user's callbacks."""
        callbacks = []
        if self.verbose:
            callbacks.append(_Verbose(offset))
        if score is not None:
            callbacks.append(score)
        if self.callbacks is not None:
            user = self.callbacks if isinstance(self.callbacks, list | tuple) else [self.callbacks]
            callbacks.extend(user)
        return callbacks

    def _keep(self, net, score, *, on_device: bool) -> None:
        """The parameters to keep: the best-scoring ones (early stopping), as NumPy arrays."""
        if score is not None and self.early_stopping_metric == "score":
            if score.best_params is not None:
                net._set_parameters(score.best_params)
        if on_device:  # fitted attributes are NumPy arrays
            net._set_parameters([np.array(to_numpy(p)) for p in net.parameters])

    def _warn_if_not_converged(self, history, stacklevel: int = 4) -> None:
        if history.stop_reason in plan.NOT_CONVERGED:
            if self.solver == "lbfgs":
                message = (
                    f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                    f"(stop reason: {history.stop_reason})."
                )
            else:
                message = (
                    f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                    "and the optimization hasn't converged yet."
                )
            warnings.warn(message, ConvergenceWarning, stacklevel=stacklevel)

    def _loss_offset(self, Y, w) -> float:
        return 0.0

    def _store(self, net, optimizer, history, n_train, offset, validation, score, early_stopping):
        """Copy what training produced into scikit-learn's fitted attributes."""
        self.network_ = net
        self.coefs_ = [np.asarray(layer.weights) for layer in net.layers]
        self.intercepts_ = [np.asarray(layer.bias) for layer in net.layers]
        self.optimizer_state_ = None if isinstance(optimizer, LBFGS) else optimizer.state_dict()
        curve = [loss + offset for loss in history.loss]
        self.loss_curve_ = [*getattr(self, "loss_curve_", []), *curve]
        self.n_iter_ = history.n_iter
        self.t_ = int(self.t_) + history.n_iter * n_train
        stopped_by_score = score is not None and score.stopped
        self.stop_reason_ = "early_stopping" if stopped_by_score else history.stop_reason
        diverged = history.divergence
        self.divergence_ = None if diverged is None else dataclasses.asdict(diverged)
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else None
        if early_stopping:
            val_offset = self._loss_offset(validation[1], validation[2])
            val_curve = [loss + val_offset for loss in history.val_loss]
            self.validation_loss_curve_ = [*(self.validation_loss_curve_ or []), *val_curve]
            self.validation_scores_ = [*(self.validation_scores_ or []), *score.scores]
            self.best_validation_score_ = max(
                score.best_score,
                -np.inf if self.best_validation_score_ is None else self.best_validation_score_,
            )
            self.best_loss_ = None
        else:
            self.validation_loss_curve_ = None
            self.validation_scores_ = None
            self.best_validation_score_ = None
            previous = np.inf if self.best_loss_ is None else self.best_loss_
            self.best_loss_ = float(min(previous, *curve)) if curve else previous

    # -- prediction -------------------------------------------------------------------
    def _forward(self, X, check_input=True):
        if check_input:
            X = validate_data(
                self, X, accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32), reset=False
            )
        if sp.issparse(X):
            X = X.toarray()
        return network_outputs(self.network_.layers, self._parameters(), X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def to_onnx(
        self, path: Any, *, opset: int | None = None, dtype: Any = None, input_name: str = "X"
    ) -> Any:
        """Write the fitted estimator to an ONNX file (needs ``deltaprop[onnx]``).

        A classifier's model has the outputs ``label`` and ``probabilities`` (as
        ``predict`` and ``predict_proba``), a regressor's ``predictions``; the input is
        ``input_name``, shape (N, n_features_in_). See ``docs/onnx.md``.

        Returns
        -------
        onnx.ModelProto
        """
        # named, not imported: deltaprop.export sits above this room (ARCHITECTURE.md)
        estimator_to_onnx = importlib.import_module("deltaprop.export.onnx").estimator_to_onnx
        return estimator_to_onnx(self, path, opset=opset, dtype=dtype, input_name=input_name)


def _validate_X_y(estimator, X, y, reset, **kwargs):
    X, y = validate_data(
        estimator,
        X,
        y,
        accept_sparse=["csr", "csc"],
        multi_output=True,
        dtype=(np.float64, np.float32),
        reset=reset,
        **kwargs,
    )
    if sp.issparse(X):
        X = X.toarray()
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    return X, y


def _fill(template: str, **fields: str) -> str:
    for key, value in fields.items():
        template = template.replace("{" + key + "}", value)
    return template


_SHARED_PARAMETERS_DOC = """
    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of units in the ith hidden layer.
    activation : str, default="relu"
        Hidden activation: scikit-learn's ``"identity"``, ``"logistic"``, ``"tanh"``,
        ``"relu"``, or any other name in :data:`deltaprop.ACTIVATIONS` except softmax.
    solver : {"lbfgs", "sgd", "adam", "gd"}, default="adam"
        ``"gd"`` (deltaprop only) is full-batch gradient descent without momentum.
    alpha : float, default=1e-4
        L2 penalty strength, divided by the sum of the sample weights as in scikit-learn.
    batch_size : int or "auto", default="auto"
        Mini-batch size for sgd and adam; "auto" is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Schedule for solver "sgd" (and "gd").
    learning_rate_init : float, default=1e-3
    power_t : float, default=0.5
    max_iter : int, default=200
        Epochs for sgd, adam and gd; iterations for lbfgs.
    shuffle : bool, default=True
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights (drawn as scikit-learn draws them), the validation
        split, and a seed for deltaprop's generator (mini-batch order, dropout masks).
    tol : float, default=1e-4
    verbose : bool, default=False
        Print ``Iteration N, loss = x`` after every iteration.
    warm_start : bool, default=False
        Reuse ``coefs_``/``intercepts_`` (which may be set by hand) and the optimizer's
        state (momentum velocities, Adam moments and step count).
    momentum : float, default=0.9
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when the validation
        metric (see ``early_stopping_metric``) has not improved by ``tol`` for more than
        ``n_iter_no_change`` epochs; the best weights are restored.
    validation_fraction : float, default=0.1
    beta_1, beta_2 : float, defaults 0.9 and 0.999
    epsilon : float, default=1e-8
    n_iter_no_change : int or np.inf, default=10
    max_fun : int, default=15000
{extra}    output_activation : str or None, default=None
        The output layer's activation; None keeps scikit-learn's choice.{output_doc}
    target_loss : float or None, default=None
        Stop once an epoch's loss (as in ``loss_curve_``) is at or below this value.
    callbacks : callable or list of callables, default=None
        Called after every epoch as ``callback(iteration, history, network)`` (see
        :func:`deltaprop.train`); returning True stops training.
    early_stopping_metric : {"score", "loss"}, default="score"
        What early stopping watches: scikit-learn's validation score ({score}), or
        the validation loss (lower is better).
    dropout : float in [0, 1), default=0.0
        Dropout rate of every hidden layer during training (not with lbfgs).
    device : str or None, default=None
        None trains on NumPy arrays. A PyTorch device name (``"cpu"``, ``"cuda"``,
        ``"cuda:1"``, ``"mps"``) trains on PyTorch tensors there (needs ``torch`` and
        ``array-api-compat``): the validated training arrays move once, before
        training; the fitted attributes are NumPy arrays and prediction runs on NumPy.
        With lbfgs, SciPy's L-BFGS-B runs on the host, so the parameters (not the data)
        cross to the host and back once per function evaluation. Not with dask inputs.
"""

_ATTRIBUTES_DOC = """
    Attributes
    ----------
{classes}    loss_ : float
        The loss of the last iteration, as in ``loss_curve_``.
    best_loss_ : float or None
        The lowest loss; None with early stopping.
    loss_curve_ : list of float
        One entry per iteration, for every solver (lbfgs included); accumulates over
        warm starts and ``partial_fit`` calls.
    validation_loss_curve_ : list of float or None
        The validation loss after each epoch, with early stopping.
    validation_scores_ : list of float or None
        The validation score after each epoch, with early stopping.
    best_validation_score_ : float or None
    t_ : int
        Number of training samples seen (summed over epochs and calls).
    coefs_ : list of ndarray
        ``coefs_[i]`` has shape (n_units[i], n_units[i + 1]).
    intercepts_ : list of ndarray
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string feature names.
    n_iter_ : int
        Iterations run by the last ``fit`` (1 after ``partial_fit``).
    n_layers_ : int
    n_outputs_ : int
    out_activation_ : str
    stop_reason_ : str
        Why the last call stopped (:attr:`deltaprop.History.stop_reason`).
    divergence_ : dict or None
        When the last call diverged (``stop_reason_ == "diverged"``, with a
        :class:`~deltaprop.DivergenceWarning`): ``iteration``, ``batch``, ``problem``,
        ``cause`` (the probable one: ``"penalty"``, ``"learning_rate"``, ``"inputs"``,
        ``"data"``, ``"initial_weights"`` or ``"unknown"``) and ``advice``
        (:class:`deltaprop.training.history.Divergence`); None otherwise.
    network_ : deltaprop.Network
        The trained network.
    optimizer_state_ : dict or None
        The optimizer's :meth:`~deltaprop.Optimizer.state_dict` (None for lbfgs).
"""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = (
        """Multi-layer perceptron classifier, a drop-in for scikit-learn's.

    Binary targets get one logistic output, multiclass targets a softmax layer, and
    multilabel indicator targets one logistic output per label; the objective is the
    (sample- and class-weighted) log-loss plus the L2 penalty.
"""
        + _fill(
            _SHARED_PARAMETERS_DOC,
            extra="""    class_weight : dict, "balanced" or None, default=None
        Weights by class label, multiplied into the sample weights (not for
        multilabel targets); "balanced" uses ``n / (n_classes * n_c)``.
""",
            output_doc="""
        ``"logistic"`` with multiclass targets trains one sigmoid per class
        (one-vs-rest); ``"softmax"`` with binary targets uses two output units.""",
            score="accuracy",
        )
        + _fill(
            _ATTRIBUTES_DOC,
            classes="""    classes_ : ndarray of shape (n_classes,)
""",
        )
        + """
    Examples
    --------
    >>> import numpy as np
    >>> from deltaprop import MLPClassifier
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> clf = MLPClassifier((8,), activation="tanh", solver="lbfgs", random_state=0)
    >>> clf.fit(X, [0, 1, 1, 0]).predict(X)
    array([0, 1, 1, 0])
    """
    )

    _parameter_constraints: ClassVar[dict] = {
        **_BaseMLP._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "output_activation": [StrOptions({"logistic", "sigmoid", "softmax"}), None],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        class_weight=None,
        output_activation=None,
        target_loss=None,
        callbacks=None,
        early_stopping_metric="score",
        dropout=0.0,
        device=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.class_weight = class_weight
        self.output_activation = output_activation
        self.target_loss = target_loss
        self.callbacks = callbacks
        self.early_stopping_metric = early_stopping_metric
        self.dropout = dropout
        self.device = device

    _score_function = staticmethod(accuracy_score)

    # -- targets ----------------------------------------------------------------------
    def _validate_input(self, X, y, incremental, reset):
        X, y = _validate_X_y(self, X, y, reset)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in "
                        f"the previous call to fit. Previously got {self.classes_}, `y` has "
                        f"{classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {classes}."
                )
        Y = self._label_binarizer.transform(y).astype(X.dtype)
        if self._out_activation() == "softmax" and Y.shape[1] == 1:
            Y = np.hstack([1.0 - Y, Y])
        return X, Y, y

    def _multilabel(self) -> bool:
        return self._label_binarizer.y_type_.startswith("multilabel")

    def _out_activation(self) -> str:
        if self.output_activation is None:
            multiclass = self._label_binarizer.y_type_ == "multiclass"
            return plan.output_activation("classification", multiclass=multiclass)
        if self.output_activation == "softmax":
            if self._multilabel():
                raise ValueError(
                    "output_activation='softmax' needs single-label targets; multilabel "
                    "targets need 'logistic'"
                )
            return "softmax"
        return "logistic"

    def _loss_name(self) -> str:
        return plan.loss_name("classification", self.out_activation_)

    def _stratify(self, Y):
        if self._multilabel():
            return None
        codes = np.argmax(Y, axis=1) if Y.shape[1] > 1 else Y[:, 0]
        counts = np.unique(codes, return_counts=True)[1]
        n_val = math.ceil(self.validation_fraction * len(codes))
        if counts.min() < 2 or not len(counts) <= n_val <= len(codes) - len(counts):
            # a class of one row (a totals line, a rare label) cannot be in both parts,
            # nor every class in a part smaller than their number: a plain random split
            return None
        return codes

    def _class_weight_indices(self):
        if self.class_weight is None:
            return None
        if self._multilabel():
            raise ValueError("class_weight is not supported for multilabel targets")
        if isinstance(self.class_weight, str):
            return self.class_weight
        index = {label: i for i, label in enumerate(self.classes_.tolist())}
        unknown = [label for label in self.class_weight if label not in index]
        if unknown:
            raise ValueError(
                f"class_weight has labels {unknown} that are not classes of y "
                f"({self.classes_.tolist()})"
            )
        return {index[label]: float(w) for label, w in self.class_weight.items()}

    def _decode(self, out):
        return class_labels_from_outputs(
            out,
            self.classes_,
            softmax=self.out_activation_ == "softmax",
            multilabel=self._multilabel(),
        )

    # -- public API -------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to ``X`` and the class labels ``y``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Sparse input is converted to a dense array.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a multilabel indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``X``, continuing from the current weights and optimizer state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array of shape (n_classes,), default=None
            Every class of the whole data set; required on the first call.

        Returns
        -------
        self
        """
        if is_dask_collection(X, y, sample_weight):
            _refuse_dask_for(incremental=True)
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X):
        """Predicted class labels, shape (n_samples,) or (n_samples, n_labels).

        For a dask array ``X``, a dask array computed block by block.
        """
        check_is_fitted(self)
        if is_dask_collection(X):
            return predict_on_dask(self, X, "predict")
        return self._decode(self._forward(X))

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), ordered as ``classes_``.

        For multilabel targets, each label's probability (rows need not sum to 1).
        For a dask array ``X``, a dask array computed block by block.
        """
        check_is_fitted(self)
        if is_dask_collection(X):
            return predict_on_dask(self, X, "predict_proba")
        return class_probabilities(
            self._forward(X),
            softmax=self.out_activation_ == "softmax",
            multilabel=self._multilabel(),
        )

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        proba = self.predict_proba(X)
        if is_dask_collection(proba):
            return np.log(proba)
        with np.errstate(divide="ignore"):
            return np.log(proba, out=proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = (
        """Multi-layer perceptron regressor, a drop-in for scikit-learn's.

    One identity output per target column (``exp`` for ``loss="poisson"``); the
    objective is the sample-weighted mean loss plus the L2 penalty.

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default="squared_error"
        Half the squared error, or half the Poisson deviance (with an exp output).
"""
        + _fill(
            _SHARED_PARAMETERS_DOC.split("----------\n", 1)[1],
            extra="",
            output_doc="",
            score="R^2",
        )
        + _fill(_ATTRIBUTES_DOC, classes="")
        + """
    Examples
    --------
    >>> import numpy as np
    >>> from deltaprop import MLPRegressor
    >>> X = np.linspace(-1.0, 1.0, 20).reshape(-1, 1)
    >>> reg = MLPRegressor(hidden_layer_sizes=(), solver="lbfgs", random_state=0)
    >>> reg = reg.fit(X, 3.0 * X[:, 0] + 1.0)
    >>> np.round(reg.predict([[0.0], [0.5]]), 3)
    array([1. , 2.5])
    """
    )

    _parameter_constraints: ClassVar[dict] = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        output_activation=None,
        target_loss=None,
        callbacks=None,
        early_stopping_metric="score",
        dropout=0.0,
        device=None,
    ):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.output_activation = output_activation
        self.target_loss = target_loss
        self.callbacks = callbacks
        self.early_stopping_metric = early_stopping_metric
        self.dropout = dropout
        self.device = device

    _score_function = staticmethod(r2_score)

    def _validate_input(self, X, y, incremental, reset):
        X, y = _validate_X_y(self, X, y, reset, y_numeric=True)
        Y = (y.reshape(-1, 1) if y.ndim == 1 else y).astype(X.dtype)
        return X, Y, y

    def _out_activation(self) -> str:
        if self.output_activation is not None:
            return self.output_activation
        return plan.output_activation("regression", loss=self.loss)

    def _loss_name(self) -> str:
        return plan.loss_name("regression", self.out_activation_, self.loss)

    def _loss_offset(self, Y, w) -> float:
        return _poisson_constant(Y, w) if self.loss == "poisson" else 0.0

    def _decode(self, out):
        return out.ravel() if out.shape[1] == 1 else out

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to ``X`` and the targets ``y``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Sparse input is converted to a dense array.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``X``, continuing from the current weights and optimizer state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        if is_dask_collection(X, y, sample_weight):
            _refuse_dask_for(incremental=True)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X):
        """Predictions, shape (n_samples,) or (n_samples, n_outputs).

        For a dask array ``X``, a dask array computed block by block.
        """
        check_is_fitted(self)
        if is_dask_collection(X):
            return predict_on_dask(self, X, "predict")
        return self._decode(self._forward(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


# the "mlp_classifier" and "mlp_regressor" kinds of model files
register_kind(
    "mlp_classifier",
    MLPClassifier,
    state.estimator_to_state,
    functools.partial(state.estimator_from_state, MLPClassifier),
)
register_kind(
    "mlp_regressor",
    MLPRegressor,
    state.estimator_to_state,
    functools.partial(state.estimator_from_state, MLPRegressor),
)
