"""scikit-learn estimators built on the engine (needs scikit-learn).

The drop-in MLPs (:mod:`deltaprop.estimators.mlp`) and the tabular recipe
(:mod:`deltaprop.estimators.recipe`).

:mod:`deltaprop.estimators.plan` (the translation of scikit-learn's hyper-parameters into
engine objects) imports without scikit-learn; the estimators load it when first used.
"""

import importlib
from typing import Any

__all__ = ["MLPClassifier", "MLPRegressor", "TabularClassifier", "TabularRegressor"]


def __getattr__(name: str) -> Any:
    # each loads scikit-learn (optional dependency)
    if name in ("MLPClassifier", "MLPRegressor"):
        return getattr(importlib.import_module("deltaprop.estimators.mlp"), name)
    if name in ("TabularClassifier", "TabularRegressor"):
        return getattr(importlib.import_module("deltaprop.estimators.recipe"), name)
    raise AttributeError(f"module 'deltaprop.estimators' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
