"""``deltaprop train FOLDER --dask``: a Parquet folder preprocessed and trained on Dask.

The reference is ``deltaprop train`` on the same rows as one Parquet file, in memory:
full-batch GD and L-BFGS must give the same preprocessing statistics and the same
weights (relative 1e-10 in float64), whatever the split of the rows into files.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")
pytest.importorskip("pyarrow")
distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

import deltaprop as dp  # noqa: E402
from deltaprop.cli.main import main  # noqa: E402

SIZES = (23, 9, 0, 41, 17)  # rows per file: unequal, one file empty; 90 rows


@pytest.fixture(scope="module")
def scheduler(dask_cluster):
    return dask_cluster.scheduler_address


def _table(seed: int = 0):
    rng = np.random.default_rng(seed)
    n = sum(SIZES)
    x1 = rng.normal(5.0, 3.0, n)
    x2 = rng.integers(0, 4, n)  # numbers: standardised, unless declared categorical
    colour = rng.choice(["red", "green", "blue"], n)
    gap = np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n))  # missing values
    score = (x1 - 5.0) / 3.0 + (colour == "red") - 0.5 * np.nan_to_num(gap)
    return pd.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "colour": colour,
            "gap": gap,
            "weight": rng.uniform(0.2, 2.0, n),
            "label": np.where(score > 0.8, "cat", np.where(score > -0.2, "dog", "bird")),
            "yes": np.where(score > 0.3, "yes", "no"),
            "price": 1000.0 * score + 50_000.0,
        }
    )


def _write(frame, tmp_path):
    """The rows as a folder of Parquet files (SIZES) and as one Parquet file."""
    folder = tmp_path / "parts"
    folder.mkdir()
    start = 0
    for i, size in enumerate(SIZES):
        frame.iloc[start : start + size].to_parquet(folder / f"part-{i}.parquet", index=False)
        start += size
    single = tmp_path / "all.parquet"
    frame.to_parquet(single, index=False)
    return str(folder), str(single)


def _assert_same_model(a, b, rtol=1e-10):
    pa, pb = a.preprocessor_, b.preprocessor_
    assert pa.columns_ == pb.columns_
    assert pa.task_ == pb.task_
    np.testing.assert_allclose(pa.mean_, pb.mean_, rtol=1e-13, atol=0)
    np.testing.assert_allclose(pa.scale_, pb.scale_, rtol=1e-13, atol=0)
    assert (pa.fill_values_ is None) == (pb.fill_values_ is None)
    if pa.fill_values_ is not None:
        assert pa.fill_values_.keys() == pb.fill_values_.keys()
        for key, value in pa.fill_values_.items():
            if isinstance(value, str):
                assert value == pb.fill_values_[key]
            else:
                assert value == pytest.approx(pb.fill_values_[key], rel=1e-13)
    if pa.task_ == "classification":
        np.testing.assert_array_equal(pa.classes_, pb.classes_)
    else:
        assert pa.target_mean_ == pytest.approx(pb.target_mean_, rel=1e-13)
        assert pa.target_scale_ == pytest.approx(pb.target_scale_, rel=1e-13)
    ea, eb = a.estimator_, b.estimator_
    assert ea.stop_reason_ == eb.stop_reason_
    np.testing.assert_allclose(ea.loss_curve_, eb.loss_curve_, rtol=rtol, atol=0)
    for wa, wb in zip(ea.coefs_ + ea.intercepts_, eb.coefs_ + eb.intercepts_, strict=True):
        np.testing.assert_allclose(wa, wb, rtol=rtol, atol=1e-14)
    assert a.sample_weight_ == b.sample_weight_


@pytest.mark.parametrize(
    ("target", "options"),
    [
        ("label", "--solver lbfgs --max-iter 25 --impute mean --sample-weight weight"),
        (
            "yes",
            "--solver gd --learning-rate 0.5 --max-iter 30 --impute most-frequent "
            "--class-weight balanced --categorical x2",
        ),
        (
            "price",
            "--solver gd --learning-rate 0.2 --max-iter 30 --impute mean "
            "--sample-weight weight --target-loss 0.05 --tol 0",
        ),
        # one batch per epoch: full-batch Adam steps on Dask, as in memory
        (
            "label",
            "--solver adam --batch-size 90 --learning-rate 0.05 --max-iter 12 --impute mean "
            "--sample-weight weight --class-weight balanced --tol 0",
        ),
    ],
    ids=["multiclass-lbfgs-weights", "binary-gd-balanced", "regression-gd", "adam-one-batch"],
)
def test_folder_through_dask_matches_one_file_in_memory(scheduler, tmp_path, target, options):
    folder, single = _write(_table(), tmp_path)
    common = ["--target", target, "--hidden", "5", "--seed", "2", "--quiet", *options.split()]
    common += ["--scaling", "standard"]  # the Dask default; robust: test_median_and_robust...
    dask_model, memory_model = str(tmp_path / "dask.deltaprop"), str(tmp_path / "mem.deltaprop")
    argv = ["train", folder, "--out", dask_model, "--dask-scheduler", scheduler, *common]
    assert main(argv) == 0
    assert main(["train", single, "--out", memory_model, *common]) == 0
    _assert_same_model(dp.load(dask_model), dp.load(memory_model))


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_poisson_counts_through_dask_match_in_memory(scheduler, tmp_path, solver):
    frame = _table()
    rng = np.random.default_rng(3)
    frame["price"] = rng.poisson(np.exp(0.4 * (frame["x1"] - 5.0) / 3.0)).astype(float)
    folder, single = _write(frame, tmp_path)
    common = ["--target", "price", "--loss", "poisson", "--solver", solver, "--hidden", "5"]
    common += ["--learning-rate", "0.2", "--max-iter", "20", "--impute", "mean", "--tol", "0"]
    common += ["--sample-weight", "weight", "--seed", "1", "--quiet", "--scaling", "standard"]
    dask_model, memory_model = str(tmp_path / "dask.deltaprop"), str(tmp_path / "mem.deltaprop")
    argv = ["train", folder, "--out", dask_model, "--dask-scheduler", scheduler, *common]
    assert main(argv) == 0
    assert main(["train", single, "--out", memory_model, *common]) == 0
    a, b = dp.load(dask_model), dp.load(memory_model)
    _assert_same_model(a, b)
    assert (a.preprocessor_.target_mean_, a.preprocessor_.target_scale_) == (0.0, 1.0)
    assert a.estimator_.loss == "poisson"


def test_the_model_file_works_with_predict_evaluate_info(scheduler, tmp_path, capsys):
    frame = _table()
    folder, single = _write(frame, tmp_path)
    model = str(tmp_path / "m.deltaprop")
    argv = ["train", folder, "--target", "label", "--out", model, "--hidden", "4"]
    argv += ["--solver", "lbfgs", "--max-iter", "10", "--impute", "mean"]
    assert main([*argv, "--dask-scheduler", scheduler]) == 0
    out = capsys.readouterr().out
    assert f"trained on 90 rows of {folder} through Dask ({scheduler}, 2 workers)" in out
    assert main(["info", model]) == 0
    assert "solver lbfgs, 10 epochs" in capsys.readouterr().out
    assert main(["predict", model, folder]) == 0  # a folder reads into memory here
    predicted = capsys.readouterr().out.splitlines()
    assert predicted[0] == "label" and len(predicted) == 91
    assert set(predicted[1:]) <= {"bird", "cat", "dog"}
    assert main(["evaluate", model, single, "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert np.sum(scores["confusion_matrix"]["matrix"]) == 90


def test_sgd_and_adam_run_local_sgd(scheduler, tmp_path):
    folder, _ = _write(_table(), tmp_path)
    model = str(tmp_path / "m.deltaprop")
    argv = ["train", folder, "--target", "yes", "--out", model, "--hidden", "4", "--quiet"]
    argv += ["--solver", "adam", "--learning-rate", "0.05", "--batch-size", "8"]
    argv += ["--max-iter", "15", "--local-steps", "3", "--impute", "mean", "--tol", "0"]
    assert main([*argv, "--dask-scheduler", scheduler]) == 0
    est = dp.load(model).estimator_
    assert len(est.loss_curve_) == 15 and est.stop_reason_ == "max_iter"
    assert est.loss_curve_[-1] < 0.8 * est.loss_curve_[0]
    assert est.optimizer_state_["name"] == "Adam"


def test_local_steps_default_to_one_pass_over_the_rows_per_round(scheduler, tmp_path):
    folder, _ = _write(_table(), tmp_path)
    model = str(tmp_path / "m.deltaprop")
    argv = ["train", folder, "--target", "yes", "--out", model, "--hidden", "4", "--quiet"]
    argv += ["--solver", "adam", "--batch-size", "8", "--max-iter", "4", "--impute", "mean"]
    argv += ["--tol", "0", "--dask-scheduler", scheduler]
    n_blocks = sum(1 for size in SIZES if size > 0)
    default_steps = -(-sum(SIZES) // (n_blocks * 8))  # ceil(n / (n_blocks * batch_size))
    for extra, steps in [([], default_steps), (["--local-steps", "5"], 5)]:
        assert main([*argv, *extra]) == 0
        est = dp.load(model).estimator_
        # every replica takes `steps` Adam steps per round; the averaged step count says so
        assert est.optimizer_state_["t"] == 4 * steps
        assert est.t_ == 4 * sum(SIZES)


def test_no_standardize_warns_as_in_memory(scheduler, tmp_path, capsys):
    frame = _table()
    folder, single = _write(frame, tmp_path)
    argv = ["train", "--target", "label", "--no-standardize", "--solver", "lbfgs"]
    argv += ["--max-iter", "2", "--impute", "mean", "--quiet", "--out", str(tmp_path / "m")]
    assert main([argv[0], single, *argv[1:]]) == 0
    expected = capsys.readouterr().err
    assert "feature scales differ" in expected
    assert main([argv[0], folder, *argv[1:], "--dask-scheduler", scheduler]) == 0
    err = capsys.readouterr().err
    # the smallest scale is a tie (two categories of 28 rows): compare up to its name
    assert err.count("\n") == 1 and err.split(" and ")[0] == expected.split(" and ")[0]


def test_errors_name_the_problem_in_one_line(scheduler, tmp_path, capsys):
    frame = _table()
    folder, single = _write(frame, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    go = ["--dask-scheduler", scheduler]
    cases = [
        (["train", str(empty), "--target", "label", *go], "holds no Parquet files"),
        (["train", folder, "--target", "nope", *go], "target column 'nope' is not in"),
        # the file with rows 33..73 (1-based) holds the first missing value of 'gap'
        (
            ["train", folder, "--target", "label", "--impute", "none", *go],
            "column 'gap' has missing values in",
        ),
        (["train", folder, "--target", "label", "--id", "nope", *go], "--id nope: no such column"),
        (["train", single.replace(".parquet", ".csv"), "--target", "x", *go], "no such file"),
        (["train", folder, "--target", "label", "--local-steps", "3"], "needs --dask"),
        (
            ["train", folder, "--target", "label", "--sheet", "data", *go],
            "--sheet is for reading a text table or a workbook; --dask reads a Parquet dataset",
        ),
        (["train", folder, "--target", "label", "--sep", ";", *go], "--sep is for reading"),
        (["train", folder, "--target", "label", "--dask-scheduler", "nonsense"], "nonsense"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("deltaprop: error: ") and message in err, (argv, err)
        assert err.count("\n") == 1 and "Traceback" not in err
    rows = np.flatnonzero(frame["gap"].isna().to_numpy())[:5] + 1
    assert main(["train", folder, "--target", "label", "--impute", "none", *go]) == 2
    listed = ", ".join(str(r) for r in rows)
    assert f"(rows {listed}, ...)" in capsys.readouterr().err


def test_a_scheduler_that_does_not_answer(tmp_path, capsys):
    folder, _ = _write(_table(), tmp_path)
    with dask.config.set({"distributed.comm.timeouts.connect": "0.2s"}):
        argv = ["train", folder, "--target", "label", "--dask-scheduler", "tcp://127.0.0.1:9"]
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("deltaprop: error: cannot connect to a Dask scheduler at 'tcp://")
    assert err.count("\n") == 1


def test_dask_without_a_scheduler_starts_a_local_cluster(small_local_clusters, tmp_path, capsys):
    folder, _ = _write(_table(), tmp_path)
    argv = ["train", folder, "--target", "yes", "--hidden", "none", "--solver", "lbfgs"]
    argv += ["--max-iter", "3", "--impute", "mean", "--dask", "--dask-workers", "1"]
    assert main(argv) == 0
    assert small_local_clusters == [1]
    assert "through Dask (a local cluster, 1 worker)" in capsys.readouterr().out


def _weights(model):
    estimator = model.estimator_
    return estimator.coefs_ + estimator.intercepts_


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_checkpoint_and_resume_through_dask(scheduler, tmp_path, solver):
    """A run resumed through Dask ends where the uninterrupted in-memory run ends."""
    folder, single = _write(_table(), tmp_path)
    common = ["--target", "label", "--hidden", "5", "--seed", "2", "--quiet", "--impute", "mean"]
    common += ["--scaling", "standard", "--solver", solver, "--learning-rate", "0.5"]
    common += ["--sample-weight", "weight", "--tol", "0"]
    go = ["--dask-scheduler", scheduler]
    checkpoint = str(tmp_path / "run.ckpt")
    paths = {name: str(tmp_path / f"{name}.deltaprop") for name in ("first", "resumed", "mem")}
    argv = ["train", folder, *common, *go, "--max-iter", "8", "--checkpoint", checkpoint]
    assert main([*argv, "--out", paths["first"]]) == 0
    assert dp.load(checkpoint).iteration == 8
    argv = ["train", folder, *common, *go, "--max-iter", "20", "--resume", checkpoint]
    assert main([*argv, "--out", paths["resumed"]]) == 0
    assert main(["train", single, *common, "--max-iter", "20", "--out", paths["mem"]]) == 0
    resumed, in_memory = dp.load(paths["resumed"]), dp.load(paths["mem"])
    assert len(resumed.estimator_.loss_curve_) == len(in_memory.estimator_.loss_curve_) == 20
    rtol = 1e-8 if solver == "lbfgs" else 1e-10
    np.testing.assert_allclose(
        resumed.estimator_.loss_curve_, in_memory.estimator_.loss_curve_, rtol=rtol
    )
    for a, b in zip(_weights(resumed), _weights(in_memory), strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12)


def test_early_stopping_and_id_columns_through_dask(scheduler, tmp_path, capsys):
    frame = _table()
    frame.insert(0, "row_id", [f"r{i}" for i in range(len(frame))])
    folder, single = _write(frame, tmp_path)
    common = ["--target", "yes", "--hidden", "4", "--seed", "1", "--impute", "mean"]
    common += ["--scaling", "standard", "--id", "row_id"]
    go = ["--dask-scheduler", scheduler]
    stopping = ["--solver", "gd", "--learning-rate", "5", "--max-iter", "60"]
    stopping += ["--early-stopping", "--validation-fraction", "0.3", "--n-iter-no-change", "2"]
    out = [str(tmp_path / f"{name}.deltaprop") for name in ("a", "b")]
    for path in out:
        assert main(["train", folder, *common, *go, *stopping, "--out", path, "-v"]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    # which estimator trained, and why not the recipe
    assert "model: one MLPClassifier (solver gd); the tabular recipe" in printed
    a, b = dp.load(out[0]), dp.load(out[1])
    assert a.estimator_.stop_reason_ == "early_stopping"
    n_epochs = len(a.estimator_.loss_curve_)
    assert len(a.estimator_.validation_loss_curve_) == n_epochs < 60
    # the held-out files' accuracy every epoch: shown (-v) and recorded, as in memory
    scores = a.estimator_.validation_scores_
    assert len(scores) == n_epochs and all(0.0 <= s <= 1.0 for s in scores)
    assert a.estimator_.best_validation_score_ == max(scores)
    lines = [line for line in captured.err.splitlines() if line.startswith("epoch ")]
    assert len(lines) == 2 * n_epochs
    assert lines[0].startswith("epoch 1/60  loss ") and "  val_loss " in lines[0]
    assert lines[n_epochs - 1].endswith(f"  val_accuracy {scores[-1]:.4f}")
    for wa, wb in zip(_weights(a), _weights(b), strict=True):  # the same held-out files
        np.testing.assert_array_equal(wa, wb)
    # --id: not a feature, written next to each prediction
    assert a.id_columns_ == ["row_id"] and "row_id" not in a.feature_names_in_
    assert a.roles_["row_id"].role == "id"
    assert main(["predict", out[0], single]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "row_id,yes" and lines[1].startswith("r0,")
    # without early stopping, the same model as in memory with --id
    mem = str(tmp_path / "mem.deltaprop")
    lbfgs = ["--solver", "lbfgs", "--max-iter", "15", "--quiet"]
    assert main(["train", single, *common, *lbfgs, "--out", mem]) == 0
    assert main(["train", folder, *common, *go, *lbfgs, "--out", out[1]]) == 0
    for wa, wb in zip(_weights(dp.load(out[1])), _weights(dp.load(mem)), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-8, atol=1e-12)


def _median_robust_both_ways(frame, target, scheduler, tmp_path, options=()):
    """The models of ``train --dask`` and in memory (median fill, robust scaling); argv."""
    folder, single = _write(frame, tmp_path)
    common = ["--target", target, "--hidden", "5", "--seed", "2", "--quiet", "--tol", "0"]
    common += ["--solver", "lbfgs", "--max-iter", "15", "--impute", "median"]
    common += ["--scaling", "robust", *options]
    dask_model, memory_model = str(tmp_path / "dask.deltaprop"), str(tmp_path / "mem.deltaprop")
    argv = ["train", folder, "--out", dask_model, "--dask-scheduler", scheduler, *common]
    assert main(argv) == 0
    assert main(["train", single, "--out", memory_model, *common]) == 0
    return dp.load(dask_model), dp.load(memory_model), argv


@pytest.mark.parametrize("target", ["label", "price"])
def test_median_and_robust_scaling_through_dask_are_exact(scheduler, tmp_path, target):
    """The in-memory defaults (median fill, robust scaling) read exact order statistics."""
    frame = _table()
    frame["steps"] = np.repeat([1.0, 2.0], [75, 15])  # quartiles coincide: the MAD fallback
    frame.loc[frame.index[::7], "steps"] = np.nan
    a, b, _ = _median_robust_both_ways(frame, target, scheduler, tmp_path)
    pa, pb = a.preprocessor_, b.preprocessor_
    # medians and quartiles are order statistics: the same numbers, not just close ones
    assert pa.fill_values_ == pb.fill_values_
    numeric = [c["name"] for c in pa.columns_ if c["kind"] == "numeric"]
    exact = [i for i, name in enumerate(numeric) if name != "steps"]
    np.testing.assert_array_equal(pa.mean_[exact], pb.mean_[exact])
    np.testing.assert_array_equal(pa.scale_[exact], pb.scale_[exact])
    # "steps": its spread is a mean absolute deviation, a sum over the partitions
    steps = numeric.index("steps")
    assert pa.mean_[steps] == pb.mean_[steps]
    assert pa.scale_[steps] == pytest.approx(pb.scale_[steps], rel=1e-14)
    _assert_same_model(a, b, rtol=1e-8)


def test_values_that_are_not_numbers_are_read_as_missing_as_in_memory(scheduler, tmp_path, capsys):
    frame = _table()
    rooms = np.arange(len(frame)) % 5 + 1
    frame["rooms"] = ["studio" if i % 11 == 3 else str(r) for i, r in enumerate(rooms)]
    a, b, argv = _median_robust_both_ways(frame, "price", scheduler, tmp_path)
    rows = [i + 1 for i in range(len(frame)) if i % 11 == 3]
    shown = ", ".join(f"row {r} ('studio')" for r in rows[:5])
    reason = f"{90 - len(rows)} of 90 present values are numbers; {len(rows)} values are not "
    reason += f"numbers ({shown} and {len(rows) - 5} more), read as missing"
    assert a.preprocessor_.roles_["rooms"].reason == reason
    assert b.preprocessor_.roles_["rooms"].reason == reason
    assert "rooms (missing)" in a.preprocessor_.get_feature_names_out()
    assert a.preprocessor_.fill_values_["rooms"] == np.median(rooms[np.arange(90) % 11 != 3])
    _assert_same_model(a, b, rtol=1e-8)
    capsys.readouterr()
    # without imputation: the error of the in-memory path, in one line, exit code 2
    no_gaps = ["none" if arg == "median" else arg for arg in argv] + ["--drop", "gap"]
    assert main(no_gaps) == 2
    err = capsys.readouterr().err
    assert "column 'rooms', row 4: 'studio' is not a number" in err


def test_units_and_accounting_negatives_read_as_in_memory(scheduler, tmp_path, capsys):
    frame = _table()
    n = len(frame)
    frame["size"] = [f"{1 + i / 8:.2f} mm" for i in range(n)]
    frame["balance"] = [f"({i * 7:,})" if i % 3 == 0 else f"{i * 7:,}" for i in range(n)]
    # plain numbers, accounting's negatives and words: the cells read one by one alike
    frame["mixed"] = [["4.5", "(1.5)", "n/q", "2"][i % 4] for i in range(n)]
    a, b, _ = _median_robust_both_ways(frame, "price", scheduler, tmp_path)
    roles = a.preprocessor_.roles_
    assert (
        roles["size"].reason == f"all {n} present values are numbers (written with the unit 'mm')"
    )
    assert roles["balance"].reason.endswith("(accounting's (12) read as -12)")
    assert b.preprocessor_.roles_["balance"].role == "numeric"
    for model in (a, b):
        assert model.preprocessor_.roles_["mixed"].reason.endswith(
            "read as missing (accounting's (12) read as -12)"
        )
        assert model.preprocessor_.fill_values_["mixed"] == 2.0  # median of 4.5, -1.5, 2
    _assert_same_model(a, b, rtol=1e-8)


def test_a_pandas_category_of_numbers_is_categorical_as_in_memory(scheduler, tmp_path):
    frame = _table()
    frame["x2"] = pd.Categorical(frame["x2"])  # codes 0-3, as pandas wrote them
    frame["county"] = np.arange(len(frame)) % 9 + 101  # integer codes named so
    a, b, _ = _median_robust_both_ways(frame, "label", scheduler, tmp_path)
    for model in (a, b):
        assert model.preprocessor_.roles_["x2"].reason == "a pandas category column of codes"
        assert model.preprocessor_.roles_["county"].reason.startswith("9 integer codes named")
    _assert_same_model(a, b, rtol=1e-8)


def test_columns_declared_numeric_are_numbers_as_in_memory(scheduler, tmp_path):
    frame = _table()
    frame["x2"] = pd.Categorical(frame["x2"])
    frame["county"] = np.arange(len(frame)) % 9 + 101
    options = ["--numeric", "x2,county"]
    a, b, _ = _median_robust_both_ways(frame, "label", scheduler, tmp_path, options)
    for model in (a, b):
        for name in ("x2", "county"):
            assert model.preprocessor_.roles_[name].role == "numeric"
            assert model.preprocessor_.roles_[name].reason == "declared numeric"
    _assert_same_model(a, b, rtol=1e-8)


def test_a_count_target_is_a_regression_as_in_memory(scheduler, tmp_path):
    frame = _table()
    rng = np.random.default_rng(3)
    visits = np.minimum(rng.poisson(0.8, len(frame)), 11)
    visits[:12] = np.arange(12)
    frame["visits"] = visits
    a, b, _ = _median_robust_both_ways(frame.drop(columns="price"), "visits", scheduler, tmp_path)
    assert a.task_ == b.task_ == "regression"
    _assert_same_model(a, b, rtol=1e-8)


def test_a_yes_no_column_in_any_case_is_one_category_as_in_memory(scheduler, tmp_path):
    frame = _table()
    spellings = np.array(["Yes", "yes", "YES", "no", "No", None], dtype=object)
    frame["member"] = spellings[np.arange(len(frame)) % len(spellings)]
    a, b, _ = _median_robust_both_ways(frame, "label", scheduler, tmp_path)
    member = next(c for c in a.preprocessor_.columns_ if c["name"] == "member")
    assert member["categories"] == ["no", "yes"]
    # 45 yes (three spellings) against 30 no: the most frequent fills the 15 missing
    assert a.preprocessor_.fill_values_["member"] == "yes"
    assert b.preprocessor_.fill_values_["member"] == "yes"
    _assert_same_model(a, b, rtol=1e-8)


def test_a_yes_no_target_in_several_spellings_is_folded_as_in_memory(scheduler, tmp_path, capsys):
    frame = _table()
    spelled = {"yes": ["Yes", "yes", "YES"], "no": ["no", "No"]}
    frame["yes"] = [spelled[v][i % len(spelled[v])] for i, v in enumerate(frame["yes"])]
    a, b, _ = _median_robust_both_ways(frame, "yes", scheduler, tmp_path)
    warned = "target column 'yes' writes its yes/no labels in several spellings"
    assert capsys.readouterr().err.count(warned) == 2  # through Dask, and in memory
    assert a.preprocessor_.classes_.tolist() == ["no", "yes"]
    _assert_same_model(a, b, rtol=1e-8)


def test_categories_and_classes_in_several_cases_are_folded_as_in_memory(
    scheduler, tmp_path, capsys
):
    frame = _table()
    spellings = np.array(["Biscoe", "biscoe", "BISCOE", "Dream", "dream"], dtype=object)
    frame["island"] = spellings[np.arange(len(frame)) % len(spellings)]
    a, b, _ = _median_robust_both_ways(frame, "label", scheduler, tmp_path)
    island = next(c for c in a.preprocessor_.columns_ if c["name"] == "island")
    assert island["categories"] == ["Biscoe", "Dream"]
    warned = "column 'island' writes values in several cases, read as one value each"
    assert capsys.readouterr().err.count(warned) == 2  # through Dask, and in memory
    _assert_same_model(a, b, rtol=1e-8)
