"""The README's promises: its Python examples run, and CI runs its test command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

# train's default, the tabular recipe, with few epochs (conftest.py)
pytestmark = pytest.mark.usefixtures("quick_recipe")

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
    test_command = next(c for c in commands if "python -m pytest" in c)
    assert test_command == 'pip install -e ".[test-all]" && python -m pytest'
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
            assert json.loads(out)["metrics"]["accuracy"] > 0.9
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
    with open(tmp_path / "predictions.csv") as f:
        assert f.readline().strip() == "diagnosis,proba_benign,proba_malignant"


def test_extras_hold_what_their_examples_and_tests_need():
    """[onnx] runs the ONNX examples; [test] is lean; [test-all] adds Dask, Playwright, docs."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = {
        name: {re.split(r"[<>=\[ ]", requirement, maxsplit=1)[0] for requirement in reqs}
        for name, reqs in pyproject["project"]["optional-dependencies"].items()
    }
    assert {"onnx", "onnxruntime"} <= extras["onnx"]  # the README's ONNX example runs both
    assert extras["cli"] <= extras["test"]
    assert not {"dask", "playwright", "mkdocs", "torch"} & extras["test"]
    assert extras["test-all"] >= {"deltaprop", "dask", "playwright"}
    assert '"deltaprop[test,docs]"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
