"""Exact order statistics over partitions (the radix selection of ``train --dask``)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from deltaprop.tabular.selection import (
    digit_counts,
    numpy_median,
    numpy_quantiles,
    order_keys,
    quantile_ranks,
    select,
    value_of_key,
)


def test_keys_keep_the_order_of_floats_and_come_back():
    values = np.array([-np.inf, -1e300, -2.5, -5e-324, -0.0, 0.0, 5e-324, 1.0, 1e300, np.inf])
    keys = order_keys(values)
    assert all(int(a) <= int(b) for a, b in pairwise(keys))
    assert keys[4] == keys[5]  # -0.0 and 0.0 are one value
    assert [value_of_key(int(k)) for k in keys] == [v + 0.0 for v in values]


@pytest.mark.parametrize("seed", range(20))
def test_selection_gives_numpys_median_and_quartiles(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 80))
    scale = rng.choice([1e-3, 1.0, 1e5])
    x = np.round(rng.normal(size=n) * scale, int(rng.integers(0, 4)))
    if seed % 3 == 0:
        x[: n // 2] = x[0]  # ties
    fill, n_fill = float(rng.normal()), int(rng.integers(0, 6))
    parts = np.array_split(x, int(rng.integers(1, 5)))

    def count(targets, shift):  # what the workers return, one list per partition
        return [digit_counts({"x": part}, targets, shift) for part in parts]

    filled = np.concatenate([x, np.full(n_fill, fill)])
    n_total = filled.size
    ranks = sorted(set(quantile_ranks(n_total, (0.25, 0.5, 0.75))) | {(n_total - 1) // 2})
    ranks = sorted({*ranks, n_total // 2})
    values = select(count, {"x": ranks}, {"x": (fill, n_fill)})["x"]
    assert values == np.sort(filled)[ranks].tolist()
    at = dict(zip(ranks, values, strict=True))
    c = float(np.max(np.abs(filled))) or 1.0
    expected = np.quantile(filled / c, [0.25, 0.5, 0.75])
    got = numpy_quantiles({k: v / c for k, v in at.items()}, n_total, (0.25, 0.5, 0.75))
    assert got == expected.tolist()  # bit for bit
    assert numpy_median(at, n_total) == np.median(filled)
