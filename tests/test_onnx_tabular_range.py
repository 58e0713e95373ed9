"""ONNX export of a TabularModel fed numbers far outside the training range.

``TabularModel.predict`` replaces only infinities by the training range's bounds and
scales every finite number as it is (the smooth clip takes it towards ±3); the exported
graph must answer alike for 1e20, float32's largest number, numbers past it, ±inf, and
for numbers just beyond the training range.
"""

from __future__ import annotations

import warnings
from io import StringIO

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from deltaprop import MLPClassifier, MLPRegressor, TabularModel  # noqa: E402
from deltaprop.cli.main import main  # noqa: E402
from deltaprop.estimators.recipe import TabularClassifier, TabularRegressor  # noqa: E402
from deltaprop.files import container as io  # noqa: E402

F32_MAX = float(np.finfo(np.float32).max)
#: Per numeric column: huge numbers of both signs, float32's largest and just past it,
#: numbers whose square overflows float32 (1e20) or float64 (1e160), infinities, and
#: numbers just beyond the training range (sizes lie in about [0, 10], weights in [-3, 3]).
EXTREMES = [
    1e20,
    -1e30,
    F32_MAX,
    -F32_MAX,
    3.5e38,
    -1e39,
    1e160,
    -1.7e308,
    np.inf,
    -np.inf,
    30.0,
    -30.0,
]
TASKS = {"classification": "answer", "regression": "price"}
#: The tolerance of the ONNX tests (tests/test_onnx_tabular.py, the recipe's members).
ATOL = 1e-5


def _table(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    size = np.round(rng.normal(5.0, 2.0, n), 3)
    weight = np.round(rng.normal(size=n), 3)
    colour = rng.choice(["red", "green", "blue"], n)
    score = size - 5.0 + weight + (colour == "red")
    answer = np.where(score > 0, "yes", "no")
    return pd.DataFrame(
        {"size": size, "colour": colour, "weight": weight, "answer": answer, "price": score + 10}
    )


def _estimator(kind: str, task: str):
    if kind == "recipe":  # train's default, one member and few epochs
        cls = TabularClassifier if task == "classification" else TabularRegressor
        return cls(n_ensemble=1, max_epochs=3, random_state=0)
    cls = MLPClassifier if task == "classification" else MLPRegressor
    return cls(hidden_layer_sizes=(5,), max_iter=5, random_state=0)


@pytest.fixture(scope="module")
def models():
    """``(kind, task, scaling) -> fitted TabularModel`` (scaling "none": not standardised)."""
    table = _table()
    fitted = {}
    for kind in ("recipe", "mlp"):
        for task, target in TASKS.items():
            for scaling in ("robust", "standard", "none"):
                data = table.drop(columns=[t for t in TASKS.values() if t != target])
                options = {"standardize": False} if scaling == "none" else {"scaling": scaling}
                model = TabularModel(_estimator(kind, task), **options)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # too few iterations to converge
                    fitted[kind, task, scaling] = model.fit(data, target)
    return fitted


def _extreme_rows() -> pd.DataFrame:
    rows = [{"size": 5.0, "colour": "red", "weight": 0.0}]
    for column in ("size", "weight"):
        rows += [{**rows[0], column: value} for value in EXTREMES]
    return pd.DataFrame(rows)


def _answers(model, frame):
    if model.task_ == "regression":
        return model.predict(frame)
    return model.predict_proba(frame)


def _onnx_answers(path, frame, dtype):
    session = ort.InferenceSession(str(path))
    feeds = {}
    for node in session.get_inputs():
        column = frame[node.name]
        if node.type == "tensor(string)":
            feeds[node.name] = np.array(column.tolist(), dtype=object).reshape(-1, 1)
        else:
            feeds[node.name] = column.to_numpy(dtype=dtype).reshape(-1, 1)
    names = [o.name for o in session.get_outputs()]
    outputs = dict(zip(names, session.run(None, feeds), strict=True))
    return outputs.get("probabilities", outputs.get("predictions"))


def _as_float32_inputs(frame):
    """The rows a float32 graph can be fed: a number past float32's range is ±inf."""
    with np.errstate(over="ignore"):
        return frame.assign(**{c: frame[c].astype(np.float32) for c in ("size", "weight")})


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("kind", ["recipe", "mlp"])
def test_robust_scaling_exports_extreme_numbers_as_predict_answers(
    kind, task, dtype, models, tmp_path
):
    model = models[kind, task, "robust"]
    frame = _extreme_rows()
    if dtype == "float32":
        frame = _as_float32_inputs(frame)
    expected = _answers(model, frame.astype({"size": float, "weight": float}))
    assert np.all(np.isfinite(expected))
    model.to_onnx(tmp_path / "m.onnx", dtype=dtype)
    actual = _onnx_answers(tmp_path / "m.onnx", frame, dtype)
    assert actual.dtype == np.dtype(dtype)
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=0.0, atol=ATOL * scale)


@pytest.mark.parametrize("scaling", ["standard", "none"])
@pytest.mark.parametrize("kind", ["recipe", "mlp"])
def test_unbounded_scaling_exports_finite_answers_as_predict(kind, scaling, models, tmp_path):
    """Without the smooth clip, huge numbers overflow the network; compared up to 1e20
    (infinities included), where ``predict`` answers finite numbers."""
    model = models[kind, "regression", scaling]
    frame = _extreme_rows()
    keep = frame[["size", "weight"]].abs().max(axis=1).to_numpy()
    frame = frame[(keep <= 1e20) | np.isinf(keep)].reset_index(drop=True)
    expected = model.predict(frame)
    assert np.all(np.isfinite(expected))
    model.to_onnx(tmp_path / "m.onnx", dtype="float64")
    actual = _onnx_answers(tmp_path / "m.onnx", frame, "float64")
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=0.0, atol=ATOL * scale)


def test_smooth_clip_of_extreme_numbers_is_three():
    """The reference itself: a robustly scaled number of 1e20 or more is ±3 (its limit)."""
    table = _table()
    model = TabularModel(_estimator("mlp", "regression"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(table.drop(columns=["answer"]), "price")
    frame = _extreme_rows()
    X = model.transform(frame)
    size = model.preprocessor_.get_feature_names_out().index("size")
    huge = np.abs(frame["size"].to_numpy()) >= 1e20
    huge &= np.isfinite(frame["size"].to_numpy())
    np.testing.assert_allclose(X[huge, size], 3.0 * np.sign(frame["size"][huge]), rtol=1e-15)


@pytest.mark.parametrize("recipe", ["tabular", "mlp"])
def test_cli_predict_answers_extreme_numbers(recipe, models, tmp_path, capsys):
    """`deltaprop predict` reads them (1e309 and "inf" are infinities), says nothing."""
    kind = "recipe" if recipe == "tabular" else "mlp"
    model = models[kind, "classification", "robust"]
    path = tmp_path / "m.deltaprop"
    io.save(model, path)
    text = ["1e20", "-1e30", "3.5e38", "1e309", "-1e309", "inf", "-Infinity", "1.7e308", "30"]
    lines = ["size,colour,weight"] + [f"{v},red,0" for v in text] + [f"5,blue,{v}" for v in text]
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    argv = ["predict", str(path), str(tmp_path / "rows.csv"), "--proba"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert err == ""
    written = pd.read_csv(StringIO(out))
    frame = pd.read_csv(tmp_path / "rows.csv")
    np.testing.assert_array_equal(written["answer"], model.predict(frame))
    loaded = io.load(path)
    np.testing.assert_allclose(
        written[["proba_no", "proba_yes"]], loaded.predict_proba(frame), rtol=0.0, atol=1e-6
    )


@pytest.mark.parametrize("scaling", ["standard", "none"])
def test_a_number_past_float32_after_scaling_is_refused_alike(models, tmp_path, scaling):
    # the recipe computes in float32: without robust scaling's smooth clip, 1e39 would
    # become inf and its row's answer NaN (the loaded model once labelled it class 0)
    model = models["recipe", "classification", scaling]
    frame = pd.DataFrame([{"size": 1e39, "colour": "red", "weight": 0.0}])
    message = "feature 'size' is .* after preprocessing in row\\(s\\) 1, beyond the float32"
    with pytest.raises(ValueError, match=message):
        model.predict(frame)
    path = tmp_path / "m.deltaprop"
    io.save(model, path)
    loaded = io.load(path)
    with pytest.raises(ValueError, match=message):
        loaded.predict_proba(frame)
    with pytest.raises(ValueError, match=message):
        loaded.evaluate(frame.assign(answer="yes"), "answer")
    assert loaded.predict_proba(frame.assign(size=1e30)).shape == (1, 2)  # answered
