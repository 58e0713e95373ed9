"""Flat parameter vectors: a network's arrays as one 1-D NumPy vector, and back.

SciPy's L-BFGS and the Dask path work on one vector ``theta`` holding
``[W_0, b_0, W_1, b_1, ...]`` one after the other, each array row-major.

>>> import numpy as np
>>> theta = flatten([np.ones((2, 3)), np.zeros(3)])
>>> theta.shape
(9,)
>>> [a.shape for a in unflatten(theta, [(2, 3), (3,)])]
[(2, 3), (3,)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from deltaprop.core.arrays import to_numpy

__all__ = ["flatten", "unflatten"]


def flatten(arrays: Sequence[Any], dtype: Any = None) -> np.ndarray:
    """Concatenate arrays of any array library (row-major) into one 1-D NumPy vector.

    ``dtype``: the vector's dtype (default: NumPy's promotion of the arrays' dtypes).
    """
    theta = np.concatenate([np.reshape(to_numpy(a), -1) for a in arrays])
    return theta if dtype is None else theta.astype(dtype, copy=False)


def unflatten(theta: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    """Split a flat vector back into arrays of ``shapes`` (views, no copy).

    Raises
    ------
    ValueError
        When ``theta``'s length is not the shapes' total size.
    """
    out, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        out.append(theta[start : start + size].reshape(shape))
        start += size
    if start != theta.shape[0]:
        raise ValueError(f"theta has {theta.shape[0]} entries, the shapes need {start}")
    return out
