"""deltaprop train's default, the tabular recipe: the model file, the options that pick
it or the MLP estimator, --time-budget, the progress lines, and the commands that read it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

import deltaprop as dp  # noqa: E402
from deltaprop.cli.main import main  # noqa: E402
from deltaprop.files import read_header  # noqa: E402

# train's default, the tabular recipe, with few epochs (conftest.py)
pytestmark = pytest.mark.usefixtures("quick_recipe")


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recipe")
    rng = np.random.default_rng(0)
    n = 120
    size = np.round(rng.normal(size=n), 3)
    colour = rng.choice(["red", "blue"], n)
    frame = pd.DataFrame({"size": size, "colour": colour})
    paths = {}
    for name, target in (
        ("cls", np.where(size + (colour == "red") > 0.5, "yes", "no")),
        ("reg", 3.0 * size + 10.0 + rng.normal(scale=0.1, size=n)),
    ):
        paths[name] = folder / f"{name}.csv"
        frame.assign(y=target).to_csv(paths[name], index=False)
    return paths


def _train(tmp_path, csv, *options):
    out = tmp_path / "m.deltaprop"
    code = main(["train", str(csv), "--target", "y", "--out", str(out), *options])
    return code, out


@pytest.mark.parametrize(
    ("name", "kind", "score"),
    [("cls", "tabular_classifier", "accuracy"), ("reg", "tabular_regressor", "R2")],
)
def test_train_fits_the_recipe_by_default(name, kind, score, tables, tmp_path, capsys):
    code, out = _train(tmp_path, tables[name])
    assert code == 0
    text = capsys.readouterr().out
    assert read_header(out).config["estimator"]["kind"] == kind
    model = dp.load(out)
    est = model.estimator_
    assert len(est.members_) == 5 and est.max_epochs_ == 4  # quick_recipe's epochs
    assert "model: the tabular recipe, 5 member networks averaged" in text
    for i, (best, curve) in enumerate(
        zip(est.best_iterations_, est.validation_score_curves_, strict=True), 1
    ):
        assert f"  member {i}: 4 epochs" in text
        assert f"kept epoch {best} (validation {score} {curve[best - 1]:.4f})" in text
    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    assert (
        "model: the tabular recipe, 5 member networks averaged, each 3 inputs -> 128 relu" in info
    )
    assert " (no time budget); Adam (learning rate 0.002, beta_2 0.95)" in info
    assert "n_ensemble=5" in info and "time_budget=None" in info
    assert f"  member 5: 4 epochs, stopped: all its epochs ran; kept epoch {best}" in info


def test_mlp_options_select_the_mlp_estimator(tables, tmp_path, capsys):
    # an MLP option given, even at its default value, selects the MLP
    for options in (["--hidden", "100", "--max-iter", "3"], ["--recipe", "mlp", "--max-iter", "3"]):
        code, out = _train(tmp_path, tables["cls"], *options, "-q")
        assert code == 0
        assert read_header(out).config["estimator"]["kind"] == "mlp_classifier"
        assert dp.load(out).estimator_.hidden_layer_sizes == (100,)
    code, out = _train(tmp_path, tables["reg"], "--seed", "3", "-q")  # not an MLP option
    assert code == 0 and read_header(out).config["estimator"]["kind"] == "tabular_regressor"
    assert dp.load(out).estimator_.random_state == 3


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--time-budget", "0"], "argument --time-budget: must be > 0, got 0"),
        (["--time-budget", "-5"], "argument --time-budget: must be > 0, got -5"),
        (["--time-budget", "soon"], "argument --time-budget: must be a number, got 'soon'"),
        (["--recipe", "tabular", "--hidden", "8", "--solver", "sgd"],
         "--hidden, --solver set the MLP estimator; --recipe tabular takes none of them"),
        (["--hidden", "8", "--time-budget", "5"],
         "--time-budget caps the tabular recipe, not the MLP estimator that --hidden selects: "
         "drop it or --time-budget"),
        (["--recipe", "mlp", "--time-budget", "5"],
         "--time-budget caps the tabular recipe, not the MLP estimator of --recipe mlp"),
        (["--recipe", "tabular", "--dask"], "--recipe tabular is not available with --dask"),
        (["--time-budget", "5", "--dask"], "--time-budget is not available with --dask"),
    ],
)  # fmt: skip
def test_bad_recipe_options_exit_2(options, message, tables, tmp_path, capsys):
    code, out = _train(tmp_path, tables["cls"], *options)
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("deltaprop: error: ") and message in err, err
    assert err.count("\n") == 1 and not out.exists()


def test_plot_draws_each_members_loss_curves(tables, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "loss.png"
    code, _ = _train(tmp_path, tables["reg"], "--plot", str(plot), "-q")
    assert code == 0
    data = plot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (600, 400)


def test_a_spent_time_budget_stops_training(tables, tmp_path, capsys):
    code, out = _train(tmp_path, tables["cls"], "--time-budget", "1e-9")
    assert code == 0
    est = dp.load(out).estimator_
    # the members train side by side: all stop after the first epoch
    assert est.stop_reasons_ == ["time_budget"] * 5 and est.n_iter_ == [1] * 5
    text = capsys.readouterr().out
    assert "of a 1e-09 s time budget;" in text and "members trained before" not in text
    for i in range(1, 6):
        assert f"member {i}: 1 epochs, stopped: the time budget was spent" in text


def test_progress_lines_show_each_members_validation_score(tables, tmp_path, capsys):
    code, out = _train(tmp_path, tables["reg"], "-v")
    assert code == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "epoch" in line]
    est = dp.load(out).estimator_
    assert len(lines) == 5 * 4
    for i in range(5):  # side by side: each epoch reports the five members in turn
        for epoch in range(4):
            line = lines[5 * epoch + i]
            assert line.startswith(f"member {i + 1}/5  epoch {epoch + 1}/4  loss ")
            expected = est.validation_score_curves_[i][epoch]
            assert line.endswith(f"val_R2 {expected:.4f}"), line
    # the MLP's validation score shows with --early-stopping
    code, _ = _train(tmp_path, tables["cls"], "-v", "--early-stopping", "--max-iter", "2")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("epoch 1/2  loss ") and "  val_accuracy " in lines[0]


def test_evaluate_predict_explain_read_a_recipe_model(tables, tmp_path, capsys):
    code, out = _train(tmp_path, tables["cls"], "-q")
    assert code == 0
    model = dp.load(out)
    frame = pd.read_csv(tables["cls"])
    assert main(["evaluate", str(out), str(tables["cls"]), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    accuracy = np.mean(model.predict(frame) == frame["y"].to_numpy())
    assert report["metrics"]["accuracy"] == pytest.approx(accuracy)
    html = tmp_path / "report.html"
    assert main(["evaluate", str(out), str(tables["cls"]), "--html", str(html)]) == 0
    page = html.read_text()
    assert page.count("data:image/png;base64,") >= 2  # the report's picture, the loss curves
    assert "the tabular recipe, 5 member networks" in page
    predictions = tmp_path / "p.csv"
    assert main(["predict", str(out), str(tables["cls"]), "--out", str(predictions)]) == 0
    assert pd.read_csv(predictions)["y"].tolist() == model.predict(frame).tolist()
    capsys.readouterr()
    assert main(["explain", str(out), str(tables["cls"]), "--row", "2", "--member", "3"]) == 0
    text = capsys.readouterr().out
    assert "explaining member 3 of the 5 networks of the tabular recipe" in text
    assert "network: 3 inputs -> 128 relu -> 128 relu -> 128 relu -> 2 softmax" in text
    assert main(["explain", str(out), str(tables["cls"]), "--row", "2", "--member", "6"]) == 2
    assert "this model's tabular recipe has 5 members" in capsys.readouterr().err


def test_info_and_predict_of_a_recipe_model_need_no_scikit_learn(tables, tmp_path):
    code, out = _train(tmp_path, tables["reg"], "-q")
    assert code == 0
    child = (
        "import contextlib, io, sys\n"
        "from deltaprop.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    code = main(sys.argv[1:])\n"
        "print(code, 'sklearn' in sys.modules)\n"
    )
    src = str(Path(dp.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": src}
    for argv in (["info", str(out)], ["predict", str(out), str(tables["reg"])]):
        done = subprocess.run(
            [sys.executable, "-c", child, *argv], capture_output=True, text=True, env=env,
            timeout=120,
        )  # fmt: skip
        assert done.stdout.split() == ["0", "False"], done.stderr
