"""Names and labels from a model file or a table reach the terminal shown, never obeyed."""

from __future__ import annotations

import numpy as np
import pytest

from deltaprop.cli.main import main
from deltaprop.cli.terminal import terminal_safe

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

ESC, CSI, BIDI = "\x1b", "\x9b", "\u202e"
EVIL_COLUMN = "size\x1b]0;owned\x07\x1b[2J"  # OSC: window title; CSI: clear the screen
EVIL_LABELS = ("red\x1b[31m", "blue\u202egnp.exe")  # a colour; a bidi override
EVIL_TARGET = "kind\x9b6n"  # C1 CSI: "report the cursor" (answered into the input)


def _assert_safe(text):
    for char in (ESC, CSI, BIDI, "\r", "\x07"):
        assert char not in text, f"{char!r} reached the terminal"


@pytest.fixture
def evil(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    labels = np.where(x > 0, *EVIL_LABELS)
    frame = pd.DataFrame({EVIL_COLUMN: x, "z": rng.normal(size=40), EVIL_TARGET: labels})
    data, model = tmp_path / "evil.csv", tmp_path / "evil.deltaprop"
    frame.to_csv(data, index=False)
    argv = ["train", str(data), "--target", EVIL_TARGET, "--hidden", "3", "--max-iter", "5"]
    return str(data), str(model), [*argv, "--out", str(model)]


def test_train_info_evaluate_explain_print_file_strings_escaped(evil, capsys):
    data, model, train = evil
    assert main([*train, "-v"]) == 0
    assert main(["info", model]) == 0
    assert main(["evaluate", model, data]) == 0
    assert main(["explain", model, data, "--row", "1"]) == 0
    assert main(["explain", model, data, "--row", "1", "--format", "markdown"]) == 0
    out, err = capsys.readouterr()
    _assert_safe(out + err)
    assert "size\\x1b]0;owned\\x07\\x1b[2J" in out  # the name is shown, escaped
    assert "red\\x1b[31m" in out and "blue\\u202egnp.exe" in out
    assert "kind\\x9b6n" in out


def test_errors_and_warnings_naming_file_strings_are_escaped(evil, tmp_path, capsys):
    data, model, train = evil
    assert main([*train, "-q"]) == 0
    capsys.readouterr()
    lacking = tmp_path / "lacking.csv"
    pd.read_csv(data).drop(columns=[EVIL_COLUMN]).to_csv(lacking, index=False)
    assert main(["predict", model, str(lacking)]) == 2
    assert main(["evaluate", model, data, "--target", "no\x1b[5mne"]) == 2
    assert main(["train", data, "--target", "absent", "--max-iter", "2"]) == 2
    out, err = capsys.readouterr()
    _assert_safe(out + err)
    assert err.count("deltaprop: error:") == 3
    assert "size\\x1b]0;owned" in err


def test_predict_escapes_labels_on_a_terminal_and_keeps_them_in_a_pipe(evil, monkeypatch, capsys):
    data, model, train = evil
    assert main([*train, "-q"]) == 0
    capsys.readouterr()
    assert main(["predict", model, data, "--proba"]) == 0
    piped = capsys.readouterr().out
    assert "proba_red\x1b[31m" in piped  # data, to a file or a program: as it is
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert main(["predict", model, data, "--proba"]) == 0
    shown = capsys.readouterr().out
    _assert_safe(shown)
    assert "proba_red\\x1b[31m" in shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain café 日本\tcolumns\nnext", "plain café 日本\tcolumns\nnext"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("\x1b]8;;http://x\x1b\\link", "\\x1b]8;;http://x\\x1b\\link"),
        ("a\x9bb\x85c\x7f", "a\\x9bb\\x85c\\x7f"),
        ("\u202ecba\u2066x\u2069\u200f", "\\u202ecba\\u2066x\\u2069\\u200f"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("cr\roverwrite\x08", "cr\\roverwrite\\x08"),
        ("file\udcffname", "file\\udcffname"),
    ],
)
def test_terminal_safe_escapes_controls_and_keeps_text(text, shown):
    assert terminal_safe(text) == shown
