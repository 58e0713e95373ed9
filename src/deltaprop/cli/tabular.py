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
import re
import sys
import warnings
from typing import Any

import numpy as np

from deltaprop.cli import dask
from deltaprop.cli.card import model_card, role_lines
from deltaprop.cli.common import (
    INSTALL,
    Progress,
    build_estimator,
    build_recipe,
    check_checkpoint_options,
    check_destination,
    finish_training,
    load_model,
    no_convergence_warnings,
    no_such_target,
    progress_options,
    read_table_at,
    require_extras,
    say,
    training_png,
    write_bytes,
    written_columns,
)
from deltaprop.cli.options import (
    MLP_OPTIONS,
    Parser,
    UsageError,
    add,
    impute_of,
    table_reading,
    wrap,
)
from deltaprop.cli.report import html_page, report_lines, report_png
from deltaprop.cli.terminal import terminal_safe
from deltaprop.core.network import Network
from deltaprop.files.container import load
from deltaprop.tabular import (
    Preprocessor,
    TabularModel,
    check_feature_scales,
    infer_roles,
    infer_task,
)
from deltaprop.tabular.columns import (
    DECIMAL,
    MAX_CLASSES_INFERRED,
    looks_like_counts,
    missing_mask,
    numbered_as,
    require_pandas,
)
from deltaprop.tabular.model import rows_with_target
from deltaprop.tabular.plain import PlainTable, plain_csv_text, read_small_csv
from deltaprop.tabular.readers import numbers_or_text
from deltaprop.training.checkpoint import Checkpoint, ResumeMismatchError, describe_change

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
        "numeric": args.numeric,
        "scaling": args.scaling or "robust",
        "drop": args.drop,
        "id_columns": args.id,
        "sample_weight": args.sample_weight,
    }


def _flags(names: Any) -> str:
    return ", ".join("--" + name.replace("_", "-") for name in names)


def choose_recipe(args: argparse.Namespace) -> str:
    """``"tabular"`` or ``"mlp"``: ``--recipe``, else mlp when an MLP option is given.

    Raises
    ------
    UsageError
        For MLP options with ``--recipe tabular``, or ``--time-budget`` with the MLP.
    """
    given = [name for name in MLP_OPTIONS if name in getattr(args, "given", ())]
    if args.recipe == "tabular" and given:
        raise UsageError(
            f"{_flags(given)} set{'s' if len(given) == 1 else ''} the MLP estimator; "
            "--recipe tabular takes none of them (drop them, or write --recipe mlp)"
        )
    recipe = args.recipe or ("mlp" if given else "tabular")
    if recipe == "mlp" and args.time_budget is not None:
        if args.recipe:
            why = "not the MLP estimator of --recipe mlp: use --max-iter"
        else:
            one = len(given) == 1
            why = (
                f"not the MLP estimator that {_flags(given)} select{'s' if one else ''}: "
                f"drop {'it' if one else 'them'} or --time-budget"
            )
        raise UsageError(f"--time-budget caps the tabular recipe, {why}")
    return recipe


def _check_in_memory_options(args: argparse.Namespace) -> None:
    """The options of training in this process that only go together in some ways."""
    for option in ("dask_workers", "dask_worker_memory", "dask_data", "local_steps"):
        if getattr(args, option) is not None:
            flag = "--" + option.replace("_", "-")
            raise UsageError(f"{flag} needs --dask or --dask-scheduler ADDRESS")
    check_checkpoint_options(args)


#: How the command line spells the options of deltaprop.train that ``train`` sets (the
#: others, such as Adam's beta_1, keep train's names in a refused --resume)
_SPELLED = {"optimizer": "--solver"} | {
    name: "--" + name.replace("_", "-")
    for name in (
        "learning_rate", "momentum", "batch_size", "tol", "n_iter_no_change",
        "early_stopping", "validation_fraction", "class_weight", "target_loss",
    )
}  # fmt: skip


def _resume_mismatch(exc: ResumeMismatchError, args: argparse.Namespace) -> str:
    """What changed since the checkpoint, in the command line's option names."""
    parts = []
    for name, old, new in exc.changes:
        if name == "data":
            parts.append(describe_change(name, old, new) + f" in {args.data!r}")
            continue
        parts.append(describe_change(_SPELLED.get(name, name), old, new))
    return (
        f"--resume {args.resume}: this run differs from the checkpoint's: "
        + "; ".join(parts)
        + " (resume with the options and data of the run that wrote it, or drop --resume)"
    )


def cmd_train(args: argparse.Namespace) -> int:
    """Train a model on a table and write it to ``--out``.

    The tabular recipe trains in this process without scikit-learn (importing it would
    take about as long as a small table's fit); the MLP estimators and Dask need it.
    """
    recipe = choose_recipe(args)
    on_dask = args.dask or args.dask_scheduler is not None
    require_extras("train", sklearn=recipe == "mlp" or on_dask)
    check_destination(args.out, "--out")
    check_destination(args.plot, "--plot")
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401  (optional dependency: the cli extra)
        except ImportError:
            raise ImportError(f"--plot needs matplotlib: {INSTALL}") from None
    if args.early_stopping and args.validation_fraction == 0.0:
        raise UsageError("argument --validation-fraction: must be > 0 and < 1, got 0")
    if on_dask:
        if args.dry_run:
            raise UsageError(
                "--dry-run reads the table in this process; it does not go with --dask"
            )
        if args.recipe == "tabular" or args.time_budget is not None:
            option = "--recipe tabular" if args.recipe else "--time-budget"
            raise UsageError(
                f"{option} is not available with --dask ({dask.WHY_MLP}); drop it: "
                "through Dask, train trains one MLP estimator"
            )
        return dask.train_on_dask(args)
    args.recipe = recipe
    _check_in_memory_options(args)
    return _train_in_memory(args)


#: Classes 0, 1, ..., this or more, all present: the counts a regression may predict.
_COUNT_CLASSES = 8


def _task_line(target: Any, args: argparse.Namespace, task: str) -> str:
    """``--dry-run``'s line on the task: what train will fit, and for integer classes 0 to
    7 or more, all present (visits, children, accidents: counts), that --task regression
    predicts them as numbers."""
    how = "given" if args.task else "inferred"
    line = f"task: {task} of {args.target!r} ({how})"
    if args.task:
        return line
    numbers = require_pandas().to_numeric(target, errors="coerce").dropna().to_numpy()
    if numbers.size != target.notna().sum() or not np.all(numbers == np.round(numbers)):
        return line
    distinct, frequencies = np.unique(numbers, return_counts=True)
    if task == "regression":
        if len(distinct) <= MAX_CLASSES_INFERRED and looks_like_counts(distinct, frequencies):
            mode = int(distinct[np.argmax(frequencies)])
            line += (
                f"; the integers 0 to {int(distinct[-1])}, most often {mode}, look like counts: "
                "--task classification predicts them as classes"
            )
        return line
    if distinct[0] == 0 and len(distinct) >= _COUNT_CLASSES and distinct[-1] == len(distinct) - 1:
        line += (
            f"; its {len(distinct)} classes are the integers 0 to {int(distinct[-1])}: if "
            "they count something, --task regression predicts them as numbers"
        )
    return line


def _train_in_memory(args: argparse.Namespace) -> int:
    args.target = args.target.strip()
    # IDs, declared categories and the target as written: 007 is a code, not 7
    written = [*(args.id or ()), *(args.categorical or ()), args.target]
    frame = read_table_at(args.data, args, keep_spelling=written)
    labels = None
    if args.target in frame.columns and frame[args.target].dtype == object:
        # the target as numbers where it reads as numbers, its text kept for class labels
        labels = frame[args.target]
        decimal = frame.attrs.get(DECIMAL, ".")
        frame[args.target] = numbers_or_text(labels, require_pandas(), decimal)
    if args.target not in frame.columns:
        raise no_such_target(args, list(frame.columns))
    labelled, rows = rows_with_target(frame, args.target)  # the rows the model learns from
    with numbered_as(rows):
        roles = infer_roles(
            labelled,
            args.target,
            sample_weight=args.sample_weight,
            id_columns=args.id or (),
            drop=args.drop or (),
            categorical=args.categorical or (),
            numeric=args.numeric or (),
        )
    table = [(n, r.role, r.reason, r.n_missing) for n, r in roles.items()]
    if args.dry_run or not args.quiet:
        print(terminal_safe("\n".join(role_lines(table, impute_of(args)))))
    task = args.task or infer_task(frame[args.target], name=args.target)
    if args.dry_run:
        print(terminal_safe(_task_line(frame[args.target], args, task)))
        return 0
    if (
        task == "classification"
        and labels is not None
        and _spelling_matters(labels, frame[args.target])
    ):
        frame[args.target] = labels  # class labels 01, 02: not the numbers 1, 2
    if args.no_standardize:
        message = _scale_warning(frame, args, task)
        if message is not None:
            warnings.warn(message, UserWarning, stacklevel=1)

    show = progress_options(args, task)
    if args.recipe == "tabular":
        estimator = build_recipe(args, task, None)
        progress = Progress(lambda: estimator.max_epochs_, members=estimator.n_ensemble, **show)
        estimator.set_params(callbacks=[progress])
    else:
        progress = Progress(args.max_iter, **show)
        callbacks: list[Any] = [progress]
        if args.checkpoint is not None:
            callbacks.append(Checkpoint(args.checkpoint, every=args.checkpoint_every or 1))
        estimator = build_estimator(args, task, callbacks)
    preprocessing = _preprocessing(args)
    del preprocessing["sample_weight"]  # TabularModel.fit takes it
    model = TabularModel(estimator, task=task, standardize=not args.no_standardize, **preprocessing)
    with no_convergence_warnings():
        try:
            model.fit(frame, args.target, sample_weight=args.sample_weight, resume=args.resume)
        except ResumeMismatchError as exc:
            raise UsageError(_resume_mismatch(exc, args)) from None
        finally:
            progress.close()
    estimator.set_params(callbacks=None)  # functions are never stored in model files
    n_labelled = len(frame) - int(missing_mask(frame[args.target], require_pandas()).sum())
    return finish_training(args, model, n_labelled, fitted=estimator)


#: A number written with a leading zero (01, 007): a code, whose spelling is its name.
_LEADING_ZERO = re.compile(r"^[+-]?0[0-9]")


def _spelling_matters(text: Any, numbers: Any) -> bool:
    """Whether class labels the file wrote as numbers are codes to keep as written: some
    has a leading zero (``01``, ``02``; ``1``, ``1.0``, ``1,000`` are numbers), and each
    number has one spelling (``1`` and ``01`` stay one class)."""
    if numbers.dtype == object:
        return False
    pairs = {(n, t) for n, t in zip(numbers, text, strict=True) if t is not None}
    if len(pairs) != len({n for n, _ in pairs}):
        return False
    return any(_LEADING_ZERO.match(t) for _, t in pairs)


# -- predict --------------------------------------------------------------------------
def cmd_predict(args: argparse.Namespace) -> int:
    """Write one prediction (and, with --proba, class probabilities) per input row.

    Neither scikit-learn nor, for a small CSV file, pandas is imported: the model
    predicts with its :class:`~deltaprop.estimators.predictor.Predictor`, and the file
    is read (and the predictions written) with the csv module when
    :func:`~deltaprop.tabular.plain.read_small_csv` can promise pandas's reading.
    """
    check_destination(args.out, "--out")
    model = load_model(args.model)
    if args.proba and model.task_ != "classification":
        raise UsageError("--proba needs a classification model; this one is regression")
    table = None
    written = written_columns(model)
    if model.preprocessor_.reads_plain_tables():
        table = read_small_csv(args.data, **table_reading(args), keep_spelling=written)
    if table is None:
        require_extras("predict", sklearn=False)
        table = read_table_at(args.data, args, keep_spelling=written)
    ids = [c for c in model.id_columns_ if c in table.columns]
    absent = [c for c in model.id_columns_ if c not in table.columns]
    if absent:
        warnings.warn(
            f"the table lacks the ID column(s) {absent}: predictions are written without them",
            UserWarning,
            stacklevel=1,
        )
    # name -> values, in order; a later name replaces an earlier one in place (as pandas)
    out: dict[str, Any] = {c: _column_values(table, c) for c in ids}
    out[model.target_ if model.target_ not in ids else f"predicted_{model.target_}"] = (
        model.predict(table)
    )
    if args.proba:
        proba = model.predict_proba(table)
        for k, label in enumerate(model.classes_.tolist()):
            out[f"proba_{label}"] = proba[:, k]
    if isinstance(table, PlainTable):
        text = plain_csv_text(list(out.items()))
    else:
        frame = table[ids].reset_index(drop=True).copy()
        for name, values in out.items():
            frame[name] = values
        text = frame.to_csv(index=False, lineterminator="\n")
    if args.out is None:
        # on a terminal the table's labels and IDs are shown, never obeyed; a pipe or a
        # file gets them as they are (they are data)
        sys.stdout.write(terminal_safe(text) if sys.stdout.isatty() else text)
    else:
        write_bytes(args.out, text.encode("utf-8"))
        if args.verbose:
            print(f"deltaprop: wrote {len(table)} rows to {args.out}", file=sys.stderr)
    return 0


def _column_values(table: Any, name: str) -> Any:
    """A column of a PlainTable (an array) or of a DataFrame (a Series)."""
    return table[name] if isinstance(table, PlainTable) else table[name].reset_index(drop=True)


# -- evaluate -------------------------------------------------------------------------
def cmd_evaluate(args: argparse.Namespace) -> int:
    """Score a model on a labelled table: text or JSON, and a picture or a page."""
    require_extras("evaluate")
    for option in ("plot", "html"):
        check_destination(getattr(args, option), f"--{option}")
    model = load_model(args.model)
    target = args.target or model.target_
    written = written_columns(model, target)
    frame = read_table_at(args.data, args, keep_spelling=written)
    report = model.report(frame, target=target, sample_weight=args.sample_weight)
    # JSON escapes every control and non-ASCII character itself
    print(
        json.dumps(report)
        if args.json
        else terminal_safe("\n".join(report_lines(report, args.data)))
    )
    if args.plot is None and args.html is None:
        return 0
    actual = predicted = None
    if model.task_ == "regression":
        features = frame.drop(columns=[target]) if target != model.target_ else frame
        predicted = model.predict(features)
        actual = model.preprocessor_.inverse_transform_target(
            model.preprocessor_.transform_target(frame[target])
        )
    picture = report_png(report, actual, predicted)
    if args.plot is not None:
        write_bytes(args.plot, picture)
    if args.html is not None:
        estimator = model.estimator_
        page = html_page(
            report,
            data=args.data,
            model=args.model,
            picture=picture,
            losses=training_png(estimator),
            card=model_card(args.model) or [],
        )
        write_bytes(args.html, page.encode("utf-8"))
    return 0


# -- info -----------------------------------------------------------------------------
def cmd_info(args: argparse.Namespace) -> int:
    """Describe a model file: architecture, size, training, the input it expects."""
    lines = model_card(args.model)
    if lines is None:
        # not a kind info describes, or a config it cannot read: load's own error
        obj = load(args.model)
        raise UsageError(f"{args.model!r} holds a {type(obj).__name__}, not a model")
    print(terminal_safe("\n".join(lines)))
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
  deltaprop train houses.csv --target price --out houses.deltaprop --time-budget 60
  deltaprop train houses.parquet --target price --hidden 64,32 --solver sgd \\
      --learning-rate 0.01 --batch-size 32 --early-stopping --plot loss.png
      # an MLP option (network, training) selects the MLP estimator: --recipe mlp
  deltaprop train big.csv --target y --out model.deltaprop --checkpoint run.ckpt \\
      --checkpoint-every 10      # later, after a crash: add --resume run.ckpt
  deltaprop train parquet_folder/ --target y --out model.deltaprop --solver lbfgs \\
      --dask-scheduler tcp://scheduler:8786     # or --dask for a local cluster

Ctrl-C stops training after the current batch, writes the model (with --out) and
exits with code 130 (through Dask it stops at once, writing no model)."""

#: The option groups of ``train``, in the order of its help.
_TRAIN_GROUPS = {
    "model": ("recipe", "time_budget", "seed"),
    "network (MLP estimator; any of these selects --recipe mlp)": (
        "hidden", "activation", "output_activation", "loss", "alpha",
    ),
    "training (MLP estimator; any of these selects --recipe mlp)": (
        "solver", "learning_rate", "batch_size", "max_iter", "target_loss", "tol",
        "n_iter_no_change", "early_stopping", "validation_fraction", "class_weight",
    ),
    "rows": ("sample_weight",),
    "reading the table": ("sep", "decimal", "encoding", "sheet"),
    "preprocessing": (
        "impute", "scaling", "no_standardize", "categorical", "numeric", "id", "drop",
        "dry_run",
    ),
    "output": ("plot", "keep_diverged", "quiet", "verbose"),
    "checkpoints (MLP estimator; any of these selects --recipe mlp)": (
        "checkpoint", "checkpoint_every", "resume",
    ),
    "Dask (a Parquet dataset larger than this machine's memory; docs/scale.md)": (
        "dask", "dask_scheduler", "dask_workers", "dask_worker_memory", "dask_data",
        "local_steps",
    ),
}  # fmt: skip


def add_train(commands: Any) -> Parser:
    """Add the parser of ``train`` to ``commands``; returns it."""
    train = commands.add_parser(
        "train",
        help="train a model on a table (CSV, Parquet, NPZ)",
        description=wrap(
            "Train feed-forward networks on the table DATA to predict the column "
            "--target from the others. Each column gets a role, printed first (--dry-run "
            "prints the roles and stops): numbers are robustly scaled, categories one-hot "
            "encoded, dates become calendar features, free text hashed words; "
            "identifiers and constant columns are left out; missing values are filled "
            "and flagged. This preprocessing is stored in the model. By default (--recipe "
            "tabular) train fits deltaprop's tabular recipe, for classification and "
            "regression alike: 5 MLPs (3 hidden layers of 128 ReLU units, Adam, cosine "
            "decay), each holding out its own 20% of the rows and keeping its best epoch, "
            "averaged; the epochs follow from the table's size and --time-budget caps "
            "the time. Any option of the network, training or checkpoint groups trains "
            "one MLP estimator instead (--recipe mlp, scikit-learn's MLP defaults). A "
            "progress bar shows the epoch, loss, validation loss and validation score "
            "(accuracy or R2) on a terminal."
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
    train.watch(MLP_OPTIONS)
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
            "sheet",
            "verbose",
        ],
        cmd_predict,
    ),
    "evaluate": (
        {
            "help": "score a trained model on labelled data",
            "description": (
                "Score MODEL on DATA. Classification: accuracy, balanced_accuracy, log_loss, "
                "roc_auc, precision/recall/F1/support per class, the confusion matrix; "
                "regression: r2, rmse, mse, mae, mape (in the target's units). --plot draws "
                "the confusion matrix or predicted vs actual and the residuals; --html "
                "writes one self-contained page with the report, the pictures, the loss "
                "curves of training and the model card (info)."
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
            "plot: draw the confusion matrix, or predicted vs actual and the residuals, to "
            "a PNG file",
            "html",
            "sep",
            "decimal",
            "encoding",
            "sheet",
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
