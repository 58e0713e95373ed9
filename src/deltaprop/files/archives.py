"""Bounds on what a file from outside may make deltaprop allocate: ZIP layouts, expansion.

Every file deltaprop reads can come from someone else, so the sizes it declares (a ZIP
member's length, the text a ``.gz`` file inflates to) are checked against the bytes
really present *before* memory is allocated:

- :func:`check_zip_layout`: the members of a ZIP archive (a model file, an ``.npz`` or
  ``.xlsx`` table) must lie side by side, each inside the file and before the central
  directory. Overlapping members are how a 1.4 MB archive once expanded into 1.8 GB
  (every member re-reading the same bytes); Python's :mod:`zipfile` only refuses them
  from 3.12.2 / 3.11.8, and deltaprop supports older versions.
- :func:`expansion_limit` / :func:`check_expansion`: a compressed file (a ``.csv.gz``, an
  ``.npz`` written by ``numpy.savez_compressed``, an ``.xlsx`` workbook) may inflate to
  at most :data:`MAX_EXPANSION_RATIO` times its size plus :data:`EXPANSION_ALLOWANCE`.
- :func:`read_bounded`: read a decompressing stream, stopping as soon as it passes a
  limit (a gzip or bzip2 bomb never inflates past the limit).

The limits are listed, with what enforces each, in ``SECURITY.md``.

Examples
--------
>>> expansion_limit(1_000_000) == 100 * 1_000_000 + 64 * 2**20
True
"""

from __future__ import annotations

import struct
import tokenize
import zipfile
from typing import IO, Any

import numpy as np

__all__ = [
    "EXPANSION_ALLOWANCE",
    "MAX_EXPANSION_RATIO",
    "ArchiveError",
    "check_expansion",
    "check_zip_layout",
    "expansion_limit",
    "read_bounded",
    "read_npy_header",
]

#: A compressed input may inflate to at most this many times its size on disk ...
MAX_EXPANSION_RATIO = 100
#: ... plus this many bytes (so that small, very regular files still read).
EXPANSION_ALLOWANCE = 64 * 2**20

_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, (versions, flags, ...), name, extra
_LOCAL_MAGIC = b"PK\x03\x04"
_CHUNK = 2**20
_MAX_NPY_HEADER_BYTES = 10_000


class ArchiveError(ValueError):
    """A file whose declared sizes do not fit the bytes present (a :class:`ValueError`)."""


def expansion_limit(file_size: int) -> int:
    """The most bytes a compressed file of ``file_size`` bytes may inflate to.

    Parameters
    ----------
    file_size : int
        The size of the file on disk, in bytes.

    Returns
    -------
    int
        ``MAX_EXPANSION_RATIO * file_size + EXPANSION_ALLOWANCE``.
    """
    return MAX_EXPANSION_RATIO * max(int(file_size), 0) + EXPANSION_ALLOWANCE


def check_expansion(n_bytes: int, file_size: int, where: str, what: str) -> None:
    """Refuse ``n_bytes`` of inflated content from a file of ``file_size`` bytes.

    Parameters
    ----------
    n_bytes : int
        What the content declares or has inflated to so far.
    file_size : int
        The size of the file on disk.
    where : str
        The file, as it appears in messages (``repr`` of its path).
    what : str
        What inflates, e.g. ``"its members"``.

    Raises
    ------
    ArchiveError
        When ``n_bytes > expansion_limit(file_size)``.
    """
    limit = expansion_limit(file_size)
    if n_bytes > limit:
        raise ArchiveError(
            f"{where}: {what} would expand to more than {limit:,} bytes, over the limit of "
            f"{MAX_EXPANSION_RATIO} times the file's {file_size:,} bytes plus "
            f"{EXPANSION_ALLOWANCE // 2**20} MiB (a compression bomb?); deltaprop refuses it "
            "before inflating it"
        )


def read_bounded(stream: IO[bytes], limit: int, where: str, what: str = "the content") -> bytes:
    """All bytes of ``stream``, refusing as soon as there are more than ``limit``.

    Parameters
    ----------
    stream : binary file
        Typically a decompressing reader (``gzip.open(path, "rb")``).
    limit : int
        The most bytes accepted.
    where, what : str
        The file and the thing read, for the message.

    Returns
    -------
    bytes

    Raises
    ------
    ArchiveError
        When ``stream`` holds more than ``limit`` bytes; at most ``limit`` + 1 byte
        were inflated by then (held in chunks, without over-allocation).

    Examples
    --------
    >>> import io
    >>> read_bounded(io.BytesIO(b"abc"), 10, "'x.csv.gz'")
    b'abc'
    """
    chunks = []
    total = 0
    while True:
        chunk = stream.read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            raise ArchiveError(
                f"{where}: {what} is more than {limit:,} bytes once decompressed, over the "
                f"limit of {MAX_EXPANSION_RATIO} times the file's size plus "
                f"{EXPANSION_ALLOWANCE // 2**20} MiB (a compression bomb?)"
            )
        chunks.append(chunk)


def check_zip_layout(archive: zipfile.ZipFile, file: IO[bytes], where: str) -> None:
    """Refuse a ZIP archive whose members overlap or reach past the central directory.

    Each member's local header (read from ``file``, 30 bytes plus its name and extra
    field) and its ``compress_size`` bytes of data must end before the next member's
    local header starts, and the last before the central directory. Together with the
    directory's own checks this bounds the bytes the members can be read from by the
    file's size: no byte is shared by two members.

    Parameters
    ----------
    archive : zipfile.ZipFile
        The archive, opened on ``file``.
    file : binary file
        The archive's file, seekable.
    where : str
        The file, as it appears in messages.

    Raises
    ------
    ArchiveError
        Naming the file and the first two members that overlap, or a member whose local
        header is missing.
    """
    infos = sorted(archive.infolist(), key=lambda info: info.header_offset)
    end_of_members = getattr(archive, "start_dir", None)
    position = file.tell()
    try:
        spans = [(_member_end(file, info, where), info) for info in infos]
    finally:
        file.seek(position)
    for i, (end, info) in enumerate(spans):
        if info.header_offset < 0:
            raise ArchiveError(f"{where}: member {info.filename!r} starts before the file")
        following = spans[i + 1][1] if i + 1 < len(spans) else None
        if following is not None and end > following.header_offset:
            raise ArchiveError(
                f"{where}: members {info.filename!r} and {following.filename!r} overlap "
                "(a ZIP bomb reads the same bytes many times); deltaprop refuses it before "
                "reading any member"
            )
        if following is None and end_of_members is not None and end > end_of_members:
            raise ArchiveError(
                f"{where}: member {info.filename!r} runs into the ZIP directory (damaged or "
                "crafted file)"
            )


def _member_end(file: IO[bytes], info: zipfile.ZipInfo, where: str) -> int:
    """Offset just past the member's data (its local header read from ``file``)."""
    file.seek(info.header_offset)
    raw = file.read(_LOCAL_HEADER.size)
    if len(raw) < _LOCAL_HEADER.size:
        raise ArchiveError(f"{where}: member {info.filename!r} lies past the end of the file")
    magic, name_length, extra_length = _LOCAL_HEADER.unpack(raw)
    if magic != _LOCAL_MAGIC:
        raise ArchiveError(f"{where}: member {info.filename!r} has no local header (damaged?)")
    return info.header_offset + _LOCAL_HEADER.size + name_length + extra_length + info.compress_size


def read_npy_header(stream: Any) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` from the ``.npy`` header at the start of ``stream``.

    Only the header is read (at most 10,000 bytes of it, version 1.0, 2.0 or 3.0), so the
    declared shape can be checked against the bytes present before anything is
    allocated.

    Raises
    ------
    ValueError
        For a missing or malformed header (also ``SyntaxError`` and ``EOFError`` from
        NumPy's parser, re-raised as ``ValueError``).

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> buffer = io.BytesIO()
    >>> np.save(buffer, np.zeros((2, 3)))
    >>> _ = buffer.seek(0)
    >>> read_npy_header(buffer)
    ((2, 3), False, dtype('float64'))
    """
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            read_header = np.lib.format.read_array_header_1_0
        elif version in ((2, 0), (3, 0)):
            read_header = np.lib.format.read_array_header_2_0
        else:
            raise ValueError(f"unsupported .npy version {version}")
        return read_header(stream, max_header_size=_MAX_NPY_HEADER_BYTES)
    except (SyntaxError, EOFError, tokenize.TokenError) as exc:
        # TokenError: NumPy tokenizes the header, an unmatched bracket stops the tokenizer
        raise ValueError(str(exc)) from None
