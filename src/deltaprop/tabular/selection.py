"""Exact order statistics of columns spread over partitions: a radix selection.

A median or a quartile of a column that no single process holds cannot come from
summaries in one pass (Dask's own quantiles are approximations). It can come exactly
from a few passes that each return only a small histogram: every float64 maps to a
64-bit integer *key* with the same order (:func:`order_keys`), and the ``k``-th smallest
value is found 16 bits of its key at a time. In pass ``r`` each partition counts, among
its values whose first ``16 r`` key bits match what is known so far, how many have each
next 16-bit digit (only the digits that occur travel); the client adds the counts and
walks them in order to the ``k``-th value's digit. Four passes fix all 64 bits, for
every column and every rank at once. Values that are not in the partitions but count as
rows (a fill value standing for each missing entry) are added on the client.

:func:`numpy_quantiles` and :func:`numpy_median` then combine the order statistics
exactly as :func:`numpy.quantile` (linear) and :func:`numpy.median` do, so that the
result is the in-memory one bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["numpy_median", "numpy_quantiles", "order_keys", "select", "value_of_key"]

_DIGIT = 16
_SIGN = np.uint64(1 << 63)


def order_keys(values: np.ndarray) -> np.ndarray:
    """uint64 keys in the order of the finite float64 ``values`` (-0.0 counts as 0.0).

    Examples
    --------
    >>> keys = order_keys(np.array([-2.0, -0.0, 0.0, 1.5]))
    >>> bool(np.all(np.diff(keys.astype(np.float64)) >= 0)), keys[1] == keys[2]
    (True, np.True_)
    """
    bits = (np.asarray(values, dtype=np.float64) + 0.0).view(np.uint64)
    negative = (bits & _SIGN) != 0
    return np.where(negative, ~bits, bits | _SIGN)


def value_of_key(key: int) -> float:
    """The float64 whose :func:`order_keys` key is ``key``."""
    k = np.uint64(key)
    bits = k ^ _SIGN if k & _SIGN else ~k
    return float(np.array([bits], dtype=np.uint64).view(np.float64)[0])


def digit_counts(
    columns: dict[str, np.ndarray], targets: Sequence[tuple[str, int, int]], shift: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """One partition's counts of the next key digit for each target (a worker's part).

    Parameters
    ----------
    columns : dict of str to float64 array
        Each column's values in this partition (the missing ones left out).
    targets : list of ``(column, prefix, _)``
        The key bits above ``shift + 16`` known so far for each target.
    shift : int
        The digit is ``(key >> shift) & 0xFFFF``.

    Returns
    -------
    list of ``(digits, counts)``, one per target
    """
    keys = {name: order_keys(values) for name, values in columns.items()}
    out = []
    for name, prefix, _ in targets:
        k = keys[name]
        if shift + _DIGIT < 64:
            k = k[(k >> np.uint64(shift + _DIGIT)) == np.uint64(prefix)]
        digits = ((k >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.int64)
        out.append(np.unique(digits, return_counts=True))
    return out


def select(
    count_digits: Callable[[list[tuple[str, int, int]], int], list[list[tuple[Any, Any]]]],
    ranks: dict[str, Sequence[int]],
    extra: dict[str, tuple[float, int]] | None = None,
) -> dict[str, list[float]]:
    """The values of rank ``ranks[column]`` (0 = the smallest) of each column, exactly.

    Parameters
    ----------
    count_digits : callable
        ``count_digits(targets, shift)`` runs :func:`digit_counts` on every partition and
        returns the per-partition results (a list per partition).
    ranks : dict of str to list of int
    extra : dict of str to ``(value, count)``, optional
        Values counted ``count`` times more in a column (a fill value per missing entry).

    Returns
    -------
    dict of str to list of float
        Per column, the values at its ranks, in order.
    """
    extra = extra or {}
    targets = [(name, 0, int(k)) for name, ks in ranks.items() for k in ks]
    for shift in range(64 - _DIGIT, -1, -_DIGIT):
        per_part = count_digits(targets, shift)
        stepped = []
        for i, (name, prefix, rank) in enumerate(targets):
            counts: dict[int, int] = {}
            for part in per_part:
                digits, n = part[i]
                for d, c in zip(digits.tolist(), n.tolist(), strict=True):
                    counts[d] = counts.get(d, 0) + c
            if name in extra and extra[name][1]:
                key = int(order_keys(np.array([extra[name][0]]))[0])
                if shift + _DIGIT >= 64 or key >> (shift + _DIGIT) == prefix:
                    d = (key >> shift) & 0xFFFF
                    counts[d] = counts.get(d, 0) + extra[name][1]
            for d in sorted(counts):
                if rank < counts[d]:
                    break
                rank -= counts[d]
            else:  # pragma: no cover - a rank beyond the rows is a caller's error
                raise ValueError(f"rank out of range for column {name!r}")
            stepped.append((name, (prefix << _DIGIT) | d, rank))
        targets = stepped
    out: dict[str, list[float]] = {name: [] for name in ranks}
    for name, key, _ in targets:
        out[name].append(value_of_key(key))
    return out


def quantile_ranks(n: int, qs: Sequence[float]) -> list[int]:
    """The ranks :func:`numpy.quantile` (linear) reads for ``qs`` of ``n`` values."""
    virtual = (n - 1) * np.asarray(qs, dtype=np.float64)
    low = np.floor(virtual).astype(np.int64)
    return sorted({int(r) for r in low} | {int(min(r + 1, n - 1)) for r in low})


def numpy_quantiles(values_at: dict[int, float], n: int, qs: Sequence[float]) -> list[float]:
    """:func:`numpy.quantile` (linear) of ``n`` values from the order statistics it reads.

    ``values_at[rank]`` for the ranks :func:`quantile_ranks` gives. The interpolation is
    numpy's own, on the two neighbours: the same floating-point operations.
    """
    virtual = (n - 1) * np.asarray(qs, dtype=np.float64)
    out = []
    for v in virtual:
        low = int(np.floor(v))
        high = min(low + 1, n - 1)
        gamma = float(v - np.floor(v))
        pair = np.array([values_at[low], values_at[high]])
        out.append(float(np.quantile(pair, gamma)) if high > low else values_at[low])
    return out


def numpy_median(values_at: dict[int, float], n: int) -> float:
    """:func:`numpy.median` of ``n`` values from its middle order statistics."""
    middle = sorted({(n - 1) // 2, n // 2})
    return float(np.mean(np.array([values_at[k] for k in middle])))
