"""The ``serve`` command: watch a network learn a table on a local web page.

``serve`` takes ``train``'s options with the same spellings and meanings; where it
deliberately starts elsewhere (a small network that a learner can watch, plain gradient
steps, a validation curve), :data:`OWN_DEFAULTS` lists the options and its help says so.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from deltaprop import live
from deltaprop.cli.common import read_table_at
from deltaprop.cli.options import IMPUTE, UsageError, add
from deltaprop.optim.optimizers import SGD, Adam, Optimizer

__all__ = ["OWN_DEFAULTS", "add_serve", "cmd_serve"]

#: The options whose default ``serve`` sets apart from ``train``'s: option -> (default,
#: how its help says it).
OWN_DEFAULTS: dict[str, tuple[Any, str]] = {
    "hidden": ((16, 8), "16,8"),
    "activation": ("tanh", "tanh"),
    "solver": ("sgd", "sgd"),
    "learning_rate": (0.5, "0.5, as explain's"),
    "batch_size": (None, "all rows, full batch"),
    "max_iter": (5000, "5000"),
    "validation_fraction": (0.2, "0.2"),
    "alpha": (0.0, "0: no penalty, the loss is the data's alone"),
}

_HELP = {
    "hidden": "hidden-layer sizes, comma separated; 'none' for none",
    "activation": "activation of the hidden layers",
    "solver": "gd or sgd (with --momentum) or adam; the page needs a learning rate: no lbfgs",
    "learning_rate": "step size",
    "batch_size": "rows per update ('auto': min(200, rows))",
    "max_iter": "epochs",
    "alpha": "L2 penalty (the page shows its share of each gradient)",
    "validation_fraction": (
        "rows held out for the validation curve (0 for none; none below 50 rows)"
    ),
}


def _optimizer(args: argparse.Namespace) -> Optimizer:
    if args.solver == "lbfgs":
        raise UsageError(
            "--solver lbfgs is not available with serve: the page steps with a learning "
            "rate; choose gd, sgd or adam"
        )
    if args.solver == "adam":
        return Adam(learning_rate=args.learning_rate)
    momentum = args.momentum if args.solver == "sgd" else 0.0
    return SGD(learning_rate=args.learning_rate, momentum=momentum)


def _table_model(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The network, rows and page options for DATA and --target."""
    if args.target is None:
        raise UsageError("serve needs --target COLUMN with DATA (or --toy NAME instead of DATA)")
    table = read_table_at(args.data, args)
    if args.target not in table.columns:
        raise UsageError(
            f"--target {args.target!r} is not a column of {args.data}; "
            f"columns: {list(table.columns)[:20]}"
        )
    if args.sample_weight is not None and args.sample_weight not in table.columns:
        raise UsageError(
            f"--sample-weight {args.sample_weight!r} is not a column of {args.data}; "
            f"columns: {list(table.columns)[:20]}"
        )
    model = live.model_from_table(
        table,
        args.target,
        hidden=list(args.hidden),
        activation=args.activation,
        random_state=args.seed,
        sample_weight=args.sample_weight,
        task=args.task,
        impute=IMPUTE.get(args.impute),
        categorical=args.categorical,
        numeric=args.numeric,
        standardize=not args.no_standardize,
        drop=args.drop,
        **({} if args.scaling is None else {"scaling": args.scaling}),
        alpha=args.alpha,
    )
    options = {
        "sample_weight": model.sample_weight,
        "class_weight": args.class_weight,
        "feature_names": model.feature_names,
        "class_names": model.class_names,
        "target_name": args.target,
        "title": os.path.basename(args.data),
        "preprocessor": model.preprocessor,
    }
    return model, options


def cmd_serve(args: argparse.Namespace) -> int:
    """Train on a table (or a toy data set) while a local page shows the network learning."""
    optimizer = _optimizer(args)
    if (args.data is None) == (args.toy is None):
        raise UsageError("give DATA (a table) or --toy NAME, not both and not neither")
    if args.toy is not None:
        given = [
            f"--{n.replace('_', '-')}" for n in _TABLE_ONLY if getattr(args, n) not in (None, False)
        ]
        if given:
            raise UsageError(f"{', '.join(given)} apply to DATA, not to --toy")
    n_rows = None
    if args.toy is None:
        model, data_options = _table_model(args)
        n_rows = len(model.X)
    options = {
        "port": args.port,
        "open_browser": args.open,
        "optimizer": optimizer,
        "max_iter": args.max_iter,
        "target_loss": args.target_loss,
        "validation_fraction": args.validation_fraction or None,
        "epochs_per_second": args.epochs_per_second,
        "paused": args.paused,
    }
    batch_size = args.batch_size
    try:
        if args.toy is not None:
            if batch_size == "auto":
                batch_size = min(200, len(live.toy(args.toy).X))
            live.serve_toy(
                args.toy,
                hidden=list(args.hidden),
                activation=args.activation,
                random_state=args.seed,
                alpha=args.alpha,
                batch_size=batch_size,
                **options,
            )
        else:
            if batch_size == "auto":
                batch_size = min(200, n_rows)
            live.serve(
                model.network,
                model.X,
                model.y,
                batch_size=batch_size,
                random_state=args.seed,
                **options,
                **data_options,
            )
    except OSError as exc:
        raise UsageError(f"cannot listen on port {args.port}: {exc.strerror or exc}") from None
    except ValueError as exc:  # a setting out of the page's range, said as the option
        raise UsageError(_as_option(str(exc))) from None
    return 0


def _as_option(message: str) -> str:
    """``message`` with a leading setting name spelt as its option.

    >>> _as_option("epochs_per_second must be >= 0.01, got 0.001")
    '--epochs-per-second must be >= 0.01, got 0.001'
    """
    name = message.split(" ", 1)[0]
    if name in live.SETTING_RULES:
        return "--" + name.replace("_", "-") + message[len(name) :]
    return message


#: The options that read DATA (a table): not for --toy.
_TABLE_ONLY = (
    "target", "sample_weight", "class_weight", "task", "impute", "no_standardize", "categorical",
    "numeric", "scaling", "drop", "sep", "decimal", "encoding", "sheet",
)  # fmt: skip


def add_serve(commands: Any) -> None:
    """Add the parser of ``serve`` to ``commands``."""
    differ = ", ".join(f"--{name.replace('_', '-')}" for name in OWN_DEFAULTS)
    parser = commands.add_parser(
        "serve",
        help="watch a network learn your data on a local web page",
        description=(
            "Read DATA (CSV, Parquet or NPZ) or draw a toy data set (--toy), preprocess "
            "it (numeric columns standardised, text one-hot encoded), build a network "
            "whose output fits the target (sigmoid "
            "and binary cross-entropy for two classes, softmax and cross-entropy for more, "
            "identity and squared error for numbers) and train it while a page on "
            "http://127.0.0.1:PORT/ draws it: units, weights and gradients, loss and "
            "accuracy curves, the decision boundary, and controls. Ctrl-C stops. The "
            "options are those of 'deltaprop train'; the defaults of "
            f"{differ} differ from train's, for a small network a learner can watch."
        ),
        epilog=(
            "Examples: deltaprop serve data.csv --target label --hidden 8,8 --port 8000; "
            "deltaprop serve --toy xor --hidden 4"
        ),
    )
    add(parser, "data", required=False, help="the table: .csv, .parquet or .npz (or --toy)")
    add(parser, "toy")
    add(parser, "target", help="the column to learn (with DATA)")
    add(parser, "sample_weight")
    add(parser, "class_weight")
    add(parser, "task")
    add(parser, "impute")
    add(parser, "no_standardize")
    add(parser, "scaling")
    add(parser, "categorical")
    add(parser, "numeric")
    add(parser, "drop")
    add(parser, "sep")
    add(parser, "decimal")
    add(parser, "encoding")
    add(parser, "sheet")
    for name, (default, shown) in OWN_DEFAULTS.items():
        note = f"{_HELP[name]} (serve's default {shown}; train's differs)"
        add(parser, name, default=default, help=note, old_spellings=True)
    add(parser, "momentum")
    add(parser, "target_loss")
    add(parser, "epochs_per_second")
    add(parser, "seed")
    add(parser, "port")
    add(parser, "open")
    add(parser, "paused")
    parser.set_defaults(func=cmd_serve)
