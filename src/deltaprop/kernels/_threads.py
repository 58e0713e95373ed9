"""Two threads for independent pieces of NumPy work (NumPy releases the GIL in its loops).

The pieces are fixed by the caller, never by the number of threads, and their results
are combined in a fixed order: the numbers are the same whether the pieces ran at the
same time or one after the other.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["run_pieces"]

_executor: ThreadPoolExecutor | None = None
_blas_controller: Any = None  # None: not looked up yet; False: threadpoolctl is missing


def _single_threaded_blas():
    """A context that limits BLAS to one thread, or None when that is not possible."""
    global _blas_controller
    if _blas_controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _blas_controller = False
        else:
            _blas_controller = ThreadpoolController()
    if _blas_controller is False:
        return None
    return _blas_controller.limit(limits=1, user_api="blas")


def run_pieces(function: Callable[[Any], Any], pieces: list[Any]) -> list:
    """``[function(piece) for piece in pieces]``, on two threads when two cores are there.

    Each thread calls a single-threaded BLAS (limited through threadpoolctl), so that
    one thread's element-wise work runs while the other multiplies matrices. Without
    threadpoolctl, or on one core, the pieces run one after the other on the usual
    (multi-threaded) BLAS instead.

    Parameters
    ----------
    function : callable
        Applied to each piece; must not write what another piece reads or writes.
    pieces : list
        At most two.
    """
    global _executor
    if len(pieces) < 2 or (os.cpu_count() or 1) < 2:
        return [function(piece) for piece in pieces]
    limit = _single_threaded_blas()
    if limit is None:
        return [function(piece) for piece in pieces]
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deltaprop")
    first, second = pieces
    with limit:
        future = _executor.submit(function, second)
        try:
            result = function(first)
        finally:
            other = future.result()
    return [result, other]
