"""The numeric transforms of the preprocessing: robust scaling, smooth clipping, dates, words.

Each function is pure NumPy and works in float64 without overflow for any finite input
(values up to about 1e308) once infinities are clipped to the column's finite range.

- :func:`robust_scaling` / :func:`standard_scaling`: a column's centre and spread.
- :func:`smooth_clip`: ``x / sqrt(1 + (x / 3)^2)``, the bounded squashing of RealMLP
  (Holzmüller et al., 2024): about ``x`` near 0, tending to ``±3``.
- :func:`date_parts`: calendar features of days since 1970-01-01.
- :func:`hashed_words`: a bag of words hashed into a fixed number of columns.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "CLIP",
    "HASH_BUCKETS",
    "date_part_names",
    "date_parts",
    "hashed_words",
    "marks_months",
    "robust_from_quartiles",
    "robust_scaling",
    "scaled",
    "smooth_clip",
    "standard_scaling",
]

#: The bound that :func:`smooth_clip` tends to.
CLIP = 3.0
#: Columns a text column becomes (hashed word counts).
HASH_BUCKETS = 16
#: The interquartile range of the standard normal distribution: robust spreads divided by
#: it are standard deviations for normal data.
_IQR_NORMAL = 1.3489795003921634
#: E|X - median| of the standard normal distribution is sqrt(2 / pi).
_MAD_NORMAL = math.sqrt(2.0 / math.pi)
_WORD = re.compile(r"\w+")


def _magnitude(values: np.ndarray) -> float:
    """The largest absolute value (1 for an all-zero column): divide by it first."""
    top = float(np.max(np.abs(values))) if values.size else 0.0
    return top if top > 0.0 else 1.0


def robust_scaling(values: np.ndarray) -> tuple[float, float]:
    """``(centre, spread)`` of finite values: the median and an IQR-based spread.

    The spread is the interquartile range divided by 1.349 (a standard deviation for
    normal data); where it is 0 (more than half the values equal), the mean absolute
    deviation from the median divided by sqrt(2 / pi); where that is 0 too (a constant
    column), 1. Computed on ``values / max|values|`` so nothing overflows.

    Parameters
    ----------
    values : ndarray of shape (n,)
        Finite numbers.

    Returns
    -------
    (float, float)
        ``spread > 0``.
    """
    c = _magnitude(values)
    v = values / c
    q1, median, q3 = np.quantile(v, [0.25, 0.5, 0.75])
    return robust_from_quartiles((q1, median, q3), c, lambda: float(np.mean(np.abs(v - median))))


def robust_from_quartiles(
    quartiles: tuple[float, float, float], c: float, mean_abs_deviation: Callable[[], float]
) -> tuple[float, float]:
    """:func:`robust_scaling` from the quartiles of ``values / c`` (``c = max|values|``).

    Parameters
    ----------
    quartiles : (float, float, float)
        The 25th, 50th and 75th percentiles of ``values / c`` (:func:`numpy.quantile`).
    c : float
        ``max|values|``, or 1 when every value is 0.
    mean_abs_deviation : callable
        ``() -> mean(|values / c - median|)``, called only when the quartiles coincide
        (so that summaries of a column spread over partitions need it only then).

    Returns
    -------
    (float, float)
        ``(centre, spread)``, ``spread > 0``.
    """
    q1, median, q3 = quartiles
    spread = (q3 - q1) / _IQR_NORMAL
    if spread == 0.0:
        spread = mean_abs_deviation() / _MAD_NORMAL
    if spread == 0.0:
        return float(median) * c, 1.0
    return float(median) * c, float(spread) * c


def standard_scaling(values: np.ndarray) -> tuple[float, float]:
    """``(mean, standard deviation)`` of finite values; ``(value, 1)`` for a constant column.

    The population standard deviation, as :func:`numpy.std`; when the plain
    computation overflows (values near 1e300), it is redone on ``values / max|values|``.
    """
    if np.ptp(values) == 0.0:
        # A constant column: centre it exactly, and do not divide by a zero spread.
        return float(values[0]), 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = float(np.mean(values)), float(np.std(values))
    if math.isfinite(mean) and math.isfinite(std) and std > 0.0:
        return mean, std
    c = _magnitude(values)
    v = values / c
    return float(np.mean(v)) * c, float(np.std(v)) * c


def scaled(values: np.ndarray, centre: float, spread: float) -> np.ndarray:
    """``(values - centre) / spread``; an overflow gives ``±inf`` (never NaN)."""
    with np.errstate(over="ignore"):
        return (values - centre) / spread


def smooth_clip(z: np.ndarray) -> np.ndarray:
    """``z / sqrt(1 + (z / 3)^2)``: close to ``z`` near 0, tending to ``±3``; ``±inf -> ±3``.

    Parameters
    ----------
    z : ndarray
        Any float values (NaN stays NaN).

    Returns
    -------
    ndarray of z's shape
    """
    t = np.abs(z) / CLIP
    small = t <= 1.0
    out = np.empty_like(z, dtype=np.float64)
    # |t| <= 1: the formula as written; else 3 * sign(z) / sqrt(1 + 1 / t^2), no overflow
    out[small] = z[small] / np.sqrt(1.0 + t[small] ** 2)
    big = ~small & ~np.isnan(z)
    with np.errstate(over="ignore"):  # t^2 = inf for |z| > 1e154: 1 / inf = 0, as meant
        out[big] = np.sign(z[big]) * CLIP / np.sqrt(1.0 + 1.0 / t[big] ** 2)
    out[np.isnan(z)] = np.nan
    return out


def date_part_names(hour: bool, weekday: bool = True) -> list[str]:
    """The names of :func:`date_parts`' columns (with or without the hour, the weekday)."""
    names = ["year", "month_sin", "month_cos"]
    if weekday:
        names += ["weekday_sin", "weekday_cos"]
    if hour:
        names += ["hour_sin", "hour_cos"]
    return [*names, "days"]


def date_parts(days: np.ndarray, hour: bool, weekday: bool = True) -> np.ndarray:
    """Calendar features of dates given as days since 1970-01-01 (UTC).

    Parameters
    ----------
    days : ndarray of shape (n,)
        Finite (missing values filled before).
    hour : bool
        Add the time of day.
    weekday : bool, default True
        Add the day of the week (not for dates that mark months: :func:`marks_months`).

    Returns
    -------
    ndarray of shape (n, 4), (n, 6) or (n, 8)
        Columns as :func:`date_part_names`: the year with its fraction (a number to scale),
        the month and the day of the week on the unit circle (sin, cos; so December is
        next to January), the hour likewise, and the days themselves (a number to scale).
    """
    whole = np.floor(days)
    stamps = whole.astype("int64").astype("datetime64[D]")
    years = stamps.astype("datetime64[Y]")
    year = years.astype(np.int64) + 1970
    months = (stamps.astype("datetime64[M]") - years.astype("datetime64[M]")).astype(np.int64)
    weekdays = (whole.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
    year_start = years.astype("datetime64[D]").astype(np.int64)
    year_length = (years + 1).astype("datetime64[D]").astype(np.int64) - year_start
    columns = [year + (whole - year_start) / year_length]
    cycles = ((months, 12.0), (weekdays, 7.0)) if weekday else ((months, 12.0),)
    for value, period in cycles:
        angle = 2.0 * np.pi * value / period
        columns += [np.sin(angle), np.cos(angle)]
    if hour:
        angle = 2.0 * np.pi * (days - whole)  # the fraction of the day
        columns += [np.sin(angle), np.cos(angle)]
    columns.append(days)
    return np.column_stack(columns).astype(np.float64)


def marks_months(days: np.ndarray) -> bool:
    """Whether dates (days since 1970-01-01, finite) are each the first or the last day of
    their month, over two months at least: monthly data (``2021-03``, month-end
    statistics), whose weekday is an accident of the calendar, noise to a network."""
    whole = np.floor(days)
    if days.size == 0 or np.any(days != whole):
        return False
    stamps = whole.astype("int64").astype("datetime64[D]")
    month_start = stamps.astype("datetime64[M]").astype("datetime64[D]")
    next_start = (stamps.astype("datetime64[M]") + 1).astype("datetime64[D]")
    edge = (stamps == month_start) | (stamps == next_start - 1)
    return bool(np.all(edge)) and len(np.unique(month_start)) >= 2


def hashed_words(texts: Sequence[str | None], buckets: int = HASH_BUCKETS) -> np.ndarray:
    """A bag of words hashed into ``buckets`` columns, each row of unit length.

    Words are runs of letters and digits, lower-cased; each adds 1 to column
    ``crc32(word) % buckets`` (CRC-32: the same on every machine and run); a row is
    divided by its Euclidean length. A missing text (None) or one without words is a row
    of zeros.

    Parameters
    ----------
    texts : sequence of str or None, length n

    Returns
    -------
    ndarray of shape (n, buckets)
    """
    out = np.zeros((len(texts), buckets))
    cache: dict[str, int] = {}
    for i, text in enumerate(texts):
        if text is None:
            continue
        for word in _WORD.findall(text.lower()):
            column = cache.get(word)
            if column is None:
                column = cache[word] = zlib.crc32(word.encode("utf-8")) % buckets
            out[i, column] += 1.0
    norms = np.sqrt(np.sum(out**2, axis=1, keepdims=True))
    return np.divide(out, norms, out=out, where=norms > 0)
