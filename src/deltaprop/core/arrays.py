"""The one module that knows which array libraries exist.

Public entry points resolve the array namespace once, ``xp = array_namespace(X)``,
and pass it down as the keyword ``xp``; everything below works on the Python Array
API standard and never imports NumPy. Initial weights are drawn with NumPy and moved
to the caller's library, dtype and device with :func:`from_numpy`.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

_compat: Any  # the array_api_compat module, or None without the extra
try:  # optional: wraps PyTorch, CuPy, Dask, JAX ... into standard namespaces
    import array_api_compat as _compat
except ImportError:  # pragma: no cover - exercised only without the extra
    _compat = None


def array_namespace(*arrays: Any) -> Any:
    """Return the Array API namespace shared by ``arrays`` (``None`` entries ignored).

    Plain NumPy arrays get NumPy itself (NumPy >= 2 implements the standard), which
    avoids the small per-call cost of a wrapper namespace in the hot loop.
    """
    arrays = tuple(a for a in arrays if a is not None)
    if all(isinstance(a, np.ndarray | np.generic) for a in arrays):
        return np
    if _compat is not None:
        return _compat.array_namespace(*arrays)
    namespaces = {type(a).__module__: a for a in arrays}
    if len(namespaces) > 1:
        raise TypeError(f"arrays from different libraries: {sorted(namespaces)}")
    first = arrays[0]
    if hasattr(first, "__array_namespace__"):
        return first.__array_namespace__()
    raise TypeError(
        f"{type(first).__name__} is not an array of a library that follows the Array API; "
        "install 'array-api-compat' to use PyTorch, CuPy or Dask arrays"
    )


def is_array(x: Any) -> bool:
    """True when ``x`` is an array of some Array API library (not a list or DataFrame)."""
    if isinstance(x, np.ndarray):
        return True
    if _compat is not None:
        return bool(_compat.is_array_api_obj(x))
    return hasattr(x, "__array_namespace__")


def device(x: Any) -> Any:
    """The device ``x`` lives on, as its own library names it."""
    if _compat is not None:
        return _compat.device(x)
    return getattr(x, "device", "cpu")


def is_numpy(xp: Any) -> bool:
    """True when ``xp`` is NumPy itself or the array-api-compat wrapper around it."""
    return xp is np or getattr(xp, "__name__", "") == "array_api_compat.numpy"


def to_numpy(x: Any) -> np.ndarray:
    """Copy an array from any supported library to host memory as a NumPy array."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "get") and type(x).__module__.startswith("cupy"):
        return x.get()
    if hasattr(x, "detach"):  # torch
        return x.detach().cpu().numpy()
    try:
        return np.from_dlpack(x)
    except (TypeError, BufferError, RuntimeError, AttributeError):
        return np.asarray(x)


def from_numpy(a: np.ndarray, *, xp: Any, dtype: Any = None, device: Any = None) -> Any:
    """Move a NumPy array into namespace ``xp`` with ``dtype`` on ``device``."""
    if is_numpy(xp):
        return np.asarray(a, dtype=dtype)
    if device is None:
        return xp.asarray(a, dtype=dtype)
    return xp.asarray(a, dtype=dtype, device=device)


def quiet_float_errors(xp: Any) -> contextlib.AbstractContextManager:
    """Silence NumPy's overflow/invalid warnings (training reports divergence itself)."""
    if is_numpy(xp):
        return np.errstate(over="ignore", invalid="ignore")
    return contextlib.nullcontext()


def is_floating(xp: Any, dtype: Any) -> bool:
    """True for real floating dtypes (float32, float64, ...)."""
    return bool(xp.isdtype(dtype, "real floating"))


def is_dask_collection(*values: Any) -> bool:
    """True when any of ``values`` is a Dask collection (array, DataFrame, Series).

    Does not import Dask, so training can call it on every input cheaply.

    Examples
    --------
    >>> import numpy as np
    >>> is_dask_collection(np.zeros(3), None)
    False
    """
    for value in values:
        module = type(value).__module__
        if (module == "dask" or module.startswith("dask.")) and hasattr(value, "__dask_graph__"):
            return True
    return False
