"""MLPClassifier and MLPRegressor: scikit-learn's own checks, meta-estimators with routed
sample weights, exact agreement with scikit-learn's MLP, accuracy on real data, and the
features scikit-learn's MLP lacks."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

import sklearn
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_val_score,
    train_test_split,
)
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import (
    check_array_api_input,
    parametrize_with_checks,
)

from deltaprop import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# -- scikit-learn's estimator checks ---------------------------------------------------
# As scikit-learn tests its own MLP: max_iter=100, every other parameter at its default.
# Nothing is marked as an expected failure. Three checks skip themselves (SkipTest raised
# inside scikit-learn): check_array_api_input twice, because it only runs when the
# environment variable SCIPY_ARRAY_API is set before SciPy is imported (it runs below in
# a subprocess, test_array_api_check_with_scipy_array_api_set), and
# check_decision_proba_consistency, because the classifier has no decision_function
# (neither has scikit-learn's).


@parametrize_with_checks([MLPClassifier(max_iter=100), MLPRegressor(max_iter=100)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def _array_api_check(folder):
    code = (
        "from sklearn.utils.estimator_checks import check_array_api_input\n"
        "from deltaprop import MLPClassifier, MLPRegressor\n"
        "import warnings; warnings.simplefilter('ignore')\n"
        "for est in (MLPClassifier(max_iter=20), MLPRegressor(max_iter=20)):\n"
        "    check_array_api_input(type(est).__name__, est, array_namespace='numpy',"
        " expect_only_array_outputs=False)\n"
        "print('ok')\n"
    )
    env = {**_env_with_src(), "SCIPY_ARRAY_API": "1"}
    return dict(args=[sys.executable, "-c", code], env=env)


# started once the tests are collected, it runs on the second core (conftest.py)
@pytest.mark.early(command=_array_api_check)
def test_array_api_check_with_scipy_array_api_set(early_command):
    out = early_command.result(timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
    assert check_array_api_input  # the check exists in this scikit-learn


def _env_with_src():
    import os
    from pathlib import Path

    import deltaprop

    src = str(Path(deltaprop.__file__).resolve().parent.parent)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


def _without_scikit_learn(folder):
    code = (
        "import sys\n"
        "sys.modules['sklearn'] = None\n"  # makes 'import sklearn' raise ImportError
        "import deltaprop\n"
        "assert 'sklearn' not in [m.split('.')[0] for m in sys.modules if sys.modules[m]]\n"
        "try:\n"
        "    deltaprop.MLPClassifier\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    return dict(args=[sys.executable, "-c", code], env=_env_with_src())


# started once the tests are collected, it runs on the second core (conftest.py)
@pytest.mark.early(command=_without_scikit_learn)
def test_importing_deltaprop_does_not_need_scikit_learn(early_command):
    out = early_command.result(timeout=300)
    assert out.returncode == 0, out.stderr
    assert 'pip install "deltaprop[sklearn]"' in out.stdout


# -- exact agreement with scikit-learn -------------------------------------------------


def _exact_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    w = rng.uniform(0.2, 2.0, size=30)
    targets = {
        "squared_error": X[:, 0] * 2.0 - X[:, 1],
        "poisson": rng.poisson(np.exp(0.5 * X[:, 0])).astype(float),
        "binary": (X[:, 0] > 0).astype(int),
        "multiclass": np.digitize(X[:, 0], [-0.5, 0.5]),
        "multilabel": np.c_[X[:, 0] > 0, X[:, 1] > 0].astype(int),
        "two_outputs": np.c_[X[:, 0], X[:, 1] ** 2],
    }
    return X, w, targets, rng


def _fit_both_from_same_weights(case, k, **params):
    """Fit scikit-learn's and deltaprop's estimator for k iterations from the same weights."""
    X, w, targets, rng = _exact_data()
    y = targets[case]
    regression = case in ("squared_error", "poisson", "two_outputs")
    classes = (SkMLPRegressor, MLPRegressor) if regression else (SkMLPClassifier, MLPClassifier)
    extra = {"loss": "poisson"} if case == "poisson" else {}
    common = dict(
        hidden_layer_sizes=(5, 3),
        activation="tanh",
        solver="sgd",
        momentum=0.0,
        batch_size=X.shape[0],
        shuffle=False,
        learning_rate="constant",
        learning_rate_init=0.2,
        alpha=0.3,
        max_iter=1,
        random_state=0,
        # scikit-learn carries its no-improvement counter across warm starts; keep both
        # running for exactly k iterations.
        n_iter_no_change=np.inf,
        **extra,
    )
    common.update(params)
    fitted = [cls(**common).fit(X, y, sample_weight=w) for cls in classes]
    coefs = [rng.normal(size=c.shape) for c in fitted[0].coefs_]
    intercepts = [rng.normal(size=b.shape) for b in fitted[0].intercepts_]
    for est in fitted:
        est.coefs_ = [c.copy() for c in coefs]
        est.intercepts_ = [b.copy() for b in intercepts]
        est.set_params(warm_start=True, max_iter=k).fit(X, y, sample_weight=w)
    return (*fitted, coefs, intercepts, X, y, w)


def _objective(case, coefs, intercepts, X, y, w, alpha):
    """scikit-learn's documented objective, written out independently of both libraries."""
    a = X
    for i, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        z = a @ W + b
        a = np.tanh(z) if i < len(coefs) - 1 else z
    if case == "squared_error":
        losses = 0.5 * (a[:, 0] - y) ** 2
    elif case == "poisson":
        mu = np.exp(a[:, 0])
        losses = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0) - y + mu
    elif case in ("binary", "multilabel"):
        p = 1.0 / (1.0 + np.exp(-a))
        Y = y.reshape(len(y), -1)
        losses = -np.sum(Y * np.log(p) + (1 - Y) * np.log(1 - p), axis=1)
    else:  # multiclass
        log_p = a - np.log(np.sum(np.exp(a), axis=1, keepdims=True))
        losses = -log_p[np.arange(len(y)), y]
    penalty = 0.5 * alpha * sum(np.sum(W * W) for W in coefs) / w.sum()
    return np.average(losses, weights=w) + penalty


@pytest.mark.parametrize("case", ["squared_error", "poisson", "binary", "multiclass", "multilabel"])
def test_full_batch_sgd_matches_scikit_learn_loss_curve_and_weights(case):
    k = 12
    sk, dp_est, coefs, intercepts, X, y, w = _fit_both_from_same_weights(case, k)
    assert dp_est.n_iter_ == sk.n_iter_ == k
    # the first entry is the objective at the shared starting weights, computed here
    assert dp_est.loss_curve_[-k] == pytest.approx(
        _objective(case, coefs, intercepts, X, y, w, alpha=0.3), rel=1e-12
    )
    np.testing.assert_allclose(dp_est.loss_curve_[-k:], sk.loss_curve_[-k:], rtol=1e-8)
    assert dp_est.loss_ == pytest.approx(sk.loss_, rel=1e-8)
    for ours, theirs in zip(
        dp_est.coefs_ + dp_est.intercepts_, sk.coefs_ + sk.intercepts_, strict=True
    ):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "params",
    [
        dict(momentum=0.9, nesterovs_momentum=True, learning_rate="invscaling", power_t=0.3),
        dict(momentum=0.5, nesterovs_momentum=False, activation="logistic"),
    ],
)
def test_fresh_fits_match_scikit_learn_with_momentum_and_invscaling(params):
    # Both libraries draw the initial weights from check_random_state(random_state) in
    # the same order, so fresh full-batch fits follow the same path. (After a warm start
    # they part ways by design: deltaprop keeps the velocities and the invscaling clock.)
    X, w, targets, _ = _exact_data()
    y = targets["multiclass"]
    common = dict(
        hidden_layer_sizes=(5, 3),
        activation="tanh",
        solver="sgd",
        batch_size=30,
        shuffle=False,
        learning_rate_init=0.2,
        alpha=0.3,
        max_iter=10,
        random_state=0,
        n_iter_no_change=np.inf,
    )
    common.update(params)
    sk = SkMLPClassifier(**common).fit(X, y, sample_weight=w)
    ours = MLPClassifier(**common).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-8)
    for a, b in zip(ours.coefs_ + ours.intercepts_, sk.coefs_ + sk.intercepts_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_several_outputs_report_the_summed_objective():
    # scikit-learn's gradient is that of the sum over outputs (its weights equal ours),
    # but its loss_ averages the squared error over outputs; deltaprop reports the sum.
    k = 5
    sk, dp_est, coefs, _, _, _, w = _fit_both_from_same_weights("two_outputs", k)
    for ours, theirs in zip(dp_est.coefs_, sk.coefs_, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    penalty = 0.5 * 0.3 * sum(np.sum(W * W) for W in coefs) / w.sum()
    assert dp_est.loss_curve_[-k] - penalty == pytest.approx(
        2.0 * (sk.loss_curve_[-k] - penalty), rel=1e-12
    )


def test_solver_gd_is_full_batch_sgd_without_momentum():
    X, w, targets, _ = _exact_data()
    y = targets["multiclass"]
    common = dict(hidden_layer_sizes=(4,), learning_rate_init=0.1, max_iter=5, random_state=1)
    gd = MLPClassifier(solver="gd", **common).fit(X, y, sample_weight=w)
    sgd = MLPClassifier(solver="sgd", momentum=0.0, batch_size=30, shuffle=False, **common).fit(
        X, y, sample_weight=w
    )
    assert gd.loss_curve_ == sgd.loss_curve_
    for a, b in zip(gd.coefs_, sgd.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)


# -- accuracy on real data -------------------------------------------------------------


def _standardised_split(load):
    X, y = load(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


_SOLVERS = {
    "sgd": dict(solver="sgd", learning_rate_init=0.01),
    "adam": dict(solver="adam", learning_rate_init=1e-3),
    "lbfgs": dict(solver="lbfgs"),
}


@pytest.mark.parametrize("load", [load_digits, load_breast_cancer], ids=["digits", "cancer"])
@pytest.mark.parametrize("solver", list(_SOLVERS))
def test_test_accuracy_within_one_point_of_scikit_learn(load, solver):
    # One fixed seed; benchmarks/accuracy_vs_sklearn.py repeats this over many seeds.
    X_train, X_test, y_train, y_test = _standardised_split(load)
    params = dict(hidden_layer_sizes=(64,), alpha=1e-3, max_iter=200, random_state=0)
    params.update(_SOLVERS[solver])
    theirs = SkMLPClassifier(**params).fit(X_train, y_train).score(X_test, y_test)
    ours = MLPClassifier(**params).fit(X_train, y_train).score(X_test, y_test)
    assert ours >= theirs - 0.01
    assert ours > 0.9


# -- Pipeline, GridSearchCV, cross_val_score with sample_weight routed ------------------


def _routing_data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 3)) * [1.0, 10.0, 0.1]
    y = (X[:, 0] + 0.1 * X[:, 1] + rng.normal(scale=0.5, size=60) > 0).astype(int)
    w = rng.uniform(0.0, 3.0, size=60)
    return X, y, w


def _lbfgs(**params):
    return MLPClassifier((4,), solver="lbfgs", max_iter=30, random_state=0, **params)


def test_zero_sample_weights_equal_dropping_the_rows():
    X, y, w = _routing_data()
    w[::3] = 0.0
    weighted = _lbfgs().fit(X, y, sample_weight=w)
    keep = w > 0
    dropped = _lbfgs().fit(X[keep], y[keep], sample_weight=w[keep])
    for a, b in zip(weighted.coefs_, dropped.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)


def test_cross_val_score_routes_sample_weight_through_a_pipeline():
    X, y, w = _routing_data()
    cv = StratifiedKFold(3)
    with sklearn.config_context(enable_metadata_routing=True):
        clf = _lbfgs().set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
        pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=False), clf)
        scores = cross_val_score(pipe, X, y, cv=cv, params={"sample_weight": w})
    expected = []
    for train, test in cv.split(X, y):
        scaler = StandardScaler().fit(X[train])
        model = _lbfgs().fit(scaler.transform(X[train]), y[train], sample_weight=w[train])
        expected.append(model.score(scaler.transform(X[test]), y[test], sample_weight=w[test]))
    np.testing.assert_allclose(scores, expected)


def test_grid_search_routes_sample_weight_and_refits_with_it():
    X, y, w = _routing_data()
    with sklearn.config_context(enable_metadata_routing=True):
        clf = _lbfgs().set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
        search = GridSearchCV(
            make_pipeline(StandardScaler().set_fit_request(sample_weight=False), clf),
            {"mlpclassifier__alpha": [1e-4, 1.0]},
            cv=StratifiedKFold(3),
        ).fit(X, y, sample_weight=w)
    alpha = search.best_params_["mlpclassifier__alpha"]
    scaler = StandardScaler().fit(X)
    manual = _lbfgs(alpha=alpha).fit(scaler.transform(X), y, sample_weight=w)
    refit = search.best_estimator_[-1]
    for a, b in zip(refit.coefs_, manual.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    with pytest.raises(AssertionError):  # and the weights did change the fit
        unweighted = _lbfgs(alpha=alpha).fit(scaler.transform(X), y)
        np.testing.assert_allclose(refit.coefs_[0], unweighted.coefs_[0], rtol=1e-3)


# -- fitted attributes, dtypes and targets ---------------------------------------------


def test_float32_stays_float32():
    X, y, _ = _routing_data()
    X32 = X.astype(np.float32)
    for est in (
        MLPClassifier((5,), max_iter=5, random_state=0).fit(X32, y),
        MLPRegressor(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X32, X[:, 0]),
    ):
        assert all(c.dtype == np.float32 for c in est.coefs_ + est.intercepts_)
        assert est.network_.layers[0].weights.dtype == np.float32
        out = est.predict_proba(X32) if hasattr(est, "predict_proba") else est.predict(X32)
        assert out.dtype == np.float32


def test_lbfgs_records_a_loss_curve_ending_at_the_objective_of_the_result():
    X, y, _ = _routing_data()
    est = MLPClassifier((3,), activation="tanh", solver="lbfgs", alpha=0.5, random_state=0)
    est.fit(X, y)
    assert len(est.loss_curve_) == est.n_iter_ > 1
    a = np.tanh(X @ est.coefs_[0] + est.intercepts_[0]) @ est.coefs_[1] + est.intercepts_[1]
    p = 1.0 / (1.0 + np.exp(-a[:, 0]))
    objective = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)) + 0.25 * sum(
        np.sum(W * W) for W in est.coefs_
    ) / len(y)
    assert est.loss_ == pytest.approx(objective, rel=1e-10)
    assert est.best_loss_ == min(est.loss_curve_)


def test_attributes_for_multilabel_and_multioutput_targets():
    X, _, _ = _routing_data()
    Y = np.c_[X[:, 0] > 0, X[:, 1] > 0, X[:, 2] > 0].astype(int)
    clf = MLPClassifier((6,), solver="lbfgs", max_iter=50, random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 3 and clf.n_layers_ == 3
    proba = clf.predict_proba(X)
    assert proba.shape == (60, 3)
    np.testing.assert_array_equal(clf.predict(X), (proba > 0.5).astype(int))
    reg = MLPRegressor(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=50, random_state=0).fit(
        X, X[:, :2]
    )
    assert reg.predict(X).shape == (60, 2) and reg.out_activation_ == "identity"
    multi = MLPClassifier((6,), max_iter=3, random_state=0).fit(X, np.digitize(X[:, 0], [0, 1]))
    assert multi.out_activation_ == "softmax"
    np.testing.assert_allclose(multi.predict_proba(X).sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(multi.predict_log_proba(X)), multi.predict_proba(X))


def test_softmax_output_for_binary_targets_uses_two_units():
    X, y, _ = _routing_data()
    labels = np.array(["no", "yes"])[y]
    est = MLPClassifier((4,), solver="lbfgs", output_activation="softmax", random_state=0)
    est.fit(X, labels)
    assert est.coefs_[-1].shape == (4, 2) and est.out_activation_ == "softmax"
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(est.predict(X), est.classes_[np.argmax(proba, axis=1)])
    assert est.score(X, labels) > 0.8


def test_class_weight_equals_the_matching_sample_weights():
    X, y, _ = _routing_data()
    labels = np.array(["a", "b"])[y]
    by_class = _lbfgs(class_weight={"a": 3.0}).fit(X, labels)
    by_sample = _lbfgs().fit(X, labels, sample_weight=np.where(y == 0, 3.0, 1.0))
    np.testing.assert_allclose(by_class.coefs_[0], by_sample.coefs_[0], rtol=1e-9)
    counts = np.bincount(y)
    balanced = _lbfgs(class_weight="balanced").fit(X, labels)
    expected = _lbfgs().fit(X, labels, sample_weight=len(y) / (2 * counts[y]))
    np.testing.assert_allclose(balanced.coefs_[0], expected.coefs_[0], rtol=1e-9)
    with pytest.raises(ValueError, match="not classes of y"):
        _lbfgs(class_weight={"c": 2.0}).fit(X, labels)
    with pytest.raises(ValueError, match="multilabel"):
        _lbfgs(class_weight="balanced").fit(X, np.c_[y, 1 - y])


# -- warm starts, partial_fit and optimizer state -------------------------------------


def _full_batch(solver="adam", **params):
    return MLPClassifier(
        (5,), solver=solver, batch_size=60, shuffle=False, random_state=0, tol=0.0, **params
    )


@pytest.mark.parametrize(
    "params",
    [dict(solver="adam"), dict(solver="sgd", learning_rate="invscaling", power_t=0.5)],
)
def test_partial_fit_continues_the_optimizer_state_and_schedule(params):
    X, y, _ = _routing_data()
    whole = _full_batch(max_iter=6, **params).fit(X, y)
    pieces = _full_batch(**params)
    for _ in range(6):
        pieces.partial_fit(X, y, classes=[0, 1])
    assert pieces.n_iter_ == 1 and pieces.t_ == whole.t_ == 6 * 60
    np.testing.assert_allclose(pieces.loss_curve_, whole.loss_curve_, rtol=1e-12)
    for a, b in zip(pieces.coefs_, whole.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_warm_start_keeps_adam_moments_unlike_scikit_learn():
    X, y, _ = _routing_data()
    whole = _full_batch(max_iter=6).fit(X, y)
    warm = _full_batch(max_iter=3, warm_start=True).fit(X, y)
    assert warm.optimizer_state_["t"] == 3
    warm.fit(X, y)
    assert warm.optimizer_state_["t"] == 6 and len(warm.loss_curve_) == 6
    np.testing.assert_allclose(warm.loss_curve_, whole.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose(warm.coefs_[0], whole.coefs_[0], rtol=1e-12)
    cold = _full_batch(max_iter=3).fit(X, y).fit(X, y)  # warm_start=False: starts over
    assert len(cold.loss_curve_) == 3


def test_partial_fit_errors():
    X, y, _ = _routing_data()
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        MLPClassifier().partial_fit(X, y)
    with pytest.raises(AttributeError, match="partial_fit"):
        MLPClassifier(solver="lbfgs").partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1])


# -- early stopping, callbacks, target loss, verbose, dropout -------------------------


def test_score_based_early_stopping_follows_scikit_learns_rule():
    X, y, _ = _routing_data()
    est = MLPClassifier(
        (8,), solver="sgd", learning_rate_init=0.5, early_stopping=True,
        validation_fraction=0.3, n_iter_no_change=3, tol=0.0, max_iter=200, random_state=0,
    ).fit(X, y)  # fmt: skip
    scores = est.validation_scores_
    assert len(scores) == len(est.validation_loss_curve_) == est.n_iter_ < 200
    assert est.best_validation_score_ == max(scores) and est.best_loss_ is None
    # scikit-learn's rule, replayed: count epochs below best + tol, stop at count > 3
    best, count, stop = -np.inf, 0, None
    for n, score in enumerate(scores, start=1):
        count = count + 1 if score < best + 0.0 else 0
        best = max(best, score)
        if count > 3:
            stop = n
            break
    assert stop == est.n_iter_ and est.stop_reason_ == "early_stopping"


def test_loss_based_early_stopping_restores_the_lowest_validation_loss():
    X, y, _ = _routing_data()
    est = MLPClassifier(
        (32,), solver="adam", learning_rate_init=0.05, early_stopping=True,
        early_stopping_metric="loss", validation_fraction=0.3, n_iter_no_change=4, tol=0.0,
        max_iter=300, random_state=0,
    ).fit(X, y)  # fmt: skip
    curve = est.validation_loss_curve_
    assert est.stop_reason_ == "early_stopping"
    assert est.n_iter_ - (int(np.argmin(curve)) + 1) == 4 + 1
    # the restored weights: their validation loss is the curve's minimum
    seen = []
    MLPClassifier(
        (32,), solver="adam", learning_rate_init=0.05, early_stopping=True,
        early_stopping_metric="loss", validation_fraction=0.3, n_iter_no_change=4, tol=0.0,
        max_iter=300, random_state=0,
        callbacks=[lambda i, history, net: seen.append([p.copy() for p in net.parameters])],
    ).fit(X, y)  # fmt: skip
    best = seen[int(np.argmin(curve))]
    for ours, kept in zip(est.coefs_, best[0::2], strict=True):
        np.testing.assert_array_equal(ours, kept)


def test_callbacks_and_target_loss_stop_training():
    X, y, _ = _routing_data()
    calls = []

    def stop_at_three(iteration, history, net):
        calls.append((iteration, history.loss[-1]))
        return iteration == 3

    est = MLPClassifier((4,), max_iter=50, random_state=0, callbacks=stop_at_three).fit(X, y)
    assert est.n_iter_ == 3 and est.stop_reason_ == "callback"
    assert [loss for _, loss in calls] == est.loss_curve_
    est = MLPClassifier((8,), solver="lbfgs", max_iter=200, target_loss=0.3, random_state=0)
    est.fit(X, y)
    assert est.stop_reason_ == "target_loss"
    assert est.loss_ <= 0.3 < min(est.loss_curve_[:-1])


def test_verbose_prints_scikit_learns_progress_lines(capsys):
    X, _, _ = _routing_data()
    est = MLPRegressor("poisson", (3,), max_iter=3, verbose=True, random_state=0)
    est.fit(X, np.abs(X[:, 0]))
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"Iteration {i}, loss = {est.loss_curve_[i - 1]:.8f}" for i in (1, 2, 3)]


def test_dropout_changes_training_but_not_prediction_and_refuses_lbfgs():
    X, y, _ = _routing_data()
    plain = MLPClassifier((16,), max_iter=5, random_state=0).fit(X, y)
    dropped = MLPClassifier((16,), max_iter=5, random_state=0, dropout=0.5).fit(X, y)
    assert dropped.network_.layers[0].dropout == 0.5
    assert not np.allclose(plain.loss_curve_, dropped.loss_curve_)
    np.testing.assert_array_equal(dropped.predict_proba(X), dropped.predict_proba(X))
    with pytest.raises(ValueError, match="dropout"):
        MLPClassifier(solver="lbfgs", dropout=0.5).fit(X, y)


def test_convergence_warning_when_max_iter_is_reached():
    X, y, _ = _routing_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match="Maximum iterations"):
            MLPClassifier((3,), max_iter=2, random_state=0).fit(X, y)
