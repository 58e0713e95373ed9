"""The vocabulary of the ``deltaprop`` command: every option, defined once.

Each option (its flags, type, default, choices and help) is one :class:`Option` in
:data:`OPTIONS`; a command's parser is built by :func:`add` from these entries, so an
option that two commands take has the same spelling, the same type and the same meaning
in both. A command may give an option another default where the command deliberately
differs (``serve`` trains a small network that a learner can watch); its help then says
so. Old spellings stay accepted as hidden aliases that print a one-line note on stderr
(:data:`OPTIONS` lists them as ``aliases``). The vocabulary is documented in
``docs/cli.md``.

This module also holds :class:`UsageError` and the parser class that every command's
parser uses.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltaprop.live.toys import TOYS

__all__ = ["MLP_OPTIONS", "OPTIONS", "Option", "Parser", "UsageError", "add", "wrap"]


class UsageError(ValueError):
    """Bad usage or bad input: reported in one line with exit code 2."""


_NOT_GIVEN: Any = object()


class Parser(argparse.ArgumentParser):
    """An argument parser that raises :class:`UsageError` instead of exiting.

    After :meth:`watch`, the parsed namespace also has ``given``: the watched options
    that the command line set (a default is not told apart from a value by comparing:
    ``--hidden 100`` is given although 100 is the default).
    """

    watched: frozenset[str] = frozenset()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # no abbreviations: ``--output`` would silently mean --output-activation
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # argparse would exit itself; we want a return code
        raise UsageError(message)

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        """As argparse's, with the options nearest each unrecognised one suggested, also
        where argparse stops first at a missing argument (``--targt y``: ``--target``)."""
        words = list(sys.argv[1:] if args is None else args)
        try:
            namespace, extras = self.parse_known_args(words, namespace)
        except UsageError as exc:
            hints = self._hints(words)
            raise UsageError(f"{exc} ({hints})" if hints else str(exc)) from None
        if extras:
            hints = self._hints(extras, words)
            self.error(
                f"unrecognized arguments: {' '.join(extras)}" + (f" ({hints})" if hints else "")
            )
        return namespace

    def _hints(self, unknown: list[str], words: list[str] | None = None) -> str:
        """``"--hid: did you mean --hidden?"`` for each option of ``unknown`` that neither
        the command chosen in ``words`` nor the top level has, near one that it has."""
        known = self._long_options(self)
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                command = next((w for w in words or unknown if w in action.choices), None)
                if command is not None:
                    known += self._long_options(action.choices[command])
        hints = []
        for word in unknown:
            name = word.split("=")[0]
            if name.startswith("--") and name not in known:
                near = difflib.get_close_matches(name, known, n=2, cutoff=0.7)
                if near:
                    hints.append(f"{name}: did you mean {' or '.join(near)}?")
        return "; ".join(hints)

    @staticmethod
    def _long_options(parser: argparse.ArgumentParser) -> list[str]:
        """The long options ``parser`` shows (an old spelling kept for scripts is hidden)."""
        return [
            option
            for action in parser._actions
            if action.help != argparse.SUPPRESS
            for option in action.option_strings
            if option.startswith("--")
        ]

    def watch(self, dests: Any) -> None:
        """Record which of the options ``dests`` (store, store_true) a command line sets."""
        self.watched = frozenset(dests)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if not self.watched:
            return super().parse_known_args(args, namespace)
        namespace = argparse.Namespace() if namespace is None else namespace
        # argparse fills in a default only where the namespace lacks the attribute: one
        # that still holds the marker afterwards was not on the command line
        for dest in self.watched:
            if not hasattr(namespace, dest):
                setattr(namespace, dest, _NOT_GIVEN)
        namespace, extras = super().parse_known_args(args, namespace)
        given = set()
        for action in self._actions:
            if action.dest not in self.watched or action.default is argparse.SUPPRESS:
                continue
            if getattr(namespace, action.dest) is not _NOT_GIVEN:
                given.add(action.dest)
                continue
            default = action.default
            if isinstance(default, str):  # as argparse does: a text default is parsed
                default = self._get_value(action, default)
            setattr(namespace, action.dest, default)
        namespace.given = frozenset(given)
        return namespace, extras


def wrap(text: str) -> str:
    """``text`` wrapped for a help screen that keeps its epilog's line breaks."""
    return textwrap.fill(text, 79)


# -- argument types -------------------------------------------------------------------
def int_at_least(low: int) -> Callable[[str], int]:
    """An argument type: an integer ``>= low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


_BYTE_UNITS = {
    "": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip


def byte_size(text: str) -> int:
    """An argument type: a memory size such as ``400MB``, ``1.5GB``, ``512MiB`` (bytes).

    >>> byte_size("400MB"), byte_size("1.5 GiB")
    (400000000, 1610612736)
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _BYTE_UNITS:
        raise argparse.ArgumentTypeError(
            f"must be a size such as 400MB, 2GB or 512MiB, got {text!r}"
        )
    value = int(float(match.group(1)) * _BYTE_UNITS[unit])
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 byte, got {text!r}")
    return value


def float_in(
    low: float, high: float = float("inf"), *, low_open: bool = False
) -> Callable[[str], float]:
    """An argument type: a number in ``[low, high)`` (``(low, high)`` with ``low_open``)."""

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


def finite_float(text: str) -> float:
    """An argument type: any finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


def fraction_or_none(text: str) -> float:
    """An argument type: a share of the rows in (0, 1), or 0 for none."""
    if text.strip() in ("0", "0.0"):
        return 0.0
    return _FRACTION(text)


_FRACTION = float_in(0.0, 1.0, low_open=True)


def hidden_sizes(text: str) -> tuple[int, ...]:
    """``"64,32"`` -> ``(64, 32)``; ``"none"``, ``"0"`` or ``""`` -> no hidden layer."""
    if text.strip().lower() in ("", "none", "0"):
        return ()
    sizes = []
    for part in text.split(","):
        try:
            size = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"invalid int value: {part.strip()!r}; write layer sizes separated by "
                f"commas, such as 64,32 (or none)"
            ) from None
        if size < 1:
            raise argparse.ArgumentTypeError(f"layer sizes must be >= 1, got {size}")
        sizes.append(size)
    return tuple(sizes)


def batch_size(text: str) -> int | str:
    """An argument type: ``auto`` or a number of rows >= 1."""
    return "auto" if text == "auto" else _ROWS(text)


_ROWS = int_at_least(1)


def columns(text: str) -> list[str]:
    """An argument type: comma-separated column names."""
    return [name.strip() for name in text.split(",") if name.strip()]


def weight_position(text: str) -> tuple[int, int, int]:
    """An argument type: ``LAYER,I,J`` -> ``(layer, i, j)``, numbered from 1 (``I = 0``: bias)."""
    parts = text.split(",")
    try:
        layer, i, j = (int(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: write LAYER,I,J, three integers such as 2,1,1 (the "
            "weight from unit I of layer LAYER-1 to unit J of layer LAYER, numbered from 1; "
            "I = 0 for the bias)"
        ) from None
    if layer < 1 or i < 0 or j < 1:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: LAYER and J are numbered from 1 and I from 0 (the bias)"
        )
    return layer, i, j


#: Missing-value strategies of ``--impute`` -> the Preprocessor's ``impute``.
IMPUTE = {"mean": "mean", "median": "median", "most-frequent": "most_frequent", "none": None}


def impute_of(args: argparse.Namespace) -> str | None:
    """The Preprocessor's ``impute`` for the parsed ``--impute`` (default: the median)."""
    return IMPUTE[getattr(args, "impute", None) or "median"]


def separator(text: str) -> str:
    """An argument type: one character; ``tab`` or ``\\t`` for a tab."""
    if text.lower() in ("tab", "\\t"):
        return "\t"
    if len(text) != 1 or text in '"\r\n':
        raise argparse.ArgumentTypeError(
            f"must be one character (or tab), not a quote or newline, got {text!r}"
        )
    return text


def encoding(text: str) -> str:
    """An argument type: a text encoding Python knows (utf-8, latin-1, cp1252, ...)."""
    try:
        "".encode(text)
    except LookupError:
        raise argparse.ArgumentTypeError(f"unknown text encoding {text!r}") from None
    return text


def table_reading(args: argparse.Namespace) -> dict[str, Any]:
    """The keywords of :func:`deltaprop.tabular.read_table` that ``--sep``, ``--decimal``,
    ``--encoding`` and ``--sheet`` set (None where the option was not given: sniffed)."""
    return {key: getattr(args, key, None) for key in ("sep", "decimal", "encoding", "sheet")}


# -- the options ----------------------------------------------------------------------
@dataclass(frozen=True)
class Option:
    """One command-line option: what :meth:`argparse.ArgumentParser.add_argument` takes.

    Parameters
    ----------
    flags : tuple of str
        The spellings, e.g. ``("-v", "--verbose")``; empty for a positional argument.
    help : str
        The help line (it states the default).
    settings : dict
        Further keywords of ``add_argument``: type, default, choices, metavar, action.
    aliases : tuple of str
        Old spellings, accepted with a one-line deprecation note and hidden from help.
    """

    flags: tuple[str, ...]
    help: str
    settings: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


def _o(*flags: str, help: str, aliases: tuple[str, ...] = (), **settings: Any) -> Option:
    return Option(flags, help, settings, aliases)


_SOLVERS = ["gd", "sgd", "adam", "lbfgs"]

#: Every option of every command, keyed by its ``dest`` (the estimator's parameter it
#: sets is named in docs/cli.md).
OPTIONS: dict[str, Option] = {
    # what to read and write
    "data": _o(metavar="DATA", help="the table: .csv, .parquet or .npz"),
    "model": _o(metavar="MODEL", help="a model written by 'deltaprop train'"),
    "target": _o("--target", metavar="COLUMN", help="the column to predict"),
    "out": _o("--out", metavar="FILE", help="write the result to this file"),
    "sample_weight": _o(
        "--sample-weight", metavar="COLUMN", help="a column of row weights (not a feature)"
    ),
    # the network
    "hidden": _o(
        "--hidden",
        type=hidden_sizes,
        default=(100,),
        metavar="SIZES",
        help="hidden layer sizes, comma separated, e.g. 64,32; 'none' for none (default 100)",
    ),
    "activation": _o(
        "--activation",
        default="relu",
        help="hidden activation: relu, tanh, sigmoid, ... (relu)",
    ),
    "output_activation": _o(
        "--output-activation",
        metavar="NAME",
        help="output activation (default: sigmoid/softmax for classes, identity for numbers)",
    ),
    "loss": _o(
        "--loss", help="regression: squared_error (default) or poisson; classification: log_loss"
    ),
    "alpha": _o("--alpha", type=float_in(0.0), default=1e-4, help="L2 penalty (default 1e-4)"),
    # training
    "solver": _o(
        "--solver",
        choices=_SOLVERS,
        default="adam",
        aliases=("--optimizer",),
        help="gd: full-batch gradient descent; sgd/adam: mini-batches; lbfgs (default adam)",
    ),
    "learning_rate": _o(
        "--learning-rate",
        type=float_in(0.0, low_open=True),
        default=1e-3,
        metavar="RATE",
        help="step size (default 0.001)",
    ),
    "momentum": _o(
        "--momentum", type=float_in(0.0, 1.0), default=0.0, help="SGD momentum (default 0)"
    ),
    "batch_size": _o(
        "--batch-size",
        type=batch_size,
        default="auto",
        metavar="N",
        help="mini-batch size for sgd/adam (default auto: min(200, rows))",
    ),
    "max_iter": _o(
        "--max-iter", type=int_at_least(1), default=200, metavar="N", help="epochs (default 200)"
    ),
    "target_loss": _o(
        "--target-loss", type=finite_float, metavar="LOSS", help="stop once the loss is this low"
    ),
    "tol": _o(
        "--tol",
        type=float_in(0.0),
        default=1e-4,
        help="stop when the loss improves less than this for --n-iter-no-change epochs (1e-4)",
    ),
    "n_iter_no_change": _o(
        "--n-iter-no-change",
        type=int_at_least(1),
        default=10,
        metavar="N",
        help="patience of --tol and --early-stopping (default 10)",
    ),
    "early_stopping": _o(
        "--early-stopping",
        action="store_true",
        help="hold out --validation-fraction of the rows; stop when their loss stops falling "
        "and keep the best weights",
    ),
    "validation_fraction": _o(
        "--validation-fraction",
        type=fraction_or_none,
        default=0.1,
        metavar="F",
        help="share of rows held out with --early-stopping (default 0.1)",
    ),
    "class_weight": _o(
        "--class-weight", choices=["balanced"], help="weigh classes by n / (n_classes * n_c)"
    ),
    "seed": _o("--seed", type=int, default=0, help="random seed (default 0)"),
    "recipe": _o(
        "--recipe",
        choices=["tabular", "mlp"],
        help="tabular: an ensemble of 5 MLPs trained by deltaprop's tabular recipe (the "
        "default); mlp: one MLP estimator, set by the network and training options below "
        "(any of them given without --recipe selects mlp)",
    ),
    "time_budget": _o(
        "--time-budget",
        type=float_in(0.0, low_open=True),
        metavar="SECONDS",
        help="the tabular recipe: cap the wall-clock time of training (default: none; the "
        "epochs follow from the table's size)",
    ),
    "task": _o(
        "--task",
        choices=["classification", "regression"],
        help="default: inferred from the target (text, booleans and few integers: classes)",
    ),
    # reading the table
    "sep": _o(
        "--sep",
        type=separator,
        metavar="CHAR",
        help="field separator of a text table: , ; tab | ... (default: sniffed)",
    ),
    "decimal": _o(
        "--decimal",
        choices=[".", ","],
        help="decimal mark of a text table (default: sniffed; a comma where numbers read 1,5)",
    ),
    "encoding": _o(
        "--encoding",
        type=encoding,
        metavar="NAME",
        help="text encoding: utf-8, latin-1, cp1252, ... (default: utf-8, else cp1252)",
    ),
    "sheet": _o(
        "--sheet",
        metavar="NAME",
        help="the sheet of an .xlsx workbook to read (default: the first that holds a table)",
    ),
    # preprocessing
    "impute": _o(
        "--impute",
        choices=sorted(IMPUTE),
        help="fill missing feature values with the median (default), the mean or the most "
        "frequent value, each flagged in an extra column; none: a missing value is an error",
    ),
    "no_standardize": _o(
        "--no-standardize",
        action="store_true",
        help="keep numeric columns as they are (warns when their scales differ widely)",
    ),
    "scaling": _o(
        "--scaling",
        choices=["robust", "standard"],
        help="numeric columns: robust (median, quartiles, smooth clipping to +-3; the "
        "default) or standard (mean and standard deviation)",
    ),
    "id": _o(
        "--id",
        type=columns,
        metavar="COLUMNS",
        help="columns that identify rows: no features; predict writes them next to each prediction",
    ),
    "drop": _o("--drop", type=columns, metavar="COLUMNS", help="columns to leave out"),
    "dry_run": _o(
        "--dry-run",
        action="store_true",
        help="print the role of each column (and why), then stop: no training, no file",
    ),
    "categorical": _o(
        "--categorical",
        type=columns,
        metavar="COLUMNS",
        help="comma-separated numeric columns to one-hot encode as categories",
    ),
    "numeric": _o(
        "--numeric",
        type=columns,
        metavar="COLUMNS",
        help=(
            "comma-separated columns to scale as numbers whatever the rules say (integer "
            "codes, IDs that repeat); their values that are not numbers read as missing"
        ),
    ),
    # output, checkpoints
    "plot": _o("--plot", metavar="FILE.png", help="draw the loss per epoch to a PNG file"),
    "checkpoint": _o(
        "--checkpoint", metavar="PATH", help="save the state of training to PATH (atomically)"
    ),
    "checkpoint_every": _o(
        "--checkpoint-every",
        type=int_at_least(1),
        metavar="N",
        help="checkpoint every N epochs (default 1)",
    ),
    "resume": _o(
        "--resume",
        metavar="PATH",
        help="continue from a checkpoint (same data and options): the result is identical",
    ),
    "keep_diverged": _o(
        "--keep-diverged",
        action="store_true",
        help="write --out even when training diverged (exit code 3 all the same); by "
        "default a diverged run writes no model",
    ),
    "quiet": _o("-q", "--quiet", action="store_true", help="print nothing but errors"),
    "verbose": _o(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more output (and the traceback of an unexpected error)",
    ),
    # Dask
    "dask": _o(
        "--dask",
        action="store_true",
        help="read DATA (a Parquet folder or file) with Dask and train on a local cluster; "
        "the rows never pass through this process",
    ),
    "dask_scheduler": _o(
        "--dask-scheduler",
        metavar="ADDRESS",
        help="train on the Dask cluster of this scheduler (e.g. tcp://host:8786); implies --dask",
    ),
    "dask_workers": _o(
        "--dask-workers",
        type=int_at_least(1),
        metavar="N",
        help="worker processes of the local cluster (default: Dask's choice)",
    ),
    "dask_worker_memory": _o(
        "--dask-worker-memory",
        type=byte_size,
        metavar="SIZE",
        help="memory limit of each worker of the local cluster, e.g. 400MB or 2GB "
        "(default: Dask's share of this machine's memory)",
    ),
    "dask_data": _o(
        "--dask-data",
        choices=("auto", "persist", "stream"),
        help="keep the partitions in the workers' memory (persist), read them again from "
        "DATA at every epoch (stream, for data larger than the workers' memory), or "
        "choose from the estimated size and the workers' limits (auto, the default); "
        "train prints the choice and why",
    ),
    "local_steps": _o(
        "--local-steps",
        type=int_at_least(1),
        metavar="N",
        help=(
            "sgd/adam through Dask: steps per partition between averagings (default: "
            "about one pass over the rows per round)"
        ),
    ),
    # predict, evaluate, export-onnx
    "proba": _o(
        "--proba", action="store_true", help="add the probability of each class (classification)"
    ),
    "json": _o("--json", action="store_true", help="print one JSON object"),
    "html": _o(
        "--html", metavar="REPORT.html", help="also write the report as one self-contained page"
    ),
    "opset": _o(
        "--opset",
        type=int_at_least(1),
        metavar="N",
        help="ONNX opset (default: the lowest that expresses the model)",
    ),
    "dtype": _o(
        "--dtype",
        choices=["float32", "float64"],
        help="float type of the model (default: that of the model's weights)",
    ),
    # explain
    "row": _o("--row", type=int, metavar="N", help="the row of DATA to explain (1 is the first)"),
    "member": _o(
        "--member",
        type=int_at_least(1),
        metavar="K",
        help="a model of the tabular recipe: the member network to explain (numbered from "
        "1; default 1); the model predicts the average of its members",
    ),
    "format": _o(
        "--format",
        choices=["text", "markdown", "json"],
        default="text",
        help="output format (default text)",
    ),
    "png": _o("--png", metavar="FILE", help="also draw the network to FILE (PNG)"),
    "steps": _o(
        "--steps", type=int, metavar="K", help="also show the loss over K steps of gradient descent"
    ),
    "weight": _o(
        "--weight",
        type=weight_position,
        action="append",
        metavar="LAYER,I,J",
        help="also work the weight W[LAYER][I,J] out as scalars, with its finite-difference "
        "check (numbered from 1 as the text prints them; I = 0 for the bias b[LAYER][J]); "
        "repeatable",
    ),
    "example": _o(
        "--example",
        choices=["mazur", "tutorial"],
        default="mazur",
        help="the network explained without MODEL DATA: mazur, the classic one-row worked "
        "example (squared error), or tutorial, docs/tutorial.md's three rows with sample "
        "weights (cross-entropy) (default mazur)",
    ),
    # serve
    "epochs_per_second": _o(
        "--epochs-per-second",
        type=float_in(0.0, low_open=True),
        help="slow training down (default: full speed)",
    ),
    "port": _o("--port", type=int, default=0, help="port (default: a free one)"),
    "toy": _o(
        "--toy",
        choices=list(TOYS),
        help="train on a built-in toy data set instead of DATA",
    ),
    "open": _o("--open", action="store_true", help="open the page in a browser"),
    "paused": _o("--paused", action="store_true", help="start paused"),
}

#: The options of ``train`` that set the MLP estimator: any of them given selects
#: ``--recipe mlp`` (docs/cli.md); the tabular recipe takes none of them.
MLP_OPTIONS = (
    *("hidden", "activation", "output_activation", "loss", "alpha"),
    *("solver", "learning_rate", "batch_size", "max_iter", "target_loss", "tol"),
    *("n_iter_no_change", "early_stopping", "validation_fraction", "class_weight"),
    *("checkpoint", "checkpoint_every", "resume"),
)

_KEEP: Any = object()


class _DeprecatedAlias(argparse.Action):
    """An old spelling: stores like the option it stands for, with a note on stderr."""

    def __init__(self, option_strings, dest, *, canonical: str, **kwargs) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.canonical = canonical

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(
            f"deltaprop: note: {option_string} is deprecated; write {self.canonical}",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, values)


def add(
    parser: Any,
    name: str,
    *,
    default: Any = _KEEP,
    help: str | None = None,
    required: bool | None = None,
    metavar: str | None = None,
    old_spellings: bool = False,
) -> argparse.Action:
    """Add the option ``name`` of :data:`OPTIONS` to ``parser`` (or an argument group).

    Parameters
    ----------
    parser : argparse.ArgumentParser or argument group
    name : str
        A key of :data:`OPTIONS` (the option's ``dest``).
    default : optional
        A command's own default, where it deliberately differs: ``help`` must then say
        so (the tests compare the commands' parsers and know these options).
    help, metavar : str, optional
        The command's own wording (the meaning stays that of :data:`OPTIONS`).
    required : bool, optional
        Whether the command needs the option; ``False`` for a positional argument
        makes it optional (``nargs="?"``).
    old_spellings : bool, default False
        Also accept the option's deprecated ``aliases`` (for the commands that had them).

    Returns
    -------
    argparse.Action
        The option's action.
    """
    option = OPTIONS[name]
    settings = dict(option.settings)
    if default is not _KEEP:
        if help is None:
            raise ValueError(f"option {name!r}: a command's own default needs its own help")
        settings["default"] = default
    if metavar is not None:
        settings["metavar"] = metavar
    if required is not None and option.flags:
        settings["required"] = required
    elif required is False:  # a positional argument that may be left out
        settings["nargs"] = "?"
    flags = option.flags or (name,)
    if option.flags:
        settings["dest"] = name
    action = parser.add_argument(*flags, help=help or option.help, **settings)
    for alias in option.aliases if old_spellings else ():
        alias_settings = {k: v for k, v in settings.items() if k not in ("default", "required")}
        parser.add_argument(
            alias,
            action=_DeprecatedAlias,
            canonical=flags[-1],
            default=argparse.SUPPRESS,
            help=argparse.SUPPRESS,
            **alias_settings,
        )
    return action
