"""CONTRIBUTING.md's worked example holds: a new activation is one change in one file.

The test does what the page says — pastes its ``Softsign`` class into a copy of
``core/activations.py`` and adds it to the registry, touching no other file — and checks
in a fresh interpreter that the new activation works everywhere the page promises:
training (gradient-checked against finite differences), the fused NumPy kernel, model
files, ``explain``, the scikit-learn estimators and the command-line tool; and that ONNX
export refuses it by name until a rule is added.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHECKS = """
import os, sys, tempfile
import numpy as np
import deltaprop as dp
from deltaprop.core.objective import data_term
from deltaprop.kernels import data_term_for

rng = np.random.default_rng(0)
X = rng.normal(size=(300, 3))
y = (X[:, 0] - X[:, 1] > 0).astype(float)
net = dp.Network([dp.Dense(3, 4, "softsign"), dp.Dense(4, 1)], random_state=0)
print("gradcheck", dp.check_gradients(net, X[:20], y[:20]) < 1e-6)

params = net.parameters
Y = y[:, None]
fast = data_term_for(X, xp=np)(net.layers, net.loss, params, X, Y, None, 300.0, xp=np)
slow = data_term(net.layers, net.loss, params, X, Y, None, 300.0, xp=np)
same = np.isclose(float(fast[0]), float(slow[0]), rtol=1e-12) and all(
    np.allclose(g, h, rtol=1e-10) for g, h in zip(fast[1], slow[1])
)
print("kernel", same)

history = dp.train(net, X, y, optimizer=dp.Adam(0.05), max_iter=100)
print("learns", history.loss[-1] < 0.5 * history.loss[0])

path = os.path.join(tempfile.mkdtemp(), "net.deltaprop")
dp.save(net, path)
print("file", np.array_equal(dp.load(path).forward(X), net.forward(X)))

print("explain", "softsign" in dp.explain(net, X[:1], y[:1]).to_text())

clf = dp.MLPClassifier(hidden_layer_sizes=(4,), activation="softsign", max_iter=300,
                       learning_rate_init=0.01, random_state=0).fit(X, y)
print("estimator", clf.score(X, y) > 0.8)

folder = tempfile.mkdtemp()
table = os.path.join(folder, "table.csv")
np.savetxt(table, np.column_stack([X, y]), delimiter=",", header="a,b,c,y", comments="")
from deltaprop.cli import main
status = main(["train", table, "--target", "y", "--activation", "softsign", "--max-iter", "20",
               "--out", os.path.join(folder, "model.deltaprop"), "--quiet"])
print("cli", status == 0)

try:
    net.to_onnx(os.path.join(tempfile.mkdtemp(), "net.onnx"))
except ValueError as exc:
    print("onnx", "softsign" in str(exc))
"""


def _code_block(text: str, first_line: str) -> str:
    """The fenced Python block of ``text`` whose first line is ``first_line``."""
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        if block.startswith(first_line):
            return block
    raise AssertionError(f"CONTRIBUTING.md has no python block starting {first_line!r}")


def test_a_new_activation_is_one_change_in_one_file(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("onnx")
    guide = (ROOT / "CONTRIBUTING.md").read_text()
    block = _code_block(guide, "# src/deltaprop/core/activations.py")
    class_code = block.split("\n\n\nACTIVATIONS", 1)[0]
    registry_line = re.search(r"^ACTIVATIONS = .*$", block, flags=re.M).group(0)
    assert "Softsign" in registry_line  # the page says where the class is registered

    package = tmp_path / "deltaprop"
    shutil.copytree(
        ROOT / "src" / "deltaprop", package, ignore=shutil.ignore_patterns("__pycache__")
    )
    module = package / "core" / "activations.py"
    source = module.read_text()
    # the one change: the class before the registry, and its name in the registry's tuple
    source = source.replace("\nACTIVATIONS: dict", "\n" + class_code + "\n\n\nACTIVATIONS: dict", 1)
    source, n = re.subn(r"(for cls in \(Identity,)", r"\1 Softsign,", source, count=1)
    assert n == 1
    module.write_text(source)
    changed = [
        p.relative_to(tmp_path)
        for p in package.rglob("*.py")
        if p.read_bytes() != (ROOT / "src" / p.relative_to(tmp_path)).read_bytes()
    ]
    assert [str(p) for p in changed] == [os.path.join("deltaprop", "core", "activations.py")]

    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHECKS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.strip().splitlines())
    assert lines == {
        "gradcheck": "True",
        "kernel": "True",
        "learns": "True",
        "file": "True",
        "explain": "True",
        "estimator": "True",
        "cli": "True",
        "onnx": "True",
    }, result.stdout + result.stderr
