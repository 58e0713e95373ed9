"""The ``explain`` command: every number of one backpropagation step.

Alone it explains the classic worked example; with ``MODEL DATA --row N`` one row of
real data, through a model written by ``deltaprop train`` (which needs ``pip install
"deltaprop[cli]"``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from deltaprop.cli.common import check_destination, load_model, read_table_at, require_extras
from deltaprop.cli.options import UsageError, add, wrap
from deltaprop.explain.trace import Trace, explain, worked_example

__all__ = ["add_explain", "cmd_explain"]


def cmd_explain(args: argparse.Namespace) -> int:
    """Print every number of one backpropagation step of the classic worked example."""
    if args.model_and_data or args.row is not None or args.target is not None:
        return _explain_model(args)
    net, X, y, learning_rate = worked_example()
    if args.learning_rate is not None:
        learning_rate = args.learning_rate
    trace = explain(net, X, y, learning_rate=learning_rate, steps=args.steps)
    return _show(args, trace, [])


def _show(args: argparse.Namespace, trace: Trace, context: list[str]) -> int:
    """Draw ``--png``, print the trace in ``--format`` after the ``context`` lines."""
    if args.png is not None:
        try:
            trace.to_png(args.png)
        except ImportError as exc:
            print(f"deltaprop: error: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            raise UsageError(f"cannot write --png {args.png}: {exc.strerror or exc}") from None
        print(f"deltaprop: wrote {args.png}", file=sys.stderr)
    if args.format == "json":
        print(trace.to_json())
    elif args.format == "markdown":
        if context:
            print("\n".join(f"> {line}  " for line in context) + "\n")
        print(trace.to_markdown(), end="")
    else:
        if context:
            print("\n".join(context) + "\n")
        print(trace.to_text(), end="")
    return 0


# -- explain MODEL DATA --row N -------------------------------------------------------
def _encoded_target(model: Any, series: Any) -> np.ndarray:
    """The rows' target as the network trained on it: 0/1 or one-hot, or standardised."""
    codes = model.preprocessor_.transform_target(series)
    if model.task_ == "regression":
        return np.asarray(codes, dtype=np.float64).reshape(-1, 1)
    est = model.estimator_
    Y = est._label_binarizer.transform(codes).astype(np.float64)
    if est.out_activation_ == "softmax" and Y.shape[1] == 1:
        Y = np.hstack([1.0 - Y, Y])
    return Y


def _explain_model(args: argparse.Namespace) -> int:
    """``deltaprop explain MODEL DATA --row N``: the trace of one row of real data."""
    require_extras("explain")
    if len(args.model_and_data) != 2 or args.row is None:
        raise UsageError(
            "to explain a trained model give MODEL DATA --row N (e.g. deltaprop explain "
            "model.deltaprop data.csv --row 1); 'deltaprop explain' alone explains the "
            "worked example"
        )
    model_path, data_path = args.model_and_data
    if args.row < 1:
        raise UsageError(f"--row must be >= 1 (1 is the first data row), got {args.row}")
    model = load_model(model_path)
    frame = read_table_at(data_path)
    if args.row > len(frame):
        raise UsageError(f"--row {args.row}: {data_path!r} has {len(frame)} data rows")
    target = args.target or model.target_
    if target not in frame.columns:
        raise UsageError(
            f"{data_path!r} lacks the target column {target!r}: explaining a row needs its "
            "true value (name its column with --target COLUMN)"
        )
    i = args.row - 1
    row = frame.iloc[[i]].reset_index(drop=True)
    X = model.transform(frame.drop(columns=[target]) if target != model.target_ else frame)[[i]]
    Y = _encoded_target(model, row[target])
    est = model.estimator_
    learning_rate = args.learning_rate
    if learning_rate is None:
        learning_rate = float(est.learning_rate_init) if est.solver != "lbfgs" else 0.1
    trace = explain(est.network_, X, Y, learning_rate=learning_rate, steps=args.steps)
    if args.png is not None:
        check_destination(args.png, "--png")
    context = [] if args.format == "json" else _context(args, model, row, X, Y, target)
    return _show(args, trace, context)


def _context(
    args: argparse.Namespace, model: Any, row: Any, X: np.ndarray, Y: np.ndarray, target: str
) -> list[str]:
    """The lines that say which row, what the model predicts and what the network sees."""
    model_path, data_path = args.model_and_data
    predicted = model.predict(row)[0]
    names = model.preprocessor_.get_feature_names_out()
    inputs = ", ".join(f"{n} {v:.4g}" for n, v in zip(names[:12], X[0], strict=False))
    more = f", ... ({len(names)} in all)" if len(names) > 12 else ""
    return [
        f"row {args.row} of {data_path} with {model_path}: {target} = {row[target][0]!r}, "
        f"the model predicts {predicted!r}",
        f"network inputs (after preprocessing): {inputs}{more}",
        f"target as the network sees it: {Y[0].tolist()}",
    ]


def add_explain(commands: Any) -> None:
    """Add the parser of ``explain`` to ``commands``."""
    parser = commands.add_parser(
        "explain",
        help="show every number of one backpropagation step",
        description=wrap(
            "Explain one full-batch gradient-descent step: the forward pass, the error, "
            "the output and hidden deltas, the gradients and the update, with diagnostics. "
            "Alone, of the classic worked example (2 inputs, 2 sigmoid hidden units, 1 "
            "sigmoid output, one sample; the numbers of Matt Mazur's step-by-step example, "
            "squared error, learning rate 0.5). With MODEL DATA --row N, of one row of real "
            "data with a model written by 'deltaprop train', through the model's own "
            "preprocessing and network."
        ),
        epilog=(
            "examples:\n  deltaprop explain --steps 20 --png worked_example.png\n"
            "  deltaprop explain iris.deltaprop iris.csv --row 3 --format markdown"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "model_and_data",
        nargs="*",
        metavar="MODEL DATA",
        help="a model written by 'deltaprop train' and a table holding the row",
    )
    add(parser, "row")
    add(
        parser,
        "target",
        help="the column holding the row's true value (default: the model's target)",
    )
    add(parser, "format")
    add(parser, "png")
    add(parser, "steps")
    add(
        parser,
        "learning_rate",
        default=None,
        help=(
            "step size of the update (default: 0.5 for the worked example, the model's "
            "learning rate for MODEL DATA)"
        ),
    )
    add(parser, "verbose", help="the traceback of an unexpected error")
    parser.set_defaults(func=cmd_explain)
