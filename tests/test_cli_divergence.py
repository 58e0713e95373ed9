"""The command line on numerical failure: exit code 3, the cause in options' words, no
unusable model unless asked, and every model written readable by info and predict."""

from __future__ import annotations

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from deltaprop.cli.main import main  # noqa: E402


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["label"] = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    frame["w"] = rng.uniform(0.5, 2.0, size=60)
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return frame, str(path)


def _train(argv, capsys):
    status = main(["train", *argv, "--target", "label", "--hidden", "8", "-q"])
    return status, capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "advice"),
    [
        (["--solver", "lbfgs", "--alpha", "1e300"], "lower --alpha"),
        (["--solver", "adam", "--alpha", "1e300", "--max-iter", "5"], "lower --alpha"),
        (
            ["--solver", "sgd", "--learning-rate", "1e6", "--max-iter", "20"],
            "lower --learning-rate",
        ),
    ],
    ids=["lbfgs-penalty", "adam-penalty", "sgd-learning-rate"],
)
def test_a_diverged_run_exits_3_and_writes_no_model_unless_asked(
    table, tmp_path, capsys, options, advice
):
    _, data = table
    model = tmp_path / "model.deltaprop"
    status, err = _train([data, *options, "--out", str(model)], capsys)
    assert status == 3
    assert "training diverged at epoch" in err and "probable cause: " in err and advice in err
    assert "no model was written" in err and not model.exists()
    assert "Traceback" not in err and "IndexError" not in err

    status, err = _train([data, *options, "--out", str(model), "--keep-diverged"], capsys)
    assert status == 3 and f"the model was written to {model}" in err
    assert main(["info", str(model)]) == 0
    info = capsys.readouterr().out
    assert "stop reason diverged" in info and advice in info
    out_csv = tmp_path / "predictions.csv"
    assert main(["predict", str(model), data, "--out", str(out_csv)]) == 0
    predictions = pd.read_csv(out_csv)
    assert len(predictions) == 60 and set(predictions["label"]) <= {"yes", "no"}


def test_lbfgs_that_diverges_before_its_first_epoch_reads_back(table, tmp_path, capsys):
    _, data = table
    model = tmp_path / "model.deltaprop"
    options = ["--solver", "lbfgs", "--alpha", "1e300", "--keep-diverged"]
    status, _ = _train([data, *options, "--out", str(model)], capsys)
    assert status == 3
    assert main(["info", str(model)]) == 0
    assert "training: solver lbfgs, 0 epochs, final loss none" in capsys.readouterr().out


def test_sample_weights_whose_sum_overflows_are_refused_naming_the_column(table, tmp_path, capsys):
    frame, data = table
    huge = frame.assign(w=1e308)
    huge_path = tmp_path / "huge.csv"
    huge.to_csv(huge_path, index=False)
    model = tmp_path / "model.deltaprop"
    status, err = _train([str(huge_path), "--sample-weight", "w", "--out", str(model)], capsys)
    assert status == 2 and not model.exists()
    assert "--sample-weight w: sample_weight column 'w' must have a finite sum" in err

    status, _ = _train([data, "--sample-weight", "w", "--out", str(model)], capsys)
    assert status == 0
    status = main(["evaluate", str(model), str(huge_path), "--sample-weight", "w"])
    captured = capsys.readouterr()
    assert status == 2 and "nan" not in captured.out
    assert "--sample-weight w: sample_weight column 'w' must have a finite sum" in captured.err
    infinite = frame.assign(w=np.where(np.arange(60) == 3, np.inf, 1.0))
    infinite.to_csv(huge_path, index=False)
    assert main(["evaluate", str(model), str(huge_path), "--sample-weight", "w"]) == 2
    assert "row 4 holds inf" in capsys.readouterr().err


def test_a_layer_beyond_an_array_is_a_usage_error(table, capsys):
    _, data = table
    status = main(["train", data, "--target", "label", "--hidden", str(10**22), "-q"])
    err = capsys.readouterr().err
    assert status == 2 and "hidden_layer_sizes: a layer of 4 inputs and 10" in err
    assert "Maximum allowed dimension" not in err


def test_per_epoch_lines_print_huge_losses_compactly(capsys):
    import deltaprop as dp
    from deltaprop.cli.common import Progress

    progress = Progress(5, bar=False, lines=True)
    progress(1, dp.History(loss=[0.05], val_loss=[1e300]), None)
    progress(2, dp.History(loss=[0.05, 1.2345678e30]), None)
    assert capsys.readouterr().err.splitlines() == [
        "epoch 1/5  loss 0.050000  val_loss 1e+300",
        "epoch 2/5  loss 1.23457e+30",
    ]
