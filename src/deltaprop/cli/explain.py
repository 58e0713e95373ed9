"""The ``explain`` command: every number of one backpropagation step.

Alone it explains the classic worked example; with ``MODEL DATA --row N`` one row of
real data, through a model written by ``deltaprop train`` (which needs ``pip install
"deltaprop[cli]"``).
"""

from __future__ import annotations

import argparse
import copy
import sys
from typing import Any

import numpy as np

from deltaprop.cli.common import (
    check_destination,
    is_recipe,
    load_model,
    number,
    read_table_at,
    require_extras,
    written_columns,
)
from deltaprop.cli.options import UsageError, add, wrap
from deltaprop.cli.terminal import terminal_safe
from deltaprop.core.network import Network
from deltaprop.explain.examples import DEFAULT_LEARNING_RATE, tutorial_example, worked_example
from deltaprop.explain.trace import Trace, explain
from deltaprop.tabular.columns import missing_mask, require_pandas

__all__ = ["add_explain", "cmd_explain"]


def cmd_explain(args: argparse.Namespace) -> int:
    """Print every number of one backpropagation step of a built-in example or a model's row."""
    if args.model_and_data or args.row is not None or args.target is not None:
        return _explain_model(args)
    if args.sample_weight is not None:
        raise UsageError("--sample-weight names a column of DATA: give MODEL DATA --row N")
    if args.example == "tutorial":
        net, X, y, sample_weight, learning_rate = tutorial_example()
    else:
        (net, X, y, learning_rate), sample_weight = worked_example(), None
    net = _with_alpha(net, args.alpha)
    if args.learning_rate is not None:
        learning_rate = args.learning_rate
    positions = _check_weights(args.weight, net)
    trace = explain(
        net, X, y, sample_weight, learning_rate=learning_rate, steps=args.steps,
        scalar_views=positions,
    )  # fmt: skip
    return _show(args, trace, [])


def _with_alpha(net: Network, alpha: float | None) -> Network:
    """``net``, or a copy with the penalty ``--alpha``."""
    if alpha is None or alpha == net.alpha:
        return net
    copied = copy.copy(net)  # shares the layers: explain changes no weight
    copied.alpha = alpha
    return copied


def _check_weights(positions: list | None, net: Network) -> list[tuple[int, int, int]]:
    """``--weight`` positions, each checked against the network's layer sizes."""
    for layer, i, j in positions or []:
        given = f"--weight {layer},{i},{j}"
        n_layers = len(net.layers)
        if layer > n_layers:
            raise UsageError(
                f"{given}: LAYER must be in [1, {n_layers}] (the network has {n_layers} layers)"
            )
        size = net.layers[layer - 1]
        if i > size.n_in:
            raise UsageError(
                f"{given}: I must be in [0, {size.n_in}] (layer {layer} has {size.n_in} "
                "inputs; 0 is the bias)"
            )
        if j > size.n_out:
            raise UsageError(
                f"{given}: J must be in [1, {size.n_out}] (layer {layer} has {size.n_out} units)"
            )
    return list(positions or [])


def _show(args: argparse.Namespace, trace: Trace, context: list[str]) -> int:
    """Draw ``--png``, print the trace in ``--format`` after the ``context`` lines."""
    if args.png is not None:
        try:
            trace.to_png(args.png)
        except ImportError as exc:
            print(f"deltaprop: error: {terminal_safe(str(exc))}", file=sys.stderr)
            return 1
        except OSError as exc:
            raise UsageError(f"cannot write --png {args.png}: {exc.strerror or exc}") from None
        print(f"deltaprop: wrote {args.png}", file=sys.stderr)
    # names and labels in the text come from the model file and the table
    if args.format == "json":
        print(trace.to_json())  # JSON escapes controls and non-ASCII itself
    elif args.format == "markdown":
        if context:
            print(terminal_safe("\n".join(f"> {line}  " for line in context) + "\n"))
        print(terminal_safe(trace.to_markdown()), end="")
    else:
        if context:
            print(terminal_safe("\n".join(context) + "\n"))
        print(terminal_safe(trace.to_text()), end="")
    return 0


# -- explain MODEL DATA --row N -------------------------------------------------------
def _encoded_target(model: Any, series: Any) -> np.ndarray:
    """The rows' target as the network trained on it: 0/1 or one-hot, or standardised."""
    codes = model.preprocessor_.transform_target(series)
    est = model.estimator_
    if model.task_ == "regression" and not is_recipe(est):
        return np.asarray(codes, dtype=np.float64).reshape(-1, 1)
    if is_recipe(est):  # the tabular recipe's members: standardised targets, softmax classes
        if model.task_ == "regression":
            return (np.asarray(codes, np.float64).reshape(-1, 1) - est.target_mean_) / (
                est.target_scale_
            )
        return np.eye(len(est.classes_))[np.asarray(codes, dtype=np.intp)]
    Y = est._label_binarizer.transform(codes).astype(np.float64)
    if est.out_activation_ == "softmax" and Y.shape[1] == 1:
        Y = np.hstack([1.0 - Y, Y])
    return Y


def _network_of(estimator: Any, member: int | None) -> Network:
    """The network to explain: the MLP's, or member ``member`` (from 1) of the recipe."""
    if not is_recipe(estimator):
        if member is not None:
            raise UsageError(
                "--member picks a network of the tabular recipe; this model is one MLP "
                "estimator (drop --member)"
            )
        return estimator.network_
    n = len(estimator.members_)
    k = 1 if member is None else member
    if k > n:
        raise UsageError(f"--member {k}: this model's tabular recipe has {n} members (1 to {n})")
    return estimator.members_[k - 1]


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
    target = args.target or model.target_
    written = written_columns(model, target)
    frame = read_table_at(data_path, keep_spelling=written)
    if args.row > len(frame):
        raise UsageError(f"--row {args.row}: {data_path!r} has {len(frame)} data rows")
    if target not in frame.columns:
        raise UsageError(
            f"{data_path!r} lacks the target column {target!r}: explaining a row needs its "
            "true value (name its column with --target COLUMN)"
        )
    i = args.row - 1
    weight_column = args.sample_weight or getattr(model, "sample_weight_", None)
    if args.sample_weight is not None and args.sample_weight not in frame.columns:
        raise UsageError(f"--sample-weight: {data_path!r} has no column {args.sample_weight!r}")
    weights = None
    if weight_column is not None and weight_column in frame.columns:
        weights = np.asarray(frame[weight_column], dtype=np.float64)
        frame = frame.drop(columns=[weight_column])
    row = frame.iloc[[i]].reset_index(drop=True)
    if missing_mask(row[target], require_pandas())[0]:
        raise UsageError(
            f"--row {args.row}: its {target!r} is missing, and explaining a row needs its "
            "true value (pick a row that has one, or name another column with --target COLUMN)"
        )
    features = frame.drop(columns=[target]) if target != model.target_ else frame
    X_all = model.transform(features)
    Y = _encoded_target(model, row[target])
    net = _with_alpha(_network_of(model.estimator_, args.member), args.alpha)
    learning_rate = args.learning_rate or DEFAULT_LEARNING_RATE
    names = [str(n) for n in model.preprocessor_.get_feature_names_out()]
    trace = explain(
        net,
        X_all[[i]],
        Y,
        None if weights is None else weights[[i]],
        learning_rate=learning_rate,
        steps=args.steps,
        feature_names=names if len(names) == net.n_inputs else None,
        health_data=X_all,
        scalar_views=_check_weights(args.weight, net),
    )
    if args.png is not None:
        check_destination(args.png, "--png")
    context = [] if args.format == "json" else _context(args, model, row, X_all[[i]], Y, target)
    if context and is_recipe(model.estimator_):
        n = len(model.estimator_.members_)
        context.insert(
            1,
            f"explaining member {args.member or 1} of the {n} networks of the tabular recipe "
            "(the model predicts their average; --member K picks another)",
        )
    if context and weights is not None:
        context.append(f"sample weight ({weight_column}): {weights[i]:g}")
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
    seen = ", ".join(number(v) for v in Y[0].tolist())
    return [
        f"row {args.row} of {data_path} with {model_path}: {target} = "
        f"{_shown(row[target][0])}, the model predicts {_shown(predicted)}",
        f"network inputs (after preprocessing): {inputs}{more}",
        f"target as the network sees it: [{seen}]",
    ]


def _shown(value: Any) -> str:
    """A label or a target value as a person reads it: ``'benign'``, ``1.90734``, ``3``."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return repr(value)
    return number(value) if isinstance(value, float) else str(value)


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
            "squared error, learning rate 0.5), or with --example tutorial of the "
            "tutorial's three weighted rows. With MODEL DATA --row N, of one row of real "
            "data with a model written by 'deltaprop train', through the model's own "
            "preprocessing and network (one member network of the tabular recipe, "
            "--member K, the first by default; unit health measured on all rows of DATA). "
            "Layers, rows and units are numbered from 1."
        ),
        epilog=(
            "examples:\n  deltaprop explain --steps 20 --png worked_example.png\n"
            "  deltaprop explain --example tutorial --weight 1,2,1\n"
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
    add(parser, "example")
    add(parser, "member")
    add(parser, "weight")
    add(parser, "format")
    add(parser, "png")
    add(parser, "steps")
    add(
        parser,
        "learning_rate",
        default=None,
        help="step size eta of the update W - eta dW (default 0.5, as Python's explain and serve)",
    )
    add(
        parser,
        "alpha",
        default=None,
        help="L2 penalty of the step (default: the network's own: 0 for the examples, "
        "the model's alpha for MODEL DATA)",
    )
    add(
        parser,
        "sample_weight",
        help="with MODEL DATA: the column of row weights (default: the model's own, when "
        "DATA has it)",
    )
    add(parser, "verbose", help="the traceback of an unexpected error")
    parser.set_defaults(func=cmd_explain)
