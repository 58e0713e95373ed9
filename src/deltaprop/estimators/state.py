"""Model-file kinds of the fitted estimators: the MLPs and the tabular recipe.

Kinds ``"mlp_classifier"`` and ``"mlp_regressor"`` (below) and ``"tabular_classifier"``
and ``"tabular_regressor"`` (:func:`recipe_to_state`, :func:`read_recipe_state`: member
networks and the output mapping).

A fitted :class:`~deltaprop.MLPClassifier` or :class:`~deltaprop.MLPRegressor` is stored
as its constructor parameters (``get_params()``), its fitted attributes as plain JSON,
its network as a nested ``network`` node (arrays under ``network.``) and its optimizer's
state (arrays under ``optimizer.``). Loading rebuilds an estimator whose predictions are
bit-identical and whose ``warm_start``/``partial_fit`` continue exactly as the original
would. Nothing is unpickled: class labels are stored as JSON values with their NumPy
dtype (``"<U6"``, ``"<i8"``, ``"|b1"``, ``"|O"`` for Python strings), checked against a
fixed list. The fields are listed in ``docs/model-format.md``.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> import deltaprop as dp
>>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
>>> clf = dp.MLPClassifier((4,), solver="lbfgs", random_state=0).fit(X, ["a", "b", "b", "a"])
>>> path = os.path.join(tempfile.mkdtemp(), "clf.deltaprop")
>>> dp.save(clf, path)
>>> again = dp.load(path)
>>> again.classes_, bool(np.array_equal(again.predict_proba(X), clf.predict_proba(X)))
(array(['a', 'b'], dtype='<U1'), True)
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from deltaprop.core.network import Network
from deltaprop.files.container import (
    ArrayStore,
    ModelFileError,
    check_keys,
    decode_float,
    dump_nested,
    encode_float,
    get_field,
    load_nested,
)
from deltaprop.optim.optimizers import OPTIMIZERS

__all__ = [
    "MAX_LABEL_ARRAY_BYTES",
    "estimator_from_fitted_state",
    "estimator_from_state",
    "estimator_to_state",
    "read_fitted_state",
    "read_recipe_state",
    "recipe_from_read_state",
    "recipe_from_state",
    "recipe_to_state",
]

#: NumPy dtypes class labels may have: booleans, integers, floats, text, Python strings.
_LABEL_DTYPE = re.compile(r"[<>|]?(b1|[iu][1248]|f[48]|U[0-9]{1,6}|O)")
#: The most bytes a fixed-width text array of class labels (dtype ``"<U..."``) read from a
#: file may take: its width times its length times 4. A few labels in a small header
#: could otherwise declare a width of a million characters each. Wider arrays are saved
#: as Python strings (``"|O"``) instead, so every file this module writes loads again.
MAX_LABEL_ARRAY_BYTES = 16 * 2**20
_INT_ATTRIBUTES = ("n_iter_", "t_", "n_outputs_", "n_layers_", "n_features_in_")
_FLOAT_OR_NONE = ("best_loss_", "best_validation_score_", "loss_")
_CURVES = ("loss_curve_", "validation_loss_curve_", "validation_scores_")
_Y_TYPES = ("binary", "multiclass", "multilabel-indicator")


# -- plain values ---------------------------------------------------------------------
def _scalar(value: Any, name: str) -> Any:
    """A JSON value for a parameter: None, bool, int, str, or a float ("inf" if infinite)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return encode_float(value)
    raise TypeError(f"cannot save parameter {name}={value!r:.60}: not a plain value")


def _labels_to_json(labels: np.ndarray) -> dict:
    labels = np.asarray(labels)
    if labels.dtype.kind == "U" and labels.nbytes > MAX_LABEL_ARRAY_BYTES:
        labels = labels.astype(object)
    dtype = labels.dtype.str
    if not _LABEL_DTYPE.fullmatch(dtype):
        raise TypeError(f"cannot save class labels of dtype {labels.dtype}")
    values = labels.tolist()
    if labels.dtype == object and not all(isinstance(v, str) for v in values):
        raise TypeError("cannot save class labels of dtype object unless they are strings")
    if labels.dtype.kind == "f" and not all(math.isfinite(v) for v in values):
        raise TypeError("cannot save NaN or infinite class labels")
    return {"dtype": dtype, "values": values}


def _labels_from_json(state: Any, where: str) -> np.ndarray:
    check_keys(state, ("dtype", "values"), where)
    dtype = get_field(state, "dtype", str, where)
    if not _LABEL_DTYPE.fullmatch(dtype):
        raise ModelFileError(f"{where}.dtype {dtype!r:.40} is not a dtype class labels may have")
    values = get_field(state, "values", list, where)
    dtype = np.dtype(dtype)
    if dtype.kind == "U" and dtype.itemsize * len(values) > MAX_LABEL_ARRAY_BYTES:
        raise ModelFileError(
            f"{where}: {len(values)} labels of dtype {dtype.str} would take "
            f"{dtype.itemsize * len(values):,} bytes, over the limit of "
            f"{MAX_LABEL_ARRAY_BYTES:,} (MAX_LABEL_ARRAY_BYTES) for fixed-width labels"
        )
    element = {"b": bool, "i": int, "u": int, "f": (int, float), "U": str, "O": str}[dtype.kind]
    for v in values:
        if (isinstance(v, bool) and dtype.kind != "b") or not isinstance(v, element):
            raise ModelFileError(f"{where}.values must hold {dtype} labels, got {v!r:.40}")
    try:
        labels = np.array(values, dtype=dtype)
    except (OverflowError, ValueError) as exc:
        raise ModelFileError(f"{where}.values do not fit dtype {dtype}: {exc}") from None
    if labels.ndim != 1 or labels.tolist() != values:
        raise ModelFileError(f"{where}.values do not fit dtype {dtype}")
    if len(labels) < 1 or not all(labels[i] < labels[i + 1] for i in range(len(labels) - 1)):
        raise ModelFileError(f"{where}.values must be sorted, distinct and not empty")
    return labels


def _float_list(values: Any, where: str) -> list[float]:
    if not isinstance(values, list):
        raise ModelFileError(f"{where} must be a list")
    return [decode_float(v, f"{where}[{i}]") for i, v in enumerate(values)]


#: The fields of ``divergence_`` (:class:`deltaprop.training.history.Divergence`).
_DIVERGENCE_TEXTS = ("problem", "cause", "advice")


def _divergence_to_json(divergence: dict) -> dict:
    out = {key: str(divergence[key]) for key in _DIVERGENCE_TEXTS}
    batch = divergence["batch"]
    out["iteration"] = int(divergence["iteration"])
    out["batch"] = None if batch is None else int(batch)
    return out


def _divergence_from_json(state: Any, where: str) -> dict | None:
    if state is None:
        return None
    check_keys(state, ("iteration", "batch", *_DIVERGENCE_TEXTS), where)
    out = {key: get_field(state, key, str, where) for key in _DIVERGENCE_TEXTS}
    out["iteration"] = get_field(state, "iteration", int, where)
    batch = state["batch"]
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int)):
        raise ModelFileError(f"{where}.batch must be an integer or null")
    out["batch"] = batch
    return out


# -- parameters -----------------------------------------------------------------------
def _params_to_json(est: Any) -> dict:
    params = {}
    for name, value in est.get_params(deep=False).items():
        if name == "callbacks":
            if value is not None:
                raise TypeError(
                    "cannot save an estimator with callbacks (functions are never stored "
                    "in model files): set_params(callbacks=None) first"
                )
            params[name] = None
        elif name == "hidden_layer_sizes":
            sizes = [value] if np.ndim(value) == 0 else list(value)
            params[name] = [_scalar(s, name) for s in sizes]
        elif name == "random_state":
            if value is not None and not isinstance(value, int | np.integer):
                raise TypeError(
                    f"cannot save random_state={value!r:.60}: only an int or None can be "
                    "stored in a model file"
                )
            params[name] = _scalar(value, name)
        elif name == "class_weight" and isinstance(value, dict):
            labels = np.array(list(value))
            order = np.argsort(labels, kind="stable")
            weights = list(value.values())
            params[name] = {
                "labels": _labels_to_json(labels[order]),
                "weights": [float(weights[i]) for i in order],
            }
        else:
            params[name] = _scalar(value, name)
    return params


def _params_from_json(cls: type, params: Any) -> Any:
    where = "config.params"
    expected = set(cls().get_params(deep=False))
    if isinstance(params, dict) and "device" in expected and "device" not in params:
        params = {**params, "device": None}  # written before the estimators had device=
    check_keys(params, expected, where)
    kwargs = {}
    for name, value in params.items():
        if name == "hidden_layer_sizes":
            if not isinstance(value, list) or not all(
                isinstance(s, int) and not isinstance(s, bool) for s in value
            ):
                raise ModelFileError(f"{where}.{name} must be a list of ints, got {value!r:.60}")
            kwargs[name] = tuple(value)
        elif name == "class_weight" and isinstance(value, dict):
            check_keys(value, ("labels", "weights"), f"{where}.{name}")
            labels = _labels_from_json(value["labels"], f"{where}.{name}.labels")
            weights = _float_list(value["weights"], f"{where}.{name}.weights")
            if len(weights) != len(labels):
                raise ModelFileError(f"{where}.{name}: as many weights as labels are needed")
            kwargs[name] = dict(zip(labels.tolist(), weights, strict=True))
        elif value in ("inf", "-inf", "nan"):
            kwargs[name] = float(value)
        elif value is None or isinstance(value, bool | int | float | str):
            kwargs[name] = value
        else:
            raise ModelFileError(f"{where}.{name} must be a plain value, got {value!r:.60}")
    est = cls(**kwargs)
    try:
        est._validate_params()
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{where}: {exc}") from None
    return est


# -- the optimizer's state ------------------------------------------------------------
def _optimizer_to_json(state: dict | None, arrays: dict[str, Any]) -> dict | None:
    if state is None:
        return None
    cls = OPTIMIZERS.get(state["name"])
    if cls is None:
        raise TypeError(f"cannot save the state of optimizer {state['name']!r}")
    values = {key: _scalar(state[key], key) for key in cls._hyper_parameters + cls._scalar_state}
    counts = {}
    for key in cls._array_state:
        group = state[key]
        counts[key] = None if group is None else len(group)
        for i, value in enumerate(group or ()):
            arrays[f"optimizer.{key}.{i}"] = value
    return {"name": state["name"], "values": values, "arrays": counts}


def _optimizer_from_json(config: Any, arrays: ArrayStore, shapes: list) -> dict | None:
    where = "config.optimizer_state"
    if config is None:
        return None
    check_keys(config, ("name", "values", "arrays"), where)
    name = get_field(config, "name", str, where)
    if name not in OPTIMIZERS:
        raise ModelFileError(f"{where}.name must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    cls = OPTIMIZERS[name]
    values = get_field(config, "values", dict, where)
    check_keys(values, cls._hyper_parameters + cls._scalar_state, f"{where}.values")
    state: dict[str, Any] = {"name": name}
    for key, value in values.items():
        if key == "t":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ModelFileError(f"{where}.values.t must be an int >= 0, got {value!r:.40}")
            state[key] = value
        elif isinstance(value, bool):
            state[key] = value
        else:
            state[key] = decode_float(value, f"{where}.values.{key}")
    counts = get_field(config, "arrays", dict, where)
    check_keys(counts, cls._array_state, f"{where}.arrays")
    for key, count in counts.items():
        if count is None:
            state[key] = None
            continue
        if isinstance(count, bool) or count != len(shapes):
            raise ModelFileError(f"{where}.arrays.{key} must be {len(shapes)} or null")
        state[key] = [arrays.take(f"optimizer.{key}.{i}", shape) for i, shape in enumerate(shapes)]
    try:
        cls().load_state_dict(state)  # validates the hyper-parameters
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{where}: {exc}") from None
    return state


# -- the kinds ------------------------------------------------------------------------
def _is_classifier(cls: type) -> bool:
    from sklearn.base import ClassifierMixin  # optional dependency: the sklearn extra

    return issubclass(cls, ClassifierMixin)


def estimator_to_state(est: Any) -> tuple[dict, dict[str, Any]]:
    """``(config, arrays)`` of a fitted MLPClassifier or MLPRegressor (its kind's ``to_state``).

    Raises
    ------
    ValueError
        For an estimator that is not fitted.
    TypeError
        For a parameter or class labels that cannot be stored (callbacks, a
        ``RandomState`` instance, labels of an unsupported dtype).
    """
    if not hasattr(est, "network_"):
        raise ValueError(f"this {type(est).__name__} is not fitted yet: call fit first")
    arrays: dict[str, Any] = {}
    fitted: dict[str, Any] = {key: int(getattr(est, key)) for key in _INT_ATTRIBUTES}
    for key in _FLOAT_OR_NONE:
        value = getattr(est, key)
        fitted[key] = None if value is None else encode_float(float(value))
    for key in _CURVES:
        value = getattr(est, key)
        fitted[key] = None if value is None else [encode_float(float(v)) for v in value]
    fitted["out_activation_"] = str(est.out_activation_)
    fitted["stop_reason_"] = None if est.stop_reason_ is None else str(est.stop_reason_)
    if getattr(est, "divergence_", None) is not None:  # only files of diverged fits have it
        fitted["divergence_"] = _divergence_to_json(est.divergence_)
    names = getattr(est, "feature_names_in_", None)
    fitted["feature_names_in_"] = None if names is None else [str(n) for n in names]
    if _is_classifier(type(est)):
        fitted["classes_"] = _labels_to_json(est.classes_)
        fitted["y_type_"] = str(est._label_binarizer.y_type_)
    config = {
        "params": _params_to_json(est),
        "fitted": fitted,
        "network": dump_nested(est.network_, "network", arrays),
        "optimizer_state": _optimizer_to_json(est.optimizer_state_, arrays),
    }
    return config, arrays


def read_fitted_state(classifier: bool, config: Any, arrays: ArrayStore) -> dict[str, Any]:
    """Everything a stored MLPClassifier or MLPRegressor holds but its parameters, checked.

    Needs neither scikit-learn nor the estimator classes: :func:`estimator_from_state`
    builds the estimator from it, and a :class:`~deltaprop.tabular.TabularModel` loaded
    from a file predicts from it without scikit-learn. Every array of the estimator is
    read (the optimizer's too), so a file is checked in full when it is loaded.

    Parameters
    ----------
    classifier : bool
        Whether the state is an MLPClassifier's (``classes_`` and ``y_type_``).
    config : dict
        The kind's config: ``params``, ``fitted``, ``network``, ``optimizer_state``.
    arrays : ArrayStore
        The estimator's arrays.

    Returns
    -------
    dict
        ``params`` (the JSON object, checked when the estimator is built), ``attributes``
        (fitted attribute -> value, ``network_``, ``coefs_``, ``intercepts_``,
        ``optimizer_state_`` and a classifier's ``classes_`` included) and, for a
        classifier, ``y_type`` (``"binary"``, ``"multiclass"`` or
        ``"multilabel-indicator"``).

    Raises
    ------
    ModelFileError
        Naming the field that is missing, malformed or inconsistent.
    """
    check_keys(config, ("params", "fitted", "network", "optimizer_state"), "config")
    params = get_field(config, "params", dict, "config")
    fitted = get_field(config, "fitted", dict, "config")
    where = "config.fitted"
    keys = (*_INT_ATTRIBUTES, *_FLOAT_OR_NONE, *_CURVES)
    keys += ("out_activation_", "stop_reason_", "feature_names_in_")
    if classifier:
        keys += ("classes_", "y_type_")
    if "divergence_" in fitted:
        keys += ("divergence_",)
    check_keys(fitted, keys, where)
    attributes: dict[str, Any] = {}
    attributes["divergence_"] = _divergence_from_json(
        fitted.get("divergence_"), f"{where}.divergence_"
    )
    for key in _INT_ATTRIBUTES:
        value = get_field(fitted, key, int, where)
        if value < 0:
            raise ModelFileError(f"{where}.{key} must be >= 0, got {value}")
        attributes[key] = value
    for key in _FLOAT_OR_NONE:
        value = fitted[key]
        attributes[key] = None if value is None else decode_float(value, f"{where}.{key}")
    for key in _CURVES:
        value = fitted[key]
        attributes[key] = None if value is None else _float_list(value, f"{where}.{key}")
    attributes["out_activation_"] = get_field(fitted, "out_activation_", str, where)
    reason = fitted["stop_reason_"]
    if reason is not None and not isinstance(reason, str):
        raise ModelFileError(f"{where}.stop_reason_ must be a string or null")
    attributes["stop_reason_"] = reason
    names = fitted["feature_names_in_"]
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ModelFileError(f"{where}.feature_names_in_ must be a list of strings or null")
        attributes["feature_names_in_"] = np.array(names, dtype=object)

    net = load_nested(config["network"], arrays, "network", where="config.network")
    if not isinstance(net, Network):
        raise ModelFileError("config.network must hold a network")
    layers = net.layers
    n_layers, n_in, n_out = (attributes[k] for k in ("n_layers_", "n_features_in_", "n_outputs_"))
    if len(layers) != n_layers - 1 or layers[0].n_in != n_in or layers[-1].n_out != n_out:
        raise ModelFileError(
            "config.network does not fit n_layers_, n_features_in_ and n_outputs_ "
            f"({n_layers}, {n_in}, {n_out})"
        )
    if names is not None and len(names) != n_in:
        raise ModelFileError(f"{where}.feature_names_in_ must have n_features_in_ names")
    attributes["network_"] = net
    attributes["coefs_"] = [np.asarray(layer.weights) for layer in layers]
    attributes["intercepts_"] = [np.asarray(layer.bias) for layer in layers]
    shapes = [tuple(np.shape(p)) for layer in layers for p in (layer.weights, layer.bias)]
    attributes["optimizer_state_"] = _optimizer_from_json(config["optimizer_state"], arrays, shapes)
    state = {"params": params, "attributes": attributes}
    if classifier:
        attributes["classes_"] = _labels_from_json(fitted["classes_"], f"{where}.classes_")
        y_type = get_field(fitted, "y_type_", str, where)
        if y_type not in _Y_TYPES:
            raise ModelFileError(f"{where}.y_type_ must be one of {list(_Y_TYPES)}")
        state["y_type"] = y_type
    return state


def estimator_from_fitted_state(cls: type, state: dict[str, Any]) -> Any:
    """A fitted ``cls`` from :func:`read_fitted_state`'s answer (needs scikit-learn).

    Raises
    ------
    ModelFileError
        For constructor parameters that are missing, unexpected or invalid.
    """
    return _with_fitted_state(_params_from_json(cls, state["params"]), state)


def _with_fitted_state(est: Any, state: dict[str, Any]) -> Any:
    from sklearn.preprocessing import LabelBinarizer  # optional dependency: the sklearn extra

    for key, value in state["attributes"].items():
        setattr(est, key, value)
    if "y_type" in state:
        binarizer = LabelBinarizer()
        binarizer.classes_ = est.classes_
        binarizer.y_type_ = state["y_type"]
        binarizer.sparse_input_ = False
        est._label_binarizer = binarizer
    return est


def estimator_from_state(cls: type, config: dict, arrays: ArrayStore) -> Any:
    """A fitted ``cls`` (MLPClassifier or MLPRegressor) rebuilt from a model file's state.

    Raises
    ------
    ModelFileError
        Naming the field that is missing, malformed or inconsistent.
    """
    check_keys(config, ("params", "fitted", "network", "optimizer_state"), "config")
    est = _params_from_json(cls, config["params"])
    return _with_fitted_state(est, read_fitted_state(_is_classifier(cls), config, arrays))


# -- the tabular recipe: member networks and the output mapping -----------------------
_MEMBER_KEYS = (
    "network",
    "n_iter",
    "best_iteration",
    "stop_reason",
    "loss_curve",
    "validation_loss_curve",
    "validation_score_curve",
)
_MEMBER_CURVES = ("loss_curve", "validation_loss_curve", "validation_score_curve")
_REGRESSION_ARRAYS = ("mean", "scale", "min", "max")
_RECIPE_FITTED = ("n_features_in_", "feature_names_in_", "batch_size_", "max_epochs_", "fit_time_")


def recipe_to_state(est: Any) -> tuple[dict, dict[str, Any]]:
    """``(config, arrays)`` of a fitted TabularClassifier or TabularRegressor, or of
    their plain classes (:mod:`deltaprop.estimators.plain_recipe`: the same state).

    The config holds the parameters, each member (its network as a node with arrays
    under ``members.<i>.``, its best epoch, stop reason and curves) and the output
    mapping: the class labels, or the regression target's mean, scale and clip range
    (arrays ``output.mean``, ``output.scale``, ``output.min``, ``output.max``).

    Raises
    ------
    ValueError
        For an estimator that is not fitted.
    TypeError
        For parameters or labels that cannot be stored (callbacks, a ``RandomState``).
    """
    if not hasattr(est, "members_"):
        raise ValueError(f"this {type(est).__name__} is not fitted yet: call fit first")
    arrays: dict[str, Any] = {}
    members = []
    for i, net in enumerate(est.members_):
        best = est.best_iterations_[i]
        member = {
            "network": dump_nested(net, f"members.{i}", arrays),
            "n_iter": int(est.n_iter_[i]),
            "best_iteration": None if best is None else int(best),
            "stop_reason": str(est.stop_reasons_[i]),
        }
        for key in _MEMBER_CURVES:
            curve = getattr(est, f"{key}s_")[i]
            member[key] = [encode_float(float(v)) for v in curve]
        members.append(member)
    if hasattr(est, "classes_"):  # a classifier (also the plain recipe, without scikit-learn)
        output: dict[str, Any] = {"kind": "classes", "classes": _labels_to_json(est.classes_)}
    else:
        output = {"kind": "regression", "one_output": bool(est._one_output)}
        for name in _REGRESSION_ARRAYS:
            arrays[f"output.{name}"] = np.asarray(getattr(est, f"target_{name}_"), np.float64)
    names = getattr(est, "feature_names_in_", None)
    fitted = {
        "n_features_in_": int(est.n_features_in_),
        "feature_names_in_": None if names is None else [str(n) for n in names],
        "batch_size_": int(est.batch_size_),
        "max_epochs_": int(est.max_epochs_),
        "fit_time_": encode_float(float(est.fit_time_)),
    }
    config = {"params": _params_to_json(est), "fitted": fitted, "members": members}
    config["output"] = output
    return config, arrays


def _positive_int(config: Any, key: str, where: str) -> int:
    value = get_field(config, key, int, where)
    if value < 1:
        raise ModelFileError(f"{where}.{key} must be >= 1, got {value}")
    return value


def _member_from_json(node: Any, arrays: ArrayStore, i: int, shape: tuple[int, int]) -> dict:
    """One member's network and record, checked (``shape``: its inputs and outputs)."""
    where = f"config.members[{i}]"
    check_keys(node, _MEMBER_KEYS, where)
    net = load_nested(node["network"], arrays, f"members.{i}", where=f"{where}.network")
    if not isinstance(net, Network):
        raise ModelFileError(f"{where}.network must hold a network")
    if (net.layers[0].n_in, net.layers[-1].n_out) != shape:
        raise ModelFileError(
            f"{where}.network must take {shape[0]} inputs and give {shape[1]} outputs"
        )
    n_iter = _positive_int(node, "n_iter", where)
    best = node["best_iteration"]
    if best is not None and (isinstance(best, bool) or not isinstance(best, int)):
        raise ModelFileError(f"{where}.best_iteration must be an int or null")
    if best is not None and not 1 <= best <= n_iter:
        raise ModelFileError(f"{where}.best_iteration must be in [1, n_iter], got {best}")
    record = {
        "network": net,
        "n_iter": n_iter,
        "best_iteration": best,
        "stop_reason": get_field(node, "stop_reason", str, where),
    }
    for key in _MEMBER_CURVES:
        curve = _float_list(node[key], f"{where}.{key}")
        if len(curve) not in (0, n_iter):
            raise ModelFileError(f"{where}.{key} must have 0 or n_iter ({n_iter}) entries")
        record[key] = curve
    return record


def _output_from_json(classifier: bool, output: Any, arrays: ArrayStore) -> dict[str, Any]:
    """The output mapping's attributes (``classes_``, or ``target_*_`` and ``_one_output``)."""
    where = "config.output"
    if classifier:
        check_keys(output, ("kind", "classes"), where)
        if output["kind"] != "classes":
            raise ModelFileError(f"{where}.kind must be 'classes' for a classifier")
        classes = _labels_from_json(output["classes"], f"{where}.classes")
        if len(classes) < 2:
            raise ModelFileError(f"{where}.classes must hold at least 2 labels")
        return {"classes_": classes}
    check_keys(output, ("kind", "one_output"), where)
    if output["kind"] != "regression":
        raise ModelFileError(f"{where}.kind must be 'regression' for a regressor")
    mapping: dict[str, Any] = {"_one_output": get_field(output, "one_output", bool, where)}
    values = [arrays.take(f"output.{name}") for name in _REGRESSION_ARRAYS]
    n_outputs = values[0].shape[0] if values[0].ndim == 1 else 0
    for name, value in zip(_REGRESSION_ARRAYS, values, strict=True):
        if value.shape != (n_outputs,) or n_outputs < 1 or not np.isfinite(value).all():
            raise ModelFileError(f"array 'output.{name}' must be finite, shape (n_outputs,)")
        mapping[f"target_{name}_"] = np.asarray(value, dtype=np.float64)
    if (
        not (mapping["target_scale_"] > 0.0).all()
        or not (mapping["target_min_"] <= mapping["target_max_"]).all()
    ):
        raise ModelFileError("array 'output.scale' must be > 0 and 'output.min' <= 'output.max'")
    if mapping["_one_output"] and n_outputs != 1:
        raise ModelFileError(f"{where}.one_output needs 1 output, the arrays have {n_outputs}")
    return mapping


def read_recipe_state(classifier: bool, config: Any, arrays: ArrayStore) -> dict[str, Any]:
    """Everything a stored TabularClassifier or TabularRegressor holds, checked, with NumPy.

    As :func:`read_fitted_state` for the MLPs: the member networks and the output mapping
    are read (every array) without scikit-learn, so a model file predicts through a
    :class:`~deltaprop.estimators.predictor.Predictor` at once;
    :func:`recipe_from_read_state` builds the estimator when it is asked for.

    Returns
    -------
    dict
        ``params`` (the JSON object, checked when the estimator is built) and
        ``attributes`` (fitted attribute -> value: ``members_``, ``n_iter_``,
        ``best_iterations_``, ``stop_reasons_``, the curves, ``batch_size_``,
        ``max_epochs_``, ``fit_time_``, ``n_features_in_`` and the output mapping).

    Raises
    ------
    ModelFileError
        Naming the field that is missing, malformed or inconsistent.
    """
    check_keys(config, ("params", "fitted", "members", "output"), "config")
    params = get_field(config, "params", dict, "config")
    where = "config.fitted"
    fitted = get_field(config, "fitted", dict, "config")
    check_keys(fitted, _RECIPE_FITTED, where)
    attributes: dict[str, Any] = {
        key: _positive_int(fitted, key, where)
        for key in ("n_features_in_", "batch_size_", "max_epochs_")
    }
    attributes["fit_time_"] = decode_float(fitted["fit_time_"], f"{where}.fit_time_")
    names = fitted["feature_names_in_"]
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ModelFileError(f"{where}.feature_names_in_ must be a list of strings or null")
        if len(names) != attributes["n_features_in_"]:
            raise ModelFileError(f"{where}.feature_names_in_ must have n_features_in_ names")
        attributes["feature_names_in_"] = np.array(names, dtype=object)
    mapping = _output_from_json(classifier, config["output"], arrays)
    attributes.update(mapping)
    n_outputs = len(mapping["classes_"]) if classifier else len(mapping["target_mean_"])
    nodes = get_field(config, "members", list, "config")
    n_ensemble = params.get("n_ensemble")
    if isinstance(n_ensemble, bool) or not isinstance(n_ensemble, int):
        raise ModelFileError(f"config.params.n_ensemble must be an int, got {n_ensemble!r:.40}")
    if not 1 <= len(nodes) <= n_ensemble:
        raise ModelFileError(
            f"config.members must hold 1 to n_ensemble ({n_ensemble}) members, got {len(nodes)}"
        )
    shape = (attributes["n_features_in_"], n_outputs)
    members = [_member_from_json(node, arrays, i, shape) for i, node in enumerate(nodes)]
    attributes["members_"] = [m["network"] for m in members]
    attributes["n_iter_"] = [m["n_iter"] for m in members]
    attributes["best_iterations_"] = [m["best_iteration"] for m in members]
    attributes["stop_reasons_"] = [m["stop_reason"] for m in members]
    for key in _MEMBER_CURVES:
        attributes[f"{key}s_"] = [m[key] for m in members]
    return {"params": params, "attributes": attributes}


def recipe_from_read_state(cls: type, state: dict[str, Any]) -> Any:
    """A fitted ``cls`` from :func:`read_recipe_state`'s answer (needs scikit-learn).

    Raises
    ------
    ModelFileError
        For constructor parameters that are missing, unexpected or invalid.
    """
    est = _params_from_json(cls, state["params"])
    for key, value in state["attributes"].items():
        setattr(est, key, value)
    return est


def recipe_from_state(cls: type, config: dict, arrays: ArrayStore) -> Any:
    """A fitted ``cls`` (TabularClassifier or TabularRegressor) rebuilt from its state.

    Raises
    ------
    ModelFileError
        Naming the field that is missing, malformed or inconsistent.
    """
    return recipe_from_read_state(cls, read_recipe_state(_is_classifier(cls), config, arrays))
