"""Hypothesis strategies of the fuzz targets: damaged files, odd tables, JSON values.

A *mutation* of a corpus file is a short list of byte edits (flip, truncate, insert,
delete, duplicate, overwrite with a byte that matters to some parser: NUL, ESC, quote,
separator, newline, a UTF-8 lead byte). Tables are also drawn from scratch: a header and
rows of cells with odd names, separators, quotes, escapes and encodings.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from hypothesis import strategies as st

CORPUS = Path(__file__).resolve().parent / "corpus"
MESSY = Path(__file__).resolve().parent.parent / "data" / "messy"

#: Bytes that mean something to one parser or another.
SPECIAL_BYTES = b"\x00\x1b\xff\xfe\xef\xbb\xbf\"',;\t|\n\r\\{}[]:.-+eE0"


def corpus_files(group: str, *, also: Path | None = None) -> list[Path]:
    """The seeds of ``group`` (``tables``, ``models``, ``requests``), sorted by name."""
    files = sorted(p for p in (CORPUS / group).iterdir() if p.is_file())
    if also is not None and also.is_dir():
        files += sorted(p for p in also.iterdir() if p.is_file() and p.suffix != ".py")
    return files


class Mutated(bytes):
    """Bytes that remember how they were made: a seed's name and the edits applied.

    The ``repr`` is the recipe (short enough for a failure report), not the bytes;
    :func:`apply_edits` remakes them from the seed.
    """

    recipe: str

    def __repr__(self) -> str:
        return f"<{self.recipe}, {len(self)} bytes>"


def apply_edits(data: bytes, edits: list[tuple]) -> bytes:
    """``data`` after ``edits``, each ``(op, at, arg)`` as :func:`mutated` draws them."""
    out = bytearray(data)
    for op, at, arg in edits:
        at = min(at, max(len(out) - 1, 0))
        if op == "flip" and out:
            out[at] ^= 1 << arg
        elif op == "truncate":
            del out[at:]
        elif op == "insert":
            out[at:at] = arg
        elif op == "delete":
            del out[at : at + arg]
        elif op == "repeat":
            piece, times = bytes(out[at : at + arg[0]]), arg[1]
            out[at:at] = piece * times
        elif op == "special" and out:
            out[at] = arg
    return bytes(out)


_EDITS = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 20), st.none()),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), st.integers(0, 1 << 20), st.integers(1, 64)),
    st.tuples(
        st.just("repeat"),
        st.integers(0, 1 << 20),
        st.tuples(st.integers(1, 64), st.integers(1, 50)),
    ),
    st.tuples(st.just("special"), st.integers(0, 1 << 20), st.sampled_from(SPECIAL_BYTES)),
)


@st.composite
def mutated(draw, data: bytes, name: str = "data", max_edits: int = 4) -> Mutated:
    """``data`` (called ``name``) after up to ``max_edits`` byte edits (none, some of the time).

    Positions are drawn up to 1 MiB and clipped to the data, so small files get edits
    near their end as often as large ones.
    """
    edits = draw(st.lists(_EDITS, max_size=max_edits))
    edits = [(op, at % max(len(data), 1), arg) for op, at, arg in edits]
    out = Mutated(apply_edits(data, edits))
    out.recipe = f"{name} with edits {edits}" if edits else name
    return out


# -- tables from scratch ----------------------------------------------------------------
_NAME_CHARS = st.characters(codec="utf-8", exclude_characters="\r\n", exclude_categories=("Cs",))
_ODD_CELLS = [
    "", " ", "NA", "N/A", "null", "?", "-", "nan", "inf", "-inf", "1e309", "1e-400", "45%",
    "1,234", "1.234,5", "0x1F", "1_000", "True", "\x1b[31mred\x1b[0m", "\x00", '"', '""',
    "a\tb", "é", "\ufeff1", "9" * 40, "-0", "+1", " 2 ", "١٢٣",
]  # fmt: skip


def cells() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(_ODD_CELLS),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.integers(-(10**20), 10**20).map(str),
        st.text(_NAME_CHARS, max_size=12),
    )


@st.composite
def text_tables(draw) -> tuple[str, bytes]:
    """``(suffix, content)`` of a text table drawn from scratch."""
    n_columns = draw(st.integers(1, 6))
    header = draw(
        st.lists(
            st.one_of(
                st.sampled_from(["x", "y", "x", "", " ", "Unnamed: 0"]),
                st.text(_NAME_CHARS, max_size=8),
            ),
            min_size=n_columns,
            max_size=n_columns,
        )
    )
    n_rows = draw(st.integers(0, 8))
    ragged = draw(st.integers(0, 5)) == 0
    rows = [
        draw(st.lists(cells(), min_size=n_columns if not ragged else 0,
                      max_size=n_columns if not ragged else n_columns + 2))
        for _ in range(n_rows)
    ]  # fmt: skip
    sep = draw(st.sampled_from([",", ";", "\t", "|", " "]))
    quote_all = draw(st.booleans())

    def line(fields: list[str]) -> str:
        if quote_all:
            return sep.join('"' + f.replace('"', '""') + '"' for f in fields)
        return sep.join(fields)

    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(line(fields) for fields in [header, *rows])
    if draw(st.booleans()):
        text += newline
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16"]))
    content = text.encode(encoding, errors="replace")
    suffix = draw(st.sampled_from([".csv", ".tsv", ".txt", ".csv.gz", ".dat", ""]))
    if suffix == ".csv.gz":
        import gzip

        content = gzip.compress(content, mtime=0)
    return suffix, content


# -- JSON ----------------------------------------------------------------------------------
def json_values(max_leaves: int = 8) -> st.SearchStrategy:
    """JSON-able values, including extremes (huge integers, tiny floats, odd text)."""
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.sampled_from([0, 1, -1, 2, 1024, 10**6, 2**31, 2**63, 1e-300, 1e300, 5e-324, -0.0]),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=10),
        st.sampled_from(["relu", "tanh", "sigmoid", "softmax", "identity", "exp", "\x1b[2J"]),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=8), children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


def json_paths(value, prefix=()) -> list[tuple]:
    """Every path (a tuple of keys and indices) into a parsed JSON value."""
    paths = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            paths += json_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths += json_paths(child, (*prefix, index))
    return paths


@st.composite
def mutated_json(draw, value):
    """``value`` (a parsed JSON document) with one to three nodes replaced or removed."""
    value = json.loads(json.dumps(value))
    for _ in range(draw(st.integers(1, 3))):
        paths = json_paths(value)
        path = draw(st.sampled_from(paths))
        if not path:
            continue
        parent = value
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.integers(0, 4)) == 0:
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values())
    return value


# -- model files ---------------------------------------------------------------------------
def model_members(data: bytes) -> dict[str, bytes]:
    """The members of a model file (a ZIP), in order."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def model_file(members: dict[str, bytes]) -> bytes:
    """A model file (an uncompressed ZIP) of ``members``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, body in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), body)
    return out.getvalue()


#: The model files the model targets start from: the corpus's and the 0.1.0 files.
MODEL_SEEDS = sorted((CORPUS / "models").iterdir()) + sorted(
    (Path(__file__).resolve().parent.parent / "data" / "v0_1_0").glob("*.deltaprop")
)


@st.composite
def damaged_model_files(draw) -> tuple[str, bytes]:
    """``(seed name, content)``: a model file of :data:`MODEL_SEEDS` with its bytes, header
    or arrays damaged."""
    seed = draw(st.sampled_from(MODEL_SEEDS))
    data = seed.read_bytes()
    name = f"{seed.parent.name}/{seed.name}"  # two folders hold a classifier.deltaprop
    how = draw(st.sampled_from(["bytes", "header", "header", "array"]))
    try:
        members = model_members(data)
        header = json.loads(members["header.json"])
    except (zipfile.BadZipFile, KeyError, ValueError, RecursionError):
        how = "bytes"
    if how == "header":
        text = json.dumps(draw(mutated_json(header)))
        members["header.json"] = text.encode()
        return f"{name} (header)", _recipe(model_file(members), f"{name}, header {text}")
    if how == "array":
        names = [n for n in members if n != "header.json"]
        if names:
            member = draw(st.sampled_from(names))
            members[member] = damaged = draw(mutated(members[member], member, max_edits=2))
            return f"{name} ({member})", _recipe(model_file(members), f"{name}, {damaged!r}")
    return f"{name} (bytes)", draw(mutated(data, name))


def _recipe(data: bytes, recipe: str) -> Mutated:
    out = Mutated(data)
    out.recipe = recipe
    return out
