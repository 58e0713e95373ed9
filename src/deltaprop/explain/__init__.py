"""Explain mode: every number of one training step, as text, Markdown, JSON or a picture."""

import sys
import types
from typing import Any

from deltaprop.explain.examples import DEFAULT_LEARNING_RATE, tutorial_example, worked_example
from deltaprop.explain.rows import RowView, row_view
from deltaprop.explain.scalar import RowTerm, ScalarView
from deltaprop.explain.trace import LayerTrace, Trace, explain

__all__ = [
    "DEFAULT_LEARNING_RATE",
    "LayerTrace",
    "RowTerm",
    "RowView",
    "ScalarView",
    "Trace",
    "explain",
    "row_view",
    "scalar_view",
    "tutorial_example",
    "worked_example",
]


class _ExplainModule(types.ModuleType):
    """This package, callable as :func:`explain`.

    ``deltaprop.explain`` is a public function, and the name of this room: importing the
    room binds the room on ``deltaprop`` under that name (Python's import system does), so
    the room answers a call the way the function does.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Trace:
        return explain(*args, **kwargs)


def scalar_view(
    network: Any,
    X: Any,
    y: Any,
    sample_weight: Any = None,
    *,
    layer: int,
    i: int,
    j: int,
    learning_rate: float = DEFAULT_LEARNING_RATE,
) -> ScalarView:
    """Work the gradient and update of ``W[layer][i, j]`` out as scalars.

    ``explain(network, X, y, sample_weight, learning_rate).scalar_view(layer, i, j)``:
    see :meth:`Trace.scalar_view` (1-based positions; ``i = 0`` for the bias).

    Parameters
    ----------
    network : Network
    X : array of shape (n_samples, n_inputs)
    y : array of shape (n_samples, n_outputs), or (n_samples,) for one output
    sample_weight : array of shape (n_samples,), optional
    layer, i, j : int
    learning_rate : float, default 0.5

    Returns
    -------
    ScalarView

    Examples
    --------
    >>> from deltaprop.explain import scalar_view, tutorial_example
    >>> net, X, y, w, eta = tutorial_example()
    >>> view = scalar_view(net, X, y, w, layer=1, i=2, j=1, learning_rate=eta)
    >>> [row.share for row in view.rows]
    [0.5, 0.25, 0.25]
    """
    trace = explain(network, X, y, sample_weight, learning_rate)
    return trace.scalar_view(layer, i, j)


sys.modules[__name__].__class__ = _ExplainModule
