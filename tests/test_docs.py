"""Every Python example in docs/*.md runs (the blocks of one page share a namespace)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

# train's default, the tabular recipe, with few epochs (conftest.py)
pytestmark = pytest.mark.usefixtures("quick_recipe")

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(p for p in DOCS.glob("*.md") if "```python" in p.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_python_examples_run(page, tmp_path, monkeypatch):
    for module in ("onnx", "onnxruntime", "pandas", "sklearn", "distributed", "matplotlib"):
        if module in page.read_text(encoding="utf-8"):
            pytest.importorskip(module)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)
    for i, block in enumerate(blocks):
        if "import torch" in block:  # after the page's earlier blocks have run
            pytest.importorskip("torch")
        exec(compile(block, f"{page.name} python block {i}", "exec"), namespace)
