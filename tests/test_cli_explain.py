"""The ``deltaprop explain`` command, run in-process through ``main``."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from deltaprop.cli.main import main

# train's default, the tabular recipe, with few epochs (conftest.py)
pytestmark = pytest.mark.usefixtures("quick_recipe")


def test_explain_prints_the_worked_example(capsys):
    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("deltaprop explain: one step of backpropagation")
    assert "network: 2 inputs -> 2 sigmoid -> 1 sigmoid; loss: squared_error" in out
    assert "learning_rate eta = 0.5" in out
    # Mazur's published error and updated w5
    assert "0.274811" in out and "0.358916" in out


def test_explain_json_and_markdown(capsys):
    assert main(["explain", "--format", "json", "--steps", "5"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["loss"] == pytest.approx(0.274811083, abs=1e-9)
    assert data["layers"][1]["d_weights"][0][0] == pytest.approx(0.082167041, abs=1e-9)
    curve = data["loss_curve"]
    assert len(curve) == 5 and curve[0] == data["loss"]
    assert all(b < a for a, b in itertools.pairwise(curve))

    assert main(["explain", "--format", "markdown", "--learning-rate", "0.1"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("## deltaprop explain")
    assert "learning_rate eta = 0.1" in md


def test_explain_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "worked.png"
    assert main(["explain", "--png", str(path)]) == 0
    assert path.read_bytes()[:4] == b"\x89PNG"
    captured = capsys.readouterr()
    assert f"wrote {path}" in captured.err
    assert main(["explain", "--png", str(tmp_path / "missing" / "x.png")]) == 2
    assert "cannot write --png" in capsys.readouterr().err


@pytest.fixture
def trained(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=30), rng.normal(size=30)
    frame = pd.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "colour": rng.choice(["red", "blue"], 30),
            "label": np.where(x1 + x2 > 0, "up", "down"),
        }
    )
    data, model = tmp_path / "data.csv", tmp_path / "model.deltaprop"
    frame.to_csv(data, index=False)
    argv = ["train", str(data), "--target", "label", "--out", str(model), "--hidden", "3"]
    assert main([*argv, "--activation", "tanh", "--solver", "lbfgs", "--max-iter", "10", "-q"]) == 0
    return str(model), str(data), frame


def test_explain_a_row_of_real_data_with_a_trained_model(trained, capsys):
    import deltaprop as dp

    model_path, data, frame = trained
    assert main(["explain", model_path, data, "--row", "4", "--format", "json"]) == 0
    trace = json.loads(capsys.readouterr().out)
    model = dp.load(model_path)
    # independently: the 4th row through the model's preprocessing, its label as 0/1
    X = model.preprocessor_.transform(frame)[[3]]
    y = np.array([[1.0 if frame["label"][3] == "up" else 0.0]])
    loss, grads = model.estimator_.network_.loss_and_gradients(X, y)
    assert trace["loss"] == loss
    for layer, (d_weights, d_bias) in zip(trace["layers"], grads, strict=True):
        np.testing.assert_array_equal(np.array(layer["d_weights"]), d_weights)
        np.testing.assert_array_equal(np.array(layer["d_bias"]), d_bias)

    assert main(["explain", model_path, data, "--row", "4", "--steps", "3"]) == 0
    text = capsys.readouterr().out
    label = frame["label"][3]
    assert text.startswith(f"row 4 of {data} with {model_path}: label = {label!r}")
    assert "network: 4 inputs -> 3 tanh -> 1 sigmoid" in text
    assert main(["explain", model_path, data, "--row", "1", "--format", "markdown"]) == 0
    assert "## deltaprop explain" in capsys.readouterr().out


def test_explain_a_regression_row_prints_numbers_as_numbers(tmp_path, capsys):
    # the target and the prediction were printed as np.float64(1.8827884458406359)
    pd = pytest.importorskip("pandas")
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(1)
    x = rng.normal(size=40)
    frame = pd.DataFrame({"x": x, "y": 2.0 * x + 0.125})
    data, model = tmp_path / "reg.csv", tmp_path / "reg.deltaprop"
    frame.to_csv(data, index=False)
    assert main(["train", str(data), "--target", "y", "--out", str(model), "-q"]) == 0
    assert main(["explain", str(model), str(data), "--row", "2"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "np." not in first
    assert f": y = {frame['y'][1]:.6g}, the model predicts " in first


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--row", "0"], "--row must be >= 1"),
        (["--row", "31"], "has 30 data rows"),
        (["--row", "1", "--target", "nothing"], "lacks the target column 'nothing'"),
        (None, "give MODEL DATA --row N"),
    ],
)
def test_explain_model_bad_usage(trained, extra, message, capsys):
    model_path, data, _ = trained
    argv = ["explain", model_path, data, *extra] if extra else ["explain", model_path, "--row", "1"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err


@pytest.mark.parametrize("blank", ["", "NA", "  "])
def test_explain_a_row_without_its_target_says_so(trained, tmp_path, capsys, blank):
    model_path, _, frame = trained
    frame = frame.astype({"label": object})
    frame.loc[2, "label"] = blank
    data = tmp_path / "gap.csv"
    frame.to_csv(data, index=False)
    assert main(["explain", model_path, str(data), "--row", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [
        "deltaprop: error: --row 3: its 'label' is missing, and explaining a row needs "
        "its true value (pick a row that has one, or name another column with --target COLUMN)"
    ]
    assert main(["explain", model_path, str(data), "--row", "4", "--format", "json"]) == 0


def test_explain_bad_options(capsys):
    assert main(["explain", "--steps", "0"]) == 2
    assert "steps must be >= 1" in capsys.readouterr().err
    assert main(["explain", "--format", "yaml"]) == 2
    assert main(["explain", "--learning-rate", "-1"]) == 2
    # the shared --learning-rate option (cli/options.py) checks it, as for train
    assert "argument --learning-rate: must be > 0" in capsys.readouterr().err


@pytest.fixture
def weighted_model(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(1)
    x1, x2 = rng.normal(size=40), rng.normal(size=40)
    frame = pd.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "wt": rng.uniform(0.5, 3.0, 40).round(2),
            "label": np.where(x1 - x2 > 0, "yes", "no"),
        }
    )
    data, model = tmp_path / "data.csv", tmp_path / "model.deltaprop"
    frame.to_csv(data, index=False)
    argv = ["train", str(data), "--target", "label", "--sample-weight", "wt", "--out", str(model)]
    assert main([*argv, "--hidden", "3", "--activation", "relu", "--max-iter", "20", "-q"]) == 0
    return str(model), str(data), frame


def test_explain_a_row_shows_its_sample_weight_and_health_over_all_rows(weighted_model, capsys):
    import deltaprop as dp

    model_path, data, frame = weighted_model
    assert (
        main(["explain", model_path, data, "--row", "2", "--format", "json", "--weight", "2,0,1"])
        == 0
    )
    trace = json.loads(capsys.readouterr().out)
    assert trace["weighted"] is True and trace["sample_weight"] == [frame["wt"][1]]
    assert trace["health_rows"] == 40  # dead units are counted on every row of DATA
    assert trace["learning_rate"] == 0.5
    assert trace["feature_names"] is not None and len(trace["feature_names"]) == 2
    model = dp.load(model_path)
    net = model.estimator_.network_
    X_all = model.preprocessor_.transform(frame.drop(columns=["wt"]))
    y = np.array([[1.0 if frame["label"][1] == "yes" else 0.0]])
    loss, grads = net.loss_and_gradients(X_all[[1]], y, sample_weight=[frame["wt"][1]])
    assert trace["loss"] == loss
    np.testing.assert_array_equal(np.array(trace["layers"][0]["d_weights"]), grads[0][0])
    z = X_all @ net.layers[0].weights + net.layers[0].bias
    assert trace["layers"][0]["dead"] == float(np.mean(np.all(z <= 0, axis=0)))
    (view,) = trace["scalar_views"]
    assert view["name"] == "b[2][1]" and view["relative_difference"] < 1e-6

    assert main(["explain", model_path, data, "--row", "2"]) == 0
    text = capsys.readouterr().out
    assert f"sample weight (wt): {frame['wt'][1]:g}" in text
    assert f"sample weights w = [{frame['wt'][1]:g}]" in text and "unweighted" not in text


def test_explain_png_of_a_model_names_its_inputs(weighted_model, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    model_path, data, _ = weighted_model
    path = tmp_path / "row.png"
    assert main(["explain", model_path, data, "--row", "1", "--png", str(path)]) == 0
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_explain_weight_and_example_options(capsys):
    assert (
        main(["explain", "--example", "tutorial", "--weight", "2,0,1", "--format", "markdown"]) == 0
    )
    md = capsys.readouterr().out
    assert "### Scalar view of b[2][1]" in md and "sample weights w = [2 1 1]" in md
    assert main(["explain", "--weight", "3,1,1"]) == 2
    assert "--weight 3,1,1: LAYER must be in [1, 2]" in capsys.readouterr().err
    assert main(["explain", "--weight", "1,1"]) == 2
    assert "write LAYER,I,J" in capsys.readouterr().err
    assert main(["explain", "--sample-weight", "w"]) == 2
    assert "--sample-weight names a column of DATA" in capsys.readouterr().err
