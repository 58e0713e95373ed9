"""Model files written by deltaprop 0.1.0 (before column roles) still load and predict.

The files in tests/data/v0_1_0/ were written by deltaprop 0.1.0 (commit 5956152) with
``deltaprop train`` and their predictions with its ``deltaprop predict``: today's
deltaprop must give the very same predictions, digit for digit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from deltaprop.cli.main import main

DATA = Path(__file__).resolve().parent / "data" / "v0_1_0"


@pytest.mark.parametrize(("model", "table"), [("classifier", "customers"), ("regressor", "spend")])
def test_predictions_of_a_0_1_0_model_file_are_unchanged(model, table, tmp_path):
    out = tmp_path / "predictions.csv"
    status = main(["predict", str(DATA / f"{model}.deltaprop"), str(DATA / f"{table}.csv"),
                   "--out", str(out)])  # fmt: skip
    assert status == 0
    assert out.read_text() == (DATA / f"{model}_predictions.csv").read_text()


def test_a_0_1_0_preprocessor_reads_as_standard_scaling():
    import deltaprop as dp

    model = dp.load(DATA / "classifier.deltaprop")
    pre = model.preprocessor_
    assert pre.scaling == "standard"
    assert {name: role.role for name, role in pre.roles_.items()} == {
        "age": "numeric",
        "income": "numeric",
        "plan": "categorical",
    }


def test_a_0_1_0_model_exports_to_float32_onnx_without_overflow(tmp_path):
    # found by the fuzz harness (tests/fuzz): these files clip numbers at float64's largest
    # value, which overflowed to inf (a NumPy RuntimeWarning) in a float32 graph
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    import numpy as np
    import pandas as pd

    import deltaprop as dp

    model = dp.load(DATA / "classifier.deltaprop")
    out = tmp_path / "model.onnx"
    model.to_onnx(out, dtype="float32")  # RuntimeWarnings are errors in this suite
    frame = pd.read_csv(DATA / "customers.csv")
    session = ort.InferenceSession(str(out))
    feeds = {
        "age": frame[["age"]].to_numpy(np.float32),
        "income": frame[["income"]].to_numpy(np.float32),
        "plan": frame[["plan"]].to_numpy(object),
    }
    labels, _ = session.run(None, feeds)
    np.testing.assert_array_equal(labels, model.predict(frame))
