"""ONNX export of a :class:`~deltaprop.TabularModel`: raw table columns in, answers out.

The graph takes one input per feature column the model was trained on, named after the
column, shape (N, 1): numeric (and boolean) columns in the model's float type, text
columns as ``tensor(string)``. It applies the stored preprocessing as graph nodes, in
the order :meth:`~deltaprop.tabular.Preprocessor.transform` builds its columns: per numeric
column ``(x - mean) / scale``, per text column a one-hot block (an unseen category is a
row of zeros, as in ``TabularModel.predict``). Then the network and the head: for a
classifier the outputs ``label`` (the original labels) and ``probabilities``; for a
regressor ``predictions``, shape (N,), in the target's units.

Missing values: with ``impute`` a NaN in a numeric input is replaced by the stored fill
value (``IsNaN`` and ``Where``), and so is an empty string in a text input; without
``impute`` a NaN gives NaN outputs, where ``TabularModel.predict`` raises. See
``docs/onnx.md``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from deltaprop.export.onnx import (
    OnnxGraph,
    _normalized_rows,
    add_classifier_outputs,
    add_inverse_scaling,
    add_network,
    add_one_hot,
    add_standardization,
    save_model,
)

__all__ = ["tabular_model_to_model_proto", "tabular_model_to_onnx"]


def _numeric_feature(graph: OnnxGraph, name: str, mean: float, scale: float, fill: Any) -> str:
    x = graph.add_input(name, width=1)
    if fill is not None:
        is_nan = graph.node("IsNaN", [x], "is_nan", width=1, opset=9)
        x = graph.node("Where", [is_nan, graph.scalar(fill), x], "filled", width=1)
    if mean == 0.0 and scale == 1.0:  # not standardised
        return x
    return add_standardization(graph, x, [mean], [scale])


def _text_feature(graph: OnnxGraph, name: str, categories: list[str], fill: Any) -> str:
    x = graph.add_input(name, "string", width=1)
    if fill is not None:
        empty = graph.constant(np.array([""], dtype=object), "empty", dtype=object)
        is_empty = graph.node("Equal", [x, empty], "is_empty", width=1, opset=19)
        value = graph.constant(np.array([str(fill)], dtype=object), "fill", dtype=object)
        x = graph.node("Where", [is_empty, value, x], "filled", width=1)
    return add_one_hot(graph, x, categories)


def tabular_model_to_model_proto(model: Any, *, opset: int | None = None, dtype: Any = None) -> Any:
    """The ONNX model of a fitted :class:`~deltaprop.TabularModel`, fed raw columns.

    Parameters
    ----------
    model : TabularModel, fitted
    opset : int, optional
        Default-domain opset; default the lowest that expresses the model (19 when a
        text column is one-hot encoded: ``Equal`` on strings).
    dtype : {"float32", "float64"}, optional
        Float type of the numeric inputs, the weights and the float outputs. Default:
        the dtype of the estimator's ``coefs_``.

    Returns
    -------
    onnx.ModelProto
        Inputs: one per column of ``model.feature_names_in_``, shape (N, 1). Outputs:
        ``label`` (N,) and ``probabilities`` (N, n_classes) in the order of
        ``model.classes_``, or ``predictions`` (N,).

    Raises
    ------
    ValueError
        An unfitted model, a bad ``opset`` or ``dtype``, or a feature column named like
        an output (``label``, ``probabilities``, ``predictions``) or starting with ``dp/``.
    """
    model._check_fitted()
    pre, estimator = model.preprocessor_, model.estimator_
    if dtype is None:
        dtype = np.result_type(*estimator.coefs_)
    graph = OnnxGraph(dtype, name="deltaprop_tabular_model")
    fills = pre.fill_values_
    blocks = []
    i_numeric = 0
    for column in pre.columns_:
        name = column["name"]
        fill = None if fills is None else fills[name]
        if column["kind"] == "numeric":
            mean, scale = float(pre.mean_[i_numeric]), float(pre.scale_[i_numeric])
            blocks.append(_numeric_feature(graph, name, mean, scale, fill))
            i_numeric += 1
        else:
            blocks.append(_text_feature(graph, name, column["categories"], fill))
    X = graph.concat(blocks, "features")
    net = estimator._network(graph.dtype)
    scores = add_network(graph, net, X)
    if model.task_ == "regression":
        y = add_inverse_scaling(graph, scores, [pre.target_mean_], [pre.target_scale_])
        graph.add_output("predictions", graph.ravel(y, "predictions"))
    elif net.n_outputs == 1:
        add_classifier_outputs(graph, scores, kind="binary", classes=pre.classes_)
    else:
        if estimator.out_activation_ != "softmax":  # independent sigmoids: as predict_proba
            scores = _normalized_rows(graph, scores, net.n_outputs)
        add_classifier_outputs(graph, scores, kind="multiclass", classes=pre.classes_)
    return graph.to_model(opset=opset, doc_string=repr(model))


def tabular_model_to_onnx(
    model: Any, path: str | os.PathLike, *, opset: int | None = None, dtype: Any = None
) -> Any:
    """Write a fitted TabularModel to an ONNX file; see :func:`tabular_model_to_model_proto`."""
    proto = tabular_model_to_model_proto(model, opset=opset, dtype=dtype)
    save_model(proto, path)
    return proto
