"""scikit-learn estimators built on the engine (needs scikit-learn)."""

from deltaprop.estimators.mlp import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
