"""CUDA graphs: the whole training step captured once and replayed.

On a GPU, a small network's step is bound by launch overhead, not arithmetic: a
784-256-256-10 step at batch 128 is a few dozen kernels of a few microseconds each,
and the host's Python and the driver's launch cost dominate. Because deltaprop's
backward pass is explicit (no autograd tape), the step — gather the batch, forward
pass, backward pass, optimizer update — is a fixed sequence of kernels on fixed
buffers, which a CUDA graph records once and the driver replays with one launch.

The pieces, so that everything except the capture itself runs on any device:

- :class:`TrainingBuffers`: the parameters, the previous parameters (the last ones
  with a finite loss), the optimizer's state and the step's scalars (learning rate,
  Adam's bias corrections), each in one array that is only ever written in place.
- :class:`StaticStep`: the step function on those buffers, split in two —
  :meth:`StaticStep.gradient` (loss and gradients of the rows whose indices are in
  ``StaticStep.index``) and :meth:`StaticStep.update` (the optimizer's update, in
  place). It never synchronises with the host: the loss stays a float64 0-D array.
- :class:`DirectStep` calls them as they are; :class:`CUDAGraphStep` captures each in
  a ``torch.cuda.CUDAGraph`` (after a warm-up on a side stream, restoring the
  buffers the warm-up changed) and replays it.

:func:`deltaprop.train` uses them for PyTorch tensors on a CUDA device (``cuda_graph``
argument; ``DELTAPROP_CUDA_GRAPH=0`` turns the automatic choice off). Between the two
halves the host reads the batch loss (one synchronisation per step, about 10 us):
training checks every loss for divergence and, in full-batch mode, for
``target_loss`` before the update, exactly as the eager loop does, and ``History``
records every iteration's loss. Each mini-batch length gets its own pair of graphs
(the last, short batch of an epoch its own).

CuPy arrays train eagerly: CuPy's own capture (``cupy.cuda.Stream.begin_capture``)
is not used yet, because it could not be tested here.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Protocol

from deltaprop.core.arrays import device
from deltaprop.core.network import Network
from deltaprop.core.objective import auto_block_size, objective

__all__ = [
    "CUDAGraphStep",
    "DirectStep",
    "StaticStep",
    "StepOptimizer",
    "TrainingBuffers",
    "block_size_for",
    "capture",
    "capture_safe",
    "is_cuda",
]

#: Bytes of one block's widest activation on a GPU (the CPU's 1 MiB starves a GPU).
_GPU_BLOCK_BYTES = 256 << 20


class StepOptimizer(Protocol):
    """What a static step needs of an optimizer, used by duck typing.

    Its array state's names, its step's scalars and the update as a pure function of
    arrays: :class:`~deltaprop.SGD` and :class:`~deltaprop.Adam` have them (this module
    imports no optimizer; :mod:`deltaprop.training.static` chooses which may train here).
    """

    @property
    def _state_keys(self) -> Sequence[str]: ...

    @property
    def _scalar_names(self) -> Sequence[str]: ...

    def _update(
        self, params: Any, grads: Any, state: dict[str, Any], scalars: dict[str, Any], *, xp: Any
    ) -> tuple[list[Any], dict[str, list[Any]]]: ...


def is_cuda(X: Any) -> bool:
    """True when ``X`` is a PyTorch tensor on a CUDA device."""
    return type(X).__module__.startswith("torch") and getattr(X, "is_cuda", False) is True


class _CaptureSafeNamespace:
    """array-api-compat's torch namespace, capturable.

    Its ``maximum`` and ``minimum`` turn a Python scalar into a tensor with
    ``torch.asarray(x, device=...)``, a host-to-device copy that stream capture forbids;
    here the scalar becomes a 0-D tensor made by ``torch.full`` on the device instead
    (same value, dtype and device: the same numbers).
    """

    def __init__(self, xp: Any) -> None:
        self._xp = xp

    def __getattr__(self, name: str) -> Any:
        return getattr(self._xp, name)

    def _tensor(self, x: Any, other: Any) -> Any:
        if isinstance(x, int | float) and not isinstance(x, bool):
            import torch

            return torch.full((), x, dtype=other.dtype, device=other.device)
        return x

    def maximum(self, x1: Any, x2: Any, /) -> Any:
        return self._xp.maximum(self._tensor(x1, x2), self._tensor(x2, x1))

    def minimum(self, x1: Any, x2: Any, /) -> Any:
        return self._xp.minimum(self._tensor(x1, x2), self._tensor(x2, x1))


def capture_safe(xp: Any) -> Any:
    """``xp``, wrapped by :class:`_CaptureSafeNamespace` when it is PyTorch's."""
    if getattr(xp, "__name__", "").startswith("array_api_compat.torch"):
        return _CaptureSafeNamespace(xp)
    return xp


def _copy(xp: Any, a: Any) -> Any:
    return xp.asarray(a, copy=True)


class TrainingBuffers:
    """The arrays a training step writes, each allocated once and updated in place.

    Parameters
    ----------
    params : list of arrays
        ``[W_0, b_0, ...]``; copied (the caller's arrays are never written).
    last_finite : list of arrays
        The parameters before the last update (copied into ``previous``).
    optimizer : SGD or Adam
        Its array state is copied (zeros when it has none yet).

    Attributes
    ----------
    params, previous : list of arrays
    state : dict of str to list of arrays
        The optimizer's array state by name (``velocities``, ``first_moments``, ...).
    scalars : dict of str to 0-D arrays
        The step's scalars, in the parameters' dtype; see :meth:`load_scalars`.
    """

    def __init__(
        self,
        params: Sequence[Any],
        last_finite: Sequence[Any],
        optimizer: StepOptimizer,
        *,
        xp: Any,
    ) -> None:
        self.xp = xp
        self.params = [_copy(xp, p) for p in params]
        self.previous = [_copy(xp, p) for p in last_finite]
        self.state = {}
        for key in optimizer._state_keys:
            arrays = getattr(optimizer, key)
            if arrays is None:
                self.state[key] = [xp.zeros_like(p) for p in self.params]
            else:
                self.state[key] = [_copy(xp, a) for a in arrays]
        like = self.params[0]
        self.scalars = {
            name: xp.ones((), dtype=like.dtype, device=device(like))
            for name in optimizer._scalar_names
        }

    def mutable(self) -> list[Any]:
        """Every array :meth:`StaticStep.update` writes."""
        out = self.params + self.previous
        for arrays in self.state.values():
            out += arrays
        return out

    def load_scalars(self, values: dict[str, float]) -> None:
        """Write the next step's scalars (Python floats) into their 0-D arrays."""
        for name, value in values.items():
            self.scalars[name][...] = value


class StaticStep:
    """One training step whose inputs and outputs live in fixed arrays.

    Parameters
    ----------
    net : Network
        Its layers, loss and ``alpha`` (the parameters come from ``buffers``).
    optimizer : SGD or Adam
    buffers : TrainingBuffers
        Shared by the steps of every batch length.
    data : tuple ``(X, y, w)``
        All training rows: X of shape (n_samples, n_features), y of shape
        (n_samples, n_outputs), w of shape (n_samples,) or None.
    rows : int or None
        None: each step uses every row (full batch). Else the batch length: the rows
        are ``X[index]`` with ``index`` the int64 array of that length in
        ``StaticStep.index``, which the caller fills before each step.
    total_weight : float or None
        The divisor of the loss (the sum of the batch's weights, or its number of
        rows); None: the sum of ``w`` over the batch, computed in the step.
    block_size : int
        Rows per block of the forward and backward pass.
    xp : namespace
    """

    def __init__(
        self,
        net: Network,
        optimizer: StepOptimizer,
        buffers: TrainingBuffers,
        data: tuple[Any, Any, Any],
        *,
        rows: int | None,
        total_weight: float | None,
        block_size: int,
        xp: Any,
    ) -> None:
        self.net, self.optimizer, self.buffers = net, optimizer, buffers
        self.X, self.y, self.w = data
        self.total_weight, self.block_size, self.xp = total_weight, block_size, xp
        self.index = None
        if rows is not None:
            self.index = xp.zeros((rows,), dtype=xp.int64, device=device(self.X))

    def gradient(self) -> tuple[Any, list[Any]]:
        """Loss and gradients at ``buffers.params`` (no host synchronisation).

        Returns
        -------
        summary : float64 array of shape (2,)
            The loss (data term plus L2 penalty, as ``Network`` computes it) and the
            batch's total weight.
        grads : list of arrays
            ``[dW_0, db_0, ...]``.
        """
        xp, X, y, w = self.xp, self.X, self.y, self.w
        if self.index is not None:
            X, y = xp.take(X, self.index, axis=0), xp.take(y, self.index, axis=0)
            w = None if w is None else xp.take(w, self.index, axis=0)
        total = xp.sum(w) if self.total_weight is None else self.total_weight
        net = self.net
        loss, grads = objective(
            net.layers,
            net.loss,
            self.buffers.params,
            X,
            y,
            w,
            total,
            net.alpha,
            xp=xp,
            block_size=self.block_size,
        )
        if self.total_weight is None:
            weight = xp.astype(total, xp.float64)
        else:
            weight = xp.full((), self.total_weight, dtype=xp.float64, device=device(X))
        return xp.stack([loss, weight]), grads

    def update(self, grads: Sequence[Any]) -> None:
        """Copy the parameters to ``buffers.previous``, then apply the optimizer's update.

        Reads the step's scalars from ``buffers.scalars`` (fill them first with
        :meth:`TrainingBuffers.load_scalars`); writes every buffer in place.
        """
        b, xp = self.buffers, self.xp
        for previous, p in zip(b.previous, b.params, strict=True):
            previous[...] = p
        new_params, new_state = self.optimizer._update(b.params, grads, b.state, b.scalars, xp=xp)
        for buffer, new in zip(b.params, new_params, strict=True):
            buffer[...] = new
        for key, arrays in new_state.items():
            for buffer, new in zip(b.state[key], arrays, strict=True):
                buffer[...] = new


class DirectStep:
    """Runs a :class:`StaticStep` as it is (no capture): the fallback, and CPU testing."""

    def __init__(self, step: StaticStep) -> None:
        self.step = step

    def gradient(self) -> tuple[Any, list[Any]]:
        return self.step.gradient()

    def update(self, grads: Sequence[Any]) -> None:
        self.step.update(grads)


class CUDAGraphStep:
    """A :class:`StaticStep` captured as two CUDA graphs and replayed.

    The warm-up (``warmup`` eager steps on a side stream, as PyTorch's documentation
    asks, so that lazy initialisations happen outside the capture) changes the
    buffers; they are restored afterwards. :meth:`gradient` returns the same output
    arrays every time, overwritten by each replay, and :meth:`update` must be given
    those.

    Raises
    ------
    RuntimeError
        When the capture fails (the buffers are restored first).
    """

    def __init__(self, step: StaticStep, *, warmup: int = 2) -> None:
        import torch

        self.step = step
        dev = step.X.device
        saved = [torch.clone(a) for a in step.buffers.mutable()]
        try:
            # torch.cuda.graph captures on a stream of the current device: make it X's
            with torch.cuda.device(dev):
                side = torch.cuda.Stream()
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):
                    for _ in range(warmup):
                        _, grads = step.gradient()
                        step.update(grads)
                torch.cuda.current_stream().wait_stream(side)
                self._gradient_graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(self._gradient_graph):
                    self._summary, self._grads = step.gradient()
                self._update_graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(self._update_graph):
                    step.update(self._grads)
        finally:
            torch.cuda.synchronize(dev)  # the warm-up's side stream included
            for a, s in zip(step.buffers.mutable(), saved, strict=True):
                a.copy_(s)

    def gradient(self) -> tuple[Any, list[Any]]:
        self._gradient_graph.replay()
        return self._summary, self._grads

    def update(self, grads: Sequence[Any]) -> None:
        if grads is not self._grads:
            raise ValueError("update takes the gradients gradient() returned")
        self._update_graph.replay()


def block_size_for(net: Network, X: Any, *, on_cuda: bool) -> int:
    """Rows per block of the step's forward and backward pass for ``X``.

    On a CUDA device the blocks are far larger than the CPU's (``_GPU_BLOCK_BYTES`` of
    the widest activation), so that one block's kernels keep the device busy.
    """
    itemsize = getattr(X.dtype, "itemsize", 8)
    size = auto_block_size(net.layers, itemsize)
    if on_cuda:
        width = max(max(layer.n_in, layer.n_out) for layer in net.layers)
        size = max(size, _GPU_BLOCK_BYTES // (width * itemsize))
    return size


def capture(step: StaticStep) -> CUDAGraphStep | DirectStep:
    """``step`` captured as a :class:`CUDAGraphStep`, or a :class:`DirectStep` when that fails.

    Warns
    -----
    RuntimeWarning
        When the capture fails (the step then runs without a graph).
    """
    try:
        return CUDAGraphStep(step)
    except RuntimeError as exc:
        warnings.warn(
            f"CUDA graph capture failed ({exc}); this step runs without a graph. "
            "Pass cuda_graph=False to deltaprop.train to skip the attempt.",
            RuntimeWarning,
            stacklevel=3,
        )
        return DirectStep(step)
