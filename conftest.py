"""Root conftest: skip the doctests of modules whose optional dependency is missing."""

from __future__ import annotations

import importlib.util

collect_ignore = []
if importlib.util.find_spec("onnx") is None:
    collect_ignore += ["src/deltaprop/export"]
