"""Two threads for independent pieces of NumPy work (NumPy releases the GIL in its loops).

The pieces are fixed by the caller, never by the number of threads, and their results
are combined in a fixed order; BLAS runs single-threaded for them whether they run at
the same time or one after the other (BLAS's results can differ in the last bit with its
number of threads). So the numbers are the same on one core or two.

The BLAS limit (through threadpoolctl) holds for the duration of :func:`run_pieces` and
is restored when it returns. OpenBLAS's limit is process-wide while it holds; calls
from several Python threads take turns, so that no call takes another's limit for the
original one and leaves it in force after both returned.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["run_pieces"]

_executor: ThreadPoolExecutor | None = None
_controller: Any = None  # None: not looked up yet; False: threadpoolctl is missing
_modules_seen = 0  # len(sys.modules) when _controller was made
_limit_lock = threading.Lock()


def _blas_controller() -> Any:
    """threadpoolctl's controller of the loaded BLAS, or None without threadpoolctl."""
    global _controller, _modules_seen
    # a controller knows the libraries loaded when it was made (an import since, of
    # SciPy say, can load another BLAS); making one costs milliseconds, so it is made
    # again only after an import
    if _controller is None or (_controller and len(sys.modules) != _modules_seen):
        try:
            from threadpoolctl import ThreadpoolController  # optional: the [fast] extra
        except ImportError:
            _controller = False
        else:
            _modules_seen = len(sys.modules)
            _controller = ThreadpoolController()
    return _controller or None


def run_pieces(
    function: Callable[[Any], Any], pieces: list[Any], *, concurrent: bool = True
) -> list:
    """``[function(piece) for piece in pieces]``, on two threads when two cores are there.

    With threadpoolctl, BLAS is limited to one thread while two pieces run (on two
    threads, or one after the other on one core), so that one thread's element-wise
    work runs while the other multiplies matrices, and the numbers do not depend on the
    number of cores; the limit is restored before this returns. Without threadpoolctl
    the pieces run one after the other on the usual (multi-threaded) BLAS.

    Parameters
    ----------
    function : callable
        Applied to each piece; must not write what another piece reads or writes.
    pieces : list
        At most two.
    concurrent : bool, default True
        False runs the pieces one after the other (work too small for a second
        thread to pay for the hand-over), BLAS still limited to one thread, so that
        the numbers are those of the pieces run on two threads.

    Returns
    -------
    list
        ``function(piece)`` for each piece, in order.
    """
    controller = None if len(pieces) < 2 and concurrent else _blas_controller()
    if controller is None:
        return [function(piece) for piece in pieces]
    # threadpoolctl records the limit in force when a limit starts and restores it at
    # the end: two overlapping limits would restore each other's "1" for good
    with _limit_lock, controller.limit(limits=1, user_api="blas"):
        if not concurrent or len(pieces) < 2 or (os.cpu_count() or 1) < 2:
            return [function(piece) for piece in pieces]
        return _on_two_threads(function, pieces)


def _on_two_threads(function: Callable[[Any], Any], pieces: list[Any]) -> list:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deltaprop")
    first, second = pieces
    future = _executor.submit(function, second)
    try:
        result = function(first)
    finally:
        other = future.result()
    return [result, other]
