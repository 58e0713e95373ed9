"""The per-epoch validation score: accuracy and R² in NumPy, the ValidationScore callback."""

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.training.metrics import ValidationScore, accuracy, r2_score

metrics = pytest.importorskip("sklearn.metrics")


@pytest.mark.parametrize("weighted", [False, True])
def test_accuracy_matches_scikit_learn(rng, weighted):
    labels = rng.integers(0, 3, size=50)
    output = rng.random(size=(50, 3))
    w = rng.random(50) if weighted else None
    expected = metrics.accuracy_score(labels, output.argmax(axis=1), sample_weight=w)
    assert accuracy(np.eye(3)[labels], output, w) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_r2_matches_scikit_learn(rng, weighted):
    Y = rng.normal(size=(40, 2))
    output = Y + rng.normal(scale=0.5, size=(40, 2))
    w = rng.random(40) if weighted else None
    expected = metrics.r2_score(Y, output, sample_weight=w)
    assert r2_score(Y, output, w) == pytest.approx(expected, rel=1e-12)
    constant = np.ones((5, 1))
    assert r2_score(constant, constant) == 1.0
    assert r2_score(constant, constant + 1.0) == 0.0


def test_the_callback_scores_each_epochs_weights_and_checkpoints_keep_them(rng, tmp_path):
    X = rng.normal(size=(40, 2))
    Y = np.eye(2)[(X[:, 0] > 0).astype(int)]
    seen = []

    def record(iteration, history, net):  # the outputs the score must have been taken on
        seen.append(accuracy(Y[:10], net.forward(X[:10])))

    def net():
        return dp.Network([dp.Dense(2, 2, "softmax")], loss="cross_entropy", random_state=0)

    score = ValidationScore(X[:10], Y[:10], accuracy, name="accuracy")
    path = tmp_path / "run.ckpt"
    history = dp.train(
        net(), X, Y, max_iter=6, callbacks=[score, record, dp.Checkpoint(path, every=3)]
    )
    assert history.val_score == score.scores == seen
    saved = dp.load(path)
    assert saved.history.val_score == seen[:6]
    again = ValidationScore(X[:10], Y[:10], accuracy)
    resumed = dp.train(net(), X, Y, max_iter=8, callbacks=[again], resume=path)
    assert resumed.val_score[:6] == seen and len(resumed.val_score) == 8
    with pytest.raises(TypeError, match="metric must be callable"):
        ValidationScore(X, Y, "accuracy")
