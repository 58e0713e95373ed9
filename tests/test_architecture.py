"""The house's rules, checked: rooms import downhill, no cycles, no private reaches, light import.

The layers and the cycle rule are import-linter contracts in pyproject.toml (grimp counts
imports inside functions and under ``TYPE_CHECKING`` too); the tests below run them on the
package, then on copies of it with a rule broken on purpose, to show that they catch it.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "deltaprop"

#: The rooms, downhill (ARCHITECTURE.md); explain, export and live stand side by side.
ROOMS = [
    "core",
    "optim",
    "kernels",
    "files",
    "training",
    "parallel",
    "estimators",
    "tabular",
    "explain",
    "export",
    "live",
    "cli",
]


def _lint(package_parent: Path) -> subprocess.CompletedProcess:
    """Run the contracts of pyproject.toml on the package found in ``package_parent``."""
    pytest.importorskip("importlinter")
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    code = "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run(
        [sys.executable, "-c", code, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        cwd=package_parent,
        timeout=240,
    )


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(PACKAGE, tmp_path / "deltaprop", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + "\n\n" + text)


def test_the_package_keeps_every_contract():
    result = _lint(PACKAGE.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


def test_an_upward_import_inside_a_function_breaks_the_layers(tmp_path):
    root = _copy(tmp_path)
    _append(
        root / "deltaprop" / "core" / "layers.py",
        "def _reach_up():\n    from deltaprop.cli import main\n\n    return main\n",
    )
    result = _lint(root)
    assert result.returncode != 0
    assert "Rooms import only downhill BROKEN" in result.stdout
    assert "The core imports nothing of deltaprop above it BROKEN" in result.stdout
    assert "deltaprop.core.layers -> deltaprop.cli" in result.stdout


def test_a_cycle_inside_a_room_breaks_the_acyclic_contract(tmp_path):
    root = _copy(tmp_path)
    # layers imports initializers at module level; this closes the loop from inside a function
    _append(
        root / "deltaprop" / "core" / "initializers.py",
        "def _loop():\n    from deltaprop.core import layers\n\n    return layers\n",
    )
    result = _lint(root)
    assert result.returncode != 0
    assert "No import cycles between sibling modules or packages, at any depth BROKEN" in (
        result.stdout
    )


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ROOMS else None


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def test_no_module_imports_a_private_name_of_another_room():
    reaches = []
    for module, path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            target = _absolute(module, path, node)
            if not target.startswith("deltaprop") or _room(target) == _room(module):
                continue
            private = [
                a.name for a in node.names if a.name.startswith("_") and not a.name.endswith("__")
            ]
            # deltaprop._version is the package's one version source, read by every room
            parts = target.split(".")[1:] if target != "deltaprop._version" else []
            private_module = any(p.startswith("_") for p in parts)
            if private or private_module:
                reaches.append(f"{module}:{node.lineno} -> {target} {private}")
    assert reaches == []


def _ways_up():
    """``importlib.import_module("deltaprop...")`` calls: (caller, target)."""
    for module, path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "import_module"
            ):
                argument = node.args[0] if node.args else None
                if isinstance(argument, ast.Constant):
                    yield module, argument.value
                else:  # a table of names, as the file-kind registry keeps
                    yield module, None


def test_every_way_up_is_named_in_architecture_md_and_goes_up():
    documented = (ROOT / "ARCHITECTURE.md").read_text()
    section = documented.split("## Ways up", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(deltaprop(?:\.\w+)*)`", section))
    for caller, target in _ways_up():
        if caller == "deltaprop":  # the public package loads every room lazily
            continue
        if target is not None and _room(target) == _room(caller):
            continue  # a room loading its own optional part lazily (scikit-learn, say)
        assert f"`{caller}`" in section, f"{caller} reaches up without an entry in ARCHITECTURE.md"
        if target is None:
            continue
        assert target in named, f"{caller} -> {target} is not documented in ARCHITECTURE.md"
        assert ROOMS.index(_room(target)) > ROOMS.index(_room(caller)), (
            f"{caller} -> {target} goes down: import it"
        )


def test_import_deltaprop_loads_numpy_and_the_core_only():
    code = (
        "import sys, deltaprop\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'deltaprop', 'scipy', 'sklearn', 'pandas', 'dask', 'matplotlib', 'torch', 'onnx'})))"
    )
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    light = {"deltaprop", "deltaprop._version"}
    outside = [m for m in loaded if not (m in light or m.startswith("deltaprop.core"))]
    assert outside == []
