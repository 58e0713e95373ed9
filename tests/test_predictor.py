"""Predictor: NumPy-only predictions, equal bit for bit to the estimators' own.

The estimators compute their predictions with the same arithmetic (the same casts, the
same forward pass, the same order of the sum over members), so equality is exact
(``array_equal``), not approximate. The labels are checked against scikit-learn's
``LabelBinarizer`` on the raw outputs, and the probabilities against formulas written
out here.
"""

import sys

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.estimators.predictor import (
    Predictor,
    class_labels_from_outputs,
    class_probabilities,
    predictor_of,
)

pytestmark = pytest.mark.filterwarnings("ignore:.*failed to converge")


def _blobs(n_classes, rng, n=40):
    centres = rng.normal(scale=3.0, size=(n_classes, 3))
    codes = np.arange(n) % n_classes
    return centres[codes] + rng.normal(size=(n, 3)), codes


def _predict_in_a_fresh_process(folder):
    code = (
        "import sys, numpy as np, deltaprop as dp\n"
        "from deltaprop.estimators.predictor import Predictor\n"
        "net = dp.Network([dp.Dense(2, 1, 'identity')], loss='squared_error')\n"
        "Predictor([net], task='regression').predict(np.zeros((3, 2)))\n"
        "print(sorted(m for m in ('sklearn', 'pandas', 'scipy') if m in sys.modules))\n"
    )
    return dict(args=[sys.executable, "-c", code])


# started once the tests are collected, it runs on the second core (conftest.py)
@pytest.mark.early(command=_predict_in_a_fresh_process)
def test_imports_neither_sklearn_nor_pandas(early_command):
    out = early_command.result(timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_probabilities_and_mean_by_hand(rng):
    # two logistic members on one input: P = mean(sigmoid(w x + b))
    members = []
    for w, b in ((2.0, -1.0), (-0.5, 0.25)):
        net = dp.Network([dp.Dense(1, 1, "sigmoid")], loss="binary_cross_entropy")
        net.layers[0].weights[...] = w
        net.layers[0].bias[...] = b
        members.append(net)
    X = rng.normal(size=(7, 1))
    p = (1 / (1 + np.exp(-(2.0 * X - 1.0))) + 1 / (1 + np.exp(-(-0.5 * X + 0.25)))) / 2
    predictor = Predictor(members, task="classification", classes=np.array(["no", "yes"]))
    np.testing.assert_allclose(predictor.predict_proba(X), np.hstack([1 - p, p]), rtol=1e-12)
    assert predictor.predict(X).tolist() == np.where(p[:, 0] > 0.5, "yes", "no").tolist()


@pytest.mark.parametrize("softmax", [True, False])
@pytest.mark.parametrize("multilabel", [True, False])
@pytest.mark.parametrize("n_classes", [1, 2, 3])
def test_labels_follow_label_binarizer(rng, softmax, multilabel, n_classes):
    pytest.importorskip("sklearn")
    from sklearn.preprocessing import LabelBinarizer

    if multilabel and (softmax or n_classes == 1):
        return
    n_outputs = 2 if softmax and n_classes < 3 else (1 if n_classes < 3 else n_classes)
    if multilabel:
        n_outputs = n_classes
        binarizer = LabelBinarizer().fit(np.eye(n_classes, dtype=int)[[0, 1] * 2])
        classes = binarizer.classes_
    else:
        binarizer = LabelBinarizer().fit(np.array(["ant", "bee", "cat"][:n_classes], dtype=object))
        classes = binarizer.classes_
    out = rng.uniform(size=(30, n_outputs))
    out[0] = 0.5  # a tie at the threshold
    labels = class_labels_from_outputs(out, classes, softmax=softmax, multilabel=multilabel)
    if softmax and binarizer.y_type_ != "multiclass":
        expected = (classes if n_classes == 2 else classes[[0, 0]])[np.argmax(out, axis=1)]
    else:
        expected = binarizer.inverse_transform(out.ravel() if n_outputs == 1 else out)
    assert labels.dtype == expected.dtype
    assert np.array_equal(labels, expected)


def test_probabilities_formulas(rng):
    out = rng.uniform(0.1, 0.9, size=(5, 3))
    assert np.array_equal(class_probabilities(out, softmax=True, multilabel=False), out)
    assert np.array_equal(class_probabilities(out, softmax=False, multilabel=True), out)
    np.testing.assert_allclose(
        class_probabilities(out, softmax=False, multilabel=False).sum(axis=1), 1.0, rtol=1e-15
    )
    one = class_probabilities(out[:, :1], softmax=False, multilabel=False)
    assert np.array_equal(one, np.column_stack([1 - out[:, 0], out[:, 0]]))


CLASSIFIERS = [
    ("binary logistic", 2, {}),
    ("binary softmax", 2, {"output_activation": "softmax"}),
    ("multiclass softmax", 3, {}),
    ("multiclass logistic", 3, {"output_activation": "logistic"}),
]


@pytest.mark.parametrize(("name", "n_classes", "params"), CLASSIFIERS)
@pytest.mark.parametrize("X_dtype", [np.float64, np.float32])
def test_equals_mlp_classifier(rng, name, n_classes, params, X_dtype):
    pytest.importorskip("sklearn")
    X, codes = _blobs(n_classes, rng)
    y = np.array(["x", "y", "z"])[codes]
    clf = dp.MLPClassifier((5,), solver="lbfgs", max_iter=30, random_state=0, **params)
    clf.fit(X, y)
    predictor = Predictor([clf.network_], task="classification", classes=clf.classes_)
    X_new = rng.normal(scale=3.0, size=(25, 3)).astype(X_dtype)
    assert np.array_equal(predictor.predict_proba(X_new), clf.predict_proba(X_new))
    assert predictor.predict_proba(X_new).dtype == clf.predict_proba(X_new).dtype
    assert np.array_equal(predictor.predict(X_new), clf.predict(X_new))
    assert np.array_equal(predictor_of(clf).predict(X_new), clf.predict(X_new))


def test_equals_mlp_classifier_multilabel(rng):
    pytest.importorskip("sklearn")
    X = rng.normal(size=(40, 3))
    Y = (X[:, :2] > 0).astype(int)
    clf = dp.MLPClassifier((5,), solver="lbfgs", max_iter=30, random_state=0).fit(X, Y)
    predictor = Predictor([clf.network_], task="multilabel", classes=clf.classes_)
    assert np.array_equal(predictor.predict_proba(X), clf.predict_proba(X))
    assert np.array_equal(predictor.predict(X), clf.predict(X))
    assert predictor.predict(X).dtype == clf.predict(X).dtype
    assert np.array_equal(predictor_of(clf).predict(X), clf.predict(X))


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_equals_mlp_regressor(rng, loss):
    pytest.importorskip("sklearn")
    X = rng.normal(size=(40, 3))
    y = np.exp(X[:, 0] / 2)
    reg = dp.MLPRegressor(loss, hidden_layer_sizes=(5,), solver="lbfgs", max_iter=30)
    reg.set_params(random_state=0).fit(X, y)
    predictor = Predictor([reg.network_], task="regression")
    assert np.array_equal(predictor.predict(X), reg.predict(X))
    assert np.array_equal(predictor_of(reg).predict(X), reg.predict(X))
    Y2 = np.column_stack([y, -y])
    reg2 = dp.MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=20).fit(X, Y2)
    assert np.array_equal(Predictor([reg2.network_], task="regression").predict(X), reg2.predict(X))


SMALL = {"hidden_layer_sizes": (6,), "n_ensemble": 3, "max_epochs": 5, "random_state": 0}


def test_equals_tabular_classifier(rng):
    pytest.importorskip("sklearn")
    X, codes = _blobs(3, rng, n=60)
    clf = dp.TabularClassifier(**SMALL).fit(X, codes)
    predictor = Predictor(
        clf.members_,
        task="classification",
        classes=clf.classes_,
        input_dtype="float32",
        mean_dtype="float64",
    )
    assert np.array_equal(predictor.predict_proba(X), clf.predict_proba(X))
    assert np.array_equal(predictor.predict(X), clf.predict(X))
    assert np.array_equal(predictor_of(clf).predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("two_d", [False, True])
def test_equals_tabular_regressor(rng, two_d):
    pytest.importorskip("sklearn")
    X = rng.normal(size=(60, 3))
    y = 5.0 * X[:, 0] + 20.0
    reg = dp.TabularRegressor(**SMALL).fit(X, y[:, None] if two_d else y)
    predictor = Predictor(
        reg.members_,
        task="regression",
        input_dtype="float32",
        mean_dtype="float64",
        target_mean=reg.target_mean_,
        target_scale=reg.target_scale_,
        target_min=reg.target_min_,
        target_max=reg.target_max_,
        flatten_single_output=not two_d,
    )
    X_far = np.vstack([X, [[50.0, 0.0, 0.0]]])  # clipped to the training range
    assert np.array_equal(predictor.predict(X_far), reg.predict(X_far))
    assert predictor.predict(X_far).max() <= y.max()
    assert np.array_equal(predictor_of(reg).predict(X_far), reg.predict(X_far))


def test_bad_arguments_are_named():
    net = dp.Network([dp.Dense(2, 3, "softmax")], loss="cross_entropy")
    other = dp.Network([dp.Dense(3, 3, "softmax")], loss="cross_entropy")
    with pytest.raises(ValueError, match="members must be one or more"):
        Predictor([], task="regression")
    with pytest.raises(ValueError, match="same inputs"):
        Predictor([net, other], task="classification", classes=np.arange(3))
    with pytest.raises(ValueError, match="task must be one of"):
        Predictor([net], task="ranking")
    with pytest.raises(ValueError, match=r"4 classes need \[4\] outputs, the members have 3"):
        Predictor([net], task="classification", classes=np.arange(4))
    with pytest.raises(ValueError, match="classes must be a 1-D"):
        Predictor([net], task="classification")
    with pytest.raises(ValueError, match="target_mean and target_scale"):
        Predictor([net], task="regression", target_mean=0.0)
    with pytest.raises(ValueError, match=r"target_min must be a number or have shape \(3,\)"):
        Predictor([net], task="regression", target_min=[0.0, 1.0])
    predictor = Predictor([net], task="classification", classes=np.arange(3))
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 2\), got \(4, 3\)"):
        predictor.predict(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="regression"):
        Predictor([net], task="regression").predict_proba(np.zeros((1, 2)))
    with pytest.raises(TypeError, match="no Predictor answers for a Network"):
        predictor_of(net)
