"""The rows a live session trains on: checked, weighted, split, and the toy data sets.

A :class:`DataSet` is what the page can switch between: the data ``serve`` was given
and the toy data sets of :mod:`deltaprop.live.toys`. Small data is never split: below
:data:`MIN_VALIDATION_ROWS` rows every row trains and the page says why there is no
validation curve (four XOR rows cannot spare one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltaprop.core.arrays import to_numpy
from deltaprop.core.initializers import make_rng
from deltaprop.core.network import Network
from deltaprop.core.validation import check_number
from deltaprop.live._table import network_for
from deltaprop.live.toys import toy
from deltaprop.training.splits import (
    class_labels,
    class_weights,
    stratified_split,
    weighted_by_class,
)

#: Fewer training rows than this: no validation split (``validation_fraction`` is ignored).
MIN_VALIDATION_ROWS = 50


@dataclass
class DataSet:
    """One data set the page can train on.

    Attributes
    ----------
    key : str
        ``"given"`` for the data ``serve`` was given, else a toy data set's name.
    X, y, sample_weight : ndarrays
        The training rows (float64), shapes (n, n_inputs), (n, n_outputs), (n,) or None.
    validation : tuple ``(X_val, y_val, w_val)`` or None
    template : Network
        Its inputs, output layer, loss and ``alpha`` shape the network trained on it.
    info : dict
        ``title``, ``feature_names``, ``class_names``, ``target_name``.
    note : str or None
        Why there is no validation split, when there is none although one was asked.
    preprocessor : object or None
    """

    key: str
    X: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None
    validation: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None
    template: Network
    info: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
    preprocessor: Any = None


def _as_float64(*arrays: Any) -> list[Any]:
    return [None if a is None else to_numpy(a).astype(np.float64) for a in arrays]


def checked_rows(
    net: Network,
    X: Any,
    y: Any,
    sample_weight: Any,
    *,
    class_weight: Any = None,
    validation_data: Any = None,
    validation_fraction: Any = None,
    seed: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, tuple | None, str | None]:
    """``X, y, w`` to train on, the validation triple (or None) and a note, as float64.

    ``class_weight`` (``"balanced"`` or a mapping, as :func:`deltaprop.train` takes it)
    multiplies the sample weights once, so the page's loss is the one trained. Below
    :data:`MIN_VALIDATION_ROWS` rows ``validation_fraction`` splits nothing; the note
    says so.
    """
    X, y, w, _, _ = net._check_data(X, y, sample_weight)
    X, y, w = _as_float64(X, y, w)
    validation, note = None, None
    if validation_fraction is not None:
        if validation_data is not None:
            raise ValueError("give validation_data or validation_fraction, not both")
        fraction = check_number(
            "validation_fraction", validation_fraction, low=0.0, low_open=True, high=1.0
        )
        if X.shape[0] < MIN_VALIDATION_ROWS:
            note = (
                f"no validation split: {X.shape[0]} rows are fewer than {MIN_VALIDATION_ROWS}, "
                "so every row trains"
            )
        else:
            labels = class_labels(y)
            train_idx, val_idx = stratified_split(labels, X.shape[0], fraction, make_rng(seed))
            validation = (X[val_idx], y[val_idx], None if w is None else w[val_idx])
            X, y, w = X[train_idx], y[train_idx], None if w is None else w[train_idx]
    elif validation_data is not None:
        if not isinstance(validation_data, tuple | list) or len(validation_data) not in (2, 3):
            raise TypeError(
                "validation_data must be a tuple (X_val, y_val) or (X_val, y_val, w_val)"
            )
        X_v, y_v, w_v, _, _ = net._check_data(*validation_data)
        validation = tuple(_as_float64(X_v, y_v, w_v))
    if class_weight is not None:
        by_class = class_weights(class_weight, y)
        w = weighted_by_class(w, y, by_class, "y", xp=np, like=X)
        if validation is not None:
            X_v, y_v, w_v = validation
            validation = (X_v, y_v, weighted_by_class(w_v, y_v, by_class, "y_val", xp=np, like=X))
    if w is not None and not float(np.sum(w)) > 0.0:
        raise ValueError("the training rows' weights (after class_weight) are all zero")
    return X, y, w, validation, note


def toy_dataset(
    name: str,
    *,
    hidden: list[int],
    activation: str,
    alpha: float,
    seed: Any,
    validation_fraction: float | None,
) -> DataSet:
    """The toy data set ``name`` (drawn with ``seed``) and a network template for it."""
    data = toy(name, seed=0 if seed is None else seed)
    task = "classification" if data.task == "binary" else "regression"
    template = network_for(
        task, data.X.shape[1], 1, hidden=hidden, activation=activation, alpha=alpha
    )
    X, y, w, validation, note = checked_rows(
        template, data.X, data.y, None, validation_fraction=validation_fraction, seed=seed
    )
    info = {
        "title": f"toy: {name} ({data.description})",
        "feature_names": data.feature_names,
        "class_names": data.class_names,
        "target_name": data.target_name,
    }
    return DataSet(name, X, y, w, validation, template, info, note)
