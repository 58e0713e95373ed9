"""Where the row blocks live during Dask training, and what a lost worker means.

Two ways to hold the data (:data:`DATA_MODES`):

- ``"persist"``: every block is read once and kept in the workers' memory (Dask spills
  it to disk under pressure); each iteration maps over the kept blocks. The fastest
  when the blocks fit.
- ``"stream"``: nothing is kept. Each pass (an evaluation of the loss and gradient, a
  round of local SGD, a validation loss) recomputes every block from its source inside
  the graph of that pass (for a Parquet dataset: read the partition, encode it, make the
  block, compute its share) and releases it when its share is computed, so a worker
  holds only the few blocks its threads are working on. Each pass reads the data again.

``"auto"`` (:func:`plan_data`) keeps the blocks when their estimated size fits in the
workers' memory with a margin, else streams them; the :class:`DataPlan` says which
and why, in numbers. Both modes compute each block's share with the same function on
the same rows and add the shares in the same order: the results are bit-identical.

A worker that dies while training (killed by its nanny for exceeding its memory, most
often) or workers that stay paused for memory turn into a :class:`WorkerMemoryError`
naming the memory limit, the block sizes and what to change (:class:`Waiter`). Every
pass over the workers' data goes through a :class:`Waiter`: training's passes, and the
summaries computed before training (:func:`watched_compute`: a table's counts, means,
quantiles, the labels' classes).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DATA_MODES",
    "DataPlan",
    "Waiter",
    "WorkerMemoryError",
    "derive_parts",
    "format_bytes",
    "is_recipe",
    "lost_workers_named",
    "map_parts",
    "plan_data",
    "watched_compute",
    "worker_memory",
]

DATA_MODES = ("auto", "persist", "stream")
#: share of the workers' memory the kept blocks may fill in "auto" (Dask starts spilling
#: at 60% of a worker's limit; the rest is for the blocks' working arrays and Dask itself)
PERSIST_SHARE = 0.5
#: seconds between two looks at the workers while waiting for a pass
POLL_SECONDS = 2.0
#: seconds every worker may stay paused for memory (no progress possible) before the
#: run is stopped with a WorkerMemoryError
PAUSE_TIMEOUT = 60.0


class WorkerMemoryError(MemoryError):
    """Dask workers ran out of memory while training: one died, or all stayed paused.

    The message names the workers' memory limit, the estimated size of the data and of
    its largest block, how the data were held, and what to change.
    """


def format_bytes(n: float | None) -> str:
    """``n`` bytes in words: ``"1.5 GB"``, ``"300 MB"``, ``"no limit"`` for None.

    >>> format_bytes(1.5e9), format_bytes(3e8), format_bytes(None)
    ('1.5 GB', '300 MB', 'no limit')
    """
    if n is None:
        return "no limit"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


@dataclass(frozen=True)
class DataPlan:
    """How the row blocks are held while training, and why.

    Attributes
    ----------
    mode : {"persist", "stream"}
        Kept in the workers' memory, or recomputed from their source at every pass.
    requested : {"auto", "persist", "stream"}
        What was asked for.
    data_bytes : int or None
        Estimated in-memory size of all the blocks (None: not known).
    largest_block_bytes : int or None
        Estimated size of the largest block with the arrays computing its share.
    worker_limits : tuple of int or None
        Each worker's memory limit in bytes (None: no limit).
    n_blocks : int
    reason : str
        The comparison that decided, in words.
    """

    mode: str
    requested: str
    data_bytes: int | None
    largest_block_bytes: int | None
    worker_limits: tuple[int | None, ...]
    n_blocks: int
    reason: str

    def describe(self) -> str:
        """One line: the mode and why, e.g. for the command line's output."""
        verb = "kept in the workers' memory" if self.mode == "persist" else "streamed"
        return f"data {verb} ({self.mode}): {self.reason}"

    def advice(self) -> str:
        """What to change when the workers run out of memory."""
        tips = ["smaller partitions (more, smaller Parquet row groups or files; X.rechunk)"]
        if self.mode == "persist":
            tips.append("streaming the data (data='stream', --dask-data stream)")
        tips.append("workers with more memory (memory_limit, --dask-workers fewer and larger)")
        return "; ".join(tips)

    def sizes(self) -> str:
        """The numbers the error messages quote."""
        limits = {format_bytes(limit) for limit in self.worker_limits}
        limit = ", ".join(sorted(limits)) if limits else "unknown"
        total = "unknown" if self.data_bytes is None else format_bytes(self.data_bytes)
        largest = format_bytes(self.largest_block_bytes) if self.largest_block_bytes else "?"
        held = "kept in memory" if self.mode == "persist" else "streamed"
        return (
            f"each worker may use {limit}; the data are about {total} in {self.n_blocks} "
            f"blocks (the largest about {largest} with its working arrays), {held}"
        )


def worker_memory(client: Any) -> tuple[list[int | None], list[int]]:
    """``(memory limits, threads)`` of the client's workers (limit None: unlimited)."""
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    limits = [int(w["memory_limit"]) if w.get("memory_limit") else None for w in workers]
    return limits, [int(w.get("nthreads") or 1) for w in workers]


def plan_data(
    client: Any,
    n_rows: Sequence[int],
    bytes_per_row: int,
    *,
    data: str = "auto",
    work_per_row: int = 0,
) -> DataPlan:
    """Decide whether the row blocks are kept on the workers or streamed.

    Parameters
    ----------
    client : distributed.Client
        Its workers' memory limits (``scheduler_info()``) decide.
    n_rows : sequence of int
        Rows of each block (partition).
    bytes_per_row : int
        In-memory bytes of one row of a block (inputs, targets, weight).
    data : {"auto", "persist", "stream"}, default "auto"
        ``"auto"`` keeps the blocks when they take at most :data:`PERSIST_SHARE` of
        the workers' total memory and, with one block's working arrays per thread, fit
        every worker; otherwise it streams them.
    work_per_row : int, default 0
        Bytes per row of the arrays computing a block's share (activations, deltas).

    Returns
    -------
    DataPlan

    Raises
    ------
    ValueError
        For a ``data`` not in :data:`DATA_MODES`.
    """
    if data not in DATA_MODES:
        raise ValueError(f"data must be one of {list(DATA_MODES)}, got {data!r}")
    limits, threads = worker_memory(client)
    total = int(sum(n_rows)) * int(bytes_per_row)
    largest = max(n_rows, default=0) * (int(bytes_per_row) + int(work_per_row))
    n_workers = max(len(limits), 1)
    finite = [limit for limit in limits if limit is not None]
    per_worker = math.ceil(total / n_workers) + max(threads, default=1) * largest
    fits, why = _fits(total, per_worker, limits, max(threads, default=1))
    if data == "auto":
        mode = "persist" if fits else "stream"
    else:
        mode, why = data, f"{data!r} was asked for; {why}"
    if finite and max(threads, default=1) * largest > 0.9 * min(finite):
        why += (
            f"; the largest block needs about {format_bytes(largest)} per thread, close to "
            "a worker's limit: use smaller partitions"
        )
    return DataPlan(mode, data, total, largest, tuple(limits), len(n_rows), why)


def _fits(total: int, per_worker: int, limits: list, threads: int) -> tuple[bool, str]:
    """Whether kept blocks fit the workers (:func:`plan_data`'s rule), and why, in words."""
    finite = [limit for limit in limits if limit is not None]
    if not finite or len(finite) < len(limits):
        return True, "the workers have no memory limit"
    workers = f"{format_bytes(sum(finite))} ({len(finite)} x {format_bytes(min(finite))})"
    if total > PERSIST_SHARE * sum(finite):
        return False, (
            f"about {format_bytes(total)} of blocks > {PERSIST_SHARE:.0%} of the workers' {workers}"
        )
    if per_worker > PERSIST_SHARE * min(finite):
        return False, (
            f"about {format_bytes(total)} of blocks, {format_bytes(per_worker)} per worker "
            f"with {threads} block(s) at work > {PERSIST_SHARE:.0%} of a worker's "
            f"{format_bytes(min(finite))}"
        )
    return True, (
        f"about {format_bytes(total)} of blocks <= {PERSIST_SHARE:.0%} of the workers' {workers}"
    )


def is_recipe(part: Any) -> bool:
    """Whether ``part`` is a streamed block's recipe (``dask.delayed``), not a kept one."""
    from dask.delayed import Delayed  # optional dependency: the dask extra

    return isinstance(part, Delayed)


def map_parts(
    client: Any,
    function: Callable,
    parts: Sequence[Any],
    *args: Any,
    per_part: Callable[[int], tuple] | None = None,
    **kw: Any,
) -> list:
    """``function(part, *args, *per_part(i), **kw)`` for every part ``i``, as futures, in order.

    A part is a future of a kept block, or (streaming) a ``dask.delayed`` recipe that
    makes the block: then the block is made inside this pass's graph and released once
    ``function`` has used it. ``args`` may hold futures (broadcast parameters).
    """
    import dask  # optional dependency: the dask extra (parts exist only with it)

    def extra(index: int) -> tuple:
        return () if per_part is None else per_part(index)

    if parts and is_recipe(parts[0]):
        call = dask.delayed(function, pure=False)
        return client.compute([call(p, *args, *extra(i), **kw) for i, p in enumerate(parts)])
    return [
        client.submit(function, p, *args, *extra(i), **kw, pure=False) for i, p in enumerate(parts)
    ]


def derive_parts(client: Any, function: Callable, parts: Sequence[Any], **kw) -> list:
    """New parts ``function(part, **kw)``: kept on the workers, or recipes when streaming."""
    import dask  # optional dependency: the dask extra

    if parts and is_recipe(parts[0]):
        call = dask.delayed(function, pure=False)
        return [call(part, **kw) for part in parts]
    return client.map(function, parts, **kw, pure=False)


class Waiter:
    """Waits for a pass's futures, watching the workers, and names memory when they fail.

    Parameters
    ----------
    client : distributed.Client
    plan : DataPlan or None
        Quoted in the errors (None before the plan is made).
    pause_timeout : float, optional
        Seconds every worker may stay paused for memory before giving up (default
        :data:`PAUSE_TIMEOUT`, read when the waiter is made).
    doing : str, default "training"
        What the passes are for, as the errors say it ("... died while training").
    """

    def __init__(
        self,
        client: Any,
        plan: DataPlan | None = None,
        pause_timeout: float | None = None,
        *,
        doing: str = "training",
    ):
        self.client, self.plan, self.doing = client, plan, doing
        self.pause_timeout = PAUSE_TIMEOUT if pause_timeout is None else float(pause_timeout)
        self._paused_since: float | None = None
        self._done = 0  # the pass's futures finished at the last look

    def gather(self, futures: Any) -> Any:
        """``client.gather(futures)`` (a future or a list), or a :class:`WorkerMemoryError`."""
        import distributed  # optional dependency: the dask extra

        lost = _worker_loss_errors(distributed)
        listed = futures if isinstance(futures, list) else [futures]
        try:
            while True:
                try:
                    # wait() asks for the current client: this one (the caller's may
                    # not be set as the default)
                    with self.client.as_current():
                        distributed.wait(listed, timeout=POLL_SECONDS)
                    break
                except (TimeoutError, distributed.TimeoutError):
                    self._check_paused(sum(f.done() for f in listed))
            return self.client.gather(futures)
        except lost as exc:
            self._cancel(listed)
            raise self._lost_worker(exc) from exc
        except WorkerMemoryError:
            self._cancel(listed)
            raise

    def _cancel(self, futures: list) -> None:
        """Drop the pass's remaining work (a best effort: the client may be closing)."""
        with contextlib.suppress(Exception):
            self.client.cancel(futures)

    def _check_paused(self, n_done: int) -> None:
        """Raise once the pass has been stuck on memory for ``pause_timeout``.

        Stuck: every worker paused for memory (or none left), or some paused while no
        other worker executes a task and no more of the pass's ``n_done`` futures
        finished: the work waits on the paused ones (Dask does not move a paused
        worker's tasks and data away), and nothing would ever end the wait.
        """
        workers = list(self.client.scheduler_info(n_workers=-1)["workers"].values())
        paused = [w for w in workers if w.get("status") == "paused"]
        every = not workers or len(paused) == len(workers)
        idle_others = paused and not any(
            w.get("metrics", {}).get("task_counts", {}).get("executing", 0)
            for w in workers
            if w.get("status") != "paused"
        )
        now = time.monotonic()
        progressed = n_done != self._done
        self._done = n_done
        if not (every or (idle_others and not progressed)):
            self._paused_since = None
            return
        if self._paused_since is None:
            self._paused_since = now
        elif now - self._paused_since > self.pause_timeout:
            if every:
                what = "all the workers paused for memory" if workers else "no worker is left"
            else:
                what = (
                    f"{len(paused)} of the {len(workers)} workers paused for memory, holding "
                    "work the others wait for,"
                )
            raise WorkerMemoryError(
                f"{self.doing} stopped: {what} for {self.pause_timeout:.0f} s, so no work could "
                f"go on; {self._sizes()}. Try {self._advice()}"
            )

    def _lost_worker(self, exc: BaseException) -> WorkerMemoryError:
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        killed = self._memory_kills()
        cause = (
            f"the nanny reports: {killed}"
            if killed
            else "the usual cause is a worker exceeding its memory limit"
        )
        return WorkerMemoryError(
            f"a Dask worker died while {self.doing} ({type(exc).__name__}: {detail}); {cause}. "
            f"{self._sizes()}. Try {self._advice()}"
        )

    def _memory_kills(self) -> str | None:
        """The nannies' last log line about a worker over its memory budget, if any."""
        try:
            logs = self.client.get_worker_logs(n=50, nanny=True)
        except Exception:  # a best effort: the error is raised without it
            return None
        for lines in logs.values():
            for _, text in reversed(lines):
                if "memory" in text and ("budget" in text or "exceeded" in text):
                    return " ".join(text.split())[:200]
        return None

    def _sizes(self) -> str:
        if self.plan is not None:
            return self.plan.sizes()
        limits, _ = worker_memory(self.client)
        return f"each worker may use {', '.join(sorted({format_bytes(x) for x in limits}))}"

    def _advice(self) -> str:
        if self.plan is not None:
            return self.plan.advice()
        return "smaller partitions, streaming the data (--dask-data stream), or more memory"


def watched_compute(
    client: Any, work: Any, plan: DataPlan | None = None, *, doing: str = "preparing the data"
) -> Any:
    """Compute ``work`` on the client's workers, watched as training's passes are.

    For the passes over the workers' data outside :func:`~deltaprop.parallel.train`'s
    iterations (the summaries a table's preprocessing needs, the labels' classes): a
    worker lost, or every worker paused for memory for :data:`PAUSE_TIMEOUT` seconds,
    raises a :class:`WorkerMemoryError` instead of an unexplained error or a wait
    without end (:class:`Waiter`).

    Parameters
    ----------
    client : distributed.Client
    work : dask collection or list of them
        ``dask.delayed`` objects, dask arrays, ...: what ``client.compute`` takes.
    plan : DataPlan, optional
        Quoted in the error when there is one.
    doing : str, default "preparing the data"
        What the pass is for, as the error says it.

    Returns
    -------
    object or list
        The computed value(s), as ``client.gather(client.compute(work))``.

    Raises
    ------
    WorkerMemoryError
    """
    return Waiter(client, plan, doing=doing).gather(client.compute(work))


@contextlib.contextmanager
def lost_workers_named(client: Any) -> Iterator[None]:
    """Within: an error that means a worker was lost becomes a :class:`WorkerMemoryError`.

    A safety net around Dask work that does not wait through a :class:`Waiter`
    (:func:`watched_compute`): it raises ``KilledWorker``, cancelled futures or closed
    connections when a worker is killed for its memory.
    """
    import distributed  # optional dependency: the dask extra

    try:
        yield
    except _worker_loss_errors(distributed) as exc:
        raise Waiter(client)._lost_worker(exc) from exc


def _worker_loss_errors(distributed: Any) -> tuple[type[BaseException], ...]:
    """The exceptions by which ``distributed`` says a worker (or its results) was lost."""
    from distributed.comm.core import CommClosedError  # optional dependency: dask extra

    return (
        distributed.KilledWorker,
        CommClosedError,
        concurrent.futures.CancelledError,
        asyncio.CancelledError,
    )
