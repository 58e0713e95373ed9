"""The tabular recipe: TabularClassifier and TabularRegressor (tiny data, few epochs)."""

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError

import deltaprop as dp
from deltaprop.estimators.plain_recipe import auto_batch_size, auto_epochs, validation_split
from deltaprop.files import ModelFileError, read_header
from deltaprop.tabular import Preprocessor

SMALL = {"hidden_layer_sizes": (8, 8), "n_ensemble": 3, "max_epochs": 40, "learning_rate": 0.02}


@pytest.fixture
def blobs():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    labels = np.repeat(np.array(["a", "b", "c"]), 20)
    X = centres[np.repeat(np.arange(3), 20)] + rng.normal(scale=0.5, size=(60, 2))
    return X, labels


@pytest.fixture
def line():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1.0, 1.0, size=(60, 2))
    return X, 4.0 * X[:, 0] - 2.0 * X[:, 1] + 10.0 + rng.normal(scale=0.3, size=60)


def test_top_level_names():
    from deltaprop.estimators.recipe import TabularClassifier, TabularRegressor

    assert dp.TabularClassifier is TabularClassifier
    assert dp.TabularRegressor is TabularRegressor
    assert {"TabularClassifier", "TabularRegressor"} <= set(dp.__all__)


def test_classifier_fit_predict_score(blobs):
    X, y = blobs
    clf = dp.TabularClassifier(**SMALL, random_state=0).fit(X, y)
    assert list(clf.classes_) == ["a", "b", "c"]
    assert clf.n_features_in_ == 2
    assert clf.predict(X).shape == (60,)
    assert clf.score(X, y) >= 0.9
    proba = clf.predict_proba(X)
    assert proba.shape == (60, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_probabilities_are_the_members_mean(blobs):
    X, y = blobs
    clf = dp.TabularClassifier(**SMALL, random_state=0).fit(X, y)
    assert len(clf.members_) == 3
    Xf = X.astype(np.float32)
    outputs = []
    for net in clf.members_:
        # each member's softmax, computed here from its weights
        a = Xf
        for layer in net.layers[:-1]:
            a = np.maximum(a @ layer.weights + layer.bias, 0.0)
        z = a @ net.layers[-1].weights + net.layers[-1].bias
        e = np.exp(z - z.max(axis=1, keepdims=True))
        outputs.append(e / e.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(clf.predict_proba(X), np.mean(outputs, axis=0), atol=1e-5)
    # members differ (own seeds, own validation rows): the mean is not any one of them
    assert not np.allclose(outputs[0], outputs[1], atol=1e-3)
    expected = clf.classes_[np.argmax(np.mean(outputs, axis=0), axis=1)]
    np.testing.assert_array_equal(clf.predict(X), expected)


def test_best_epoch_is_restored(line):
    X, y = line
    reg = dp.TabularRegressor(
        hidden_layer_sizes=(32, 32),
        n_ensemble=1,
        max_epochs=60,
        n_iter_no_change=60,
        learning_rate=0.02,
        random_state=3,
    ).fit(X, y)
    curve = reg.validation_loss_curves_[0]
    assert len(curve) == reg.n_iter_[0] == 60
    best = int(np.argmin(curve)) + 1
    assert reg.best_iterations_[0] == best
    # the kept weights' validation loss, computed here: half the mean squared error of
    # the standardised target on the member's own held-out rows
    seed = check_random_state(3).randint(np.iinfo(np.int32).max, size=1)[0]
    _, val_idx = validation_split(60, 0.2, int(seed), None)
    y_scaled = (y - y.mean()) / y.std()
    out = reg.members_[0].forward(X[val_idx].astype(np.float32))[:, 0]
    loss = 0.5 * np.mean((out - y_scaled[val_idx]) ** 2)
    assert loss == pytest.approx(min(curve), rel=1e-4)
    assert loss < curve[-1] or best == 60


def test_regression_is_clipped_to_the_training_range(line):
    X, y = line
    reg = dp.TabularRegressor(**SMALL, random_state=0).fit(X, y)
    far = np.array([[100.0, -100.0], [-100.0, 100.0]])
    np.testing.assert_array_equal(reg.predict(far), [y.max(), y.min()])
    assert reg.score(X, y) > 0.8
    np.testing.assert_allclose(reg.target_mean_, [y.mean()])
    np.testing.assert_allclose(reg.target_scale_, [y.std()])


def test_regression_several_outputs(line):
    X, y = line
    Y = np.column_stack([y, -y])
    pred = dp.TabularRegressor(**SMALL, random_state=0).fit(X, Y).predict(X)
    assert pred.shape == (60, 2)
    assert np.all(pred[:, 1] >= -y.max()) and np.all(pred[:, 1] <= -y.min())


def test_same_seed_same_numbers(blobs):
    X, y = blobs
    a = dp.TabularClassifier(**SMALL, random_state=5).fit(X, y).predict_proba(X)
    b = dp.TabularClassifier(**SMALL, random_state=5).fit(X, y).predict_proba(X)
    c = dp.TabularClassifier(**SMALL, random_state=6).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_tiny_time_budget_trains_less(blobs):
    X, y = blobs
    clf = dp.TabularClassifier(**SMALL, time_budget=1e-9, random_state=0).fit(X, y)
    # side by side, every member trains one epoch and stops for the budget
    assert len(clf.members_) == 3
    assert clf.n_iter_ == [1, 1, 1] and clf.stop_reasons_ == ["time_budget"] * 3
    assert clf.predict_proba(X).shape == (60, 3)
    full = dp.TabularClassifier(**SMALL, random_state=0).fit(X, y)
    assert len(full.members_) == 3 and min(full.n_iter_) > 1
    # with dropout the members train one after another: the first always trains, for
    # one epoch, and no other starts once time is up
    clf = dp.TabularClassifier(**SMALL, dropout=0.1, time_budget=1e-9, random_state=0)
    clf.fit(X, y)
    assert len(clf.members_) == 1 and clf.n_iter_ == [1]


def test_label_smoothing_bounds_confidence():
    X = np.array([[-1.0], [1.0]] * 10)
    y = np.array([0, 1] * 10)
    kw = {"hidden_layer_sizes": (8,), "n_ensemble": 1, "max_epochs": 150, "learning_rate": 0.02}
    kw |= {"n_iter_no_change": 150, "random_state": 0}
    smooth = dp.TabularClassifier(label_smoothing=0.4, **kw).fit(X, y).predict_proba(X)
    sharp = dp.TabularClassifier(label_smoothing=0.0, **kw).fit(X, y).predict_proba(X)
    # the cross-entropy's minimiser for a smoothed target is the target, 1 - 0.4 + 0.4 / 2
    # = 0.8 (the epoch kept, best on the true labels, may overshoot it a little)
    assert 0.7 < smooth.max() < 0.9
    assert sharp.max() > 0.95


def test_clone_and_params():
    clf = dp.TabularClassifier(n_ensemble=2, label_smoothing=0.2)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()
    assert twin.get_params()["label_smoothing"] == 0.2
    assert dp.TabularRegressor().get_params()["n_ensemble"] == 5
    assert "label_smoothing" not in dp.TabularRegressor().get_params()


def test_errors(blobs):
    X, y = blobs
    with pytest.raises(NotFittedError):
        dp.TabularClassifier().predict(X)
    with pytest.raises(InvalidParameterError, match="n_ensemble"):
        dp.TabularClassifier(n_ensemble=0).fit(X, y)
    with pytest.raises(InvalidParameterError, match="time_budget"):
        dp.TabularRegressor(time_budget=-1.0).fit(X, np.ones(60))
    with pytest.raises(ValueError, match="at least 2 classes"):
        dp.TabularClassifier(**SMALL).fit(X, np.zeros(60))
    fitted = dp.TabularClassifier(**SMALL, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(np.ones((3, 5)))


def test_sample_weight_zero_rows_do_not_count(blobs):
    X, y = blobs
    w = np.ones(60)
    w[:20] = 0.0  # class "a" weighs nothing: it is never predicted
    clf = dp.TabularClassifier(**SMALL, label_smoothing=0.0, random_state=0)
    clf.fit(X, y, sample_weight=w)
    weighted = clf.predict_proba(X)[:20, 0]
    unweighted = clone(clf).fit(X, y).predict_proba(X)[:20, 0]
    assert weighted.mean() < 0.2 < 0.8 < unweighted.mean()
    with pytest.raises(ValueError, match=r"(?i)negative"):
        clf.fit(X, y, sample_weight=-w)


def test_auto_sizes():
    assert [auto_batch_size(n) for n in (10, 100, 1000, 3000, 6144, 10**6)] == [
        32,
        32,
        32,
        64,
        256,
        256,
    ]
    # epochs shrink as the table grows, within [8, 128]
    assert auto_epochs(100, 32, 1000, 1) == 128
    assert auto_epochs(10**6, 256, 10**6, 5) == 8
    small, large = auto_epochs(2000, 64, 40_000, 5), auto_epochs(8000, 256, 40_000, 5)
    assert 8 <= large < small <= 128


# -- model files ----------------------------------------------------------------------
def _rewrite_header(path, change):
    import json
    import zipfile

    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = json.loads(members["header.json"])
    change(header)
    members["header.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_classifier_round_trip_is_bit_identical(blobs, tmp_path):
    X, y = blobs
    clf = dp.TabularClassifier(**SMALL, random_state=0).fit(X, y)
    path = tmp_path / "clf.deltaprop"
    dp.save(clf, path)
    assert read_header(path).kind == "tabular_classifier"
    again = dp.load(path)
    assert type(again) is dp.TabularClassifier
    assert again.get_params() == clf.get_params()
    assert again.classes_.dtype == clf.classes_.dtype
    assert list(again.classes_) == ["a", "b", "c"]
    assert np.array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert np.array_equal(again.predict(X), clf.predict(X))
    for name in (
        "n_iter_",
        "best_iterations_",
        "stop_reasons_",
        "loss_curves_",
        "validation_loss_curves_",
        "validation_score_curves_",
        "batch_size_",
        "max_epochs_",
        "fit_time_",
    ):
        assert getattr(again, name) == getattr(clf, name), name


def test_regressor_round_trip_keeps_the_output_mapping(line, tmp_path):
    X, y = line
    reg = dp.TabularRegressor(**SMALL, random_state=0).fit(X, y)
    path = tmp_path / "reg.deltaprop"
    dp.save(reg, path)
    again = dp.load(path)
    assert np.array_equal(again.predict(X), reg.predict(X))
    assert again.predict(X).shape == (60,)
    for name in ("target_mean_", "target_scale_", "target_min_", "target_max_"):
        assert np.array_equal(getattr(again, name), getattr(reg, name)), name
    # two outputs come back as two columns
    reg2 = dp.TabularRegressor(**SMALL, random_state=0).fit(X, np.c_[y, -y])
    dp.save(reg2, path)
    assert np.array_equal(dp.load(path).predict(X), reg2.predict(X))


def test_unsavable_recipes(blobs, tmp_path):
    X, y = blobs
    with pytest.raises(ValueError, match="not fitted yet"):
        dp.save(dp.TabularClassifier(), tmp_path / "m")
    clf = dp.TabularClassifier(
        n_ensemble=1, max_epochs=2, callbacks=[lambda i, h, n: None], random_state=0
    ).fit(X, y)
    with pytest.raises(TypeError, match="callbacks"):
        dp.save(clf, tmp_path / "m")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h: h["config"]["params"].update(n_ensemble=0), "n_ensemble"),
        (lambda h: h["config"]["params"].update(evil=1), "unexpected keys"),
        (lambda h: h["config"]["output"]["classes"].update(values=["b", "a", "c"]), "sorted"),
        (lambda h: h["config"]["output"].update(kind="regression"), "kind must be"),
        (lambda h: h["config"]["fitted"].update(n_features_in_=5), "must take 5 inputs"),
        (lambda h: h["config"]["members"][0].update(best_iteration=999), "best_iteration"),
        (lambda h: h["config"]["members"][0]["loss_curve"].append(1.0), "loss_curve"),
        (lambda h: h["config"]["params"].update(n_ensemble=1), "1 to n_ensemble"),
        (lambda h: h["config"]["members"].clear(), "1 to n_ensemble"),
    ],
)
def test_tampered_recipe_files_are_refused(change, message, blobs, tmp_path):
    X, y = blobs
    path = tmp_path / "clf.deltaprop"
    dp.save(dp.TabularClassifier(**SMALL, random_state=0).fit(X, y), path)
    _rewrite_header(path, change)
    with pytest.raises(ModelFileError, match=message):
        dp.load(path)


def test_tampered_regression_mapping_is_refused(line, tmp_path):
    X, y = line
    path = tmp_path / "reg.deltaprop"
    dp.save(dp.TabularRegressor(n_ensemble=1, max_epochs=2, random_state=0).fit(X, y), path)
    _rewrite_header(path, lambda h: h["config"]["output"].update(kind="classes"))
    with pytest.raises(ModelFileError, match="kind must be 'regression'"):
        dp.load(path)


def test_a_tabular_model_with_the_recipe_round_trips(tmp_path):
    rng = np.random.default_rng(3)
    n = 80
    size = rng.normal(size=n)
    colour = rng.choice(["red", "blue"], size=n)
    table = {"size": size, "colour": colour, "label": np.where(size > 0, "big", "small")}
    model = dp.TabularModel(dp.TabularClassifier(**SMALL, random_state=0)).fit(table, "label")
    path = tmp_path / "model.deltaprop"
    dp.save(model, path)
    again = dp.load(path)
    assert type(again.estimator_) is dp.TabularClassifier
    assert again.predict(table).tolist() == model.predict(table).tolist()
    assert np.array_equal(again.predict_proba(table), model.predict_proba(table))
    price = {"size": size, "colour": colour, "price": 3.0 * size + 100.0}
    model = dp.TabularModel(dp.TabularRegressor(**SMALL, random_state=0)).fit(price, "price")
    dp.save(model, path)
    assert np.array_equal(dp.load(path).predict(price), model.predict(price))
    with pytest.raises(ValueError, match="needs a MLPRegressor or a TabularRegressor"):
        dp.TabularModel(dp.TabularClassifier()).fit(price, "price")
    with pytest.raises(ValueError, match="resume needs a MLPRegressor"):
        dp.TabularModel(dp.TabularRegressor()).fit(price, "price", resume=path)


def test_each_member_records_its_validation_score(blobs, line):
    X, y = blobs
    clf = dp.TabularClassifier(**SMALL, random_state=0).fit(X, y)
    for scores, n_iter in zip(clf.validation_score_curves_, clf.n_iter_, strict=True):
        assert len(scores) == n_iter
        assert all(0.0 <= s <= 1.0 for s in scores)
    X, y = line
    reg = dp.TabularRegressor(**SMALL, random_state=0).fit(X, y)
    assert all(len(s) == n for s, n in zip(reg.validation_score_curves_, reg.n_iter_, strict=True))
    assert max(reg.validation_score_curves_[0]) > 0.5  # R² of a learnable line
    assert set(reg.stop_reasons_) <= {"early_stopping", "max_iter"}


def test_a_spent_time_budget_is_the_stop_reason(blobs):
    X, y = blobs
    clf = dp.TabularClassifier(n_ensemble=2, max_epochs=500, time_budget=1e-6, random_state=0)
    clf.fit(X, y)
    # the members train side by side: all stop after the epoch that crossed the budget
    assert clf.stop_reasons_ == ["time_budget", "time_budget"]
    assert clf.n_iter_ == [1, 1]


def test_a_loaded_recipe_model_predicts_without_building_the_estimator(tmp_path):
    from deltaprop.tabular.stored import StoredEstimator

    rng = np.random.default_rng(4)
    size = rng.normal(size=60)
    table = {"size": size, "label": np.where(size > 0, "big", "small"), "y": 2.0 * size}
    for target, estimator in (
        ("label", dp.TabularClassifier(**SMALL, random_state=0)),
        ("y", dp.TabularRegressor(**SMALL, random_state=0)),
    ):
        features = {k: v for k, v in table.items() if k in ("size", target)}
        model = dp.TabularModel(estimator).fit(features, target)
        dp.save(model, tmp_path / "m.deltaprop")
        again = dp.load(tmp_path / "m.deltaprop")
        stored = again._fitted_estimator
        assert isinstance(stored, StoredEstimator) and stored.kind.startswith("tabular_")
        assert np.array_equal(again.predict(features), model.predict(features))
        if target == "label":
            assert np.array_equal(again.predict_proba(features), model.predict_proba(features))
        assert not stored.built  # the Predictor answered, with NumPy alone
        assert type(again.estimator_) is type(estimator) and stored.built
        assert again.estimator_.stop_reasons_ == estimator.stop_reasons_


def test_a_preprocessor_without_a_target_is_a_pipeline_step():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"size": rng.normal(size=120), "colour": rng.choice(["red", "blue"], 120)})
    y = np.where(X["size"] + (X["colour"] == "red") > 0.5, "yes", "no")
    pre = Preprocessor(categorical=["colour"], drop=None, scaling="standard")
    twin = clone(pre)
    assert twin.get_params() == pre.get_params() and twin is not pre
    assert twin.set_params(impute="mean").impute == "mean"
    with pytest.raises(ValueError, match=r"no parameter\(s\) \['nope'\]"):
        twin.set_params(nope=1)
    with pytest.raises(ValueError, match="impute must be one of"):
        twin.set_params(impute="bogus", scaling="robust")
    assert (twin.impute, twin.scaling) == ("mean", "standard")  # a refusal changes nothing
    twin.scaling = "robust"  # set on the attribute: get_params and clone() follow it
    assert twin.get_params()["scaling"] == clone(twin).scaling == "robust"
    np.testing.assert_array_equal(
        pre.fit_transform(X, y),
        Preprocessor(categorical=["colour"], scaling="standard").fit(X).transform(X),
    )
    clf = dp.TabularClassifier(n_ensemble=1, max_epochs=5, random_state=0)
    pipe = make_pipeline(Preprocessor(), clf)
    scores = cross_val_score(pipe, X, y, cv=3)
    # each fold: the preprocessing fitted on its training rows, as done by hand
    for score, (train, test) in zip(scores, StratifiedKFold(3).split(X, y), strict=True):
        fold = Preprocessor().fit(X.iloc[train])
        model = clone(clf).fit(fold.transform(X.iloc[train]), y[train])
        assert score == model.score(fold.transform(X.iloc[test]), y[test])
