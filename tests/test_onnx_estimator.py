"""estimator.to_onnx: onnxruntime reproduces predict and predict_proba."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("sklearn")

from deltaprop import MLPClassifier, MLPRegressor  # noqa: E402

RTOL = {np.float32: 1e-5, np.float64: 1e-12}


def _run(path, X):
    session = ort.InferenceSession(str(path))
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"X": X}), strict=True))


def _data(rng, dtype, n=60):
    X = rng.normal(size=(n, 4)).astype(dtype)
    return X, X[:, 0] + 0.5 * X[:, 1] - 0.2 * X[:, 2]


def _close(a, b, dtype):
    scale = np.max(np.abs(b))
    assert np.max(np.abs(a - b)) <= RTOL[dtype] * scale


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("labels", "kwargs"),
    [
        ("binary", {}),
        ("binary", {"output_activation": "softmax"}),
        ("strings", {}),
        ("strings", {"output_activation": "logistic"}),
        ("integers", {"activation": "tanh"}),
    ],
)
def test_classifier_labels_and_probabilities(labels, kwargs, dtype, rng, tmp_path):
    X, score = _data(rng, dtype)
    if labels == "binary":
        y = np.where(score > 0, "yes", "no")
    elif labels == "strings":
        y = np.array(["cat", "dog", "fish"])[np.digitize(score, [-0.5, 0.5])]
    else:
        y = np.array([3, 7, 11])[np.digitize(score, [-0.5, 0.5])]
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=30, random_state=0, **kwargs)
    with pytest.warns(Warning):  # not converged in 30 iterations
        clf.fit(X, y)
    model = clf.to_onnx(tmp_path / "clf.onnx")
    assert [o.name for o in model.graph.output] == ["label", "probabilities"]
    out = _run(tmp_path / "clf.onnx", X)
    np.testing.assert_array_equal(out["label"], clf.predict(X))
    assert out["probabilities"].dtype == dtype
    _close(out["probabilities"], clf.predict_proba(X), dtype)


def test_multilabel_classifier(rng, tmp_path):
    X, score = _data(rng, np.float64)
    Y = np.column_stack([score > 0, X[:, 3] > 0]).astype(int)
    clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=30, random_state=0)
    with pytest.warns(Warning):
        clf.fit(X, Y)
    clf.to_onnx(tmp_path / "multi.onnx")
    out = _run(tmp_path / "multi.onnx", X)
    np.testing.assert_array_equal(out["label"], clf.predict(X))
    _close(out["probabilities"], clf.predict_proba(X), np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["single", "multi", "poisson"])
def test_regressor_predictions(case, dtype, rng, tmp_path):
    X, score = _data(rng, dtype)
    y = {
        "single": score,
        "multi": np.column_stack([score, -score]),
        "poisson": rng.poisson(np.exp(0.3 * score)).astype(dtype),
    }[case]
    reg = MLPRegressor(
        hidden_layer_sizes=(5,),
        max_iter=20,
        random_state=0,
        loss="poisson" if case == "poisson" else "squared_error",
    )
    with pytest.warns(Warning):
        reg.fit(X, y)
    reg.to_onnx(tmp_path / "reg.onnx")
    out = _run(tmp_path / "reg.onnx", X)
    assert out["predictions"].shape == reg.predict(X).shape
    _close(out["predictions"], reg.predict(X), dtype)


def test_unfitted_estimator_is_refused(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MLPClassifier().to_onnx(tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()
