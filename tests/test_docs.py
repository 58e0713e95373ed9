"""Every Python example in docs/*.md runs (the blocks of one page share a namespace)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import docs_pages, run_docs_pages

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = [DOCS / name for name in docs_pages()]


# The pages run one after another in a child process started once the tests are
# collected, on the second core (conftest.py), with train's quick recipe (quick_recipe)
@pytest.mark.early(command=run_docs_pages)
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_python_examples_run(page, docs_page_run):
    for module in ("onnx", "onnxruntime", "pandas", "sklearn", "distributed", "matplotlib"):
        if module in page.read_text(encoding="utf-8"):
            pytest.importorskip(module)
    # each block in turn, in one namespace, in a fresh folder; other tests read what a
    # page printed from this same run
    docs_page_run(page.name).check()
