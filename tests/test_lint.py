"""The code passes the project's ruff configuration (skipped where ruff is absent)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff(command):
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    folders = [d for d in ("src", "tests", "benchmarks", "docs") if (ROOT / d).is_dir()]
    result = subprocess.run(
        [ruff, *command, *folders],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _mypy(folder):
    mypy = shutil.which("mypy")
    return None if mypy is None else dict(args=[mypy], cwd=ROOT)


# started once the tests are collected, it runs on the second core (conftest.py)
@pytest.mark.early(command=_mypy)
def test_mypy_on_core_optim_and_training(early_command):
    """mypy is clean on the rooms pyproject.toml names (core, optim, training)."""
    if early_command is None:
        pytest.skip("mypy is not installed")
    result = early_command.result(timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
