"""The teaching pages: their commands run, and the one-file page shows the file itself.

(tests/test_docs.py runs their Python blocks; docs/backprop.md is checked by
tests/test_explain.py::test_tutorial_is_up_to_date.)
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from deltaprop.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = ["tutorial.md", "backprop-in-one-file.md"]


def _blocks(page: str, language: str) -> list[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_the_one_file_page_shows_the_module_itself():
    source = (ROOT / "src" / "deltaprop" / "core" / "textbook.py").read_text(encoding="utf-8")
    assert source in _blocks("backprop-in-one-file.md", "python")


def test_the_tutorial_links_the_one_file_page():
    assert "(backprop-in-one-file.md)" in (DOCS / "tutorial.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("page", PAGES)
def test_every_command_runs(page, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lines = [line for block in _blocks(page, "bash") for line in block.splitlines() if line]
    assert lines
    for line in lines:
        argv = shlex.split(line, comments=True)
        if argv[0] == "python":  # python -m deltaprop.core.textbook
            done = subprocess.run([sys.executable, *argv[1:]], capture_output=True, text=True,
                                  env={"PYTHONPATH": str(ROOT / "src")}, check=False)  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert "steps, error" in done.stdout
            continue
        assert argv[0] == "deltaprop", line
        assert main(argv[1:]) == 0, line
        capsys.readouterr()


def test_the_exercise_commands_print_the_answers(capsys):
    assert main(["explain", "--example", "tutorial", "--weight", "1,1,1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"delta\[1\]\[2,1\] = .* = 0\.030931 ", out)
    assert main(["explain", "--example", "tutorial", "--alpha", "0.1", "--weight", "2,1,1"]) == 0
    out = capsys.readouterr().out
    assert "alpha * W[2][1,1] / sum(w) = 0.1 * 1 / 4 = 0.025" in out
    assert (
        main(["explain", "--example", "tutorial", "--learning-rate", "1000", "--steps", "20"]) == 0
    )
    assert "learning_rate 1000" in capsys.readouterr().out
