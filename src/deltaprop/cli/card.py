"""The model card: what ``deltaprop info`` prints, read from a model file's header.

It reads the header and the few arrays it shows, never building the model, so it needs
neither scikit-learn nor pandas and answers fast; ``deltaprop evaluate --html`` puts the
same lines in its report.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deltaprop.cli.common import (
    architecture,
    best_epoch,
    divergence_line,
    number,
    recipe_lines,
    stop_explanation,
)
from deltaprop.files.container import FileHeader, read_arrays, read_header

__all__ = ["model_card", "role_lines"]

#: What is done to a column of each role, in the roles table.
_DONE = {
    "numeric": "scaled",
    "categorical": "one-hot",
    "text": "hashed words",
    "datetime": "calendar features",
    "identifier": "dropped",
    "constant": "dropped",
    "target": "predicted",
    "weight": "weights the rows",
    "id": "written next to predictions",
    "dropped": "dropped",
}


def role_lines(roles: list[tuple[str, str, str, int]], impute: str | None) -> list[str]:
    """The roles table: per column its name, role, what is done and why.

    ``roles`` lists ``(name, role, reason, n_missing)`` in the table's order.
    """
    width = max(6, *(len(name) for name, *_ in roles))
    lines = [f"columns ({len(roles)}): role, what is done, why"]
    for name, role, reason, n_missing in roles:
        done = _DONE[role]
        if n_missing and role in ("numeric", "categorical", "text", "datetime"):
            filled = "filled" if impute is not None else "an error (--impute none)"
            reason += f"; {n_missing} missing: {filled}, flagged"
        lines.append(f"  {name:<{width}}  {role:<11}  {done:<27}  {reason}")
    return lines


def _column_detail(column: dict, pre: dict, i: int) -> tuple[str, int]:
    """What was done to one feature column, and how many scaled numbers it uses."""
    kind = column["kind"]
    if kind == "numeric":
        if pre["scaling"] is None:
            return "numeric      as it is", 1
        centre = "median" if pre["scaling"] == "robust" else "mean"
        clip = ", smoothly clipped to +-3" if pre["scaling"] == "robust" else ""
        return (
            f"numeric      {centre} {pre['mean'][i]:.6g}, scale {pre['scale'][i]:.6g}{clip}",
            1,
        )
    if kind == "categorical":
        categories = column["categories"]
        shown = ", ".join(categories[:10]) + (", ..." if len(categories) > 10 else "")
        return f"categorical  {len(categories)} categories: {shown}", 0
    if kind == "datetime":
        parts = "year, month" + ("" if column.get("monthly") else ", weekday")
        parts += ", hour" if column["hour"] else ""
        read = "; numeric dates read day first" if column.get("day_first") else ""
        return f"datetime     {parts} (sin/cos), days since 1970{read}", 2
    return f"text         words hashed into {column['buckets']} columns", 0


def _schema_lines(pre: dict) -> list[str]:
    columns = pre["columns"]
    width = max(len(c["name"]) for c in columns)
    lines = [f"input columns ({len(columns)}, matched by name, any order):"]
    i_scaled = 0
    for column in columns:
        name = column["name"]
        detail, used = _column_detail(column, pre, i_scaled)
        i_scaled += used
        if column.get("missing"):
            fill = pre["fill_values"].get(name)
            detail += f"; missing values filled ({fill!r:.40}) and flagged"
        lines.append(f"  {name:<{width}}  {detail}")
    if pre["impute"] is not None:
        lines.append(f"missing values are filled ({pre['impute']})")
    else:
        lines.append("missing values are an error")
    return lines


# -- info -----------------------------------------------------------------------------
# info reads the header and the arrays it shows (never building scikit-learn objects, so
# it starts fast); a file it cannot describe is loaded in full for load's own error.


def _network_layers(network: dict) -> list[tuple[int, int, str]]:
    """``(n_in, n_out, activation)`` per layer of a stored network's config."""
    return [(la["n_in"], la["n_out"], la["activation"]["name"]) for la in network["layers"]]


def _n_parameters(header: FileHeader, prefix: str, n_layers: int) -> int:
    """The size of the weights and biases of the stored network under ``prefix``."""
    return sum(
        int(np.prod(header.arrays[f"{prefix}layers.{i}.{part}"][1]))
        for i in range(n_layers)
        for part in ("weights", "bias")
    )


def _describe_network(header: FileHeader) -> list[str]:
    layers = _network_layers(header.config)
    return [
        f"network: {architecture(layers)}; loss {header.config['loss']['name']}",
        f"parameters: {_n_parameters(header, '', len(layers)):,}",
    ]


def _float(value: Any) -> float:
    """A float of a model file's config ("inf", "-inf" and "nan" are written as text)."""
    return float(value)


def _task_line(model: dict, pre: dict) -> str:
    target = model["target"]
    if pre["task"] == "classification":
        classes = pre["classes"]
        cast = float if classes["type"] == "float" else (lambda v: v)
        values = [cast(v) for v in classes["values"]]
        shown = ", ".join(repr(c) for c in values[:20])
        return f"task: classification of {target!r} ({len(values)} classes: {shown})"
    return (
        f"task: regression of {target!r} (standardised in training: mean "
        f"{_float(pre['target_mean']):.6g}, scale {_float(pre['target_scale']):.6g})"
    )


def _training_lines(params: dict, fitted: dict) -> list[str]:
    curve = [_float(v) for v in fitted["loss_curve_"]]
    line = (
        f"training: solver {params['solver']}, {len(curve)} epochs, final loss "
        f"{number(curve[-1]) if curve else 'none'}, stop reason {fitted['stop_reason_']}"
    )
    if params["solver"] != "lbfgs":
        line += (
            f", learning rate {_float(params['learning_rate_init']):g}, batch size "
            f"{params['batch_size']}"
        )
    lines = [line + f", seed {params['random_state']}"]
    validation = [_float(v) for v in fitted["validation_loss_curve_"] or ()]
    if validation:
        lines.append(
            f"validation: {_float(params['validation_fraction']):g} of the rows held out, "
            f"lowest validation loss {number(min(validation))}"
        )
    best = best_epoch(params, fitted)
    lines.append(stop_explanation(fitted["stop_reason_"], best, len(curve)))
    divergence = fitted.get("divergence_")
    if divergence is not None:
        lines.append(divergence_line(divergence))
    class_weight = params.get("class_weight")
    if class_weight is not None:
        lines.append(f"class weights: {class_weight}")
    elif "class_weight" in params:
        lines.append("class weights: none (every class weighs the same)")
    lines.append(_parameter_line(params))
    return lines


def _mlp_lines(header: FileHeader, estimator: dict) -> list[str]:
    """The network, parameter count and training of a stored MLP estimator."""
    params, fitted = estimator["params"], estimator["fitted"]
    network = estimator["network"]["config"]
    layers = _network_layers(network)
    lines = [
        f"network: {architecture(layers)}; loss {network['loss']['name']}, "
        f"alpha {_float(params['alpha']):g}",
        f"parameters: {_n_parameters(header, 'estimator.network.', len(layers)):,}",
    ]
    return lines + _training_lines(params, fitted)


def _recipe_lines(header: FileHeader, estimator: dict, task: str) -> list[str]:
    """The members, their best epochs, the time used and the hyper-parameters of a stored
    tabular recipe."""
    members = estimator["members"]
    layers = _network_layers(members[0]["network"]["config"])
    n_parameters = sum(
        _n_parameters(header, f"estimator.members.{i}.", len(layers)) for i in range(len(members))
    )
    lines = recipe_lines(estimator["params"], estimator["fitted"], members, layers, task)
    lines.insert(1, f"parameters: {n_parameters:,} ({len(members)} members)")
    return [*lines, _parameter_line(estimator["params"])]


def _describe_tabular_model(path: str, header: FileHeader) -> list[str]:
    model = header.config
    pre = model["preprocessor"]["config"]
    lines = [_task_line(model, pre)]
    if model["estimator"]["kind"] in ("tabular_classifier", "tabular_regressor"):
        lines += _recipe_lines(header, model["estimator"]["config"], pre["task"])
    else:
        lines += _mlp_lines(header, model["estimator"]["config"])
    if model["sample_weight"] is not None:
        lines.append(f"sample weights: column {model['sample_weight']!r}")
    arrays = read_arrays(path, ["preprocessor.mean", "preprocessor.scale"])
    schema = {
        "columns": pre["columns"],
        "mean": arrays["preprocessor.mean"].astype(np.float64),
        "scale": arrays["preprocessor.scale"].astype(np.float64),
        "impute": pre["params"]["impute"],
        "scaling": pre["params"]["scaling"] if pre["params"]["standardize"] else None,
        "fill_values": pre["fill_values"] or {},
    }
    roles = [(r["name"], r["role"], r["reason"], r["n_missing"]) for r in pre["roles"]]
    return lines + role_lines(roles, pre["params"]["impute"]) + _schema_lines(schema)


#: The estimator parameters that info does not list: no effect on a fitted model.
_NOT_SHOWN = ("callbacks", "verbose", "warm_start", "device")


def _parameter_line(params: dict) -> str:
    """Every hyper-parameter of the estimator, as ``name=value``, sorted by name."""
    shown = [f"{k}={v}" for k, v in sorted(params.items()) if k not in _NOT_SHOWN]
    return "hyper-parameters: " + ", ".join(shown)


def model_card(path: str) -> list[str] | None:
    """The lines ``deltaprop info`` prints for the model file ``path``.

    None when the file holds a kind it does not describe (or a config it cannot read);
    a file that is no model file raises :class:`deltaprop.files.ModelFileError`.
    """
    header = read_header(path)
    try:
        if header.kind == "network":
            lines = _describe_network(header)
        elif header.kind == "tabular_model":
            lines = _describe_tabular_model(path, header)
        else:
            return None
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None
    version = header.library_version
    return [
        *lines,
        f"file: written by deltaprop {version}, model-file format version {header.format_version}",
    ]
