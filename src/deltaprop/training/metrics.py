"""A score of the network on held-out rows after every epoch: :class:`ValidationScore`.

The validation *loss* is what training minimises and early stopping watches
(``History.val_loss``); a person watching a run reads a *score* more easily: the share of
rows classified right, or the share of the target's variance explained. A
:class:`ValidationScore` among :func:`~deltaprop.train`'s callbacks computes one with the
weights at the end of each epoch and appends it to ``History.val_score``. The scores
here are written in NumPy (no scikit-learn) on the network's raw outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from deltaprop.core.arrays import to_numpy
from deltaprop.training.history import History

__all__ = ["ValidationScore", "accuracy", "r2_score"]


def _weights(sample_weight: Any, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n)
    return np.asarray(to_numpy(sample_weight), dtype=np.float64).reshape(n)


def accuracy(Y: Any, output: Any, sample_weight: Any = None) -> float:
    """The (weighted) share of rows whose largest output is the target's class.

    Parameters
    ----------
    Y : array of shape (n_samples, n_classes)
        One-hot targets (or class probabilities: the most probable class counts).
    output : array of shape (n_samples, n_classes)
        The network's outputs (probabilities or scores).
    sample_weight : array of shape (n_samples,), optional

    Returns
    -------
    float
        In [0, 1]; NaN when the weights sum to zero.

    Examples
    --------
    >>> import numpy as np
    >>> accuracy(np.eye(2)[[0, 1, 1]], np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]))
    0.6666666666666666
    """
    Y, output = np.asarray(to_numpy(Y)), np.asarray(to_numpy(output))
    w = _weights(sample_weight, Y.shape[0])
    right = np.argmax(Y, axis=1) == np.argmax(output, axis=1)
    total = float(w.sum())
    return float(np.dot(w, right)) / total if total > 0.0 else float("nan")


def r2_score(Y: Any, output: Any, sample_weight: Any = None) -> float:
    """The coefficient of determination, ``1 - SS_res / SS_tot``, averaged over outputs.

    Parameters
    ----------
    Y : array of shape (n_samples, n_outputs)
        The targets.
    output : array of shape (n_samples, n_outputs)
        The network's predictions, in the same units as ``Y``.
    sample_weight : array of shape (n_samples,), optional
        Weights of the rows in both sums of squares.

    Returns
    -------
    float
        1.0 for perfect predictions; an output whose target is constant counts 1.0 when
        predicted exactly, else 0.0 (as scikit-learn's ``r2_score``).

    Examples
    --------
    >>> import numpy as np
    >>> r2_score(np.array([[1.0], [2.0], [3.0]]), np.array([[1.0], [2.0], [4.0]]))
    0.5
    """
    Y = np.asarray(to_numpy(Y), dtype=np.float64)
    output = np.asarray(to_numpy(output), dtype=np.float64)
    Y, output = Y.reshape(Y.shape[0], -1), output.reshape(output.shape[0], -1)
    w = _weights(sample_weight, Y.shape[0])[:, None]
    mean = (w * Y).sum(axis=0) / w.sum()
    ss_res = (w * (Y - output) ** 2).sum(axis=0)
    ss_tot = (w * (Y - mean) ** 2).sum(axis=0)
    safe = np.where(ss_tot > 0.0, ss_tot, 1.0)
    scores = np.where(ss_tot > 0.0, 1.0 - ss_res / safe, np.where(ss_res == 0.0, 1.0, 0.0))
    return float(scores.mean())


class ValidationScore:
    """Callback: score the network on held-out rows after every epoch.

    Appends ``metric(Y, net.forward(X), sample_weight)`` to ``History.val_score`` (and to
    its own ``scores``); it never asks training to stop.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        The held-out rows (in the network's array library).
    Y : array of shape (n_samples, n_outputs)
        Their targets, as ``metric`` takes them.
    metric : callable
        ``metric(Y, output, sample_weight) -> float``, higher is better, such as
        :func:`accuracy` or :func:`r2_score`.
    sample_weight : array of shape (n_samples,), optional
    name : str, default "score"
        What the score is called where it is shown (``"accuracy"``, ``"R2"``).

    Examples
    --------
    >>> import numpy as np
    >>> import deltaprop as dp
    >>> from deltaprop.training.metrics import ValidationScore, accuracy
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> Y = np.eye(2)[[0, 0, 1, 1]]
    >>> net = dp.Network([dp.Dense(1, 2, "softmax")], loss="cross_entropy", random_state=0)
    >>> score = ValidationScore(X, Y, accuracy, name="accuracy")
    >>> history = dp.train(net, X, Y, max_iter=3, callbacks=[score])
    >>> len(history.val_score), history.val_score == score.scores
    (3, True)
    """

    def __init__(
        self,
        X: Any,
        Y: Any,
        metric: Callable[[Any, Any, Any], float],
        *,
        sample_weight: Any = None,
        name: str = "score",
    ) -> None:
        if not callable(metric):
            raise TypeError(f"metric must be callable, got {metric!r}")
        self.X, self.Y, self.metric = X, Y, metric
        self.sample_weight, self.name = sample_weight, name
        self.scores: list[float] = []

    def __call__(self, iteration: int, history: History, net: Any) -> None:
        output = net.forward(self.X)
        score = float(self.metric(self.Y, output, self.sample_weight))
        self.scores.append(score)
        history.val_score.append(score)
