"""Estimators stored inside other model files, read without scikit-learn.

A :class:`~deltaprop.tabular.TabularModel` file holds its estimator as a nested node
(kind ``"mlp_classifier"``, ``"mlp_regressor"``, or the tabular recipe's
``"tabular_classifier"`` and ``"tabular_regressor"``). :func:`read_stored_estimator` reads
and checks such a node in full (every field, every array) with NumPy alone and answers a
:class:`StoredEstimator`: a :class:`~deltaprop.estimators.predictor.Predictor` that
predicts at once, and the scikit-learn estimator built only when something asks for it
(:meth:`StoredEstimator.estimator`), which imports scikit-learn then. So
``deltaprop predict`` never imports scikit-learn, and the predictions are the
estimator's, bit for bit. The estimator's constructor parameters are checked against
scikit-learn's constraints when it is built; a node of any other kind is loaded as it
always was (its module imports what it needs). The tabular recipe fitted without
scikit-learn (what ``deltaprop train`` does) is held the same way until its estimator is
asked for: :func:`stored_plain_recipe`.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from deltaprop.estimators.predictor import Predictor, predictor_of
from deltaprop.estimators.state import (
    estimator_from_fitted_state,
    read_fitted_state,
    read_recipe_state,
    recipe_from_read_state,
)
from deltaprop.files.container import ArrayStore, ModelFileError, load_nested

__all__ = ["StoredEstimator", "read_stored_estimator", "stored_plain_recipe"]

#: The kinds read without scikit-learn: kind -> (class name, whether a classifier).
_MLP_KINDS = {"mlp_classifier": ("MLPClassifier", True), "mlp_regressor": ("MLPRegressor", False)}
_RECIPE_KINDS = {
    "tabular_classifier": ("TabularClassifier", True),
    "tabular_regressor": ("TabularRegressor", False),
}


class StoredEstimator:
    """An estimator read from a model file: its predictor now, itself when needed.

    Made by :func:`read_stored_estimator`.

    Attributes
    ----------
    kind : str
        The node's kind (``"mlp_classifier"``, ``"mlp_regressor"``, ...).
    predictor : Predictor
        Answers as the estimator does.
    classes_ : ndarray of shape (n_classes,) or None
        A classifier's classes.
    n_features_in_ : int
    built : bool
        Whether :meth:`estimator` has built the estimator.
    plain : PlainTabularClassifier, PlainTabularRegressor or None
        The tabular recipe as it was fitted without scikit-learn
        (:func:`stored_plain_recipe`), which the estimator is built from; None for an
        estimator read from a file.
    """

    def __init__(
        self,
        kind: str,
        predictor: Predictor,
        *,
        state: Any = None,
        estimator: Any = None,
        plain: Any = None,
    ) -> None:
        self.kind = kind
        self.predictor = predictor
        self.classes_ = predictor.classes_
        self.n_features_in_ = predictor.n_features_in_
        self._state = state  # read_fitted_state's answer: the estimator is built from it
        self._estimator = estimator
        self.plain = plain

    @property
    def built(self) -> bool:
        return self._estimator is not None

    def estimator(self) -> Any:
        """The fitted scikit-learn estimator (built once, on the first call).

        Raises
        ------
        ImportError
            Without scikit-learn.
        ModelFileError
            For constructor parameters scikit-learn refuses.
        """
        if self._estimator is None:
            if self.plain is not None:
                self._estimator = _build_from_plain(_RECIPE_KINDS[self.kind][0], self.plain)
            elif self.kind in _RECIPE_KINDS:
                self._estimator = _build_recipe(_RECIPE_KINDS[self.kind][0], self._state)
            else:
                self._estimator = _build_mlp(_MLP_KINDS[self.kind][0], self._state)
            self._state = None
        return self._estimator

    def __repr__(self) -> str:
        return f"StoredEstimator(kind={self.kind!r}, built={self.built})"


def _build_mlp(class_name: str, state: dict[str, Any]) -> Any:
    try:
        from deltaprop.estimators import mlp  # imports scikit-learn (optional dependency)
    except ImportError as exc:
        raise ImportError(
            f"this model's {class_name} needs scikit-learn ({exc}): "
            'pip install "deltaprop[sklearn]"'
        ) from None
    return estimator_from_fitted_state(getattr(mlp, class_name), state)


def _recipe_module(class_name: str) -> Any:
    try:
        from deltaprop.estimators import recipe  # imports scikit-learn (optional dependency)
    except ImportError as exc:
        raise ImportError(
            f"this model's {class_name} needs scikit-learn ({exc}): "
            'pip install "deltaprop[sklearn]"'
        ) from None
    return recipe


def _build_recipe(class_name: str, state: dict[str, Any]) -> Any:
    return recipe_from_read_state(getattr(_recipe_module(class_name), class_name), state)


def _build_from_plain(class_name: str, plain: Any) -> Any:
    """The scikit-learn recipe estimator holding what ``plain`` holds (its class is the
    plain one's subclass, with the same parameters and fitted attributes)."""
    recipe = _recipe_module(class_name)
    estimator = getattr(recipe, class_name)(**plain.get_params())
    estimator.__dict__.update(vars(plain))
    return estimator


def stored_plain_recipe(plain: Any) -> StoredEstimator:
    """A tabular recipe fitted without scikit-learn, held as its scikit-learn estimator.

    Parameters
    ----------
    plain : PlainTabularClassifier or PlainTabularRegressor
        Fitted (:mod:`deltaprop.estimators.plain_recipe`).

    Returns
    -------
    StoredEstimator
        Of kind ``"tabular_classifier"`` or ``"tabular_regressor"``: it predicts with
        NumPy alone, is saved as that kind without scikit-learn, and builds the
        :class:`~deltaprop.TabularClassifier` or :class:`~deltaprop.TabularRegressor`
        (importing scikit-learn) when :meth:`StoredEstimator.estimator` is called.
    """
    kind = "tabular_classifier" if hasattr(plain, "classes_") else "tabular_regressor"
    return StoredEstimator(kind, predictor_of(plain), plain=plain)


def _read_recipe(kind: str, config: dict, arrays: ArrayStore, where: str) -> StoredEstimator:
    """A stored tabular recipe: its member networks and output mapping read with NumPy."""
    try:
        state = read_recipe_state(_RECIPE_KINDS[kind][1], config, arrays)
        # predictor_of reads the fitted attributes off whatever holds them
        predictor = predictor_of(SimpleNamespace(**state["attributes"]))
    except (ModelFileError, ValueError) as exc:
        raise ModelFileError(f"{where}: {exc}") from None
    return StoredEstimator(kind, predictor, state=state)


def read_stored_estimator(
    node: Any, arrays: ArrayStore, prefix: str, *, where: str
) -> StoredEstimator:
    """Read an estimator that another kind stored with :func:`~deltaprop.files.dump_nested`.

    Parameters
    ----------
    node : dict
        ``{"kind": ..., "config": ...}`` from the parent's config.
    arrays : ArrayStore
        The parent's arrays; the estimator's are under ``prefix``.
    prefix : str
    where : str
        How errors name the node (``"config.estimator"``).

    Returns
    -------
    StoredEstimator

    Raises
    ------
    ModelFileError
        For a node or a field that is missing, malformed or inconsistent.
    """
    if not isinstance(node, dict) or set(node) != {"kind", "config"}:
        raise ModelFileError(f"{where} must be an object with keys 'kind' and 'config'")
    kind = node["kind"]
    if kind in _RECIPE_KINDS and isinstance(node["config"], dict):
        return _read_recipe(kind, node["config"], arrays.nested(prefix), where)
    if kind not in _MLP_KINDS:
        estimator = load_nested(node, arrays, prefix, where=where)
        return StoredEstimator(str(kind), predictor_of(estimator), estimator=estimator)
    if not isinstance(node["config"], dict):
        raise ModelFileError(f"{where}.config must be a JSON object")
    classifier = _MLP_KINDS[kind][1]
    try:
        state = read_fitted_state(classifier, node["config"], arrays.nested(prefix))
    except ModelFileError as exc:
        raise ModelFileError(f"{where}: {exc}") from None
    attributes = state["attributes"]
    network = attributes["network_"]
    softmax = network.layers[-1].activation.name == "softmax"
    if (attributes["out_activation_"] == "softmax") != softmax:
        raise ModelFileError(f"{where}: out_activation_ does not fit the network's output layer")
    if not classifier:
        predictor = Predictor([network], task="regression")
    else:
        task = "multilabel" if state["y_type"].startswith("multilabel") else "classification"
        try:
            predictor = Predictor([network], task=task, classes=attributes["classes_"])
        except ValueError as exc:
            raise ModelFileError(f"{where}: {exc}") from None
    return StoredEstimator(kind, predictor, state=state)
