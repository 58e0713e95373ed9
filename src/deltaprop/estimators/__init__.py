"""scikit-learn estimators built on the engine (needs scikit-learn).

The drop-in MLPs (:mod:`deltaprop.estimators.mlp`) and the tabular recipe
(:mod:`deltaprop.estimators.recipe`).

:mod:`deltaprop.estimators.plan` (the translation of scikit-learn's hyper-parameters into
engine objects) imports without scikit-learn; the estimators load it when first used.
"""

import importlib
from typing import Any

__all__ = ["MLPClassifier", "MLPRegressor", "TabularClassifier", "TabularRegressor"]
_MODULES = {
    "MLPClassifier": "deltaprop.estimators.mlp",
    "MLPRegressor": "deltaprop.estimators.mlp",
    "TabularClassifier": "deltaprop.estimators.recipe",
    "TabularRegressor": "deltaprop.estimators.recipe",
}


def __getattr__(name: str) -> Any:
    if name in __all__:
        # loads scikit-learn (optional dependency)
        return getattr(importlib.import_module(_MODULES[name]), name)
    raise AttributeError(f"module 'deltaprop.estimators' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
