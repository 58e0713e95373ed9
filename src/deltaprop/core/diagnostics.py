"""Diagnostics of the data a network is given: columns whose scales make training fail.

Gradient descent on inputs of very different sizes needs a learning rate small enough for
the largest column, at which the others hardly learn; very large inputs saturate sigmoid
and tanh units or make the loss overflow. Training names such columns when it diverges.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deltaprop.core.arrays import is_array, to_numpy

__all__ = ["check_feature_scales"]


def _feature_scales(X: Any) -> np.ndarray:
    """Per column ``max(|mean|, standard deviation)`` over the finite values (NaN if none)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        finite = np.isfinite(X)
        count = finite.sum(axis=0)
        mean = np.where(finite, X, 0.0).sum(axis=0) / count
        deviation = np.where(finite, X - mean, 0.0)
        std = np.sqrt((deviation * deviation).sum(axis=0) / count)
        return np.maximum(np.abs(mean), std)


def check_feature_scales(
    X: Any,
    *,
    feature_names: Sequence[str] | None = None,
    max_scale: float = 1e3,
    max_ratio: float = 1e3,
) -> str | None:
    """A warning message when the columns of ``X`` should be standardised, else None.

    Gradient descent on inputs of very different sizes needs a learning rate small
    enough for the largest column, at which the others hardly learn; very large inputs
    saturate sigmoid and tanh units or make the loss overflow. A column's *scale* is
    ``max(|mean|, standard deviation)`` of its finite values (NaN and infinity are
    ignored, constant-zero columns too). The message says which columns are at fault
    and suggests standardising (subtracting each column's mean and dividing by its
    standard deviation), for example with :class:`deltaprop.tabular.Preprocessor`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Numbers: a NumPy array, an array of another Array API library, a list of rows
        or a pandas DataFrame with numeric columns.
    feature_names : sequence of str, optional
        Names for the message; default the DataFrame's columns, else ``column <i>``.
    max_scale : float > 0, default 1e3
        Warn when a column's scale exceeds this.
    max_ratio : float > 1, default 1e3
        Warn when the largest scale exceeds the smallest non-zero scale this many times.

    Returns
    -------
    str or None
        The message, or None when the scales look fine.

    Raises
    ------
    TypeError
        When ``X`` does not hold numbers.
    ValueError
        When ``X`` is not 2-D, or ``feature_names`` has the wrong length.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 52000.0], [2.0, 61000.0], [3.0, 38000.0]])
    >>> message = check_feature_scales(X, feature_names=["rooms", "income"])
    >>> message.split(" (")[0]
    "feature scales differ by a factor of 2.5e+04: 'income' has scale 5e+04 and 'rooms' 2"
    >>> check_feature_scales(np.array([[0.5, -1.0], [1.5, 2.0]])) is None
    True
    """
    max_scale = float(max_scale)
    max_ratio = float(max_ratio)
    if not max_scale > 0.0:
        raise ValueError(f"max_scale must be > 0, got {max_scale!r}")
    if not max_ratio > 1.0:
        raise ValueError(f"max_ratio must be > 1, got {max_ratio!r}")
    if feature_names is None and hasattr(X, "columns") and hasattr(X, "dtypes"):
        feature_names = [str(c) for c in X.columns]
    values = to_numpy(X) if is_array(X) else X
    try:
        values = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"X must hold numbers: {exc}") from None
    if values.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {values.shape}")
    n_features = values.shape[1]
    if feature_names is None:
        names = [f"column {i}" for i in range(n_features)]
    else:
        names = [repr(str(name)) for name in feature_names]
        if len(names) != n_features:
            raise ValueError(f"feature_names has {len(names)} names, X has {n_features} columns")
    scales = _feature_scales(values)
    usable = np.flatnonzero(~np.isnan(scales) & (scales > 0.0))
    if usable.size == 0:
        return None
    largest = usable[np.argmax(scales[usable])]
    smallest = usable[np.argmin(scales[usable])]
    high, low = scales[largest], scales[smallest]
    advice = (
        "standardise the inputs (subtract each column's mean, divide by its standard "
        "deviation, e.g. with deltaprop.tabular.Preprocessor), or training may diverge or crawl"
    )
    definition = "(scale = max(|mean|, standard deviation))"
    with np.errstate(over="ignore"):
        ratio = high / low
    if ratio > max_ratio:
        return (
            f"feature scales differ by a factor of {ratio:.2g}: {names[largest]} has scale "
            f"{high:.2g} and {names[smallest]} {low:.2g} {definition}; {advice}"
        )
    if high > max_scale:
        return f"{names[largest]} has scale {high:.2g} {definition}; {advice}"
    return None
