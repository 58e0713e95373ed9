"""The ``demo`` command: the seed network trained on the shipped breast-cancer data.

With the ``cli`` extra installed it runs ``deltaprop train`` and ``deltaprop evaluate``
on CSV files; with NumPy alone it trains the same network in memory.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from deltaprop.cli.common import architecture
from deltaprop.cli.options import Parser, UsageError, add
from deltaprop.cli.tabular import add_train
from deltaprop.core.layers import Dense
from deltaprop.core.network import Network
from deltaprop.datasets import breast_cancer_path, load_breast_cancer
from deltaprop.files.container import load
from deltaprop.optim.optimizers import SGD
from deltaprop.tabular import read_table
from deltaprop.training.trainer import train

__all__ = ["OWN_DEFAULTS", "add_demo", "cmd_demo"]

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

    With the ``cli`` extra installed this runs ``deltaprop train`` and ``deltaprop
    evaluate`` on CSV files; with NumPy alone it trains the same network in memory.
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
            print(f"  iteration {i:5d}  loss {loss:.6f}")


def _network_line(args: argparse.Namespace, n_inputs: int, loss: str) -> str:
    layers = [(n_inputs, size, "sigmoid") for size in args.hidden] + [(0, 1, "sigmoid")]
    return (
        f"network: {architecture(layers)}; {loss}; full-batch gradient descent, "
        f"learning_rate={args.learning_rate}"
    )


def _demo_cli(args: argparse.Namespace) -> int:
    """The demo through the command line's own train and evaluate commands."""

    table = read_table(breast_cancer_path())
    labels = table["diagnosis"].to_numpy()
    rng = np.random.default_rng(args.seed)
    train_idx, test_idx = _stratified_split(labels, 0.25, rng)
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
            "--target", "diagnosis", "--hidden", ",".join(map(str, args.hidden)),
            "--activation", "sigmoid", "--solver", "gd",
            "--learning-rate", str(args.learning_rate), "--max-iter", str(args.max_iter),
            "--target-loss", str(args.target_loss), "--alpha", "0", "--tol", "0",
            "--seed", str(args.seed),
        ]  # fmt: skip
        print(f"$ deltaprop train train.csv {' '.join(options)} --out model.deltaprop")
        print(_network_line(args, table.shape[1] - 1, "cross-entropy"))
        train_parser = add_train(Parser(prog="deltaprop").add_subparsers())
        train_args = train_parser.parse_args(
            [paths["train.csv"], *options, "--out", paths["model"], "--quiet"]
        )
        train_args.func(train_args)
        model = load(paths["model"])
        estimator = model.estimator_
        _print_losses(estimator.loss_curve_)
        print(f"stopped: {estimator.stop_reason_} after {len(estimator.loss_curve_)} iterations")
        for name in ("train", "test"):
            print(f"$ deltaprop evaluate model.deltaprop {name}.csv --target diagnosis")
            scores = model.evaluate(read_table(paths[f"{name}.csv"]), "diagnosis")
            print(f"{name} accuracy: {scores['accuracy']:.4f}")
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


def add_demo(commands: Any) -> None:
    """Add the parser of ``demo`` to ``commands``."""
    parser = commands.add_parser(
        "demo",
        help="train the seed network on the shipped breast-cancer data",
        description=(
            "Train input -> sigmoid hidden layer -> sigmoid output by full-batch gradient "
            "descent on the Wisconsin breast-cancer data shipped with deltaprop, printing "
            "the falling loss, the stop reason and train/test accuracy. Its defaults are "
            "those of the seed experiment, not train's."
        ),
        epilog="Example: deltaprop demo --hidden 8 --learning-rate 0.5 --target-loss 0.05",
    )
    for name, (default, text) in OWN_DEFAULTS.items():
        add(parser, name, default=default, help=text)
    add(parser, "seed")
    parser.set_defaults(func=cmd_demo)
