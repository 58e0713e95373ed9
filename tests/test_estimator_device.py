"""The estimators' ``device=``: PyTorch training with NumPy at the public boundary."""

from __future__ import annotations

import inspect
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone

import deltaprop as dp
from deltaprop import MLPClassifier, MLPRegressor

torch = pytest.importorskip("torch")
pytest.importorskip("array_api_compat")


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(48, 3))
    labels = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5).astype(int)
    w = rng.uniform(0.2, 1.5, size=48)
    return X, labels, w


def _fit_quietly(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after a few iterations
        return est.fit(*args, **kwargs)


class _SeenTypes:
    """A callback recording the type of the parameters the training loop holds."""

    def __init__(self):
        self.types = set()

    def __call__(self, iteration, history, net):
        self.types |= {type(p) for p in net.parameters}


def _assert_numpy_fitted(est):
    arrays = [*est.coefs_, *est.intercepts_, *(layer.weights for layer in est.network_.layers)]
    for key, value in (est.optimizer_state_ or {}).items():
        if isinstance(value, list):
            arrays += value
            assert all(isinstance(v, np.ndarray) for v in value), key
    assert all(type(a) is np.ndarray for a in arrays)
    assert all(type(v) is float for v in est.loss_curve_)


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (MLPClassifier, {"solver": "sgd", "momentum": 0.9, "learning_rate_init": 0.1}),
        (MLPClassifier, {"solver": "adam", "learning_rate_init": 0.05}),
        (MLPClassifier, {"solver": "gd", "learning_rate_init": 0.5}),
        (MLPClassifier, {"solver": "lbfgs"}),
        (MLPRegressor, {"solver": "adam", "learning_rate_init": 0.05}),
        (MLPRegressor, {"solver": "lbfgs"}),
    ],
)
def test_cpu_device_trains_on_torch_and_matches_numpy(data, cls, params):
    X, labels, w = data
    y = labels if cls is MLPClassifier else X[:, 0] - 2.0 * X[:, 1] ** 2
    common = {"hidden_layer_sizes": (5,), "activation": "tanh", "batch_size": 16}
    common |= {"max_iter": 12, "random_state": 0, **params}
    seen = _SeenTypes()
    on_numpy = _fit_quietly(cls(**common), X, y, sample_weight=w)
    on_torch = _fit_quietly(cls(**common, device="cpu", callbacks=seen), X, y, sample_weight=w)
    assert seen.types == {torch.Tensor}  # the loop ran on tensors, not on NumPy
    _assert_numpy_fitted(on_torch)
    assert on_torch.n_iter_ == on_numpy.n_iter_
    np.testing.assert_allclose(on_torch.loss_curve_, on_numpy.loss_curve_, rtol=1e-10)
    reference = on_numpy.coefs_ + on_numpy.intercepts_
    for a, b in zip(on_torch.coefs_ + on_torch.intercepts_, reference, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    predictions = on_torch.predict(X)
    assert type(predictions) is np.ndarray
    if cls is MLPClassifier:
        np.testing.assert_array_equal(predictions, on_numpy.predict(X))
    else:
        np.testing.assert_allclose(predictions, on_numpy.predict(X), rtol=1e-9)


def test_cpu_device_with_early_stopping_class_weight_and_warm_start(data):
    X, labels, _ = data
    params = {"hidden_layer_sizes": (4,), "solver": "adam", "max_iter": 8, "random_state": 1}
    params |= {"early_stopping": True, "class_weight": "balanced", "warm_start": True}
    on_numpy, on_torch = MLPClassifier(**params), MLPClassifier(**params, device="cpu")
    for _ in range(2):  # the second fit continues from the first (weights, Adam moments)
        _fit_quietly(on_numpy, X, labels)
        _fit_quietly(on_torch, X, labels)
    _assert_numpy_fitted(on_torch)
    assert on_torch.validation_scores_ == on_numpy.validation_scores_
    np.testing.assert_allclose(on_torch.coefs_[0], on_numpy.coefs_[0], rtol=1e-10)
    np.testing.assert_allclose(
        on_torch.predict_proba(X), on_numpy.predict_proba(X), rtol=1e-9, atol=1e-12
    )


def test_float32_input_trains_in_float32_on_the_device(data):
    X, labels, _ = data
    clf = _fit_quietly(MLPClassifier((4,), max_iter=3, device="cpu"), X.astype(np.float32), labels)
    assert all(c.dtype == np.float32 and type(c) is np.ndarray for c in clf.coefs_)


def test_device_is_a_parameter_that_clones_and_saves(data, tmp_path):
    X, labels, _ = data
    clf = MLPRegressor(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=5, device="cpu")
    # the last constructor parameter, after scikit-learn's
    assert list(inspect.signature(MLPRegressor).parameters)[-1] == "device"
    assert clf.get_params()["device"] == "cpu"
    assert clone(clf).device == "cpu"
    assert clf.set_params(device=None).device is None
    clf.set_params(device="cpu")
    _fit_quietly(clf, X, labels.astype(float))
    path = tmp_path / "reg.deltaprop"
    dp.save(clf, path)
    again = dp.load(path)
    assert again.device == "cpu"
    np.testing.assert_array_equal(again.predict(X), clf.predict(X))


def test_files_written_before_device_existed_still_load():
    from deltaprop.estimators.state import _params_from_json

    params = MLPClassifier().get_params()
    params["hidden_layer_sizes"] = [100]
    del params["device"]
    assert _params_from_json(MLPClassifier, params).device is None


@pytest.mark.parametrize("device", ["gpu0", "meta", 3])
def test_bad_devices_are_refused_naming_the_parameter(data, device):
    X, labels, _ = data
    error = ValueError if isinstance(device, str) else (ValueError, TypeError)
    with pytest.raises(error, match="device"):
        MLPClassifier((3,), max_iter=2, device=device).fit(X, labels)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_clear_value_error(data):
    X, labels, _ = data
    with pytest.raises(ValueError, match="device must name a PyTorch device usable here"):
        MLPClassifier((3,), max_iter=2, device="cuda").fit(X, labels)


def test_missing_torch_is_an_import_error_naming_torch(data, monkeypatch):
    X, labels, _ = data
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(ImportError, match="torch"):
        MLPClassifier((3,), max_iter=2, device="cpu").fit(X, labels)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(("dtype", "rtol"), [(np.float64, 1e-9), (np.float32, 2e-4)])
def test_cuda_device_matches_numpy(data, dtype, rtol):
    X, labels, w = data
    X = X.astype(dtype)
    params = {"hidden_layer_sizes": (5,), "solver": "adam", "batch_size": 16}
    params |= {"max_iter": 10, "learning_rate_init": 0.05, "random_state": 0}
    seen = _SeenTypes()
    on_numpy = _fit_quietly(MLPClassifier(**params), X, labels, sample_weight=w)
    on_cuda = _fit_quietly(
        MLPClassifier(**params, device="cuda", callbacks=seen), X, labels, sample_weight=w
    )
    assert seen.types == {torch.Tensor}
    _assert_numpy_fitted(on_cuda)
    for a, b in zip(on_cuda.coefs_, on_numpy.coefs_, strict=True):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=10 * rtol)
