"""Model files: exact round trips, atomic writes, and every malformed file rejected safely."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.files import container as dpio
from deltaprop.tabular import Preprocessor

from .conftest import no_code_execution, to_xp


def _network(dtype=np.float64):
    layers = [
        dp.Dense(3, 4, "tanh"),
        dp.Dense(
            4, 5, dp.activations.LeakyReLU(negative_slope=0.2), init="he_normal", dropout=0.25
        ),
        dp.Dense(5, 3, "softmax"),
    ]
    net = dp.Network(layers, loss="cross_entropy", alpha=0.125, random_state=7)
    for layer in net.layers:
        layer.weights = np.asarray(layer.weights, dtype=dtype)
        layer.bias = np.linspace(-1.0, 1.0, layer.n_out).astype(dtype)
    return net


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_zip(path, members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> None:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            archive.writestr(info, data)


def _header(members) -> dict:
    return json.loads(members["header.json"])


def _with_header(members, header) -> dict[str, bytes]:
    return {**members, "header.json": json.dumps(header).encode()}


def _npy(array, allow_pickle=False) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


@pytest.fixture
def saved(tmp_path):
    """A valid model file and its members."""
    path = tmp_path / "net.deltaprop"
    dp.save(_network(), path)
    return path, _members(path)


# -- round trips ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_network_round_trip_is_exact(tmp_path, dtype):
    net = _network(dtype)
    path = tmp_path / "net.deltaprop"
    dp.save(net, path)
    again = dp.load(path)

    assert isinstance(again, dp.Network)
    assert [type(layer.activation) for layer in again.layers] == [
        type(layer.activation) for layer in net.layers
    ]
    assert [layer.activation.name for layer in again.layers] == ["tanh", "leaky_relu", "softmax"]
    assert again.layers[1].activation.negative_slope == 0.2
    assert [layer.init for layer in again.layers] == ["auto", "he_normal", "auto"]
    assert [layer.dropout for layer in again.layers] == [0.0, 0.25, 0.0]
    assert again.loss.name == "cross_entropy"
    assert again.alpha == 0.125
    assert again.random_state == 7
    for p, q in zip(net.parameters, again.parameters, strict=True):
        assert q.dtype == dtype
        assert q.shape == p.shape
        assert q.tobytes() == p.tobytes()  # bit-identical
        assert q.flags.writeable
    X = np.linspace(-2.0, 2.0, 12).reshape(4, 3)
    assert np.array_equal(again.forward(X), net.forward(X))


def test_arrays_read_in_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(dpio, "_READ_CHUNK", 7)  # chunks that split the numbers
    net = _network()
    dp.save(net, tmp_path / "net.deltaprop")
    again = dp.load(tmp_path / "net.deltaprop")
    for p, q in zip(net.parameters, again.parameters, strict=True):
        assert q.tobytes() == p.tobytes()


def test_network_round_trip_from_other_array_library(tmp_path, xp):
    net = _network()
    expected = [np.array(p) for p in net.parameters]
    for layer in net.layers:
        layer.weights = to_xp(xp, layer.weights)
        layer.bias = to_xp(xp, layer.bias)
    path = tmp_path / "net.deltaprop"
    dp.save(net, path)
    again = dp.load(path)
    for p, q in zip(expected, again.parameters, strict=True):
        assert isinstance(q, np.ndarray)
        assert q.tobytes() == p.tobytes()


def test_header_fields_and_layout(saved):
    path, members = saved
    assert list(members) == [
        "header.json",
        *(f"arrays/layers.{i}.{p}.npy" for i in range(3) for p in ("weights", "bias")),
    ]
    header = _header(members)
    assert header["format"] == "deltaprop"
    assert header["format_version"] == dpio.FORMAT_VERSION == 1
    assert header["library_version"] == dp.__version__
    assert header["kind"] == "network"
    assert header["config"]["loss"] == {"name": "cross_entropy", "params": {}}
    assert header["config"]["layers"][1] == {
        "n_in": 4,
        "n_out": 5,
        "activation": {"name": "leaky_relu", "params": {"negative_slope": 0.2}},
        "init": "he_normal",
        "dropout": 0.25,
    }
    assert header["arrays"]["layers.1.weights"] == {"dtype": "float64", "shape": [4, 5]}
    with zipfile.ZipFile(path) as archive:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in archive.infolist())


def test_every_attribute_is_saved():
    # A new attribute of Dense or Network must be added to the "network" kind (and to
    # docs/model-format.md); this test fails until it is.
    net = _network()
    assert set(vars(net)) == {"layers", "loss", "alpha", "random_state"}
    saved = {"n_in", "n_out", "activation", "init", "dropout", "_weights", "_bias"}
    assert all(set(vars(layer)) == saved for layer in net.layers)


def test_same_object_gives_identical_bytes(tmp_path):
    net = _network()
    dp.save(net, tmp_path / "a.deltaprop")
    dp.save(net, tmp_path / "b.deltaprop")
    assert (tmp_path / "a.deltaprop").read_bytes() == (tmp_path / "b.deltaprop").read_bytes()


class _Model:
    """A composite for the nested-kind test: preprocessing + network."""

    def __init__(self, pre, net):
        self.pre, self.net = pre, net


@pytest.fixture
def model_kind():
    def to_state(model):
        arrays = {}
        config = {
            "preprocessor": dpio.dump_nested(model.pre, "pre", arrays),
            "network": dpio.dump_nested(model.net, "net", arrays),
        }
        return config, arrays

    def from_state(config, arrays):
        return _Model(
            dpio.load_nested(config["preprocessor"], arrays, "pre"),
            dpio.load_nested(config["network"], arrays, "net"),
        )

    dpio.register_kind("test_model", _Model, to_state, from_state)
    yield
    del dpio._KINDS["test_model"]
    del dpio._KIND_OF_CLASS[_Model]


def test_nested_kinds_round_trip(tmp_path, model_kind):
    pytest.importorskip("pandas")
    table = {"x": [1.0, 2.0, 4.0], "colour": ["red", "blue", "red"], "y": ["a", "b", "a"]}
    pre = Preprocessor(target="y").fit(table)
    net = dp.Network([dp.Dense(pre.n_features_out_, 1)], random_state=0)
    path = tmp_path / "model.deltaprop"
    dp.save(_Model(pre, net), path)

    header = _header(_members(path))
    assert header["kind"] == "test_model"
    assert header["config"]["network"]["kind"] == "network"
    assert sorted(header["arrays"]) == [
        "net.layers.0.bias",
        "net.layers.0.weights",
        "pre.high",  # the finite range each numeric column's infinities are clipped to
        "pre.low",
        "pre.mean",
        "pre.scale",
    ]

    again = dp.load(path)
    X = again.pre.transform(table)
    assert np.array_equal(X, pre.transform(table))
    assert np.array_equal(again.net.forward(X), net.forward(X))
    assert again.pre.classes_.tolist() == ["a", "b"]


def test_register_kind_refuses_duplicates():
    with pytest.raises(ValueError, match="registered already"):
        dpio.register_kind("network", dict, lambda o: ({}, {}), lambda c, a: {})


# -- what cannot be saved ---------------------------------------------------------------
def test_save_rejects_unsavable_objects(tmp_path):
    with pytest.raises(TypeError, match="cannot save a dict"):
        dp.save({"weights": 1}, tmp_path / "x")

    class Custom(dp.Activation):
        name = "sigmoid"

    net = dp.Network([dp.Dense(2, 1, Custom())], random_state=0)
    with pytest.raises(TypeError, match="custom activation Custom"):
        dp.save(net, tmp_path / "x")

    net = _network()
    net.layers[0]._weights = np.full((3, 4), np.nan)
    with pytest.raises(ValueError, match=r"'layers\.0\.weights' contains NaN"):
        dp.save(net, tmp_path / "x")
    with pytest.raises(ValueError, match="not fitted"):
        dp.save(Preprocessor(), tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


def test_save_rejects_bad_destinations(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        dp.save(_network(), tmp_path / "missing" / "net.deltaprop")
    with pytest.raises(ValueError, match="it is a folder"):
        dp.save(_network(), tmp_path)


# -- atomic writes ----------------------------------------------------------------------
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_interrupted_write_keeps_previous_file(tmp_path, monkeypatch, error):
    path = tmp_path / "net.deltaprop"
    dp.save(_network(), path)
    before = path.read_bytes()
    real_write_array = dpio._write_array
    calls = []

    def write_then_fail(archive, name, value):
        calls.append(name)
        if len(calls) == 3:  # mid-file: the header and two arrays are written already
            raise error("interrupted")
        real_write_array(archive, name, value)

    monkeypatch.setattr(dpio, "_write_array", write_then_fail)
    other = _network(np.float32)
    with pytest.raises(error, match="interrupted"):
        dp.save(other, path)

    assert len(calls) == 3
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["net.deltaprop"]
    monkeypatch.undo()
    dp.save(other, path)  # and the next save works
    assert dp.load(path).parameters[0].dtype == np.float32


def test_failed_rename_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "net.deltaprop"

    def fail(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(dpio.os, "replace", fail)
    with pytest.raises(OSError, match="disk gone"):
        dp.save(_network(), path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_saved_file_has_umask_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        dp.save(_network(), tmp_path / "net.deltaprop")
    finally:
        os.umask(umask)
    assert (tmp_path / "net.deltaprop").stat().st_mode & 0o777 == 0o644


# -- malformed files ---------------------------------------------------------------------
def _expect_error(path, match):
    with pytest.raises(ValueError, match=match) as info, no_code_execution():
        dp.load(path)
    assert isinstance(info.value, dpio.ModelFileError)
    assert str(path) in str(info.value)


def test_missing_empty_and_random_files(tmp_path, rng):
    _expect_error(tmp_path / "nope.deltaprop", "no such file")
    _expect_error(tmp_path, "not a file")
    (tmp_path / "empty").write_bytes(b"")
    _expect_error(tmp_path / "empty", "is empty")
    (tmp_path / "random").write_bytes(rng.bytes(4096))
    _expect_error(tmp_path / "random", "not a deltaprop model file")
    (tmp_path / "zipstart").write_bytes(b"PK\x03\x04" + rng.bytes(4096))
    _expect_error(tmp_path / "zipstart", "not a valid deltaprop model file")
    np.save(tmp_path / "array.npy", np.zeros(3))
    _expect_error(tmp_path / "array.npy", "NumPy .npy file")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    _expect_error(tmp_path / "plain.npz", "no header.json")


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_truncated_file(saved, tmp_path, keep):
    path, _ = saved
    data = path.read_bytes()
    cut = tmp_path / "cut.deltaprop"
    cut.write_bytes(data[: int(len(data) * keep)])
    _expect_error(cut, "truncated")


def test_damaged_array_bytes_fail_the_checksum(saved, tmp_path):
    path, members = saved
    data = bytearray(path.read_bytes())
    start = data.index(members["arrays/layers.0.weights.npy"][-32:])
    data[start + 5] ^= 0xFF
    bad = tmp_path / "bad.deltaprop"
    bad.write_bytes(bytes(data))
    _expect_error(bad, "damaged|CRC")


def test_an_npy_header_numpy_cannot_tokenize_is_a_model_file_error(saved, tmp_path):
    # found by the fuzz harness (tests/fuzz): an unmatched bracket in a member's .npy
    # header made NumPy's header parser raise tokenize.TokenError through load()
    _, members = saved
    name = "arrays/layers.0.weights.npy"
    npy = bytearray(members[name])
    start = npy.index(b"'fortran_order'")
    npy[start : start + 1] = b"]"
    bad = tmp_path / "bad.deltaprop"
    _write_zip(bad, {**members, name: bytes(npy)})
    _expect_error(bad, r"array 'layers\.0\.weights' is not a valid \.npy member")


def test_a_member_offset_before_the_start_of_the_file_is_a_model_file_error(saved, tmp_path):
    # found by the fuzz harness (tests/fuzz): bytes deleted before the central directory
    # shift it, zipfile then computes a negative member offset and seeking there raised
    # OSError (EINVAL) through load()
    path, _ = saved
    data = path.read_bytes()
    bad = tmp_path / "bad.deltaprop"
    bad.write_bytes(data[:40] + data[100:])  # 60 bytes of the first member gone
    with zipfile.ZipFile(bad) as archive:
        assert archive.infolist()[0].header_offset == -60
    _expect_error(bad, "'header.json' starts 60 bytes before the start of the file")


def test_pickle_renamed_as_model_is_never_unpickled(tmp_path):
    marker = tmp_path / "code-ran"

    class Payload:
        def __init__(self, target):
            self.target = str(target)

        def __reduce__(self):
            return (open, (self.target, "w"))

    # The payload works: unpickling it creates its marker file.
    proof = tmp_path / "proof"
    pickle.loads(pickle.dumps(Payload(proof))).close()
    assert proof.exists()

    path = tmp_path / "model.deltaprop"
    path.write_bytes(pickle.dumps(Payload(marker)))
    _expect_error(path, "pickle")
    assert not marker.exists()


def test_pickled_array_member_is_never_unpickled(saved, tmp_path):
    _, members = saved
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = np.empty((3, 4), dtype=object)
    evil[0, 0] = Payload()
    members = {**members, "arrays/layers.0.weights.npy": _npy(evil, allow_pickle=True)}
    bad = tmp_path / "bad.deltaprop"
    _write_zip(bad, members)
    _expect_error(bad, r"'layers\.0\.weights' holds dtype '\|O'")
    assert not marker.exists()


def _tamper(saved, tmp_path, edit_header=None, members=None, **zip_kwargs):
    _, original = saved
    members = dict(original if members is None else members)
    if edit_header is not None:
        header = _header(members)
        edit_header(header)
        members = _with_header(members, header)
    bad = tmp_path / "bad.deltaprop"
    _write_zip(bad, members, **zip_kwargs)
    return bad


def test_newer_format_version(saved, tmp_path):
    def newer(h):
        h["format_version"] = 2
        h["library_version"] = "9.0"
        h["something_new"] = True

    bad = _tamper(saved, tmp_path, newer)
    _expect_error(
        bad, "written by format version 2; this deltaprop reads up to 1: upgrade deltaprop"
    )


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda h: h.update(kind="transformer"), "unknown kind 'transformer'"),
        # found by the fuzz harness (tests/fuzz): a dtype that is a JSON list or object
        # raised TypeError (unhashable) instead of naming the array
        (
            lambda h: h["arrays"]["layers.0.bias"].update(dtype=[{}]),
            r"array 'layers\.0\.bias' has dtype \[\{\}\]; only \[",
        ),
        (
            lambda h: h["arrays"]["layers.0.bias"].update(dtype={"a": 1}),
            r"array 'layers\.0\.bias' has dtype \{'a': 1\}",
        ),
        (lambda h: h.update(format="keras"), "lacks format 'deltaprop'"),
        (lambda h: h.update(format_version="1"), "format_version must be an int"),
        (lambda h: h.update(extra=1), r"unexpected keys \['extra'\]"),
        (lambda h: h.pop("config"), r"lacks \['config'\]"),
        (
            lambda h: h["arrays"]["layers.0.weights"].update(shape=[2, 4]),
            r"layers\.0\.weights.*shape \(3, 4\), the header declares \(2, 4\)",
        ),
        (
            lambda h: h["arrays"]["layers.0.weights"].update(shape=[10**6, 10**6]),
            r"declares shape \(1000000, 1000000\) \(8000000000000 bytes\)",
        ),
        (lambda h: h["arrays"]["layers.0.weights"].update(dtype="int64"), "dtype 'int64'"),
        (lambda h: h["arrays"]["layers.0.weights"].update(dtype="object"), "dtype 'object'"),
        (lambda h: h["arrays"]["layers.0.weights"].update(shape=[-3, 4]), "ints >= 0"),
        (lambda h: h["config"]["layers"][0].update(n_in=2), r"shape \(3, 4\), expected \(2, 4\)"),
        (lambda h: h["config"]["layers"][0].update(n_in=True), "n_in must be int"),
        (
            lambda h: h["config"]["layers"][0]["activation"].update(name="evil"),
            "unknown activation",
        ),
        (
            lambda h: h["config"]["layers"][1]["activation"]["params"].update(__class__=1),
            "has no parameter '__class__'",
        ),
        (lambda h: h["config"]["loss"].update(name="os.system"), "unknown loss"),
        (lambda h: h["config"].update(alpha=-1.0), "alpha must be >= 0"),
        (
            lambda h: (h["config"]["layers"].pop(), h["config"]["layers"][1].update(dropout=0.0)),
            r"unexpected array\(s\) \['layers\.2\.bias'",
        ),
        (lambda h: h["arrays"].pop("layers.2.bias"), r"unexpected member\(s\)"),
        (
            lambda h: h["arrays"].update({"../../etc/passwd": {"dtype": "float64", "shape": [1]}}),
            "array name '../../etc/passwd' is not allowed",
        ),
        (
            lambda h: h["arrays"].update({"layers.9.bias": {"dtype": "float64", "shape": [1]}}),
            r"missing member\(s\) \['arrays/layers\.9\.bias\.npy'\]",
        ),
    ],
)
def test_bad_headers(saved, tmp_path, edit, match):
    _expect_error(_tamper(saved, tmp_path, edit), match)


@pytest.mark.parametrize(
    "name", ["../x.npy", "/etc/passwd", "arrays/../../x.npy", "C:\\x.npy", "arrays\\x.npy"]
)
def test_path_like_member_names(saved, tmp_path, name):
    _, members = saved
    _expect_error(_tamper(saved, tmp_path, members={**members, name: b"1"}), "is a path")


def test_unexpected_member(saved, tmp_path):
    _, members = saved
    _expect_error(
        _tamper(saved, tmp_path, members={**members, "notes.txt": b"hi"}),
        r"unexpected member\(s\) \['notes\.txt'\]",
    )


def test_duplicate_member(saved, tmp_path):
    _, members = saved
    bad = tmp_path / "bad.deltaprop"
    with pytest.warns(UserWarning, match="Duplicate name"):
        with zipfile.ZipFile(bad, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
            archive.writestr("header.json", members["header.json"])
    _expect_error(bad, "appears twice")


def test_compressed_members_are_refused_before_inflating(saved, tmp_path):
    # A zip bomb: 20 MB of zeros deflate to about 20 kB; the loader never inflates it.
    _, members = saved
    bomb = {**members, "arrays/layers.0.weights.npy": bytes(20_000_000)}
    bad = _tamper(saved, tmp_path, members=bomb, compression=zipfile.ZIP_DEFLATED)
    assert bad.stat().st_size < 1_000_000
    _expect_error(bad, "is compressed")


def test_array_member_lying_about_its_shape(saved, tmp_path):
    _, members = saved
    # The .npy header inside the member declares a huge array; the data is tiny.
    member = _npy(np.zeros((3, 4))).replace(b"(3, 4)", b"(3000000000, 4000000)")

    def huge(h):
        h["arrays"]["layers.0.weights"]["shape"] = [3000000000, 4000000]

    bad = _tamper(saved, tmp_path, huge, members={**members, "arrays/layers.0.weights.npy": member})
    _expect_error(bad, "declares shape")


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.zeros((3, 4), dtype=np.int64), "holds dtype '<i8'"),
        (np.zeros((3, 4), dtype=">f8"), "holds dtype '>f8'"),
        (np.zeros((4, 3)), r"shape \(4, 3\), the header declares \(3, 4\)"),
        (np.zeros((3, 5)), r"shape \(3, 5\), the header declares \(3, 4\)"),
        (np.full((3, 4), np.nan), "contains NaN or infinity"),
        (np.full((3, 4), -np.inf), "contains NaN or infinity"),
    ],
)
def test_bad_array_members(saved, tmp_path, array, match):
    _, members = saved
    bad = _tamper(saved, tmp_path, members={**members, "arrays/layers.0.weights.npy": _npy(array)})
    _expect_error(bad, match)


def test_fortran_ordered_member_is_read_correctly(saved, tmp_path):
    _, members = saved
    weights = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    bad = _tamper(
        saved, tmp_path, members={**members, "arrays/layers.0.weights.npy": _npy(weights)}
    )
    assert np.array_equal(dp.load(bad).layers[0].weights, np.arange(12.0).reshape(3, 4))


def test_huge_integer_in_header(saved, tmp_path):
    _, members = saved
    text = members["header.json"].replace(b'"alpha": 0.125', b'"alpha": 1' + b"0" * 400)
    bad = _tamper(saved, tmp_path, members={**members, "header.json": text})
    _expect_error(bad, "config.alpha must be a finite number")


def test_array_member_with_trailing_bytes(saved, tmp_path):
    _, members = saved
    member = _npy(np.zeros((3, 4))) + b"\x00" * 8
    bad = _tamper(saved, tmp_path, members={**members, "arrays/layers.0.weights.npy": member})
    _expect_error(bad, "should hold 96 bytes of data, its member has 104")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (b"not json", "not valid JSON"),
        (b'{"format": "deltaprop", "format": "deltaprop"}', "duplicate key"),
        (b"[1, 2]", "lacks format"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
    ids=["text", "duplicate-key", "list", "not-utf8", "deep-nesting"],
)
def test_bad_json(saved, tmp_path, text, match):
    _, members = saved
    _expect_error(_tamper(saved, tmp_path, members={**members, "header.json": text}), match)


def test_nan_in_json_header_is_refused(saved, tmp_path):
    _, members = saved
    text = members["header.json"].replace(b'"alpha": 0.125', b'"alpha": NaN')
    _expect_error(
        _tamper(saved, tmp_path, members={**members, "header.json": text}), "NaN is not allowed"
    )


def test_unknown_kind_from_a_newer_deltaprop_says_to_upgrade(saved, tmp_path):
    def newer(h):
        h["kind"] = "gradient_boosted_network"
        h["library_version"] = "3.1.0"

    _expect_error(
        _tamper(saved, tmp_path, newer),
        r"unknown kind 'gradient_boosted_network'.*written by deltaprop '3\.1\.0': upgrade",
    )


@pytest.mark.parametrize(
    "shape",
    [[10**6, 10**6], [2**62, 2**62], [2**40] * 32, [10**400], [3, 4, 10**15]],
    ids=["8TB", "2^124", "32-dims", "10^400", "3-dims"],
)
def test_absurd_declared_shapes_allocate_nothing(saved, tmp_path, shape):
    import tracemalloc

    def absurd(h):
        h["arrays"]["layers.0.weights"]["shape"] = shape

    bad = _tamper(saved, tmp_path, absurd)
    tracemalloc.start()
    try:
        _expect_error(bad, "declares shape")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20  # NumPy reports its allocations to tracemalloc


def test_more_than_32_dimensions_is_refused(saved, tmp_path):
    def deep(h):
        h["arrays"]["layers.0.weights"]["shape"] = [1] * 33

    _expect_error(_tamper(saved, tmp_path, deep), "expected a list of ints >= 0")


def test_temporary_files_of_saves_are_never_loaded(saved, tmp_path):
    path, _ = saved
    # what a save killed just before its rename leaves: a complete file, under a
    # temporary name that load refuses (a partial one would look the same)
    temporary = tmp_path / f".{path.name}.0123456789ab.tmp"
    temporary.write_bytes(path.read_bytes())
    other = tmp_path / ".other.deltaprop.0123456789ab.tmp"
    other.write_bytes(b"")
    _expect_error(temporary, "temporary file of an unfinished save")
    assert dpio.temporary_files(path) == [temporary]
    assert dpio.temporary_files(tmp_path / "missing" / "x") == []
    with pytest.raises(ValueError, match="reserved for the temporary files"):
        dp.save(_network(), temporary)
    # names that merely resemble the pattern are ordinary files
    dp.save(_network(), tmp_path / ".net.deltaprop.tmp")
    dp.load(tmp_path / ".net.deltaprop.tmp")
