"""Data the benchmark scripts share, so that they time the same work.

NumPy only (no deltaprop): benchmarks/relayout.py's children import it beside either tree.
"""

from __future__ import annotations

import numpy as np


def seed_data(n_samples, dtype, seed=0):
    """64 standard-normal inputs, labels from a noisy logistic teacher, weights in [0.5, 2]."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, 64))
    teacher = rng.standard_normal(64) / 4.0
    p = 1.0 / (1.0 + np.exp(-(X @ teacher)))
    y = (rng.uniform(size=n_samples) < p).astype(float)
    w = rng.uniform(0.5, 2.0, n_samples)
    return X.astype(dtype), y.astype(dtype), w.astype(dtype)
