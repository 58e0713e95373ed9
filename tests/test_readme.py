"""The README's promises: its Python examples run, and CI runs its test command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_examples_run(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(_blocks("python")[index], f"README.md python block {index}", "exec"), {})


def test_quick_start_commands_are_what_ci_runs():
    commands = [line for block in _blocks("bash") for line in block.splitlines()]
    assert "pip install . && deltaprop demo" in commands
    test_command = next(c for c in commands if "[test]" in c)
    ci_script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci_script.splitlines()


def test_command_line_examples_run(tmp_path, monkeypatch, capsys):
    """Every ``deltaprop ...`` line of the README's bash blocks, run through main([...])."""
    import json
    import shlex

    pytest.importorskip("pandas")
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    from deltaprop.cli.main import main

    monkeypatch.chdir(tmp_path)
    writes_csv = next(b for b in _blocks("python") if '"train.csv"' in b)
    exec(compile(writes_csv, "README.md CSV block", "exec"), {})
    lines = [line for b in _blocks("bash") for line in b.splitlines()]
    # `deltaprop serve` runs a server until Ctrl-C; tests/test_serve.py covers it
    commands = [
        shlex.split(line, comments=True)[1:]
        for line in lines
        if line.startswith("deltaprop ") and not line.startswith("deltaprop serve ")
    ]
    assert {argv[0] for argv in commands} >= {"train", "info", "evaluate", "predict", "explain"}
    for argv in commands:
        assert main(argv) == 0, argv
        out = capsys.readouterr().out
        if argv[0] == "evaluate" and "--json" in argv:
            assert json.loads(out)["accuracy"] > 0.9
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
    with open(tmp_path / "predictions.csv") as f:
        assert f.readline().strip() == "diagnosis,proba_benign,proba_malignant"
