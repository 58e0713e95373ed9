"""The ``train``, ``predict``, ``evaluate``, ``info`` and ``export-onnx`` commands.

Each command is one small function taking the parsed arguments and returning an exit
code; :func:`add_commands` adds their parsers to ``deltaprop``'s, built from the shared
options of :mod:`deltaprop.cli.options`. They work on a :class:`~deltaprop.TabularModel`
(preprocessing + estimator) saved as one model file, and need ``pip install
"deltaprop[cli]"`` (pandas, pyarrow, scikit-learn, tqdm, matplotlib), except ``info``,
which reads the file's header and arrays without building the model. Every option is
documented in ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from deltaprop.cli import dask
from deltaprop.cli.common import (
    INSTALL,
    Progress,
    architecture,
    build_estimator,
    check_destination,
    finish_training,
    load_model,
    no_convergence_warnings,
    read_table_at,
    require_extras,
    say,
    write_bytes,
)
from deltaprop.cli.options import Parser, UsageError, add, impute_of, wrap
from deltaprop.core.network import Network
from deltaprop.files.container import FileHeader, load, read_arrays, read_header
from deltaprop.tabular import (
    Preprocessor,
    TabularModel,
    check_feature_scales,
    infer_roles,
    infer_task,
)
from deltaprop.training.checkpoint import Checkpoint

__all__ = ["add_commands", "add_train"]


# -- train ----------------------------------------------------------------------------
def _scale_warning(frame: Any, args: argparse.Namespace, task: str) -> str | None:

    pre = Preprocessor(args.target, task=task, standardize=False, **_preprocessing(args))
    pre.fit(frame)
    return check_feature_scales(pre.transform(frame), feature_names=pre.get_feature_names_out())


def _preprocessing(args: argparse.Namespace) -> dict[str, Any]:
    """The Preprocessor's keywords that the options of ``train`` set (not the task)."""
    return {
        "impute": impute_of(args),
        "categorical": args.categorical,
        "scaling": args.scaling or "robust",
        "drop": args.drop,
        "id_columns": args.id,
        "sample_weight": args.sample_weight,
    }


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


def _check_in_memory_options(args: argparse.Namespace) -> None:
    """The options of training in this process that only go together in some ways."""
    for option in ("dask_workers", "local_steps"):
        if getattr(args, option) is not None:
            flag = "--" + option.replace("_", "-")
            raise UsageError(f"{flag} needs --dask or --dask-scheduler ADDRESS")
    if args.resume is not None and not Path(args.resume).is_file():
        raise UsageError(f"--resume {args.resume}: no such file")
    if args.checkpoint is None and args.checkpoint_every is not None:
        raise UsageError("--checkpoint-every needs --checkpoint PATH")


def cmd_train(args: argparse.Namespace) -> int:
    """Train a model on a table and write it to ``--out``."""
    require_extras("train")
    check_destination(args.out, "--out")
    check_destination(args.plot, "--plot")
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401  (optional dependency: the cli extra)
        except ImportError:
            raise ImportError(f"--plot needs matplotlib: {INSTALL}") from None
    if args.early_stopping and args.validation_fraction == 0.0:
        raise UsageError("argument --validation-fraction: must be > 0 and < 1, got 0")
    if args.dask or args.dask_scheduler is not None:
        if args.dry_run:
            raise UsageError(
                "--dry-run reads the table in this process; it does not go with --dask"
            )
        return dask.train_on_dask(args)
    _check_in_memory_options(args)
    return _train_in_memory(args)


def _train_in_memory(args: argparse.Namespace) -> int:
    frame = read_table_at(args.data, args)
    args.target = args.target.strip()
    if args.target not in frame.columns:
        raise UsageError(
            f"target column {args.target!r} is not in {args.data!r} (columns: "
            f"{', '.join(list(frame.columns)[:20])})"
        )
    roles = infer_roles(
        frame,
        args.target,
        sample_weight=args.sample_weight,
        id_columns=args.id or (),
        drop=args.drop or (),
        categorical=args.categorical or (),
    )
    table = [(n, r.role, r.reason, r.n_missing) for n, r in roles.items()]
    if args.dry_run or not args.quiet:
        print("\n".join(role_lines(table, impute_of(args))))
    if args.dry_run:
        return 0
    task = args.task or infer_task(frame[args.target], name=args.target)
    if args.no_standardize:
        message = _scale_warning(frame, args, task)
        if message is not None:
            warnings.warn(message, UserWarning, stacklevel=1)

    progress = Progress(
        args.max_iter,
        bar=sys.stderr.isatty() and not args.quiet,
        lines=args.verbose > 0 and not args.quiet,
    )
    callbacks: list[Any] = [progress]
    if args.checkpoint is not None:
        callbacks.append(Checkpoint(args.checkpoint, every=args.checkpoint_every or 1))
    preprocessing = _preprocessing(args)
    del preprocessing["sample_weight"]  # TabularModel.fit takes it
    model = TabularModel(
        build_estimator(args, task, callbacks),
        task=task,
        standardize=not args.no_standardize,
        **preprocessing,
    )
    with no_convergence_warnings():
        try:
            model.fit(frame, args.target, sample_weight=args.sample_weight, resume=args.resume)
        finally:
            progress.close()
    model.estimator_.set_params(callbacks=None)  # functions are never stored in model files
    return finish_training(args, model, len(frame))


# -- predict --------------------------------------------------------------------------
def cmd_predict(args: argparse.Namespace) -> int:
    """Write one prediction (and, with --proba, class probabilities) per input row."""
    require_extras("predict")
    check_destination(args.out, "--out")
    model = load_model(args.model)
    if args.proba and model.task_ != "classification":
        raise UsageError("--proba needs a classification model; this one is regression")
    frame = read_table_at(args.data, args)
    ids = [c for c in model.id_columns_ if c in frame.columns]
    absent = [c for c in model.id_columns_ if c not in frame.columns]
    if absent:
        warnings.warn(
            f"the table lacks the ID column(s) {absent}: predictions are written without them",
            UserWarning,
            stacklevel=1,
        )
    out = frame[ids].reset_index(drop=True).copy()
    out[model.target_ if model.target_ not in ids else f"predicted_{model.target_}"] = (
        model.predict(frame)
    )
    if args.proba:
        proba = model.predict_proba(frame)
        for k, label in enumerate(model.classes_.tolist()):
            out[f"proba_{label}"] = proba[:, k]
    text = out.to_csv(index=False, lineterminator="\n")
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_bytes(args.out, text.encode("utf-8"))
        if args.verbose:
            print(f"deltaprop: wrote {len(out)} rows to {args.out}", file=sys.stderr)
    return 0


# -- evaluate -------------------------------------------------------------------------
def _confusion_lines(matrix: list[list[float]], labels: list[str]) -> list[str]:
    """The confusion matrix as aligned text: counts, or sums of weights (6 digits)."""
    cells = [[v if isinstance(v, int) else f"{v:.6g}" for v in row] for row in matrix]
    width = max(6, *(len(label) for label in labels), *(len(str(v)) for r in cells for v in r))
    lines = ["confusion matrix (rows: true class, columns: predicted class):"]
    lines.append(" " * (width + 2) + " ".join(f"{label:>{width}}" for label in labels))
    for label, row in zip(labels, cells, strict=True):
        lines.append(f"  {label:<{width}}" + " ".join(f"{v:>{width}}" for v in row))
    return lines


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Score a model on a labelled table."""
    require_extras("evaluate")
    model = load_model(args.model)
    frame = read_table_at(args.data, args)
    target = args.target or model.target_
    scores = model.evaluate(frame, target=target, sample_weight=args.sample_weight)
    if args.json:
        print(json.dumps(scores))
        return 0
    weighted = "" if args.sample_weight is None else f", weighted by {args.sample_weight!r}"
    print(
        f"evaluated on {len(frame)} rows of {args.data} (target {target!r}, {model.task_}"
        f"{weighted})"
    )
    for key, value in scores.items():
        if key != "confusion_matrix":
            print(f"{key:<18} {value:.6g}")
    if "confusion_matrix" in scores:
        labels = [str(c) for c in model.classes_.tolist()]
        print("\n".join(_confusion_lines(scores["confusion_matrix"], labels)))
    return 0


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
        parts = "year, month, weekday" + (", hour" if column["hour"] else "")
        return f"datetime     {parts} (sin/cos), days since 1970", 2
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
        f"{curve[-1]:.6g}, stop reason {fitted['stop_reason_']}"
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
            f"lowest validation loss {min(validation):.6g}"
        )
    return lines


def _describe_tabular_model(path: str, header: FileHeader) -> list[str]:
    model = header.config
    pre = model["preprocessor"]["config"]
    estimator = model["estimator"]["config"]
    params, fitted = estimator["params"], estimator["fitted"]
    network = estimator["network"]["config"]
    layers = _network_layers(network)
    lines = [_task_line(model, pre)]
    lines.append(
        f"network: {architecture(layers)}; loss {network['loss']['name']}, "
        f"alpha {_float(params['alpha']):g}"
    )
    n_parameters = _n_parameters(header, "estimator.network.", len(layers))
    lines.append(f"parameters: {n_parameters:,}")
    lines += _training_lines(params, fitted)
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


def cmd_info(args: argparse.Namespace) -> int:
    """Describe a model file: architecture, size, training, the input it expects."""
    header = read_header(args.model)
    try:
        if header.kind == "network":
            lines = _describe_network(header)
        elif header.kind == "tabular_model":
            lines = _describe_tabular_model(args.model, header)
        else:
            lines = None
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        lines = None
    if lines is None:
        # not a kind info describes, or a config it cannot read: load's own error
        obj = load(args.model)
        raise UsageError(f"{args.model!r} holds a {type(obj).__name__}, not a model")
    print("\n".join(lines))
    return 0


# -- export-onnx ----------------------------------------------------------------------
def cmd_export_onnx(args: argparse.Namespace) -> int:
    """Write a model file (tabular model, estimator or network) as an ONNX model."""
    check_destination(args.out, "OUT.onnx")
    obj = load(args.model)
    if not isinstance(obj, Network) and not hasattr(obj, "to_onnx"):
        raise UsageError(f"{args.model!r} holds a {type(obj).__name__}, which has no ONNX export")
    proto = obj.to_onnx(args.out, opset=args.opset, dtype=args.dtype)
    inputs = ", ".join(i.name for i in proto.graph.input)
    outputs = ", ".join(o.name for o in proto.graph.output)
    say(
        args,
        f"wrote {args.out}: opset {proto.opset_import[0].version}; inputs {inputs}; "
        f"outputs {outputs}",
    )
    return 0


# -- the parsers ----------------------------------------------------------------------
_TRAIN_EPILOG = """examples:
  deltaprop train iris.csv --target species --out iris.deltaprop
  deltaprop train houses.parquet --target price --hidden 64,32 --solver sgd \\
      --learning-rate 0.01 --batch-size 32 --early-stopping --plot loss.png
  deltaprop train big.csv --target y --out model.deltaprop --checkpoint run.ckpt \\
      --checkpoint-every 10      # later, after a crash: add --resume run.ckpt
  deltaprop train parquet_folder/ --target y --out model.deltaprop --solver lbfgs \\
      --dask-scheduler tcp://scheduler:8786     # or --dask for a local cluster

Ctrl-C stops training after the current batch, writes the model (with --out) and
exits with code 130 (through Dask it stops at once, writing no model)."""

#: The option groups of ``train``, in the order of its help.
_TRAIN_GROUPS = {
    "network": ("hidden", "activation", "output_activation", "loss", "alpha"),
    "training": (
        "solver", "learning_rate", "batch_size", "max_iter", "target_loss", "tol",
        "n_iter_no_change", "early_stopping", "validation_fraction", "sample_weight",
        "class_weight", "seed",
    ),
    "reading the table": ("sep", "decimal", "encoding"),
    "preprocessing": (
        "impute", "scaling", "no_standardize", "categorical", "id", "drop", "dry_run",
    ),
    "output and checkpoints": (
        "plot", "checkpoint", "checkpoint_every", "resume", "quiet", "verbose",
    ),
    "Dask (a Parquet dataset larger than this machine's memory; docs/scale.md)": (
        "dask", "dask_scheduler", "dask_workers", "local_steps",
    ),
}  # fmt: skip


def add_train(commands: Any) -> Parser:
    """Add the parser of ``train`` to ``commands``; returns it."""
    train = commands.add_parser(
        "train",
        help="train a model on a table (CSV, Parquet, NPZ)",
        description=wrap(
            "Train a feed-forward network on the table DATA to predict the column "
            "--target from the others. Each column gets a role, printed first (--dry-run "
            "prints the roles and stops): numbers are robustly scaled, categories one-hot "
            "encoded, dates become calendar features, free text hashed words; "
            "identifiers and constant columns are left out; missing values are filled "
            "and flagged. This preprocessing is stored in the model. A progress bar "
            "shows the epoch, loss and validation loss on a terminal."
        ),
        epilog=_TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add(train, "data", help="training table: .csv, .tsv, .parquet, .npz, .xlsx")
    add(train, "target", required=True)
    add(train, "out", metavar="MODEL", help="write the trained model to this file")
    add(train, "task")
    for title, names in _TRAIN_GROUPS.items():
        group = train.add_argument_group(title)
        for name in names:
            add(group, name)
    train.set_defaults(func=cmd_train)
    return train


def add_commands(commands: Any) -> None:
    """Add the parsers of train, predict, evaluate, info and export-onnx to ``commands``."""
    add_train(commands)

    for name, (texts, options, func) in _MODEL_COMMANDS.items():
        parser = commands.add_parser(name, **texts)
        for option in options:
            option_name, *own_help = option.split(": ", 1)
            if option_name == "OUT.onnx":  # the only positional of its own
                parser.add_argument("out", metavar="OUT.onnx", help=own_help[0])
            else:
                add(parser, option_name, help=own_help[0] if own_help else None)
        parser.set_defaults(func=func)


#: The commands that read a model file: their help texts, their options (``"name"`` or
#: ``"name: the command's own help"``, in order) and their functions.
_MODEL_COMMANDS: dict[str, tuple[dict, list[str], Any]] = {
    "predict": (
        {
            "help": "predict with a trained model",
            "description": (
                "Predict one value per row of DATA with MODEL; columns are matched by name "
                "(any order; extra ones are ignored, missing ones named). Writes CSV: the "
                "model's ID columns (train --id), a column named after the target with the "
                "predicted labels (or numbers, in the target's units) and, with --proba, one "
                "column proba_<class> per class. Unseen categories and missing values are "
                "handled and counted in one line on stderr."
            ),
            "epilog": (
                "example: deltaprop predict iris.deltaprop new.csv --proba --out predictions.csv"
            ),
        },
        [
            "model",
            "data: the rows to predict",
            "out: write CSV here (default: standard output)",
            "proba",
            "sep",
            "decimal",
            "encoding",
            "verbose",
        ],
        cmd_predict,
    ),
    "evaluate": (
        {
            "help": "score a trained model on labelled data",
            "description": (
                "Score MODEL on DATA. Classification: accuracy, balanced_accuracy, log_loss, "
                "confusion_matrix; regression: r2, mse, mae (in the target's units)."
            ),
            "epilog": (
                "example: deltaprop evaluate iris.deltaprop test.csv --target species --json"
            ),
        },
        [
            "model",
            "data: labelled rows",
            "target: the column of true values (default: the model's)",
            "sample_weight: weight every score by this column (numbers >= 0); default: each "
            "row counts once",
            "json",
            "sep",
            "decimal",
            "encoding",
            "verbose",
        ],
        cmd_evaluate,
    ),
    "info": (
        {
            "help": "describe a model file",
            "description": (
                "Print a model's task, architecture, parameter count, training summary "
                "(solver, epochs, final loss, stop reason) and the input columns it expects."
            ),
            "epilog": "example: deltaprop info iris.deltaprop",
        },
        ["model: a model file", "verbose"],
        cmd_info,
    ),
    "export-onnx": (
        {
            "help": "write a model as an ONNX file",
            "description": wrap(
                "Write MODEL as the ONNX model OUT.onnx (needs the onnx package: pip install "
                '"deltaprop[onnx]"). A model written by '
                "'deltaprop train' takes one input per "
                "feature column, named after it, shape (N, 1): numbers as floats, text as "
                "strings; the preprocessing runs inside the graph. Its outputs are label and "
                "probabilities (classification) or predictions (regression, in the target's "
                "units). A saved estimator or network exports too (input X)."
            ),
            "epilog": "example: deltaprop export-onnx iris.deltaprop iris.onnx --dtype float32",
        },
        [
            "model: a model file",
            "OUT.onnx: the ONNX file to write",
            "opset",
            "dtype",
            "quiet",
            "verbose",
        ],
        cmd_export_onnx,
    ),
}
