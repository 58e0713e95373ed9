"""The command-line tool, driven in-process through main([...])."""

from __future__ import annotations

import re

import pytest

from deltaprop.cli import main


def test_demo_reaches_95_percent_test_accuracy(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    losses = [float(v) for v in re.findall(r"loss (\d+\.\d+)", out)]
    assert losses[0] > 0.5 and losses[-1] <= 0.05
    assert "stopped: target_loss" in out
    test_accuracy = float(re.search(r"test accuracy: (\d\.\d+)", out).group(1))
    assert test_accuracy >= 0.95


def test_demo_options_change_the_run(capsys):
    assert main(["demo", "--max-iter", "3", "--hidden", "2", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "stopped: max_iter after 3 iterations" in out
    assert "-> 2 sigmoid" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["demo", "--hidden", "0"], "n_out must be >= 1, got 0"),
        (["demo", "--learning-rate", "-1"], "learning_rate must be > 0"),
        (["demo", "--hidden", "many"], "invalid int value"),
        (["fly"], "invalid choice"),
    ],
)
def test_bad_usage_is_one_line_and_exit_code_2(argv, message, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("deltaprop: error: ") and message in captured.err
    assert "Traceback" not in captured.err


def test_help_documents_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "demo" in capsys.readouterr().out
