"""Fast start: a model file loads without scikit-learn, a small CSV reads without pandas.

Both short cuts must give exactly the answers of the long way: the same predictions
(``array_equal``, dtypes included), the same warnings, the same bytes written by
``deltaprop predict``. Nothing here is timed (benchmarks/startup.py times it); the
subprocess tests check which modules a command imported.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

import deltaprop as dp  # noqa: E402
from deltaprop.cli import tabular as cli_tabular  # noqa: E402
from deltaprop.cli.main import main  # noqa: E402
from deltaprop.tabular import read_table  # noqa: E402
from deltaprop.tabular.plain import (  # noqa: E402
    PlainTable,
    plain_csv_text,
    read_small_csv,
    tidy_strings,
)
from deltaprop.tabular.readers import tidy  # noqa: E402
from deltaprop.tabular.stored import StoredEstimator  # noqa: E402

CORPUS = Path(__file__).parent / "data" / "messy"
#: CSV files of the messy corpus -> (target, ID columns)
CSV_CASES = {
    "hr.csv": ("left", ["employee_id"]),
    "churn.tsv": ("churn", ["customer"]),
    "houses_eu.csv": ("prix", []),
    "flights.csv": ("delayed", []),
    "lab.csv": ("progression", []),
    "iris_bom.csv": ("species", []),
    "wine_notes.csv": ("cultivar", []),
    "sales.csv": ("returned", ["order_id"]),
    "survey.csv": ("recommend", []),
    "reviews.csv": ("sentiment", []),
    "sensors.csv": ("output", []),
    "credit.csv.gz": ("default", []),
    "dates_eu.csv": ("temperatur", []),
}
#: Corpus files with a datetime feature: pandas parses the dates.
WITH_DATES = {"flights.csv", "sales.csv", "dates_eu.csv"}


def _env():
    src = str(Path(dp.__file__).resolve().parent.parent)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


def _columns_equal(plain: PlainTable, frame) -> None:
    assert plain.columns == list(frame.columns)
    for name in plain.columns:
        expected = frame[name].to_numpy()
        assert plain[name].dtype == expected.dtype, name
        if expected.dtype == object:
            assert plain[name].tolist() == expected.tolist(), name
        else:
            assert np.array_equal(plain[name], expected, equal_nan=True), name


@pytest.mark.parametrize("name", sorted(CSV_CASES))
def test_small_csv_reads_as_read_table(name):
    plain = read_small_csv(CORPUS / name)
    assert plain is not None  # every CSV of the corpus is read without pandas
    _columns_equal(plain, read_table(CORPUS / name))


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    """name -> a small model trained on the corpus file, saved and its path."""
    folder = tmp_path_factory.mktemp("models")
    paths = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (target, ids) in CSV_CASES.items():
            frame = read_table(CORPUS / name)
            task = dp.tabular.infer_task(frame[target])
            kind = dp.MLPClassifier if task == "classification" else dp.MLPRegressor
            estimator = kind(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=5, random_state=0)
            model = dp.TabularModel(estimator, id_columns=ids or None).fit(frame, target)
            paths[name] = folder / f"{name}.deltaprop"
            dp.save(model, paths[name])
    return paths


def _answers(model, table):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        answers = [model.predict(table)]
        if model.task_ == "classification":
            answers.append(model.predict_proba(table))
    return answers, [str(w.message) for w in caught]


@pytest.mark.parametrize("name", sorted(CSV_CASES))
def test_predictions_without_pandas_and_sklearn_are_the_same(name, saved_models):
    model = dp.load(saved_models[name])
    assert isinstance(model._fitted_estimator, StoredEstimator)
    plain = read_small_csv(CORPUS / name)
    assert model.preprocessor_.reads_plain_tables() == (name not in WITH_DATES)
    frame = read_table(CORPUS / name)
    # the stored predictor, before anything builds the scikit-learn estimator
    fast, fast_warnings = _answers(model, plain if name not in WITH_DATES else frame)
    assert not model._fitted_estimator.built
    slow, slow_warnings = _answers(model, frame)
    assert not model._fitted_estimator.built
    estimator = model.estimator_  # built now: it answers from here on
    assert model._fitted_estimator.built and model.estimator is estimator
    built, built_warnings = _answers(model, frame)
    for a, b, c in zip(fast, slow, built, strict=True):
        assert a.dtype == b.dtype == c.dtype
        assert np.array_equal(a, b) and np.array_equal(a, c)
    assert fast_warnings == slow_warnings == built_warnings
    if name in WITH_DATES:
        with pytest.raises(ValueError, match="datetime columns need pandas"):
            model.predict(plain)


@pytest.mark.parametrize("name", sorted(CSV_CASES))
def test_cli_predict_writes_the_same_bytes(name, saved_models, monkeypatch, capsys):
    argv = ["predict", str(saved_models[name]), str(CORPUS / name)]
    if dp.load(saved_models[name]).task_ == "classification":
        argv.append("--proba")
    assert main(argv) == 0
    fast = capsys.readouterr()
    monkeypatch.setattr(cli_tabular, "read_small_csv", lambda *a, **k: None)
    assert main(argv) == 0
    slow = capsys.readouterr()
    assert fast.out == slow.out
    assert fast.err == slow.err


_IMPORTS_CHILD = """
import contextlib, io, json, os, sys
for name in os.environ.get("BLOCK_MODULES", "").split():
    sys.modules[name] = None  # as if not installed: importing it raises ImportError
from deltaprop.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:  # --help
        code = exc.code
loaded = {m.split(".")[0] for m, module in sys.modules.items() if module is not None}
print(json.dumps([code, sorted(loaded & {"sklearn", "pandas", "scipy", "pyarrow"})]))
"""


def _imports(*argv: str, block: str = "") -> tuple[int, list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", _IMPORTS_CHILD, *argv],
        capture_output=True, text=True, env={**_env(), "BLOCK_MODULES": block}, check=True,
        timeout=120,
    )  # fmt: skip
    return tuple(json.loads(out.stdout.splitlines()[-1]))


def test_predict_and_info_import_neither_sklearn_nor_pandas(saved_models, tmp_path):
    model = str(saved_models["hr.csv"])
    assert _imports("--help") == (0, [])
    assert _imports("info", model) == (0, [])
    assert _imports("predict", model, str(CORPUS / "hr.csv"), "--proba") == (0, [])
    out = tmp_path / "p.csv"
    assert _imports("predict", model, str(CORPUS / "hr.csv"), "--out", str(out)) == (0, [])
    assert out.read_text().startswith("employee_id,left\n")
    # a file read by pandas (a quote inside a field): pandas, still no scikit-learn
    odd = tmp_path / "odd.csv"
    odd.write_text((CORPUS / "hr.csv").read_text().replace(",sales,", ',sa"les,', 1))
    code, loaded = _imports("predict", model, str(odd))
    assert code == 0 and "pandas" in loaded and "sklearn" not in loaded


def test_predict_works_without_sklearn_and_pandas_installed(saved_models, tmp_path):
    model, data = str(saved_models["churn.tsv"]), str(CORPUS / "churn.tsv")
    out = tmp_path / "p.csv"
    argv = ("predict", model, data, "--proba", "--out", str(out))
    assert _imports(*argv, block="sklearn pandas") == (0, [])
    assert main([*argv[:-1], str(tmp_path / "q.csv")]) == 0
    assert out.read_bytes() == (tmp_path / "q.csv").read_bytes()
    # a file that needs pandas says so
    code, _ = _imports("predict", model, str(CORPUS / "penguins.npz"), block="sklearn pandas")
    assert code == 1


# -- the reader's parity on hand-made files ------------------------------------------------
ODD_FILES = {
    "plain": ("a,b\n1,x\n2,y\n", True),
    "crlf and a blank line": ("a,b\r\n1,x\r\n\r\n2,y\r\n", True),
    "quoted fields": ('a,b\n"1,5","say ""hi"""\n2,"multi\nline"\n', True),
    "nulls and spaces": ("a , b\n NA ,  x \n-, N/A\n3,?\n", True),
    "percent and thousands": ('a,b\n45%,"1,234"\n7 %,"12,000.5"\n', True),
    "currency": ('a,b\n"$1,234.50",-£12\n€7,3 ¥\n', True),
    "currency, decimal comma": ("a;b\n12,50 €;x\n€ 1.234,5;y\n", True),
    "parentheses stay text": ('a,b\n"(1,234)",x\n12,y\n', True),
    "big and tiny numbers": ("a,b\n1e300,12345678901234567\n-inf,1\n", True),
    "decimal comma": ("a;b\n1,5;x\n2,25;y\n", True),
    "pandas index column": (",a,b\n0,1,x\n1,2,y\n", True),
    "trailing separator": ("a,b,c\n1,2,\n3,4,\n", True),
    "ends in a separator": ("a,b\n1,", True),
    "a quote inside a field": ('a,b\n1,x"y\n2,z\n', False),
    "text after a quoted field": ('a,b\n1,"x"y\n2,z\n', False),
    "a line of spaces": ("a,b\n1,x\n   \n2,y\n", False),
    "a lone carriage return": ("a,b\n1,x\r2,y\n", False),
    "one column": ("a\n1\n2\n", False),
    "ragged": ("a,b\n1\n2,3\n", False),
}


@pytest.mark.parametrize("name", sorted(ODD_FILES))
def test_odd_files_read_the_same_or_by_pandas(name, tmp_path):
    text, plain_expected = ODD_FILES[name]
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode("utf-8"))
    plain = read_small_csv(path)
    assert (plain is not None) == plain_expected
    if plain is not None:
        _columns_equal(plain, read_table(path))


def test_large_files_and_other_formats_go_to_pandas(tmp_path):
    big = tmp_path / "big.csv"
    big.write_text("a,b\n" + "1.25,x\n" * 200_000)
    assert big.stat().st_size > 2**20 and read_small_csv(big) is None
    assert read_small_csv(CORPUS / "penguins.npz") is None
    assert read_small_csv(tmp_path / "absent.csv") is None


def test_tidy_strings_follow_the_pandas_rules():
    cases = [
        ["1", "2", "3"],
        ["1", "", "3"],
        ["1.0", "2"],
        ["1", "x"],
        ["1_000", "0x10", "١٢", "inf", "1e400"],
        ["9007199254740993", "1"],
        [" a ", "NULL", "b"],
        ["", "-", "?"],
    ]
    for cells in cases:
        expected = read_table_from_cells(cells)
        got = tidy_strings(cells)
        assert got.dtype == expected.dtype, cells
        assert got.tolist() == expected.tolist() or np.array_equal(got, expected, equal_nan=True)


def read_table_from_cells(cells):
    frame = pd.DataFrame({"c": pd.Series(cells, dtype=object)})
    return tidy(frame, pd)["c"].to_numpy()


def test_plain_csv_text_is_what_pandas_writes(rng):
    n = 400
    floats = rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n)
    floats[:4] = [np.nan, np.inf, -0.0, 1e16]
    floats32 = (rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)).astype(np.float32)
    floats32[:2] = [np.nan, -np.inf]
    texts = np.array([None, "a,b", 'q"t', "x\ny", "", " s ", "é", "z"] * (n // 8), dtype=object)
    columns = [
        ("f64", floats),
        ("f32", floats32),
        ("i", rng.integers(-(2**62), 2**62, n)),
        ("text", texts),
        ("flag", rng.random(n) > 0.5),
    ]
    expected = pd.DataFrame(dict(columns)).to_csv(index=False, lineterminator="\n")
    assert plain_csv_text(columns) == expected


def test_a_loaded_model_pickles_saves_and_refits_as_before(saved_models, tmp_path):
    path = saved_models["hr.csv"]
    frame = read_table(CORPUS / "hr.csv")
    model = dp.load(path)
    again = pickle.loads(pickle.dumps(model))
    assert not again._fitted_estimator.built
    assert np.array_equal(again.predict(frame), model.predict(frame))
    copy = tmp_path / "copy.deltaprop"
    dp.save(model, copy)  # builds the estimator, which writes the same bytes
    assert copy.read_bytes() == path.read_bytes()
    assert model.estimator is model.estimator_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(frame, "left")  # a loaded model trains again
    assert type(model.estimator_) is dp.MLPClassifier
    assert np.array_equal(
        model.predictor_.predict(model.transform(frame)),
        model.estimator_.predict(model.transform(frame)),
    )


def test_a_yes_no_column_in_any_case_predicts_the_same_without_pandas(tmp_path):
    rng = np.random.default_rng(0)
    spellings = ["Yes", "yes", "YES", "no", "No", "NA"]
    rows = [f"{rng.normal():.3f},{spellings[i % 6]},{'ab'[i % 2]}" for i in range(60)]
    train = tmp_path / "train.csv"
    train.write_text("x,member,y\n" + "\n".join(rows) + "\n")
    estimator = dp.MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # five L-BFGS steps do not converge
        model = dp.TabularModel(estimator).fit(read_table(train), "y")
    member = next(c for c in model.preprocessor_.columns_ if c["name"] == "member")
    assert member["categories"] == ["no", "yes"]
    new = tmp_path / "new.csv"  # spellings not seen in training: "yES", "nO"
    new.write_text("x,member\n0.5,yES\n-0.5,nO\n0.5,yes\n-0.5,no\n")
    fast = model.predict_proba(read_small_csv(new))
    slow = model.predict_proba(read_table(new))
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(fast[:2], fast[2:])
