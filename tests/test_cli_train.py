"""``deltaprop train -> info -> evaluate -> predict`` end to end, in-process through main."""

from __future__ import annotations

import io
import json
import struct
import warnings

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")
pytest.importorskip("pyarrow")

import deltaprop as dp  # noqa: E402
from deltaprop.cli.main import main  # noqa: E402

# train's default, the tabular recipe, with few epochs (conftest.py)
pytestmark = pytest.mark.usefixtures("quick_recipe")

N_ROWS = 48


def _table(task: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=N_ROWS), rng.normal(3.0, 2.0, size=N_ROWS)
    colour = rng.choice(["red", "green", "blue"], N_ROWS)
    score = x1 + 0.5 * (x2 - 3.0) + (colour == "red")
    if task == "binary":
        target = np.where(score > 0.5, "yes", "no")
    elif task == "multiclass":
        target = np.where(score > 1.2, "cat", np.where(score > -0.2, "dog", "bird"))
    else:
        target = 1000.0 * score + 50_000.0  # a price: far from zero, large spread
    return pd.DataFrame({"x1": x1, "x2": x2, "colour": colour, "y": target})


def _write(frame, folder, name, fmt):
    path = folder / f"{name}.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return str(path)


def _read_csv(text: str):
    return pd.read_csv(io.StringIO(text))


OPTIONS = ["--hidden", "6", "--solver", "lbfgs", "--max-iter", "30", "--seed", "3"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_train_info_evaluate_predict(task, fmt, tmp_path, capsys):
    frame = _table(task)
    data = _write(frame, tmp_path, "train", fmt)
    model_path = str(tmp_path / "model.deltaprop")

    assert main(["train", data, "--target", "y", "--out", model_path, *OPTIONS]) == 0
    out = capsys.readouterr().out
    assert f"wrote {model_path}" in out
    assert "lbfgs: " in out and "epochs, final loss" in out

    # the in-memory model of the same settings predicts exactly what the file predicts
    estimator = (dp.MLPRegressor if task == "regression" else dp.MLPClassifier)(
        hidden_layer_sizes=(6,),
        solver="lbfgs",
        max_iter=30,
        random_state=3,
        early_stopping_metric="loss",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        in_memory = dp.TabularModel(estimator).fit(frame, "y")
    loaded = dp.load(model_path)
    assert isinstance(loaded, dp.TabularModel)
    np.testing.assert_array_equal(loaded.predict(frame), in_memory.predict(frame))

    assert main(["info", model_path]) == 0
    info = capsys.readouterr().out
    assert "network: 5 inputs -> 6 relu -> " in info  # x1, x2, colour=blue/green/red
    n_out = {"binary": 1, "multiclass": 3, "regression": 1}[task]
    assert f"parameters: {5 * 6 + 6 + 6 * n_out + n_out}" in info
    assert "solver lbfgs" in info and f"stop reason {loaded.estimator_.stop_reason_}" in info
    assert "colour  categorical  3 categories: blue, green, red" in info
    assert "x1      numeric" in info

    assert main(["predict", model_path, data] + (["--proba"] if task != "regression" else [])) == 0
    predicted = _read_csv(capsys.readouterr().out)
    assert len(predicted) == N_ROWS
    np.testing.assert_array_equal(predicted["y"].to_numpy(), in_memory.predict(frame))

    assert main(["evaluate", model_path, data, "--target", "y", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) >= {"task", "target", "n_rows", "sample_weight", "metrics", "absent"}
    assert (report["target"], report["n_rows"]) == ("y", N_ROWS)
    scores = report["metrics"]
    y_true, y_pred = frame["y"].to_numpy(), predicted["y"].to_numpy()
    if task == "regression":
        from sklearn import metrics

        assert report["task"] == "regression"
        assert set(scores) == {"r2", "rmse", "mse", "mae", "mape"}
        assert scores["r2"] == pytest.approx(metrics.r2_score(y_true, y_pred), rel=1e-9)
        mse = metrics.mean_squared_error(y_true, y_pred)
        assert scores["mse"] == pytest.approx(mse, rel=1e-9)
        assert scores["rmse"] == pytest.approx(np.sqrt(mse), rel=1e-9)
        assert scores["mae"] == pytest.approx(metrics.mean_absolute_error(y_true, y_pred), rel=1e-9)
        assert scores["mape"] == pytest.approx(
            np.mean(np.abs(y_true - y_pred) / np.abs(y_true)), rel=1e-9
        )
        assert scores["mae"] > 0.0  # in the target's units: a price error, not a z-score
        return
    from sklearn import metrics

    classes = sorted(set(y_true))
    proba = predicted[[f"proba_{c}" for c in classes]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert set(scores) == {"accuracy", "balanced_accuracy", "log_loss", "roc_auc"}
    assert scores["accuracy"] == pytest.approx(np.mean(y_true == y_pred), abs=1e-15)
    matrix = [[int(np.sum((y_true == a) & (y_pred == b))) for b in classes] for a in classes]
    assert report["confusion_matrix"] == {"labels": classes, "matrix": matrix}
    recalls = [matrix[i][i] / sum(matrix[i]) for i in range(len(classes))]
    assert scores["balanced_accuracy"] == pytest.approx(np.mean(recalls), abs=1e-15)
    expected = metrics.log_loss(y_true, proba, labels=classes)
    assert scores["log_loss"] == pytest.approx(expected, rel=1e-9)
    if len(classes) == 2:
        auc = metrics.roc_auc_score(y_true == classes[1], proba[:, 1])
    else:
        auc = metrics.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes)
    assert scores["roc_auc"] == pytest.approx(auc, rel=1e-12)
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0.0
    )
    assert [row["class"] for row in report["per_class"]] == classes
    for k, row in enumerate(report["per_class"]):
        assert row["precision"] == pytest.approx(precision[k], abs=1e-15)
        assert row["recall"] == pytest.approx(recall[k], abs=1e-15)
        assert row["f1"] == pytest.approx(f1[k], abs=1e-15)
        assert row["support"] == support[k]
    assert scores["accuracy"] > 0.8


def test_reloaded_model_predicts_exactly_like_the_in_memory_one(tmp_path):
    frame = _table("multiclass")
    estimator = dp.MLPClassifier((5,), max_iter=20, learning_rate_init=0.05, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = dp.TabularModel(estimator).fit(frame, "y")
    path = tmp_path / "m.deltaprop"
    dp.save(model, path)
    again = dp.load(path)
    np.testing.assert_array_equal(again.predict_proba(frame), model.predict_proba(frame))
    np.testing.assert_array_equal(again.predict(frame), model.predict(frame))
    assert again.classes_.tolist() == ["bird", "cat", "dog"]
    assert again.evaluate(frame) == model.evaluate(frame)


def test_predict_out_file_columns_by_name_and_extra_columns(tmp_path, capsys):
    frame = _table("binary")
    data = _write(frame, tmp_path, "train", "csv")
    model_path = str(tmp_path / "m.deltaprop")
    assert main(["train", data, "--target", "y", "--out", model_path, *OPTIONS, "-q"]) == 0
    assert capsys.readouterr().out == ""
    shuffled = frame[["colour", "x2", "x1"]].assign(note="extra")  # other order, no target
    new = _write(shuffled, tmp_path, "new", "csv")
    out = tmp_path / "pred.csv"
    assert main(["predict", model_path, new, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "deltaprop: warning: ignoring column(s) the model was not trained on: ['note']" in (
        captured.err
    )
    predicted = pd.read_csv(out)
    assert list(predicted.columns) == ["y"]
    np.testing.assert_array_equal(predicted["y"], dp.load(model_path).predict(frame))


def test_evaluate_text_report(tmp_path, capsys):
    data = _write(_table("binary"), tmp_path, "train", "csv")
    model_path = str(tmp_path / "m.deltaprop")
    assert main(["train", data, "--target", "y", "--out", model_path, *OPTIONS]) == 0
    capsys.readouterr()
    assert main(["evaluate", model_path, data]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "balanced_accuracy" in out and "log_loss" in out
    assert "confusion matrix (rows: true class, columns: predicted class):" in out


def test_evaluate_weighted_by_a_column(tmp_path, capsys):
    frame = _table("binary").assign(w=np.arange(N_ROWS) % 4 * 0.5)
    data = _write(frame, tmp_path, "train", "csv")
    model_path = str(tmp_path / "m.deltaprop")
    train = ["train", data, "--target", "y", "--out", model_path, "--sample-weight", "w"]
    assert main([*train, *OPTIONS]) == 0
    capsys.readouterr()
    assert main(["evaluate", model_path, data, "--sample-weight", "w", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    expected = dp.load(model_path).report(frame, sample_weight="w")
    assert report == expected and report["sample_weight"] == "w"
    matrix = report["confusion_matrix"]["matrix"]
    assert sum(map(sum, matrix)) == pytest.approx(frame["w"].sum())
    assert main(["evaluate", model_path, data, "--sample-weight", "w"]) == 0
    assert "weighted by 'w'" in capsys.readouterr().out
    assert main(["evaluate", model_path, data, "--sample-weight", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--sample-weight nope: no such column" in err


def test_training_options_reach_the_estimator(tmp_path, capsys):
    frame = _table("multiclass").assign(w=np.arange(N_ROWS) % 3 + 1.0)
    frame.loc[3, "x1"] = np.nan
    data = _write(frame, tmp_path, "train", "csv")
    model_path = str(tmp_path / "m.deltaprop")
    argv = [
        "train", data, "--target", "y", "--out", model_path, "--hidden", "4,3",
        "--activation", "tanh", "--solver", "sgd", "--learning-rate", "0.05",
        "--batch-size", "8", "--max-iter", "7", "--tol", "0", "--alpha", "0.01",
        "--early-stopping", "--validation-fraction", "0.25", "--sample-weight", "w",
        "--class-weight", "balanced", "--impute", "median", "--seed", "5",
        "--plot", str(tmp_path / "loss.png"),
    ]  # fmt: skip
    assert main(argv) == 0
    model = dp.load(model_path)
    est = model.estimator_
    assert est.hidden_layer_sizes == (4, 3) and est.activation == "tanh"
    assert est.solver == "sgd" and est.learning_rate_init == 0.05 and est.batch_size == 8
    assert est.alpha == 0.01 and est.class_weight == "balanced" and est.random_state == 5
    assert est.early_stopping and est.validation_fraction == 0.25
    assert len(est.loss_curve_) == len(est.validation_loss_curve_) <= 7
    assert model.sample_weight_ == "w" and "w" not in model.feature_names_in_
    assert model.preprocessor_.impute == "median"
    assert model.preprocessor_.fill_values_["x1"] == float(np.median(frame["x1"].dropna()))
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert f"wrote {tmp_path / 'loss.png'}" in capsys.readouterr().out


def test_verbose_prints_one_line_per_epoch_off_a_terminal(tmp_path, capsys):
    data = _write(_table("binary"), tmp_path, "train", "csv")
    argv = [
        "train",
        data,
        "--target",
        "y",
        "--max-iter",
        "3",
        "--hidden",
        "3",
        "--tol",
        "0",
        "--out",
        str(tmp_path / "m.deltaprop"),
    ]
    assert main([*argv, "--early-stopping", "--validation-fraction", "0.25", "-v"]) == 0
    err = capsys.readouterr().err
    assert [line.split("  ")[0] for line in err.splitlines()] == [
        "epoch 1/3",
        "epoch 2/3",
        "epoch 3/3",
    ]
    assert "val_loss" in err
    assert main(argv) == 0
    assert capsys.readouterr().err == ""  # not a terminal, no -v: no progress


def test_regression_in_target_units(tmp_path):
    frame = _table("regression")
    data = _write(frame, tmp_path, "train", "csv")
    model_path = str(tmp_path / "m.deltaprop")
    assert main(["train", data, "--target", "y", "--out", model_path, *OPTIONS]) == 0
    model = dp.load(model_path)
    predicted = model.predict(frame)
    # trained on the standardised target, answering in its units
    assert abs(np.mean(predicted) - 50_000.0) < 1_000.0
    assert model.preprocessor_.target_mean_ == pytest.approx(frame["y"].mean(), rel=1e-12)


def test_no_standardize_warns_about_feature_scales(tmp_path, capsys):
    frame = _table("binary").assign(income=np.linspace(20_000.0, 90_000.0, N_ROWS))
    data = _write(frame, tmp_path, "train", "csv")
    argv = ["train", data, "--target", "y", "--max-iter", "2", "--hidden", "2"]
    assert main([*argv, "--no-standardize"]) == 0
    err = capsys.readouterr().err
    assert "deltaprop: warning: feature scales differ by a factor of" in err
    assert "'income'" in err
    assert main(argv) == 0
    assert "feature scales" not in capsys.readouterr().err


def test_checkpoint_and_resume_give_the_uninterrupted_model(tmp_path):
    data = _write(_table("multiclass"), tmp_path, "train", "csv")
    ckpt = str(tmp_path / "run.ckpt")
    common = [
        "train", data, "--target", "y", "--hidden", "5", "--solver", "adam",
        "--learning-rate", "0.02", "--batch-size", "8", "--tol", "0",
        "--n-iter-no-change", "50", "--early-stopping", "--validation-fraction", "0.25",
        "--seed", "7",
    ]  # fmt: skip
    first = [*common, "--max-iter", "6", "--checkpoint", ckpt, "--checkpoint-every", "3"]
    assert main(first) == 0
    resumed_path, straight_path = str(tmp_path / "resumed"), str(tmp_path / "straight")
    assert main([*common, "--max-iter", "12", "--resume", ckpt, "--out", resumed_path]) == 0
    assert main([*common, "--max-iter", "12", "--out", straight_path]) == 0
    resumed, straight = dp.load(resumed_path).estimator_, dp.load(straight_path).estimator_
    assert len(straight.loss_curve_) == 12
    assert resumed.loss_curve_ == straight.loss_curve_
    assert resumed.validation_loss_curve_ == straight.validation_loss_curve_
    pairs = zip(
        resumed.coefs_ + resumed.intercepts_, straight.coefs_ + straight.intercepts_, strict=True
    )
    for a, b in pairs:
        np.testing.assert_array_equal(a, b)
    assert resumed.optimizer_state_["t"] == straight.optimizer_state_["t"]


def test_resume_refuses_changed_options_or_data_naming_them(tmp_path, capsys):
    frame = _table("binary")
    data = _write(frame, tmp_path, "train", "csv")
    ckpt, out = str(tmp_path / "run.ckpt"), str(tmp_path / "model")
    common = ["train", data, "--target", "y", "--hidden", "4", "--seed", "1", "-q"]
    assert main([*common, "--max-iter", "3", "--checkpoint", ckpt]) == 0
    resume = ["--max-iter", "6", "--resume", ckpt, "--out", out]
    assert main([*common, *resume, "--learning-rate", "0.05", "--batch-size", "16"]) == 2
    err = capsys.readouterr().err
    assert f"--resume {ckpt}: this run differs from the checkpoint's" in err
    assert "--learning-rate 0.001 -> 0.05" in err and "--batch-size 48 -> 16" in err
    changed = frame.copy()
    changed.loc[5, "x1"] += 1.0
    other = _write(changed, tmp_path, "changed", "csv")
    assert main(["train", other, *common[2:], *resume]) == 2
    err = capsys.readouterr().err
    assert "the training data changed (contents" in err and "'" + other + "'" in err
    assert main([*common, *resume]) == 0  # the same options and data resume


def test_lbfgs_checkpoint_and_resume_give_the_uninterrupted_model(tmp_path):
    """lbfgs checkpoints too: the resumed run keeps L-BFGS's curvature pairs."""
    pytest.importorskip("scipy")
    data = _write(_table("multiclass"), tmp_path, "train", "csv")
    ckpt = str(tmp_path / "run.ckpt")
    common = ["train", data, "--target", "y", "--hidden", "5", "--solver", "lbfgs"]
    common += ["--tol", "0", "--seed", "7", "--quiet"]
    assert main([*common, "--max-iter", "5", "--checkpoint", ckpt]) == 0
    resumed_path, straight_path = str(tmp_path / "resumed"), str(tmp_path / "straight")
    assert main([*common, "--max-iter", "15", "--resume", ckpt, "--out", resumed_path]) == 0
    assert main([*common, "--max-iter", "15", "--out", straight_path]) == 0
    resumed, straight = dp.load(resumed_path).estimator_, dp.load(straight_path).estimator_
    assert len(straight.loss_curve_) == 15
    assert resumed.loss_curve_ == straight.loss_curve_
    pairs = zip(
        resumed.coefs_ + resumed.intercepts_, straight.coefs_ + straight.intercepts_, strict=True
    )
    for a, b in pairs:
        np.testing.assert_array_equal(a, b)


def test_demo_without_the_cli_extra_uses_numpy_alone(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now fails
    assert main(["demo", "--max-iter", "3"]) == 0
    out = capsys.readouterr().out
    assert "$ deltaprop train" not in out
    assert "stopped: max_iter after 3 iterations" in out
    assert main(["train", "x.csv", "--target", "y"]) == 1
    err = capsys.readouterr().err
    assert (
        err.strip()
        == 'deltaprop: error: deltaprop train needs pandas: pip install "deltaprop[cli]"'
    )


def test_progress_bar_on_a_terminal(tmp_path, monkeypatch, capsys):
    pytest.importorskip("tqdm")
    data = _write(_table("binary"), tmp_path, "train", "csv")

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    argv = [
        "train",
        data,
        "--target",
        "y",
        "--max-iter",
        "4",
        "--hidden",
        "2",
        "--tol",
        "0",
        "--out",
        str(tmp_path / "m.deltaprop"),
    ]
    assert main([*argv, "--early-stopping", "--validation-fraction", "0.25"]) == 0
    bar = terminal.getvalue()
    assert "4/4" in bar and "epoch" in bar and "loss=" in bar and "val_loss=" in bar
    terminal.seek(0)
    terminal.truncate()
    capsys.readouterr()
    assert main([*argv, "--quiet"]) == 0
    assert terminal.getvalue() == "" and capsys.readouterr().out == ""


def test_evaluate_plot_and_html_report(tmp_path, capsys):
    import base64
    from html.parser import HTMLParser

    from sklearn import metrics

    frame = _table("multiclass")
    data = _write(frame, tmp_path, "train", "csv")
    model_path = str(tmp_path / "m.deltaprop")
    assert main(["train", data, "--target", "y", "--out", model_path, *OPTIONS, "-q"]) == 0
    png, page = tmp_path / "cm.png", tmp_path / "report.html"
    argv = ["evaluate", model_path, data, "--plot", str(png), "--html", str(page)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "roc_auc" in out and "per class:" in out
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    assert width >= 300 and height >= 300

    class Page(HTMLParser):
        def __init__(self):
            super().__init__()
            self.text, self.images, self.links = [], [], []

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "img":
                self.images.append(attrs["src"])
            self.links += [v for k, v in attrs.items() if k in ("href", "src")]

        def handle_data(self, data):
            self.text.append(data)

    parsed = Page()
    parsed.feed(page.read_text(encoding="utf-8"))
    text = " ".join(parsed.text)
    model = dp.load(model_path)
    y_pred = model.predict(frame)
    accuracy = metrics.accuracy_score(frame["y"], y_pred)
    f1 = metrics.f1_score(frame["y"], y_pred, average=None, labels=model.classes_)
    assert f"{accuracy:.6g}" in text and all(f"{v:.6g}" in text for v in f1)
    assert "bird" in text and "Model card" in text and "parameters:" in text
    assert len(parsed.images) == 2  # the confusion matrix and the loss curves
    assert all(src.startswith("data:image/png;base64,") for src in parsed.links)
    for src in parsed.images:
        assert base64.b64decode(src.split(",", 1)[1])[:4] == b"\x89PNG"


def test_evaluate_regression_plot_and_absent_mape(tmp_path, capsys):
    frame = _table("regression")
    frame.loc[0, "y"] = 0.0
    data = _write(frame, tmp_path, "train", "csv")
    model_path = str(tmp_path / "m.deltaprop")
    assert main(["train", data, "--target", "y", "--out", model_path, *OPTIONS, "-q"]) == 0
    png = tmp_path / "reg.png"
    assert main(["evaluate", model_path, data, "--json", "--plot", str(png)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["metrics"]["mape"] is None and "is 0 in 1 row" in report["absent"]["mape"]
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", head[16:24]) == (1000, 450)


def test_train_summary_says_why_it_stopped_and_warns_without_out(tmp_path, capsys):
    data = _write(_table("binary"), tmp_path, "train", "csv")
    argv = ["train", data, "--target", "y", "--solver", "adam", "--max-iter", "3"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "raise --max-iter or --learning-rate" in captured.out
    assert "deltaprop: warning: no --out: the trained model was thrown away" in captured.err
    model_path = str(tmp_path / "m.deltaprop")
    argv += ["--max-iter", "300", "--early-stopping", "--out", model_path, "--hidden", "3"]
    assert main(argv) == 0
    model = dp.load(model_path)
    best = int(np.argmin(model.estimator_.validation_loss_curve_)) + 1
    assert f"the weights of epoch {best} of" in capsys.readouterr().out
    assert main(["info", model_path]) == 0
    info = capsys.readouterr().out
    assert f"the weights of epoch {best} of" in info
    assert "class weights: none" in info and "hyper-parameters: activation=relu" in info
    assert f"written by deltaprop {dp.__version__}, model-file format version" in info


def test_train_divergence_exits_3_and_activation_errors_speak_deltaprop(tmp_path, capsys):
    data = _write(_table("regression"), tmp_path, "train", "csv")
    argv = ["train", data, "--target", "y", "--solver", "sgd", "--learning-rate", "1e6", "-q"]
    assert main([*argv, "--out", str(tmp_path / "m.deltaprop")]) == 3
    err = capsys.readouterr().err
    assert "diverged" in err and "lower --learning-rate" in err
    assert all(len(word) < 40 for word in err.split())  # no 300-digit number
    assert main(["train", data, "--target", "y", "--activation", "softmax"]) == 2
    err = capsys.readouterr().err
    assert "--activation softmax: not an activation" in err and "InvalidParameter" not in err


def test_dry_run_names_the_task_and_counts_that_may_be_a_regression(tmp_path, capsys):
    rng = np.random.default_rng(0)
    visits = np.minimum(rng.poisson(1.0, 300), 9)
    visits[:10] = np.arange(10)  # every count 0 to 9 present
    path = tmp_path / "t.csv"
    path.write_text(
        "age,visits\n"
        + "".join(f"{a},{v}\n" for a, v in zip(rng.integers(20, 80, 300), visits, strict=True))
    )
    assert main(["train", str(path), "--target", "visits", "--dry-run"]) == 0
    said = capsys.readouterr().out.splitlines()[-1]
    mode = np.bincount(visits).argmax()  # skewed as counts: regression
    assert said == (
        f"task: regression of 'visits' (inferred); the integers 0 to 9, most often {mode}, look "
        "like counts: --task classification predicts them as classes"
    )
    # digits 0 to 9, each about as often: classes, with the hint
    digits = tmp_path / "d.csv"
    digits.write_text("age,digit\n" + "".join(f"{a},{a % 10}\n" for a in range(300)))
    assert main(["train", str(digits), "--target", "digit", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "task: classification of 'digit' (inferred); its 10 classes are the integers 0 to 9: "
        "if they count something, --task regression predicts them as numbers"
    )
    assert (
        main(["train", str(path), "--target", "visits", "--dry-run", "--task", "classification"])
        == 0
    )
    assert capsys.readouterr().out.splitlines()[-1] == "task: classification of 'visits' (given)"


def test_numeric_declares_columns_numbers_and_says_so(tmp_path, capsys):
    rng = np.random.default_rng(0)
    county = rng.integers(1, 6, 120)
    path = tmp_path / "t.csv"
    path.write_text(
        "county,word,y\n"
        + "".join(
            f"{c},w{c % 2},{2.0 * c + e:.4f}\n"
            for c, e in zip(county, rng.normal(size=120), strict=True)
        )
    )
    argv = ["train", str(path), "--target", "y", "--dry-run"]
    assert main(argv) == 0
    assert "integer codes named like codes of places" in capsys.readouterr().out
    assert main([*argv, "--numeric", "county"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("county"))
    assert line.split() == ["county", "numeric", "scaled", "declared", "numeric"]
    assert main([*argv, "--numeric", "word"]) == 2
    assert capsys.readouterr().err.strip() == (
        "deltaprop: error: --numeric word: the column holds no number ('w0', 'w1')"
    )
    assert main([*argv, "--numeric", "county", "--categorical", "county"]) == 2
    assert "named by both --categorical and --numeric" in capsys.readouterr().err


def test_the_roles_printed_are_those_of_the_rows_with_a_target(tmp_path, capsys):
    # a row without a target holds the only 'C' of Group: the roles printed are the
    # model's, from the 40 labelled rows (found by the fourth user trial)
    path = tmp_path / "sales.csv"
    lines = ["Group,Code,x,y"]
    lines += [f"{'AB'[i % 2]},{'007' if i % 2 else '012'},{i},{i * 1.5}" for i in range(40)]
    lines.append("C,012,3,")
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "m.deltaprop"
    argv = ["train", str(path), "--target", "y", "--categorical", "Code", "--out", str(out)]
    assert main([*argv, "--dry-run"]) == 0
    printed = capsys.readouterr().out
    group = next(line for line in printed.splitlines() if line.strip().startswith("Group"))
    assert group.split()[-3:] == ["2", "distinct", "values"]
    assert main(argv) == 0
    capsys.readouterr()
    model = dp.load(out)
    assert model.preprocessor_.roles_["Group"].reason == "2 distinct values"
    # declared categorical: the codes keep their spelling
    assert model.preprocessor_.columns_[1]["categories"] == ["007", "012"]
