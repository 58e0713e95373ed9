"""Tabular data: reading files, the preprocessing rules, and preprocessors in model files."""

from __future__ import annotations

import gzip
import math
import re
import sys
import warnings

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

import deltaprop as dp  # noqa: E402
from deltaprop.tabular import (  # noqa: E402
    DataWarning,
    Preprocessor,
    infer_task,
    read_table,
)


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def _standardised(values):
    """``(x - mean) / std`` with the population standard deviation, computed by hand."""
    values = [float(v) for v in values]
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return np.array([(v - mean) / std for v in values])


# -- read_table ---------------------------------------------------------------------------
def test_read_csv(tmp_path):
    path = _write(tmp_path / "t.csv", 'x,colour,n\n1.5,red,1\n-2.0,"blue, dark",2\n\n3e2,red,3\n')
    frame = read_table(path)
    assert list(frame.columns) == ["x", "colour", "n"]
    assert frame["x"].tolist() == [1.5, -2.0, 300.0]
    assert frame["colour"].tolist() == ["red", "blue, dark", "red"]
    assert frame["n"].tolist() == [1, 2, 3]


def test_read_compressed_csv(tmp_path):
    path = tmp_path / "t.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("a,b\n1,x\n2,y\n")
    assert read_table(path).to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "the file is empty"),
        ("\n\n", "the file is empty"),
        ("a,b,c\n", "header but no data rows"),
        ("a,b,c\n\n\n", "header but no data rows"),
        ("a,b,c\n1,2,3\n4,5\n6,7,8\n", "ragged rows: line 3 has 2 field"),
        ("a,b,c\n1,2,3,4\n4,5,6\n", "ragged rows: line 2 has 4 field"),
        ('a,b\n1,"x\ny"\n3,4,5\n', "ragged rows: line 4 has 3 field"),
        ("a,a\n1,2\n", "column name 'a' appears more than once"),
        ("a,,c\n1,2,3\n", "column 2 of the header has no name"),
    ],
)
def test_malformed_csv(tmp_path, text, match):
    path = _write(tmp_path / "bad.csv", text)
    with pytest.raises(ValueError, match=match) as info:
        read_table(path)
    assert "bad.csv" in str(info.value)


def test_read_table_file_errors(tmp_path):
    with pytest.raises(ValueError, match=r"missing\.csv'.*no such file"):
        read_table(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match=r"unknown file type '\.json'"):
        read_table(_write(tmp_path / "t.json", "a\n1\n"))
    # latin-1 text is read (it was an error): the encoding is sniffed, and can be named
    (tmp_path / "latin1.csv").write_bytes("a\ncaf\xe9\n".encode("latin-1"))
    assert read_table(tmp_path / "latin1.csv")["a"].tolist() == ["caf\xe9"]
    with pytest.raises(ValueError, match="not utf-8 text"):
        read_table(tmp_path / "latin1.csv", encoding="utf-8")


def test_read_parquet_file_and_folder(tmp_path):
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]})
    frame.to_parquet(tmp_path / "t.parquet")
    assert read_table(tmp_path / "t.parquet").to_dict("list") == frame.to_dict("list")

    folder = tmp_path / "parts"
    folder.mkdir()
    frame.iloc[:2].to_parquet(folder / "part-0.parquet")
    frame.iloc[2:].to_parquet(folder / "part-1.parquet")
    assert read_table(folder).to_dict("list") == frame.to_dict("list")

    frame.iloc[:0].to_parquet(tmp_path / "empty.parquet")
    with pytest.raises(ValueError, match="header but no data rows"):
        read_table(tmp_path / "empty.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ValueError, match=r"junk\.parquet'.*cannot read Parquet"):
        read_table(tmp_path / "junk.parquet")


def test_read_npz(tmp_path):
    np.savez(
        tmp_path / "t.npz",
        x=np.array([0.5, 1.5]),
        n=np.array([1, 2]),
        colour=np.array(["red", "blue"]),
    )
    frame = read_table(tmp_path / "t.npz")
    assert list(frame.columns) == ["x", "n", "colour"]
    assert frame.to_dict("list") == {"x": [0.5, 1.5], "n": [1, 2], "colour": ["red", "blue"]}


def test_malformed_npz(tmp_path):
    np.savez(tmp_path / "twod.npz", X=np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"array 'X' has shape \(3, 2\).*must be 1-D"):
        read_table(tmp_path / "twod.npz")
    np.savez(tmp_path / "ragged.npz", a=np.zeros(3), b=np.zeros(2))
    with pytest.raises(ValueError, match="ragged columns"):
        read_table(tmp_path / "ragged.npz")
    np.savez(tmp_path / "norows.npz", a=np.zeros(0))
    with pytest.raises(ValueError, match="header but no data rows"):
        read_table(tmp_path / "norows.npz")
    np.savez(tmp_path / "none.npz")
    with pytest.raises(ValueError, match="empty"):
        read_table(tmp_path / "none.npz")
    np.savez(tmp_path / "objects.npz", a=np.array([{"x": 1}, None], dtype=object))
    with pytest.raises(ValueError, match="array 'a' cannot be read"):
        read_table(tmp_path / "objects.npz")
    (tmp_path / "junk.npz").write_bytes(b"\x00junk" * 10)
    with pytest.raises(ValueError, match=r"junk\.npz'"):
        read_table(tmp_path / "junk.npz")


def test_a_damaged_gzip_table_is_a_value_error_naming_the_file(tmp_path):
    # found by the fuzz harness (tests/fuzz): zlib's error used to escape read_table
    data = bytearray(gzip.compress(b"x,y\n" + b"1,a\n" * 200, mtime=0))
    data[10] = 0xFF  # the first byte of the deflate stream: "invalid block type"
    path = tmp_path / "damaged.csv.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"damaged\.csv\.gz': cannot read the file"):
        read_table(path)


@pytest.mark.parametrize("damage", ["local header", "deflate stream", "npy header"])
def test_an_npz_with_a_damaged_member_is_a_value_error_naming_the_file(tmp_path, damage):
    # found by the fuzz harness (tests/fuzz): zipfile's BadZipFile, zlib's error and
    # NumPy's header tokenizer's TokenError used to escape read_table
    path = tmp_path / "damaged.npz"
    compressed = damage == "deflate stream"
    (np.savez_compressed if compressed else np.savez)(path, x=np.arange(50.0), y=np.ones(50))
    data = bytearray(path.read_bytes())
    if compressed:
        start = data.index(b"x.npy") + len(b"x.npy")
        data[start + 10 : start + 30] = b"\xff" * 20  # the deflated stream of member x
    elif damage == "npy header":  # a lone .npy, its header with an unmatched bracket
        with open(path, "wb") as file:
            np.save(file, np.arange(50.0))
        data = bytearray(path.read_bytes())
        start = data.index(b"'fortran_order'")
        data[start : start + 1] = b"]"
    else:
        data[30:31] = b"z"  # the first member's name in its local header: "z.npy"
    path.write_bytes(bytes(data))
    problem = "not a readable .npz" if damage == "npy header" else "array 'x' cannot be read"
    with pytest.raises(ValueError, match=rf"damaged\.npz': {problem}"):
        read_table(path)


def test_missing_pandas_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r'pip install "deltaprop\[data\]"'):
        read_table("t.csv")
    with pytest.raises(ImportError, match=r'pip install "deltaprop\[data\]"'):
        Preprocessor().fit({"a": [1.0]})


# -- the preprocessing rules --------------------------------------------------------------
def test_standardisation_and_one_hot():
    x = [3.0, -1.0, 4.0, 1.5, 9.0]
    table = {"x": x, "colour": ["red", "blue", "red", "green", "blue"], "k": [7, 7, 7, 7, 7]}
    pre = Preprocessor(scaling="standard").fit(table)
    # k holds one value: a constant, left out (it was a column of zeros before)
    assert pre.roles_["k"].role == "constant"
    assert pre.get_feature_names_out() == ["x", "colour=blue", "colour=green", "colour=red"]
    X = pre.transform(table)
    assert X.dtype == np.float64
    assert X.shape == (5, 4)
    np.testing.assert_allclose(X[:, 0], _standardised(x), rtol=1e-14, atol=1e-15)
    assert X[:, 1:4].tolist() == [[0, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]]
    assert pre.mean_.tolist() == [sum(x) / 5]
    # one value and a gap: filled with that value, zero variance: centred, not divided by 0
    pre = Preprocessor(scaling="standard").fit({"k": [7, 7, None, 7, 7]})
    assert pre.transform({"k": [7, 7, None, 7, 7]})[:, 0].tolist() == [0.0] * 5
    assert (pre.mean_[0], pre.scale_[0]) == (7.0, 1.0)


def test_float32_output_and_no_standardisation():
    table = {"x": [1.0, 2.0, 4.0]}
    assert Preprocessor(dtype="float32").fit(table).transform(table).dtype == np.float32
    assert Preprocessor(standardize=False).fit(table).transform(table)[:, 0].tolist() == [1, 2, 4]


def test_columns_matched_by_name():
    train = {"a": [1.0, 2.0, 3.0], "b": ["x", "y", "x"]}
    pre = Preprocessor().fit(train)
    expected = pre.transform(train)
    reordered = {"b": ["x", "y", "x"], "a": [1.0, 2.0, 3.0]}
    assert np.array_equal(pre.transform(reordered), expected)

    with pytest.warns(
        DataWarning, match=r"ignoring column\(s\) the model was not trained on: \['z'\]"
    ):
        assert np.array_equal(pre.transform({**reordered, "z": [0, 0, 0]}), expected)
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['a'\]"):
        pre.transform({"b": ["x", "y", "x"]})


def test_unseen_category_is_all_zeros_with_a_warning():
    pre = Preprocessor().fit({"c": ["a", "b", "a"]})
    with pytest.warns(DataWarning, match=r"column 'c': 2 row\(s\).*\['q', 'z'\]"):
        X = pre.transform({"c": ["z", "b", "q"]})
    assert X.tolist() == [[0, 0], [0, 1], [0, 0]]


@pytest.mark.parametrize(
    ("values", "shown", "median"),
    [
        ([1.5, 2.5, "12,O5", 4.0], "1 value is not a number (row 3 ('12,O5'))", 2.5),
        (["1", "2", "abc", "4", "5"], "1 value is not a number (row 3 ('abc'))", 3.0),
        # exactly half are numbers: still numeric
        (["1", "x", "2", "y"], "2 values are not numbers (row 2 ('x'), row 4 ('y'))", 1.5),
    ],
)
def test_not_numbers_in_numeric_column_are_read_as_missing(values, shown, median):
    pre = Preprocessor().fit({"price": values})
    role = pre.roles_["price"]
    assert role.role == "numeric"
    assert f"{shown}, read as missing" in role.reason
    assert pre.fill_values_["price"] == median
    assert pre.get_feature_names_out() == ["price", "price (missing)"]
    bad = np.array([isinstance(v, str) and not v.isdigit() for v in values])
    rows = re.escape(shown[shown.index("(") :])
    with pytest.warns(DataWarning, match=rf"column 'price': {bad.sum()} value\(s\) .*{rows}"):
        X = pre.transform({"price": values})
    np.testing.assert_array_equal(X[:, 1], bad.astype(float))
    filled = pre.transform({"price": [median]})[0, 0]
    np.testing.assert_array_equal(X[bad, 0], filled)
    # without imputation they are an error naming the column, the first row and value
    first = shown[shown.index("row ") :].split(")")[0] + ")"
    row, value = re.match(r"row (\d+) \('(.*)'\)", first).groups()
    with pytest.raises(ValueError, match=rf"column 'price', row {row}: '{value}' is not a number"):
        Preprocessor(impute=None).fit({"price": values})


def test_typo_in_csv_column(tmp_path):
    path = _write(tmp_path / "t.csv", 'price,y\n1.5,a\n2.5,b\n"12,O5",a\n4.0,b\n')
    pre = Preprocessor(target="y").fit(read_table(path))
    assert "row 3 ('12,O5')), read as missing" in pre.roles_["price"].reason
    with pytest.raises(ValueError, match=r"column 'price', row 3: '12,O5' is not a number"):
        Preprocessor(target="y", impute=None).fit(read_table(path))


def test_mostly_text_column_is_categorical():
    pre = Preprocessor().fit({"code": ["A1", "B2", "7", "C3"]})
    assert pre.columns_ == [
        {"name": "code", "kind": "categorical", "categories": ["7", "A1", "B2", "C3"]}
    ]


def test_forced_categorical_numbers():
    pre = Preprocessor(categorical=["grade"]).fit({"grade": [1.0, 3.0, 2.0, 3.0]})
    assert pre.get_feature_names_out() == ["grade=1", "grade=2", "grade=3"]
    assert pre.transform({"grade": [3, 1]}).tolist() == [[0, 0, 1], [1, 0, 0]]
    with pytest.raises(ValueError, match=r"not features: \['nope'\]"):
        Preprocessor(categorical=["nope"]).fit({"grade": [1.0]})


def test_missing_values_are_an_error_naming_column_and_count():
    # without imputation (impute=None; the default fills them)
    table = {"a": [1.0, np.nan, 3.0, np.nan], "b": ["x", "y", None, "x"]}
    with pytest.raises(ValueError, match=r"column 'a' has missing values in 2 rows \(rows 2, 4\)"):
        Preprocessor(impute=None).fit(table)
    with pytest.raises(ValueError, match=r"column 'b' has missing values in 1 row \(row 3\)"):
        Preprocessor(impute=None).fit({"b": table["b"]})
    pre = Preprocessor(impute=None).fit({"a": [1.0, 2.0]})
    with pytest.raises(ValueError, match="column 'a' has missing values in 1 row"):
        pre.transform({"a": [np.nan, 1.0]})
    # an all-missing column is a constant, left out; with nothing else, no features
    with pytest.raises(ValueError, match=r"no feature columns.*'a' \(constant: all 2 values"):
        Preprocessor(impute="mean").fit({"a": [np.nan, np.nan]})
    # infinities are clipped to the column's finite range (they were an error)
    pre = Preprocessor(scaling="standard").fit({"a": [1.0, 2.0, np.inf, -np.inf]})
    assert (
        pre.transform({"a": [np.inf, -np.inf]}).tolist()
        == pre.transform({"a": [2.0, 1.0]}).tolist()
    )
    np.testing.assert_allclose(pre.transform({"a": [1.0, 2.0]})[:, 0], [-1.0, 1.0], rtol=1e-14)


@pytest.mark.parametrize("impute", ["mean", "median", "most_frequent"])
def test_imputation(impute):
    a = [1.0, np.nan, 3.0, 9.0, np.nan, 1.0]
    table = {"a": a, "b": ["y", "x", None, "x", "y", "y"]}
    pre = Preprocessor(impute=impute, scaling="standard").fit(table)
    present = [v for v in a if not np.isnan(v)]
    expected_fill = {"mean": sum(present) / 4, "median": 2.0, "most_frequent": 1.0}[impute]
    assert pre.fill_values_ == {"a": expected_fill, "b": "y"}
    assert pre.get_feature_names_out() == ["a", "a (missing)", "b=x", "b=y", "b (missing)"]
    filled = [expected_fill if np.isnan(v) else v for v in a]
    X = pre.transform(table)
    np.testing.assert_allclose(X[:, 0], _standardised(filled), rtol=1e-14, atol=1e-15)
    assert X[:, 1].tolist() == [0, 1, 0, 0, 1, 0]  # the indicator of a's gaps
    assert X[2, 2:].tolist() == [0.0, 1.0, 1.0]  # the missing text value became "y", flagged
    assert Preprocessor(impute=impute, add_indicator=False).fit(table).n_features_out_ == 3
    # Transform-time gaps are filled with the training statistic too.
    X_new = pre.transform({"a": [np.nan], "b": [None]})
    assert X_new[0, 0] == pytest.approx((expected_fill - pre.mean_[0]) / pre.scale_[0])


def test_classification_target_string_labels():
    labels = ["dog", "cat", "emu", "cat", "dog"]
    table = {"x": [1.0, 2.0, 3.0, 4.0, 5.0], "animal": labels}
    pre = Preprocessor(target="animal").fit(table)
    assert pre.task_ == "classification"
    assert pre.feature_names_in_ == ["x"]
    assert pre.classes_.tolist() == np.unique(np.array(labels, dtype=object)).tolist()
    assert pre.classes_.tolist() == ["cat", "dog", "emu"]
    codes = pre.transform_target(table)
    assert codes.tolist() == [1, 0, 2, 0, 1]
    assert pre.inverse_transform_target(codes).tolist() == labels
    assert pre.transform_target(pd.Series(["emu", "cat"])).tolist() == [2, 0]
    with pytest.raises(ValueError, match=r"label\(s\) not seen in training: \['yak'\]"):
        pre.transform_target({"animal": ["yak", "cat"]})
    with pytest.raises(ValueError, match="class indices"):
        pre.inverse_transform_target([3])


def test_classification_target_numbers_and_bools():
    pre = Preprocessor(target="y").fit({"x": [1, 2, 3, 4], "y": [5, 2, 5, 2]})
    assert pre.classes_.tolist() == [2, 5]
    assert pre.classes_.dtype.kind == "i"
    assert pre.inverse_transform_target([1, 0]).tolist() == [5, 2]
    pre = Preprocessor(target="y").fit({"x": [1, 2, 3], "y": [True, False, True]})
    assert pre.classes_.tolist() == [False, True]
    assert pre.transform_target({"y": [True, False]}).tolist() == [1, 0]


def test_target_errors():
    with pytest.raises(ValueError, match="single class 'a'"):
        Preprocessor(target="y").fit({"x": [1, 2, 3], "y": ["a", "a", "a"]})
    codes = [f"K{i:03d}" for i in range(20)]
    with pytest.raises(
        ValueError, match="target column 'y' has a different class in every one of its 20 rows"
    ):
        Preprocessor(target="y").fit({"x": [i % 4 for i in range(20)], "y": codes})
    with pytest.raises(ValueError, match="different class in every one of its 25 rows"):
        Preprocessor(target="y", task="classification").fit(
            {"x": [i % 4 for i in range(25)], "y": range(25)}
        )
    # one class seen twice is something to learn from; a few rows, a small example
    x = [i % 4 for i in range(20)]
    pre = Preprocessor(target="y").fit({"x": x, "y": [*codes[:19], codes[0]]})
    assert len(pre.classes_) == 19
    assert len(Preprocessor(target="y").fit({"x": x[:19], "y": codes[:19]}).classes_) == 19
    with pytest.raises(ValueError, match="target column 'label' is not in the table"):
        Preprocessor(target="label").fit({"x": [1, 2]})
    with pytest.raises(
        ValueError, match=r"column 'y' has missing values in 1 row.*cannot be imputed"
    ):
        Preprocessor(target="y", impute="mean").fit({"x": [1, 2, 3], "y": ["a", None, "b"]})
    with pytest.raises(ValueError, match="no feature columns"):
        Preprocessor(target="y").fit({"y": [1.0, 2.0]})


def test_regression_target_standardised_and_back():
    price = [250_000.0, 410_500.0, 189_900.0, 1_250_000.0, 330_000.0]
    table = {"rooms": [3, 5, 2, 9, 4], "price": price}
    pre = Preprocessor(target="price", dtype="float32").fit(table)
    assert pre.task_ == "regression"
    y = pre.transform_target(table)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, _standardised(price), rtol=1e-6)
    assert pre.target_mean_ == pytest.approx(sum(price) / 5, rel=1e-15)
    back = pre.inverse_transform_target(_standardised(price))
    np.testing.assert_allclose(back, price, rtol=1e-12)
    with pytest.raises(ValueError, match=r"column 'price', row 1: 'n/o' is not a number"):
        pre.transform_target({"price": ["n/o", "1.0", "2.0"]})
    # "n/a" is a null spelling: a missing target value
    with pytest.raises(ValueError, match=r"column 'price' has missing values in 1 row"):
        pre.transform_target({"price": ["n/a", "1.0", "2.0"]})


def test_infer_task_rules():
    assert infer_task(["cat", "dog", "cat"]) == "classification"
    assert infer_task([True, False, True]) == "classification"
    assert infer_task([0, 1, 1, 0]) == "classification"
    assert infer_task(np.arange(40) % 20) == "classification"  # 20 distinct, repeated
    assert infer_task(np.arange(42) % 21) == "regression"  # 21 distinct
    assert infer_task([3, 1, 2]) == "regression"  # no value repeats
    assert infer_task([0.0, 1.0, 1.0, 0.0]) == "regression"  # floats
    assert infer_task(pd.Series(["1", "2", "2"])) == "classification"
    assert infer_task(pd.Series(["1.5", "2", "2"])) == "regression"
    with pytest.raises(ValueError, match=r"column 'y', row 2: 'oops' is not a number"):
        infer_task(["1", "oops", "3"], name="y")
    # repeated integer codes beside a word are labels (barley's "1" ... "9", "X")
    assert infer_task(["1", "2", "X", "1", "2", "X"]) == "classification"
    with pytest.raises(ValueError, match=r"column 'y', row 3: 'X' is not a number"):
        infer_task(["1.5", "2", "X", "1.5", "2"], name="y")  # not integers: an error
    # a target's remedy is the task, not --categorical (which names features only)
    with pytest.raises(ValueError, match=r"give the task as classification to read them all"):
        infer_task(["1.5", "2", "X", "1.5", "2"], name="y")


def test_bad_parameters():
    with pytest.raises(ValueError, match="impute must be one of"):
        Preprocessor(impute="zero")
    with pytest.raises(ValueError, match="task must be one of"):
        Preprocessor(task="ranking")
    with pytest.raises(ValueError, match="dtype must be one of"):
        Preprocessor(dtype="int32")
    with pytest.raises(ValueError, match="not fitted"):
        Preprocessor().transform({"a": [1.0]})


# -- preprocessors in model files ----------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "table"),
    [
        (
            {"target": "animal", "impute": "median", "dtype": "float32"},
            {
                "x": [1.0, np.nan, 3.5, 4.0],
                "c": ["u", "v", None, "u"],
                "animal": ["dog", "cat", "dog", "emu"],
            },
        ),
        ({"target": "price"}, {"x": [1.0, 2.0, 5.0], "price": [1e5, 3e5, 2.5e5]}),
        ({"target": "y", "categorical": ["k"]}, {"k": [1, 2, 1], "y": [0, 1, 1]}),
        ({}, {"x": [0.1, 0.2, 0.3]}),
    ],
)
def test_preprocessor_round_trip(tmp_path, params, table):
    pre = Preprocessor(**params).fit(table)
    path = tmp_path / "pre.deltaprop"
    dp.save(pre, path)
    again = dp.load(path)
    assert isinstance(again, Preprocessor)
    for key in ("target", "task", "impute", "categorical", "dtype"):
        assert getattr(again, key) == getattr(pre, key)
    assert again.columns_ == pre.columns_
    assert again.fill_values_ == pre.fill_values_
    assert again.mean_.tobytes() == pre.mean_.tobytes()
    assert again.scale_.tobytes() == pre.scale_.tobytes()
    X, X_again = pre.transform(table), again.transform(table)
    assert X_again.dtype == X.dtype and X_again.tobytes() == X.tobytes()
    assert again.task_ == pre.task_
    if pre.task_ is not None:
        assert np.array_equal(again.transform_target(table), pre.transform_target(table))
    if pre.task_ == "classification":
        assert again.classes_.dtype == pre.classes_.dtype
        assert again.classes_.tolist() == pre.classes_.tolist()
    if pre.task_ == "regression":
        assert (again.target_mean_, again.target_scale_) == (pre.target_mean_, pre.target_scale_)


def test_tampered_preprocessor_file(tmp_path):
    import json
    import zipfile

    pre = Preprocessor(target="y").fit({"x": [1.0, 2.0], "c": ["a", "b"], "y": ["p", "q"]})
    path = tmp_path / "pre.deltaprop"
    dp.save(pre, path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = json.loads(members["header.json"])
    header["config"]["columns"][1]["categories"] = ["b", "a"]
    members["header.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match="categories must be sorted and distinct"):
        dp.load(path)


def test_transform_does_not_warn_for_the_target_column():
    pre = Preprocessor(target="y").fit({"x": [1.0, 2.0], "y": ["a", "b"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pre.transform({"x": [1.0], "y": ["a"]})


@pytest.mark.parametrize(
    ("text", "decimal", "number"),
    [
        ("$1,234.50", ".", 1234.5),
        ("-$12", ".", -12.0),
        ("$-12", ".", -12.0),
        ("12 €", ".", 12.0),
        ("12,50 €", ",", 12.5),
        ("€ 1.234,5", ",", 1234.5),
        ("£3", ".", 3.0),
        ("1 234 ¥", ".", 1234.0),
        ("₹7.5", ".", 7.5),
        ("$", ".", None),
        ("$ abc", ".", None),
        ("-$-12", ".", None),
        ("US$5", ".", None),
        ("(1,234.50)", ".", -1234.5),
        ("($12)", ".", -12.0),
        ("(12,5 €)", ",", -12.5),
        ("(7)", ".", -7.0),
        ("(-7)", ".", None),
        ("(a)", ".", None),
        ("()", ".", None),
        ("((1))", ".", None),
    ],
)
def test_currency_symbols_and_accounting_negatives(text, decimal, number):
    from deltaprop.tabular.columns import number_from_text

    value = number_from_text(text, decimal)
    assert np.isnan(value) if number is None else value == number, value


def test_a_column_of_amounts_is_numeric():
    amounts = [f"${v:,.2f}" for v in (1234.5, 99.0, 12000.25, 7.0)]
    pre = Preprocessor(target="y").fit({"amount": amounts, "y": ["a", "b", "a", "b"]})
    assert pre.roles_["amount"].role == "numeric"
    assert pre.low_[0] == 7.0 and pre.high_[0] == 12000.25
