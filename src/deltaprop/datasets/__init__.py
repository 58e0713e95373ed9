"""Small real datasets shipped inside the package (see ``README.md`` in this folder)."""

from __future__ import annotations

import gzip
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["breast_cancer_path", "load_breast_cancer"]


def breast_cancer_path() -> Path:
    """Path of the shipped ``breast_cancer.csv.gz`` (header row; label column ``diagnosis``)."""
    return Path(str(resources.files(__package__).joinpath("breast_cancer.csv.gz")))


def load_breast_cancer() -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """The Wisconsin diagnostic breast-cancer data (569 x 30, binary).

    Returns
    -------
    X : ndarray of shape (569, 30), float64
    y : ndarray of shape (569,), float64
        1.0 for malignant, 0.0 for benign.
    feature_names : list of str
    target_names : list of str
        ``["benign", "malignant"]``: the label of y == 0 and of y == 1.

    Examples
    --------
    >>> X, y, features, targets = load_breast_cancer()
    >>> X.shape, int(y.sum())
    ((569, 30), 212)
    """
    with gzip.open(breast_cancer_path(), "rt", encoding="utf-8") as f:
        header = f.readline().strip().split(",")
        rows = [line.strip().split(",") for line in f if line.strip()]
    X = np.array([[float(v) for v in row[:-1]] for row in rows])
    y = np.array([1.0 if row[-1] == "malignant" else 0.0 for row in rows])
    return X, y, header[:-1], ["benign", "malignant"]
