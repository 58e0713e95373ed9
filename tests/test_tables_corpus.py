"""The messy-table corpus (tests/data/messy, written by make_corpus.py): each table trains
with no option, predicts through the saved file, and gets the roles a person would give."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")
pytest.importorskip("pyarrow")

import deltaprop as dp  # noqa: E402
from deltaprop.cli.main import main  # noqa: E402
from deltaprop.tabular import Preprocessor, infer_roles, read_table  # noqa: E402

# train's default, the tabular recipe, with few epochs (conftest.py)
pytestmark = pytest.mark.usefixtures("quick_recipe")
RECIPE_EPOCHS = 16  # the scores below are checked: enough epochs to learn the tables

CORPUS = Path(__file__).parent / "data" / "messy"

#: file -> (target, ID columns given with --id, expected roles of some columns, the
#: defects it carries)
CASES = {
    "hr.csv": ("left", ["employee_id"], {
        "Unnamed: 0": "identifier", "employee_id": "id", "age": "numeric",
        "salary": "numeric", "overtime": "categorical", "department": "categorical",
    }, "missing values, ' yes ' vs 'yes', a row id, a pandas index column"),
    "churn.tsv": ("churn", ["customer"], {
        "customer": "id", "usage": "numeric", "months": "numeric",
        "contract": "categorical", "paperless": "categorical",
    }, "TSV, '?' nulls, percent signs, Yes/No booleans, string IDs"),
    "houses_eu.csv": ("prix", [], {
        "surface m²": "numeric", "âge": "numeric", "tension": "numeric", "s5": "numeric",
        "ville": "categorical",
    }, "semicolons, decimal commas, thousands separators, latin-1"),
    "flights.csv": ("delayed", [], {
        "flight": "identifier", "departure": "datetime", "distance": "numeric",
        "carrier": "categorical",
    }, "mixed date formats, timestamps, one flight number per row"),
    "lab.csv": ("progression", [], {
        "s1": "numeric", "s2": "numeric", "instrument": "constant", "comment": "constant",
    }, "a 1e300 value, a 1e6 outlier, -inf, a constant and an all-missing column"),
    "iris_bom.csv": ("species", [], {
        "sepal length": "numeric", "petal width": "numeric",
    }, "a BOM, 'a, b' headers, long class labels"),
    "wine_notes.csv": ("cultivar", [], {
        "proline": "numeric", "notes": "text", "alcohol": "numeric",
    }, "quoted newlines, high-cardinality text, '1,234' numbers"),
    "sales.csv": ("returned", ["order_id"], {
        "order_id": "id", "created": "datetime", "amount": "numeric", "channel": "categorical",
    }, "unique order IDs and timestamps (once one-hot encoded)"),
    "cancer.parquet": ("diagnosis", [], {
        "row": "identifier", "mean_texture": "numeric", "mean_radius": "numeric",
    }, "Parquet, missing values, an integer row number"),
    "penguins.npz": ("species", [], {
        "island": "categorical", "bill_mm": "numeric", "mass_g": "numeric",
    }, "NPZ with text"),
    "survey.csv": ("recommend", [], {
        "satisfaction": "numeric", "visits": "numeric", "region": "categorical",
        "wave": "constant",
    }, "'45 %' percents, 'N/A' and '-' nulls, a constant column, Yes/No target"),
    "reviews.csv": ("sentiment", [], {"review": "text", "stars_shown": "numeric"},
                    "high-cardinality free text"),
    "sensors.csv": ("output", [], {"reading": "numeric", "humidity": "numeric"},
                    "heavy tails, a 1e6 reading, CRLF line ends"),
    "credit.csv.gz": ("default", [], {
        "income": "numeric", "debt": "numeric", "purpose": "categorical",
    }, "gzip, cp1252, spaces around header names, thousands separators"),
    "dates_eu.csv": ("temperatur", [], {"datum": "datetime", "station": "categorical"},
                     "semicolons, decimal commas in the target, dates, station codes"),
}  # fmt: skip


def test_the_corpus_is_big_enough_and_complete():
    assert len(CASES) >= 15
    on_disk = {p.name for p in CORPUS.iterdir() if p.name != "make_corpus.py"}
    assert on_disk == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_roles(name):
    target, ids, expected, _ = CASES[name]
    roles = infer_roles(read_table(CORPUS / name), target, id_columns=ids)
    assert roles[target].role == "target"
    assert {column: roles[column].role for column in expected} == expected
    for role in roles.values():
        assert role.reason


def _baseline(y_true: pd.Series, task: str) -> float:
    """The score of always answering the most frequent class, or the mean (r2 = 0)."""
    if task == "classification":
        return float(y_true.value_counts(normalize=True).max())
    return 0.0


@pytest.mark.parametrize("name", sorted(CASES))
def test_trains_with_no_option_and_predicts_through_the_file(name, tmp_path, capsys):
    target, ids, expected, _ = CASES[name]
    data, model_path = CORPUS / name, tmp_path / "model.deltaprop"
    argv = ["train", str(data), "--target", target, "--out", str(model_path)]
    argv += ["--id", ",".join(ids)] if ids else []
    assert main(argv) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    for column, role in expected.items():  # the roles table, before training
        assert any(
            line.split()[:2] == [*column.split()[:1], role]
            or (column in line and f" {role} " in line)
            for line in printed.splitlines()
        )

    out = tmp_path / "predictions.csv"
    assert main(["predict", str(model_path), str(data), "--out", str(out)]) == 0
    predictions = pd.read_csv(out, keep_default_na=False)
    frame = read_table(data)
    assert list(predictions.columns) == [*ids, target]
    assert len(predictions) == len(frame)
    for column in ids:  # the IDs next to each prediction, as written in the table
        assert predictions[column].astype(str).tolist() == frame[column].astype(str).tolist()

    assert main(["evaluate", str(model_path), str(data), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)["metrics"]
    model = dp.load(model_path)
    if model.task_ == "classification":
        baseline = _baseline(frame[target].astype(str).str.strip(), model.task_)
        assert scores["accuracy"] > baseline + 0.05, (scores, baseline)
    else:
        assert scores["r2"] > 0.3, scores

    # the same table through Python: the same roles and the same feature matrix
    pre = Preprocessor(target, id_columns=ids).fit(read_table(data))
    assert {c: r.role for c, r in pre.roles_.items()} == {
        c: r.role for c, r in model.roles_.items()
    }
    assert np.array_equal(pre.transform(frame), model.transform(frame))
    assert np.isfinite(model.transform(frame)).all()

    assert main(["info", str(model_path)]) == 0
    info = capsys.readouterr().out
    for column, role in expected.items():
        assert any(column in line and role in line for line in info.splitlines())


def test_dry_run_prints_the_roles_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "m.deltaprop"
    argv = ["train", str(CORPUS / "hr.csv"), "--target", "left", "--out", str(out), "--dry-run"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert "employee_id" in printed and "identifier" in printed
    assert "a different integer in each of the 300 rows" in printed
    assert "trained on" not in printed


_MEMORY_CHILD = """
import json, sys, tracemalloc, warnings
from pathlib import Path
import pandas, sklearn  # imported before measuring: their own memory is not the table's
import deltaprop as dp
from deltaprop.tabular import infer_task, read_table
warnings.simplefilter("ignore")
out = {}
for name, target in json.loads(sys.argv[1]).items():
    path = Path(sys.argv[2]) / name
    tracemalloc.start()
    frame = read_table(path)
    task = infer_task(frame[target])
    kind = dp.MLPClassifier if task == "classification" else dp.MLPRegressor
    estimator = kind(hidden_layer_sizes=(8,), max_iter=5)
    model = dp.TabularModel(estimator).fit(frame, target)
    model.predict(frame)
    out[name] = [tracemalloc.get_traced_memory()[1], path.stat().st_size]
    tracemalloc.stop()
print(json.dumps(out))
"""


def _memory_child(folder):
    cases = {name: case[0] for name, case in CASES.items()}
    return dict(args=[sys.executable, "-c", _MEMORY_CHILD, json.dumps(cases), str(CORPUS)])


# started once the tests are collected, it runs on the second core (conftest.py)
@pytest.mark.early(command=_memory_child)
def test_memory_stays_a_small_multiple_of_the_file_size(early_command):
    """Reading, fitting and predicting each table: at most 20 x its size + 16 MB (SECURITY.md)."""
    result = early_command.result(timeout=300)
    assert result.returncode == 0, result.stderr
    peaks = json.loads(result.stdout)
    for name, (peak, size) in peaks.items():
        assert peak < 20 * size + 16 * 2**20, (name, peak, size)
