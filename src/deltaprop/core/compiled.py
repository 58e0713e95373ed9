"""Loops compiled by Numba, loaded once they repay their loading.

Some element-wise work costs more as a sequence of NumPy operations (one pass over
memory each) than as one loop over the elements: Adam's update
(:mod:`deltaprop.optim.fused`), the sigmoid's derivative times a column
(:mod:`deltaprop.core.activations`). Each such loop does the NumPy operations' arithmetic
on one element at a time, in the same order and in the arrays' own dtype, so it gives
the same bits (a test compares every loop with its NumPy operations). Whether a loop
runs therefore changes the time of a step, never its numbers.

Numba is optional (``pip install "deltaprop[fast]"``); without it :func:`compiled_loop`
returns None and callers keep their NumPy operations. The loops are cached on disk
(Numba's ``cache=True``), yet loading Numba costs a new process about 0.45 s (its import
and its compiler's start). So by default a process loads it only once its callers have
done :data:`LOAD_AFTER` entries' worth of work without it: a short fit (``deltaprop
train`` on a small table) never pays for it, a long one pays once. The environment
variable ``DELTAPROP_FUSED`` chooses otherwise: ``0`` never, ``1`` from the first call.
"""

from __future__ import annotations

import importlib.util
import os
import types
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["FUSED_DTYPES", "LOAD_AFTER", "MIN_COMPILED_SIZE", "compiled_loop", "fused_arrays"]

#: The dtypes the compiled loops take (others keep NumPy's operations).
FUSED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

#: Work done by NumPy's operations (in entries of Adam's update, summed over the calls of
#: this process) after which Numba is loaded. Measured on 2 cores, Adam's loop saves 1.2
#: to 1.5 ns an entry and loading Numba costs about 0.45 s: it pays for itself after about
#: this many entries, so a process never loses more than that by waiting. Callers whose
#: loops save less per entry count their entries in proportion.
LOAD_AFTER = 4e8

_compiled: dict[str, Callable[..., Any] | None] = {}  # name: the loop, None: no Numba
_updated = [0.0]  # entries of work done without a compiled loop, this process


def compiled_loop(
    name: str, loop: Callable[..., Any], n_entries: float
) -> Callable[..., Any] | None:
    """``loop`` compiled by Numba, or None: no Numba, ``DELTAPROP_FUSED=0``, or not yet.

    Parameters
    ----------
    name : str
        The loop's key in this process (each loop is compiled once).
    loop : callable
        A function Numba's ``njit`` compiles (no zero-division checks: they would stop
        it vectorising).
    n_entries : float
        The work the caller is about to do, in entries of Adam's update: counted towards
        :data:`LOAD_AFTER` while Numba is not loaded (``DELTAPROP_FUSED`` unset).

    Returns
    -------
    callable or None
        The compiled loop; None where the caller keeps its NumPy operations.
    """
    setting = os.environ.get("DELTAPROP_FUSED", "")
    if setting == "0":
        return None
    if name not in _compiled:
        if setting != "1" and "numba" not in _compiled:
            _updated[0] += n_entries
            if _updated[0] < LOAD_AFTER:
                return None
        try:
            if importlib.util.find_spec("numba") is None:
                raise ImportError("numba is not installed")
            import numba
        except ImportError:  # absent, or installed for another NumPy: NumPy's operations
            _compiled[name] = None  # looked for once, not at every call
            return None

        _compiled["numba"] = None  # loaded: the other loops need not wait
        _compiled[name] = _by_size(_njit(numba, loop, nogil=True), _njit(numba, loop, nogil=False))
    return _compiled[name]


def _njit(numba: Any, loop: Callable[..., Any], *, nogil: bool) -> Callable[..., Any]:
    """``loop`` compiled, releasing the GIL or keeping it.

    error_model="numpy": no zero-division checks, so that the loop vectorises. Numba's
    disk cache names its files after the function's qualified name and does not tell
    the two variants apart: the one that keeps the GIL is compiled from a copy of the
    function under its own name.
    """
    if not nogil:
        copy = types.FunctionType(
            loop.__code__,
            loop.__globals__,
            loop.__name__ + "_gil",
            loop.__defaults__,
            loop.__closure__,
        )
        copy.__kwdefaults__ = loop.__kwdefaults__
        copy.__qualname__ = loop.__qualname__ + "_gil"
        copy.__module__ = loop.__module__
        loop = copy
    return numba.njit(cache=True, nogil=nogil, error_model="numpy")(loop)


def _by_size(free: Callable[..., Any], held: Callable[..., Any]) -> Callable[..., Any]:
    """The loop that releases the GIL for arrays of :data:`MIN_COMPILED_SIZE` entries or
    more (its first argument's), the one that keeps it for smaller arrays."""

    def run(first: Any, *rest: Any) -> Any:
        return (free if first.size >= MIN_COMPILED_SIZE else held)(first, *rest)

    return run


#: Arrays from this size on run the loop that releases the GIL (so that two threads'
#: blocks run at once); smaller ones run a copy that keeps it, as NumPy itself keeps the
#: GIL for loops this short. A thread that releases the GIL for a few microseconds at every
#: call takes it back before a waiting thread wakes: the live page's server threads
#: starved while its training thread stepped a small network.
MIN_COMPILED_SIZE = 4096


def fused_arrays(*arrays: Any) -> bool:
    """Whether the compiled loops take these arrays: NumPy, C-contiguous, one fused dtype."""
    first = arrays[0]
    return (
        isinstance(first, np.ndarray)
        and first.dtype in FUSED_DTYPES
        and all(
            isinstance(a, np.ndarray) and a.dtype == first.dtype and a.flags.c_contiguous
            for a in arrays
        )
    )
