"""Fast paths for the engine's gradients, each computing what the core computes.

- :mod:`deltaprop.kernels.blocked`: the fused NumPy kernel of the data term.
- :mod:`deltaprop.kernels.cuda_graph`: the training step on fixed buffers, captured as a
  CUDA graph.

:func:`data_term_for` picks the data term for an input by what each kernel can do.
"""

from __future__ import annotations

from typing import Any

from deltaprop.core.objective import DataTerm, data_term
from deltaprop.kernels import blocked

__all__ = ["data_term_for"]


def data_term_for(X: Any, *, xp: Any, dropout: bool = False) -> DataTerm:
    """The fastest implementation of :func:`deltaprop.core.objective.data_term` for ``X``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    xp : namespace
        ``X``'s array library.
    dropout : bool, default False
        Whether the data term gets dropout masks (the fused kernel takes none).

    Returns
    -------
    callable
        The fused NumPy kernel where it applies, else the textbook row-block sum.
    """
    if not dropout and blocked.supports(X, xp=xp):
        return blocked.numpy_data_term
    return data_term
