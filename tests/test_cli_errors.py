"""Bad input to the command line: exit code 2, one line, no traceback, no output file.

Also: an interrupted save keeps the previous model, Ctrl-C during ``deltaprop train``
exits with 130 after writing the model, and unexpected errors exit with 1.
"""

from __future__ import annotations

import gzip
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

import deltaprop as dp  # noqa: E402
from deltaprop.cli.main import main  # noqa: E402
from deltaprop.files import container as dio  # noqa: E402

# train's default, the tabular recipe, with few epochs (conftest.py)
pytestmark = pytest.mark.usefixtures("quick_recipe")

GOOD = "x1,x2,colour,y\n" + "".join(
    f"{i % 7 * 0.5},{(i * 3) % 5 - 2.0},{'red' if i % 3 else 'blue'},{'yes' if i % 2 else 'no'}\n"
    for i in range(24)
)
TRAIN = ["--hidden", "3", "--solver", "lbfgs", "--max-iter", "5"]


def _assert_one_line_error(capsys, code, rc, *fragments):
    assert rc == code
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("deltaprop: error: ")
    assert "Traceback" not in captured.err
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.fixture
def model(tmp_path):
    data = tmp_path / "good.csv"
    data.write_text(GOOD)
    path = tmp_path / "model.deltaprop"
    assert main(["train", str(data), "--target", "y", "--out", str(path), *TRAIN, "-q"]) == 0
    return path


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (None, ["no such file"]),
        ("", ["the file is empty"]),
        ("x1,x2,y\n", ["header but no data rows"]),
        ("x1,x2,y\n1,2,a\n3,b\n", ["ragged rows: line 3 has 2 field(s), the header has 3"]),
        ("x1,x2,label\n1,2,a\n3,4,b\n", ["target column 'y' is not in"]),
        ("x1,x2,y\n1,2,a\n3,4,a\n", ["single class 'a'"]),
        (
            "x1,x2,y\n" + "".join(f"{i},{i % 3},A{i:02d}\n" for i in range(30)),
            ["target column 'y' has a different class in every one of its 30 rows"],
        ),
        (
            "x1,x2,y\n1,2,\n3,4,NA\n5,6,\n",
            ["column 'y' has missing values in 3 rows (rows 1, 2, 3)"],
        ),
    ],
    ids=[
        "missing",
        "empty",
        "header-only",
        "ragged",
        "no-target",
        "one-class",
        "a-class-per-row",
        "nan",
    ],
)
def test_bad_training_data(content, fragments, tmp_path, capsys):
    data = tmp_path / "data.csv"
    if content is not None:
        data.write_text(content)
    out = tmp_path / "model.deltaprop"
    rc = main(["train", str(data), "--target", "y", "--out", str(out), *TRAIN])
    _assert_one_line_error(capsys, 2, rc, *fragments)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == (
        ["data.csv"] if content is not None else []
    )


def test_a_title_above_the_header_is_left_out_with_a_warning(tmp_path, capsys):
    data = tmp_path / "data.csv"
    rows = "".join(f"{i % 5},{i % 3},{'ab'[i % 2]}\n" for i in range(40))
    data.write_text("Quarterly export 2024-05-01\n\nx1,x2,y\n" + rows)
    out = tmp_path / "model.deltaprop"
    assert main(["train", str(data), "--target", "y", "--out", str(out), *TRAIN]) == 0
    err = capsys.readouterr().err
    assert "1 line(s) above the header left out as a title: 'Quarterly export 2024-05-01'" in err
    assert out.exists()


def test_typo_in_numeric_column_is_read_as_missing_with_a_warning(tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_text("x1,x2,y\n1,2,a\n3,4,b\n5,12.O5,a\n7,8,b\n")
    out = tmp_path / "model.deltaprop"
    argv = ["train", str(data), "--target", "y", "--out", str(out), *TRAIN]
    assert main([*argv, "-q"]) == 0
    err = capsys.readouterr().err
    assert (
        "deltaprop: warning: column 'x2': 1 value(s) are not numbers (row 3 ('12.O5')), "
        "read as missing"
    ) in err
    assert "Traceback" not in err and out.exists()
    out.unlink()
    # --impute none makes it the error it was, in one line, exit code 2, nothing written
    rc = main([*argv, "--impute", "none"])
    _assert_one_line_error(capsys, 2, rc, "column 'x2', row 3: '12.O5' is not a number")
    assert not out.exists()


def test_missing_values_train_with_impute(tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_text(GOOD.replace("\n0.5,", "\n,", 1))
    out = tmp_path / "m.deltaprop"
    argv = ["train", str(data), "--target", "y", "--out", str(out), *TRAIN, "-q"]
    # --impute none restores the error, said in the command line's terms
    assert main([*argv, "--impute", "none"]) == 2
    err = capsys.readouterr().err
    assert "column 'x1' has missing values in 1 row (row 2)" in err
    assert "--impute none" in err and 'impute="' not in err
    assert not out.exists()
    # by default the gap is filled with the median and flagged
    assert main(argv) == 0
    pre = dp.load(out).preprocessor_
    assert pre.impute == "median" and "x1 (missing)" in pre.get_feature_names_out()
    assert main([*argv, "--impute", "mean"]) == 0
    assert dp.load(out).preprocessor_.impute == "mean"


def test_predict_file_missing_a_training_column(model, tmp_path, capsys):
    data = tmp_path / "new.csv"
    data.write_text("x1,colour\n1.0,red\n")
    out = tmp_path / "pred.csv"
    rc = main(["predict", str(model), str(data), "--out", str(out)])
    _assert_one_line_error(capsys, 2, rc, "lacks the column(s) ['x2']")
    assert not out.exists()


def test_unseen_category_is_a_warning(model, tmp_path, capsys):
    data = tmp_path / "new.csv"
    data.write_text("x1,x2,colour\n1.0,2.0,purple\n")
    assert main(["predict", str(model), str(data)]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == "y" and len(captured.out.splitlines()) == 2
    assert "categories not seen in training, encoded as all zeros: ['purple']" in captured.err


def _bad_model_files(model: Path, folder: Path) -> dict[str, Path]:
    data = model.read_bytes()
    files = {}
    files["truncated"] = folder / "truncated.deltaprop"
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["random"] = folder / "random.deltaprop"
    files["random"].write_bytes(np.random.default_rng(0).bytes(2000))
    files["gzip"] = folder / "gzip.deltaprop"
    files["gzip"].write_bytes(gzip.compress(data))
    return files


@pytest.mark.parametrize("command", ["info", "predict", "evaluate", "explain"])
def test_damaged_model_files(command, model, tmp_path, capsys):
    data = tmp_path / "good.csv"
    for name, path in _bad_model_files(model, tmp_path).items():
        argv = {
            "info": ["info", str(path)],
            "predict": ["predict", str(path), str(data), "--out", str(tmp_path / "p.csv")],
            "evaluate": ["evaluate", str(path), str(data)],
            "explain": ["explain", str(path), str(data), "--row", "1"],
        }[command]
        line = _assert_one_line_error(capsys, 2, main(argv), str(path))
        assert "not a" in line or "truncated" in line, (name, line)
        assert not (tmp_path / "p.csv").exists()


class _Payload:
    """Unpickling this calls ``open(marker, "w")``: it creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_renamed_as_model_is_refused_without_running(model, tmp_path, capsys):
    # the payload works: unpickling it does create its marker ...
    check = tmp_path / "unpickled-here"
    pickle.loads(pickle.dumps(_Payload(check))).close()
    assert check.exists()
    # ... but deltaprop never unpickles it
    marker = tmp_path / "code-ran"
    for protocol in (2, 4, 5):
        hostile = tmp_path / "model.deltaprop"
        hostile.write_bytes(pickle.dumps(_Payload(marker), protocol=protocol))
        for argv in (["info", str(hostile)], ["predict", str(hostile), str(tmp_path / "x.csv")]):
            line = _assert_one_line_error(capsys, 2, main(argv), "pickle")
            assert "never loads" in line
        assert not marker.exists()


def test_a_file_that_is_not_a_model(tmp_path, capsys):
    path = tmp_path / "net.deltaprop"
    dp.save(dp.Network([dp.Dense(2, 1)], random_state=0), path)
    assert main(["info", str(path)]) == 0
    assert "parameters: 3" in capsys.readouterr().out
    rc = main(["predict", str(path), str(tmp_path / "x.csv")])
    _assert_one_line_error(capsys, 2, rc, "holds a Network, not a model written by")


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--hidden", "4,0"], "layer sizes must be >= 1"),
        (["--learning-rate", "0"], "argument --learning-rate: must be > 0"),
        (["--max-iter", "0"], "argument --max-iter: must be >= 1"),
        (["--validation-fraction", "1"], "must be > 0 and < 1"),
        (["--solver", "newton"], "invalid choice"),
        (["--loss", "poisson"], "--loss poisson is not available for classification"),
        (["--checkpoint-every", "3"], "--checkpoint-every needs --checkpoint"),
        (["--resume", "nowhere.ckpt"], "--resume nowhere.ckpt: no such file"),
        (["--resume", "."], "--resume .: it is a folder, not a checkpoint"),
        (["--sample-weight", "colour"], "column 'colour' must hold numbers: row 1 holds 'blue'"),
        (["--out", "no/such/folder/m.deltaprop"], "does not exist"),
        # found by the fuzz harness (tests/fuzz): a name the system refuses was OSError, exit 1
        (["--plot", "x" * 300 + ".png"], "--plot xxx"),
        (["--out", "x" * 300], "File name too long"),
        # no abbreviations: --output once meant --output-activation and failed on its value
        (
            ["--output", "m.dpm"],
            "unrecognized arguments: --output m.dpm (--output: did you mean --out?)",
        ),
        (["--hid", "3"], "(--hid: did you mean --id or --hidden?)"),
        (["--earlystopping"], "(--earlystopping: did you mean --early-stopping?)"),
    ],
)
def test_bad_options(extra, fragment, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("good.csv").write_text(GOOD)
    rc = main(["train", "good.csv", "--target", "y", "--max-iter", "2", "--hidden", "2", *extra])
    _assert_one_line_error(capsys, 2, rc, fragment)
    assert sorted(os.listdir()) == ["good.csv"]


def test_interrupted_write_keeps_the_previous_model(model, tmp_path, monkeypatch, capsys):
    before = model.read_bytes()
    real = dio._write_array

    def failing(archive, name, value):
        real(archive, name, value)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dio, "_write_array", failing)
    data = tmp_path / "good.csv"
    rc = main(["train", str(data), "--target", "y", "--out", str(model), *TRAIN, "--seed", "9"])
    _assert_one_line_error(capsys, 1, rc, "No space left on device")
    assert model.read_bytes() == before
    assert dio.temporary_files(model) == []


@pytest.mark.parametrize(
    ("command", "written"),
    [
        (["train", "{data}", "--target", "y", *TRAIN, "--out", "{out}"], "new.deltaprop"),
        (
            ["train", "{data}", "--target", "y", "--hidden", "3", "--max-iter", "3",
             "--checkpoint", "{out}", "--out", "{folder}/never.deltaprop"],
            "run.ckpt",
        ),
        (["evaluate", "{model}", "{data}", "--html", "{out}"], "report.html"),
        (["predict", "{model}", "{data}", "--out", "{out}"], "predictions.csv"),
    ],
)  # fmt: skip
def test_a_full_disk_names_the_file_and_leaves_none_half_written(
    model, tmp_path, monkeypatch, capsys, command, written
):
    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dio.os, "fsync", full)  # the bytes do not fit when flushed
    out = tmp_path / written
    values = dict(data=tmp_path / "good.csv", model=model, out=out, folder=tmp_path)
    rc = main([part.format(**values) for part in command])
    _assert_one_line_error(capsys, 1, rc, "No space left on device", repr(str(out)))
    assert not out.exists() and dio.temporary_files(out) == []
    assert not (tmp_path / "never.deltaprop").exists()


@pytest.mark.parametrize("command", [["info"], ["evaluate", "{data}"], ["predict", "{data}"]])
def test_a_folder_as_model_is_called_a_folder(tmp_path, capsys, command):
    (tmp_path / "good.csv").write_text(GOOD)
    folder = tmp_path / "models"
    folder.mkdir()
    argv = [command[0], str(folder), *(c.format(data=tmp_path / "good.csv") for c in command[1:])]
    _assert_one_line_error(capsys, 2, main(argv), f"'{folder}' is not a file: it is a folder")


def test_unexpected_error_is_exit_code_1_with_a_hint(model, tmp_path, monkeypatch, capsys):
    def broken(self, table):
        raise RuntimeError("something odd")

    monkeypatch.setattr(dp.TabularModel, "predict", broken)
    argv = ["predict", str(model), str(tmp_path / "good.csv")]
    line = _assert_one_line_error(capsys, 1, main(argv), "unexpected RuntimeError")
    assert "rerun with -v" in line
    assert main([*argv, "-v"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_ctrl_c_during_train_writes_the_model_and_exits_130(tmp_path):
    data = tmp_path / "good.csv"
    data.write_text(GOOD)
    out = tmp_path / "model.deltaprop"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")}
    argv = [
        sys.executable, "-m", "deltaprop.cli", "train", str(data), "--target", "y",
        "--out", str(out), "--solver", "sgd", "--batch-size", "1", "--hidden", "3",
        "--max-iter", "1000000", "--tol", "0", "--n-iter-no-change", "1000000", "-v",
    ]  # fmt: skip
    process = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stderr:  # training has started once an epoch is reported
            if line.startswith("epoch 2/"):
                break
        process.send_signal(signal.SIGINT)
        rest = process.communicate(timeout=60)[1]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert f"deltaprop: interrupted; the model was written to {out}" in rest
    assert "Traceback" not in rest
    model = dp.load(out)
    assert model.estimator_.stop_reason_ == "interrupted"
    assert 2 <= len(model.estimator_.loss_curve_) < 1000000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--verison"],
            "the following arguments are required: COMMAND (--verison: did you mean --version?)",
        ),
        (
            ["info", "m.dpm", "--verison"],
            "unrecognized arguments: --verison (--verison: did you mean --version?)",
        ),
        (
            ["train", "good.csv", "--targt", "y"],
            "the following arguments are required: --target (--targt: did you mean --target",
        ),
        (
            ["train", "good.csv", "--target", "y", "--outptu=m.dpm"],
            "(--outptu: did you mean --out?)",
        ),
        # an old spelling kept for scripts is not suggested: serve's --optimizer is --solver
        (
            ["serve", "good.csv", "--target", "y", "--optim", "adam"],
            "unrecognized arguments: --optim adam",
        ),
    ],
)
def test_unknown_options_are_named_with_the_nearest_known_ones(
    argv, message, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    Path("good.csv").write_text(GOOD)
    line = _assert_one_line_error(capsys, 2, main(argv), message)
    if "--optim" in argv:
        assert "did you mean" not in line


@pytest.mark.parametrize(
    ("argv", "meant"),
    [
        (["--target", "Y"], "target column 'Y' is not in 'good.csv' (did you mean 'y'? columns: "),
        (
            ["--target", "y", "--id", "Colour"],
            "--id Colour: no such column (did you mean 'colour'?",
        ),
        (
            ["--target", "y", "--drop", "colr"],
            "--drop colr: no such column (did you mean 'colour'?",
        ),
    ],
)
def test_a_column_name_in_another_case_or_misspelt_names_the_column(
    argv, meant, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    Path("good.csv").write_text(GOOD)
    _assert_one_line_error(capsys, 2, main(["train", "good.csv", "--dry-run", *argv]), meant)
