"""Model files: one ZIP container, a JSON header and ``.npy`` arrays, never pickle.

A model file is an uncompressed ZIP archive with

- ``header.json``: the format name ``"deltaprop"``, ``format_version``, the library
  version that wrote it, the ``kind`` of object (``"network"``, ``"preprocessor"``, ...),
  its ``config`` (plain JSON: numbers, strings, lists, objects) and a table of the arrays
  (name, dtype, shape);
- ``arrays/<name>.npy``: one member per array, in NumPy's ``.npy`` format, floating
  point only.

Loading reads the JSON with a strict parser and the arrays as raw numbers: nothing in a
file is ever imported, evaluated or unpickled, so a hostile file can at worst produce a
:class:`ModelFileError`. Every size is checked against the ZIP directory and the file's
real length before memory is allocated. The format is documented field by field in
``docs/model-format.md``.

Saving is atomic: the archive is written to a temporary file in the destination folder,
flushed and fsynced, then renamed over the destination with :func:`os.replace`. If
anything fails on the way, the temporary file is removed and a previous file at the
destination is left untouched. A process killed during a save (SIGKILL, power loss)
cannot clean up: it may leave a temporary file named ``.<name>.<12 hex digits>.tmp``
next to the destination ``<name>``. :func:`load` refuses such names (the file may be
incomplete) and :func:`temporary_files` lists them so they can be deleted.

Each savable class is a *kind* in a registry: ``to_state(obj) -> (config, arrays)`` and
``from_state(config, arrays) -> obj``. A kind that contains other objects (a model made
of a preprocessor and a network) stores them with :func:`dump_nested` and rebuilds them
with :func:`load_nested`.

Examples
--------
>>> import numpy as np, tempfile, os
>>> import deltaprop as dp
>>> net = dp.Network([dp.Dense(2, 3, "tanh"), dp.Dense(3, 1)], random_state=0)
>>> path = os.path.join(tempfile.mkdtemp(), "net.deltaprop")
>>> dp.save(net, path)
>>> again = dp.load(path)
>>> X = np.array([[0.5, -1.0]])
>>> bool(np.array_equal(again.forward(X), net.forward(X)))
True
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import math
import os
import re
import secrets
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deltaprop._version import __version__
from deltaprop.core.activations import ACTIVATIONS
from deltaprop.core.arrays import to_numpy
from deltaprop.core.layers import Dense
from deltaprop.core.losses import LOSSES
from deltaprop.core.network import Network
from deltaprop.files.archives import ArchiveError, check_zip_layout, read_npy_header

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_ITEMS",
    "MAX_HEADER_MEMORY",
    "MAX_SHAPE_PRODUCT",
    "ArrayStore",
    "FileHeader",
    "ModelFileError",
    "check_keys",
    "dump_nested",
    "get_field",
    "get_number",
    "load",
    "load_nested",
    "nest_state",
    "read_arrays",
    "read_header",
    "register_kind",
    "save",
    "temporary_files",
]

FORMAT_NAME = "deltaprop"
#: The newest format version this library writes and reads.
FORMAT_VERSION = 1

#: Floating dtypes an array member may have (little-endian ``.npy`` descriptors).
ALLOWED_DTYPES = {"float16": "<f2", "float32": "<f4", "float64": "<f8"}

_HEADER_NAME = "header.json"
_ARRAY_PREFIX = "arrays/"
_ARRAY_SUFFIX = ".npy"
#: Array names: dot-separated words, e.g. ``layers.0.weights``.
_NAME_RE = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*")
_MAX_NAME_LENGTH = 200
#: The largest ``header.json`` a model file may have, in bytes.
MAX_HEADER_BYTES = 16 * 2**20
#: The most JSON items (values and keys, counted as the ``,`` ``:`` ``[`` ``{`` of the
#: text, before it is parsed) a header may hold. Parsed JSON costs up to ~90 bytes per
#: item, 20 to 30 times its text: with these two limits parsing a header allocates at
#: most :data:`MAX_HEADER_MEMORY`.
MAX_HEADER_ITEMS = 1_000_000
#: What parsing the largest header that passes the two limits above may allocate
#: (measured by ``tests/test_memory_bounds.py``).
MAX_HEADER_MEMORY = 160 * 2**20
#: The largest product of the dimensions of a declared shape, a zero counting as one
#: (so that NumPy can represent it; the bytes are checked against the file as well).
MAX_SHAPE_PRODUCT = 2**53
_MAX_MEMBERS = 100_000
_MAX_NDIM = 32
_READ_CHUNK = 16 * 2**20
_ZIP_MAGIC = b"PK\x03\x04"
#: Names of temporary files written by :func:`save`: ``.<destination name>.<hex>.tmp``.
_TEMPORARY_RE = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")
_TOP_KEYS = ("format", "format_version", "library_version", "kind", "config", "arrays")
# A fixed timestamp makes the same object always produce the same bytes.
_DATE_TIME = (1980, 1, 1, 0, 0, 0)


class ModelFileError(ValueError):
    """A file that is not a valid deltaprop model file (a :class:`ValueError`)."""


# -- the registry of kinds ------------------------------------------------------------
@dataclass(frozen=True)
class _Kind:
    name: str
    cls: type
    to_state: Callable[[Any], tuple[dict, dict[str, Any]]]
    from_state: Callable[[dict, ArrayStore], Any]


_KINDS: dict[str, _Kind] = {}
_KIND_OF_CLASS: dict[type, str] = {}


#: Kinds registered by the rooms above this one, imported when a file holds one: kind ->
#: (the module that registers it, the extra its optional dependencies come with). A fixed
#: table: a file never names a module. The modules are named, not imported, because they
#: sit above this room (see ARCHITECTURE.md: the registry is the one way down the layers).
_LAZY_KINDS: dict[str, tuple[str, str]] = {
    "checkpoint": ("deltaprop.training.checkpoint", "cli"),
    "preprocessor": ("deltaprop.tabular.preprocessing", "data"),
    "tabular_model": ("deltaprop.tabular.model", "cli"),
    "mlp_classifier": ("deltaprop.estimators.mlp", "sklearn"),
    "mlp_regressor": ("deltaprop.estimators.mlp", "sklearn"),
    "tabular_classifier": ("deltaprop.estimators.recipe", "sklearn"),
    "tabular_regressor": ("deltaprop.estimators.recipe", "sklearn"),
}


def _kind_names() -> list[str]:
    return sorted(set(_KINDS) | set(_LAZY_KINDS))


def _known_kind(kind: Any) -> bool:
    """Whether ``kind`` is registered, importing the module of a lazy kind first.

    Raises
    ------
    ImportError
        When the module of a lazy kind needs an optional dependency that is missing.
    """
    if not isinstance(kind, str):
        return False
    if kind not in _KINDS and kind in _LAZY_KINDS:
        module, extra = _LAZY_KINDS[kind]
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ImportError(
                f"this model file holds a {kind!r}, which needs optional dependencies "
                f'({exc}): pip install "deltaprop[{extra}]"'
            ) from None
    return kind in _KINDS


def register_kind(
    name: str,
    cls: type,
    to_state: Callable[[Any], tuple[dict, dict[str, Any]]],
    from_state: Callable[[dict, ArrayStore], Any],
) -> None:
    """Make instances of ``cls`` savable as kind ``name``.

    Parameters
    ----------
    name : str
        The ``kind`` written in the header, e.g. ``"network"``.
    cls : type
        The exact class (subclasses are not matched: they may hold more state).
    to_state : callable
        ``to_state(obj) -> (config, arrays)``: ``config`` is JSON-serialisable (no NaN or
        infinity), ``arrays`` maps names (``word(.word)*``) to floating-point arrays.
    from_state : callable
        ``from_state(config, arrays) -> obj`` with ``arrays`` an :class:`ArrayStore`;
        raises ``ValueError`` for anything it does not accept.

    Raises
    ------
    ValueError
        If ``name`` or ``cls`` is registered already.
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ValueError(f"kind name must be a word like 'network', got {name!r}")
    if name in _KINDS:
        raise ValueError(f"kind {name!r} is registered already")
    if cls in _KIND_OF_CLASS:
        raise ValueError(f"{cls.__name__} is registered already as {_KIND_OF_CLASS[cls]!r}")
    _KINDS[name] = _Kind(name, cls, to_state, from_state)
    _KIND_OF_CLASS[cls] = name


def _to_node(obj: Any) -> tuple[dict, dict[str, np.ndarray]]:
    """``({"kind": ..., "config": ...}, arrays)`` for a registered object."""
    kind = _KIND_OF_CLASS.get(type(obj))
    if kind is None:
        known = ", ".join(sorted(k.cls.__name__ for k in _KINDS.values()))
        raise TypeError(f"cannot save a {type(obj).__name__}: savable types are {known}")
    config, arrays = _KINDS[kind].to_state(obj)
    return {"kind": kind, "config": config}, arrays


def dump_nested(obj: Any, prefix: str, arrays: dict[str, Any]) -> dict:
    """Store a registered object inside another kind's state.

    Parameters
    ----------
    obj : object
        An instance of a registered kind.
    prefix : str
        A word; the child's arrays are added to ``arrays`` as ``prefix.name``.
    arrays : dict
        The parent's arrays (updated in place).

    Returns
    -------
    dict
        ``{"kind": ..., "config": ...}``, to be placed in the parent's config and passed
        to :func:`load_nested` when loading.
    """
    node, child_arrays = _to_node(obj)
    return nest_state(node["kind"], node["config"], child_arrays, prefix, arrays)


def nest_state(
    kind: str, config: dict, child_arrays: dict[str, Any], prefix: str, arrays: dict[str, Any]
) -> dict:
    """:func:`dump_nested` for a state made without the object's class at hand.

    ``(config, child_arrays)`` is what kind ``kind``'s ``to_state`` gives (the tabular
    recipe fitted without scikit-learn is stored so, its kind registered only with the
    scikit-learn estimator); the arrays are added to ``arrays`` as ``prefix.name``.

    Returns
    -------
    dict
        ``{"kind": kind, "config": config}``.
    """
    for name, value in child_arrays.items():
        arrays[f"{prefix}.{name}"] = value
    return {"kind": kind, "config": config}


def load_nested(node: Any, arrays: ArrayStore, prefix: str, *, where: str = "config") -> Any:
    """Rebuild an object stored with :func:`dump_nested` (``where`` names it in errors)."""
    if not isinstance(node, dict) or set(node) != {"kind", "config"}:
        raise ModelFileError(f"{where} must be an object with keys 'kind' and 'config'")
    return _from_node(node, arrays.nested(prefix), where=where)


def _from_node(node: dict, arrays: ArrayStore, *, where: str) -> Any:
    kind = node["kind"]
    if not _known_kind(kind):
        raise ModelFileError(
            f"{where}: unknown kind {kind!r}; this deltaprop knows {_kind_names()}"
        )
    if not isinstance(node["config"], dict):
        raise ModelFileError(f"{where}.config must be a JSON object")
    return _KINDS[kind].from_state(node["config"], arrays)


class ArrayStore:
    """The arrays of a file, handed to ``from_state``; records which ones were used.

    Loading fails when an array of the file is never taken: a file holds exactly what
    its kind needs.
    """

    def __init__(self, arrays: dict[str, np.ndarray], prefix: str = "", used: set | None = None):
        self._arrays = arrays
        self._prefix = prefix
        self._used: set[str] = set() if used is None else used

    def take(self, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """The array ``name``; ``ModelFileError`` when missing or not of ``shape``."""
        full = self._prefix + name
        if full not in self._arrays:
            raise ModelFileError(f"array {full!r} is missing")
        value = self._arrays[full]
        if shape is not None and tuple(value.shape) != tuple(shape):
            raise ModelFileError(
                f"array {full!r} has shape {tuple(value.shape)}, expected {tuple(shape)}"
            )
        self._used.add(full)
        return value

    def nested(self, prefix: str) -> ArrayStore:
        """The arrays under ``prefix.`` (sharing the record of what was used)."""
        return ArrayStore(self._arrays, f"{self._prefix}{prefix}.", self._used)

    def unused(self) -> list[str]:
        """Names of the arrays nobody took."""
        return sorted(set(self._arrays) - self._used)


# -- small validators for from_state ---------------------------------------------------
def encode_float(value: float) -> float | str:
    """A float as JSON: finite numbers as they are, others as "inf", "-inf", "nan"."""
    return value if math.isfinite(value) else repr(float(value))


def decode_float(value: Any, where: str) -> float:
    """The float that :func:`encode_float` wrote; ``where`` names it in errors.

    Raises
    ------
    ModelFileError
        For anything but a number or one of "inf", "-inf", "nan".
    """
    if value in ("inf", "-inf", "nan"):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ModelFileError(f"{where} must be a number, 'inf', '-inf' or 'nan', got {value!r:.60}")
    try:
        return float(value)
    except OverflowError:
        raise ModelFileError(f"{where} is too large: {value!r:.40}") from None


def get_field(config: Mapping, key: str, types: type | tuple[type, ...], where: str) -> Any:
    """``config[key]``, checked to be of ``types`` (bool is never an int here)."""
    if not isinstance(config, Mapping) or key not in config:
        raise ModelFileError(f"{where}.{key} is missing")
    value = config[key]
    types = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool) and bool not in types:
        ok = False
    else:
        ok = isinstance(value, types)
    if not ok:
        names = " or ".join(t.__name__ for t in types)
        raise ModelFileError(f"{where}.{key} must be {names}, got {value!r:.80}")
    return value


def get_number(config: Mapping, key: str, where: str) -> float:
    """``config[key]`` as a finite Python float (JSON ints too large for a float fail)."""
    value = get_field(config, key, (int, float), where)
    try:
        value = float(value)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise ModelFileError(f"{where}.{key} must be a finite number, got {config[key]!r:.40}")
    return value


def check_keys(config: Mapping, keys: set[str] | tuple[str, ...], where: str) -> None:
    """Exactly ``keys``: a missing or unexpected key is a ``ModelFileError``."""
    if not isinstance(config, Mapping):
        raise ModelFileError(f"{where} must be a JSON object")
    missing = sorted(set(keys) - set(config))
    extra = sorted(set(config) - set(keys))
    if missing:
        raise ModelFileError(f"{where} lacks {missing}")
    if extra:
        raise ModelFileError(f"{where} has unexpected keys {extra}")


# -- the network kind -----------------------------------------------------------------
def _component_state(obj: Any, registry: Mapping[str, type], what: str) -> dict:
    """``{"name": ..., "params": {...}}`` of a built-in activation or loss."""
    name = obj.name
    if registry.get(name) is not type(obj):
        raise TypeError(
            f"cannot save the custom {what} {type(obj).__name__}: only built-in {what}s "
            f"({sorted(registry)}) can be saved"
        )
    params = dict(vars(obj))
    for key, value in params.items():
        if not isinstance(value, int | float | str | bool):
            raise TypeError(f"cannot save {what} parameter {key}={value!r}")
    return {"name": name, "params": params}


def _component_from_state(state: Any, registry: Mapping[str, type], what: str, where: str) -> Any:
    check_keys(state, ("name", "params"), where)
    name = get_field(state, "name", str, where)
    if name not in registry:
        raise ModelFileError(f"{where}.name: unknown {what} {name!r}")
    params = get_field(state, "params", dict, where)
    cls = registry[name]
    accepted = set(inspect.signature(cls).parameters)
    for key, value in params.items():
        if key not in accepted:
            raise ModelFileError(f"{where}.params: {what} {name!r} has no parameter {key!r}")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ModelFileError(f"{where}.params.{key} must be a finite number, got {value!r}")
    return cls(**params)


def _network_to_state(net: Network) -> tuple[dict, dict[str, np.ndarray]]:
    arrays: dict[str, np.ndarray] = {}
    layers = []
    for i, layer in enumerate(net.layers):
        layers.append(
            {
                "n_in": layer.n_in,
                "n_out": layer.n_out,
                "activation": _component_state(layer.activation, ACTIVATIONS, "activation"),
                "init": layer.init,
                "dropout": float(layer.dropout),
            }
        )
        arrays[f"layers.{i}.weights"] = to_numpy(layer.weights)
        arrays[f"layers.{i}.bias"] = to_numpy(layer.bias)
    random_state = net.random_state
    if isinstance(random_state, np.integer):
        random_state = int(random_state)
    config = {
        "layers": layers,
        "loss": _component_state(net.loss, LOSSES, "loss"),
        "alpha": float(net.alpha),
        "random_state": random_state if isinstance(random_state, int) else None,
    }
    return config, arrays


def _network_from_state(config: dict, arrays: ArrayStore) -> Network:
    where = "config"
    check_keys(config, ("layers", "loss", "alpha", "random_state"), where)
    layer_states = get_field(config, "layers", list, where)
    if not layer_states:
        raise ModelFileError("config.layers is empty")
    layers = []
    for i, state in enumerate(layer_states):
        at = f"config.layers[{i}]"
        check_keys(state, ("n_in", "n_out", "activation", "init", "dropout"), at)
        n_in = get_field(state, "n_in", int, at)
        n_out = get_field(state, "n_out", int, at)
        if n_in < 1 or n_out < 1:
            raise ModelFileError(f"{at}: n_in and n_out must be >= 1, got {n_in}, {n_out}")
        activation = _component_from_state(
            state["activation"], ACTIVATIONS, "activation", f"{at}.activation"
        )
        layer = Dense(
            n_in,
            n_out,
            activation,
            init=get_field(state, "init", str, at),
            dropout=get_number(state, "dropout", at),
        )
        layer.weights = arrays.take(f"layers.{i}.weights", (n_in, n_out))
        layer.bias = arrays.take(f"layers.{i}.bias", (n_out,))
        layers.append(layer)
    loss = _component_from_state(config["loss"], LOSSES, "loss", "config.loss")
    alpha = get_number(config, "alpha", where)
    random_state = config["random_state"]
    if random_state is not None and (
        isinstance(random_state, bool) or not isinstance(random_state, int) or random_state < 0
    ):
        raise ModelFileError(
            f"config.random_state must be null or an int >= 0, got {random_state!r}"
        )
    return Network(layers, loss=loss, alpha=alpha, random_state=random_state)


register_kind("network", Network, _network_to_state, _network_from_state)


# -- writing --------------------------------------------------------------------------
def _checked_arrays(arrays: Mapping[str, Any]) -> dict[str, np.ndarray]:
    out = {}
    for name, value in arrays.items():
        if (
            not isinstance(name, str)
            or len(name) > _MAX_NAME_LENGTH
            or not _NAME_RE.fullmatch(name)
        ):
            raise ValueError(f"array name must look like 'layers.0.weights', got {name!r}")
        value = to_numpy(value)
        if value.dtype.name not in ALLOWED_DTYPES:
            raise TypeError(
                f"array {name!r} has dtype {value.dtype}; model files hold "
                f"{sorted(ALLOWED_DTYPES)} only"
            )
        if not np.all(np.isfinite(value)):
            raise ValueError(f"array {name!r} contains NaN or infinity; it cannot be saved")
        out[name] = np.ascontiguousarray(value, dtype=ALLOWED_DTYPES[value.dtype.name])
    return out


def _write_archive(file: Any, header: dict, arrays: dict[str, np.ndarray]) -> None:
    text = json.dumps(header, allow_nan=False, ensure_ascii=False)
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(zipfile.ZipInfo(_HEADER_NAME, _DATE_TIME), text.encode("utf-8"))
        for name, value in arrays.items():
            _write_array(archive, name, value)


def _write_array(archive: zipfile.ZipFile, name: str, value: np.ndarray) -> None:
    info = zipfile.ZipInfo(f"{_ARRAY_PREFIX}{name}{_ARRAY_SUFFIX}", _DATE_TIME)
    with archive.open(info, "w", force_zip64=value.nbytes > 2**30) as member:
        np.lib.format.write_array(member, value, allow_pickle=False)


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` (a :class:`~deltaprop.Network` or another registered kind) to ``path``.

    The file is written atomically: to a temporary file in the same folder, flushed and
    fsynced, then renamed over ``path``. On any error the temporary file is removed and
    an existing file at ``path`` is unchanged. Arrays of any Array API library are
    copied to NumPy; their dtypes are kept.

    Parameters
    ----------
    obj : Network or another registered kind
    path : str or path-like
        Destination file (conventionally ending in ``.deltaprop``); its folder must exist.

    Raises
    ------
    TypeError
        For an object that cannot be saved (an unregistered class, a custom activation).
    ValueError
        For a destination that is a folder, in a missing folder or named like a
        temporary file (``.<name>.<12 hex digits>.tmp``), or parameters with NaN or
        infinity.

    Examples
    --------
    >>> import os, tempfile
    >>> import deltaprop as dp
    >>> net = dp.Network([dp.Dense(2, 1)], random_state=0)
    >>> dp.save(net, os.path.join(tempfile.mkdtemp(), "model.deltaprop"))
    """

    node, arrays = _to_node(obj)
    arrays = _checked_arrays(arrays)
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        **node,
        "arrays": {
            name: {"dtype": value.dtype.name, "shape": list(value.shape)}
            for name, value in arrays.items()
        },
    }
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"cannot save to {str(path)!r}: folder {str(folder)!r} does not exist")
    if path.is_dir():
        raise ValueError(f"cannot save to {str(path)!r}: it is a folder")
    if _TEMPORARY_RE.fullmatch(path.name):
        raise ValueError(
            f"cannot save to {str(path)!r}: names like .<name>.<12 hex digits>.tmp are "
            "reserved for the temporary files of saves"
        )

    write_atomically(path, lambda file: _write_archive(file, header, arrays))


def write_atomically(path: str | os.PathLike, write: Callable[[Any], None]) -> None:
    """Write a file so that ``path`` only ever holds the old or the complete new content.

    ``write(file)`` fills a temporary file (``.<name>.<12 hex digits>.tmp``, beside
    ``path``, a name :func:`load` refuses), which is flushed, fsynced and renamed over
    ``path``; the folder is fsynced too. On any exception, Ctrl-C included, the temporary
    file is removed and whatever was at ``path`` stays untouched; an ``OSError`` (a
    full disk, a quota) is raised again naming ``path``, with its ``errno``.
    """
    path = Path(path)
    tmp = _create_temporary(path.parent, path.name)
    try:
        with open(tmp, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno is not None:
            # a full disk says "No space left on device" without a file name (or names
            # the temporary file): name the destination the caller asked for
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    _fsync_folder(path.parent)


def _create_temporary(folder: Path, name: str) -> Path:
    """A new, empty file in ``folder`` (created with the usual permissions, unlike mkstemp)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = folder / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(tmp, flags, 0o666))
        except FileExistsError:
            continue
        return tmp


def temporary_files(path: str | os.PathLike) -> list[Path]:
    """Temporary files that saves to ``path`` left behind, sorted by name.

    :func:`save` writes ``.<name>.<12 hex digits>.tmp`` next to ``path`` and renames it
    over ``path`` at the end; a process killed in between (SIGKILL, power loss) leaves
    it there. They are never loaded (:func:`load` refuses these names) and can be
    deleted, unless another process is saving to ``path`` at this moment.

    Parameters
    ----------
    path : str or path-like
        The destination of the saves.

    Returns
    -------
    list of pathlib.Path

    Examples
    --------
    >>> import os, tempfile
    >>> import deltaprop as dp
    >>> from deltaprop.files import temporary_files
    >>> path = os.path.join(tempfile.mkdtemp(), "net.deltaprop")
    >>> dp.save(dp.Network([dp.Dense(2, 1)], random_state=0), path)
    >>> temporary_files(path)
    []
    """
    path = Path(path)
    prefix = f".{path.name}."
    if not path.parent.is_dir():
        return []
    return sorted(
        entry
        for entry in path.parent.iterdir()
        if entry.name.startswith(prefix)
        and _TEMPORARY_RE.fullmatch(entry.name)
        and len(entry.name) == len(prefix) + 16
    )


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; not possible (nor needed) on Windows.
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- reading --------------------------------------------------------------------------
def _reject_constant(token: str) -> None:
    raise ValueError(f"{token} is not allowed in a model header")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _sniff(path: Path, size: int) -> None:
    """Reject files that are clearly something else, before any parsing."""
    with open(path, "rb") as file:
        start = file.read(4)
    if start == _ZIP_MAGIC:
        return
    if start[:1] == b"\x80" and start[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        what = "it looks like a Python pickle, which deltaprop never loads"
    elif start.startswith(b"\x93NUM"):
        what = "it is a NumPy .npy file"
    elif size < 22:
        what = f"it is only {size} bytes long"
    else:
        what = "it does not start with a ZIP signature"
    raise ModelFileError(f"{str(path)!r} is not a deltaprop model file: {what}")


def _check_directory(archive: zipfile.ZipFile, file: Any, file_size: int, where: str) -> dict:
    """Member name -> ZipInfo, after checking names, flags, sizes and layout of the directory.

    Members must not overlap (``check_zip_layout``): with every member stored and read
    once, loading then reads each byte of the file at most once.
    """
    infos = archive.infolist()
    if len(infos) > _MAX_MEMBERS:
        raise ModelFileError(f"{where}: {len(infos)} members is more than a model file can hold")
    members = {}
    for info in infos:
        name = info.filename
        if (
            name.startswith(("/", "\\"))
            or "\\" in name
            or ".." in name.split("/")
            or re.match(r"[A-Za-z]:", name)
            or "\x00" in name
        ):
            raise ModelFileError(f"{where}: member name {name!r} is a path; it is not allowed")
        if name in members:
            raise ModelFileError(f"{where}: member {name!r} appears twice")
        if info.flag_bits & 0x1:
            raise ModelFileError(f"{where}: member {name!r} is encrypted")
        if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
            raise ModelFileError(
                f"{where}: member {name!r} is compressed; model files store members uncompressed"
            )
        if info.header_offset < 0:  # the directory sits elsewhere than its record says
            raise ModelFileError(
                f"{where}: member {name!r} starts {-info.header_offset} bytes before the "
                "start of the file (damaged?)"
            )
        if info.header_offset + info.file_size > file_size:
            raise ModelFileError(
                f"{where}: member {name!r} claims {info.file_size} bytes beyond the end of the "
                "file (truncated?)"
            )
        members[name] = info
    try:
        check_zip_layout(archive, file, where)
    except ArchiveError as exc:
        raise ModelFileError(str(exc)) from None
    return members


def _read_header(archive: zipfile.ZipFile, members: dict, where: str) -> dict:
    info = members.get(_HEADER_NAME)
    if info is None:
        raise ModelFileError(f"{where} is not a deltaprop model file: it has no {_HEADER_NAME}")
    if info.file_size > MAX_HEADER_BYTES:
        raise ModelFileError(
            f"{where}: {_HEADER_NAME} is {info.file_size:,} bytes, over the limit of "
            f"{MAX_HEADER_BYTES:,} bytes (MAX_HEADER_BYTES)"
        )
    raw = archive.read(info)
    _check_header_items(raw, where)
    try:
        text = raw.decode("utf-8")
        del raw
        header = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"{where}: {_HEADER_NAME} is not valid JSON: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ModelFileError(
            f"{where} is not a deltaprop model file: {_HEADER_NAME} lacks format 'deltaprop'"
        )
    version = header.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{where}: format_version must be an int >= 1, got {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{where} was written by format version {version}; this deltaprop reads up to "
            f"{FORMAT_VERSION}: upgrade deltaprop (written by deltaprop "
            f"{header.get('library_version')!r})"
        )
    check_keys(header, _TOP_KEYS, f"{where}: {_HEADER_NAME}")
    if not isinstance(header["library_version"], str):
        raise ModelFileError(f"{where}: library_version must be a string")
    kind = header["kind"]
    if not isinstance(kind, str) or (kind not in _KINDS and kind not in _LAZY_KINDS):
        raise ModelFileError(
            f"{where}: unknown kind {header['kind']!r:.80}; this deltaprop knows "
            f"{_kind_names()} (the file was written by deltaprop "
            f"{header['library_version']!r:.40}: upgrade deltaprop if that is newer)"
        )
    if not isinstance(header["config"], dict):
        raise ModelFileError(f"{where}: config must be a JSON object")
    table = header["arrays"]
    if not isinstance(table, dict):
        raise ModelFileError(f"{where}: arrays must be a JSON object")
    for name, spec in table.items():
        _check_array_spec(name, spec, where)
    return header


def _check_header_items(raw: bytes, where: str) -> None:
    """Refuse a header with more than :data:`MAX_HEADER_ITEMS` items, before parsing it.

    Every value or key after the first is preceded by one of ``,`` ``:`` ``[`` ``{``, so
    their count bounds the objects ``json.loads`` would build (characters inside strings
    are counted too: an over-estimate, never an under-estimate).
    """
    n_items = sum(raw.count(mark) for mark in (b",", b":", b"[", b"{"))
    if n_items > MAX_HEADER_ITEMS:
        raise ModelFileError(
            f"{where}: {_HEADER_NAME} holds about {n_items:,} JSON items, over the limit of "
            f"{MAX_HEADER_ITEMS:,} (MAX_HEADER_ITEMS); it is refused before parsing"
        )


def _check_array_spec(name: str, spec: Any, where: str) -> None:
    if len(name) > _MAX_NAME_LENGTH or not _NAME_RE.fullmatch(name):
        raise ModelFileError(f"{where}: array name {name!r:.80} is not allowed")
    check_keys(spec, ("dtype", "shape"), f"{where}: arrays[{name!r}]")
    if not isinstance(spec["dtype"], str) or spec["dtype"] not in ALLOWED_DTYPES:
        raise ModelFileError(
            f"{where}: array {name!r} has dtype {spec['dtype']!r:.40}; only "
            f"{sorted(ALLOWED_DTYPES)} are allowed"
        )
    shape = spec["shape"]
    if (
        not isinstance(shape, list)
        or len(shape) > _MAX_NDIM
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
    ):
        raise ModelFileError(
            f"{where}: array {name!r} has shape {shape!r:.80}; expected a list of ints >= 0"
        )
    if math.prod(max(n, 1) for n in shape) > MAX_SHAPE_PRODUCT:
        raise ModelFileError(
            f"{where}: array {name!r} declares shape {tuple(shape)!r:.80}, whose dimensions "
            f"multiply (a zero counting as one) to more than {MAX_SHAPE_PRODUCT} "
            "(MAX_SHAPE_PRODUCT)"
        )


def _read_npy_header(member: Any, name: str, where: str) -> tuple[tuple, bool, np.dtype]:
    """The shape, Fortran order and dtype in the ``.npy`` header of ``member``."""
    try:
        return read_npy_header(member)
    except (ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"{where}: array {name!r} is not a valid .npy member: {exc}") from None


def _read_data(member: Any, flat: np.ndarray, name: str, where: str) -> None:
    """Fill the bytes ``flat`` from ``member``, which must hold exactly that many more."""
    n_bytes = flat.size
    try:
        # In chunks: reading the whole member at once would hold it twice in memory.
        for start in range(0, n_bytes, _READ_CHUNK):
            chunk = member.read(min(_READ_CHUNK, n_bytes - start))
            if not chunk:
                raise ModelFileError(f"{where}: array {name!r} is truncated")
            flat[start : start + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
            if len(chunk) < min(_READ_CHUNK, n_bytes - start):
                raise ModelFileError(f"{where}: array {name!r} is truncated")
        if member.read(1):
            raise ModelFileError(f"{where}: array {name!r} has bytes after its data")
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ModelFileError(f"{where}: array {name!r} is damaged: {exc}") from None


def _read_array(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, spec: dict, where: str
) -> np.ndarray:
    """Read one ``.npy`` member, checking its header against ``spec`` before allocating."""
    descr = ALLOWED_DTYPES[spec["dtype"]]
    shape = tuple(spec["shape"])
    n_bytes = math.prod(shape) * np.dtype(descr).itemsize
    if n_bytes > info.file_size:
        raise ModelFileError(
            f"{where}: array {name!r} declares shape {shape} ({n_bytes} bytes) but its "
            f"member holds only {info.file_size} bytes"
        )
    with archive.open(info) as member:
        npy_shape, fortran, dtype = _read_npy_header(member, name, where)
        if dtype.hasobject or dtype.str != descr:
            raise ModelFileError(
                f"{where}: array {name!r} holds dtype {dtype.str!r}, the header says {descr!r}"
            )
        if tuple(npy_shape) != shape:
            raise ModelFileError(
                f"{where}: array {name!r} has shape {tuple(npy_shape)}, the header declares {shape}"
            )
        if member.tell() + n_bytes != info.file_size:
            raise ModelFileError(
                f"{where}: array {name!r} should hold {n_bytes} bytes of data, its member has "
                f"{info.file_size - member.tell()}"
            )
        value = np.empty(shape, dtype=np.dtype(descr).newbyteorder("="))
        _read_data(member, value.reshape(-1).view(np.uint8), name, where)
    if np.dtype(descr) != value.dtype:  # big-endian host: bytes were little-endian
        value = value.view(np.dtype(descr)).astype(value.dtype)
    if fortran:
        value = np.asfortranarray(value.reshape(shape[::-1]).T)
    if not np.all(np.isfinite(value)):
        raise ModelFileError(f"{where}: array {name!r} contains NaN or infinity")
    return value


@dataclass(frozen=True)
class FileHeader:
    """What the header of a model file says, checked as :func:`load` checks it.

    Attributes
    ----------
    kind : str
        The kind of object, e.g. ``"network"`` or ``"tabular_model"``.
    config : dict
        Its configuration (plain JSON), as the kind's ``to_state`` wrote it.
    arrays : dict
        Array name -> ``(dtype name, shape)``, e.g. ``{"layers.0.weights": ("float64",
        (2, 3))}``.
    format_version : int
    library_version : str
        The deltaprop that wrote the file.
    """

    kind: str
    config: dict
    arrays: dict[str, tuple[str, tuple[int, ...]]]
    format_version: int
    library_version: str


def _checked_path(path: str | os.PathLike) -> tuple[Path, str, int]:
    """``(path, its repr for messages, its size)`` of a file that may be a model file."""
    path = Path(path)
    where = repr(str(path))
    if _TEMPORARY_RE.fullmatch(path.name):
        raise ModelFileError(
            f"{where} is a temporary file of an unfinished save (named .<name>.<hex>.tmp); "
            "it may be incomplete and is never loaded: load the destination instead, and "
            "delete the temporary file if no save is running"
        )
    if not path.exists():
        raise ModelFileError(f"{where}: no such file")
    if path.is_dir():
        raise ModelFileError(f"{where} is not a file: it is a folder")
    if not path.is_file():
        raise ModelFileError(f"{where} is not a file")
    size = path.stat().st_size
    if size == 0:
        raise ModelFileError(f"{where} is empty")
    _sniff(path, size)
    return path, where, size


@contextlib.contextmanager
def _open_model_file(path: str | os.PathLike) -> Iterator[tuple[Any, dict, dict, str]]:
    """``(archive, members, header, where)`` of a file whose directory and header pass.

    A damaged ZIP met anywhere in the ``with`` block is a :class:`ModelFileError`.
    """
    path, where, size = _checked_path(path)
    try:
        with open(path, "rb") as file, zipfile.ZipFile(file) as archive:
            members = _check_directory(archive, file, size, where)
            header = _read_header(archive, members, where)
            expected = {_HEADER_NAME} | {_member_name(name) for name in header["arrays"]}
            unexpected = sorted(set(members) - expected)
            if unexpected:
                raise ModelFileError(f"{where}: unexpected member(s) {unexpected[:5]}")
            missing = sorted(expected - set(members))
            if missing:
                raise ModelFileError(f"{where}: missing member(s) {missing[:5]} (truncated?)")
            yield archive, members, header, where
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, NotImplementedError) as exc:
        raise ModelFileError(
            f"{where} is not a valid deltaprop model file (truncated or damaged?): {exc}"
        ) from None


def _member_name(array_name: str) -> str:
    return f"{_ARRAY_PREFIX}{array_name}{_ARRAY_SUFFIX}"


def read_header(path: str | os.PathLike) -> FileHeader:
    """The checked header of a model file, without building its object.

    The file passes the checks of :func:`load` up to the arrays: its ZIP directory, the
    strict JSON header, a known kind (the module of a kind is not imported, so no
    optional dependency is needed), the table of arrays and the members it names.
    The config is returned as written: only :func:`load` checks it against its kind.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    FileHeader

    Raises
    ------
    ModelFileError
        As :func:`load`, for everything but the arrays' contents and the config.

    Examples
    --------
    >>> import os, tempfile
    >>> import deltaprop as dp
    >>> from deltaprop.files import read_header
    >>> path = os.path.join(tempfile.mkdtemp(), "net.deltaprop")
    >>> dp.save(dp.Network([dp.Dense(3, 2, "relu"), dp.Dense(2, 1)], random_state=1), path)
    >>> header = read_header(path)
    >>> header.kind, header.arrays["layers.0.weights"]
    ('network', ('float64', (3, 2)))
    """
    with _open_model_file(path) as (_, _, header, _):
        arrays = {
            name: (spec["dtype"], tuple(spec["shape"])) for name, spec in header["arrays"].items()
        }
        return FileHeader(
            kind=header["kind"],
            config=header["config"],
            arrays=arrays,
            format_version=header["format_version"],
            library_version=header["library_version"],
        )


def read_arrays(
    path: str | os.PathLike, names: Iterable[str] | None = None
) -> dict[str, np.ndarray]:
    """Arrays of a model file, read with the checks of :func:`load`, without its object.

    Parameters
    ----------
    path : str or path-like
    names : iterable of str, optional
        The arrays to read (names as in :attr:`FileHeader.arrays`); default all.

    Returns
    -------
    dict of str to numpy.ndarray
        Floating-point arrays of the shapes the header declares.

    Raises
    ------
    ModelFileError
        As :func:`load` (the header and the arrays read; not the config).
    KeyError
        When a name is not an array of the file.

    Examples
    --------
    >>> import os, tempfile
    >>> import deltaprop as dp
    >>> from deltaprop.files import read_arrays
    >>> path = os.path.join(tempfile.mkdtemp(), "net.deltaprop")
    >>> dp.save(dp.Network([dp.Dense(3, 2, "relu"), dp.Dense(2, 1)], random_state=1), path)
    >>> read_arrays(path, ["layers.1.bias"])["layers.1.bias"].shape
    (1,)
    """
    with _open_model_file(path) as (archive, members, header, where):
        return _read_arrays(archive, members, header["arrays"], names, where)


def _read_arrays(
    archive: Any, members: dict, table: dict, names: Iterable[str] | None, where: str
) -> dict[str, np.ndarray]:
    names = list(table) if names is None else list(names)
    for name in names:
        if name not in table:
            raise KeyError(f"{where} has no array {name!r}; it has {sorted(table)[:20]}")
    return {
        name: _read_array(archive, members[_member_name(name)], name, table[name], where)
        for name in names
    }


def load(path: str | os.PathLike) -> Any:
    """Read an object written by :func:`save`.

    Nothing in the file is executed: the header is parsed as strict JSON and arrays are
    read as raw floating-point numbers after their sizes have been checked.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    object
        A :class:`~deltaprop.Network` (or another registered kind) with NumPy arrays.

    Raises
    ------
    ModelFileError
        A :class:`ValueError` naming the file and the problem: missing or empty file, not
        a deltaprop file, a temporary file of a save (``.<name>.<hex>.tmp``),
        truncated or damaged, newer format version, unknown kind,
        unexpected members, declared shapes that do not match the arrays, non-float
        dtypes, NaN or infinity.

    Examples
    --------
    >>> import os, tempfile
    >>> import deltaprop as dp
    >>> path = os.path.join(tempfile.mkdtemp(), "model.deltaprop")
    >>> dp.save(dp.Network([dp.Dense(3, 2, "relu"), dp.Dense(2, 1)], random_state=1), path)
    >>> dp.load(path)
    Network([Dense(3, 2, activation='relu'), Dense(2, 1, activation='sigmoid')], loss='binary_cross_entropy', alpha=0.0)
    """  # noqa: E501
    with _open_model_file(path) as (archive, members, header, where):
        arrays = _read_arrays(archive, members, header["arrays"], None, where)
    store = ArrayStore(arrays)
    try:
        obj = _from_node(
            {"kind": header["kind"], "config": header["config"]}, store, where="config"
        )
    except ModelFileError as exc:
        raise ModelFileError(f"{where}: {exc}") from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise ModelFileError(f"{where}: invalid {header['kind']}: {exc}") from None
    unused = store.unused()
    if unused:
        raise ModelFileError(f"{where}: unexpected array(s) {unused[:5]}")
    return obj
