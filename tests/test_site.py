"""The documentation site builds with warnings as errors (``mkdocs build --strict``).

Needs the ``docs`` extra (in ``test-all``); skipped without it. The build checks every
link between the pages and every docstring the API reference renders.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _build(folder):
    if importlib.util.find_spec("mkdocs") is None:  # the test skips (the docs extra)
        return None
    return dict(
        args=[sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


# started once the tests are collected, it runs on the second core (conftest.py)
@pytest.mark.early(command=_build)
def test_the_site_builds_strictly_with_every_page_and_the_api_reference(early_command):
    pytest.importorskip("mkdocs", reason="the docs extra: pip install -e '.[docs]'")
    pytest.importorskip("mkdocstrings_handlers.python", reason="the docs extra")
    pytest.importorskip("material", reason="the docs extra")
    site = early_command.folder
    result = early_command.result(timeout=240)
    assert result.returncode == 0, result.stderr[-4000:]
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "Quick start" in home and 'href="cli/' in home  # README, its docs/ links rewritten
    for page in (ROOT / "docs").glob("*.md"):  # the navigation: every page present
        assert (site / page.stem / "index.html").is_file(), page.name
        assert f'href="{page.stem}/"' in home, page.name
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    for anchor in (
        "deltaprop.core.Network",
        "deltaprop.core.Dense",
        "deltaprop.optim.Adam",
        "deltaprop.training.train",
        "deltaprop.files.load",
        "deltaprop.parallel.train",
        "deltaprop.estimators.mlp.MLPClassifier",
        "deltaprop.tabular.TabularModel",
        "deltaprop.explain.explain",
        "deltaprop.export.to_onnx",
        "deltaprop.live.serve",
    ):
        assert f'id="{anchor}"' in api, anchor
