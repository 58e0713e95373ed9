"""Helpers that the command families share: extras, reading, writing, training summaries.

Nothing here parses arguments (that is :mod:`deltaprop.cli.options`) or names a command
of its own; :mod:`deltaprop.cli.tabular`, :mod:`deltaprop.cli.dask`,
:mod:`deltaprop.cli.explain` and :mod:`deltaprop.cli.demo` build on it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deltaprop.cli.options import UsageError, table_reading
from deltaprop.cli.terminal import terminal_safe
from deltaprop.estimators.plan import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from deltaprop.files.container import load, save, write_atomically
from deltaprop.tabular import TabularModel, read_table
from deltaprop.tabular.columns import did_you_mean
from deltaprop.training.history import DivergenceWarning

__all__ = [
    "DIVERGED",
    "INSTALL",
    "Progress",
    "architecture",
    "best_epoch",
    "build_estimator",
    "build_recipe",
    "check_checkpoint_options",
    "check_destination",
    "divergence_line",
    "finish_training",
    "is_recipe",
    "layers_of",
    "load_model",
    "loss_png",
    "loss_text",
    "no_convergence_warnings",
    "number",
    "progress_options",
    "read_table_at",
    "recipe_lines",
    "recipe_record",
    "require_extras",
    "say",
    "score_name",
    "stop_explanation",
    "training_png",
    "write_bytes",
    "written_columns",
]

INSTALL = 'pip install "deltaprop[cli]"'
#: The exit code of ``train`` when training diverged (docs/cli.md).
DIVERGED = 3
_CLASSIFICATION_LOSSES = ("log_loss", "cross_entropy")
_REGRESSION_LOSSES = ("squared_error", "poisson")


# -- reading and writing --------------------------------------------------------------
def require_extras(command: str, *, sklearn: bool = True) -> Any:
    """pandas (returned) and scikit-learn (unless ``sklearn`` is False): a clear ImportError
    naming the extra when one is missing."""
    try:
        import pandas  # optional dependency: the cli extra

        if sklearn:
            import sklearn as _  # noqa: F401  (optional dependency: the cli extra)
    except ImportError as exc:
        raise ImportError(f"deltaprop {command} needs {exc.name}: {INSTALL}") from None
    return pandas


def read_table_at(
    path: str, args: argparse.Namespace | None = None, keep_spelling: Sequence[str] = ()
) -> Any:
    """The table at ``path`` (CSV, TSV, Parquet, NPZ, Excel) as a pandas DataFrame.

    ``args`` may carry ``--sep``, ``--decimal`` and ``--encoding``; without them (or
    without ``args``) they are sniffed. The columns ``keep_spelling`` stay text where
    they read as numbers (IDs and codes as written: ``00983057``, ``007``).
    """
    reading = {} if args is None else table_reading(args)
    return read_table(path, keep_spelling=keep_spelling, **reading)


def no_such_target(args: argparse.Namespace, columns: Sequence[str]) -> UsageError:
    """The error for ``--target`` naming no column of DATA, led by the one it may mean."""
    said = did_you_mean(args.target, columns)
    sheet = getattr(args, "sheet", None)
    where = f"sheet {sheet!r} of {args.data!r}" if sheet is not None else repr(args.data)
    return UsageError(
        f"target column {args.target!r} is not in {where} ({said}columns: "
        f"{', '.join(list(columns)[:20])})"
    )


def written_columns(model: Any, target: str | None = None) -> list[str]:
    """The columns a model reads as text whatever they look like: its ID columns, its
    categorical and text features, and the column ``target`` when the model's classes
    are text (a class ``01`` is not the number 1)."""
    names = list(model.id_columns_)
    names += [
        c["name"] for c in model.preprocessor_.columns_ if c["kind"] in ("categorical", "text")
    ]
    classes = getattr(model, "classes_", None) if model.task_ == "classification" else None
    if target is not None and classes is not None and classes.dtype == object:
        names.append(target)
    return names


def load_model(path: str) -> Any:
    """The :class:`~deltaprop.TabularModel` in the model file ``path``."""

    model = load(path)
    if not isinstance(model, TabularModel):
        raise UsageError(
            f"{path!r} holds a {type(model).__name__}, not a model written by 'deltaprop train'"
        )
    return model


def check_destination(path: str | None, option: str) -> None:
    """Fail before any work when a file could not be written to ``path``."""
    if path is None:
        return
    destination = Path(path)
    try:
        is_folder, parent_is_folder = destination.is_dir(), destination.parent.is_dir()
    except OSError as exc:  # a name the system refuses: too long, ...
        raise UsageError(f"{option} {path}: {exc.strerror or exc}") from None
    if is_folder:
        raise UsageError(f"{option} {path}: it is a folder")
    if not parent_is_folder:
        raise UsageError(f"{option} {path}: folder {str(destination.parent)!r} does not exist")


def check_checkpoint_options(args: argparse.Namespace) -> None:
    """``--resume`` names a file; ``--checkpoint-every`` comes with ``--checkpoint``."""
    if args.resume is not None and not Path(args.resume).is_file():
        problem = (
            "it is a folder, not a checkpoint" if Path(args.resume).is_dir() else "no such file"
        )
        raise UsageError(f"--resume {args.resume}: {problem}")
    if args.checkpoint is None and args.checkpoint_every is not None:
        raise UsageError("--checkpoint-every needs --checkpoint PATH")


def write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`deltaprop.files.write_atomically`)."""
    check_destination(path, "output")
    write_atomically(path, lambda file: file.write(data))


def layers_of(net: Any) -> list[tuple[int, int, str]]:
    """``(n_in, n_out, activation name)`` of each layer of a network."""
    return [(layer.n_in, layer.n_out, layer.activation.name) for layer in net.layers]


def architecture(layers: Iterable[tuple[int, int, str]]) -> str:
    """``"4 inputs -> 8 relu -> 3 softmax"`` from ``(n_in, n_out, activation)`` per layer."""
    layers = list(layers)
    parts = [f"{layers[0][0]} inputs"]
    parts += [f"{n_out} {activation}" for _, n_out, activation in layers]
    return " -> ".join(parts)


def say(args: argparse.Namespace, text: str) -> None:
    """Print ``text`` unless ``--quiet`` (made safe for a terminal: it names columns)."""
    if not getattr(args, "quiet", False):
        print(terminal_safe(text))


# -- progress -------------------------------------------------------------------------
class Progress:
    """A train callback: a tqdm bar on a terminal, or one line per epoch (``-v``).

    It shows the loss, the validation loss and, when training records one
    (``History.val_score``), the validation score named ``score_name``. With
    ``members`` > 1 (the tabular recipe) each line and the bar's label name the member
    the numbers belong to, ``member i/n`` (a member is known by its History); the
    recipe trains its members side by side, so each epoch reports every running
    member in turn (with dropout, one member after another: the bar then restarts for
    each). ``max_iter`` may be a function returning the epochs, read when the first
    member reports (the recipe picks them from the table's size).
    """

    def __init__(
        self,
        max_iter: int | Any,
        *,
        bar: bool,
        lines: bool,
        score_name: str | None = None,
        members: int = 1,
    ) -> None:
        self._max_iter = max_iter
        self.lines = lines
        self.score_name = score_name
        self.members, self.member = members, 0
        # id(History) -> (member number, the History: held so that its id is not reused)
        self._member_of: dict[int, tuple[int, Any]] = {}
        self.bar = None
        if bar:
            try:
                from tqdm import tqdm  # optional dependency: the cli extra
            except ImportError:  # the bar is a nicety: fall back to lines
                self.lines = True
            else:
                # a terminal that reports no width (some ptys) would get an empty bar
                try:
                    columns = os.get_terminal_size(sys.stderr.fileno()).columns
                except (OSError, ValueError):
                    columns = 0
                self.bar = tqdm(
                    total=max_iter if isinstance(max_iter, int) else None,
                    unit="epoch",
                    file=sys.stderr,
                    ncols=None if columns > 0 else 80,
                )

    @property
    def max_iter(self) -> int:
        """The epochs of one run (of one member)."""
        return self._max_iter if isinstance(self._max_iter, int) else int(self._max_iter())

    def _show_member(self, history: Any, iteration: int) -> None:
        first = not self._member_of
        entry = self._member_of.setdefault(id(history), (len(self._member_of) + 1, history))
        self.member = entry[0]
        if self.bar is not None:
            if first or iteration < self.bar.n:  # a run starts, or the next member's
                self.bar.reset(total=self.max_iter)
            if self.members > 1:
                self.bar.set_description(f"member {self.member}/{self.members}", refresh=False)

    def _numbers(self, history: Any) -> dict[str, float]:
        numbers = {"loss": history.loss[-1]}
        if history.val_loss:
            numbers["val_loss"] = history.val_loss[-1]
        if history.val_score and self.score_name is not None:
            numbers[f"val_{self.score_name}"] = history.val_score[-1]
        return numbers

    def __call__(self, iteration: int, history: Any, net: Any) -> None:
        self._show_member(history, iteration)
        numbers = self._numbers(history)
        # losses in significant digits (their scale varies), scores in [0, 1] to 4 places
        losses = ("loss", "val_loss")
        if self.bar is not None:
            shown = {k: f"{v:.4g}" if k in losses else f"{v:.4f}" for k, v in numbers.items()}
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(iteration - self.bar.n)
        elif self.lines:
            member = f"member {self.member}/{self.members}  " if self.members > 1 else ""
            text = f"{member}epoch {iteration}/{self.max_iter}"
            for name, value in numbers.items():
                text += (
                    f"  {name} {loss_text(value)}" if name in losses else f"  {name} {value:.4f}"
                )
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def loss_png(curves: list[tuple[str, list[float]]]) -> bytes:
    """Loss curves (label, loss per epoch) drawn as a PNG (needs matplotlib)."""
    try:
        from matplotlib.figure import Figure  # optional dependency: the cli extra
    except ImportError:
        raise ImportError(f"--plot needs matplotlib: {INSTALL}") from None
    figure = Figure(figsize=(6.0, 4.0))
    axes = figure.add_subplot()
    for label, curve in curves:
        axes.plot(np.arange(1, len(curve) + 1), curve, label=label)
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss")
    finite = [v for _, curve in curves[:1] for v in curve if np.isfinite(v)]
    if finite and min(finite) > 0.0:
        axes.set_yscale("log")
    axes.legend()
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def is_recipe(estimator: Any) -> bool:
    """Whether ``estimator`` is the tabular recipe (an ensemble of member networks)."""
    return hasattr(estimator, "members_")


def training_png(estimator: Any) -> bytes:
    """The loss curves of a fitted estimator: training and validation loss per epoch,
    for each member of the tabular recipe."""
    if not is_recipe(estimator):
        curves = [("training loss", estimator.loss_curve_)]
        if estimator.validation_loss_curve_:
            curves.append(("validation loss", estimator.validation_loss_curve_))
        return loss_png(curves)
    curves = []
    for i, (loss, val) in enumerate(
        zip(estimator.loss_curves_, estimator.validation_loss_curves_, strict=True), 1
    ):
        curves += [(f"member {i} training", loss), (f"member {i} validation", val)]
    return loss_png(curves)


# -- training -------------------------------------------------------------------------
def loss_text(value: float) -> str:
    """A loss per epoch: 6 decimals (``0.693147``), 6 digits from 1e6 on (``1.5e+30``)."""
    value = float(value)
    return f"{value:.6f}" if abs(value) < 1e6 else f"{value:.6g}"


def number(value: float) -> str:
    """A loss or score in at most 6 significant digits: ``0.160906``, ``1.2e+300``, ``inf``."""
    return f"{float(value):.6g}"


def best_epoch(params: dict, fitted: dict) -> int | None:
    """The epoch (1-based) whose weights early stopping kept, or None without it.

    ``params`` are the estimator's parameters, ``fitted`` its fitted attributes (or a
    model file's record of them): the weights kept are those of the lowest validation
    loss, or of the highest validation score with ``early_stopping_metric="score"``.
    """
    if not params.get("early_stopping"):
        return None
    if params.get("early_stopping_metric") == "score":
        scores = [float(v) for v in fitted.get("validation_scores_") or ()]
        return int(np.argmax(scores)) + 1 if scores else None
    losses = [float(v) for v in fitted.get("validation_loss_curve_") or ()]
    return int(np.nanargmin(losses)) + 1 if losses and not np.isnan(losses).all() else None


#: Why training stopped, and what to try, by ``stop_reason``.
_STOPPED = {
    "max_iter": "it reached --max-iter without converging: raise --max-iter or --learning-rate",
    "max_fun": "lbfgs used up its loss evaluations without converging: raise --max-iter",
    "line_search_failed": "lbfgs found no step that lowers the loss: check the feature "
    "scaling or try --solver adam",
    "converged": "it converged (the gradient is below --tol)",
    "no_improvement": "the loss improved by less than --tol for --n-iter-no-change epochs "
    "(converged)",
    "target_loss": "the loss reached --target-loss",
    "min_learning_rate": "the learning-rate schedule reached its minimum",
    "callback": "a callback asked to stop",
    "diverged": "training diverged",
}

#: What to change on the command line, by the probable cause of a divergence
#: (:class:`deltaprop.training.history.Divergence`).
_DIVERGENCE_ADVICE = {
    "penalty": "the L2 penalty is too large: lower --alpha",
    "learning_rate": "the learning rate is too high: lower --learning-rate",
    "inputs": "the columns' scales differ widely: do not pass --no-standardize",
    "data": "a column or the --sample-weight column holds extreme values: rescale it",
    "initial_weights": "the weights it started from overflow: train without --resume",
    "unknown": "check the table for extreme values",
}


def divergence_line(divergence: dict) -> str:
    """One line: where training diverged, what was found, the probable cause in options.

    ``divergence`` is an estimator's ``divergence_`` (or a model file's record of it).
    """
    where = f"epoch {divergence['iteration']}"
    if divergence.get("batch") is not None:
        where += f", batch {divergence['batch']}"
    advice = _DIVERGENCE_ADVICE.get(str(divergence["cause"]), _DIVERGENCE_ADVICE["unknown"])
    return f"diverged at {where}: {divergence['problem']}; probable cause: {advice}"


def stop_explanation(reason: str | None, best: int | None, n_epochs: int) -> str:
    """One line: why training stopped, which epoch's weights were kept, what to try."""
    text = _STOPPED.get(str(reason), f"stop reason {reason}")
    if reason == "early_stopping":
        text = "the validation loss stopped improving (early stopping)"
    if best is not None:
        text += (
            f"; the weights of epoch {best} of {n_epochs} are kept (the best on the held-out rows)"
        )
    return f"stopped because {text}"


def _check_activations(args: argparse.Namespace) -> None:
    """``--activation`` and ``--output-activation`` in deltaprop's words (exit code 2)."""
    for option, names in (
        ("activation", HIDDEN_ACTIVATIONS),
        ("output_activation", OUTPUT_ACTIVATIONS),
    ):
        value = getattr(args, option, None)
        if value is not None and value not in names:
            why = " (softmax is only an output activation)" if value == "softmax" else ""
            raise UsageError(
                f"--{option.replace('_', '-')} {value}: not an activation{why}; choose one of "
                f"{', '.join(sorted(names - {'softmax'} if option == 'activation' else names))}"
            )


def build_estimator(args: argparse.Namespace, task: str, callbacks: list | None) -> Any:
    """The MLPClassifier or MLPRegressor that the options of ``train`` describe."""
    # deltaprop.estimators.mlp imports scikit-learn (optional dependency)
    from deltaprop.estimators.mlp import MLPClassifier, MLPRegressor

    _check_activations(args)
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


@contextlib.contextmanager
def no_convergence_warnings():
    """No ConvergenceWarning or DivergenceWarning: ``train``'s summary says why it stopped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        # only an estimator built before the block warns with scikit-learn's class, and
        # importing scikit-learn for nothing would cost a second of the tabular recipe's fit
        if sys.modules.get("sklearn") is not None:
            from sklearn.exceptions import ConvergenceWarning  # optional dependency

            warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def build_recipe(args: argparse.Namespace, task: str, callbacks: list | None) -> Any:
    """The tabular recipe of ``train``'s default (``--recipe tabular``): its plain class,
    which fits without importing scikit-learn (the model file holds the
    TabularClassifier's or TabularRegressor's state all the same)."""
    from deltaprop.estimators.plain_recipe import PlainTabularClassifier, PlainTabularRegressor

    cls = PlainTabularClassifier if task == "classification" else PlainTabularRegressor
    return cls(time_budget=args.time_budget, random_state=args.seed, callbacks=callbacks)


def score_name(task: str) -> str:
    """The validation score of a task: what the progress bar and summaries show."""
    return "accuracy" if task == "classification" else "R2"


def progress_options(args: argparse.Namespace, task: str) -> dict[str, Any]:
    """:class:`Progress`'s display for ``train``'s options: a bar on a terminal, lines
    with ``-v``, nothing with ``--quiet``; the validation score named for ``task``."""
    return {
        "bar": sys.stderr.isatty() and not args.quiet,
        "lines": args.verbose > 0 and not args.quiet,
        "score_name": score_name(task),
    }


#: Why a member of the tabular recipe stopped, by its stop reason.
_MEMBER_STOPPED = {
    "early_stopping": "no lower validation loss for {patience} epochs",
    "max_iter": "all its epochs ran",
    "time_budget": "the time budget was spent",
    "interrupted": "interrupted (Ctrl-C)",
    "diverged": "the loss stopped being finite (diverged)",
}


def recipe_lines(
    params: dict, fitted: dict, members: list[dict], layers: list, task: str
) -> list[str]:
    """What ``train`` and ``info`` say about a fitted tabular recipe.

    ``params`` are its parameters, ``fitted`` its ``batch_size_``, ``max_epochs_`` and
    ``fit_time_``, ``members`` one dict per member (``n_iter``, ``best_iteration``,
    ``stop_reason``, ``validation_score_curve``): a model file's record of them, or the
    same read off the estimator (:func:`recipe_record`). ``layers`` are those of a member.
    """
    n = len(members)
    lines = [
        f"model: the tabular recipe, {n} member network{'s' if n != 1 else ''} averaged, "
        f"each {architecture(layers)}"
    ]
    budget = params["time_budget"]
    spent = f"{float(fitted['fit_time_']):.1f} s"
    spent += " (no time budget)" if budget is None else f" of a {float(budget):g} s time budget"
    if n < params["n_ensemble"]:
        spent += f"; {n} of {params['n_ensemble']} members trained before it ran out"
    lines.append(
        f"training: {spent}; Adam (learning rate {float(params['learning_rate']):g}, "
        f"beta_2 {float(params['beta_2']):g}), cosine decay over {fitted['max_epochs_']} "
        f"epochs, batch size {fitted['batch_size_']}, "
        f"{float(params['validation_fraction']):g} of the rows held out by each member"
    )
    name = score_name(task)
    for i, member in enumerate(members, 1):
        reason = str(member["stop_reason"])
        why = _MEMBER_STOPPED.get(reason, f"stop reason {reason}")
        text = f"  member {i}: {member['n_iter']} epochs, stopped: " + why.format(
            patience=params["n_iter_no_change"]
        )
        best, scores = member["best_iteration"], member["validation_score_curve"]
        if best is not None:
            text += f"; kept epoch {best}"
            if scores:
                text += f" (validation {name} {float(scores[best - 1]):.4f})"
        lines.append(text)
    lines.append("each member keeps the weights of its epoch with the lowest validation loss")
    return lines


def recipe_record(estimator: Any) -> tuple[dict, dict, list[dict]]:
    """``(params, fitted, members)`` of a fitted tabular recipe, as :func:`recipe_lines`
    takes them."""
    fitted = {key: getattr(estimator, key) for key in ("batch_size_", "max_epochs_", "fit_time_")}
    members = [
        {
            "n_iter": n_iter,
            "best_iteration": best,
            "stop_reason": reason,
            "validation_score_curve": scores,
        }
        for n_iter, best, reason, scores in zip(
            estimator.n_iter_,
            estimator.best_iterations_,
            estimator.stop_reasons_,
            estimator.validation_score_curves_,
            strict=True,
        )
    ]
    return estimator.get_params(), fitted, members


def _warn_without_out(args: argparse.Namespace) -> None:
    if args.out is None:
        warnings.warn(
            "no --out: the trained model was thrown away; add --out MODEL to keep it",
            UserWarning,
            stacklevel=1,
        )


def _finish_recipe(args: argparse.Namespace, model: Any, estimator: Any, written: bool) -> int:
    """The recipe's part of :func:`finish_training`: members, then the exit code."""
    params, fitted, members = recipe_record(estimator)
    layers = layers_of(estimator.members_[0])
    for line in recipe_lines(params, fitted, members, layers, model.task_):
        say(args, line)
    if written:
        say(args, f"wrote {args.out}")
    if args.plot is not None:
        say(args, f"wrote {args.plot}")
    if "interrupted" in estimator.stop_reasons_:
        saved = f"; the model of the members trained so far was written to {args.out}"
        print(f"deltaprop: interrupted{saved if args.out else ''}", file=sys.stderr)
        return 130
    diverged = [i for i, r in enumerate(estimator.stop_reasons_, 1) if r == "diverged"]
    if diverged:
        kept = (
            f"; the model was written to {args.out} (--keep-diverged)"
            if written
            else "; no model was written (--keep-diverged writes it)"
        )
        print(
            f"deltaprop: error: member {diverged[0]} diverged: its loss stopped being finite "
            f"or exploded; check the scaling of the columns (do not pass --no-standardize){kept}",
            file=sys.stderr,
        )
        return DIVERGED
    return 0


def finish_training(
    args: argparse.Namespace, model: Any, n_rows: int, where: str = "", fitted: Any = None
) -> int:
    """Write the model (``--out``) and the plot (``--plot``), print the summary.

    ``fitted`` is the estimator the model was fitted with when it should be read in place
    of ``model.estimator_`` (the plain recipe: building its scikit-learn estimator would
    import scikit-learn). A diverged run writes no model unless ``--keep-diverged`` and
    returns :data:`DIVERGED`.
    """
    estimator = fitted if fitted is not None else model.estimator_
    recipe = is_recipe(estimator)
    diverged = "diverged" in (estimator.stop_reasons_ if recipe else [estimator.stop_reason_])
    write = args.out is not None and (not diverged or getattr(args, "keep_diverged", False))
    if write:
        save(model, args.out)
    if args.plot is not None:
        write_bytes(args.plot, training_png(estimator))

    what = f" ({len(model.classes_)} classes)" if model.task_ == "classification" else ""
    n_columns = len(model.feature_names_in_)
    say(
        args,
        f"trained on {n_rows} rows of {args.data}{where}: {model.task_} of {args.target!r}"
        f"{what} from {n_columns} feature column{'s' if n_columns > 1 else ''}",
    )
    if recipe:
        _warn_without_out(args)
        return _finish_recipe(args, model, estimator, write)
    interrupted = estimator.stop_reason_ == "interrupted"
    say(args, f"network: {architecture(layers_of(estimator.network_))}")
    curve = estimator.loss_curve_
    say(
        args,
        f"{estimator.solver}: {len(curve)} epochs, final loss "
        f"{number(curve[-1]) if curve else 'none'}, stopped: {estimator.stop_reason_}",
    )
    if write:
        say(args, f"wrote {args.out}")
    _warn_without_out(args)
    if args.plot is not None:
        say(args, f"wrote {args.plot}")
    if interrupted:
        saved = f"; the model was written to {args.out}" if args.out else ""
        print(f"deltaprop: interrupted{saved}", file=sys.stderr)
        return 130
    if diverged:
        written = (
            f"; the model was written to {args.out} (--keep-diverged)"
            if write
            else "; no model was written (--keep-diverged writes it)"
        )
        line = divergence_line(estimator.divergence_)
        print(f"deltaprop: error: training {line}{written}", file=sys.stderr)
        return DIVERGED
    why = stop_explanation(
        estimator.stop_reason_,
        best_epoch(estimator.get_params(), vars(estimator)),
        len(curve),
    )
    say(args, why)
    return 0
