"""deltaprop export-onnx / TabularModel.to_onnx: onnxruntime fed the raw columns."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from deltaprop import Dense, Network  # noqa: E402
from deltaprop.cli.main import main  # noqa: E402
from deltaprop.files import container as io  # noqa: E402
from deltaprop.tabular import DataWarning  # noqa: E402

# train's default, the tabular recipe, with few epochs (conftest.py)
pytestmark = pytest.mark.usefixtures("quick_recipe")

RTOL = {"float32": 1e-6, "float64": 1e-12}
TARGETS = {"binary": "answer", "multiclass": "grade", "regression": "price"}


def _table(seed: int = 0, n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = np.round(rng.normal(5.0, 2.0, n), 3)
    weight = np.round(rng.normal(size=n), 3)
    colour = rng.choice(["red", "green", "blue"], n)
    score = size - 5.0 + weight + (colour == "red")
    return pd.DataFrame(
        {
            "size": size,
            "colour": colour,
            "weight": weight,
            "answer": np.where(score > 0, "yes", "no"),
            "grade": np.array(["a", "b", "c"])[np.digitize(score, [-1.0, 1.0])],
            "price": 3.0 * score + 10.0,
        }
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One CLI model per task, trained with `deltaprop train` on a CSV with text."""
    folder = tmp_path_factory.mktemp("tabular")
    table = _table()
    models = {}
    for task, target in TARGETS.items():
        csv = folder / f"{task}.csv"
        others = [t for t in TARGETS.values() if t != target]
        table.drop(columns=others).to_csv(csv, index=False)
        path = folder / f"{task}.deltaprop"
        argv = ["train", str(csv), "--target", target, "--out", str(path)]
        assert main([*argv, "--hidden", "6", "--max-iter", "40", "-q"]) == 0
        models[task] = (path, csv)
    return models


def _feeds(session, frame, dtype):
    feeds = {}
    for node in session.get_inputs():
        column = frame[node.name]
        if node.type == "tensor(string)":
            feeds[node.name] = np.array(column.tolist(), dtype=object).reshape(-1, 1)
        else:
            feeds[node.name] = column.to_numpy(dtype=dtype).reshape(-1, 1)
    return feeds


def _run(path, frame, dtype):
    session = ort.InferenceSession(str(path))
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, _feeds(session, frame, dtype)), strict=True))


def _close(actual, expected, dtype):
    assert actual.dtype == np.dtype(dtype)
    scale = np.max(np.abs(expected))
    assert np.max(np.abs(actual - expected)) <= RTOL[dtype] * scale


@pytest.mark.parametrize("dtype", [None, "float32"])
@pytest.mark.parametrize("task", list(TARGETS))
def test_export_predicts_like_the_model(task, dtype, trained, tmp_path, capsys):
    path, csv = trained[task]
    out = tmp_path / "model.onnx"
    argv = ["export-onnx", str(path), str(out)] + ([] if dtype is None else ["--dtype", dtype])
    assert main(argv) == 0
    assert "wrote" in capsys.readouterr().out
    model = io.load(path)
    frame = pd.read_csv(csv)
    dtype = dtype or "float64"  # the CLI trains float64 models
    session = ort.InferenceSession(str(out))
    assert [i.name for i in session.get_inputs()] == ["size", "colour", "weight"]
    assert [i.shape[1] for i in session.get_inputs()] == [1, 1, 1]
    result = _run(out, frame, dtype)
    if task == "regression":
        assert list(result) == ["predictions"]
        assert result["predictions"].shape == (len(frame),)
        _close(result["predictions"], model.predict(frame), dtype)
        return
    assert list(result) == ["label", "probabilities"]
    np.testing.assert_array_equal(result["label"], model.predict(frame))
    assert result["label"].dtype == object  # the original string labels
    _close(result["probabilities"], model.predict_proba(frame), dtype)


def test_unseen_category_is_all_zero(trained, tmp_path):
    path, _ = trained["multiclass"]
    model = io.load(path)
    model.to_onnx(tmp_path / "m.onnx")
    frame = pd.DataFrame({"size": [4.0, 6.5], "colour": ["purple", "red"], "weight": [0.25, -1.0]})
    with pytest.warns(DataWarning, match="not seen in training"):
        expected = model.predict_proba(frame)
        labels = model.predict(frame)
        X = model.transform(frame)
    # columns: size, colour=blue, colour=green, colour=red, weight; "purple" is all zeros
    np.testing.assert_array_equal(X[0, 1:4], [0.0, 0.0, 0.0])
    result = _run(tmp_path / "m.onnx", frame, "float64")
    np.testing.assert_array_equal(result["label"], labels)
    _close(result["probabilities"], expected, "float64")


def test_imputed_missing_values(tmp_path):
    table = _table(seed=1).drop(columns=["grade", "price"])
    table.loc[3, "size"] = np.nan
    table.loc[5, "colour"] = None
    csv = tmp_path / "gaps.csv"
    table.to_csv(csv, index=False)
    path = tmp_path / "gaps.deltaprop"
    argv = ["train", str(csv), "--target", "answer", "--out", str(path), "--impute", "mean"]
    assert main([*argv, "--hidden", "4", "--max-iter", "20", "-q"]) == 0
    assert main(["export-onnx", str(path), str(tmp_path / "gaps.onnx"), "-q"]) == 0
    model = io.load(path)
    frame = pd.read_csv(csv)
    raw = frame.assign(colour=frame["colour"].fillna(""))  # a string tensor holds ""
    result = _run(tmp_path / "gaps.onnx", raw, "float64")
    np.testing.assert_array_equal(result["label"], model.predict(frame))
    _close(result["probabilities"], model.predict_proba(frame), "float64")


def test_a_yes_no_column_is_read_in_any_case(tmp_path):
    table = _table(seed=3).drop(columns=["grade", "price"])
    spellings = np.array(["Yes", "yes", "YES", "no", "No", "NO ", ""], dtype=object)
    table["member"] = spellings[np.arange(len(table)) % len(spellings)]
    csv = tmp_path / "member.csv"
    table.to_csv(csv, index=False)
    path = tmp_path / "member.deltaprop"
    argv = ["train", str(csv), "--target", "answer", "--out", str(path), "--hidden", "4"]
    assert main([*argv, "--max-iter", "20", "-q"]) == 0
    model = io.load(path)
    pre = model.preprocessor_
    member = next(c for c in pre.columns_ if c["name"] == "member")
    assert member["categories"] == ["no", "yes"]
    frame = pd.read_csv(csv)
    lowered = frame.assign(member=frame["member"].str.strip().str.lower())
    np.testing.assert_array_equal(model.transform(frame), model.transform(lowered))
    assert main(["export-onnx", str(path), str(tmp_path / "m.onnx"), "-q"]) == 0
    raw = frame.assign(member=frame["member"].fillna("").str.strip())
    result = _run(tmp_path / "m.onnx", raw, "float64")
    np.testing.assert_array_equal(result["label"], model.predict(frame))
    _close(result["probabilities"], model.predict_proba(frame), "float64")
    # spellings not in the training file, and an empty batch
    unseen = raw.assign(member=np.where(np.arange(len(raw)) % 2, "yEs", "nO"))
    result = _run(tmp_path / "m.onnx", unseen, "float64")
    expected = model.predict_proba(unseen.assign(member=unseen["member"].str.lower()))
    _close(result["probabilities"], expected, "float64")
    assert _run(tmp_path / "m.onnx", raw.iloc[:0], "float64")["probabilities"].shape == (0, 2)
    # other spellings of a truth value, as predict reads them: TRUE, 1, y are yes
    others = np.array(["TRUE", "0", "y", "F", "1", "n"], dtype=object)
    spelled = raw.assign(member=others[np.arange(len(raw)) % len(others)])
    result = _run(tmp_path / "m.onnx", spelled, "float64")
    np.testing.assert_array_equal(result["label"], model.predict(spelled))
    _close(result["probabilities"], model.predict_proba(spelled), "float64")
    truth = {"TRUE": "yes", "0": "no", "y": "yes", "F": "no", "1": "yes", "n": "no"}
    as_words = spelled.assign(member=spelled["member"].map(truth))
    _close(result["probabilities"], model.predict_proba(as_words), "float64")


def test_a_category_is_matched_in_any_case_as_predict_matches_it(tmp_path, capsys):
    # categories in several cases are one each (Red, RED, red); predict matches a value
    # written in another case to its category, and so must the exported graph
    table = _table(seed=4).drop(columns=["grade", "price"])
    table["colour"] = [
        c.upper() if i % 4 == 0 else c.title() for i, c in enumerate(table["colour"])
    ]
    csv = tmp_path / "colours.csv"
    table.to_csv(csv, index=False)
    path = tmp_path / "colours.deltaprop"
    assert main(["train", str(csv), "--target", "answer", "--out", str(path), "-q"]) == 0
    assert "several cases" in capsys.readouterr().err
    model = io.load(path)
    colour = next(c for c in model.preprocessor_.columns_ if c["name"] == "colour")
    assert colour["categories"] == ["Blue", "Green", "Red"]
    assert main(["export-onnx", str(path), str(tmp_path / "m.onnx"), "-q"]) == 0
    frame = pd.read_csv(csv)
    for spelled in (frame, frame.assign(colour=frame["colour"].str.lower())):
        result = _run(tmp_path / "m.onnx", spelled, "float32")
        np.testing.assert_array_equal(result["label"], model.predict(spelled))
        _close(result["probabilities"], model.predict_proba(spelled), "float32")
    lowered = frame.assign(colour=frame["colour"].str.lower())
    np.testing.assert_array_equal(model.transform(frame), model.transform(lowered))
    # one row, and an empty batch
    assert _run(tmp_path / "m.onnx", frame.iloc[:1], "float32")["label"].shape == (1,)
    assert _run(tmp_path / "m.onnx", frame.iloc[:0], "float32")["probabilities"].shape == (0, 2)


def test_network_file_exports(tmp_path, rng):
    net = Network([Dense(3, 4, "tanh"), Dense(4, 2, "softmax")], random_state=0)
    io.save(net, tmp_path / "net.deltaprop")
    assert main(["export-onnx", str(tmp_path / "net.deltaprop"), str(tmp_path / "n.onnx")]) == 0
    X = rng.normal(size=(5, 3))
    (output,) = ort.InferenceSession(str(tmp_path / "n.onnx")).run(None, {"X": X})
    expected = np.exp(
        np.tanh(X @ net.layers[0].weights + net.layers[0].bias) @ net.layers[1].weights
        + net.layers[1].bias
    )
    expected /= expected.sum(axis=1, keepdims=True)
    _close(output, expected, "float64")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{csv}", "{out}"], "not a deltaprop model file"),
        (["{missing}", "{out}"], "no such file"),
        (["{model}", "{nodir}"], "does not exist"),
        (["{model}", "{out}", "--opset", "7"], "opset must be between 19"),
        (["{model}", "{out}", "--dtype", "float16"], "invalid choice"),
        (["{model}", "{out}", "--opset", "x"], "must be an integer"),
    ],
)
def test_bad_input_exits_2(args, message, trained, tmp_path, capsys):
    path, csv = trained["binary"]
    names = {
        "csv": csv,
        "out": tmp_path / "o.onnx",
        "missing": tmp_path / "none.deltaprop",
        "model": path,
        "nodir": tmp_path / "no" / "o.onnx",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = main(["export-onnx", *[a.format(**names) for a in args]])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "o.onnx").exists()


@pytest.mark.parametrize("task", list(TARGETS))
def test_a_recipe_model_exports_the_mean_of_its_members(task, tmp_path):
    """train's default (the tabular recipe): every member, averaged; regression clipped."""
    table = _table(seed=2)
    target = TARGETS[task]
    csv = tmp_path / "t.csv"
    table.drop(columns=[t for t in TARGETS.values() if t != target]).to_csv(csv, index=False)
    path = tmp_path / "m.deltaprop"
    assert main(["train", str(csv), "--target", target, "--out", str(path), "-q"]) == 0
    model = io.load(path)
    assert len(model.estimator_.members_) == 5
    frame = pd.read_csv(csv)
    if task == "regression":  # a narrow clip range (standardised units) clips many rows
        model.estimator_.target_min_ = np.array([-0.5])
        model.estimator_.target_max_ = np.array([0.5])
    for dtype in ("float32", "float64"):
        out = tmp_path / f"{dtype}.onnx"
        model.to_onnx(out, dtype=dtype)
        result = _run(out, frame, dtype)
        if task == "regression":
            expected = model.predict(frame)
            clipped = np.isclose(expected, expected.max()) | np.isclose(expected, expected.min())
            assert clipped.sum() >= 10
            scale = np.max(np.abs(expected))
            assert np.max(np.abs(result["predictions"] - expected)) <= 1e-5 * scale
        else:
            np.testing.assert_array_equal(result["label"], model.predict(frame))
            np.testing.assert_allclose(
                result["probabilities"], model.predict_proba(frame), rtol=0.0, atol=1e-5
            )
