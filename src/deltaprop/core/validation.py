"""Input checks shared by the public entry points.

Each check raises ``ValueError`` or ``TypeError`` with a message that names the
argument, the rule and what was found. Inputs that are not arrays (lists, pandas
objects) become NumPy arrays; integer and boolean data become float64.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from deltaprop.core.arrays import (
    array_namespace,
    device,
    from_numpy,
    is_array,
    quiet_float_errors,
)


def as_array(value: Any, name: str) -> Any:
    """``value`` as an array of its own library, or NumPy for lists/DataFrames."""
    if is_array(value):
        return value
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array-like: {exc}") from None
    return arr


def as_float(value: Any, name: str, *, xp: Any, dtype: Any = None) -> Any:
    """Cast to ``dtype`` (default: keep real floats, else float64) or raise TypeError."""
    if xp.isdtype(value.dtype, "real floating"):
        return value if dtype is None or value.dtype == dtype else xp.astype(value, dtype)
    if xp.isdtype(value.dtype, ("integral", "bool")):
        return xp.astype(value, xp.float64 if dtype is None else dtype)
    raise TypeError(f"{name} must hold real numbers, got dtype {value.dtype}")


def check_finite(value: Any, name: str, *, xp: Any) -> None:
    # A finite sum proves every value finite (NaN and the infinities carry through a
    # sum): one pass with no temporary array, half the time of the element-wise test,
    # which runs only when the sum is not finite (a NaN, an infinity, or an overflow).
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is answered below
        total = xp.sum(value)
    if bool(xp.isfinite(total)):
        return
    if not bool(xp.all(xp.isfinite(value))):
        raise ValueError(f"{name} contains NaN or infinity")


def check_X(X: Any, n_features: int | None = None, *, name: str = "X") -> tuple[Any, Any]:
    """Validate a 2-D design matrix; returns ``(X, xp)``."""
    X = as_array(X, name)
    xp = array_namespace(X)
    if X.ndim != 2:
        hint = " (use X.reshape(-1, 1) for a single feature)" if X.ndim == 1 else ""
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got shape {tuple(X.shape)}{hint}"
        )
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features, but the network expects {n_features}")
    X = as_float(X, name, xp=xp)
    check_finite(X, name, xp=xp)
    return X, xp


def _same_library(value: Any, name: str, *, xp: Any, like: Any) -> Any:
    """``value`` in ``xp`` on the device of ``like``; plain NumPy arrays are moved."""
    value = as_array(value, name)
    if array_namespace(value) is xp:
        return value
    if isinstance(value, np.ndarray):
        return from_numpy(as_float(value, name, xp=np), xp=xp, device=device(like))
    raise TypeError(f"{name} must be an array of the same library as X")


def check_targets(y: Any, X: Any, n_outputs: int, *, xp: Any) -> Any:
    """Validate targets for ``X``; a 1-D ``y`` means one output.

    Returns ``y`` with shape (n_samples, n_outputs) and the dtype of ``X``.
    """
    y = as_float(_same_library(y, "y", xp=xp, like=X), "y", xp=xp, dtype=X.dtype)
    if y.ndim == 1:
        y = xp.reshape(y, (-1, 1))
    if y.ndim != 2:
        raise ValueError(f"y must be 1-D or 2-D, got shape {tuple(y.shape)}")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y has {y.shape[0]} samples, but X has {X.shape[0]}")
    if y.shape[1] != n_outputs:
        raise ValueError(f"y has {y.shape[1]} columns, but the network has {n_outputs} outputs")
    check_finite(y, "y", xp=xp)
    return y


def check_sample_weight(sample_weight: Any, X: Any, *, xp: Any) -> Any | None:
    """Validate sample weights for ``X``: 1-D, finite, >= 0, a finite sum > 0. None stays None."""
    if sample_weight is None:
        return None
    w = _same_library(sample_weight, "sample_weight", xp=xp, like=X)
    w = as_float(w, "sample_weight", xp=xp, dtype=X.dtype)
    if w.ndim != 1:
        raise ValueError(f"sample_weight must be 1-D, got shape {tuple(w.shape)}")
    if w.shape[0] != X.shape[0]:
        raise ValueError(f"sample_weight has {w.shape[0]} entries, but X has {X.shape[0]} samples")
    check_finite(w, "sample_weight", xp=xp)
    if not bool(xp.all(w >= 0.0)):
        raise ValueError("sample_weight must be >= 0 (found a negative weight)")
    with quiet_float_errors(xp):  # an overflowing sum is refused below
        total = float(xp.sum(w))
    if not total > 0.0:
        raise ValueError("sample_weight must not be all zero")
    if total == float("inf"):
        raise ValueError(
            f"sample_weight must have a finite sum, got inf in {w.dtype} (largest weight "
            f"{float(xp.max(w)):.3g}); rescale the weights, e.g. divide them by their largest"
        )
    return w


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    integer: bool = False,
    allow_none: bool = False,
) -> Any:
    """Validate a scalar hyper-parameter and return it as a Python int/float."""
    if value is None and allow_none:
        return None
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an int" if integer else "a number"
        raise TypeError(f"{name} must be {what}, got {value!r}")
    value = int(value) if integer and isinstance(value, numbers.Integral) else float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        rule = ">" if low_open else ">="
        raise ValueError(f"{name} must be {rule} {low}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value!r}")
    return value


def from_registry(value: Any, *, what: str, base: type, registry: dict, aliases: dict) -> Any:
    """``value`` if it is a ``base`` already, else a new ``registry[name]()`` for its name.

    Parameters
    ----------
    value : str or instance of ``base``
        A name in ``registry``, an alias in ``aliases``, or an object used as it is.
    what : str
        The argument's name, for the error messages (``"activation"``, ``"loss"``).
    base : type
    registry : dict of str to type
    aliases : dict of str to str
        Other names of the registry's names.

    Raises
    ------
    ValueError
        For an unknown name.
    TypeError
        For anything that is neither a name nor a ``base``.
    """
    if isinstance(value, base):
        return value
    if not isinstance(value, str):
        article = "an" if base.__name__[0] in "AEIOU" else "a"
        raise TypeError(
            f"{what} must be a name or {article} {base.__name__}, got {type(value).__name__}"
        )
    name = aliases.get(value, value)
    if name not in registry:
        raise ValueError(f"{what} must be one of {sorted(registry)}, got {value!r}")
    return registry[name]()


def check_state(state: dict, owner: object, kind: str, keys: Any) -> None:
    """Check that ``state`` was saved by an object of ``owner``'s class and has ``keys``.

    Raises
    ------
    ValueError
        When ``state["name"]`` is another class's name (``kind`` says what kind of object,
        e.g. ``"optimizer"``) or a key is missing.
    """
    name = state.get("name")
    if name != type(owner).__name__:
        raise ValueError(f"state belongs to {kind} {name!r}, not {type(owner).__name__!r}")
    missing = [key for key in keys if key not in state]
    if missing:
        raise ValueError(f"state is missing {missing}")
