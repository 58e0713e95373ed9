"""Shared fixtures: a seeded generator, tiny datasets, and the array libraries."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

_NAMESPACES = ["numpy"]
if importlib.util.find_spec("array_api_strict") is not None:
    _NAMESPACES.append("array_api_strict")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(params=_NAMESPACES)
def xp(request):
    """Every installed array library the suite runs over."""
    if request.param == "numpy":
        return np
    import array_api_strict

    return array_api_strict


def to_xp(xp, *arrays, dtype=None):
    """Move NumPy arrays into ``xp`` (None stays None)."""
    out = []
    for a in arrays:
        if a is None:
            out.append(None)
        else:
            a = np.asarray(a, dtype=dtype or np.asarray(a).dtype)
            out.append(a if xp is np else xp.asarray(a))
    return out[0] if len(out) == 1 else out


@pytest.fixture
def xor():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    return X, y
