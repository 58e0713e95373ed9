"""Memory bounds: every size a file declares is checked before memory is allocated.

One test per source of sizes from outside (SECURITY.md, "Memory bounds"): model-file
headers, ZIP layouts (model files, ``.npz`` and ``.xlsx`` tables), declared shapes (model
files, ``.npy`` members of tables), class labels (tables, estimator files), compressed
text, CSV fields, Parquet metadata. Each crafted file would make the code before these
bounds allocate far more than the limit; each test measures the peak with
:mod:`tracemalloc` (NumPy and Python report their allocations to it) and asserts it stays
under the bound.
"""

from __future__ import annotations

import gzip
import io
import json
import struct
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.files import ModelFileError, container

MiB = 2**20


class Peak:
    """``with Peak() as p: ...`` then ``p.bytes``: the most memory traced inside the block."""

    def __enter__(self):
        tracemalloc.start()
        return self

    def __exit__(self, *exc):
        self.bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return False


# -- crafting ZIP archives by hand ------------------------------------------------------
def _npy_header(shape, descr="<f8") -> bytes:
    """A version 1.0 ``.npy`` header (128 bytes for short shapes)."""
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple(shape)!r}, }}"
    text += " " * ((64 - (10 + len(text) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin-1")


def _local(name: bytes, crc: int, size: int) -> bytes:
    return (
        struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 33, crc, size, size, len(name), 0)
        + name
    )


def _central(name: bytes, crc: int, size: int, offset: int) -> bytes:
    return struct.pack(
        "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 33, crc, size, size, len(name),
        0, 0, 0, 0, 0, offset,
    ) + name  # fmt: skip


def _zip(entries: list[tuple[bytes, int, int, int]], body: bytes) -> bytes:
    """``body`` (the local headers and data) followed by a central directory of ``entries``."""
    directory = b"".join(_central(*entry) for entry in entries)
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory), len(body), 0
    )
    return body + directory + end


def overlapping_zip(n_members: int, payload: int, prefix: str, first=()) -> bytes:
    """A stored ZIP whose ``n_members`` ``.npy`` members overlap: each one's data runs to the
    end of a shared ``payload`` of zero bytes, through the headers of the members after it.

    Read member by member, it yields about ``n_members * payload`` bytes of float64 zeros
    (the bytes of the headers in between read as finite numbers). ``first`` holds
    ``(name, data)`` members written before, side by side.
    """
    block = 30 + 18 + 128  # local header with an 18-byte name, then a 128-byte .npy header
    body = b""
    entries = []
    for name, data in first:
        entries.append((name, zlib.crc32(data), len(data), len(body)))
        body += _local(name, entries[-1][1], len(data)) + data
    start = len(body)
    names = [f"{prefix}{k:06d}.npy".encode() for k in range(n_members)]
    assert all(len(name) == 18 for name in names)
    # The sizes are known before the bytes; the CRCs are patched in afterwards.
    sizes = [128 + (n_members - 1 - k) * block + payload for k in range(n_members)]
    chain = bytearray()
    for k, name in enumerate(names):
        count = (sizes[k] - 128) // 8
        chain += _local(name, 0, sizes[k]) + _npy_header((count,))
    chain += bytes(payload)
    crcs = [0] * n_members
    for k in reversed(range(n_members)):  # a member's data holds the local headers after it
        crcs[k] = zlib.crc32(chain[k * block + 30 + 18 :])
        struct.pack_into("<L", chain, k * block + 14, crcs[k])
    for k, name in enumerate(names):
        entries.append((name, crcs[k], sizes[k], start + k * block))
    return _zip(entries, body + bytes(chain))


def _members_finite(data: bytes) -> bool:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.infolist()[-1]
        raw = archive.read(info)
    return bool(np.all(np.isfinite(np.frombuffer(raw[128:], dtype="<f8"))))


# -- model files --------------------------------------------------------------------------
def _model_header(arrays: dict) -> bytes:
    header = {
        "format": "deltaprop",
        "format_version": 1,
        "library_version": "0",
        "kind": "network",
        "config": {},
        "arrays": arrays,
    }
    return json.dumps(header).encode()


def test_overlapping_members_are_refused_before_reading(tmp_path):
    """1 MiB of zeros shared by 64 members: 64 MiB once read; refused with next to nothing."""
    n_members, payload = 64, MiB
    block = 30 + 18 + 128
    arrays = {
        f"w{k:06d}": {"dtype": "float64", "shape": [((n_members - 1 - k) * block + payload) // 8]}
        for k in range(n_members)
    }
    # Member names "arrays/w000000.npy" are 18 bytes: prefix "arrays/w".
    data = overlapping_zip(
        n_members, payload, "arrays/w", [(b"header.json", _model_header(arrays))]
    )
    assert _members_finite(data)
    path = tmp_path / "bomb.deltaprop"
    path.write_bytes(data)
    with Peak() as peak, pytest.raises(ModelFileError, match=r"bomb\.deltaprop.*overlap"):
        dp.load(path)
    assert peak.bytes < 4 * MiB, peak.bytes


def test_members_side_by_side_still_load(tmp_path):
    net = dp.Network([dp.Dense(3, 2, "relu"), dp.Dense(2, 1)], random_state=0)
    dp.save(net, tmp_path / "net.deltaprop")
    again = dp.load(tmp_path / "net.deltaprop")
    assert np.array_equal(again.layers[0].weights, net.layers[0].weights)


def _header_file(tmp_path, header_text: bytes):
    path = tmp_path / "header.deltaprop"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("header.json", header_text)
    return path


def test_header_with_too_many_items_is_refused_before_parsing(tmp_path):
    """3.6 MB of ``{},`` parses into ~90 MB of dicts: refused before ``json.loads``."""
    n = container.MAX_HEADER_ITEMS + 1
    text = b'{"format": "deltaprop", "x": [' + b",".join([b"{}"] * n) + b"]}"
    path = _header_file(tmp_path, text)
    with (
        Peak() as peak,
        pytest.raises(ModelFileError, match=r"header\.deltaprop.*MAX_HEADER_ITEMS"),
    ):
        dp.load(path)
    assert peak.bytes < 2 * len(text) + MiB, peak.bytes


def test_header_at_the_limits_parses_within_its_memory_bound(tmp_path):
    """The costliest header that passes (objects keyed by distinct strings) stays under
    MAX_HEADER_MEMORY: measured on a quarter of MAX_HEADER_ITEMS (the cost grows linearly
    with the items; the whole limit takes seconds under tracemalloc)."""
    n_keys = container.MAX_HEADER_ITEMS // 12  # each key brings one ',', ':' and '{'
    body = b",".join(b'"%d":{}' % i for i in range(n_keys))
    text = b'{"format": "deltaprop", "format_version": 1, "x": {' + body + b"}}"
    assert len(text) < container.MAX_HEADER_BYTES
    path = _header_file(tmp_path, text)
    with Peak() as peak, pytest.raises(ModelFileError, match="lacks"):
        dp.load(path)
    assert 4 * peak.bytes < container.MAX_HEADER_MEMORY, peak.bytes


def test_header_over_the_byte_limit_is_refused(tmp_path):
    text = b'{"format": "deltaprop", "x": "' + b"a" * container.MAX_HEADER_BYTES + b'"}'
    with pytest.raises(ModelFileError, match="MAX_HEADER_BYTES"):
        dp.load(_header_file(tmp_path, text))


@pytest.mark.parametrize(
    "shape",
    [[0, 10**12], [0, 2**63], [0, 10**400], [0, 2**62, 2**62], [0] * 32, [0, -1]],
    ids=["0x10^12", "0x2^63", "0x10^400", "0x2^62x2^62", "32-zeros", "negative"],
)
def test_zero_size_huge_and_negative_shapes_are_model_file_errors(tmp_path, shape):
    """Zero-size shapes NumPy cannot represent were raw NumPy ValueErrors."""
    net = dp.Network([dp.Dense(2, 1)], random_state=0)
    good = tmp_path / "net.deltaprop"
    dp.save(net, good)
    with zipfile.ZipFile(good) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = json.loads(members["header.json"])
    header["arrays"]["layers.0.weights"]["shape"] = shape
    members["header.json"] = json.dumps(header).encode()
    if all(n >= 0 for n in shape):
        members["arrays/layers.0.weights.npy"] = _npy_header(shape)
    bad = tmp_path / "bad.deltaprop"
    with zipfile.ZipFile(bad, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with Peak() as peak, pytest.raises(ModelFileError, match=r"bad\.deltaprop.*shape"):
        dp.load(bad)
    assert peak.bytes < MiB


# -- class labels ---------------------------------------------------------------------------
def _edit_model(path, edit, out):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = json.loads(members["header.json"])
    edit(header)
    members["header.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out


@pytest.fixture
def classifier_file(tmp_path):
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    clf = dp.MLPClassifier((2,), solver="lbfgs", max_iter=3, random_state=0)
    with pytest.warns(Warning):
        clf.fit(X, ["a", "b", "b", "a"])
    path = tmp_path / "clf.deltaprop"
    dp.save(clf, path)
    return path


def test_estimator_file_with_wide_label_dtype_is_refused(classifier_file, tmp_path):
    """40 one-letter labels declared '<U999999' were a 160 MB array from a 2 KB header."""

    def wide(header):
        labels = [f"a{i:02d}" for i in range(40)]
        header["config"]["fitted"]["classes_"] = {"dtype": "<U999999", "values": labels}

    bad = _edit_model(classifier_file, wide, tmp_path / "wide.deltaprop")
    with Peak() as peak, pytest.raises(ModelFileError, match=r"wide\.deltaprop.*MAX_LABEL_ARRAY"):
        dp.load(bad)
    assert peak.bytes < 4 * MiB, peak.bytes


def test_estimator_with_wide_labels_is_saved_as_python_strings(tmp_path, monkeypatch):
    """A classifier whose labels exceed the fixed-width limit still saves and loads."""
    from deltaprop.estimators import state

    monkeypatch.setattr(state, "MAX_LABEL_ARRAY_BYTES", 4000)  # the real one: 16 MiB
    width = 4000 // (2 * 4) + 1
    y = np.array(["a" * width, "b", "b", "a" * width])
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    clf = dp.MLPClassifier((2,), solver="lbfgs", max_iter=3, random_state=0)
    with pytest.warns(Warning):
        clf.fit(X, y)
    dp.save(clf, tmp_path / "long.deltaprop")
    again = dp.load(tmp_path / "long.deltaprop")
    assert again.classes_.dtype == object
    assert again.classes_.tolist() == ["a" * width, "b"]
    assert again.predict(X).tolist() == clf.predict(X).tolist()


def test_long_class_labels_in_a_table_stay_python_strings(tmp_path):
    """A 50 KB file, one 40,000-character label among 2,000 short ones: a fixed-width label
    array would be 2,000 x 40,000 x 4 bytes = 320 MB."""
    pytest.importorskip("pandas")
    from deltaprop.tabular import read_table

    rows = ["x,label"] + [f"{i % 7},{'ab'[i % 2]}" for i in range(2_000)]
    rows.append(f"3,{'z' * 40_000}")
    path = tmp_path / "labels.csv"
    path.write_text("\n".join(rows) + "\n")
    assert path.stat().st_size < 60_000
    with Peak() as peak:
        frame = read_table(path)
        pre = dp.tabular.Preprocessor(target="label").fit(frame)
        codes = pre.transform_target(frame)
    assert pre.classes_.dtype == object and len(pre.classes_) == 3
    assert codes[-1] == 2
    assert peak.bytes < 20 * path.stat().st_size + 16 * MiB, peak.bytes


def test_dask_category_summaries_hold_python_strings():
    """A partition's categories were a fixed-width array: rows x the longest category."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("dask")
    from deltaprop.tabular import dask as tabular_dask

    n = 20_000
    colour = np.where(np.arange(n) % 2 == 0, "red", "blue").astype(object)
    colour[-1] = "g" * 20_000
    frame = pd.DataFrame({"colour": colour, "y": np.arange(n) % 3})
    centres = tabular_dask._Centres((), ("colour",), "y", "classification", 0.0)
    with Peak() as peak:
        summary = tabular_dask._moments(frame, centres)  # pass 2 on one partition
    assert summary["categories"]["colour"] == {"blue": n // 2 - 1, "g" * 20_000: 1, "red": n // 2}
    assert peak.bytes < 16 * MiB, peak.bytes  # the fixed-width array alone: 1.6 GB


# -- data files -----------------------------------------------------------------------------


def _read_table():
    pytest.importorskip("pandas")
    from deltaprop.tabular import read_table

    return read_table


def test_gzip_bomb_csv_is_refused_while_inflating(tmp_path):
    """200 KB of gzip inflating to 200 MB: refused at the expansion limit (84 MiB here)."""
    read_table = _read_table()
    path = tmp_path / "bomb.csv.gz"
    member = gzip.compress(b"1" * MiB, compresslevel=9)
    path.write_bytes(gzip.compress(b"x,y\n1,") + member * 200)  # gzip members concatenate
    from deltaprop.files.archives import expansion_limit

    limit = expansion_limit(path.stat().st_size)
    with Peak() as peak, pytest.raises(ValueError, match=r"bomb\.csv\.gz.*compression bomb"):
        read_table(path)
    assert peak.bytes < limit + 4 * MiB, (peak.bytes, limit)


def test_overlapping_npz_members_are_refused_before_reading(tmp_path):
    """64 columns sharing 1 MiB: 64 MiB once read (1.8 GB from 1.4 MB with more members)."""
    read_table = _read_table()
    path = tmp_path / "bomb.npz"
    path.write_bytes(overlapping_zip(64, MiB, "columns_"))
    with Peak() as peak, pytest.raises(ValueError, match=r"bomb\.npz.*overlap"):
        read_table(path)
    assert peak.bytes < 4 * MiB, peak.bytes


def _deflated_zip(path, members: dict[str, bytes], repeat=(b"", 0, b"")) -> None:
    """A ZIP of deflated ``members``; the last one goes on with ``chunk * count + suffix``
    for ``repeat = (chunk, count, suffix)``.

    The chunk is deflated once and its bytes repeated (full flushes make deflate blocks
    independent), so a bomb costs milliseconds to build instead of compressing it all.
    """
    chunk, count, suffix = repeat
    entries, body = [], b""
    names = list(members)
    for name in names:
        data = members[name]
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        stream = packer.compress(data) + packer.flush(zlib.Z_FULL_FLUSH)
        crc, size = zlib.crc32(data), len(data)
        if name == names[-1] and count:
            stream += (packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH)) * count
            for _ in range(count):
                crc = zlib.crc32(chunk, crc)
            stream += packer.compress(suffix) + packer.flush(zlib.Z_FULL_FLUSH)
            crc = zlib.crc32(suffix, crc)
            size += len(chunk) * count + len(suffix)
        stream += zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # an empty final block
        local = struct.pack(
            "<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 33, crc, len(stream), size, len(name), 0
        )
        central = struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 33, crc, len(stream), size,
            len(name), 0, 0, 0, 0, 0, len(body),
        )  # fmt: skip
        entries.append(central + name.encode())
        body += local + name.encode() + stream
    directory = b"".join(entries)
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory), len(body), 0
    )
    path.write_bytes(body + directory + end)


def test_compressed_npz_bomb_is_refused_before_inflating(tmp_path):
    """A 100 KB .npz column of 100 MB of zeros (savez_compressed)."""
    read_table = _read_table()
    path = tmp_path / "zeros.npz"
    n = 100 * MiB // 8
    _deflated_zip(path, {"x.npy": _npy_header((n,))}, (bytes(MiB), 100, b""))
    assert path.stat().st_size < 200_000
    with Peak() as peak, pytest.raises(ValueError, match=r"zeros\.npz.*compression bomb"):
        read_table(path)
    assert peak.bytes < 4 * MiB, peak.bytes


@pytest.mark.parametrize(
    ("shape", "descr"),
    [((10**12,), "<f8"), ((10**6,), "<U1000000"), ((2**62,), "<f8"), ((3, 4), "<f8")],
    ids=["10^12", "wide-text", "2^62", "2-D"],
)
def test_npz_declared_shapes_are_checked_before_allocating(tmp_path, shape, descr):
    """A .npy header declaring 8 TB (NumPy allocates before reading) or 4 TB of text."""
    read_table = _read_table()
    path = tmp_path / "absurd.npz"
    _deflated_zip(path, {"x.npy": _npy_header(shape, descr) + bytes(64)})
    with Peak() as peak, pytest.raises(ValueError, match=r"absurd\.npz.*array 'x'"):
        read_table(path)
    assert peak.bytes < MiB, peak.bytes


def test_xlsx_bomb_is_refused_before_opening(tmp_path):
    """A valid workbook whose sheet inflates to 6 million rows (150 MiB of XML) from 400 KB."""
    openpyxl = pytest.importorskip("openpyxl")
    read_table = _read_table()
    book = openpyxl.Workbook()
    book.active.append(["x"])
    book.active.append([1])
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    sheet_name = "xl/worksheets/sheet1.xml"
    sheet = members.pop(sheet_name)
    head, tail = sheet.split(b"</sheetData>")
    row = b"<row><c><v>1</v></c></row>"
    members[sheet_name] = head
    path = tmp_path / "bomb.xlsx"
    _deflated_zip(path, members, (row * (MiB // len(row)), 150, b"</sheetData>" + tail))
    assert path.stat().st_size < 400_000
    with Peak() as peak, pytest.raises(ValueError, match=r"bomb\.xlsx.*compression bomb"):
        read_table(path)
    assert peak.bytes < 4 * MiB, peak.bytes


def test_a_gigantic_csv_field_is_refused_with_the_limit(tmp_path):
    read_table = _read_table()
    from deltaprop.tabular.readers import MAX_FIELD_CHARS

    path = tmp_path / "field.csv"
    path.write_text('x,y\n1,"' + "a" * (MAX_FIELD_CHARS + 1) + '"\n2,b\n')
    with pytest.raises(ValueError, match=r"field\.csv'.*line 2.*MAX_FIELD_CHARS"):
        read_table(path)


def test_a_gigantic_csv_line_is_refused_with_the_column_limit(tmp_path):
    """One 1.5 MB header line of 200,000 fields would be as many pandas columns."""
    read_table = _read_table()
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(200_000)) + "\n")
    with Peak() as peak, pytest.raises(ValueError, match=r"wide\.csv'.*MAX_COLUMNS"):
        read_table(path)
    assert peak.bytes < 200 * MiB, peak.bytes


def test_parquet_declaring_more_than_the_expansion_limit_is_refused(tmp_path):
    """12 million zeros: a 40 KB Parquet file, 96 MB in pandas."""
    read_table = _read_table()
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "zeros.parquet"
    pq.write_table(pa.table({"x": pa.array(np.zeros(12_000_000))}), path)
    assert path.stat().st_size < 200_000
    with Peak() as peak, pytest.raises(ValueError, match=r"zeros\.parquet.*metadata declares"):
        read_table(path)
    assert peak.bytes < 4 * MiB, peak.bytes
