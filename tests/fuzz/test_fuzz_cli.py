"""Fuzz every command of the ``deltaprop`` tool: drawn arguments, run in-process.

The arguments come from the parser itself (every option of every command, except the
Dask ones, which start clusters): each option gets a value drawn from values that make
sense for it and values that do not; positional arguments get tables and model files
from the corpus (sound or damaged), missing paths and folders. ``main(argv)`` runs in a
fresh folder; ``serve`` stops as soon as it serves (its wait returns at once).

Oracle: exit code 0, 2 (one line ``deltaprop: error: ...``) or 3 (training diverged,
same), never a traceback, never exit 1 (an unexpected exception), never a hang.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import strategies as st

from .harness import guard, out_of_time, outcome, run_for, skipped_known, target_seconds
from .known import known_defect
from .strategies import CORPUS, mutated

pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from deltaprop.cli.main import build_parser, main
from deltaprop.live._server import LiveServer

TARGET = "cli"
#: Options left out: they start Dask clusters (tests/test_cli_dask.py covers them).
LEFT_OUT = {"--dask", "--dask-scheduler", "--dask-workers", "--local-steps", "--help"}

TABLES = ["good.csv", "numeric.csv", "good.parquet", "good.npz", "good.xlsx", "sep-tab.tsv",
          "escape-labels.csv", "inf-nan.csv", "huge-numbers.csv", "latin1.csv",
          "single-row.csv", "all-missing.csv", "duplicate-header.csv", "nested.parquet",
          "long-labels.csv", "percent-thousands.csv", "semicolon-decimal-comma.csv"]  # fmt: skip
MODELS = ["classifier.deltaprop", "regressor.deltaprop", "lbfgs.deltaprop",
          "network.deltaprop", "classifier.checkpoint", "escape-library-version.deltaprop",
          "unknown-kind.deltaprop", "truncated-tail.deltaprop"]  # fmt: skip

NUMBERS = ["0", "1", "2", "0.5", "-1", "1e-300", "1e300", "nan", "inf", "-inf", "1e999",
           "abc", "", " 3", "0x10", "1_000", "9" * 30, "5e-324", "-0"]  # fmt: skip
#: Values of options that count work (epochs, steps): small, so that a run ends.
COUNTS = ["0", "1", "2", "3", "5", "-1", "abc", "", "1e3", "nan", "2.5"]
COLUMNS = ["y", "x1", "x2", "colour", "target", "a", "b", "nope", "", "y,y", "x1,colour",
           "\x1b[31m", " y ", "Unnamed: 0"]  # fmt: skip
PATHS = ["out.deltaprop", "plot.png", "report.html", "missing/folder/x.png", ".", "",
         "data.csv", "model.deltaprop", "-", "x" * 300, "\x1b[31m.png", "out.onnx"]  # fmt: skip
VALUES = {
    "--hidden": ["", "none", "0", "3", "2,2", "1,1,1", "3,x", "-1", "4,", ",", "1000000000"],
    "--activation": ["relu", "tanh", "sigmoid", "softmax", "exp", "nope", ""],
    "--output-activation": ["sigmoid", "softmax", "identity", "relu", "nope"],
    "--loss": ["squared_error", "poisson", "cross_entropy", "binary_cross_entropy", "nope"],
    "--batch-size": ["auto", "1", "2", "0", "-3", "1e9", "Auto"],
    "--seed": ["0", "1", "-1", "9" * 30, "abc", "2**32"],
    "--port": ["0", "-1", "70000", "abc", "1"],
    "--opset": ["1", "7", "9", "13", "17", "99", "-1", "0", "abc"],
    "--row": ["1", "2", "0", "-1", "1000", "abc"],
    "--weight": ["1,1,1", "2,0,1", "9,9,9", "0,0,0", "1,1", "a,b,c", "1,-1,1"],
    "--sep": [",", ";", "tab", "\\t", "", "ab", '"', "\n", "|"],
    "--encoding": ["utf-8", "latin-1", "utf-16", "nope", ""],
    "--decimal": [".", ",", ";"],
}
for _flag in ("--max-iter", "--steps", "--checkpoint-every", "--n-iter-no-change"):
    VALUES[_flag] = COUNTS
for _flag in ("--target", "--sample-weight", "--categorical", "--id", "--drop"):
    VALUES[_flag] = COLUMNS
for _flag in ("--out", "--plot", "--html", "--png", "--checkpoint", "--resume"):
    VALUES[_flag] = [*PATHS, "ckpt.deltaprop"]


#: Values a careful user would give: half the command lines use only these, so that runs
#: get past the checks into training, predicting, exporting and serving.
SANE = {
    "--hidden": ["3", "2,2", "none"], "--activation": ["relu", "tanh", "sigmoid", "elu"],
    "--output-activation": ["sigmoid", "softmax", "identity"],
    "--loss": ["squared_error", "poisson", "cross_entropy"], "--batch-size": ["auto", "1", "4"],
    "--seed": ["0", "7"], "--port": ["0"], "--opset": ["13", "17"], "--row": ["1", "2"],
    "--weight": ["1,1,1", "2,0,1"], "--sep": [","], "--encoding": ["utf-8"], "--decimal": ["."],
    "--target": ["y"], "--sample-weight": ["x1"], "--categorical": ["colour"], "--id": ["x2"],
    "--drop": ["x2"], "--out": ["out.deltaprop"], "--plot": ["plot.png"],
    "--html": ["report.html"], "--png": ["net.png"], "--checkpoint": ["ckpt2.deltaprop"],
    "--resume": ["ckpt.deltaprop"], "--learning-rate": ["0.1", "0.01"], "--alpha": ["1e-4", "0"],
    "--tol": ["1e-4"], "--validation-fraction": ["0.2", "0"], "--momentum": ["0.9", "0"],
    "--epochs-per-second": ["100"], "--target-loss": ["0.1"], "--toy": ["xor", "moons"],
}  # fmt: skip
for _flag in ("--max-iter", "--steps", "--checkpoint-every", "--n-iter-no-change"):
    SANE[_flag] = ["1", "2", "5"]
SANE_TABLES = ["good.csv", "good.parquet", "good.npz", "good.xlsx", "sep-tab.tsv"]
SANE_MODELS = ["classifier.deltaprop", "lbfgs.deltaprop"]


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


COMMANDS = _commands()


def _option_values(action: argparse.Action, sane: bool) -> st.SearchStrategy[list[str]]:
    flag = action.option_strings[-1]
    if action.nargs == 0:
        return st.just([flag])
    values = SANE.get(flag, list(action.choices or [])) if sane else None
    values = values or VALUES.get(flag)
    if values is None:
        values = [*action.choices, "nope"] if action.choices else NUMBERS
    return st.sampled_from(values).map(lambda value: [flag, value])


@st.composite
def positionals(draw, dest: str, sane: bool) -> list[str]:
    """Names of files in the run's folder (written by :func:`_lay_out`) or odd paths."""
    if sane:
        names = {"model": ["model.deltaprop"], "out": ["out.onnx"], "data": ["data.csv"]}
        return names.get(dest, ["model.deltaprop", "data.csv"])
    odd = st.sampled_from(["missing.csv", ".", "", "folder", "-"])
    if dest == "model":
        return [draw(st.one_of(st.sampled_from(["model.deltaprop"] * 4 + ["data.csv"]), odd))]
    if dest == "out":
        return [draw(st.sampled_from(["out.onnx", "missing/out.onnx", ".", "model.deltaprop"]))]
    if dest == "model_and_data":
        return draw(
            st.lists(st.sampled_from(["model.deltaprop", "data.csv", "folder"]), max_size=3)
        )
    data = draw(st.sampled_from(["data.csv"] * 6 + ["model.deltaprop"]))
    return [draw(st.one_of(st.just(data), odd))] if dest == "data" else [data]


@st.composite
def argvs(draw) -> list[str]:
    """A command line: a command, its positionals, some options in any order.

    Half of them are sane (:data:`SANE` values, ``--target y``, no stray argument).
    """
    if draw(st.integers(0, 19)) == 0:  # no command, an unknown one, the top-level options
        return draw(st.sampled_from([[], ["nope"], ["--version"], ["-x"], [""], ["--", "info"]]))
    sane = draw(st.booleans())
    name = draw(st.sampled_from(sorted(COMMANDS)))
    parser = COMMANDS[name]
    argv = [name]
    for action in parser._actions:
        if not action.option_strings and not (action.nargs == "?" and draw(st.booleans())):
            argv += draw(positionals(action.dest, sane))
    if sane and name in ("train", "serve") and "data.csv" in argv:
        argv += ["--target", "y"]
    options = [
        a for a in parser._actions if a.option_strings and not LEFT_OUT & set(a.option_strings)
    ]
    if sane:
        options = [a for a in options if "--target" not in a.option_strings]
    for action in draw(st.lists(st.sampled_from(options), max_size=6, unique_by=id)):
        argv += draw(_option_values(action, sane))
    if not sane and draw(st.integers(0, 9)) == 0:  # now and then a stray argument
        argv.insert(draw(st.integers(1, len(argv))), draw(st.sampled_from(["--nope", "x", "-"])))
    return argv


@st.composite
def files(draw) -> tuple[str, bytes, str, bytes]:
    """``(table name, its bytes, model name, its bytes)``: corpus files, sometimes damaged."""
    sane = draw(st.booleans())
    table = draw(st.sampled_from(SANE_TABLES if sane else TABLES))
    model = draw(st.sampled_from(SANE_MODELS if sane else MODELS))
    table_bytes = (CORPUS / "tables" / table).read_bytes()
    model_bytes = (CORPUS / "models" / model).read_bytes()
    edits = st.sampled_from([0] if sane else [0, 0, 0, 2])
    table_bytes = draw(mutated(table_bytes, table, max_edits=draw(edits)))
    model_bytes = draw(mutated(model_bytes, model, max_edits=draw(edits)))
    return table, table_bytes, model, model_bytes


def _lay_out(folder: Path, argv: list[str], chosen: tuple[str, bytes, str, bytes]) -> list[str]:
    """Write the run's files; the table keeps its suffix (``data.csv`` becomes ``data.npz``)."""
    table, table_bytes, _, model_bytes = chosen
    suffix = "".join(Path(table).suffixes)
    data_name = f"data{suffix}"
    (folder / data_name).write_bytes(table_bytes)
    (folder / "model.deltaprop").write_bytes(model_bytes)
    (folder / "ckpt.deltaprop").write_bytes(
        (CORPUS / "models" / "classifier.checkpoint").read_bytes()
    )
    (folder / "folder").mkdir()
    return [data_name if arg == "data.csv" else arg for arg in argv]


def check_run(argv: list[str]) -> None:
    """The oracle: exit 0, or 2/3 with one ``deltaprop: error:`` line; no traceback."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:  # argparse's --version prints and exits 0
            assert argv == ["--version"] and exc.code == 0, (argv, exc.code)
            assert out.getvalue().startswith("deltaprop "), out.getvalue()
            rc = 0
    text = err.getvalue()
    assert "Traceback" not in text, text
    errors = [line for line in text.splitlines() if line.startswith("deltaprop: error:")]
    assert rc in (0, 2, 3), f"exit {rc}: {text[-2000:]}"
    if rc:
        assert len(errors) == 1, f"exit {rc} with {len(errors)} error lines: {text[-2000:]}"
    outcome(TARGET, f"{argv[0] if argv else '(none)'} exit {rc}")


@pytest.mark.timeout(target_seconds() + 300)
def test_every_command_exits_0_2_or_3_with_one_line():
    home = os.getcwd()

    def run_one(argv, chosen):
        if out_of_time(TARGET):
            return
        known = known_defect(TARGET, (argv, chosen))
        if known is not None:
            skipped_known(TARGET, known.name)
            return
        folder = Path(tempfile.mkdtemp(prefix="deltaprop-fuzz-"))
        try:
            argv = _lay_out(folder, argv, chosen)
            os.chdir(folder)
            with (
                mock.patch.object(LiveServer, "wait", lambda self: None),
                mock.patch("webbrowser.open", lambda *a, **k: True),
                guard(f"deltaprop {argv} on {chosen[1]!r} and {chosen[3]!r}", seconds=60,
                      files=tuple(folder.iterdir())),
            ):  # fmt: skip
                check_run(argv)
        finally:
            os.chdir(home)
            shutil.rmtree(folder, ignore_errors=True)

    run_for(TARGET, run_one, argv=argvs(), chosen=files())
