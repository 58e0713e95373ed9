"""Write the fuzz corpus: crafted tables, model files, checkpoints and HTTP requests.

Run ``python tests/fuzz/make_corpus.py`` to rebuild ``tests/fuzz/corpus/`` (the files are
checked in; the run is deterministic, except the zip timestamps of the model files,
which this script fixes). Each file is a seed the fuzz targets mutate further; its name
says what is odd about it. ``requests/*.http`` are raw HTTP requests for the live page
(``{HOST}`` stands for its ``127.0.0.1:PORT``).
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

CORPUS = Path(__file__).resolve().parent / "corpus"

GOOD = "x1,x2,colour,y\n" + "".join(
    f"{i % 7 * 0.5},{(i * 3) % 5 - 2.0},{'red' if i % 3 else 'blue'},{'yes' if i % 2 else 'no'}\n"
    for i in range(24)
)
NUMERIC = "a,b,target\n" + "".join(f"{i * 0.25},{(i * 7) % 5},{i * 0.5 - 1}\n" for i in range(20))


def _text_tables() -> dict[str, bytes]:
    good = GOOD.encode()
    rows = GOOD.splitlines()[1:]
    escape = "\x1b[31mred\x1b[0m"
    return {
        "good.csv": good,
        "numeric.csv": NUMERIC.encode(),
        "bom-utf8.csv": b"\xef\xbb\xbf" + good,
        "bom-utf16.csv": GOOD.encode("utf-16"),
        "utf16-no-bom.csv": GOOD.encode("utf-16-le"),
        "bom-in-middle.csv": good.replace(b"\n1", b"\n\xef\xbb\xbf1", 1),
        "nul-bytes.csv": good.replace(b",red", b",r\x00ed"),
        "nul-header.csv": b"x1,\x00,colour,y\n" + b"\n".join(r.encode() for r in rows) + b"\n",
        "only-nuls.csv": b"\x00" * 300,
        "crlf.csv": good.replace(b"\n", b"\r\n"),
        "cr-only.csv": good.replace(b"\n", b"\r"),
        "escape-sequences.csv": (
            f"x1,x2,{escape},y\n"
            + "".join(
                f"{r.rsplit(',', 2)[0]},{escape},a\x1b]0;t\x07\n" if i % 2 else r + "\n"
                for i, r in enumerate(rows)
            )
        ).encode(),
        "escape-labels.csv": "".join(
            ["x1,y\n"] + [f"{i},\x1b[2J\x1b[{i % 3}mclass{i % 2}\n" for i in range(20)]
        ).encode(),
        "duplicate-header.csv": b"x1,x1,colour,y\n" + "\n".join(rows).encode() + b"\n",
        "duplicate-header-spaces.csv": b"x1, x1 ,colour,y\n" + "\n".join(rows).encode() + b"\n",
        "empty-header.csv": b",x2,colour,y\n" + "\n".join(rows).encode() + b"\n",
        "blank-headers.csv": b" ,,colour,y\n" + "\n".join(rows).encode() + b"\n",
        "header-only.csv": b"x1,x2,colour,y\n",
        "empty.csv": b"",
        "newline-only.csv": b"\n\n\n",
        "ragged.csv": good + b"1,2\n3,4,5,6,7\n",
        "unbalanced-quote.csv": b'x1,x2,colour,y\n1,2,"red,yes\n3,4,blue,no\n',
        "quoted-newlines.csv": b'x1,x2,colour,y\n1,2,"re\nd",yes\n3,4,"bl""ue",no\n5,6,x,yes\n',
        "latin1.csv": "x1,café,y\n1,é,à\n2,ü,ß\n3,ñ,à\n".encode("latin-1"),
        "cp1252.csv": "x1,price\u20ac,y\n1,\u201cq\u201d,a\n2,\u2013,b\n".encode("cp1252"),
        "mixed-encoding.csv": "x1,label,y\n1,é,a\n".encode() + "2,é,b\n".encode("latin-1"),
        "semicolon-decimal-comma.csv": b"a;b;y\n1,5;2.345,6;x\n2,25;1,0;z\n3,0;4,5;x\n",
        "inf-nan.csv": b"a,b,y\ninf,nan,1\n-inf,1e309,0\n1e-320,NaN,1\n-0,+inf,0\n",
        "huge-numbers.csv": b"a,b,y\n"
        + b"1" * 400
        + b",1e308,1\n-"
        + b"9" * 400
        + b",2,0\n3,4,1\n",
        "numeric-header.csv": b"1,2,3\n4,5,6\n7,8,9\n",
        "unicode-names.csv": "\u202eabc,e\u0301,\U0001f600,y\n1,2,3,a\n4,5,6,b\n".encode(),
        "single-column.csv": b"y\n1\n2\n3\n",
        "single-row.csv": b"x1,x2,colour,y\n1,2,red,yes\n",
        "all-missing.csv": b"x1,x2,y\nNA,,a\n?,-,b\nnull,N/A,a\n",
        "percent-thousands.csv": b'a,b,y\n45%,"1,234",x\n5%,"2,000",z\n',
        "binary-garbage.csv": bytes(range(256)) * 4,
        "sep-tab.tsv": GOOD.replace(",", "\t").encode(),
        "bars.txt": GOOD.replace(",", "|").encode(),
        "many-columns.csv": (
            ",".join(f"c{i}" for i in range(2000))
            + ",y\n"
            + "".join(
                ",".join(str((i + r) % 9) for i in range(2000)) + f",{r % 2}\n" for r in range(4)
            )
        ).encode(),
        "long-labels.csv": "".join(
            ["x,y\n"] + [f"{i},{chr(97 + i % 26) * (200 + i)}\n" for i in range(30)]
        ).encode(),
        "deep-quotes.csv": b'x,y\n"' + b'""' * 500 + b'",a\n1,b\n',
    }


def _compressed_tables() -> dict[str, bytes]:
    good = GOOD.encode()
    huge_field = b"x,y\n" + b"1," + b"a" * 3_000_000 + b"\n2,b\n"
    return {
        "good.csv.gz": gzip.compress(good, mtime=0),
        "huge-field.csv.gz": gzip.compress(huge_field, mtime=0),
        "truncated.csv.gz": gzip.compress(good, mtime=0)[:-12],
        "not-gzip.csv.gz": good,
        "good.csv.bz2": bz2.compress(good),
        "bitflip.csv.bz2": _flip(bz2.compress(good), 40),
        "good.csv.xz": lzma.compress(good),
        "truncated.csv.xz": lzma.compress(good)[:30],
    }


def _flip(data: bytes, position: int) -> bytes:
    out = bytearray(data)
    out[position % len(out)] ^= 0x5A
    return bytes(out)


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return _fixed_zip_times(buffer.getvalue())


def _fixed_zip_times(data: bytes) -> bytes:
    """The same ZIP with every member dated 1980-01-01 (a deterministic corpus).

    A workbook's ``docProps/core.xml`` dates (the time openpyxl saved it) are fixed too.
    """
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = info.compress_type
            fixed.external_attr = info.external_attr
            body = src.read(info)
            if info.filename == "docProps/core.xml":
                body = re.sub(
                    rb"(<dcterms:(created|modified)[^>]*>)[^<]*",
                    rb"\g<1>2026-01-01T00:00:00Z",
                    body,
                )
            dst.writestr(fixed, body)
    return out.getvalue()


def _npz_tables() -> dict[str, bytes]:
    n = 12
    x = np.arange(n, dtype=float)
    y = np.array(["a", "b"] * (n // 2))
    good = _npz({"x": x, "z": x**2, "y": y})
    npy = io.BytesIO()
    np.save(npy, x)
    huge_shape = io.BytesIO()
    with zipfile.ZipFile(huge_shape, "w") as archive:
        header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (10000000000000,), }"
        header += b" " * (118 - len(header)) + b"\n"
        archive.writestr(
            zipfile.ZipInfo("x.npy", date_time=(1980, 1, 1, 0, 0, 0)),
            b"\x93NUMPY\x01\x00v\x00" + header + b"\x00" * 64,
        )
    return {
        "good.npz": good,
        "two-dimensional.npz": _npz({"x": np.ones((3, 2)), "y": y[:3]}),
        "object.npz": _npz({"x": np.array([{"a": 1}, None], dtype=object), "y": y[:2]}),
        "complex.npz": _npz({"x": x + 1j, "y": y}),
        "structured.npz": _npz({"x": np.zeros(3, dtype=[("a", "f8"), ("b", "i4")]), "y": y[:3]}),
        "datetime.npz": _npz({"x": np.arange(3).astype("datetime64[D]"), "y": y[:3]}),
        "bytes-column.npz": _npz({"x": np.array([b"a", b"b"]), "y": y[:2]}),
        "ragged.npz": _npz({"x": x, "y": y[:5]}),
        "zero-length.npz": _npz({"x": x[:0], "y": y[:0]}),
        "no-arrays.npz": _npz({}),
        "scalar.npz": _npz({"x": np.float64(1.0), "y": y[:1]}),
        "nan-inf.npz": _npz({"x": np.array([np.nan, np.inf, -np.inf, 1.0]), "y": y[:4]}),
        "escape-names.npz": _npz({"\x1b[31mx": x, "y": y}),
        "huge-shape.npz": huge_shape.getvalue(),
        "truncated.npz": good[: len(good) // 2],
        "bitflip.npz": _flip(good, len(good) // 3),
        "single-npy.npz": npy.getvalue(),
        "not-zip.npz": GOOD.encode(),
    }


def _parquet_tables() -> dict[str, bytes]:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    def parquet(table) -> bytes:
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        return buffer.getvalue()

    frame = pd.read_csv(io.StringIO(GOOD))
    good = parquet(pa.Table.from_pandas(frame, preserve_index=False))
    nested = pa.table(
        {
            "x": [1.0, 2.0, 3.0, 4.0],
            "tags": [[1, 2], [], None, [3]],
            "point": [{"a": 1, "b": "u"}, {"a": 2, "b": "v"}, None, {"a": 3, "b": "w"}],
            "y": ["a", "b", "a", "b"],
        }
    )
    dup = pa.Table.from_arrays(
        [pa.array([1.0, 2.0, 3.0]), pa.array([4.0, 5.0, 6.0]), pa.array(["a", "b", "a"])],
        names=["x", "x", "y"],
    )
    return {
        "good.parquet": good,
        "nested.parquet": parquet(nested),
        "duplicate-names.parquet": parquet(dup),
        "zero-rows.parquet": parquet(pa.Table.from_pandas(frame.iloc[:0], preserve_index=False)),
        "no-columns.parquet": parquet(pa.table({})),
        "dictionary.parquet": parquet(
            pa.table({"x": [1.0, 2.0, 3.0], "y": pa.array(["a", "b", "a"]).dictionary_encode()})
        ),
        "timestamps.parquet": parquet(
            pa.table({"t": pa.array([0, 1, 2], pa.timestamp("s")), "y": ["a", "b", "a"]})
        ),
        "decimal.parquet": parquet(
            pa.table({"d": pa.array([1, 2, 3], pa.decimal128(38, 2)), "y": ["a", "b", "a"]})
        ),
        "truncated.parquet": good[: len(good) // 2],
        "bitflip.parquet": _flip(good, len(good) // 2),
        "bitflip-footer.parquet": _flip(good, len(good) - 20),
        "not-parquet.parquet": GOOD.encode(),
    }


def _xlsx_tables() -> dict[str, bytes]:
    import openpyxl

    def workbook(rows, *, merge: str | None = None) -> bytes:
        book = openpyxl.Workbook()
        sheet = book.active
        for row in rows:
            sheet.append(row)
        if merge:
            sheet.merge_cells(merge)
        buffer = io.BytesIO()
        book.save(buffer)
        return _fixed_zip_times(buffer.getvalue())

    good_rows = [["x1", "x2", "colour", "y"]] + [
        [float(r.split(",")[0]), float(r.split(",")[1]), r.split(",")[2], r.split(",")[3]]
        for r in GOOD.splitlines()[1:]
    ]
    good = workbook(good_rows)
    return {
        "good.xlsx": good,
        "empty-sheet.xlsx": workbook([]),
        "header-only.xlsx": workbook(good_rows[:1]),
        "formulas.xlsx": workbook([["a", "b", "y"], [1, "=A2*2", "x"], [2, "=1/0", "z"]]),
        "merged.xlsx": workbook(good_rows[:6], merge="A2:B3"),
        "duplicate-header.xlsx": workbook([["a", "a", "y"], [1, 2, "x"], [3, 4, "z"]]),
        "escape-header.xlsx": workbook(  # Excel's escape of ESC, which readers decode
            [["_x001B_[31ma", "y"], [1, "_x001B_[0mx"], [2, "z"]]
        ),
        "none-header.xlsx": workbook([[None, "b", "y"], [1, 2, "x"], [3, 4, "z"]]),
        "truncated.xlsx": good[: len(good) // 2],
        "bitflip.xlsx": _flip(good, len(good) // 2),
        "not-zip.xlsx": GOOD.encode(),
    }


def _models(folder: Path) -> dict[str, bytes]:
    """Model files written by the library, then damaged copies of them."""
    import deltaprop as dp
    from deltaprop.cli.main import main

    data = folder / "good.csv"
    data.write_text(GOOD)
    numeric = folder / "numeric.csv"
    numeric.write_text(NUMERIC)
    train = ["--hidden", "3", "--max-iter", "5", "-q"]
    written = {
        "classifier.deltaprop": ["train", str(data), "--target", "y", *train],
        "regressor.deltaprop": ["train", str(numeric), "--target", "target", *train],
        "lbfgs.deltaprop": ["train", str(data), "--target", "y", "--solver", "lbfgs", *train],
    }
    out: dict[str, bytes] = {}
    for name, argv in written.items():
        path = folder / name
        checkpoint = folder / f"{name}.checkpoint"
        extra = ["--checkpoint", str(checkpoint)] if name == "classifier.deltaprop" else []
        if main([*argv, "--out", str(path), *extra]) != 0:
            raise SystemExit(f"cannot write {name}")
        out[name] = _fixed_zip_times(path.read_bytes())
        if extra:
            out["classifier.checkpoint"] = _fixed_zip_times(checkpoint.read_bytes())
    net = dp.Network([dp.Dense(2, 3, "tanh"), dp.Dense(3, 2, "softmax")], random_state=0)
    net_path = folder / "network.deltaprop"
    dp.save(net, net_path)
    out["network.deltaprop"] = _fixed_zip_times(net_path.read_bytes())
    good = out["network.deltaprop"]
    out.update(_damaged_models(good))
    return out


def _rewritten(data: bytes, change) -> bytes:
    """The model file ``data`` with its header passed through ``change(header) -> header``."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "header.json":
                body = change(json.loads(body))
                body = body if isinstance(body, bytes) else json.dumps(body).encode()
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0)), body)
    return out.getvalue()


def _set(path: list, value):
    def change(header):
        node = header
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return header

    return change


def _damaged_models(good: bytes) -> dict[str, bytes]:
    layer0 = ["config", "layers", 0]
    return {
        "truncated-half.deltaprop": good[: len(good) // 2],
        "truncated-tail.deltaprop": good[:-10],
        "bitflip-data.deltaprop": _flip(good, len(good) // 2),
        "bitflip-directory.deltaprop": _flip(good, len(good) - 30),
        "pickle.deltaprop": b"\x80\x04\x95" + b"\x00" * 40,
        "npy.deltaprop": b"\x93NUMPY" + b"\x00" * 40,
        "tiny.deltaprop": b"PK\x03\x04",
        "header-not-json.deltaprop": _rewritten(good, lambda h: b"{not json"),
        "header-nan.deltaprop": _rewritten(good, lambda h: b'{"format": NaN}'),
        "header-deep.deltaprop": _rewritten(good, lambda h: b"[" * 5000 + b"]" * 5000),
        "header-duplicate-keys.deltaprop": _rewritten(
            good, lambda h: json.dumps(h).replace('{"format"', '{"format": 1, "format"').encode()
        ),
        "header-list.deltaprop": _rewritten(good, lambda h: [h]),
        "unknown-kind.deltaprop": _rewritten(good, _set(["kind"], "\x1b[31mevil")),
        "kind-number.deltaprop": _rewritten(good, _set(["kind"], 7)),
        "future-version.deltaprop": _rewritten(good, _set(["format_version"], 10**6)),
        "huge-version.deltaprop": _rewritten(good, _set(["format_version"], 2**70)),
        "escape-library-version.deltaprop": _rewritten(
            good, _set(["library_version"], "\x1b]0;pwned\x07\x1b[2J")
        ),
        "huge-shape.deltaprop": _rewritten(
            good, _set(["arrays", "layers.0.weights", "shape"], [10**12, 10**12])
        ),
        "negative-shape.deltaprop": _rewritten(
            good, _set(["arrays", "layers.0.weights", "shape"], [-2, 3])
        ),
        "object-dtype.deltaprop": _rewritten(
            good, _set(["arrays", "layers.0.weights", "dtype"], "object")
        ),
        "config-null.deltaprop": _rewritten(good, _set(["config"], None)),
        "layers-empty.deltaprop": _rewritten(good, _set(["config", "layers"], [])),
        "activation-unknown.deltaprop": _rewritten(
            good, _set([*layer0, "activation"], "__import__('os')")
        ),
        "loss-unknown.deltaprop": _rewritten(good, _set(["config", "loss"], "evil")),
        "alpha-string.deltaprop": _rewritten(good, _set(["config", "alpha"], "1e999")),
    }


def _requests() -> dict[str, bytes]:
    def post(body: bytes, *, content_type: str = "application/json", extra: str = "") -> bytes:
        head = (
            f"POST /control HTTP/1.1\r\nHost: {{HOST}}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
        )
        return head.encode() + body

    def get(path: str, extra: str = "") -> bytes:
        return f"GET {path} HTTP/1.1\r\nHost: {{HOST}}\r\n{extra}Connection: close\r\n\r\n".encode()

    return {
        "get-page.http": get("/"),
        "get-state.http": get("/state"),
        "get-init.http": get("/init"),
        "get-model.http": get("/model.deltaprop"),
        "get-static-traversal.http": get("/static/../_server.py"),
        "get-static-vendor.http": get("/static/vendor/..%2f..%2f__init__.py"),
        "get-long-path.http": get("/" + "a" * 20000),
        "get-query.http": get("/state?x=" + "%00" * 100),
        "get-bad-host.http": b"GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
        "get-no-host.http": b"GET / HTTP/1.0\r\n\r\n",
        "get-http09.http": b"GET /\r\n\r\n",
        "garbage.http": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(64)),
        "many-headers.http": get("/", "".join(f"X-{i}: {i}\r\n" for i in range(150))),
        "huge-header.http": get("/", "X-Big: " + "a" * 70000 + "\r\n"),
        "post-play.http": post(b'{"action": "play"}'),
        "post-set-lr.http": post(b'{"action": "set", "learning_rate": 0.1}'),
        "post-set-huge-int.http": post(b'{"action": "set", "max_iter": ' + b"9" * 4000 + b"}"),
        "post-deep-json.http": post(
            b'{"action": "set", "x": ' + b"[" * 20000 + b"]" * 20000 + b"}"
        ),
        "post-tiny-speed.http": post(b'{"action": "set", "epochs_per_second": 1e-300}'),
        "post-param.http": post(
            b'{"action": "param", "layer": 0, "kind": "weight", "i": 0, "j": 0, "value": 1.5}'
        ),
        "post-reset-huge.http": post(b'{"action": "reset", "hidden": [1024, 1024]}'),
        "post-nan.http": post(b'{"action": "set", "learning_rate": NaN}'),
        "post-not-json.http": post(b"\xff\xfe{"),
        "post-wrong-type.http": post(b'{"action": "play"}', content_type="text/plain"),
        "post-bad-length.http": post(b"{}", extra="Content-Length: -5\r\n"),
        "post-length-lies.http": (
            b"POST /control HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\nConnection: close\r\n\r\n{"action": "play"}'
        ),
        "post-cross-origin.http": post(
            b'{"action": "play"}', extra="Origin: http://evil.example\r\n"
        ),
        "post-chunked.http": (
            b"POST /control HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
            b'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\n{"a":\r\n0\r\n\r\n'
        ),
    }


def main() -> None:
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    groups = {
        "tables": {
            **_text_tables(),
            **_compressed_tables(),
            **_npz_tables(),
            **_parquet_tables(),
            **_xlsx_tables(),
        },
        "requests": _requests(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        groups["models"] = _models(Path(tmp))
    for group, files in groups.items():
        (CORPUS / group).mkdir(parents=True)
        for name, data in files.items():
            (CORPUS / group / name).write_bytes(data)
    total = sum(len(d) for files in groups.values() for d in files.values())
    print(f"wrote {sum(map(len, groups.values()))} files, {total} bytes, to {CORPUS}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
