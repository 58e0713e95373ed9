"""ONNX export of a :class:`~deltaprop.TabularModel`: raw table columns in, answers out.

The graph takes one input per feature column the model was trained on, named after the
column, shape (N, 1): numeric (and boolean) columns in the model's float type, text
columns as ``tensor(string)``. It applies the stored preprocessing as graph nodes, in
the order :meth:`~deltaprop.tabular.Preprocessor.transform` builds its columns: per numeric
column an infinity replaced by the training range's bound (a finite number past the
range is kept), ``(x - mean) / scale`` and, with robust scaling, the smooth clip
``z / sqrt(1 + (z / 3)^2)``, computed as ``transform`` computes it, without squaring a
large number (1e20 and float32's largest number give ``±3``); per categorical column a
one-hot block (an unseen category is a row of zeros, as in ``TabularModel.predict``); a 0/1
missing-value indicator where the model has one. Date and free-text columns are not
expressed (the export names them: drop them in training to export). Then the network
(for the tabular recipe, what ``deltaprop train`` fits by default: every member network
and the mean of their outputs, then, for regression, the recipe's target scaling and its
clip to the training range) and the head: for a classifier the outputs ``label`` (the
original labels) and ``probabilities``; for a regressor ``predictions``, shape (N,), in
the target's units.

Missing values: with ``impute`` a NaN in a numeric input is replaced by the stored fill
value (``IsNaN`` and ``Where``), and so is an empty string in a text input; without
``impute`` a NaN gives NaN outputs, where ``TabularModel.predict`` raises. See
``docs/onnx.md``.
"""

from __future__ import annotations

import itertools
import math
import os
import string
from typing import Any

import numpy as np

from deltaprop.export.onnx import (
    OnnxGraph,
    _element_type,
    _normalized_rows,
    add_classifier_outputs,
    add_inverse_scaling,
    add_network,
    add_one_hot,
    add_standardization,
    save_model,
)
from deltaprop.tabular.columns import TRUTH_SPELLINGS, in_family, reads_yes_no, truth_family
from deltaprop.tabular.transforms import CLIP

__all__ = ["tabular_model_to_model_proto", "tabular_model_to_onnx"]


def _replace_infinity(graph: OnnxGraph, x: str, bound: float, *, positive: bool) -> str:
    """``x`` with ``+inf`` (``positive``) or ``-inf`` replaced by ``bound``.

    A bound past the graph's float type (files before column roles bound at float64's
    largest number) becomes that type's largest number instead of an infinity.
    """
    if not math.isfinite(bound):  # nothing to replace an infinity with
        return x
    largest = float(np.finfo(graph.dtype).max)
    bound = min(max(bound, -largest), largest)
    # beyond the type's largest number lies only the infinity (Greater and Less need
    # opset 7, IsInf 10)
    if positive:
        is_inf = graph.node("Greater", [x, graph.scalar(largest)], "is_inf", width=1)
    else:
        is_inf = graph.node("Less", [x, graph.scalar(-largest)], "is_minus_inf", width=1)
    return graph.node("Where", [is_inf, graph.scalar(bound), x], "finite", width=1)


def _smooth_clip(graph: OnnxGraph, z: str) -> str:
    """``z / sqrt(1 + (z / 3)^2)`` as :func:`deltaprop.tabular.transforms.smooth_clip`.

    With ``t = |z| / 3``: for ``t <= 1`` the formula as written; beyond,
    ``sign(z) * 3 / sqrt(1 + 1 / t^2)``, which never squares a large number (``t^2``
    overflows float32 from ``|z|`` of about 6e19: the formula as written gave 0 or NaN
    there, not ``±3``). Both branches are computed; ``Where`` keeps the one that applies.
    """

    def op(op_type: str, inputs: list[str], hint: str, opset: int | None = None) -> str:
        return graph.node(op_type, inputs, hint, width=1, opset=opset)

    clip, one = graph.scalar(CLIP), graph.scalar(1.0)
    t = op("Div", [op("Abs", [z], "abs"), clip], "t")
    t2 = op("Mul", [t, t], "t_squared")
    near = op("Div", [z, op("Sqrt", [op("Add", [one, t2], "one_plus")], "root", 6)], "near")
    inverse = op("Add", [one, op("Div", [one, t2], "inverse")], "one_plus_inverse")
    signed = op("Mul", [op("Sign", [z], "sign", 9), clip], "signed_clip")
    far = op("Div", [signed, op("Sqrt", [inverse], "far_root", 6)], "far")
    return op("Where", [op("Greater", [t, one], "beyond"), far, near], "smooth_clip")


def _numeric_feature(
    graph: OnnxGraph, name: str, stats: tuple[float, float, float, float], fill: Any, pre: Any
) -> tuple[str, str | None]:
    """The scaled column and its missing mask (None without imputation)."""
    mean, scale, low, high = stats
    x = graph.add_input(name, width=1)
    is_nan = None
    if fill is not None:
        is_nan = graph.node("IsNaN", [x], "is_nan", width=1, opset=9)
        x = graph.node("Where", [is_nan, graph.scalar(fill), x], "filled", width=1)
    # infinities (only they: a finite number past the training range is scaled as it is)
    # become the training range's bounds, as Preprocessor.transform does
    x = _replace_infinity(graph, x, high, positive=True)
    x = _replace_infinity(graph, x, low, positive=False)
    if mean == 0.0 and scale == 1.0:  # not standardised
        return x, is_nan
    z = add_standardization(graph, x, [mean], [scale])
    if pre.standardize and pre.scaling == "robust":
        z = _smooth_clip(graph, z)
    return z, is_nan


def _text_feature(
    graph: OnnxGraph, name: str, categories: list[str], fill: Any
) -> tuple[str, str | None]:
    """The one-hot block and the missing mask (an empty string; None without imputation).

    A column of yes/no spellings is read in any case, as ``Preprocessor.transform``
    reads it (:func:`_any_case_one_hot`).
    """
    x = graph.add_input(name, "string", width=1)
    is_empty = None
    if fill is not None:
        empty = graph.constant(np.array([""], dtype=object), "empty", dtype=object)
        is_empty = graph.node("Equal", [x, empty], "is_empty", width=1, opset=19)
        value = graph.constant(np.array([str(fill)], dtype=object), "fill", dtype=object)
        x = graph.node("Where", [is_empty, value, x], "filled", width=1)
    if reads_yes_no(categories):
        return _any_case_one_hot(graph, x, categories), is_empty
    lowered = [c.translate(_ASCII_LOWER) for c in categories]
    if len(set(lowered)) == len(categories) == len({c.casefold() for c in categories}):
        # Preprocessor.transform matches a value written in another case to its category
        return add_one_hot(graph, _ascii_lowered(graph, x), lowered), is_empty
    return add_one_hot(graph, x, categories), is_empty


#: ASCII's capitals to small letters: what ``StringNormalizer`` lowers in the "C" locale.
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _ascii_lowered(graph: OnnxGraph, x: str) -> str:
    """The strings ``x`` (N, 1) with their ASCII capitals in small letters.

    ``StringNormalizer`` in the "C" locale (every system has it; a named locale must be
    installed where the model runs) takes one row of strings, and at least one: the column
    becomes a row after an empty string is appended, and that string is cut off again.
    Letters beyond ASCII keep their case (``ÎLE`` does not match ``Île``, which
    ``predict`` would match).
    """
    pad = graph.constant(np.array([[""]], dtype=object), "pad", dtype=object)
    padded = graph.node("Concat", [x, pad], "padded", width=1, axis=0)
    as_row = graph.constant(np.array([1, -1], dtype=np.int64), "as_row", dtype=np.int64)
    row = graph.node("Reshape", [padded, as_row], "row")
    lowered = graph.node(
        "StringNormalizer", [row], "lowered", opset=10, case_change_action="LOWER", locale="C"
    )
    as_column = graph.constant(np.array([-1, 1], dtype=np.int64), "as_column", dtype=np.int64)
    column = graph.node("Reshape", [lowered, as_column], "lowered_column", width=1)
    n_rows = graph.node("Shape", [x], "n_rows", opset=15, start=0, end=1)
    start = graph.constant(np.array([0], dtype=np.int64), "zero", dtype=np.int64)
    return graph.node("Slice", [column, start, n_rows, start], "lowered_rows", width=1, opset=10)


def _any_case_one_hot(graph: OnnxGraph, x: str, categories: list[str]) -> str:
    """One-hot of short ASCII categories in any case: ``Equal`` against every spelling
    of each (``yes``, ``Yes``, ... ``YES``), then a 0/1 ``MatMul`` adding up a
    category's spellings. (``StringNormalizer`` would lower the text, but it needs a
    locale installed and refuses an empty batch.)"""
    family = truth_family(categories)  # yes/no: Y, TRUE, 1 are yes too, as in predict
    spellings, owner = [], []
    for k, category in enumerate(categories):
        words = [category] if family is None else sorted(_words_of(category, family))
        for word in words:
            cases = itertools.product(*[(c.lower(), c.upper()) for c in word])
            for spelling in sorted({"".join(letters) for letters in cases}):
                spellings.append(spelling)
                owner.append(k)
    each = add_one_hot(graph, x, spellings)
    adds = np.zeros((len(spellings), len(categories)), dtype=graph.dtype)
    adds[np.arange(len(spellings)), owner] = 1.0
    return graph.node(
        "MatMul",
        [each, graph.constant(adds, "spelling_to_category")],
        "one_hot",
        width=len(categories),
    )


def _words_of(category: str, family: tuple[str, str]) -> set[str]:
    """Every spelling (lower case) that ``in_family`` reads as ``category``."""
    return {w for w in TRUTH_SPELLINGS if in_family(w, family) == category}


def _add_recipe(graph: OnnxGraph, estimator: Any, X: str) -> str:
    """The tabular recipe's answer before the model's head: the mean of its members'
    outputs (probabilities); for regression mapped to the recipe's target units and
    clipped to the training range (``Min`` and ``Max``: ``Clip`` takes scalars only)."""
    outputs = [add_network(graph, net, X) for net in estimator.members_]
    width = estimator.members_[0].n_outputs
    total = outputs[0]
    for output in outputs[1:]:  # in the members' order, as the Python predictions add
        total = graph.node("Add", [total, output], "members_sum", width=width)
    mean = graph.node(
        "Div", [total, graph.scalar(float(len(outputs)))], "members_mean", width=width
    )
    if not hasattr(estimator, "target_mean_"):
        return mean
    y = add_inverse_scaling(graph, mean, estimator.target_mean_, estimator.target_scale_)
    high = graph.constant(np.asarray(estimator.target_max_, dtype=graph.dtype), "target_max")
    low = graph.constant(np.asarray(estimator.target_min_, dtype=graph.dtype), "target_min")
    y = graph.node("Min", [y, high], "y_below_max", width=width)
    return graph.node("Max", [y, low], "y_clipped", width=width)


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
    recipe = hasattr(estimator, "members_")
    if dtype is None:
        weights = (
            [p for net in estimator.members_ for p in net.parameters]
            if recipe
            else estimator.coefs_
        )
        dtype = np.result_type(*weights)
    graph = OnnxGraph(dtype, name="deltaprop_tabular_model")
    fills = pre.fill_values_
    blocks = []
    i_numeric = 0
    for column in pre.columns_:
        name = column["name"]
        fill = None if fills is None else fills[name]
        if column["kind"] == "numeric":
            stats = (pre.mean_, pre.scale_, pre.low_, pre.high_)
            block, missing = _numeric_feature(
                graph, name, tuple(float(a[i_numeric]) for a in stats), fill, pre
            )
            i_numeric += 1
        elif column["kind"] == "categorical":
            block, missing = _text_feature(graph, name, column["categories"], fill)
        else:
            raise ValueError(
                f"column {name!r} is a {column['kind']} column, which the ONNX export does "
                "not express; train without it (drop=[...], --drop) to export"
            )
        blocks.append(block)
        if column.get("missing"):
            to = _element_type(graph.onnx, graph.dtype)
            blocks.append(graph.node("Cast", [missing], "missing", width=1, to=to))
    X = graph.concat(blocks, "features")
    if recipe:
        scores = _add_recipe(graph, estimator, X)
        net = estimator.members_[0]
    else:
        net = estimator._network(graph.dtype)
        scores = add_network(graph, net, X)
    if model.task_ == "regression":
        y = add_inverse_scaling(graph, scores, [pre.target_mean_], [pre.target_scale_])
        graph.add_output("predictions", graph.ravel(y, "predictions"))
    elif net.n_outputs == 1:
        add_classifier_outputs(graph, scores, kind="binary", classes=pre.classes_)
    else:
        if not recipe and estimator.out_activation_ != "softmax":  # sigmoids: as predict_proba
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
