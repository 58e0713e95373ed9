"""The rows training learns from and the rows it validates on.

- :func:`class_labels`: integer class labels of targets that hold classes (one 0/1
  column, or one-hot rows);
- :func:`stratified_split`: the seeded (and, with labels, stratified) validation split;
- :func:`class_weights` and :func:`weighted_by_class`: ``class_weight`` as per-row weights;
- :func:`check_validation_data`, :func:`prepare_rows`: the training and validation rows
  of :func:`deltaprop.train`, checked, split and weighted;
- :func:`validation_loss`: the weighted mean loss on validation rows.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from deltaprop.core.arrays import device, from_numpy, to_numpy
from deltaprop.core.backprop import forward_pass
from deltaprop.core.network import Network
from deltaprop.core.validation import check_number

__all__ = [
    "check_validation_data",
    "class_labels",
    "class_weights",
    "class_weights_from_counts",
    "prepare_rows",
    "stratified_split",
    "take_rows",
    "validation_loss",
    "weighted_by_class",
]


def class_labels(y: Any) -> np.ndarray | None:
    """Integer class labels of ``y`` (n_samples, n_outputs), or None when it has none.

    One column of 0/1 values: the values. Several columns with a single 1 per row
    (one-hot): the column index of the 1.

    Parameters
    ----------
    y : array of shape (n_samples, n_outputs)

    Returns
    -------
    ndarray of shape (n_samples,) or None

    Examples
    --------
    >>> class_labels(np.array([[0.0, 1.0], [1.0, 0.0]])).tolist()
    [1, 0]
    >>> class_labels(np.array([[0.5]])) is None
    True
    """
    y = to_numpy(y)
    if not bool(np.all((y == 0.0) | (y == 1.0))):
        return None
    if y.shape[1] == 1:
        return y[:, 0].astype(np.intp)
    if bool(np.all(y.sum(axis=1) == 1.0)):
        return np.argmax(y, axis=1)
    return None


def stratified_split(
    labels: np.ndarray | None, n_samples: int, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, validation)``, sorted; stratified when ``labels`` is not None.

    Parameters
    ----------
    labels : ndarray of shape (n_samples,) or None
        Class labels (:func:`class_labels`); None splits the rows as one group.
    n_samples : int
    fraction : float in (0, 1)
        The share of each group held out for validation (rounded).
    rng : numpy.random.Generator
        Draws one permutation per group, in the order of the sorted labels.

    Returns
    -------
    train, validation : ndarray of int
        Sorted row indices.

    Raises
    ------
    ValueError
        When either part would be empty.

    Examples
    --------
    >>> train, val = stratified_split(None, 4, 0.25, np.random.default_rng(0))
    >>> train.size, val.size
    (3, 1)
    """
    if labels is None:
        groups = [np.arange(n_samples)]
    else:
        groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    train_parts, val_parts = [], []
    for group in groups:
        group = rng.permutation(group)
        n_val = round(fraction * group.size)
        val_parts.append(group[:n_val])
        train_parts.append(group[n_val:])
    train_idx = np.sort(np.concatenate(train_parts))
    val_idx = np.sort(np.concatenate(val_parts))
    if val_idx.size == 0 or train_idx.size == 0:
        raise ValueError(
            f"validation_fraction={fraction!r} of {n_samples} samples leaves "
            f"{val_idx.size} validation and {train_idx.size} training rows; both need >= 1"
        )
    return train_idx, val_idx


def take_rows(a: Any, idx: np.ndarray, *, xp: Any, like: Any) -> Any:
    """Rows ``idx`` (NumPy indices) of ``a`` (None stays None), on ``like``'s device."""
    if a is None:
        return None
    return xp.take(a, from_numpy(idx, xp=xp, device=device(like)), axis=0)


def class_weights(class_weight: str | Mapping[int, float], y: Any) -> dict[int, float]:
    """Weight by class index, from ``"balanced"`` (counted on ``y``) or a mapping.

    Parameters
    ----------
    class_weight : "balanced" or mapping of int to float
        ``"balanced"`` gives class ``c`` the weight ``n / (n_classes * n_c)``; a mapping
        gives weights (>= 0) by class index.
    y : array of shape (n_samples, n_outputs)
        Class labels as :func:`class_labels` reads them.

    Returns
    -------
    dict of int to float

    Raises
    ------
    ValueError, TypeError
        When ``y`` holds no class labels or ``class_weight`` is not valid.
    """
    labels = class_labels(y)
    if labels is None:
        raise ValueError(
            "class_weight needs class labels: y must be a single column of 0/1 values or "
            "one-hot rows (a single 1 per row)"
        )
    n_classes = 2 if y.shape[1] == 1 else y.shape[1]
    return class_weights_from_counts(class_weight, np.bincount(labels, minlength=n_classes))


def class_weights_from_counts(
    class_weight: str | Mapping[int, float], counts: np.ndarray
) -> dict[int, float]:
    """Weight by class index, from ``"balanced"`` or a mapping, given the class counts.

    What :func:`class_weights` computes once the rows of each class are counted (the
    Dask engine counts them block by block on its workers).

    Parameters
    ----------
    class_weight : "balanced" or mapping of int to float
    counts : int array of shape (n_classes,)
        The number of rows of each class index.

    Returns
    -------
    dict of int to float

    Raises
    ------
    ValueError, TypeError
        When ``class_weight`` is not valid.

    Examples
    --------
    >>> class_weights_from_counts("balanced", np.array([3, 1]))
    {0: 0.6666666666666666, 1: 2.0}
    """
    n_classes = len(counts)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be 'balanced' or a mapping, got {class_weight!r}")
        present = [(c, int(n)) for c, n in enumerate(counts) if n > 0]
        n_rows = sum(n for _, n in present)
        return {c: n_rows / (len(present) * n) for c, n in present}
    if not isinstance(class_weight, Mapping):
        raise TypeError(
            f"class_weight must be 'balanced' or a mapping, got {type(class_weight).__name__}"
        )
    out: dict[int, float] = {}
    for key, value in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, numbers.Integral):
            raise TypeError(f"class_weight keys must be class indices (int), got {key!r}")
        if not 0 <= int(key) < n_classes:
            raise ValueError(
                f"class_weight has class {key!r}, but y has classes 0..{n_classes - 1}"
            )
        out[int(key)] = check_number(f"class_weight[{key!r}]", value, low=0.0)
    return out


def weighted_by_class(
    w: Any, y: Any, weights_by_class: Mapping[int, float], name: str, *, xp: Any, like: Any
) -> Any:
    """``w`` (None: ones) times each row's class weight, in ``like``'s dtype and device.

    Parameters
    ----------
    w : array of shape (n_samples,) or None
    y : array of shape (n_samples, n_outputs)
    weights_by_class : mapping of int to float
        Classes it leaves out weigh 1.
    name : str
        ``y``'s name in the error message.
    """
    labels = class_labels(y)
    if labels is None:
        raise ValueError(
            f"class_weight needs class labels: {name} must be a single column of 0/1 "
            "values or one-hot rows"
        )
    factors = np.array([weights_by_class.get(int(c), 1.0) for c in range(int(labels.max()) + 1)])
    per_row = from_numpy(factors[labels], xp=xp, dtype=like.dtype, device=device(like))
    return per_row if w is None else w * per_row


def check_validation_data(
    net: Network, validation_data: Sequence[Any], X: Any, *, xp: Any
) -> tuple[Any, Any, Any]:
    """``(X_val, y_val, w_val)`` checked by ``net`` and moved to ``X``'s library and dtype.

    Raises
    ------
    TypeError, ValueError
        For a ``validation_data`` that is not a 2- or 3-tuple, or bad data (the message
        starts with ``validation_data:``).
    """
    if not isinstance(validation_data, tuple | list) or len(validation_data) not in (2, 3):
        raise TypeError(
            "validation_data must be a tuple (X_val, y_val) or (X_val, y_val, w_val), "
            f"got {type(validation_data).__name__}"
        )
    X_v, y_v, w_v = (*validation_data, None)[:3]
    try:
        X_v, y_v, w_v, _, xp_v = net._check_data(X_v, y_v, w_v)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"validation_data: {exc}") from None
    out = []
    for a in (X_v, y_v, w_v):
        if a is not None and (xp_v is not xp or a.dtype != X.dtype):
            a = from_numpy(to_numpy(a), xp=xp, dtype=X.dtype, device=device(X))
        out.append(a)
    return out[0], out[1], out[2]


def _total_weight(X: Any, w: Any, *, xp: Any) -> float:
    return float(X.shape[0]) if w is None else float(xp.sum(w))


def prepare_rows(
    net: Network,
    data: tuple[Any, Any, Any],
    *,
    validation_data: Sequence[Any] | None,
    validation_fraction: float | None,
    class_weight: str | Mapping[int, float] | None,
    rng: np.random.Generator,
    xp: Any,
) -> tuple[tuple[Any, Any, Any, float], tuple[Any, Any, Any, float] | None]:
    """The training rows and the validation rows of :func:`deltaprop.train`.

    Parameters
    ----------
    net : Network
    data : tuple ``(X, y, w)``
        Checked data: X (n_samples, n_features), y (n_samples, n_outputs), w
        (n_samples,) or None.
    validation_data, validation_fraction, class_weight
        As :func:`deltaprop.train` takes them (at most one of the first two).
    rng : numpy.random.Generator
        Draws the validation split (first, before anything else draws from it).
    xp : namespace

    Returns
    -------
    training : tuple ``(X, y, w, total_weight)``
    validation : tuple ``(X_val, y_val, w_val, total_weight_val)`` or None

    Raises
    ------
    ValueError
        When the rows' weights (after ``class_weight``) are all zero.
    """
    X, y, w = data
    validation = None
    if validation_fraction is not None:
        train_idx, val_idx = stratified_split(class_labels(y), X.shape[0], validation_fraction, rng)
        validation = tuple(take_rows(a, val_idx, xp=xp, like=X) for a in (X, y, w))
        X, y, w = (take_rows(a, train_idx, xp=xp, like=X) for a in (X, y, w))
    elif validation_data is not None:
        validation = check_validation_data(net, validation_data, X, xp=xp)
    if class_weight is not None:
        weights_by_class = class_weights(class_weight, y)
        w = weighted_by_class(w, y, weights_by_class, "y", xp=xp, like=X)
        if validation is not None:
            X_v, y_v, w_v = validation
            w_v = weighted_by_class(w_v, y_v, weights_by_class, "y_val", xp=xp, like=X)
            validation = (X_v, y_v, w_v)
    total_weight = _total_weight(X, w, xp=xp)
    if total_weight <= 0.0:
        raise ValueError("the training rows' weights (after class_weight) are all zero")
    if validation is None:
        return (X, y, w, total_weight), None
    X_v, y_v, w_v = validation
    total_v = _total_weight(X_v, w_v, xp=xp)
    if total_v <= 0.0:
        raise ValueError("the validation rows' weights (after class_weight) are all zero")
    return (X, y, w, total_weight), (X_v, y_v, w_v, total_v)


def validation_loss(
    net: Network, params: Sequence[Any], X: Any, y: Any, w: Any, total_weight: float, *, xp: Any
) -> float:
    """The weighted mean loss of ``params`` on rows ``X, y, w``: no penalty, no dropout.

    Parameters
    ----------
    net : Network
        Its layers and loss (its own parameters are not used).
    params : list of arrays
        ``[W_0, b_0, ...]``.
    X : array of shape (n_samples, n_features)
    y : array of shape (n_samples, n_outputs)
    w : array of shape (n_samples,) or None
    total_weight : float
        The divisor: the sum of ``w`` (or ``n_samples``).
    xp : namespace

    Returns
    -------
    float
    """
    zs, activations = forward_pass(net.layers, params, X, xp=xp)
    losses, _, _ = net.loss.output(y, zs[-1], activations[-1], net.layers[-1].activation, xp=xp)
    if w is not None:
        losses = losses * w
    return float(xp.sum(losses)) / total_weight
