"""Files as other programs export them, read by ``read_table`` with what they hold.

- Parquet written by pandas keeps its index: a named one (``set_index("date")``, the usual
  layout of a time series) is data and becomes the first column(s); an unnamed one is row
  numbers and is dropped.
- Excel's "Unicode Text" is tab-separated UTF-16 with a byte-order mark; UTF-32's marks
  are read too.
- A workbook whose header repeats a name is refused as a CSV file's is (pandas would
  rename the second ``a.1``).

The expected values are the tables the tests wrote, not a snapshot of what was read.
"""

from __future__ import annotations

import codecs
import importlib.util
import re
import warnings

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from deltaprop.cli.main import main  # noqa: E402
from deltaprop.files import archives  # noqa: E402
from deltaprop.tabular import DataWarning, TabularModel, read_table  # noqa: E402
from deltaprop.tabular.columns import FILE_ROWS, file_rows  # noqa: E402
from deltaprop.tabular.plain import read_small_csv  # noqa: E402


def _penguins():
    """A few rows shaped like the penguins table: text, decimals, gaps, an accent."""
    return pd.DataFrame(
        {
            "species": ["Adelie", "Adelie", "Gentoo", "Chinstrap", "Gentoo", "Adelie"],
            "island": ["Torgersen", "Île Biscoe", "Biscoe", "Dream", "Biscoe", "Dream"],
            "bill_length_mm": [39.1, 39.5, np.nan, 46.5, 47.6, 37.8],
            "body_mass_g": [3750, 3800, 5000, 3500, 5400, 3300],
        }
    )


def _message_without_path(error, path):
    return str(error.value).replace(repr(str(path)), "FILE")


# -- Parquet: the pandas index -------------------------------------------------------------
needs_pyarrow = pytest.mark.skipif(
    importlib.util.find_spec("pyarrow") is None, reason="Parquet needs pyarrow"
)


def _days():
    return pd.DataFrame(
        {
            "date": pd.date_range("2024-03-01", periods=6, freq="D"),
            "temperature": [3.5, 4.0, -1.25, 0.0, 7.5, 6.0],
            "busy": [12, 30, 7, 9, 41, 38],
        }
    )


@needs_pyarrow
def test_a_named_date_index_becomes_the_first_column(tmp_path):
    days = _days()
    days.set_index("date").to_parquet(tmp_path / "days.parquet")
    frame = read_table(tmp_path / "days.parquet")
    assert list(frame.columns) == ["date", "temperature", "busy"]
    assert pd.api.types.is_datetime64_any_dtype(frame["date"])
    assert frame["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04", "2024-03-05", "2024-03-06",
    ]  # fmt: skip
    np.testing.assert_array_equal(frame["temperature"].to_numpy(), days["temperature"])
    np.testing.assert_array_equal(frame["busy"].to_numpy(), days["busy"])
    assert list(frame.index) == list(range(6))


@needs_pyarrow
def test_a_named_text_index_becomes_the_first_column(tmp_path):
    customers = pd.DataFrame(
        {
            "customer": ["c-07", "c-02", "c-11"],
            "spend": [10.5, 0.0, 99.25],
            "churn": ["y", "n", "y"],
        }
    )
    customers.set_index("customer").to_parquet(tmp_path / "customers.parquet")
    frame = read_table(tmp_path / "customers.parquet")
    assert list(frame.columns) == ["customer", "spend", "churn"]
    assert frame["customer"].tolist() == ["c-07", "c-02", "c-11"]
    assert frame["spend"].tolist() == [10.5, 0.0, 99.25]


@needs_pyarrow
def test_the_named_levels_of_a_multi_index_become_columns_in_order(tmp_path):
    sales = pd.DataFrame(
        {"store": ["north", "north", "south"], "week": [1, 2, 1], "sales": [5.5, 6.0, 2.25]}
    )
    sales.set_index(["store", "week"]).to_parquet(tmp_path / "sales.parquet")
    frame = read_table(tmp_path / "sales.parquet")
    assert list(frame.columns) == ["store", "week", "sales"]
    assert frame["store"].tolist() == ["north", "north", "south"]
    assert frame["week"].tolist() == [1, 2, 1]
    assert frame["sales"].tolist() == [5.5, 6.0, 2.25]


@needs_pyarrow
def test_an_unnamed_level_of_a_multi_index_is_dropped_and_the_named_one_kept(tmp_path):
    index = pd.MultiIndex.from_arrays([["a", "b", "c"], [10, 20, 30]], names=["key", None])
    pd.DataFrame({"x": [1.5, 2.5, 3.5]}, index=index).to_parquet(tmp_path / "half.parquet")
    frame = read_table(tmp_path / "half.parquet")
    assert list(frame.columns) == ["key", "x"]
    assert frame["key"].tolist() == ["a", "b", "c"]


@needs_pyarrow
@pytest.mark.parametrize("rows", ["all", "filtered", "named blank"])
def test_an_unnamed_index_stays_dropped(tmp_path, rows):
    # a RangeIndex is stored as metadata; what filtering leaves of one, as a column
    table = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": ["a", "b", "c", "d"]})
    if rows != "all":
        table = table[table["x"] > 1.5]
    if rows == "named blank":
        table = table.rename_axis("")
    table.to_parquet(tmp_path / "plain.parquet")
    frame = read_table(tmp_path / "plain.parquet")
    assert list(frame.columns) == ["x", "y"]
    assert frame["x"].tolist() == table["x"].tolist()
    assert list(frame.index) == list(range(len(table)))


@needs_pyarrow
def test_a_folder_of_indexed_parquet_files_keeps_the_index_of_every_part(tmp_path):
    days = _days().set_index("date")
    folder = tmp_path / "days"
    folder.mkdir()
    days.iloc[:4].to_parquet(folder / "part-0.parquet")
    days.iloc[4:].to_parquet(folder / "part-1.parquet")
    frame = read_table(folder)
    assert list(frame.columns) == ["date", "temperature", "busy"]
    np.testing.assert_array_equal(frame["date"].to_numpy(), days.index.to_numpy())
    np.testing.assert_array_equal(frame["busy"].to_numpy(), days["busy"].to_numpy())


@needs_pyarrow
def test_an_index_named_like_a_column_is_refused_as_a_duplicate_name(tmp_path):
    table = pd.DataFrame({"a": [1, 2], "b": [3, 4]}, index=pd.Index([7, 8], name="a"))
    table.to_parquet(tmp_path / "clash.parquet")
    (tmp_path / "clash.csv").write_text("a,a,b\n7,1,3\n8,2,4\n")
    with pytest.raises(ValueError) as from_parquet:
        read_table(tmp_path / "clash.parquet")
    with pytest.raises(ValueError) as from_csv:
        read_table(tmp_path / "clash.csv")
    expected = "FILE: column name 'a' appears more than once"
    assert _message_without_path(from_parquet, tmp_path / "clash.parquet") == expected
    assert _message_without_path(from_csv, tmp_path / "clash.csv") == expected


@needs_pyarrow
def test_an_indexed_file_keeps_its_nested_types_under_their_names(tmp_path):
    table = pd.DataFrame({"key": ["p", "q"], "tags": [[1, 2], [3]], "y": [0.5, 1.5]})
    table.set_index("key").to_parquet(tmp_path / "nested.parquet")
    frame = read_table(tmp_path / "nested.parquet")
    assert list(frame.columns) == ["key", "tags", "y"]
    assert frame.attrs["deltaprop_nested_types"] == {"tags": "list<element: int64>"}


@needs_pyarrow
def test_an_indexed_file_is_still_checked_against_the_expansion_limit(tmp_path, monkeypatch):
    path = tmp_path / "days.parquet"
    _days().set_index("date").to_parquet(path)
    # a limit of 0 bytes: the check refuses any file it is run on
    monkeypatch.setattr(archives, "MAX_EXPANSION_RATIO", 0)
    monkeypatch.setattr(archives, "EXPANSION_ALLOWANCE", 0)
    with pytest.raises(ValueError, match=r"days\.parquet'.*metadata declares"):
        read_table(path)


@needs_pyarrow
def test_train_dry_run_lists_the_date_index_as_a_datetime_column(tmp_path, capsys):
    _days().set_index("date").to_parquet(tmp_path / "days.parquet")
    argv = ["train", str(tmp_path / "days.parquet"), "--target", "busy", "--dry-run"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.search(r"^\s+date\s+datetime\s", "\n".join(lines), re.MULTILINE)
    assert lines[0].startswith("columns (3)")


@needs_pyarrow
def test_train_takes_an_index_column_as_id(tmp_path, capsys):
    customers = pd.DataFrame(
        {
            "customer": [f"c-{i:02d}" for i in range(12)],
            "spend": [float(i) * 1.5 for i in range(12)],
            "churn": ["yes", "no", "no"] * 4,
        }
    )
    customers.set_index("customer").to_parquet(tmp_path / "customers.parquet")
    argv = ["train", str(tmp_path / "customers.parquet"), "--target", "churn"]
    assert main([*argv, "--id", "customer", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"^\s+customer\s+id\s", printed, re.MULTILINE)


# -- text with a UTF-16 or UTF-32 byte-order mark ------------------------------------------
def test_excel_unicode_text_reads_as_its_table(tmp_path):
    """pandas writes UTF-16 with a byte-order mark, as Excel's "Unicode Text" does."""
    penguins = _penguins()
    path = tmp_path / "penguins.txt"
    penguins.to_csv(path, sep="\t", encoding="utf-16", index=False)
    assert path.read_bytes()[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    frame = read_table(path)
    assert list(frame.columns) == ["species", "island", "bill_length_mm", "body_mass_g"]
    assert frame["species"].tolist() == penguins["species"].tolist()
    assert frame["island"].tolist() == penguins["island"].tolist()
    np.testing.assert_array_equal(frame["bill_length_mm"].to_numpy(), penguins["bill_length_mm"])
    assert frame["body_mass_g"].dtype == np.int64
    assert frame["body_mass_g"].tolist() == penguins["body_mass_g"].tolist()


@pytest.mark.parametrize(
    ("bom", "codec"),
    [
        pytest.param(codecs.BOM_UTF16_LE, "utf-16-le", id="utf-16-le"),
        pytest.param(codecs.BOM_UTF16_BE, "utf-16-be", id="utf-16-be"),
        pytest.param(codecs.BOM_UTF32_LE, "utf-32-le", id="utf-32-le"),
        pytest.param(codecs.BOM_UTF32_BE, "utf-32-be", id="utf-32-be"),
    ],
)
def test_a_byte_order_mark_names_the_encoding(tmp_path, bom, codec):
    # Excel ends its lines with CR LF; the mark is not part of the first column's name
    text = "species\tisland\tbody_mass_g\r\nAdelie\tÎle Biscoe\t3750\r\nGentoo\tDream\t5000\r\n"
    path = tmp_path / "export.txt"
    path.write_bytes(bom + text.encode(codec))
    frame = read_table(path)
    assert list(frame.columns) == ["species", "island", "body_mass_g"]
    assert frame["island"].tolist() == ["Île Biscoe", "Dream"]
    assert frame["body_mass_g"].tolist() == [3750, 5000]
    small = read_small_csv(path)  # the reader without pandas decodes the same way
    assert small is not None and small.columns == ["species", "island", "body_mass_g"]
    assert small["body_mass_g"].tolist() == [3750, 5000]


def test_unicode_text_reads_like_the_same_table_in_utf8(tmp_path):
    penguins = _penguins()
    penguins.to_csv(tmp_path / "utf16.txt", sep="\t", encoding="utf-16", index=False)
    penguins.to_csv(tmp_path / "utf8.csv", index=False)
    pd.testing.assert_frame_equal(
        read_table(tmp_path / "utf16.txt"), read_table(tmp_path / "utf8.csv")
    )


def test_a_byte_order_mark_over_bytes_of_another_encoding_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "a\tb\n1\t2\n".encode("utf-16-le") + b"\x00\xd8")
    with pytest.raises(ValueError, match=r"broken\.txt'.*UTF-16 byte-order mark.*--encoding"):
        read_table(path)


def test_without_a_byte_order_mark_cp1252_text_still_reads_as_cp1252(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("name,price\ncafé,2\nthé,3\n".encode("cp1252"))
    assert read_table(path)["name"].tolist() == ["café", "thé"]


def test_train_dry_run_on_unicode_text(tmp_path, capsys):
    _penguins().to_csv(tmp_path / "penguins.txt", sep="\t", encoding="utf-16", index=False)
    argv = ["train", str(tmp_path / "penguins.txt"), "--target", "species", "--dry-run"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].startswith("columns (4)")
    assert re.search(r"^\s+body_mass_g\s+numeric\s", printed, re.MULTILINE)
    assert re.search(r"^\s+species\s+target\s", printed, re.MULTILINE)


# -- Excel: a repeated column name ---------------------------------------------------------
def _workbook(path, rows):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


@pytest.mark.parametrize(
    ("above", "header"),
    [
        pytest.param([], ["a", "b", "a", "y"], id="first row"),
        pytest.param([], ["a", "b", " a ", "y"], id="the same name once stripped"),
        pytest.param([["Sales report"], []], ["a", "b", "a", "y"], id="below a title"),
    ],
)
def test_a_repeated_name_in_an_xlsx_header_is_refused_as_in_a_csv(tmp_path, above, header):
    rows = [*above, header, [1, 2, 3, 0], [4, 5, 6, 1]]
    path = _workbook(tmp_path / "dup.xlsx", rows)
    (tmp_path / "dup.csv").write_text(",".join(header) + "\n1,2,3,0\n4,5,6,1\n")
    with pytest.raises(ValueError) as from_xlsx:
        read_table(path)
    with pytest.raises(ValueError) as from_csv:
        read_table(tmp_path / "dup.csv")
    expected = "FILE: column name 'a' appears more than once"
    assert _message_without_path(from_xlsx, path) == expected
    assert _message_without_path(from_csv, tmp_path / "dup.csv") == expected


def test_names_that_only_look_renamed_are_read_as_written(tmp_path):
    path = _workbook(tmp_path / "names.xlsx", [["a", "a.1", "y"], [1, 2, 0], [3, 4, 1]])
    frame = read_table(path)
    assert list(frame.columns) == ["a", "a.1", "y"]
    assert frame["a.1"].tolist() == [2, 4]


def test_train_dry_run_names_the_repeated_xlsx_column(tmp_path, capsys):
    path = _workbook(tmp_path / "dup.xlsx", [["a", "b", "a", "y"], [1, 2, 3, 0], [4, 5, 6, 1]])
    assert main(["train", str(path), "--target", "y", "--dry-run"]) == 2
    assert f"{str(path)!r}: column name 'a' appears more than once" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # dask's own reset_index
def test_train_dask_reads_a_named_parquet_index_as_a_column(tmp_path):
    pytest.importorskip("dask.dataframe")
    from deltaprop.tabular.dask import read_parquet as read_parquet_lazily

    dates = pd.date_range("2021-01-01", periods=6)
    frame = pd.DataFrame({"date": dates, "temp": np.arange(6.0)}).set_index("date")
    frame.to_parquet(tmp_path / "ts.parquet")
    lazy = read_parquet_lazily(tmp_path / "ts.parquet")
    assert list(lazy.columns) == ["date", "temp"]
    np.testing.assert_array_equal(lazy.compute()["date"].to_numpy(), dates.to_numpy())


def test_train_dask_reads_a_multiindex_as_read_table_does(tmp_path):
    pytest.importorskip("dask.dataframe")
    from deltaprop.tabular.dask import read_parquet as read_parquet_lazily

    frame = pd.DataFrame({"store": ["a", "b"] * 3, "day": range(6), "sales": np.arange(6.0)})
    frame.set_index(["store", "day"]).to_parquet(tmp_path / "mi.parquet")
    frame[frame["sales"] > 1.0].to_parquet(tmp_path / "filtered.parquet")  # unnamed index
    for name, columns in (
        ("mi", ["store", "day", "sales"]),
        ("filtered", ["store", "day", "sales"]),
    ):
        lazy = read_parquet_lazily(tmp_path / f"{name}.parquet")
        assert (
            list(lazy.columns) == columns == list(read_table(tmp_path / f"{name}.parquet").columns)
        )


# -- rows without any value (a spreadsheet's used rows saved as ",,,,") --------------------
def _with_empty_rows(tmp_path, empty_lines):
    table = _penguins()
    text = table.to_csv(index=False)
    lines = text.splitlines()
    path = tmp_path / "tail.csv"
    path.write_text("\n".join([*lines, *empty_lines]) + "\n")
    return table, path


@pytest.mark.parametrize(
    "empty_lines",
    [
        pytest.param([",,,"] * 4, id="commas"),
        pytest.param(["NA,NA,,N/A", " , ,,"], id="null spellings and spaces"),
        pytest.param([",,,"], id="one row"),
    ],
)
@pytest.mark.parametrize("reader", [read_table, read_small_csv], ids=["pandas", "plain"])
def test_rows_without_any_value_at_the_end_are_left_out_and_named(tmp_path, empty_lines, reader):
    table, path = _with_empty_rows(tmp_path, empty_lines)
    with pytest.warns(UserWarning, match="without any value at the end of the file") as caught:
        frame = reader(path)
    n = len(empty_lines)
    rows = "data row 7" if n == 1 else f"data rows 7-{6 + n}"
    assert str(caught[0].message).endswith(
        f"{n} row(s) without any value at the end of the file left out ({rows})"
    )
    assert len(frame) == 6
    assert list(frame["species"]) == table["species"].tolist()
    # the blanks no longer make the whole-number column float: it reads as without them
    assert np.asarray(frame["body_mass_g"]).dtype == np.int64
    assert np.asarray(frame["body_mass_g"]).tolist() == table["body_mass_g"].tolist()


@pytest.mark.parametrize("reader", [read_table, read_small_csv], ids=["pandas", "plain"])
def test_an_empty_row_between_data_rows_stays_so_that_row_numbers_are_the_file_s(tmp_path, reader):
    path = tmp_path / "gap.csv"
    path.write_text("x,y\n1,a\n,\n2,b\n")
    frame = reader(path)
    assert np.isnan(np.asarray(frame["x"])[1])
    assert list(frame["y"]) == ["a", None, "b"]


def test_a_file_whose_rows_are_all_empty_is_refused(tmp_path):
    path = tmp_path / "none.csv"
    path.write_text("x,y\n,\n,\n")
    with pytest.raises(ValueError, match="has a header but no values in its rows"):
        read_table(path)
    assert read_small_csv(path) is None  # pandas's reading gives the error


def test_empty_rows_at_the_end_of_a_workbook_are_left_out(tmp_path):
    rows = [["x", "y"], [1, "a"], [None, None], [2, "b"], [None, None], ["NA", None]]
    path = _workbook(tmp_path / "tail.xlsx", rows)
    with pytest.warns(UserWarning, match=r"2 row\(s\) without any value at the end"):
        frame = read_table(path)
    assert frame["y"].isna().tolist() == [False, True, False]
    assert frame["y"].dropna().tolist() == ["a", "b"]


@pytest.mark.usefixtures("quick_recipe")
def test_predict_writes_one_prediction_per_row_with_values(tmp_path, capsys):
    _, path = _with_empty_rows(tmp_path, [",,,"] * 3)
    model = tmp_path / "m.dpm"
    assert main(["train", str(path), "--target", "species", "--out", str(model), "-q"]) == 0
    err = capsys.readouterr().err
    assert "3 row(s) without any value at the end of the file left out" in err
    assert "missing" not in err  # the empty rows are neither missing targets nor features
    assert main(["predict", str(model), str(path)]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1 + 6


# -- a title above a header that is not recognised as one ----------------------------------
@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "Quarterly report, all regions\n2019,2020,2021,label\n1,2,3,up\n4,5,6,down\n",
            "FILE: ragged rows: line 2 has 4 field(s), the header has 2; if line 1 "
            "('Quarterly report, all regions') is a title above the header, delete it (a "
            "title is recognised only above a header of names, none of them a number)",
            id="a title above a header of years",
        ),
        pytest.param(
            "a,b,c\n1,2,3\n4,5,6\nSource: Palmer Station LTER\n\n",
            "FILE: ragged rows: line 4 has 1 field(s), the header has 3; if this last line "
            "('Source: Palmer Station LTER') is a note under the table (a source, a "
            "footnote), delete it",
            id="a note under the table",
        ),
    ],
)
def test_ragged_rows_say_what_the_short_line_may_be(tmp_path, text, message):
    path = tmp_path / "ragged.csv"
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        read_table(path)
    assert _message_without_path(error, path) == message


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("a,b\n1,2\n3,4,5\n", 3, id="further down"),
        pytest.param("a,b\n1,2,\n3,4\n", 2, id="a stray separator after the first row"),
    ],
)
def test_other_ragged_rows_give_no_title_hint(tmp_path, text, line):
    path = tmp_path / "ragged.csv"
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        read_table(path)
    assert _message_without_path(error, path) == (
        f"FILE: ragged rows: line {line} has 3 field(s), the header has 2"
    )


# -- a spreadsheet's totals row at the end -------------------------------------------------
@pytest.mark.parametrize("reader", [read_table, read_small_csv], ids=["pandas", "plain"])
@pytest.mark.parametrize("label", ["Total", "TOTAL", "Grand total", "Sum"])
def test_a_totals_row_is_left_out_with_a_warning(tmp_path, reader, label):
    table = _penguins()
    total = table["body_mass_g"].sum()  # the bill lengths have a gap: summed over the rest
    lines = table.to_csv(index=False).splitlines()
    bills = f"{table['bill_length_mm'].sum():.1f}"
    lines.append(f"{label},,{bills},{total}")
    path = tmp_path / "total.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match="holds the sums of the columns above it") as caught:
        frame = reader(path)
    assert f"(data row 7: '{label}', {bills}, {total}, ...)" in str(caught[0].message)
    assert len(frame) == 6
    assert list(frame["species"]) == table["species"].tolist()
    assert np.asarray(frame["body_mass_g"]).dtype == np.int64


@pytest.mark.parametrize(
    "last",
    [
        pytest.param("Total,Dream,40.0,3300", id="not the sums"),
        pytest.param("Gentoo,Dream,248.5,25000", id="not called a total"),
    ],
)
def test_a_last_row_that_is_no_totals_row_stays(tmp_path, last):
    lines = _penguins().to_csv(index=False).splitlines()
    path = tmp_path / "last.csv"
    path.write_text("\n".join([*lines, last]) + "\n")
    assert len(read_table(path)) == 7
    assert len(read_small_csv(path)) == 7


# -- a workbook's sheets ----------------------------------------------------------------------
def _book(path, sheets):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def _sheets():
    return {
        "README": [["About this file"], ["Collected in 2024; see the data sheet."]],
        "data": [["x", "y"], [1, "a"], [2, "b"]],
        "other": [["u", "v"], [3, "c"], [4, "d"], [5, "e"]],
    }


def test_the_first_sheet_that_holds_a_table_is_read_and_named(tmp_path):
    path = _book(tmp_path / "b.xlsx", _sheets())
    with pytest.warns(UserWarning, match=r"read its sheet 'data', the first that holds a table"):
        frame = read_table(path)
    assert list(frame.columns) == ["x", "y"] and frame["x"].tolist() == [1, 2]
    assert list(read_table(path, sheet="other").columns) == ["u", "v"]


def test_sheet_errors_name_the_sheets(tmp_path, capsys):
    path = _book(tmp_path / "b.xlsx", _sheets())
    with pytest.raises(ValueError) as error:
        read_table(path, sheet="Data")
    assert _message_without_path(error, path) == (
        "FILE has no sheet 'Data' (did you mean 'data'? its sheets: ['README', 'data', 'other'])"
    )
    notes = _book(tmp_path / "n.xlsx", {"a": [["note"]], "b": [["another"], []]})
    with pytest.raises(ValueError, match="none of its sheets holds a table"):
        read_table(notes)
    csv = tmp_path / "t.csv"
    csv.write_text("x,y\n1,a\n")
    with pytest.raises(ValueError, match=r"sheet='data' \(--sheet\) names a sheet of an .xlsx"):
        read_table(csv, sheet="data")
    assert main(["train", str(path), "--target", "y", "--sheet", "nope", "--dry-run"]) == 2
    assert (
        "has no sheet 'nope' (its sheets: ['README', 'data', 'other'])" in capsys.readouterr().err
    )
    assert main(["train", str(path), "--target", "y", "--sheet", "README", "--dry-run"]) == 2
    assert "target column 'y' is not in sheet 'README' of" in capsys.readouterr().err


@pytest.mark.parametrize("reader", [read_table, read_small_csv], ids=["pandas", "plain"])
def test_a_column_that_only_its_totals_cell_made_text_is_numbers(tmp_path, reader):
    path = tmp_path / "years.csv"
    path.write_text("year,sales\n2019,10\n2020,20\n2021,30\nTotal,60\n")
    with pytest.warns(UserWarning, match="totals row"):
        frame = reader(path)
    assert np.asarray(frame["year"]).dtype == np.int64
    assert np.asarray(frame["year"]).tolist() == [2019, 2020, 2021]


def test_a_one_column_first_sheet_is_read_when_no_sheet_has_two(tmp_path):
    path = _book(tmp_path / "one.xlsx", {"data": [["x"], [1], [2], [3]], "about": [["notes"]]})
    assert read_table(path)["x"].tolist() == [1, 2, 3]


def test_formulas_without_saved_values_are_named(tmp_path):
    rows = [["mass_g", "mass_kg", "y"]] + [
        [1000 * i, f"=A{i + 1}/1000", "ab"[i % 2]] for i in range(1, 6)
    ]
    path = _book(tmp_path / "f.xlsx", {"data": rows})  # openpyxl writes formulas, no values
    with pytest.warns(
        UserWarning, match=r"column\(s\) \['mass_kg'\] hold formulas without saved values"
    ):
        frame = read_table(path)
    assert frame["mass_kg"].isna().all()


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("reader", [read_table, read_small_csv], ids=["pandas", "plain"])
def test_utf16_without_a_byte_order_mark_is_read(tmp_path, encoding, reader):
    path = tmp_path / "t.csv"
    path.write_bytes("name,size\nÎle Biscoe,1.5\nDream,2\n".encode(encoding))
    frame = reader(path)
    assert list(frame.columns) == ["name", "size"]
    assert list(frame["name"]) == ["Île Biscoe", "Dream"]
    assert np.asarray(frame["size"]).tolist() == [1.5, 2.0]
    broken = tmp_path / "b.csv"
    broken.write_bytes("name,size\nDream,2\n".encode(encoding)[:-1])  # one byte short
    with pytest.raises(ValueError, match=f"looks like {encoding.upper()} text without a byte"):
        read_table(broken)
    assert read_small_csv(broken) is None  # pandas's reading gives the error


def test_cells_formatted_as_percentages_read_as_their_csv_export(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Sales report"])  # a title above the table: rows counted as read_excel does
    sheet.append(["county", "meals", "ratio", "y"])
    for county, meals, ratio, y in [("A", 0.479, 25, 1), ("B", 0.05, 50, 2), ("C", 1, 200, 3)]:
        sheet.append([county, meals, ratio, y])
        sheet.cell(sheet.max_row, 2).number_format = "[Blue]0.0%"
        sheet.cell(sheet.max_row, 3).number_format = '0"%"' if y < 3 else "0\\%"  # a sign only
    book.save(tmp_path / "b.xlsx")
    with pytest.warns(DataWarning, match=r"column\(s\) \['meals'\] hold percentages: read as"):
        frame = read_table(tmp_path / "b.xlsx")
    assert frame["meals"].tolist() == [47.9, 5.0, 100.0]
    assert frame["ratio"].tolist() == [25, 50, 200]  # a % written after them: as stored
    (tmp_path / "b.csv").write_text(
        "county,meals,ratio,y\nA,47.9%,25%,1\nB,5.0%,50%,2\nC,100%,200%,3\n"
    )
    csv = read_table(tmp_path / "b.csv")
    np.testing.assert_array_equal(csv["meals"], frame["meals"])
    np.testing.assert_array_equal(csv["ratio"], frame["ratio"])


def test_a_nameless_column_holding_values_is_refused_in_a_workbook_as_in_a_csv(tmp_path):
    rows = [["", "species", "bill", None], [0, "Adelie", 39.1, 17.2], [1, "Gentoo", 46.5, 14.1]]
    path = _book(tmp_path / "b.xlsx", {"data": rows})  # column 1: an index, allowed
    with pytest.raises(ValueError) as error:
        read_table(path)
    assert _message_without_path(error, path) == (
        "FILE: column 4 of the header has no name, and data row 1 holds '17.2' in it"
    )
    two_rows = [
        ["species", "Bill", None, "mass"],
        [None, "length (mm)", "depth (mm)", None],
        ["Adelie", 39.1, 18.7, 3750],
    ]
    path = _book(tmp_path / "two.xlsx", {"data": two_rows})
    with pytest.raises(ValueError, match=r"'depth \(mm\)' in it; a header of two rows \("):
        read_table(path)
    csv = tmp_path / "two.csv"
    csv.write_text("species,Bill,,mass\n,length (mm),depth (mm),\nAdelie,39.1,18.7,3750\n")
    with pytest.raises(ValueError, match=r"line 2 holds 'depth \(mm\)' in it; a header of two"):
        read_table(csv)


# -- rows that are no data: totals, notes, the header again (the fourth user trial) -------
def _sales(n=12):
    rows = [f"item{i},{'ABC'[i % 3]},{10.5 * (i + 1):.1f},{i + 1}" for i in range(n)]
    return ["Item,Group,Amount,Qty", *rows]


@pytest.mark.parametrize("reader", [read_table, read_small_csv], ids=["pandas", "plain"])
@pytest.mark.parametrize(
    "after",
    [
        ["Total,,819.0,78", "Source: internal ERP export,,,"],
        ["Total sales,,819.0,78"],
        ["Total (EUR),,819.0,78", ",,,", "Average,,68.25,6.5"],
        ["", "Note: preliminary figures,,,", "* rounded to one decimal,,,"],
    ],
    ids=["total then source", "total sales", "total then average", "notes"],
)
def test_totals_and_notes_under_a_table_are_left_out(tmp_path, reader, after):
    path = tmp_path / "sales.csv"
    path.write_text("\n".join([*_sales(), *after]) + "\n")
    with pytest.warns(UserWarning, match="left out as (a )?(totals rows?|notes)"):
        frame = reader(path)
    assert len(frame) == 12
    np.testing.assert_array_equal(np.asarray(frame["Qty"]), np.arange(1, 13))
    assert np.asarray(frame["Amount"]).dtype == np.float64


def test_subtotals_and_the_header_again_are_left_out_and_rows_keep_their_numbers(tmp_path):
    lines = _sales(6)
    groups = [*lines[1:4], "Subtotal A,,63.0,6", *lines[4:], "Subtotal B,,220.5,15"]
    joined = [lines[0], *groups, lines[0], *_sales(3)[1:], "Grand total,,346.5,27"]
    joined[11] = "item1,B,n/q,2"  # the file's data row 11: a value that is not a number
    path = tmp_path / "joined.csv"
    path.write_text("\n".join(joined) + "\n")
    with pytest.warns(UserWarning) as caught:
        frame = read_table(path)
    said = " ".join(str(w.message) for w in caught)
    assert "3 row(s) hold the sums (or means) of the rows above them" in said
    assert "data row(s) 9 repeat the header" in said
    assert frame["Qty"].tolist() == [1, 2, 3, 4, 5, 6, 1, 2, 3]
    assert frame.attrs[FILE_ROWS] == [3, 7, 8]  # JSON: the frame concatenates, saves
    assert file_rows(frame).tolist() == [0, 1, 2, 4, 5, 6, 9, 10, 11]
    assert len(pd.concat([frame, frame])) == 18
    frame.to_parquet(tmp_path / "t.parquet")
    assert file_rows(frame.sort_values("Qty")) is None  # no longer the rows read
    assert read_small_csv(path) is None  # read_table numbers the rows left
    with pytest.raises(ValueError, match=r"column 'Amount', row 11: 'n/q' is not a number"):
        TabularModel(impute=None).fit(frame, "Qty")


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_second_table_beside_the_data_is_left_out_with_a_warning(tmp_path, suffix):
    header = ["Item", "Group", "Amount", "Qty", None, None, "Region", "Budget"]
    rows = [
        [f"i{i}", "ABC"[i % 3], i * 1.5, i, None, None]
        + ([f"r{i}", i * 10] if i < 4 else [None, None])
        for i in range(40)
    ]
    path = tmp_path / f"side{suffix}"
    if suffix == ".xlsx":
        _workbook(path, [header, *rows])
    else:
        cell = lambda v: "" if v is None else str(v)  # noqa: E731
        path.write_text("\n".join(",".join(map(cell, r)) for r in [header, *rows]) + "\n")
    with pytest.warns(UserWarning, match=r"column\(s\) 7-8 \(\['Region', 'Budget'\]\) stand apart"):
        frame = read_table(path)
    assert list(frame.columns) == ["Item", "Group", "Amount", "Qty"]
    assert len(frame) == 40


@pytest.mark.parametrize("reader", [read_table, read_small_csv], ids=["pandas", "plain"])
def test_numbers_in_several_currencies_are_read_with_a_warning(tmp_path, reader):
    path = tmp_path / "deals.csv"
    path.write_text('Price,Won\n"$1,200",no\n€500,yes\n30 CHF,no\n12,yes\n')
    with pytest.warns(UserWarning, match=r"'Price' \(\$, CHF, €\) write their numbers in several"):
        frame = reader(path)
    assert np.asarray(frame["Price"]).tolist() == [1200, 500, 30, 12]
    one = tmp_path / "one.csv"
    one.write_text('Price,Won\n"$1,200",no\n500 USD,yes\n12,yes\n')  # $ is USD
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.asarray(reader(one)["Price"]).tolist() == [1200, 500, 12]


@pytest.mark.parametrize("reader", [read_table, read_small_csv], ids=["pandas", "plain"])
def test_columns_kept_as_written_stay_so_without_a_totals_row(tmp_path, reader):
    path = tmp_path / "codes.csv"
    path.write_text("Code,Qty\n007,1\n012,2\n101,3\nTotal,6\n")
    with pytest.warns(UserWarning, match="totals row"):
        frame = reader(path, keep_spelling=["Code"])
    assert list(np.asarray(frame["Code"])) == ["007", "012", "101"]


@pytest.mark.parametrize("reader", [read_table, read_small_csv], ids=["pandas", "plain"])
def test_data_rows_labelled_like_totals_stay(tmp_path, reader):
    # a category named Total beside 0/1 flags (1 is the 'sum' of 0 and 1), and a Mean
    # among data rows: data, not a report's summaries
    path = tmp_path / "levels.csv"
    path.write_text(
        "type,flag,x\nPartial,0,1.5\nPartial,1,2.5\nTotal,1,3.1\nPartial,0,2.2\nMean,0.5,2.0\n"
        "Partial,1,1.0\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = reader(path)
    assert len(frame) == 6


# -- what is data after all (found in review) ----------------------------------------------
@pytest.mark.parametrize("reader", [read_table, read_small_csv], ids=["pandas", "plain"])
@pytest.mark.parametrize(
    "text",
    [
        "rating,year,n\nGood,2020,10\nPoor,2022,30\nAverage,2021,25\n",  # a year's mean: chance
        "note,x,y\nok,1,2\nfine,3,4\nno answer given,,\n",  # a value of three words
        "time,x,y\n12:00,1,2\n12:15,3,4\n12:30,,\n",  # a time, not a note
        "link,x,y\nhttps://a.org,1,2\nhttps://b.org,3,4\nhttps://c.org,,\n",
        "id,price,area,,garage,pool\n1,10,5,,1,0\n2,11,6,,0,1\n3,12,7,,,\n",  # sparse, not apart
    ],
    ids=["average", "three words", "time", "url", "sparse block"],
)
def test_last_rows_that_only_look_like_end_matter_stay(tmp_path, reader, text):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the empty column of the last one is named)
        frame = reader(path)
    if frame is not None:  # (read_small_csv leaves files with empty columns to pandas)
        assert len(frame) == 3
        assert len(frame.columns) == len([c for c in text.split("\n")[0].split(",") if c])


def test_subtotals_that_stand_in_a_column_kept_as_written_are_left_out(tmp_path):
    # deltaprop train reads its target as written: a target's subtotals are totals too
    path = tmp_path / "report.csv"
    path.write_text("region,price\nN,10\nN,20\nSubtotal N,30\nS,5\nS,6\nSubtotal S,11\n")
    with pytest.warns(UserWarning, match="2 row"):
        frame = read_table(path, keep_spelling=["price"])
    assert frame["price"].tolist() == ["10", "20", "5", "6"]
    assert read_small_csv(path, keep_spelling=["price"]) is None  # rows in between: pandas


@pytest.mark.parametrize("reader", [read_table, read_small_csv], ids=["pandas", "plain"])
def test_age_bands_and_codes_with_a_minus_stay_text(tmp_path, reader):
    path = tmp_path / "bands.csv"
    path.write_text("band,code,y\n0-,4711-,1\n18-,4712-,2\n65-,4713-,3\n")
    frame = reader(path)
    assert list(np.asarray(frame["band"])) == ["0-", "18-", "65-"]
    assert list(np.asarray(frame["code"])) == ["4711-", "4712-", "4713-"]
