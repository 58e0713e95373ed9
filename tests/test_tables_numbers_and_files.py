"""The default numeric transform against numbers computed here, independently; and files.

Files: an .xlsx export reads like its CSV; a folder is a Parquet dataset or is refused as a
folder.

Robust scaling: centre = median, spread = IQR / 1.349 (the IQR of a standard normal; else
the mean absolute deviation from the median / sqrt(2/pi), else 1); then the smooth clip
z / sqrt(1 + (z/3)^2). The
references below use Python's ``statistics`` and ``math`` on plain floats (exact
fractions where it matters), not NumPy and not deltaprop's helpers.
"""

from __future__ import annotations

import datetime
import math
import statistics
import warnings
from fractions import Fraction

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from deltaprop.tabular import DataWarning, Preprocessor, read_table  # noqa: E402


def _quantile(sorted_values, q):
    # the "linear" rule (NumPy's default): position q (n - 1), linear between neighbours
    position = Fraction(q) * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * float(fraction)


def _reference(values):
    s = sorted(values)
    median = statistics.median(s)
    # the IQR of a standard normal distribution, 2 Phi^-1(3/4) = 1.34898...
    iqr_normal = 2 * statistics.NormalDist().inv_cdf(0.75)
    spread = (_quantile(s, 0.75) - _quantile(s, 0.25)) / iqr_normal
    if spread == 0:
        spread = statistics.fmean(abs(v - median) for v in s) / math.sqrt(2 / math.pi)
    if spread == 0:
        spread = 1.0
    out = []
    for v in values:
        z = (v - median) / spread
        # for |z| > 3: 3 sign(z) / sqrt(1 + (3/z)^2), the same number without overflow
        out.append(z / math.sqrt(1 + (z / 3) ** 2) if abs(z) <= 3 else
                   math.copysign(3, z) / math.sqrt(1 + (3 / z) ** 2))  # fmt: skip
    return out


@pytest.mark.parametrize(
    "values",
    [
        [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0],
        [10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 12.0, 40.0],  # IQR 0: the absolute deviation
        [0.5, 1.5, 2.5, 1e6, 3.5, 4.5, 5.5, 6.5],  # an outlier: clipped smoothly near 3
    ],
    ids=["plain", "iqr-zero", "outlier"],
)
def test_robust_scaling_and_smooth_clip_match_the_formulas(values):
    frame = pd.DataFrame({"x": values, "y": [0.0, 1.0] * (len(values) // 2)})
    X = Preprocessor("y", impute=None).fit(frame).transform(frame)
    np.testing.assert_allclose(X[:, 0], _reference(values), rtol=1e-12, atol=1e-15)
    assert np.all(np.abs(X[:, 0]) < 3.0)


def test_huge_and_infinite_values_stay_finite_and_ordered():
    values = [1.0, 2.0, 3.0, 1e300, -1e300, 4.0, 5.0, 6.0]
    frame = pd.DataFrame({"x": values, "y": [0.0, 1.0] * 4})
    pre = Preprocessor("y", impute=None).fit(frame)
    X = pre.transform(frame)[:, 0]
    assert np.all(np.isfinite(X))
    assert list(np.argsort(X, kind="stable")) == list(np.argsort(values, kind="stable"))
    # the moderate values are scaled exactly as the formula says (the extremes only move
    # the clip's output towards +-3, not the centre or the spread of the others)
    np.testing.assert_allclose(X, _reference(values), rtol=1e-12)
    unseen = pre.transform(pd.DataFrame({"x": [math.inf, -math.inf, 3.5], "y": [0.0] * 3}))
    assert np.all(np.isfinite(unseen[:, 0]))
    assert unseen[0, 0] > 2.9 and unseen[1, 0] < -2.9


def test_an_xlsx_export_reads_like_its_csv(tmp_path):
    pytest.importorskip("openpyxl")
    frame = pd.DataFrame({" name ": ["a ", "b", None], "value": [1.5, None, 3.0]})
    frame.to_excel(tmp_path / "table.xlsx", index=False)
    frame.to_csv(tmp_path / "table.csv", index=False)
    from_xlsx, from_csv = read_table(tmp_path / "table.xlsx"), read_table(tmp_path / "table.csv")
    assert list(from_xlsx.columns) == list(from_csv.columns) == ["name", "value"]
    assert from_xlsx["name"].tolist()[:2] == from_csv["name"].tolist()[:2] == ["a", "b"]
    assert from_xlsx["name"].isna().tolist() == from_csv["name"].isna().tolist()
    np.testing.assert_array_equal(from_xlsx["value"].to_numpy(float), [1.5, np.nan, 3.0])


def test_title_rows_above_an_xlsx_header_are_left_out_with_a_warning(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["A1"], sheet["A2"] = "Sales report Q2", "exported 2024-05-01"
    sheet.append([])
    sheet.append(["region", "units", "price"])
    for i in range(5):
        sheet.append(["NS"[i % 2], i + 1, 9.5 + i])
    book.save(tmp_path / "titled.xlsx")
    message = r"2 row\(s\) above the header left out as a title: 'Sales report Q2'; 'exported"
    with pytest.warns(DataWarning, match=message):
        frame = read_table(tmp_path / "titled.xlsx")
    assert list(frame.columns) == ["region", "units", "price"]
    assert frame["units"].tolist() == [1, 2, 3, 4, 5]
    # an index column (an empty header cell) and a row of numbers: the usual header
    table = pd.DataFrame({"x": [1.5, 2.5], "y": ["a", "b"]})
    table.to_excel(tmp_path / "indexed.xlsx")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list(read_table(tmp_path / "indexed.xlsx").columns) == ["Unnamed: 0", "x", "y"]


@pytest.mark.parametrize("title", [False, True])
def test_a_table_that_starts_right_of_column_a_is_read(tmp_path, title):
    # a report's table at C3, under a title in A1 or under empty rows, with an empty
    # column between two of its columns: read as the table alone
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    if title:
        sheet["A1"] = "Sales report Q2"
    rows = [["region", "units", None, "price"]]
    rows += [["NS"[i % 2], i + 1, None, 9.5 + i] for i in range(5)]
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                sheet.cell(3 + r, 3 + c, value)
    book.save(tmp_path / "offset.xlsx")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = read_table(tmp_path / "offset.xlsx")
    said = [str(w.message) for w in caught]
    if title:
        assert said == [
            f"'{tmp_path / 'offset.xlsx'}': 1 row(s) above the header left out as a title: "
            "'Sales report Q2'"
        ]
    else:
        assert said == []
    assert list(frame.columns) == ["region", "units", "price"]
    assert frame["region"].tolist() == ["N", "S", "N", "S", "N"]
    np.testing.assert_array_equal(frame["price"].to_numpy(float), [9.5, 10.5, 11.5, 12.5, 13.5])


def test_a_workbooks_date_cells_read_as_its_csv_exports_dates(tmp_path):
    # openpyxl gives date cells as datetime objects in an object column (found by the
    # fourth user trial: every workbook with a date column failed with AttributeError)
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["when", "units", "y"])
    lines = ["when,units,y"]
    for i in range(40):
        day = datetime.datetime(2022, 1, 1) + datetime.timedelta(days=9 * i)
        sheet.append([day, i % 7, i * 0.5])
        sheet.cell(sheet.max_row, 1).number_format = "m/d/yyyy"
        lines.append(f"{day.date().isoformat()},{i % 7},{i * 0.5}")
    book.save(tmp_path / "t.xlsx")
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    from_xlsx, from_csv = read_table(tmp_path / "t.xlsx"), read_table(tmp_path / "t.csv")
    pre = Preprocessor("y").fit(from_csv)
    assert pre.roles_["when"].role == "datetime"
    assert Preprocessor("y").fit(from_xlsx).columns_ == pre.columns_
    np.testing.assert_array_equal(pre.transform(from_xlsx), pre.transform(from_csv))
    days = (np.datetime64("2022-01-01") - np.datetime64("1970-01-01")).astype(int) + 9 * np.arange(
        40
    )
    np.testing.assert_array_equal(pre.fit(from_xlsx).fill_values_["when"], np.median(days))


@pytest.mark.parametrize("damage", ["local header", "deflate stream", "xml"])
def test_a_damaged_xlsx_is_a_value_error_naming_the_file(tmp_path, damage):
    # found by the fuzz harness (tests/fuzz): zipfile's BadZipFile, zlib's error and the
    # XML parser's errors used to escape read_table
    pytest.importorskip("openpyxl")
    import zipfile

    good = tmp_path / "good.xlsx"
    pd.DataFrame({"x": [1.0, 2.0], "y": ["a", "b"]}).to_excel(good, index=False)
    path = tmp_path / "damaged.xlsx"
    if damage == "xml":  # every part sound as a ZIP member, the sheet not XML
        with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
            for info in src.infolist():
                body = src.read(info)
                if info.filename == "xl/worksheets/sheet1.xml":
                    body = body[: len(body) // 2]
                dst.writestr(info, body)
    else:
        data = bytearray(good.read_bytes())
        with zipfile.ZipFile(good) as archive:
            info = archive.getinfo("xl/workbook.xml")
        start = info.header_offset + 30 + len(info.filename)  # the member's data
        if damage == "local header":
            data[info.header_offset + 30] ^= 0x20  # its name in the local header
        else:
            data[start : start + 16] = b"\xff" * 16
        path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"damaged\.xlsx': cannot read the workbook"):
        read_table(path)


def test_a_folder_of_other_files_is_named_as_a_folder_not_a_parquet_error(tmp_path):
    pytest.importorskip("pyarrow")
    pd.DataFrame({"x": [1.0, 2.0]}).to_parquet(tmp_path / "part-0.parquet")
    (tmp_path / "_SUCCESS").write_text("")  # skipped, as pyarrow skips it
    assert read_table(tmp_path)["x"].tolist() == [1.0, 2.0]
    (tmp_path / "notes.md").write_text("# not a table")
    with pytest.raises(ValueError, match=r"is a folder.*'notes\.md', which is not a Parquet file"):
        read_table(tmp_path)
