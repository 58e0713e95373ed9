"""Networks trained side by side (deltaprop.training.members, deltaprop.kernels.stacked).

Each member's numbers must be those of ``deltaprop.train`` run on that member alone
(bit for bit with batches of up to 32 rows, where train's kernel sums as the core's
pass does), and the stacked gradients those of central differences.
"""

import warnings

import numpy as np
import pytest

from deltaprop.core.initializers import make_rng
from deltaprop.core.network import Network
from deltaprop.estimators import plan
from deltaprop.kernels.stacked import stacked_batch
from deltaprop.optim.optimizers import Adam
from deltaprop.optim.schedules import CosineAnnealing
from deltaprop.training import DivergenceWarning, train, train_members
from deltaprop.training.metrics import accuracy

SEEDS = (11, 22, 33)
EPOCHS = 40


def _net(units, seed, out="softmax", loss="cross_entropy"):
    return Network(plan.dense_layers(units, "relu", out), loss=loss, random_state=seed)


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 5)).astype(np.float32)
    Y = np.eye(2, dtype=np.float32)[(X[:, 0] + X[:, 1] ** 2 > 1).astype(int)]
    splits = [np.random.default_rng(s).permutation(150) for s in SEEDS]
    train_rows = np.stack([p[:120] for p in splits])
    val_rows = np.stack([p[120:] for p in splits])
    w = rng.uniform(0.5, 2.0, size=150).astype(np.float32)
    return X, Y, train_rows, val_rows, w


def _alone(X, Y, rows, val, seed, w=None, callbacks=(), start=None):
    net = _net([5, 16, 16, 2], seed)
    if start is not None:
        net._set_parameters(start)
    history = train(
        net,
        X[rows],
        Y[rows],
        sample_weight=None if w is None else w[rows],
        optimizer=Adam(learning_rate=3e-3, beta_2=0.95),
        batch_size=16,
        max_iter=EPOCHS,
        random_state=seed,
        schedule=CosineAnnealing(t_max=EPOCHS),
        validation_data=(X[val], Y[val], None if w is None else w[val]),
        early_stopping=True,
        n_iter_no_change=3,
        callbacks=list(callbacks),
    )
    return net, history


def _side_by_side(X, Y, train_rows, val_rows, w=None, callbacks=(), nets=None):
    nets = nets or [_net([5, 16, 16, 2], s) for s in SEEDS]
    histories = train_members(
        nets,
        X,
        Y,
        train_rows,
        (val_rows, Y),
        optimizer=Adam(learning_rate=3e-3, beta_2=0.95),
        batch_size=16,
        max_iter=EPOCHS,
        rngs=[make_rng(s) for s in SEEDS],
        sample_weight=w,
        schedule=CosineAnnealing(t_max=EPOCHS),
        n_iter_no_change=3,
        score=accuracy,
        callbacks=callbacks,
    )
    return nets, histories


def _assert_same(net_a, history_a, net_b, history_b):
    for a, b in zip(net_a.parameters, net_b.parameters, strict=True):
        np.testing.assert_array_equal(a, b)
    assert history_a.val_loss == history_b.val_loss
    np.testing.assert_allclose(history_a.loss, history_b.loss, rtol=1e-6)
    assert history_a.best_iteration == history_b.best_iteration
    assert history_a.stop_reason == history_b.stop_reason
    assert history_a.learning_rate == history_b.learning_rate


@pytest.mark.parametrize("weighted", [False, True])
def test_each_member_is_bit_identical_to_training_it_alone(problem, weighted):
    X, Y, train_rows, val_rows, w = problem
    w = w if weighted else None
    nets, histories = _side_by_side(X, Y, train_rows, val_rows, w)
    reasons = set()
    for i, seed in enumerate(SEEDS):
        net, history = _alone(X, Y, train_rows[i], val_rows[i], seed, w)
        _assert_same(net, history, nets[i], histories[i])
        expected = accuracy(Y[val_rows[i]], net.forward(X[val_rows[i]]))
        if not weighted and history.best_iteration == history.n_iter:
            assert histories[i].val_score[-1] == pytest.approx(expected)
        reasons.add(history.stop_reason)
    assert "early_stopping" in reasons  # members left the stack at different epochs


@pytest.mark.parametrize(
    ("out", "loss", "n_out"), [("softmax", "cross_entropy", 3), ("identity", "squared_error", 2)]
)
@pytest.mark.parametrize("weighted", [False, True])
def test_stacked_gradients_match_central_differences(out, loss, n_out, weighted):
    rng = np.random.default_rng(1)
    nets = [_net([3, 4, 4, n_out], s, out, loss) for s in (1, 2, 3)]
    layers, loss_fn = nets[0].layers, nets[0].loss
    params = [
        np.stack([np.asarray(p, np.float64) for p in g])
        for g in zip(*(n.parameters for n in nets), strict=True)
    ]
    X = rng.normal(size=(20, 3))
    y = (
        np.eye(n_out)[rng.integers(0, n_out, 20)]
        if out == "softmax"
        else rng.normal(size=(20, n_out))
    )
    w = rng.uniform(0.5, 2.0, size=20) if weighted else None
    rows = np.stack([rng.permutation(20)[:6] for _ in range(3)])

    def total(ps):
        losses, _, _ = stacked_batch(layers, loss_fn, ps, X, y, w, rows)
        return float(np.sum(losses))

    _, _, grads = stacked_batch(layers, loss_fn, params, X, y, w, rows)
    for p, g in zip(params, grads, strict=True):
        numeric = np.empty_like(p)
        flat, flat_numeric = p.reshape(-1), numeric.reshape(-1)
        for k in range(flat.size):
            estimates = []
            for h in (1e-5, 5e-6):
                original = flat[k]
                flat[k] = original + h
                plus = total(params)
                flat[k] = original - h
                minus = total(params)
                flat[k] = original
                estimates.append((plus - minus) / (2 * h))
            flat_numeric[k] = (4 * estimates[1] - estimates[0]) / 3
        scale = max(np.linalg.norm(g), np.linalg.norm(numeric))
        assert np.linalg.norm(g - numeric) / scale < 1e-6


def test_a_diverging_member_stops_alone_and_the_others_are_unchanged(problem):
    X, Y, train_rows, val_rows, _ = problem
    nets = [_net([5, 16, 16, 2], s) for s in SEEDS]
    start = [p.copy() for p in nets[1].parameters]
    broken = [p * np.float32(1e30) if p.ndim == 2 else p for p in start]
    nets[1]._set_parameters(broken)
    with pytest.warns(DivergenceWarning, match="training diverged at iteration 1"):
        nets, histories = _side_by_side(X, Y, train_rows, val_rows, nets=nets)
    assert histories[1].stop_reason == "diverged"
    assert histories[1].divergence is not None and histories[1].divergence.iteration == 1
    for a, b in zip(nets[1].parameters, broken, strict=True):  # its starting weights
        np.testing.assert_array_equal(a, np.asarray(b, np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        for i in (0, 2):
            net, history = _alone(X, Y, train_rows[i], val_rows[i], SEEDS[i])
            _assert_same(net, history, nets[i], histories[i])


def test_a_callback_stops_one_member(problem):
    X, Y, train_rows, val_rows, _ = problem
    calls = []

    def stop_the_second_at_epoch_2(epoch, history, net):
        calls.append((epoch, id(history)))
        return epoch == 2 and history is histories_seen[1]

    histories_seen = []

    def remember(epoch, history, net):
        if epoch == 1:
            histories_seen.append(history)

    nets, histories = _side_by_side(
        X, Y, train_rows, val_rows, callbacks=[remember, stop_the_second_at_epoch_2]
    )
    assert histories[1].stop_reason == "callback" and histories[1].n_iter == 2
    # the first epoch reports the members in order
    assert [h for e, h in calls if e == 1] == [id(h) for h in histories]
    net, history = _alone(X, Y, train_rows[0], val_rows[0], SEEDS[0])
    _assert_same(net, history, nets[0], histories[0])


def test_members_with_dropout_are_refused(problem):
    X, Y, train_rows, val_rows, _ = problem
    nets = [Network(plan.dense_layers([5, 8, 2], "relu", "softmax", dropout=0.1)) for _ in SEEDS]
    with pytest.raises(ValueError, match="without dropout"):
        _side_by_side(X, Y, train_rows, val_rows, nets=nets)


def test_larger_batches_equal_training_alone_to_rounding(problem):
    # train()'s NumPy kernel sums a bias gradient with a matrix-vector product (the
    # core's pass with a sum): the last bits may differ, nothing more
    X, Y, train_rows, val_rows, _ = problem
    nets = [_net([5, 16, 16, 2], s) for s in SEEDS]
    histories = train_members(
        nets,
        X,
        Y,
        train_rows,
        (val_rows, Y),
        optimizer=Adam(learning_rate=3e-3),
        batch_size=64,
        max_iter=3,
        rngs=[make_rng(s) for s in SEEDS],
    )
    for i, seed in enumerate(SEEDS):
        net = _net([5, 16, 16, 2], seed)
        history = train(
            net,
            X[train_rows[i]],
            Y[train_rows[i]],
            optimizer=Adam(learning_rate=3e-3),
            batch_size=64,
            max_iter=3,
            random_state=seed,
            validation_data=(X[val_rows[i]], Y[val_rows[i]], None),
            early_stopping=True,
            n_iter_no_change=10,
        )
        for a, b in zip(net.parameters, nets[i].parameters, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(history.val_loss, histories[i].val_loss, rtol=1e-5)
