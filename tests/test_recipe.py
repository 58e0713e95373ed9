"""The tabular recipe: TabularClassifier and TabularRegressor (tiny data, few epochs)."""

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError

import deltaprop as dp
from deltaprop.estimators.recipe import _split, auto_batch_size, auto_epochs

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
    _, val_idx = _split(60, 0.2, int(seed), None)
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
    # the first member always trains, for one epoch; no other starts once time is up
    assert len(clf.members_) == 1
    assert clf.n_iter_ == [1]
    assert clf.predict_proba(X).shape == (60, 3)
    full = dp.TabularClassifier(**SMALL, random_state=0).fit(X, y)
    assert len(full.members_) == 3 and min(full.n_iter_) > 1


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
