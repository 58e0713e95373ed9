"""Exports a user trial found misread: day-first and impossible dates, ``dd-Mon-yyyy``,
integer class codes with blank cells."""

from __future__ import annotations

import datetime
import warnings

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

import deltaprop as dp  # noqa: E402
from deltaprop.cli.main import main  # noqa: E402
from deltaprop.cli.tabular import _spelling_matters  # noqa: E402
from deltaprop.files import load, save  # noqa: E402
from deltaprop.tabular import Preprocessor, infer_roles, infer_task, read_table  # noqa: E402
from deltaprop.tabular.columns import (  # noqa: E402
    DECIMAL,
    DataWarning,
    case_variants,
    number_from_text,
)
from deltaprop.tabular.plain import read_small_csv  # noqa: E402
from deltaprop.tabular.preprocessing import _codes_of_unseen  # noqa: E402
from deltaprop.tabular.roles import parse_dates, reads_day_first  # noqa: E402


def _days(*dates):
    epoch = datetime.date(1970, 1, 1)
    return np.array([(datetime.date(*d) - epoch).days for d in dates], dtype=np.float64)


def test_dd_mon_yyyy_dates_are_dates():
    frame = pd.DataFrame({"when": ["04-Mar-2021", "17-Dec-2020", "01-Jan-2019"] * 10})
    assert infer_roles(frame)["when"].role == "datetime"
    np.testing.assert_array_equal(
        parse_dates(frame["when"][:3], pd), _days((2021, 3, 4), (2020, 12, 17), (2019, 1, 1))
    )


def test_a_column_whose_first_field_passes_12_is_read_day_first():
    dates = pd.Series(["19/08/2022", "08/07/2021", "2021-03-04", "4.3.21", None])
    assert reads_day_first(dates.dropna())
    days = parse_dates(dates, pd, day_first=True)
    expected = _days((2022, 8, 19), (2021, 7, 8), (2021, 3, 4), (2021, 3, 4))
    np.testing.assert_array_equal(days[:4], expected)  # ISO stays year-month-day
    assert np.isnan(days[4])
    assert not reads_day_first(["08/07/2021", "12/31/2021"])  # month first: 31 is a day
    assert not reads_day_first(["19/08/2022", "08/31/2021"])  # both: each value alone


def test_the_model_keeps_day_first_for_prediction(tmp_path):
    train = pd.DataFrame(
        {"when": ["19/08/2022", "08/07/2021", "25/12/2020", "03/02/2021"] * 5, "y": [0.0, 1.0] * 10}
    )
    pre = Preprocessor(target="y").fit(train)
    (column,) = pre.columns_
    assert column["day_first"] is True
    # a batch without a first field above 12 is still read day first
    batch = pd.DataFrame({"when": ["08/07/2021"]})
    expected = Preprocessor(target="y").fit(
        pd.DataFrame({"when": ["2021-07-08", "2021-07-09"] * 5, "y": [0.0, 1.0] * 5})
    )
    year = pre.transform(batch)[0, 0] * pre.scale_[0] + pre.mean_[0]
    assert year == pytest.approx(2021 + (31 + 28 + 31 + 30 + 31 + 30 + 7) / 365, abs=2e-3)
    assert expected.columns_[0].get("day_first") is None  # ISO: no key, old files alike
    # a file written month first: its 01/13/2021 is impossible read day first, so missing
    # and said, not read month first beside 08/07/2021 read day first
    month_first = pd.DataFrame({"when": ["01/13/2021", "08/07/2021", "2021-07-08", "12/31/2021"]})
    with pytest.warns(DataWarning) as caught:
        X = pre.transform(month_first)
    (said,) = [str(w.message) for w in caught]
    assert said == (
        "column 'when': 2 date(s) cannot be read day first, as in training (row 1 "
        "('01/13/2021'), row 4 ('12/31/2021')), read as missing; is this file written month first?"
    )
    filled = pre.transform(pd.DataFrame({"when": [None]}))
    np.testing.assert_array_equal(X[[0, 3]], np.vstack([filled, filled]))
    np.testing.assert_array_equal(X[1], X[2])  # 8 July both ways


def test_impossible_dates_among_dates_are_missing():
    when = ["2021-03-04", "2020-12-17", "0000-00-00", "2019-01-01"] * 10
    frame = pd.DataFrame({"when": when, "y": np.arange(40.0)})
    role = infer_roles(frame, "y")["when"]
    assert role.role == "datetime" and role.n_missing == 10
    assert "10 are not real dates (0000-00-00): read as missing" in role.reason
    pre = Preprocessor(target="y").fit(frame)
    assert pre.columns_[0]["missing"] is True
    flags = pre.transform(frame.drop(columns="y"))[:, -1]
    np.testing.assert_array_equal(flags, [0.0, 0.0, 1.0, 0.0] * 10)
    mostly_bad = pd.DataFrame({"when": ["0000-00-00", "0000-00-00", "2021-03-04"] * 10})
    assert infer_roles(mostly_bad)["when"].role != "datetime"


def test_integer_class_codes_with_blank_cells_are_classes(tmp_path):
    path = tmp_path / "codes.csv"
    rows = ["x,target"] + [f"{i / 10},{1 + i % 3}" for i in range(60)]
    rows[5] = "0.4,"  # a blank target: pandas stores the column as floats
    path.write_text("\n".join(rows) + "\n")
    frame = read_table(path)
    assert frame["target"].dtype == np.float64
    assert infer_task(frame["target"]) == "classification"
    assert infer_task(pd.Series([1.0, 2.0, 1.0, 2.0])) == "regression"  # no gap: floats
    assert infer_task(pd.Series([1.5, 2.0, 1.5, np.nan])) == "regression"
    pre = Preprocessor(target="target", task="classification").fit(frame.dropna())
    assert pre.classes_.dtype == np.int64
    np.testing.assert_array_equal(pre.classes_, [1, 2, 3])


@pytest.mark.filterwarnings("ignore::UserWarning")  # the 5 iterations do not converge
def test_a_day_first_model_file_round_trips(tmp_path):
    frame = pd.DataFrame(
        {"when": ["19/08/2022", "08/07/2021", "25/12/2020", "03/02/2021"] * 10, "y": [0, 1] * 20}
    )
    model = dp.TabularModel(dp.MLPClassifier(max_iter=5, random_state=0), task="classification")
    model.fit(frame, "y")
    save(model, tmp_path / "m.deltaprop")
    again = load(tmp_path / "m.deltaprop")
    batch = frame.drop(columns="y")
    np.testing.assert_array_equal(again.predict_proba(batch), model.predict_proba(batch))
    assert again.preprocessor_.columns_[0]["day_first"] is True


# -- spellings kept: identifiers, class labels and codes that look like numbers ------------
@pytest.fixture(params=["csv module", "pandas"])
def reader(request, monkeypatch):
    """Each case twice: predict's small-file reader, and pandas (the file made "large")."""
    if request.param == "pandas":
        monkeypatch.setattr("deltaprop.tabular.plain.SMALL_CSV_BYTES", 0)
    return request.param


def _cli(*argv):
    return main([str(a) for a in argv])


def test_predict_writes_ids_as_the_file_wrote_them(tmp_path, capsys, reader):
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    ids = ["00983057", "7340000000164782649"] + [f"{i:08d}" for i in range(58)]
    frame = pd.DataFrame({"account": ids, "x": x, "y": np.where(x > 0, "up", "down")})
    frame.to_csv(tmp_path / "train.csv", index=False)
    frame.drop(columns="y").head(3).to_csv(tmp_path / "new.csv", index=False)
    model = tmp_path / "m.deltaprop"
    assert _cli("train", tmp_path / "train.csv", "--target", "y", "--id", "account",
                "--out", model, "-q") == 0  # fmt: skip
    capsys.readouterr()
    assert _cli("predict", model, tmp_path / "new.csv") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == [
        "account", "00983057", "7340000000164782649", "00000000"
    ]  # fmt: skip


def test_codes_a_new_file_holds_as_numbers_match_their_categories(tmp_path, capsys, reader):
    rng = np.random.default_rng(0)
    code = rng.choice(["007", "012", "A15", "B20"], 200)
    ok = np.where(code == "007", "yes", "no")
    pd.DataFrame({"code": code, "q": rng.normal(size=200), "ok": ok}).to_csv(
        tmp_path / "train.csv", index=False
    )
    pd.DataFrame({"code": ["007", "012", "007"], "q": [0.0, 0.0, 0.0]}).to_csv(
        tmp_path / "new.csv", index=False
    )  # numbers alone: read as 7 and 12 before the model asked for the text
    model = tmp_path / "m.deltaprop"
    assert _cli("train", tmp_path / "train.csv", "--target", "ok", "--out", model, "-q") == 0
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no category unseen
        assert _cli("predict", model, tmp_path / "new.csv") == 0
    assert capsys.readouterr().out.splitlines() == ["ok", "yes", "no", "yes"]


def test_class_labels_keep_their_spelling(tmp_path, capsys, reader):
    rng = np.random.default_rng(0)
    x = rng.normal(size=90)
    labels = np.where(x > 0.5, "01", np.where(x > -0.5, "02", "03"))
    pd.DataFrame({"x": x, "target": labels}).to_csv(tmp_path / "t.csv", index=False)
    model = tmp_path / "m.deltaprop"
    assert _cli("train", tmp_path / "t.csv", "--target", "target", "--out", model, "-q") == 0
    capsys.readouterr()
    assert _cli("predict", model, tmp_path / "t.csv", "--proba") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "target,proba_01,proba_02,proba_03"
    assert {line.split(",")[0] for line in out[1:]} <= {"01", "02", "03"}
    assert _cli("evaluate", model, tmp_path / "t.csv", "--json") == 0
    assert '"accuracy"' in capsys.readouterr().out


def test_one_class_written_two_ways_stays_one_class():
    text = pd.Series(["01", "1", "02", "02"] * 10, dtype=object)
    assert not _spelling_matters(text, pd.Series([1, 1, 2, 2] * 10))  # 01 and 1: class 1
    assert _spelling_matters(text.replace("1", "01"), pd.Series([1, 1, 2, 2] * 10))


def test_read_table_keeps_the_spelling_it_is_asked_for(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,c\n007,1.50,x\nNA,2,y\n012,3,z\n")
    table = read_table(tmp_path / "t.csv", keep_spelling=["a", "c", "absent"])
    assert table["a"].tolist() == ["007", None, "012"]  # text, not 7 and 12
    assert table["b"].tolist() == [1.5, 2.0, 3.0]  # not asked for: numbers
    assert table["c"].tolist() == ["x", "y", "z"]
    assert table.attrs[DECIMAL] == "."
    plain = read_small_csv(tmp_path / "t.csv", keep_spelling=["a"])
    assert plain["a"].tolist() == ["007", None, "012"]
    np.testing.assert_array_equal(plain["b"], [1.5, 2.0, 3.0])


@pytest.mark.filterwarnings("ignore::UserWarning")  # 20 iterations do not converge
def test_early_stopping_with_a_class_of_one_row_splits_at_random():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.array(["a"] * 20 + ["b"] * 19 + ["Total"])  # a totals line left in the export
    model = dp.MLPClassifier(early_stopping=True, max_iter=20, random_state=0).fit(X, y)
    assert model.classes_.tolist() == ["Total", "a", "b"]
    assert len(model.validation_scores_) == model.n_iter_
    few = dp.MLPClassifier(early_stopping=True, validation_fraction=0.1, max_iter=20)
    few.fit(X[:30], np.array(list("abcde") * 6))  # 3 held-out rows for 5 classes
    assert few.n_iter_ >= 1


@pytest.mark.parametrize("reader", ["pandas", "csv module"])
def test_a_semicolon_export_of_whole_numbers_reads_points_as_thousands(tmp_path, reader):
    prices = ["4.733", "950", "12.500", "1.250.000", "351"]
    path = tmp_path / "de.csv"
    path.write_text("carat;price\n" + "".join(f"{i};{p}\n" for i, p in enumerate(prices)))
    table = read_table(path) if reader == "pandas" else read_small_csv(path)
    np.testing.assert_array_equal(np.asarray(table["price"]), [4733, 950, 12500, 1250000, 351])
    # decimals: a point before three digits that cannot group thousands, or other digits
    for other in ("0.250", "1.5"):
        decimals = [*prices[:3], "351", other]
        path.write_text("a;b\n" + "".join(f"{i};{p}\n" for i, p in enumerate(decimals)))
        values = np.asarray(read_table(path)["b"])
        np.testing.assert_allclose(values[:3], [4.733, 950, 12.5])


@pytest.mark.parametrize("reader", ["pandas", "csv module"])
def test_columns_without_a_name_or_a_value_are_left_out(tmp_path, reader):
    path = tmp_path / "t.csv"
    path.write_text("a,,b,c,,\n1,,x,2.5,,\n2, ,y,3.5,,\n")  # a spacer column, two at the end
    with pytest.warns(DataWarning, match=r"column\(s\) 2, 5, 6 have no name and no value"):
        table = read_table(path) if reader == "pandas" else read_small_csv(path)
        if table is None:  # the small-file reader leaves it to pandas
            table = read_table(path)
    assert list(table.columns) == ["a", "b", "c"]
    np.testing.assert_array_equal(np.asarray(table["c"]), [2.5, 3.5])
    path.write_text("a,b,,\n1,x,,\n2,y,,oops\n")
    with pytest.raises(ValueError, match=r"column 4 of the header has no name, and line 3 holds"):
        read_table(path)


def test_indian_grouping_reads_as_numbers():
    cases = {"₹1,23,456": 123456.0, "12,34,56,789.50": 123456789.5, "-₹1,00,000": -100000.0}
    for text, value in cases.items():
        assert number_from_text(text) == value
    for text in ("1,2,3", "1,23", "12,3,456"):
        assert np.isnan(number_from_text(text))


def test_categories_and_labels_in_several_cases_are_one_value_each():
    assert case_variants(["Adelie", "adelie", "ADELIE", "x"]) == {
        "ADELIE": "Adelie",
        "adelie": "Adelie",
    }
    assert case_variants(["xl", "XL"]) == {"XL": "xl"}  # no mixed case: lower case
    rng = np.random.default_rng(0)
    species = np.array(["Adelie", "adelie", "ADELIE", "Gentoo", "gentoo"], dtype=object)
    y = species[np.arange(60) % 5]
    frame = pd.DataFrame({"island": y.copy(), "x": rng.normal(size=60), "species": y})
    with pytest.warns(DataWarning) as caught:
        pre = Preprocessor(target="species").fit(frame)
    words = [str(w.message) for w in caught]
    assert any("column 'island' writes values in several cases" in m for m in words)
    assert any("target column 'species' writes values in several cases" in m for m in words)
    assert pre.columns_[0]["categories"] == ["Adelie", "Gentoo"]
    assert pre.classes_.tolist() == ["Adelie", "Gentoo"]
    one_hot = pre.transform(pd.DataFrame({"island": ["gENTOO", "ADELIE"], "x": [0.0, 0.0]}))
    np.testing.assert_array_equal(one_hot[:, :2], [[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(pre.transform_target(pd.Series(["GENTOO", "Adelie"])), [1, 0])


def test_labels_written_as_plain_numbers_stay_numbers(tmp_path, capsys):
    # 1 ... 12, and 1.0 ... 12.0 as pandas writes integer codes with blanks: numbers,
    # whose classes keep numeric order (2 before 10)
    for spelled in (str, lambda k: f"{k}.0"):
        frame = pd.DataFrame({"x": np.arange(36.0), "y": [spelled(1 + i % 12) for i in range(36)]})
        frame.loc[5, "y"] = ""
        frame.to_csv(tmp_path / "t.csv", index=False)
        model = tmp_path / "m.deltaprop"
        assert _cli("train", tmp_path / "t.csv", "--target", "y", "--out", model, "-q") == 0
        classes = load(model).classes_
        assert classes.dtype == np.int64 and classes.tolist() == list(range(1, 13))
    capsys.readouterr()


def test_regression_targets_far_from_the_rest_are_named():
    rng = np.random.default_rng(0)
    price = rng.lognormal(8.0, 1.0, size=300).round()  # heavy-tailed, not far enough
    frame = pd.DataFrame({"x": rng.normal(size=300), "price": price})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Preprocessor(target="price").fit(frame)
    frame.loc[[5, 200], "price"] = [3_000_000.0, 9_999_999.0]  # typed with zeros too many
    with pytest.warns(DataWarning, match=r"2 value\(s\) lie more than 100 interquartile") as w:
        Preprocessor(target="price").fit(frame)
    assert "row 6 (3e+06), row 201 (1e+07)" in str(w[0].message)


# -- review findings -----------------------------------------------------------------------
def test_a_decimal_comma_beside_multi_group_thousands_is_still_found(tmp_path):
    (tmp_path / "u.csv").write_text("umsatz;rate\n1.250.000;1,5\n2.000;2,5\n")
    table = read_table(tmp_path / "u.csv")
    assert table["umsatz"].tolist() == [1250000, 2000]
    assert table["rate"].tolist() == [1.5, 2.5]


def test_points_read_as_thousands_are_announced(tmp_path):
    (tmp_path / "p.csv").write_text("a;price\n1;1.650\n2;1.659\n3;1.700\n")
    with pytest.warns(DataWarning, match=r"\(1\.650, 1\.659, 1\.700\): '\.' read as the thousands"):
        assert read_table(tmp_path / "p.csv")["price"].tolist() == [1650, 1659, 1700]


def test_the_python_api_decides_the_task_on_the_whole_column_as_the_cli_does():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=60), "y": [1.0, 2.0, 3.0] * 20})
    frame.loc[3, "y"] = np.nan  # a blank: pandas' integer codes become floats
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = dp.TabularModel(dp.MLPClassifier(max_iter=5, random_state=0)).fit(frame, "y")
    assert model.task_ == "classification" and model.classes_.tolist() == [1, 2, 3]


def test_unseen_values_match_a_category_only_as_plain_numerals_or_in_another_case():
    categories = ["007", "1E3", "45%", "7340000000164783123", "Adelie", "Gentoo"]
    values = ["7", "7.00", "1000", "45", "7340000000164783124", "adelie", "gentoo", "x", None]
    codes = _codes_of_unseen(categories, np.array(values, dtype=object))
    assert codes.tolist() == [0, 0, -1, -1, -1, 4, 5, -1, -1]


def test_categories_in_several_cases_count_once_towards_the_category_limit():
    states = [f"State {i}" for i in range(20)]
    frame = pd.DataFrame({"state": [s if k % 2 else s.upper() for k in range(2) for s in states]})
    role = infer_roles(frame)["state"]
    assert role.role == "categorical" and role.reason == "20 distinct values (40 as written)"


def test_many_empty_columns_are_named_in_a_short_warning(tmp_path):
    (tmp_path / "t.csv").write_text("a,b" + "," * 500 + "\n" + ("1,2" + "," * 500 + "\n") * 3)
    with pytest.warns(DataWarning, match=r"column\(s\) 3, 4, 5, 6, 7 and 495 more have no name"):
        assert list(read_table(tmp_path / "t.csv").columns) == ["a", "b"]
