"""The ``demo`` command: the seed network trained on the shipped breast-cancer data.

With the ``cli`` extra installed it writes ``train.csv`` and ``test.csv`` to the current
folder (never over existing files unless ``--force``), runs ``deltaprop train`` and
``deltaprop evaluate`` on them, and prints the commands to run next on the same files;
with NumPy alone it trains the same network in memory.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import itertools
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from deltaprop.cli.common import (
    DIVERGED,
    architecture,
    divergence_line,
    loss_text,
    no_convergence_warnings,
)
from deltaprop.cli.options import Parser, UsageError, add
from deltaprop.cli.tabular import add_train
from deltaprop.core.layers import Dense
from deltaprop.core.network import Network
from deltaprop.datasets import breast_cancer_path, load_breast_cancer
from deltaprop.files.container import load, write_atomically
from deltaprop.optim.optimizers import SGD
from deltaprop.tabular import read_table
from deltaprop.training.trainer import train

__all__ = ["NEXT_COMMANDS", "OUTPUTS", "OWN_DEFAULTS", "add_demo", "cmd_demo"]

#: The files the demo writes to the current folder (with the ``cli`` extra).
OUTPUTS = ("train.csv", "test.csv")

#: What to run next on the demo's files: the README's Quick start, word for word.
NEXT_COMMANDS = (
    "deltaprop train train.csv --target diagnosis --out cancer.deltaprop",
    "deltaprop evaluate cancer.deltaprop test.csv --target diagnosis",
    "deltaprop predict cancer.deltaprop test.csv --out predictions.csv",
)

#: The options whose default ``demo`` sets apart from ``train``'s: option -> (default,
#: help). The demo is the seed experiment: one sigmoid layer, plain gradient descent.
OWN_DEFAULTS: dict[str, tuple[Any, str]] = {
    "hidden": ((16,), "hidden-layer sizes (demo's default 16)"),
    "learning_rate": (0.5, "gradient-descent step (demo's default 0.5)"),
    "max_iter": (500, "iterations (demo's default 500)"),
    "target_loss": (0.05, "stop at this loss (demo's default 0.05)"),
}


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

    With the ``cli`` extra installed this writes ``train.csv`` and ``test.csv`` to the
    current folder, runs ``deltaprop train`` and ``deltaprop evaluate`` on them and prints
    the commands to run next; with NumPy alone it trains the same network in memory.
    """
    if not args.hidden:
        raise UsageError("argument --hidden: must be >= 1, got 0 (the demo needs a hidden layer)")
    try:
        import pandas  # noqa: F401  (optional dependency: the cli extra)
        import sklearn  # noqa: F401  (optional dependency: the cli extra)
    except ImportError:
        return _demo_core(args)
    return _demo_cli(args)


def _print_losses(losses: list[float]) -> None:
    step = max(1, len(losses) // 10)
    for i, loss in enumerate(losses, start=1):
        if i == 1 or i % step == 0 or i == len(losses):
            print(f"  iteration {i:5d}  loss {loss_text(loss)}")


def _network_line(args: argparse.Namespace, n_inputs: int, loss: str) -> str:
    layers = [(n_inputs, size, "sigmoid") for size in args.hidden] + [(0, 1, "sigmoid")]
    return (
        f"network: {architecture(layers)}; {loss}; full-batch gradient descent, "
        f"learning_rate={args.learning_rate}"
    )


def _refuse_to_overwrite(folder: Path, force: bool) -> None:
    """A usage error when the demo's files exist in ``folder`` and ``--force`` is absent."""
    existing = [name for name in OUTPUTS if (folder / name).exists()]
    if existing and not force:
        names = " and ".join(existing)
        raise UsageError(
            f"{names} already exist{'s' if len(existing) == 1 else ''} in {str(folder)!r}; "
            "pass --force to overwrite, or run the demo in another folder"
        )
    for name in existing:
        if (folder / name).is_dir():
            raise UsageError(f"cannot write {name} in {str(folder)!r}: it is a folder")


def _write_csv(table: Any, path: Path) -> None:
    """Write ``table`` as CSV to ``path`` atomically (never a half-written file)."""
    text = io.StringIO()
    table.to_csv(text, index=False)
    data = text.getvalue().encode("utf-8")
    write_atomically(path, lambda file: file.write(data))


def _demo_cli(args: argparse.Namespace) -> int:
    """The demo through the command line's own train and evaluate commands."""
    folder = Path.cwd()
    _refuse_to_overwrite(folder, args.force)
    table = read_table(breast_cancer_path())
    labels = table["diagnosis"].to_numpy()
    rng = np.random.default_rng(args.seed)
    train_idx, test_idx = _stratified_split(labels, 0.25, rng)
    _write_csv(table.iloc[train_idx], folder / "train.csv")
    _write_csv(table.iloc[test_idx], folder / "test.csv")
    print(
        f"deltaprop demo: breast-cancer data, {len(train_idx)} training and "
        f"{len(test_idx)} test rows, {table.shape[1] - 1} features, label 'diagnosis' "
        "(benign or malignant), written to train.csv and test.csv in this folder"
    )
    options = [
        "--target", "diagnosis", "--hidden", ",".join(map(str, args.hidden)),
        "--activation", "sigmoid", "--solver", "gd",
        "--learning-rate", str(args.learning_rate), "--max-iter", str(args.max_iter),
        "--target-loss", str(args.target_loss), "--alpha", "0", "--tol", "0",
        "--seed", str(args.seed),
    ]  # fmt: skip
    print(f"$ deltaprop train train.csv {' '.join(options)} --out demo.deltaprop")
    print(_network_line(args, table.shape[1] - 1, "cross-entropy"))
    # the demo's model is a means, not an output: it lives in a temporary folder
    with tempfile.TemporaryDirectory(prefix="deltaprop-demo-") as scratch:
        model_path = str(Path(scratch) / "demo.deltaprop")
        train_parser = add_train(Parser(prog="deltaprop").add_subparsers())
        train_args = train_parser.parse_args(
            [str(folder / "train.csv"), *options, "--out", model_path, "--quiet"]
        )
        status = train_args.func(train_args)
        if status == DIVERGED:  # train said why on stderr and wrote no model
            return status
        model = load(model_path)
    estimator = model.estimator_
    _print_losses(estimator.loss_curve_)
    print(f"stopped: {estimator.stop_reason_} after {len(estimator.loss_curve_)} iterations")
    for name in ("train", "test"):
        print(f"$ deltaprop evaluate demo.deltaprop {name}.csv --target diagnosis")
        scores = model.evaluate(read_table(folder / f"{name}.csv"), "diagnosis")
        print(f"{name} accuracy: {scores['accuracy']:.4f}")
    print("(the demo's model was not kept.) Next, on the same files:")
    for command in NEXT_COMMANDS:
        print(f"  {command}")
    return 0


def _demo_core(args: argparse.Namespace) -> int:
    """The demo with NumPy alone: the seed network trained in memory."""
    X, y, features, _ = load_breast_cancer()
    rng = np.random.default_rng(args.seed)
    train_idx, test_idx = _stratified_split(y, 0.25, rng)
    mean, std = X[train_idx].mean(axis=0), X[train_idx].std(axis=0)
    X = (X - mean) / std  # standardised with the training rows' statistics only
    X_train, y_train, X_test, y_test = X[train_idx], y[train_idx], X[test_idx], y[test_idx]

    sizes = [X.shape[1], *args.hidden, 1]
    net = Network(
        [Dense(n_in, n_out, "sigmoid") for n_in, n_out in itertools.pairwise(sizes)],
        loss="binary_cross_entropy",
        random_state=args.seed,
    )
    print(
        f"deltaprop demo: breast-cancer data, {X_train.shape[0]} training and "
        f"{X_test.shape[0]} test rows, {len(features)} standardised features"
    )
    print(_network_line(args, X.shape[1], "weighted cross-entropy"))
    with no_convergence_warnings():  # a divergence is said below, in options' words
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
    if history.divergence is not None:
        line = divergence_line(dataclasses.asdict(history.divergence))
        print(f"deltaprop: error: training {line}", file=sys.stderr)
        return DIVERGED
    for name, X_part, y_part in (("train", X_train, y_train), ("test", X_test, y_test)):
        accuracy = float(np.mean((net.forward(X_part)[:, 0] >= 0.5) == (y_part == 1.0)))
        print(f"{name} accuracy: {accuracy:.4f}")
    return 0


def add_demo(commands: Any) -> None:
    """Add the parser of ``demo`` to ``commands``."""
    parser = commands.add_parser(
        "demo",
        help="train the seed network on the shipped breast-cancer data",
        description=(
            "Train input -> sigmoid hidden layer -> sigmoid output by full-batch gradient "
            "descent on the Wisconsin breast-cancer data shipped with deltaprop, printing "
            "the falling loss, the stop reason and train/test accuracy. With the cli extra "
            "it writes train.csv and test.csv to the current folder (it refuses to "
            "overwrite them without --force) and prints the commands to run next on them. "
            "Its defaults are those of the seed experiment, not train's."
        ),
        epilog="Example: deltaprop demo --hidden 8 --learning-rate 0.5 --target-loss 0.05",
    )
    for name, (default, text) in OWN_DEFAULTS.items():
        add(parser, name, default=default, help=text)
    add(parser, "seed")
    # the demo's alone (no other command writes fixed file names): defined here, not in
    # options.OPTIONS, until a second command takes it
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite train.csv and test.csv when they exist in the current folder",
    )
    parser.set_defaults(func=cmd_demo)
