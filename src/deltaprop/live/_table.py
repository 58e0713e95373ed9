"""From a table and a target column to the network, arrays and names the live page needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deltaprop.core.network import Network
from deltaprop.estimators import plan
from deltaprop.tabular.columns import numeric_values, table_frame
from deltaprop.tabular.preprocessing import Preprocessor
from deltaprop.tabular.readers import require_pandas


@dataclass
class TableModel:
    """What :func:`model_from_table` builds.

    Attributes
    ----------
    network : Network
    X : ndarray of shape (n_samples, n_features_out)
        The preprocessed features.
    y : ndarray of shape (n_samples,) or (n_samples, n_classes)
        0/1 (binary), one-hot rows (more classes) or the standardised target.
    preprocessor : Preprocessor
    feature_names : list of str
    class_names : list of str or None
    sample_weight : ndarray of shape (n_samples,) or None
        The weight column's values (not a feature), when one was named.
    """

    network: Network
    X: np.ndarray
    y: np.ndarray
    preprocessor: Preprocessor
    feature_names: list[str]
    class_names: list[str] | None
    sample_weight: np.ndarray | None = None


def network_for(
    task: str,
    n_inputs: int,
    n_outputs: int,
    *,
    hidden: Sequence[int],
    activation: str,
    alpha: float = 0.0,
    random_state: Any = 0,
) -> Network:
    """A network whose output layer and loss fit ``task`` (scikit-learn's choices).

    Classification: one sigmoid output and binary cross-entropy (``n_outputs == 1``)
    or a softmax output and cross-entropy; regression: identity outputs and squared
    error. The hidden layers have ``activation``.

    Examples
    --------
    >>> net = network_for("classification", 2, 1, hidden=[4], activation="tanh")
    >>> [(layer.n_in, layer.n_out, layer.activation.name) for layer in net.layers]
    [(2, 4, 'tanh'), (4, 1, 'sigmoid')]
    >>> net.loss.name
    'binary_cross_entropy'
    """
    output = plan.output_activation(task, multiclass=n_outputs > 1)
    loss = plan.loss_name(task, output)
    layers = plan.dense_layers([n_inputs, *hidden, n_outputs], activation, output)
    return Network(layers, loss=loss, alpha=alpha, random_state=random_state)


def _weight_column(frame: Any, name: str, target: str, pd: Any) -> tuple[Any, np.ndarray]:
    """The table without the weight column ``name``, and its values (numbers >= 0)."""
    if name == target:
        raise ValueError(f"sample_weight column {name!r} is the target")
    if name not in frame.columns:
        raise ValueError(f"sample_weight column {name!r} is not in the table")
    weights = numeric_values(name, frame[name], pd)
    bad = np.flatnonzero(~(weights >= 0.0))
    if bad.size:
        raise ValueError(
            f"sample weights must be >= 0 and not missing: row {bad[0] + 1} of column "
            f"{name!r} holds {weights[bad[0]]!r}"
        )
    return frame.drop(columns=[name]), weights


def model_from_table(
    table: Any,
    target: str,
    *,
    hidden: Sequence[int] = (16, 8),
    activation: str = "tanh",
    random_state: Any = 0,
    sample_weight: str | None = None,
    task: str | None = None,
    impute: str | None = None,
    categorical: Sequence[str] | None = None,
    standardize: bool = True,
    numeric: Sequence[str] | None = None,
    alpha: float = 0.0,
    scaling: str = "robust",
    drop: Sequence[str] | None = None,
) -> TableModel:
    """Preprocess ``table`` and build a network whose output and loss fit the target.

    The task comes from :func:`deltaprop.tabular.infer_task`: two classes get one sigmoid
    output and binary cross-entropy (``y`` is 0/1, 1 for ``classes_[1]``); more get a
    softmax output and cross-entropy with one-hot ``y``; a regression target gets an
    identity output and squared error on the standardised target.

    Parameters
    ----------
    table : pandas.DataFrame or mapping of columns
    target : str
        The target column.
    hidden : sequence of int
        Hidden-layer sizes.
    activation : str
        The hidden layers' activation.
    random_state : int, Generator or None
        Seeds the initial weights.
    sample_weight : str, optional
        A column of row weights (numbers >= 0): it is not a feature.
    task, impute, categorical, standardize, scaling, drop, numeric
        As :class:`deltaprop.tabular.Preprocessor` takes them.
    alpha : float, default 0.0
        The network's L2 penalty (none by default, so the loss is the data's alone).

    Returns
    -------
    TableModel

    Examples
    --------
    >>> m = model_from_table({"x": [0.0, 1.0, 2.0, 3.0], "c": ["a", "b", "c", "a"]}, "c",
    ...                      hidden=[3])
    >>> m.network.layers[-1].activation.name, m.network.loss.name, m.y.shape
    ('softmax', 'cross_entropy', (4, 3))
    """
    weights = None
    if sample_weight is not None:
        pd = require_pandas()
        table, weights = _weight_column(table_frame(table, pd), sample_weight, target, pd)
    preprocessor = Preprocessor(
        target,
        task=task,
        impute=impute,
        categorical=categorical,
        standardize=standardize,
        scaling=scaling,
        drop=drop,
        numeric=numeric,
    ).fit(table)
    X = preprocessor.transform(table)
    encoded = preprocessor.transform_target(table)
    hidden = [int(h) for h in hidden]
    class_names = None
    if preprocessor.task_ == "classification":
        class_names = [str(c) for c in preprocessor.classes_]
        n_classes = len(class_names)
        y = encoded.astype(np.float64) if n_classes == 2 else np.eye(n_classes)[encoded]
        n_outputs = 1 if n_classes == 2 else n_classes
    else:
        y = encoded.astype(np.float64)
        n_outputs = 1
    network = network_for(
        preprocessor.task_,
        X.shape[1],
        n_outputs,
        hidden=hidden,
        activation=activation,
        random_state=random_state,
        alpha=alpha,
    )
    names = preprocessor.get_feature_names_out()
    return TableModel(network, X, y, preprocessor, names, class_names, weights)
