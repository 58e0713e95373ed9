"""The command-line tool, driven in-process through main([...])."""

from __future__ import annotations

import re

import pytest

from deltaprop.cli.main import main


def test_demo_reaches_95_percent_test_accuracy(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "$ deltaprop train train.csv --target diagnosis" in out  # the CLI path
    losses = [float(v) for v in re.findall(r"iteration +\d+  loss (\d+\.\d+)", out)]
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
        (["demo", "--hidden", "0"], "argument --hidden: must be >= 1, got 0"),
        (["demo", "--learning-rate", "-1"], "argument --learning-rate: must be > 0"),
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
    out = capsys.readouterr().out
    for command in ("demo", "train", "predict", "evaluate", "info", "explain"):
        assert f"    {command} " in out


@pytest.mark.parametrize("command", ["demo", "train", "predict", "evaluate", "info", "explain"])
def test_each_command_help_documents_every_option_with_an_example(command, capsys):
    from deltaprop.cli.main import build_parser

    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "xample" in out and f"deltaprop {command}" in out.split("xample", 1)[1]
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    for action in subparsers.choices[command]._actions:
        assert action.help, (command, action.dest)
        for flag in action.option_strings:
            assert flag in out
