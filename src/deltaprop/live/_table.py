"""From a table and a target column to the network, arrays and names the live page needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deltaprop.core.network import Network
from deltaprop.estimators import plan
from deltaprop.tabular.preprocessing import Preprocessor


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
    """

    network: Network
    X: np.ndarray
    y: np.ndarray
    preprocessor: Preprocessor
    feature_names: list[str]
    class_names: list[str] | None


def model_from_table(
    table: Any,
    target: str,
    *,
    hidden: Sequence[int] = (16, 8),
    activation: str = "tanh",
    random_state: Any = 0,
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
    preprocessor = Preprocessor(target).fit(table)
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
    output = plan.output_activation(preprocessor.task_, multiclass=n_outputs > 1)
    loss = plan.loss_name(preprocessor.task_, output)
    layers = plan.dense_layers([X.shape[1], *hidden, n_outputs], activation, output)
    network = Network(layers, loss=loss, random_state=random_state)
    return TableModel(
        network, X, y, preprocessor, preprocessor.get_feature_names_out(), class_names
    )
