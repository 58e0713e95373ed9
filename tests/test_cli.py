"""The command-line tool, driven in-process through main([...])."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deltaprop.cli.main import main

# train's default, the tabular recipe, with few epochs (conftest.py)
pytestmark = pytest.mark.usefixtures("quick_recipe")


def test_demo_reaches_95_percent_test_accuracy(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "$ deltaprop train train.csv --target diagnosis" in out  # the CLI path
    losses = [float(v) for v in re.findall(r"iteration +\d+  loss (\d+\.\d+)", out)]
    assert losses[0] > 0.5 and losses[-1] <= 0.05
    assert "stopped: target_loss" in out
    test_accuracy = float(re.search(r"test accuracy: (\d\.\d+)", out).group(1))
    assert test_accuracy >= 0.95


def test_demo_options_change_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--max-iter", "3", "--hidden", "2", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "stopped: max_iter after 3 iterations" in out
    assert "-> 2 sigmoid" in out


def test_demo_writes_the_readme_files_here_and_says_what_to_run_next(tmp_path, monkeypatch, capsys):
    """The Quick start: after the demo, the README's next commands work on its files."""
    pytest.importorskip("pandas")
    pytest.importorskip("sklearn")
    from deltaprop.cli.demo import NEXT_COMMANDS
    from deltaprop.datasets import breast_cancer_path
    from deltaprop.tabular import read_table

    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--max-iter", "3"]) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.csv", "train.csv"]
    train, test = read_table("train.csv"), read_table("test.csv")
    whole = read_table(breast_cancer_path())
    assert (len(train), len(test)) == (427, 142)  # 3/4 and 1/4 of 569 rows, by class
    assert list(train.columns) == list(whole.columns)
    assert set(train["diagnosis"]) == set(test["diagnosis"]) == {"benign", "malignant"}
    assert abs((test["diagnosis"] == "malignant").mean() - 212 / 569) < 0.01  # stratified
    both = sorted(map(tuple, train.to_numpy().tolist() + test.to_numpy().tolist()))
    assert both == sorted(map(tuple, whole.to_numpy().tolist()))  # every row, once
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for command in NEXT_COMMANDS:
        assert f"  {command}\n" in out
        assert f"\n{command}\n" in readme  # the Quick start says the same
    for command in NEXT_COMMANDS:
        assert main(command.split()[1:]) == 0, command
    assert (tmp_path / "cancer.deltaprop").exists() and (tmp_path / "predictions.csv").exists()


def test_demo_refuses_to_overwrite_its_files_without_force(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pandas")
    pytest.importorskip("sklearn")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "test.csv").write_text("mine\n")
    assert main(["demo", "--max-iter", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("deltaprop: error: test.csv already exists in ")
    assert "--force" in err and err.count("\n") == 1
    assert (tmp_path / "test.csv").read_text() == "mine\n"
    assert not (tmp_path / "train.csv").exists()
    assert main(["demo", "--max-iter", "1", "--force"]) == 0
    assert (tmp_path / "test.csv").read_text().startswith("mean_radius,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.csv", "train.csv"]


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
