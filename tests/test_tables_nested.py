"""Nested Parquet columns (lists, structs, maps) are refused by name and type, never categories.

A cell of such a column holds several values: read as a category, every distinct list
would be a class of its own. The refusal names the column and its Arrow type and says how
to go on (flatten it, or leave it out: a dropped nested column is fine).
"""

from __future__ import annotations

import pytest

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pytest.importorskip("sklearn")

import pyarrow.parquet as pq  # noqa: E402

from deltaprop.cli.main import main  # noqa: E402
from deltaprop.tabular import infer_roles, read_table  # noqa: E402

N = 24
COLUMNS = {
    "tags": (pa.array([[1, 2], [3]] * (N // 2)), "list<element: int64>"),
    "place": (pa.array([{"a": 1, "b": "u"}, {"a": 2, "b": "v"}] * (N // 2)), "struct<a: int64"),
    "counts": (
        pa.array([[("k", 1)], [("j", 2)]] * (N // 2), type=pa.map_(pa.string(), pa.int64())),
        "map<string, int64",
    ),
}


@pytest.fixture
def nested_file(tmp_path):
    def write(name):
        table = pa.table(
            {
                "x": [float(i % 5) for i in range(N)],
                name: COLUMNS[name][0],
                "y": ["a", "b", "c"] * (N // 3),
            }
        )
        path = tmp_path / f"{name}.parquet"
        pq.write_table(table, path)
        return path

    return write


@pytest.mark.parametrize("name", list(COLUMNS))
def test_a_nested_column_is_refused_naming_it_and_its_type(nested_file, name, capsys):
    path = nested_file(name)
    frame = read_table(path)
    with pytest.raises(ValueError, match=rf"column '{name}' holds the nested Parquet type") as info:
        infer_roles(frame, "y")
    assert COLUMNS[name][1] in str(info.value) and f"drop=['{name}']" in str(info.value)
    assert main(["train", str(path), "--target", "y", "--max-iter", "2", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"column '{name}' holds the nested Parquet type" in err
    assert f"--drop {name}" in err
    assert main(["train", str(path), "--target", name, "--drop", "x", "--max-iter", "2"]) == 2
    assert "nested Parquet type" in capsys.readouterr().err  # as the target too


def test_a_dropped_nested_column_trains_and_predicts(nested_file, tmp_path, capsys):
    path, model = nested_file("tags"), tmp_path / "m.deltaprop"
    argv = ["train", str(path), "--target", "y", "--drop", "tags", "--max-iter", "2"]
    assert main([*argv, "-q", "--out", str(model)]) == 0
    assert main(["predict", str(model), str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "y"


def test_lists_in_a_data_frame_are_refused_too():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "tags": [[1], [2, 3], []], "y": [0, 1, 0]})
    with pytest.raises(ValueError, match=r"column 'tags' holds nested values \(lists, e\.g\."):
        infer_roles(frame, "y")
