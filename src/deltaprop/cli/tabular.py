"""The ``train``, ``predict``, ``evaluate``, ``info``, ``export-onnx`` and ``explain`` commands.

Each command is one small function taking the parsed arguments and returning an exit
code; :func:`add_commands` adds their parsers to ``deltaprop``'s. They work on a
:class:`~deltaprop.TabularModel` (preprocessing + estimator) saved as one model file,
and need ``pip install "deltaprop[cli]"`` (pandas, pyarrow, scikit-learn, tqdm,
matplotlib). Every option is documented in ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from deltaprop.cli.main import UsageError

__all__ = ["add_commands"]

INSTALL = 'pip install "deltaprop[cli]"'
_IMPUTE = {"mean": "mean", "median": "median", "most-frequent": "most_frequent"}
_CLASSIFICATION_LOSSES = ("log_loss", "cross_entropy")
_REGRESSION_LOSSES = ("squared_error", "poisson")


# -- argument types -------------------------------------------------------------------
def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


def _float_in(low: float, high: float = float("inf"), *, low_open: bool = False):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not np.isfinite(value) and value != high:
            raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
        if value < low or (low_open and value == low) or value >= high:
            rule = f"> {low:g}" if low_open else f">= {low:g}"
            if np.isfinite(high):
                rule += f" and < {high:g}"
            raise argparse.ArgumentTypeError(f"must be {rule}, got {value:g}")
        return value

    return parse


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


def _hidden(text: str) -> tuple[int, ...]:
    """``"64,32"`` -> ``(64, 32)``; ``"none"`` (or ``""``) -> no hidden layer."""
    if text.strip().lower() in ("", "none"):
        return ()
    sizes = []
    for part in text.split(","):
        try:
            size = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be layer sizes separated by commas, such as 64,32; got {text!r}"
            ) from None
        if size < 1:
            raise argparse.ArgumentTypeError(f"layer sizes must be >= 1, got {size}")
        sizes.append(size)
    return tuple(sizes)


def _batch_size(text: str) -> int | str:
    return "auto" if text == "auto" else _int_at_least(1)(text)


def _columns(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


# -- shared helpers -------------------------------------------------------------------
def _require_extras(command: str) -> Any:
    """pandas (returned), scikit-learn: a clear ImportError naming the extra if missing."""
    try:
        import pandas
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"deltaprop {command} needs {exc.name}: {INSTALL}") from None
    return pandas


def _read(path: str) -> Any:
    from deltaprop.tabular.readers import read_table

    return read_table(path)


def _load_model(path: str) -> Any:
    from deltaprop.files import container as io
    from deltaprop.tabular.model import TabularModel

    model = io.load(path)
    if not isinstance(model, TabularModel):
        raise UsageError(
            f"{path!r} holds a {type(model).__name__}, not a model written by 'deltaprop train'"
        )
    return model


def _check_destination(path: str | None, option: str) -> None:
    """Fail before any work when a file could not be written to ``path``."""
    if path is None:
        return
    destination = Path(path)
    if destination.is_dir():
        raise UsageError(f"{option} {path}: it is a folder")
    if not destination.parent.is_dir():
        raise UsageError(f"{option} {path}: folder {str(destination.parent)!r} does not exist")


def _write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`deltaprop.files.write_atomically`)."""
    from deltaprop.files.container import write_atomically

    _check_destination(path, "output")
    write_atomically(path, lambda file: file.write(data))


def _architecture(net: Any) -> str:
    parts = [f"{net.layers[0].n_in} inputs"]
    parts += [f"{layer.n_out} {layer.activation.name}" for layer in net.layers]
    return " -> ".join(parts)


def _n_parameters(net: Any) -> int:
    return sum(int(np.size(layer.weights)) + int(np.size(layer.bias)) for layer in net.layers)


def wrap(text: str) -> str:
    """``text`` wrapped for a help screen that keeps its epilog's line breaks."""
    return textwrap.fill(text, 79)


def _say(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(text)


# -- progress -------------------------------------------------------------------------
class _Progress:
    """A train callback: a tqdm bar on a terminal, or one line per epoch (``-v``)."""

    def __init__(self, max_iter: int, *, bar: bool, lines: bool) -> None:
        self.max_iter = max_iter
        self.lines = lines
        self.bar = None
        if bar:
            try:
                from tqdm import tqdm
            except ImportError:  # the bar is a nicety: fall back to lines
                self.lines = True
            else:
                # a terminal that reports no width (some ptys) would get an empty bar
                try:
                    columns = os.get_terminal_size(sys.stderr.fileno()).columns
                except (OSError, ValueError):
                    columns = 0
                self.bar = tqdm(
                    total=max_iter,
                    unit="epoch",
                    file=sys.stderr,
                    ncols=None if columns > 0 else 80,
                )

    def __call__(self, iteration: int, history: Any, net: Any) -> None:
        loss = history.loss[-1]
        val = history.val_loss[-1] if history.val_loss else None
        if self.bar is not None:
            postfix = {"loss": f"{loss:.4g}"}
            if val is not None:
                postfix["val_loss"] = f"{val:.4g}"
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(iteration - self.bar.n)
        elif self.lines:
            text = f"epoch {iteration}/{self.max_iter}  loss {loss:.6f}"
            if val is not None:
                text += f"  val_loss {val:.6f}"
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _plot(path: str, loss: list[float], val_loss: list[float] | None) -> None:
    """Training (and validation) loss per epoch as a PNG, written atomically."""
    import io as _bytes

    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(f"--plot needs matplotlib: {INSTALL}") from None
    figure = Figure(figsize=(6.0, 4.0))
    axes = figure.add_subplot()
    epochs = np.arange(1, len(loss) + 1)
    axes.plot(epochs, loss, label="training loss")
    if val_loss:
        axes.plot(epochs[: len(val_loss)], val_loss, label="validation loss")
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss")
    if loss and min(loss) > 0.0:
        axes.set_yscale("log")
    axes.legend()
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    buffer = _bytes.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    _write_atomically(path, buffer.getvalue())


# -- train ----------------------------------------------------------------------------
def _estimator(args: argparse.Namespace, task: str, callbacks: list) -> Any:
    from deltaprop.estimators.mlp import MLPClassifier, MLPRegressor

    params = {
        "hidden_layer_sizes": args.hidden,
        "activation": args.activation,
        "solver": args.solver,
        "alpha": args.alpha,
        "batch_size": args.batch_size,
        "learning_rate_init": args.learning_rate,
        "max_iter": args.max_iter,
        "tol": args.tol,
        "n_iter_no_change": args.n_iter_no_change,
        "early_stopping": args.early_stopping,
        "validation_fraction": args.validation_fraction,
        "random_state": args.seed,
        "output_activation": args.output_activation,
        "target_loss": args.target_loss,
        "early_stopping_metric": "loss",
        "callbacks": callbacks,
    }
    if task == "classification":
        if args.loss is not None and args.loss not in _CLASSIFICATION_LOSSES:
            raise UsageError(
                f"--loss {args.loss} is not available for classification: classifiers "
                "train on the log-loss (cross-entropy); omit --loss"
            )
        return MLPClassifier(class_weight=args.class_weight, **params)
    if args.class_weight is not None:
        raise UsageError("--class-weight needs a classification target; this is regression")
    if args.loss is not None and args.loss not in _REGRESSION_LOSSES:
        raise UsageError(
            f"--loss {args.loss} is not available for regression: choose one of "
            f"{', '.join(_REGRESSION_LOSSES)}"
        )
    return MLPRegressor(loss=args.loss or "squared_error", **params)


def _scale_warning(frame: Any, args: argparse.Namespace, task: str) -> str | None:
    from deltaprop.tabular import Preprocessor, check_feature_scales

    features = frame.drop(columns=[args.sample_weight]) if args.sample_weight else frame
    pre = Preprocessor(
        args.target,
        task=task,
        impute=_IMPUTE.get(args.impute),
        categorical=args.categorical,
        standardize=False,
    ).fit(features)
    return check_feature_scales(pre.transform(features), feature_names=pre.get_feature_names_out())


def cmd_train(args: argparse.Namespace) -> int:
    """Train a model on a table and write it to ``--out``."""
    _require_extras("train")
    from deltaprop.tabular.columns import infer_task
    from deltaprop.tabular.model import TabularModel
    from deltaprop.training.checkpoint import Checkpoint

    _check_destination(args.out, "--out")
    _check_destination(args.plot, "--plot")
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ImportError(f"--plot needs matplotlib: {INSTALL}") from None
    if args.dask or args.dask_scheduler is not None:
        from deltaprop.cli.dask import train_on_dask

        return train_on_dask(args)
    for option in ("dask_workers", "local_steps"):
        if getattr(args, option) is not None:
            flag = "--" + option.replace("_", "-")
            raise UsageError(f"{flag} needs --dask or --dask-scheduler ADDRESS")
    if args.resume is not None and not Path(args.resume).is_file():
        raise UsageError(f"--resume {args.resume}: no such file")
    if args.checkpoint is None and args.checkpoint_every is not None:
        raise UsageError("--checkpoint-every needs --checkpoint PATH")

    frame = _read(args.data)
    if args.target not in frame.columns:
        raise UsageError(
            f"target column {args.target!r} is not in {args.data!r} (columns: "
            f"{', '.join(list(frame.columns)[:20])})"
        )
    task = args.task or infer_task(frame[args.target], name=args.target)
    if args.no_standardize:
        message = _scale_warning(frame, args, task)
        if message is not None:
            warnings.warn(message, UserWarning, stacklevel=1)

    progress = _Progress(
        args.max_iter,
        bar=sys.stderr.isatty() and not args.quiet,
        lines=args.verbose > 0 and not args.quiet,
    )
    callbacks: list[Any] = [progress]
    if args.checkpoint is not None:
        callbacks.append(Checkpoint(args.checkpoint, every=args.checkpoint_every or 1))
    model = TabularModel(
        _estimator(args, task, callbacks),
        task=task,
        impute=_IMPUTE.get(args.impute),
        standardize=not args.no_standardize,
        categorical=args.categorical,
    )
    with no_convergence_warnings():
        try:
            model.fit(frame, args.target, sample_weight=args.sample_weight, resume=args.resume)
        finally:
            progress.close()
    model.estimator_.set_params(callbacks=None)  # functions are never stored in model files
    return finish_training(args, model, len(frame))


@contextlib.contextmanager
def no_convergence_warnings():
    """No ConvergenceWarning: the summary of ``train`` says why training stopped."""
    with warnings.catch_warnings():
        with contextlib.suppress(ImportError):
            from sklearn.exceptions import ConvergenceWarning

            warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def finish_training(args: argparse.Namespace, model: Any, n_rows: int, where: str = "") -> int:
    """Write the model (``--out``) and the plot (``--plot``), print the summary."""
    from deltaprop.files import container as io

    estimator = model.estimator_
    if args.out is not None:
        io.save(model, args.out)
    if args.plot is not None:
        _plot(args.plot, estimator.loss_curve_, estimator.validation_loss_curve_)

    interrupted = estimator.stop_reason_ == "interrupted"
    what = f" ({len(model.classes_)} classes)" if model.task_ == "classification" else ""
    n_columns = len(model.feature_names_in_)
    _say(
        args,
        f"trained on {n_rows} rows of {args.data}{where}: {model.task_} of {args.target!r}"
        f"{what} from {n_columns} feature column{'s' if n_columns > 1 else ''}",
    )
    _say(args, f"network: {_architecture(estimator.network_)}")
    _say(
        args,
        f"{estimator.solver}: {len(estimator.loss_curve_)} epochs, final loss "
        f"{estimator.loss_curve_[-1]:.6f}, stopped: {estimator.stop_reason_}",
    )
    if args.out is not None:
        _say(args, f"wrote {args.out}")
    if args.plot is not None:
        _say(args, f"wrote {args.plot}")
    if interrupted:
        saved = f"; the model was written to {args.out}" if args.out else ""
        print(f"deltaprop: interrupted{saved}", file=sys.stderr)
        return 130
    return 0


# -- predict --------------------------------------------------------------------------
def cmd_predict(args: argparse.Namespace) -> int:
    """Write one prediction (and, with --proba, class probabilities) per input row."""
    pd = _require_extras("predict")
    _check_destination(args.out, "--out")
    model = _load_model(args.model)
    if args.proba and model.task_ != "classification":
        raise UsageError("--proba needs a classification model; this one is regression")
    frame = _read(args.data)
    out = pd.DataFrame({model.target_: model.predict(frame)})
    if args.proba:
        proba = model.predict_proba(frame)
        for k, label in enumerate(model.classes_.tolist()):
            out[f"proba_{label}"] = proba[:, k]
    text = out.to_csv(index=False, lineterminator="\n")
    if args.out is None:
        sys.stdout.write(text)
    else:
        _write_atomically(args.out, text.encode("utf-8"))
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
    _require_extras("evaluate")
    model = _load_model(args.model)
    frame = _read(args.data)
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


# -- info -----------------------------------------------------------------------------
def _schema_lines(pre: Any) -> list[str]:
    width = max(len(c["name"]) for c in pre.columns_)
    lines = [f"input columns ({len(pre.columns_)}, matched by name, any order):"]
    i_numeric = 0
    for column in pre.columns_:
        name = column["name"]
        if column["kind"] == "numeric":
            detail = (
                f"numeric      mean {pre.mean_[i_numeric]:.6g}, scale {pre.scale_[i_numeric]:.6g}"
            )
            i_numeric += 1
        else:
            categories = column["categories"]
            shown = ", ".join(categories[:10]) + (", ..." if len(categories) > 10 else "")
            detail = f"categorical  {len(categories)} categories: {shown}"
        lines.append(f"  {name:<{width}}  {detail}")
    if pre.impute is not None:
        lines.append(f"missing values are filled ({pre.impute})")
    else:
        lines.append("missing values are an error")
    return lines


def cmd_info(args: argparse.Namespace) -> int:
    """Describe a model file: architecture, size, training, the input it expects."""
    from deltaprop.core.network import Network
    from deltaprop.files import container as io

    obj = io.load(args.model)
    if isinstance(obj, Network):
        print(f"network: {_architecture(obj)}; loss {obj.loss.name}")
        print(f"parameters: {_n_parameters(obj):,}")
        return 0
    from deltaprop.tabular.model import TabularModel

    if not isinstance(obj, TabularModel):
        raise UsageError(f"{args.model!r} holds a {type(obj).__name__}, not a model")
    model, est = obj, obj.estimator_
    pre, net = model.preprocessor_, est.network_
    if model.task_ == "classification":
        classes = ", ".join(repr(c) for c in model.classes_.tolist()[:20])
        print(
            f"task: classification of {model.target_!r} ({len(model.classes_)} classes: {classes})"
        )
    else:
        print(
            f"task: regression of {model.target_!r} (standardised in training: mean "
            f"{pre.target_mean_:.6g}, scale {pre.target_scale_:.6g})"
        )
    print(f"network: {_architecture(net)}; loss {net.loss.name}, alpha {est.alpha:g}")
    print(f"parameters: {_n_parameters(net):,}")
    curve = est.loss_curve_
    line = (
        f"training: solver {est.solver}, {len(curve)} epochs, final loss "
        f"{curve[-1]:.6g}, stop reason {est.stop_reason_}"
    )
    if est.solver != "lbfgs":
        line += f", learning rate {est.learning_rate_init:g}, batch size {est.batch_size}"
    print(line + f", seed {est.random_state}")
    if est.validation_loss_curve_:
        print(
            f"validation: {est.validation_fraction:g} of the rows held out, lowest "
            f"validation loss {min(est.validation_loss_curve_):.6g}"
        )
    if model.sample_weight_ is not None:
        print(f"sample weights: column {model.sample_weight_!r}")
    print("\n".join(_schema_lines(pre)))
    return 0


# -- export-onnx ----------------------------------------------------------------------
def cmd_export_onnx(args: argparse.Namespace) -> int:
    """Write a model file (tabular model, estimator or network) as an ONNX model."""
    from deltaprop.core.network import Network
    from deltaprop.files import container as io

    _check_destination(args.out, "OUT.onnx")
    obj = io.load(args.model)
    if not isinstance(obj, Network) and not hasattr(obj, "to_onnx"):
        raise UsageError(f"{args.model!r} holds a {type(obj).__name__}, which has no ONNX export")
    proto = obj.to_onnx(args.out, opset=args.opset, dtype=args.dtype)
    inputs = ", ".join(i.name for i in proto.graph.input)
    outputs = ", ".join(o.name for o in proto.graph.output)
    _say(
        args,
        f"wrote {args.out}: opset {proto.opset_import[0].version}; inputs {inputs}; "
        f"outputs {outputs}",
    )
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


def explain_model(args: argparse.Namespace) -> int:
    """``deltaprop explain MODEL DATA --row N``: the trace of one row of real data."""
    from deltaprop.explain.trace import explain

    _require_extras("explain")
    if len(args.model_and_data) != 2 or args.row is None:
        raise UsageError(
            "to explain a trained model give MODEL DATA --row N (e.g. deltaprop explain "
            "model.deltaprop data.csv --row 1); 'deltaprop explain' alone explains the "
            "worked example"
        )
    model_path, data_path = args.model_and_data
    if args.row < 1:
        raise UsageError(f"--row must be >= 1 (1 is the first data row), got {args.row}")
    model = _load_model(model_path)
    frame = _read(data_path)
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
        _check_destination(args.png, "--png")
        trace.to_png(args.png)
        print(f"deltaprop: wrote {args.png}", file=sys.stderr)
    if args.format == "json":
        print(trace.to_json())
        return 0
    predicted = model.predict(row)[0]
    names = model.preprocessor_.get_feature_names_out()
    inputs = ", ".join(f"{n} {v:.4g}" for n, v in zip(names[:12], X[0], strict=False))
    more = f", ... ({len(names)} in all)" if len(names) > 12 else ""
    context = [
        f"row {args.row} of {data_path} with {model_path}: {target} = {row[target][0]!r}, "
        f"the model predicts {predicted!r}",
        f"network inputs (after preprocessing): {inputs}{more}",
        f"target as the network sees it: {Y[0].tolist()}",
    ]
    if args.format == "markdown":
        print("\n".join(f"> {line}  " for line in context) + "\n")
        print(trace.to_markdown(), end="")
    else:
        print("\n".join(context) + "\n")
        print(trace.to_text(), end="")
    return 0


# -- the parsers ----------------------------------------------------------------------
def _verbosity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more output (and the traceback of an unexpected error)",
    )


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


def add_commands(commands: Any) -> None:
    """Add the parsers of train, predict, evaluate, info and export-onnx to ``commands``."""
    train = commands.add_parser(
        "train",
        help="train a model on a table (CSV, Parquet, NPZ)",
        description=wrap(
            "Train a feed-forward network on the table DATA to predict the column "
            "--target from all the others. Numeric columns are standardised, text "
            "columns one-hot encoded, the target label-encoded (classification) or "
            "standardised (regression); this preprocessing is stored in the model. A "
            "progress bar shows the epoch, loss and validation loss on a terminal."
        ),
        epilog=_TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("data", metavar="DATA", help="training table: .csv, .parquet, .npz")
    train.add_argument("--target", required=True, metavar="COLUMN", help="the column to predict")
    train.add_argument("--out", metavar="MODEL", help="write the trained model to this file")
    train.add_argument(
        "--task",
        choices=["classification", "regression"],
        help="default: inferred from the target (text, booleans and few integers: classes)",
    )
    net = train.add_argument_group("network")
    net.add_argument(
        "--hidden",
        type=_hidden,
        default=(100,),
        metavar="SIZES",
        help="hidden layer sizes, comma separated, e.g. 64,32; 'none' for none (default 100)",
    )
    net.add_argument(
        "--activation", default="relu", help="hidden activation: relu, tanh, sigmoid, ... (relu)"
    )
    net.add_argument(
        "--output-activation",
        metavar="NAME",
        help="output activation (default: sigmoid/softmax for classes, identity for numbers)",
    )
    net.add_argument(
        "--loss",
        help="regression: squared_error (default) or poisson; classification: log_loss",
    )
    net.add_argument("--alpha", type=_float_in(0.0), default=1e-4, help="L2 penalty (default 1e-4)")
    fit = train.add_argument_group("training")
    fit.add_argument(
        "--solver",
        choices=["gd", "sgd", "adam", "lbfgs"],
        default="adam",
        help="gd: full-batch gradient descent; sgd/adam: mini-batches; lbfgs (default adam)",
    )
    fit.add_argument(
        "--learning-rate",
        type=_float_in(0.0, low_open=True),
        default=1e-3,
        metavar="RATE",
        help="step size (default 0.001)",
    )
    fit.add_argument(
        "--batch-size",
        type=_batch_size,
        default="auto",
        metavar="N",
        help="mini-batch size for sgd/adam (default auto: min(200, rows))",
    )
    fit.add_argument(
        "--max-iter", type=_int_at_least(1), default=200, metavar="N", help="epochs (default 200)"
    )
    fit.add_argument(
        "--target-loss", type=_finite_float, metavar="LOSS", help="stop once the loss is this low"
    )
    fit.add_argument(
        "--tol",
        type=_float_in(0.0),
        default=1e-4,
        help="stop when the loss improves less than this for --n-iter-no-change epochs (1e-4)",
    )
    fit.add_argument(
        "--n-iter-no-change",
        type=_int_at_least(1),
        default=10,
        metavar="N",
        help="patience of --tol and --early-stopping (default 10)",
    )
    fit.add_argument(
        "--early-stopping",
        action="store_true",
        help="hold out --validation-fraction of the rows; stop when their loss stops falling "
        "and keep the best weights",
    )
    fit.add_argument(
        "--validation-fraction",
        type=_float_in(0.0, 1.0, low_open=True),
        default=0.1,
        metavar="F",
        help="share of rows held out with --early-stopping (default 0.1)",
    )
    fit.add_argument(
        "--sample-weight", metavar="COLUMN", help="a column of row weights (not a feature)"
    )
    fit.add_argument(
        "--class-weight", choices=["balanced"], help="weigh classes by n / (n_classes * n_c)"
    )
    fit.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    data = train.add_argument_group("preprocessing")
    data.add_argument(
        "--impute",
        choices=sorted(_IMPUTE),
        help="fill missing feature values (default: a missing value is an error)",
    )
    data.add_argument(
        "--no-standardize",
        action="store_true",
        help="keep numeric columns as they are (warns when their scales differ widely)",
    )
    data.add_argument(
        "--categorical",
        type=_columns,
        metavar="COLUMNS",
        help="comma-separated numeric columns to one-hot encode as categories",
    )
    out = train.add_argument_group("output and checkpoints")
    out.add_argument("--plot", metavar="FILE.png", help="draw the loss per epoch to a PNG file")
    out.add_argument(
        "--checkpoint", metavar="PATH", help="save the state of training to PATH (atomically)"
    )
    out.add_argument(
        "--checkpoint-every",
        type=_int_at_least(1),
        metavar="N",
        help="checkpoint every N epochs (default 1)",
    )
    out.add_argument(
        "--resume",
        metavar="PATH",
        help="continue from a checkpoint (same data and options): the result is identical",
    )
    out.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    _verbosity(out)
    dask = train.add_argument_group(
        "Dask (a Parquet dataset larger than this machine's memory; docs/scale.md)"
    )
    dask.add_argument(
        "--dask",
        action="store_true",
        help="read DATA (a Parquet folder or file) with Dask and train on a local cluster; "
        "the rows never pass through this process",
    )
    dask.add_argument(
        "--dask-scheduler",
        metavar="ADDRESS",
        help="train on the Dask cluster of this scheduler (e.g. tcp://host:8786); implies --dask",
    )
    dask.add_argument(
        "--dask-workers",
        type=_int_at_least(1),
        metavar="N",
        help="worker processes of the local cluster (default: Dask's choice)",
    )
    dask.add_argument(
        "--local-steps",
        type=_int_at_least(1),
        metavar="N",
        help=(
            "sgd/adam through Dask: steps per partition between averagings (default: "
            "about one pass over the rows per round)"
        ),
    )
    train.set_defaults(func=cmd_train)

    predict = commands.add_parser(
        "predict",
        help="predict with a trained model",
        description=(
            "Predict one value per row of DATA with MODEL; columns are matched by name "
            "(extra ones are ignored). Writes CSV: a column named after the target with "
            "the predicted labels (or numbers, in the target's units) and, with --proba, "
            "one column proba_<class> per class."
        ),
        epilog="example: deltaprop predict iris.deltaprop new.csv --proba --out predictions.csv",
    )
    predict.add_argument("model", metavar="MODEL", help="a model written by 'deltaprop train'")
    predict.add_argument("data", metavar="DATA", help="the rows to predict")
    predict.add_argument("--out", metavar="FILE", help="write CSV here (default: standard output)")
    predict.add_argument(
        "--proba", action="store_true", help="add the probability of each class (classification)"
    )
    _verbosity(predict)
    predict.set_defaults(func=cmd_predict)

    evaluate = commands.add_parser(
        "evaluate",
        help="score a trained model on labelled data",
        description=(
            "Score MODEL on DATA. Classification: accuracy, balanced_accuracy, log_loss, "
            "confusion_matrix; regression: r2, mse, mae (in the target's units)."
        ),
        epilog="example: deltaprop evaluate iris.deltaprop test.csv --target species --json",
    )
    evaluate.add_argument("model", metavar="MODEL", help="a model written by 'deltaprop train'")
    evaluate.add_argument("data", metavar="DATA", help="labelled rows")
    evaluate.add_argument(
        "--target", metavar="COLUMN", help="the column of true values (default: the model's)"
    )
    evaluate.add_argument(
        "--sample-weight",
        metavar="COLUMN",
        help="weight every score by this column (numbers >= 0); default: each row counts once",
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    _verbosity(evaluate)
    evaluate.set_defaults(func=cmd_evaluate)

    info = commands.add_parser(
        "info",
        help="describe a model file",
        description=(
            "Print a model's task, architecture, parameter count, training summary "
            "(solver, epochs, final loss, stop reason) and the input columns it expects."
        ),
        epilog="example: deltaprop info iris.deltaprop",
    )
    info.add_argument("model", metavar="MODEL", help="a model file")
    _verbosity(info)
    info.set_defaults(func=cmd_info)

    export = commands.add_parser(
        "export-onnx",
        help="write a model as an ONNX file",
        description=wrap(
            "Write MODEL as the ONNX model OUT.onnx (needs the onnx package: pip install "
            "\"deltaprop[onnx]\"). A model written by 'deltaprop train' takes one input per "
            "feature column, named after it, shape (N, 1): numbers as floats, text as "
            "strings; the preprocessing runs inside the graph. Its outputs are label and "
            "probabilities (classification) or predictions (regression, in the target's "
            "units). A saved estimator or network exports too (input X)."
        ),
        epilog="example: deltaprop export-onnx iris.deltaprop iris.onnx --dtype float32",
    )
    export.add_argument("model", metavar="MODEL", help="a model file")
    export.add_argument("out", metavar="OUT.onnx", help="the ONNX file to write")
    export.add_argument(
        "--opset",
        type=_int_at_least(1),
        metavar="N",
        help="ONNX opset (default: the lowest that expresses the model)",
    )
    export.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        help="float type of the model (default: that of the model's weights)",
    )
    export.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    _verbosity(export)
    export.set_defaults(func=cmd_export_onnx)
