"""The tabular recipe without scikit-learn: :class:`PlainTabularClassifier` and
:class:`PlainTabularRegressor`.

Everything :class:`~deltaprop.TabularClassifier` and :class:`~deltaprop.TabularRegressor`
do, with NumPy alone: the recipe's parameters, its fit (the members, their validation
rows, the side-by-side training, the time budget) and its predictions. The scikit-learn
estimators are these classes with scikit-learn's face: parameter validation,
``validate_data``, tags, ``get_params``/``set_params`` of ``BaseEstimator``. Both fit the
same members bit for bit.

``deltaprop train`` fits through these classes because importing scikit-learn takes
about a second (it imports SciPy's statistics), as long as a small table's whole fit; a
:class:`~deltaprop.tabular.TabularModel` fitted with one holds the scikit-learn
estimator's state and builds it (importing scikit-learn) only when ``estimator_`` is
asked for.

Examples
--------
>>> import numpy as np
>>> from deltaprop.estimators.plain_recipe import PlainTabularClassifier
>>> X = np.array([[0.0], [0.2], [0.4], [1.6], [1.8], [2.0]] * 5)
>>> y = np.array([0, 0, 0, 1, 1, 1] * 5)
>>> clf = PlainTabularClassifier(n_ensemble=2, max_epochs=20, random_state=0).fit(X, y)
>>> clf.predict(np.array([[0.1], [1.9]]))
array([0, 1])
"""

from __future__ import annotations

import inspect
import math
import numbers
import time
from itertools import pairwise
from typing import Any

import numpy as np

from deltaprop.core.initializers import make_rng
from deltaprop.core.network import Network
from deltaprop.estimators import plan
from deltaprop.optim.optimizers import Adam
from deltaprop.optim.schedules import CosineAnnealing
from deltaprop.training.members import train_members
from deltaprop.training.metrics import ValidationScore, accuracy, r2_score
from deltaprop.training.trainer import train

__all__ = [
    "PlainTabularClassifier",
    "PlainTabularRegressor",
    "auto_batch_size",
    "auto_epochs",
    "validation_split",
]

#: The work ``max_epochs="auto"`` allows for all members together, in units of one
#: parameter times one row (plus :data:`STEP_OVERHEAD` rows per step for the update):
#: about 8 s of the side-by-side members on 2 cores, so that a table of 10,000 rows by
#: 50 columns fits in well under 30 s with everything else. Four times the 3e10 of the
#: one-member-after-another recipe (then about 20 s): the benchmark tables that ran out
#: of epochs score higher with more (R² +0.009 on two of them), the others as before.
WORK_BUDGET = 1.2e11
#: A step costs about as much as this many more rows (Adam's update of every parameter).
STEP_OVERHEAD = 128
#: The bounds of ``max_epochs="auto"``.
MIN_EPOCHS, MAX_EPOCHS = 8, 128


def auto_batch_size(n_train: int) -> int:
    """``batch_size="auto"``: a power of two near ``n_train / 24``, within [32, 256].

    Small tables then take about 24 steps per epoch (enough updates to learn from few
    rows); large ones batches of 256 (RealMLP-TD's), where NumPy's matrix products are
    efficient.

    Examples
    --------
    >>> [auto_batch_size(n) for n in (100, 1000, 3000, 100000)]
    [32, 32, 64, 256]
    """
    power = math.floor(math.log2(max(n_train, 1) / 24.0)) if n_train >= 24 else 0
    return int(min(256, max(32, 2**power)))


def auto_epochs(n_train: int, batch_size: int, n_parameters: int, n_members: int) -> int:
    """``max_epochs="auto"``: the epochs :data:`WORK_BUDGET` pays for, within [8, 128].

    Parameters
    ----------
    n_train : int
        Training rows of one member.
    batch_size : int
    n_parameters : int
        Weights and biases of one member.
    n_members : int

    Examples
    --------
    >>> auto_epochs(300, 32, 40_000, 5), auto_epochs(8000, 256, 40_000, 5)
    (128, 48)
    """
    steps = math.ceil(max(n_train, 1) / batch_size)
    per_epoch = steps * (batch_size + STEP_OVERHEAD) * max(n_parameters, 1) * n_members
    return int(min(MAX_EPOCHS, max(MIN_EPOCHS, math.floor(WORK_BUDGET / per_epoch))))


def seeded_random_state(random_state: Any) -> np.random.RandomState:
    """The ``RandomState`` scikit-learn's ``check_random_state`` gives for ``random_state``.

    None: NumPy's global one; an int: a new one seeded with it; a ``RandomState``: itself.

    Raises
    ------
    ValueError
        For anything else.
    """
    if random_state is None:
        return np.random.mtrand._rand
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.RandomState(int(random_state))
    if isinstance(random_state, np.random.RandomState):
        return random_state
    raise ValueError(
        f"random_state must be None, an int or a numpy RandomState, got {random_state!r:.60}"
    )


def validation_split(
    n_samples: int, fraction: float, seed: int, stratify: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(train_idx, val_idx)``: ``ceil(fraction * n_samples)`` rows held out.

    The rows scikit-learn's ``train_test_split(np.arange(n_samples), test_size=fraction,
    random_state=seed, stratify=stratify)`` gives, drawn with NumPy alone (a test checks
    that they are equal); stratified by the class codes ``stratify`` when every class can
    appear on both sides, else drawn at random.

    Parameters
    ----------
    n_samples : int
    fraction : float in (0, 1)
    seed : int
    stratify : ndarray of shape (n_samples,) or None
        Class codes.

    Returns
    -------
    train_idx, val_idx : ndarray of int
    """
    n_val = math.ceil(fraction * n_samples)
    n_train = n_samples - n_val
    rng = np.random.RandomState(seed)
    if stratify is not None:
        classes, codes, counts = np.unique(stratify, return_inverse=True, return_counts=True)
        if counts.min() >= 2 and min(n_val, n_train) >= len(classes):
            return _stratified_split(codes, counts, n_train, n_val, rng)
    permutation = rng.permutation(n_samples)
    return permutation[n_val : n_val + n_train], permutation[:n_val]


def _stratified_split(
    codes: np.ndarray, counts: np.ndarray, n_train: int, n_val: int, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's ``StratifiedShuffleSplit``, one split, in its order of random draws."""
    by_class = np.split(np.argsort(codes, kind="stable"), np.cumsum(counts)[:-1])
    n_train_of = _approximate_mode(counts, n_train, rng)
    n_val_of = _approximate_mode(counts - n_train_of, n_val, rng)
    train_rows: list[Any] = []
    val_rows: list[Any] = []
    for rows, n_t, n_v in zip(by_class, n_train_of, n_val_of, strict=True):
        shuffled = rows.take(rng.permutation(len(rows)), mode="clip")
        train_rows.extend(shuffled[:n_t])
        val_rows.extend(shuffled[n_t : n_t + n_v])
    return rng.permutation(train_rows), rng.permutation(val_rows)


def _approximate_mode(counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """How many of ``n_draws`` rows each class gives: its share rounded down, then one more
    for the largest remainders (ties drawn at random), as scikit-learn does."""
    continuous = counts / counts.sum() * n_draws
    floored = np.floor(continuous)
    need = int(n_draws - floored.sum())
    if need > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (tied,) = np.where(remainder == value)
            now = min(len(tied), need)
            floored[rng.choice(tied, size=now, replace=False)] += 1
            need -= now
            if need == 0:
                break
    return floored.astype(int)


class _Deadline:
    """Callback asking training to stop once ``time.perf_counter()`` passes ``at``."""

    def __init__(self, at: float) -> None:
        self.at = at
        self.fired = False

    def __call__(self, iteration, history, net) -> bool:
        self.fired = self.fired or time.perf_counter() >= self.at
        return self.fired


class _PlainTabular:
    """What the two recipes share (not for direct use)."""

    def __init__(
        self,
        *,
        hidden_layer_sizes=(128, 128, 128),
        n_ensemble=5,
        learning_rate=2e-3,
        beta_1=0.9,
        beta_2=0.95,
        weight_decay=0.0,
        dropout=0.0,
        batch_size="auto",
        max_epochs="auto",
        validation_fraction=0.2,
        n_iter_no_change=16,
        time_budget=None,
        random_state=None,
        callbacks=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.n_ensemble = n_ensemble
        self.learning_rate = learning_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.time_budget = time_budget
        self.random_state = random_state
        self.callbacks = callbacks

    # scikit-learn's BaseEstimator comes first in the scikit-learn classes' bases, so
    # these two answer only for the plain classes
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters, name -> value (``deep`` is ignored: none nests)."""
        names = [
            p.name
            for p in inspect.signature(type(self).__init__).parameters.values()
            if p.kind == p.KEYWORD_ONLY
        ]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params: Any):
        """Set constructor parameters by name; returns self."""
        known = self.get_params()
        for name, value in params.items():
            if name not in known:
                raise ValueError(f"{type(self).__name__} has no parameter {name!r}")
            setattr(self, name, value)
        return self

    # -- subclass hooks ---------------------------------------------------------------
    _out_activation = "identity"
    _loss = "squared_error"

    _score = staticmethod(r2_score)
    _score_name = "R2"

    def _targets(self, y):
        """``(Y_train, Y_val)``: float targets to learn and to select epochs on."""
        raise NotImplementedError

    def _stratify(self):
        return None

    # -- fitting ----------------------------------------------------------------------
    @staticmethod
    def _checked(X, y, sample_weight) -> tuple[np.ndarray, np.ndarray | None]:
        """``X`` as a finite float matrix and the weights as float32 >= 0 (or None)."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(f"X must be a 2-D array with rows and columns, got shape {X.shape}")
        if X.dtype.kind not in "fiub":
            raise ValueError(f"X must hold numbers, got dtype {X.dtype}")
        if not np.isfinite(X).all():
            raise ValueError("X must hold finite numbers: it holds NaN or infinity")
        if len(y) != X.shape[0]:
            raise ValueError(f"y must have {X.shape[0]} rows like X, got {len(y)}")
        if sample_weight is None:
            return X, None
        w = np.asarray(sample_weight, dtype=np.float32)
        if w.shape != (X.shape[0],) or not bool(np.all(w >= 0.0)):
            raise ValueError(
                f"sample_weight must hold {X.shape[0]} numbers >= 0, got shape {w.shape}"
            )
        return X, w

    def _fit(self, X, y, sample_weight):
        """Train the members on validated ``X`` and ``y``; ``sample_weight`` is float32 >= 0."""
        start = time.perf_counter()
        X = np.asarray(X, dtype=np.float32)  # float32 halves the time of NumPy's products
        self.n_features_in_ = X.shape[1]
        Y_fit, Y_val = self._targets(y)
        w = sample_weight
        units = [X.shape[1], *plan.hidden_sizes(self.hidden_layer_sizes), Y_fit.shape[1]]
        n_parameters = sum(a * b + b for a, b in pairwise(units))
        n_val = max(1, math.ceil(self.validation_fraction * X.shape[0]))
        n_train = X.shape[0] - n_val
        if n_train < 1:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves no training rows "
                f"of {X.shape[0]}"
            )
        self.batch_size_ = (
            auto_batch_size(n_train)
            if self.batch_size == "auto"
            else min(int(self.batch_size), n_train)
        )
        self.max_epochs_ = (
            auto_epochs(n_train, self.batch_size_, n_parameters, self.n_ensemble)
            if self.max_epochs == "auto"
            else int(self.max_epochs)
        )
        seeds = seeded_random_state(self.random_state).randint(
            np.iinfo(np.int32).max, size=self.n_ensemble
        )
        self.members_, self.n_iter_, self.best_iterations_ = [], [], []
        self.validation_loss_curves_, self.validation_score_curves_ = [], []
        self.loss_curves_, self.stop_reasons_ = [], []
        if self.dropout == 0.0 and (w is None or bool(np.all(w > 0.0))):
            self._fit_side_by_side(X, Y_fit, Y_val, w, units, [int(s) for s in seeds], start)
        else:
            self._fit_one_after_another(X, Y_fit, Y_val, w, units, seeds, start)
        self.fit_time_ = time.perf_counter() - start
        return self

    def _fit_one_after_another(self, X, Y_fit, Y_val, w, units, seeds, start) -> None:
        """Train the members in turn: dropout masks, and batches that weigh nothing,
        follow train()'s own path."""
        for i, seed in enumerate(seeds):
            deadline = None
            if self.time_budget is not None:
                left = start + float(self.time_budget) - time.perf_counter()
                if i > 0 and left <= 0.0:
                    break
                deadline = time.perf_counter() + left / (self.n_ensemble - i)
            self._fit_member(X, Y_fit, Y_val, w, units, int(seed), deadline)
            if self.stop_reasons_[-1] == "interrupted":
                break  # Ctrl-C: the members trained so far make the model

    def _fit_side_by_side(self, X, Y_fit, Y_val, w, units, seeds, start) -> None:
        """Train every member at once (:func:`~deltaprop.training.members.train_members`)."""
        splits = [
            validation_split(X.shape[0], self.validation_fraction, seed, self._stratify())
            for seed in seeds
        ]
        nets = [self._member_network(units, seed) for seed in seeds]
        deadline = None if self.time_budget is None else start + float(self.time_budget)
        histories = train_members(
            nets,
            X,
            Y_fit,
            np.stack([train_idx for train_idx, _ in splits]),
            (np.stack([val_idx for _, val_idx in splits]), Y_val),
            optimizer=self._optimizer(),
            batch_size=self.batch_size_,
            max_iter=self.max_epochs_,
            rngs=[make_rng(seed) for seed in seeds],
            sample_weight=w,
            schedule=CosineAnnealing(t_max=self.max_epochs_),
            n_iter_no_change=int(self.n_iter_no_change),
            score=self._score,
            callbacks=self._user_callbacks(),
            deadline=deadline,
        )
        for net, history in zip(nets, histories, strict=True):
            self._record(net, history, str(history.stop_reason))

    def _member_network(self, units, seed) -> Network:
        layers = plan.dense_layers(units, "relu", self._out_activation, dropout=self.dropout)
        return Network(layers, loss=self._loss, random_state=seed)

    def _optimizer(self) -> Adam:
        return Adam(
            learning_rate=float(self.learning_rate),
            beta_1=float(self.beta_1),
            beta_2=float(self.beta_2),
            weight_decay=float(self.weight_decay),
        )

    def _user_callbacks(self) -> list:
        user = self.callbacks
        if user is None:
            return []
        return list(user) if isinstance(user, list | tuple) else [user]

    def _record(self, net, history, stop_reason: str) -> None:
        """Append one trained member and its curves to the fitted attributes."""
        self.members_.append(net)
        self.n_iter_.append(history.n_iter)
        self.best_iterations_.append(history.best_iteration)
        self.validation_loss_curves_.append(list(history.val_loss))
        self.validation_score_curves_.append(list(history.val_score))
        self.loss_curves_.append(list(history.loss))
        self.stop_reasons_.append(stop_reason)

    def _fit_member(self, X, Y_fit, Y_val, w, units, seed, deadline) -> None:
        train_idx, val_idx = validation_split(
            X.shape[0], self.validation_fraction, seed, self._stratify()
        )
        net = self._member_network(units, seed)
        w_val = None if w is None else w[val_idx]
        callbacks = [
            ValidationScore(
                X[val_idx], Y_val[val_idx], self._score, sample_weight=w_val, name=self._score_name
            )
        ]
        timer = None if deadline is None else _Deadline(deadline)
        if timer is not None:
            callbacks.append(timer)
        callbacks += self._user_callbacks()
        history = train(
            net,
            X[train_idx],
            Y_fit[train_idx],
            sample_weight=None if w is None else w[train_idx],
            optimizer=self._optimizer(),
            batch_size=self.batch_size_,
            max_iter=self.max_epochs_,
            random_state=seed,
            schedule=CosineAnnealing(t_max=self.max_epochs_),
            validation_data=(X[val_idx], Y_val[val_idx], w_val),
            early_stopping=True,
            n_iter_no_change=int(self.n_iter_no_change),
            callbacks=callbacks,
        )
        out_of_time = timer is not None and timer.fired and history.stop_reason == "callback"
        self._record(net, history, "time_budget" if out_of_time else str(history.stop_reason))

    # -- prediction -------------------------------------------------------------------
    def _check_input(self, X) -> np.ndarray:
        if not hasattr(self, "members_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet: call fit first")
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have shape (n_samples, {self.n_features_in_}), got {X.shape}")
        return X

    def _mean_output(self, X) -> np.ndarray:
        """The members' outputs averaged, shape (n_samples, n_outputs), float64."""
        X = np.asarray(self._check_input(X), dtype=np.float32)
        total = np.zeros((X.shape[0], self.members_[0].layers[-1].n_out))
        for net in self.members_:
            total += np.asarray(net.forward(X), dtype=np.float64)
        return total / len(self.members_)


class PlainTabularClassifier(_PlainTabular):
    """:class:`~deltaprop.TabularClassifier` without scikit-learn (same parameters, same
    fitted attributes, the same members bit for bit).

    ``fit`` checks less: ``X`` must be a finite numeric matrix and ``y`` one label per row.
    """

    _out_activation = "softmax"
    _loss = "cross_entropy"
    _score = staticmethod(accuracy)
    _score_name = "accuracy"

    def __init__(
        self,
        *,
        label_smoothing=0.0,
        hidden_layer_sizes=(128, 128, 128),
        n_ensemble=5,
        learning_rate=2e-3,
        beta_1=0.9,
        beta_2=0.95,
        weight_decay=0.0,
        dropout=0.0,
        batch_size="auto",
        max_epochs="auto",
        validation_fraction=0.2,
        n_iter_no_change=16,
        time_budget=None,
        random_state=None,
        callbacks=None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            n_ensemble=n_ensemble,
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            weight_decay=weight_decay,
            dropout=dropout,
            batch_size=batch_size,
            max_epochs=max_epochs,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            time_budget=time_budget,
            random_state=random_state,
            callbacks=callbacks,
        )
        self.label_smoothing = label_smoothing

    def _encode(self, y) -> tuple[np.ndarray, np.ndarray]:
        """``(classes, codes)``: the sorted labels and each row's index into them."""
        classes, codes = np.unique(np.asarray(y), return_inverse=True)
        return classes, codes.reshape(-1)

    def _targets(self, y):
        self.classes_, self._codes = self._encode(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"y must hold at least 2 classes to classify, got 1: {self.classes_[0]!r}"
            )
        one_hot = np.eye(len(self.classes_), dtype=np.float32)[self._codes]
        k = len(self.classes_)
        smoothed = (1.0 - self.label_smoothing) * one_hot + self.label_smoothing / k
        return smoothed.astype(np.float32), one_hot

    def _stratify(self):
        return self._codes

    def fit(self, X, y, sample_weight=None):
        """Train the members on ``X`` and the class labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite numbers (scale them first: :class:`deltaprop.tabular.Preprocessor`).
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        X, w = self._checked(X, y, sample_weight)
        self._fit(X, y, w)
        del self._codes
        return self

    def predict_proba(self, X):
        """The members' class probabilities averaged, shape (n_samples, n_classes)."""
        return self._mean_output(X)

    def predict(self, X):
        """The most probable class of each row, shape (n_samples,)."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class PlainTabularRegressor(_PlainTabular):
    """:class:`~deltaprop.TabularRegressor` without scikit-learn (same parameters, same
    fitted attributes, the same members bit for bit).

    ``fit`` checks less: ``X`` must be a finite numeric matrix and ``y`` numbers, one
    row per row of ``X``.
    """

    def _targets(self, y):
        Y = np.asarray(y, dtype=np.float64)
        self._one_output = Y.ndim == 1
        Y = Y.reshape(-1, 1) if Y.ndim == 1 else Y
        self.target_mean_ = Y.mean(axis=0)
        scale = Y.std(axis=0)
        self.target_scale_ = np.where(scale > 0.0, scale, 1.0)
        self.target_min_, self.target_max_ = Y.min(axis=0), Y.max(axis=0)
        scaled = ((Y - self.target_mean_) / self.target_scale_).astype(np.float32)
        return scaled, scaled

    def fit(self, X, y, sample_weight=None):
        """Train the members on ``X`` and the targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite numbers (scale them first: :class:`deltaprop.tabular.Preprocessor`).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Finite numbers.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        X, w = self._checked(X, y, sample_weight)
        if not np.isfinite(np.asarray(y, dtype=np.float64)).all():
            raise ValueError("y must hold finite numbers: it holds NaN or infinity")
        return self._fit(X, y, w)

    def predict(self, X):
        """The members' mean prediction in the target's units, clipped to its range.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        Y = self._mean_output(X) * self.target_scale_ + self.target_mean_
        Y = np.clip(Y, self.target_min_, self.target_max_)
        return Y[:, 0] if self._one_output else Y
