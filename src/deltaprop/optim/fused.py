"""Adam's update, and SGD's with momentum, in one pass over each parameter, compiled by
Numba when it is installed.

NumPy writes :class:`~deltaprop.optim.Adam`'s update as about fifteen array operations,
each a pass over the parameter's memory; for the layers of a mini-batch network those passes
cost as much as the matrix products (784-256-256-10, batch 32: 0.64 ms against 0.44 ms
a step on 2 cores). The loop below does the same operations on one element at a time,
in the same order and in the parameter's own dtype, so it gives the same bits as the
NumPy operations (a test compares them) in about a third of the time. SGD with momentum
(:func:`fused_sgd`) gets the same treatment for its four operations and the flush of its
velocities.

Numba is optional (``pip install "deltaprop[fast]"``); without it :func:`fused_adam` is
None and Adam keeps its NumPy operations. When a process loads Numba, and the environment
variable ``DELTAPROP_FUSED`` that chooses otherwise, are :mod:`deltaprop.core.compiled`'s
rule: by default once the updates have touched
:data:`~deltaprop.core.compiled.LOAD_AFTER` parameter entries. The bits are the same
either way.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from deltaprop.core.compiled import FUSED_DTYPES, LOAD_AFTER, compiled_loop, fused_arrays

__all__ = ["FUSED_DTYPES", "LOAD_AFTER", "fused_adam", "fused_arrays", "fused_sgd"]


def _adam_loop(p, g, m, v, out, b1, one_b1, b2, one_b2, c1, c2, eps, lr, decay, flush):
    # The operations of Adam._update_numpy, element by element, in its order: the
    # scalars arrive in the arrays' dtype, as NumPy casts a Python float (NEP 50).
    # (The flush is written as a select, which vectorises: free on normal numbers.)
    zero = flush - flush
    for i in range(p.size):
        gi = g[i]
        mi = m[i] * b1 + gi * one_b1
        mi = zero if np.abs(mi) < flush else mi
        m[i] = mi
        vi = v[i] * b2 + (gi * gi) * one_b2
        vi = zero if vi < flush else vi
        v[i] = vi
        step = ((mi / c1) / (np.sqrt(vi / c2) + eps)) * lr
        if decay != 0:
            out[i] = (p[i] - p[i] * decay) - step
        else:
            out[i] = p[i] - step


def fused_adam(n_entries: int = 0) -> Callable[..., None] | None:
    """The compiled Adam update, or None: no Numba, ``DELTAPROP_FUSED=0``, or not yet.

    Parameters
    ----------
    n_entries : int
        Parameter entries the caller is about to update: counted towards
        :data:`~deltaprop.core.compiled.LOAD_AFTER` while Numba is not loaded
        (``DELTAPROP_FUSED`` unset).

    Returns
    -------
    callable or None
        ``update(p, g, m, v, out, b1, 1 - b1, b2, 1 - b2, correction_1, correction_2,
        epsilon, learning_rate, learning_rate * weight_decay, flush)`` on 1-D
        C-contiguous arrays of one dtype of :data:`FUSED_DTYPES`, scalars in that dtype:
        updates the moments ``m``, ``v`` in place (storing 0 for a moment smaller than
        ``flush`` in magnitude) and writes the new parameters into ``out``.
    """
    return compiled_loop("adam", _adam_loop, n_entries)


def _sgd_loop(p, g, v, out, momentum, lr, nesterov, flush):
    # The operations of SGD.step's NumPy path with momentum, element by element, in its
    # order (v * momentum - lr * g, the flush, then p + v or Nesterov's step).
    zero = flush - flush
    for i in range(p.size):
        step = lr * g[i]
        vi = v[i] * momentum - step
        vi = zero if np.abs(vi) < flush else vi
        v[i] = vi
        if nesterov:
            out[i] = (p[i] + momentum * vi) - step
        else:
            out[i] = p[i] + vi


def fused_sgd(n_entries: int = 0) -> Callable[..., None] | None:
    """The compiled update of SGD with momentum, or None, as :func:`fused_adam` decides.

    Returns
    -------
    callable or None
        ``update(p, g, v, out, momentum, learning_rate, nesterov, flush)`` on 1-D
        C-contiguous arrays of one dtype of :data:`FUSED_DTYPES`, scalars in that dtype
        (``nesterov`` a bool): updates the velocity ``v`` in place (storing 0 for one
        smaller than ``flush`` in magnitude) and writes the new parameters into ``out``.
    """
    return compiled_loop("sgd", _sgd_loop, n_entries)
