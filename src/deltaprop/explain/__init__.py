"""Explain mode: every number of one training step, as text, Markdown, JSON or a picture."""

import sys
import types
from typing import Any

from deltaprop.explain.trace import Trace, explain, worked_example

__all__ = ["Trace", "explain", "worked_example"]


class _ExplainModule(types.ModuleType):
    """This package, callable as :func:`explain`.

    ``deltaprop.explain`` is a public function, and the name of this room: importing the
    room binds the room on ``deltaprop`` under that name (Python's import system does), so
    the room answers a call the way the function does.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Trace:
        return explain(*args, **kwargs)


sys.modules[__name__].__class__ = _ExplainModule
