"""The tabular recipe without scikit-learn: the same split, members and model file as the
scikit-learn estimators, and ``deltaprop train`` fitting without importing scikit-learn."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("pandas")
import pandas as pd
from sklearn.model_selection import train_test_split

import deltaprop as dp
from deltaprop.estimators.plain_recipe import (
    PlainTabularClassifier,
    PlainTabularRegressor,
    seeded_random_state,
    validation_split,
)
from deltaprop.kernels import stacked

SMALL = {"hidden_layer_sizes": (8, 8), "n_ensemble": 3, "max_epochs": 25, "learning_rate": 0.02}


# -- the validation rows ------------------------------------------------------------------
@pytest.mark.parametrize("n", [5, 17, 60, 333])
@pytest.mark.parametrize("fraction", [0.1, 0.2, 0.37])
def test_validation_split_is_scikit_learns(n, fraction):
    rng = np.random.default_rng(n)
    strata = {
        "none": None,
        "two classes": rng.integers(0, 2, n),
        "uneven, ties": np.repeat(
            np.arange(4), [n // 2, n // 6, n // 6, n - n // 2 - 2 * (n // 6)]
        ),
        "one class of 1": np.r_[np.zeros(n - 1, int), [1]],  # too small to stratify
        "many classes": rng.integers(0, 9, n),
    }
    for seed in (0, 1, 12345, 2**31 - 2):
        for name, codes in strata.items():
            usable = codes is not None and _stratifiable(codes, fraction)
            expected = train_test_split(
                np.arange(n),
                test_size=fraction,
                random_state=seed,
                stratify=codes if usable else None,
            )
            got = validation_split(n, fraction, seed, codes)
            for a, b in zip(got, expected, strict=True):
                np.testing.assert_array_equal(a, b, err_msg=f"{name}, seed {seed}")


def _stratifiable(codes, fraction):
    _, counts = np.unique(codes, return_counts=True)
    n_val = int(np.ceil(fraction * len(codes)))
    return counts.min() >= 2 and min(n_val, len(codes) - n_val) >= len(counts)


def test_seeded_random_state_is_check_random_states():
    from sklearn.utils import check_random_state

    assert seeded_random_state(None) is check_random_state(None)
    state = np.random.RandomState(3)
    assert seeded_random_state(state) is state
    np.testing.assert_array_equal(
        seeded_random_state(7).randint(100, size=5), check_random_state(7).randint(100, size=5)
    )
    with pytest.raises(ValueError, match="random_state must be"):
        seeded_random_state("seven")


# -- the same members as the scikit-learn estimators ---------------------------------------
def _same_fit(plain, sk):
    assert len(plain.members_) == len(sk.members_)
    for a, b in zip(plain.members_, sk.members_, strict=True):
        for pa, pb in zip(a.parameters, b.parameters, strict=True):
            np.testing.assert_array_equal(pa, pb)
    for key in ("n_iter_", "best_iterations_", "stop_reasons_", "loss_curves_"):
        assert getattr(plain, key) == getattr(sk, key), key
    assert (plain.batch_size_, plain.max_epochs_) == (sk.batch_size_, sk.max_epochs_)


@pytest.mark.parametrize("weights", ["none", "positive", "one zero"])
def test_plain_classifier_fits_the_estimators_members(weights):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3))
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    w = {"none": None, "positive": rng.uniform(0.5, 2.0, 90), "one zero": np.r_[0.0, np.ones(89)]}
    w = w[weights]
    plain = PlainTabularClassifier(**SMALL, random_state=3).fit(X, y, sample_weight=w)
    sk = dp.TabularClassifier(**SMALL, random_state=3).fit(X, y, sample_weight=w)
    _same_fit(plain, sk)
    assert plain.classes_.tolist() == sk.classes_.tolist() == ["no", "yes"]
    np.testing.assert_array_equal(plain.predict_proba(X), sk.predict_proba(X))
    assert plain.predict(X).tolist() == sk.predict(X).tolist()


def test_plain_regressor_fits_the_estimators_members():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1.0, 1.0, size=(80, 2))
    y = 3.0 * X[:, 0] - X[:, 1] + 5.0
    params = {**SMALL, "dropout": 0.1}  # members one after another
    for options in (SMALL, params):
        plain = PlainTabularRegressor(**options, random_state=0).fit(X, y)
        sk = dp.TabularRegressor(**options, random_state=0).fit(X, y)
        _same_fit(plain, sk)
        for key in ("target_mean_", "target_scale_", "target_min_", "target_max_"):
            np.testing.assert_array_equal(getattr(plain, key), getattr(sk, key))
        np.testing.assert_array_equal(plain.predict(X), sk.predict(X))
        assert plain.predict(X).shape == (80,)


def test_plain_params_and_errors():
    clf = PlainTabularClassifier(n_ensemble=2)
    assert clf.get_params() == {
        k: v for k, v in dp.TabularClassifier(n_ensemble=2).get_params().items()
    }
    assert clf.set_params(time_budget=3.0) is clf and clf.time_budget == 3.0
    with pytest.raises(ValueError, match="has no parameter 'alpha'"):
        clf.set_params(alpha=1.0)
    with pytest.raises(ValueError, match="not fitted yet"):
        clf.predict(np.zeros((1, 2)))
    X = np.ones((10, 2))
    with pytest.raises(ValueError, match="finite"):
        clf.fit(np.r_[X[:9], [[np.nan, 1.0]]], np.arange(10) % 2)
    with pytest.raises(ValueError, match="10 rows like X"):
        clf.fit(X, np.arange(9) % 2)
    with pytest.raises(ValueError, match="sample_weight must hold 10 numbers >= 0"):
        clf.fit(X, np.arange(10) % 2, sample_weight=-np.ones(10))
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.fit(X, np.zeros(10))
    with pytest.raises(ValueError, match="y must hold finite numbers"):
        PlainTabularRegressor().fit(X, np.r_[np.ones(9), np.inf])
    fitted = PlainTabularClassifier(**SMALL, random_state=0).fit(
        X * np.arange(10)[:, None], np.arange(10) % 2
    )
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        fitted.predict(np.zeros((1, 3)))


# -- a TabularModel fitted with the plain recipe -------------------------------------------
@pytest.fixture
def table():
    rng = np.random.default_rng(5)
    n = 120
    frame = pd.DataFrame(
        {
            "size": rng.normal(10.0, 3.0, n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "age": np.where(rng.random(n) < 0.1, np.nan, rng.uniform(0, 50, n)),
        }
    )
    frame["label"] = np.where(frame["size"] + (frame["colour"] == "red") * 3 > 11, "big", "small")
    frame["price"] = 2.0 * frame["size"] + rng.normal(0, 1, n)
    return frame


def _header(path):
    with zipfile.ZipFile(path) as z:
        header = json.loads(z.read("header.json"))
        arrays = {n: z.read(n) for n in z.namelist() if n != "header.json"}
    header["config"]["estimator"]["config"]["fitted"].pop("fit_time_")
    return header, arrays


@pytest.mark.parametrize(("target", "plain_cls", "sk_cls"), [
    ("label", PlainTabularClassifier, "TabularClassifier"),
    ("price", PlainTabularRegressor, "TabularRegressor"),
])  # fmt: skip
def test_model_file_is_the_estimators(table, tmp_path, target, plain_cls, sk_cls):
    features = table.drop(columns=["price" if target == "label" else "label"])
    plain = dp.TabularModel(plain_cls(**SMALL, random_state=1)).fit(features, target)
    sk = dp.TabularModel(getattr(dp, sk_cls)(**SMALL, random_state=1)).fit(features, target)
    dp.save(plain, tmp_path / "plain.deltaprop")
    dp.save(sk, tmp_path / "sk.deltaprop")
    assert _header(tmp_path / "plain.deltaprop") == _header(tmp_path / "sk.deltaprop")
    np.testing.assert_array_equal(plain.predict(features), sk.predict(features))
    # estimator_ is the scikit-learn estimator, built from what the plain one learned
    built = plain.estimator_
    assert type(built).__name__ == sk_cls
    _same_fit(built, sk.estimator_)
    np.testing.assert_array_equal(
        built.predict(plain.transform(features)), sk.estimator_.predict(sk.transform(features))
    )
    loaded = dp.load(tmp_path / "plain.deltaprop")
    np.testing.assert_array_equal(loaded.predict(features), sk.predict(features))


def test_model_refuses_a_plain_recipe_of_the_other_task(table):
    with pytest.raises(
        ValueError, match="needs a PlainTabularClassifier, got a PlainTabularRegressor"
    ):
        dp.TabularModel(PlainTabularRegressor(**SMALL)).fit(table.drop(columns="price"), "label")
    with pytest.raises(ValueError, match="resume needs an MLP estimator"):
        dp.TabularModel(PlainTabularClassifier(**SMALL)).fit(
            table.drop(columns="price"), "label", resume="run.ckpt"
        )


_CHILD = """
import contextlib, io, json, sys
for name in sys.argv[1].split():
    sys.modules[name] = None  # as if not installed: importing it raises ImportError
from deltaprop.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[2:])
loaded = {m.split(".")[0] for m, module in sys.modules.items() if module is not None}
print(json.dumps([code, sorted(loaded & {"sklearn", "scipy"})]))
"""


def test_cli_train_fits_the_recipe_without_scikit_learn(table, tmp_path):
    data = tmp_path / "t.csv"
    table.drop(columns="price").to_csv(data, index=False)
    src = str(Path(dp.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": src}
    for blocked in ("", "sklearn scipy"):
        out = tmp_path / f"m{len(blocked)}.deltaprop"
        argv = ["train", str(data), "--target", "label", "--out", str(out), "--seed", "0"]
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, blocked, *argv],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert json.loads(done.stdout.splitlines()[-1]) == [0, []], done.stderr
    # the same model either way, and the one the scikit-learn estimator learns
    assert _header(tmp_path / "m0.deltaprop") == _header(tmp_path / "m13.deltaprop")
    model = dp.TabularModel(dp.TabularClassifier(random_state=0), task="classification").fit(
        pd.read_csv(data), "label"
    )
    dp.save(model, tmp_path / "sk.deltaprop")
    assert _header(tmp_path / "m0.deltaprop") == _header(tmp_path / "sk.deltaprop")


# -- whole or in halves: the same numbers ---------------------------------------------------
def test_a_small_stack_runs_whole_with_the_numbers_of_its_halves(monkeypatch):
    rng = np.random.default_rng(2)
    layers = [dp.Dense(6, 16, "relu"), dp.Dense(16, 3, "softmax")]
    loss = dp.Network(layers, loss="cross_entropy", random_state=0).loss
    k = 5
    params = []
    for layer in layers:
        params += [
            rng.normal(size=(k, layer.n_in, layer.n_out)).astype(np.float32),
            rng.normal(size=(k, layer.n_out)).astype(np.float32),
        ]
    X = rng.normal(size=(40, 6)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 40)]
    rows = np.stack([rng.permutation(40)[:8] for _ in range(k)])
    answers = []
    for limit in (0, 2**62):  # always in halves; never
        monkeypatch.setattr(stacked, "MIN_WORK_TO_SPLIT", limit)
        losses, weights, grads = stacked.stacked_batch(layers, loss, params, X, y, None, rows)
        z, a = stacked.stacked_forward(layers, params, X[rows])
        answers.append([losses, weights, *grads, z, a])
    for whole, halves in zip(*answers, strict=True):
        np.testing.assert_array_equal(whole, halves)


# -- rows without a target ------------------------------------------------------------------
def test_rows_without_a_target_are_left_out_with_a_warning(table):
    table = table.drop(columns="price")
    gaps = table.copy()
    gaps.loc[[3, 10, 11], "label"] = [None, "NA", " "]
    weights = np.linspace(0.5, 2.0, len(table))
    with pytest.warns(
        dp.tabular.DataWarning,
        match=r"column 'label' has missing values in 3 rows \(rows 4, 11, 12\): rows "
        "without a target are left out of training",
    ):
        model = dp.TabularModel(PlainTabularClassifier(**SMALL, random_state=0)).fit(
            gaps, "label", sample_weight=weights
        )
    kept = np.setdiff1d(np.arange(len(table)), [3, 10, 11])
    labelled = table.iloc[kept].reset_index(drop=True)
    expected = dp.TabularModel(PlainTabularClassifier(**SMALL, random_state=0)).fit(
        labelled, "label", sample_weight=weights[kept]
    )
    np.testing.assert_array_equal(model.predict_proba(table), expected.predict_proba(table))
    with pytest.warns(dp.tabular.DataWarning, match="rows without a target are not scored"):
        report = model.report(gaps)
    assert report["n_rows"] == len(table) - 3
    assert report["metrics"] == expected.report(labelled)["metrics"]


def test_cli_trains_on_the_rows_with_a_target(table, tmp_path, capsys):
    from deltaprop.cli.main import main

    data = tmp_path / "t.csv"
    frame = table.drop(columns="price")
    frame.loc[[0, 5], "label"] = None
    frame.to_csv(data, index=False)
    argv = ["train", str(data), "--target", "label", "--out", str(tmp_path / "m.deltaprop")]
    assert main([*argv, "--seed", "0"]) == 0
    captured = capsys.readouterr()
    assert "column 'label' has missing values in 2 rows (rows 1, 6)" in captured.err
    assert f"trained on {len(frame) - 2} rows of {data}" in captured.out


def test_messages_after_rows_without_a_target_number_the_tables_rows(table):
    frame = table.drop(columns="label").astype({"size": object})
    frame.loc[[1, 2], "price"] = None  # the table's rows 2 and 3: left out
    frame.loc[9, "size"] = "oops"  # row 10, the 8th row kept
    frame.loc[19, "price"] = 1e6  # row 20, far from the other prices
    model = dp.TabularModel(PlainTabularRegressor(**SMALL, random_state=0))
    with pytest.warns(dp.tabular.DataWarning) as caught:
        model.fit(frame, "price")
    said = " | ".join(str(w.message) for w in caught)
    assert "missing values in 2 rows (rows 2, 3)" in said
    assert "row 20 (1e+06)" in said
    assert "(row 10 ('oops'))" in said
    with pytest.warns(dp.tabular.DataWarning) as caught:
        model.report(frame)
    assert "(row 10 ('oops'))" in " | ".join(str(w.message) for w in caught)
    weighted = frame.assign(w=1.0).astype({"w": object})
    weighted.loc[14, "w"] = "heavy"  # row 15
    with pytest.raises(ValueError, match=r"must hold numbers: row 15 holds 'heavy'"):
        model.fit(weighted, "price", sample_weight="w")
    # a Preprocessor given the rows kept numbers them as given
    kept = frame.drop(index=[1, 2]).reset_index(drop=True)
    with pytest.warns(dp.tabular.DataWarning, match=r"\(row 8 \('oops'\)\)"):
        dp.tabular.Preprocessor("price").fit(kept).transform(kept)


def test_rows_of_labels_the_model_never_saw_are_not_scored(table):
    frame = table.drop(columns="price")
    model = dp.TabularModel(PlainTabularClassifier(**SMALL, random_state=0)).fit(frame, "label")
    test = frame.iloc[:40].reset_index(drop=True)
    new = test.copy()
    new["label"] = new["label"].astype(object)
    new.loc[[0, 1], "label"] = None  # no target: not scored either
    new.loc[[4, 9], "label"] = "huge"
    weights = np.linspace(1.0, 2.0, 40)
    with pytest.warns(dp.tabular.DataWarning) as caught:
        report = model.report(new, sample_weight=weights)
    said = [str(w.message) for w in caught]
    assert said[-1] == (
        "target column 'label': 2 row(s) (rows 5, 10) hold label(s) the model was not trained "
        "on, ['huge']: not scored (the model can predict only ['big', 'small'])"
    )
    kept = np.setdiff1d(np.arange(40), [0, 1, 4, 9])
    expected = model.report(test.iloc[kept].reset_index(drop=True), sample_weight=weights[kept])
    assert report["n_rows"] == 36 and report["metrics"] == expected["metrics"]
    with pytest.raises(ValueError, match=r"label\(s\) not seen in training: \['huge'\]"):
        model.report(test.assign(label="huge"))  # none known: nothing to score


def test_a_single_class_is_named_as_written():
    with pytest.raises(ValueError, match=r"has a single class 5;"):
        dp.tabular.Preprocessor("y").fit({"x": [1.0, 2.0, 3.0], "y": np.array([5, 5, 5])})


def test_consecutive_years_are_a_feature_not_a_row_counter():
    n = 40
    years = {"year": np.arange(1900, 1900 + n), "flow": np.linspace(1.0, 2.0, n) ** 2}
    roles = dp.tabular.infer_roles(years, "flow")
    assert roles["year"].role == "numeric"
    counter = {"row": np.arange(1, n + 1), "flow": years["flow"]}
    assert dp.tabular.infer_roles(counter, "flow")["row"].role == "identifier"
    model = dp.TabularModel(PlainTabularRegressor(**SMALL, random_state=0)).fit(years, "flow")
    assert model.feature_names_in_ == ["year"]
