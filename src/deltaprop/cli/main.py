"""The ``deltaprop`` command-line tool.

Each subcommand is one small function taking the parsed arguments and returning an exit
code. Exit codes: 0 success, 2 bad usage or bad input (one line on stderr, no
traceback), 1 anything unexpected.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from deltaprop._version import __version__
from deltaprop.core.layers import Dense
from deltaprop.core.network import Network
from deltaprop.optim.optimizers import SGD
from deltaprop.training.trainer import train

__all__ = ["main"]


class UsageError(ValueError):
    """Bad usage or bad input: reported in one line with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit itself; we want a return code
        raise UsageError(message)


def _stratified_split(y: np.ndarray, test_fraction: float, rng: np.random.Generator):
    """Indices of a stratified train/test split (each class split in the same ratio)."""
    train_idx, test_idx = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_test = round(test_fraction * idx.size)
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    return np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(test_idx))


def cmd_demo(args: argparse.Namespace) -> int:
    """Train and evaluate on the shipped breast-cancer data; report the accuracy.

    With the ``cli`` extra installed this runs ``deltaprop train`` and ``deltaprop
    evaluate`` on CSV files; with NumPy alone it trains the same network in memory.
    """
    if args.hidden < 1:
        raise UsageError(f"argument --hidden: must be >= 1, got {args.hidden}")
    if not args.learning_rate > 0.0:
        raise UsageError(f"argument --learning-rate: must be > 0, got {args.learning_rate}")
    if args.max_iter < 1:
        raise UsageError(f"argument --max-iter: must be >= 1, got {args.max_iter}")
    try:
        import pandas  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError:
        return _demo_core(args)
    return _demo_cli(args)


def _print_losses(losses: list[float]) -> None:
    step = max(1, len(losses) // 10)
    for i, loss in enumerate(losses, start=1):
        if i == 1 or i % step == 0 or i == len(losses):
            print(f"  iteration {i:5d}  loss {loss:.6f}")


def _demo_cli(args: argparse.Namespace) -> int:
    """The demo through the command line's own train and evaluate commands."""
    from deltaprop.datasets import breast_cancer_path
    from deltaprop.files.container import load
    from deltaprop.tabular.readers import read_table

    table = read_table(breast_cancer_path())
    labels = table["diagnosis"].to_numpy()
    rng = np.random.default_rng(args.seed)
    train_idx, test_idx = _stratified_split(labels, 0.25, rng)
    parser = build_parser()
    with tempfile.TemporaryDirectory(prefix="deltaprop-demo-") as folder:
        paths = {name: str(Path(folder) / name) for name in ("train.csv", "test.csv", "model")}
        table.iloc[train_idx].to_csv(paths["train.csv"], index=False)
        table.iloc[test_idx].to_csv(paths["test.csv"], index=False)
        print(
            f"deltaprop demo: breast-cancer data, {len(train_idx)} training and "
            f"{len(test_idx)} test rows, {table.shape[1] - 1} features, label 'diagnosis' "
            "(benign or malignant), written to train.csv and test.csv in a temporary folder"
        )
        options = [
            "--target", "diagnosis", "--hidden", str(args.hidden), "--activation", "sigmoid",
            "--solver", "gd", "--learning-rate", str(args.learning_rate),
            "--max-iter", str(args.max_iter), "--target-loss", str(args.target_loss),
            "--alpha", "0", "--tol", "0", "--seed", str(args.seed),
        ]  # fmt: skip
        print(f"$ deltaprop train train.csv {' '.join(options)} --out model.deltaprop")
        print(
            f"network: 30 inputs -> {args.hidden} sigmoid -> 1 sigmoid; cross-entropy; "
            f"full-batch gradient descent, learning_rate={args.learning_rate}"
        )
        train_args = parser.parse_args(
            ["train", paths["train.csv"], *options, "--out", paths["model"], "--quiet"]
        )
        train_args.func(train_args)
        estimator = load(paths["model"]).estimator_
        _print_losses(estimator.loss_curve_)
        print(f"stopped: {estimator.stop_reason_} after {len(estimator.loss_curve_)} iterations")
        model = load(paths["model"])
        for name in ("train", "test"):
            print(f"$ deltaprop evaluate model.deltaprop {name}.csv --target diagnosis")
            scores = model.evaluate(read_table(paths[f"{name}.csv"]), "diagnosis")
            print(f"{name} accuracy: {scores['accuracy']:.4f}")
    return 0


def _demo_core(args: argparse.Namespace) -> int:
    """The demo with NumPy alone: the seed network trained in memory."""
    from deltaprop.datasets import load_breast_cancer

    X, y, features, _ = load_breast_cancer()
    rng = np.random.default_rng(args.seed)
    train_idx, test_idx = _stratified_split(y, 0.25, rng)
    mean, std = X[train_idx].mean(axis=0), X[train_idx].std(axis=0)
    X = (X - mean) / std  # standardised with the training rows' statistics only
    X_train, y_train, X_test, y_test = X[train_idx], y[train_idx], X[test_idx], y[test_idx]

    net = Network(
        [Dense(X.shape[1], args.hidden, "sigmoid"), Dense(args.hidden, 1, "sigmoid")],
        loss="binary_cross_entropy",
        random_state=args.seed,
    )
    print(
        f"deltaprop demo: breast-cancer data, {X_train.shape[0]} training and "
        f"{X_test.shape[0]} test rows, {len(features)} standardised features"
    )
    print(
        f"network: {X.shape[1]} inputs -> {args.hidden} sigmoid -> 1 sigmoid; weighted "
        f"cross-entropy; full-batch gradient descent, learning_rate={args.learning_rate}"
    )
    history = train(
        net,
        X_train,
        y_train,
        optimizer=SGD(learning_rate=args.learning_rate),
        max_iter=args.max_iter,
        target_loss=args.target_loss,
    )
    _print_losses(history.loss)
    print(f"stopped: {history.stop_reason} after {history.n_iter} iterations")
    for name, X_part, y_part in (("train", X_train, y_train), ("test", X_test, y_test)):
        accuracy = float(np.mean((net.forward(X_part)[:, 0] >= 0.5) == (y_part == 1.0)))
        print(f"{name} accuracy: {accuracy:.4f}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    """Print every number of one backpropagation step of the classic worked example."""
    if args.model_and_data or args.row is not None or args.target is not None:
        from deltaprop.cli.tabular import explain_model

        return explain_model(args)
    from deltaprop.explain.trace import explain, worked_example

    net, X, y, learning_rate = worked_example()
    if args.learning_rate is not None:
        learning_rate = args.learning_rate
    trace = explain(net, X, y, learning_rate=learning_rate, steps=args.steps)
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
        print(trace.to_markdown(), end="")
    else:
        print(trace.to_text(), end="")
    return 0


def _hidden_sizes(text: str) -> list[int]:
    """``"16,8"`` -> ``[16, 8]``; ``""`` or ``"0"`` -> no hidden layer."""
    text = text.strip()
    if text in ("", "0"):
        return []
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"--hidden must be sizes like 16,8; got {text!r}") from None
    if any(size < 1 for size in sizes):
        raise UsageError(f"--hidden sizes must be >= 1, got {text!r}")
    return sizes


def cmd_serve(args: argparse.Namespace) -> int:
    """Train on a table while a local page shows the network learning."""
    from deltaprop.live import model_from_table, serve
    from deltaprop.optim.optimizers import SGD, Adam
    from deltaprop.tabular.readers import read_table

    table = read_table(args.data)
    if args.target not in table.columns:
        raise UsageError(
            f"--target {args.target!r} is not a column of {args.data}; "
            f"columns: {list(table.columns)[:20]}"
        )
    model = model_from_table(
        table,
        args.target,
        hidden=_hidden_sizes(args.hidden),
        activation=args.activation,
        random_state=args.seed,
    )
    if args.optimizer == "adam":
        optimizer = Adam(learning_rate=args.learning_rate)
    else:
        optimizer = SGD(learning_rate=args.learning_rate, momentum=args.momentum)
    fraction = args.validation_fraction or None
    try:
        serve(
            model.network,
            model.X,
            model.y,
            port=args.port,
            open_browser=args.open,
            optimizer=optimizer,
            batch_size=args.batch_size,
            max_iter=args.max_iter,
            target_loss=args.target_loss,
            validation_fraction=fraction,
            random_state=args.seed,
            epochs_per_second=args.epochs_per_second,
            paused=args.paused,
            feature_names=model.feature_names,
            class_names=model.class_names,
            target_name=args.target,
            title=os.path.basename(args.data),
            preprocessor=model.preprocessor,
        )
    except OSError as exc:
        raise UsageError(f"cannot listen on port {args.port}: {exc.strerror or exc}") from None
    return 0


_EPILOG = """examples:
  deltaprop demo
  deltaprop train data.csv --target label --out model.deltaprop
  deltaprop info model.deltaprop
  deltaprop evaluate model.deltaprop test.csv --target label --json
  deltaprop predict model.deltaprop new.csv --proba --out predictions.csv
  deltaprop explain model.deltaprop test.csv --row 1
  deltaprop serve data.csv --target label

Each command's --help lists its options; docs/cli.md documents them all.
Exit codes: 0 success, 1 unexpected error, 2 bad usage or input, 130 Ctrl-C."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``deltaprop`` command."""
    parser = _Parser(
        prog="deltaprop",
        description="Train feed-forward neural networks by error backpropagation.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"deltaprop {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    demo = commands.add_parser(
        "demo",
        help="train the seed network on the shipped breast-cancer data",
        description=(
            "Train input -> sigmoid hidden layer -> sigmoid output by full-batch gradient "
            "descent on the Wisconsin breast-cancer data shipped with deltaprop, printing "
            "the falling loss, the stop reason and train/test accuracy."
        ),
        epilog="Example: deltaprop demo --hidden 8 --learning-rate 0.5 --target-loss 0.05",
    )
    demo.add_argument("--hidden", type=int, default=16, help="hidden units (default 16)")
    demo.add_argument(
        "--learning-rate", type=float, default=0.5, help="gradient-descent step (default 0.5)"
    )
    demo.add_argument("--max-iter", type=int, default=500, help="iterations (default 500)")
    demo.add_argument(
        "--target-loss", type=float, default=0.05, help="stop at this loss (default 0.05)"
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.set_defaults(func=cmd_demo)

    from deltaprop.cli.tabular import (  # train, predict, evaluate, info, export-onnx
        add_commands,
        wrap,
    )

    add_commands(commands)

    explain = commands.add_parser(
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
    explain.add_argument(
        "model_and_data",
        nargs="*",
        metavar="MODEL DATA",
        help="a model written by 'deltaprop train' and a table holding the row",
    )
    explain.add_argument(
        "--row", type=int, metavar="N", help="the row of DATA to explain (1 is the first)"
    )
    explain.add_argument(
        "--target",
        metavar="COLUMN",
        help="the column holding the row's true value (default: the model's target)",
    )
    explain.add_argument(
        "--format",
        choices=["text", "markdown", "json"],
        default="text",
        help="output format (default text)",
    )
    explain.add_argument("--png", metavar="FILE", help="also draw the network to FILE (PNG)")
    explain.add_argument(
        "--steps",
        type=int,
        metavar="K",
        help="also show the loss over K steps of gradient descent",
    )
    explain.add_argument(
        "--learning-rate",
        type=float,
        help=(
            "step size of the update (default: 0.5 for the worked example, the model's "
            "learning rate for MODEL DATA)"
        ),
    )
    explain.add_argument(
        "-v", "--verbose", action="count", default=0, help="the traceback of an unexpected error"
    )
    explain.set_defaults(func=cmd_explain)

    serve = commands.add_parser(
        "serve",
        help="watch a network learn your data on a local web page",
        description=(
            "Read DATA (CSV, Parquet or NPZ), preprocess it (numeric columns standardised, "
            "text one-hot encoded), build a network whose output fits the target (sigmoid "
            "and binary cross-entropy for two classes, softmax and cross-entropy for more, "
            "identity and squared error for numbers) and train it while a page on "
            "http://127.0.0.1:PORT/ draws it: units, weights and gradients, loss and "
            "accuracy curves, the decision boundary, and controls. Ctrl-C stops."
        ),
        epilog="Example: deltaprop serve data.csv --target label --hidden 8,8 --port 8000",
    )
    serve.add_argument("data", metavar="DATA", help="the table: .csv, .parquet or .npz")
    serve.add_argument("--target", required=True, metavar="COLUMN", help="the column to learn")
    serve.add_argument(
        "--hidden", default="16,8", help="hidden-layer sizes, comma separated (default 16,8)"
    )
    serve.add_argument(
        "--activation", default="tanh", help="activation of the hidden layers (default tanh)"
    )
    serve.add_argument(
        "--optimizer", choices=["sgd", "adam"], default="sgd", help="optimizer (default sgd)"
    )
    serve.add_argument("--learning-rate", type=float, default=0.1, help="step size (default 0.1)")
    serve.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default 0)")
    serve.add_argument(
        "--batch-size", type=int, help="rows per update (default: all rows, full batch)"
    )
    serve.add_argument("--max-iter", type=int, default=5000, help="epochs (default 5000)")
    serve.add_argument("--target-loss", type=float, help="stop once the loss is this low")
    serve.add_argument(
        "--validation-fraction",
        type=float,
        default=0.2,
        help="rows held out for the validation curve (default 0.2; 0 for none)",
    )
    serve.add_argument(
        "--epochs-per-second", type=float, help="slow training down (default: full speed)"
    )
    serve.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    serve.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    serve.add_argument("--open", action="store_true", help="open the page in a browser")
    serve.add_argument("--paused", action="store_true", help="start paused")
    serve.set_defaults(func=cmd_serve)
    return parser


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split("\n")) or type(exc).__name__


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"deltaprop: warning: {_one_line(message)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit code.

    Exit codes: 0 success; 2 bad usage or bad input (one line ``deltaprop: error: ...``
    on stderr, no traceback); 1 anything unexpected, a missing optional dependency or a
    failing disk; 130 when Ctrl-C stopped training (the model is written first).
    """
    parser = build_parser()
    args = None
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning  # one line each, no source line
        try:
            args = parser.parse_args(argv)
            return args.func(args)
        except (UsageError, ValueError, TypeError) as exc:
            print(f"deltaprop: error: {_one_line(exc)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("deltaprop: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            # the reader went away (e.g. `deltaprop explain | head`): stop quietly, as cat does
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
        except ImportError as exc:
            print(f"deltaprop: error: {_one_line(exc)}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"deltaprop: error: {_one_line(exc)}", file=sys.stderr)
            return 1
        except Exception as exc:
            if getattr(args, "verbose", 0):
                traceback.print_exc()
            hint = "" if getattr(args, "verbose", 0) else " (rerun with -v for the traceback)"
            print(
                f"deltaprop: error: unexpected {type(exc).__name__}: {_one_line(exc)}{hint}",
                file=sys.stderr,
            )
            return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
