"""train(): mini-batches, validation, early stopping, callbacks, class weights,
divergence, determinism, and accuracy on real data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.training.splits import class_labels, stratified_split

from .conftest import to_xp


def _binary_data(n, rng, n_features=4):
    X = rng.normal(size=(n, n_features))
    p = 1.0 / (1.0 + np.exp(-2.0 * X[:, 0]))
    return X, (rng.uniform(size=n) < p).astype(float)


def _small_net(n_in=4, **dense):
    return dp.Network([dp.Dense(n_in, 5, "tanh", **dense), dp.Dense(5, 1)], random_state=0)


# -- mini-batches ----------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_epoch_loss_is_the_weighted_mean_of_the_batch_losses(rng, weighted, xp):
    X, y = _binary_data(10, rng)
    w = rng.uniform(0.5, 2.0, size=10) if weighted else None
    net = _small_net()
    full_loss, _ = net.loss_and_gradients(X, y, w)
    # A learning rate so small that no parameter moves: every batch is evaluated at the
    # same weights, and the weighted mean of the batch losses (batches of 3, 3, 3, 1 rows,
    # each the weighted mean over its rows) must equal the loss on all rows.
    history = dp.train(
        net,
        *to_xp(xp, X, y),
        sample_weight=to_xp(xp, w),
        optimizer=dp.SGD(learning_rate=1e-300),
        batch_size=3,
        max_iter=2,
    )
    assert history.loss == pytest.approx([full_loss, full_loss], rel=1e-13)


def test_batches_follow_the_seeded_permutation(rng):
    X, y = _binary_data(7, rng)
    net = _small_net()
    history = dp.train(
        net, X, y, optimizer=dp.SGD(learning_rate=0.5), batch_size=3, max_iter=1, random_state=4
    )
    # replay: the generator seeded with random_state draws one permutation per epoch
    replay = _small_net()
    order = np.random.default_rng(4).permutation(7)
    losses, weights = [], []
    for start in range(0, 7, 3):
        idx = order[start : start + 3]
        loss, grads = replay.loss_and_gradients(X[idx], y[idx])
        losses.append(loss)
        weights.append(idx.size)
        for layer, (d_weights, d_bias) in zip(replay.layers, grads, strict=True):
            layer.weights = layer.weights - 0.5 * d_weights
            layer.bias = layer.bias - 0.5 * d_bias
    assert history.loss[0] == pytest.approx(np.average(losses, weights=weights), rel=1e-14)
    for p, q in zip(net.parameters, replay.parameters, strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("n", [30, 250])
def test_defaults_are_adam_1e_3_in_batches_of_min_200_n(rng, n):
    X, y = _binary_data(n, rng)
    default, explicit = _small_net(), _small_net()
    h_default = dp.train(default, X, y, max_iter=3, random_state=1)
    h_explicit = dp.train(
        explicit,
        X,
        y,
        optimizer=dp.Adam(learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8),
        batch_size=min(200, n),
        max_iter=3,
        random_state=1,
    )
    assert h_default == h_explicit
    for a, b in zip(default.parameters, explicit.parameters, strict=True):
        np.testing.assert_array_equal(a, b)
    assert h_default.learning_rate == [1e-3] * 3


def test_a_given_optimizer_still_takes_the_full_batch(rng):
    X, y = _binary_data(250, rng)
    a, b = _small_net(), _small_net()
    h_a = dp.train(a, X, y, optimizer=dp.SGD(learning_rate=0.5), max_iter=4)
    h_b = dp.train(b, X, y, optimizer=dp.SGD(learning_rate=0.5), batch_size=None, max_iter=4)
    assert h_a == h_b
    for pa, pb in zip(a.parameters, b.parameters, strict=True):
        np.testing.assert_array_equal(pa, pb)
    # one full-batch step: the loss recorded for iteration 1 is the loss at the start
    assert h_a.loss[0] == pytest.approx(_small_net().loss_and_gradients(X, y)[0], rel=1e-12)


def test_default_max_iter_is_200(rng):
    X, y = _binary_data(20, rng)
    history = dp.train(_small_net(), X, y)
    assert (history.n_iter, history.stop_reason) == (200, "max_iter")


@pytest.mark.parametrize("bad", ["full", "AUTO", 0, 2.5])
def test_bad_batch_size_names_the_argument(rng, bad):
    X, y = _binary_data(10, rng)
    with pytest.raises((TypeError, ValueError), match="batch_size"):
        dp.train(_small_net(), X, y, batch_size=bad, max_iter=1)


def test_shuffle_false_takes_the_batches_in_row_order(rng):
    X, y = _binary_data(7, rng)
    net = _small_net()
    history = dp.train(
        net, X, y, optimizer=dp.SGD(learning_rate=0.5), batch_size=3, shuffle=False, max_iter=2
    )
    replay = _small_net()
    epoch_losses = []
    for _ in range(2):
        losses, sizes = [], []
        for start in range(0, 7, 3):
            idx = np.arange(start, min(start + 3, 7))
            loss, grads = replay.loss_and_gradients(X[idx], y[idx])
            losses.append(loss)
            sizes.append(idx.size)
            for layer, (d_weights, d_bias) in zip(replay.layers, grads, strict=True):
                layer.weights = layer.weights - 0.5 * d_weights
                layer.bias = layer.bias - 0.5 * d_bias
        epoch_losses.append(np.average(losses, weights=sizes))
    assert history.loss == pytest.approx(epoch_losses, rel=1e-14)
    for p, q in zip(net.parameters, replay.parameters, strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-14, atol=1e-15)


# -- determinism -----------------------------------------------------------------------


_FIRST_ORDER = {
    "sgd": lambda: dp.SGD(0.1),
    "momentum": lambda: dp.SGD(0.1, momentum=0.9),
    "nesterov": lambda: dp.SGD(0.1, momentum=0.9, nesterov=True),
    "adamw": lambda: dp.Adam(0.01, weight_decay=0.01),
}
_RUNS = [(name, batch) for name in _FIRST_ORDER for batch in (None, 7, 16)] + [("lbfgs", None)]


@pytest.mark.parametrize(("name", "batch_size"), _RUNS)
def test_same_seed_gives_bit_identical_history_and_weights(name, batch_size):
    is_lbfgs = name == "lbfgs"
    make_optimizer = dp.LBFGS if is_lbfgs else _FIRST_ORDER[name]
    data_rng = np.random.default_rng(1)
    X, y = _binary_data(40, data_rng)

    def run():
        dropout = 0.0 if is_lbfgs else 0.3
        net = _small_net(dropout=dropout)
        history = dp.train(
            net,
            X,
            y,
            optimizer=make_optimizer(),
            batch_size=batch_size,
            max_iter=8,
            validation_fraction=0.25,
            random_state=3,
        )
        return history, [np.array(p) for p in net.parameters]

    (h1, p1), (h2, p2) = run(), run()
    assert h1.loss == h2.loss and h1.val_loss == h2.val_loss and h1.n_iter > 1
    assert h1.stop_reason == h2.stop_reason
    for a, b in zip(p1, p2, strict=True):
        assert np.array_equal(a, b)


# -- validation --------------------------------------------------------------------------


def test_val_loss_is_the_validation_loss_of_each_epochs_weights(rng):
    X, y = _binary_data(30, rng)
    X_val, y_val = _binary_data(12, rng)
    w_val = rng.uniform(0.1, 3.0, size=12)
    snapshots = []

    def snapshot(iteration, history, net):
        snapshots.append([np.array(p) for p in net.parameters])

    net = _small_net()
    history = dp.train(
        net,
        X,
        y,
        optimizer=dp.Adam(0.05),
        batch_size=8,
        max_iter=4,
        validation_data=(X_val, y_val, w_val),
        callbacks=snapshot,
    )
    assert len(history.val_loss) == 4 == len(snapshots)
    for params, val_loss in zip(snapshots, history.val_loss, strict=True):
        a = 1.0 / (1.0 + np.exp(-(np.tanh(X_val @ params[0] + params[1]) @ params[2] + params[3])))
        a = a[:, 0]
        losses = -(y_val * np.log(a) + (1 - y_val) * np.log(1 - a))
        assert val_loss == pytest.approx(np.sum(w_val * losses) / np.sum(w_val), rel=1e-12)


def test_validation_fraction_holds_out_a_stratified_share(rng):
    labels = np.array([0] * 30 + [1] * 10)
    train_idx, val_idx = stratified_split(labels, 40, 0.2, rng)
    assert np.bincount(labels[val_idx]).tolist() == [6, 2]
    assert np.bincount(labels[train_idx]).tolist() == [24, 8]
    assert sorted(np.concatenate([train_idx, val_idx]).tolist()) == list(range(40))
    train_idx, val_idx = stratified_split(None, 40, 0.25, rng)
    assert (train_idx.size, val_idx.size) == (30, 10)
    with pytest.raises(ValueError, match="leaves 0 validation"):
        stratified_split(None, 3, 0.1, rng)


def test_class_labels_from_targets():
    assert class_labels(np.array([[0.0], [1.0], [1.0]])).tolist() == [0, 1, 1]
    one_hot = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    assert class_labels(one_hot).tolist() == [2, 0]
    assert class_labels(np.array([[0.5], [1.0]])) is None  # probabilities
    assert class_labels(np.array([[1.0, 1.0], [0.0, 1.0]])) is None  # multi-label


def test_validation_fraction_trains_on_the_rest(rng):
    X, y = _binary_data(40, rng)
    history = dp.train(_small_net(), X, y, max_iter=3, validation_fraction=0.25, random_state=0)
    train_idx, _ = stratified_split(class_labels(y[:, None]), 40, 0.25, np.random.default_rng(0))
    # the same first epoch on the training part alone gives the same loss
    reference = dp.train(_small_net(), X[train_idx], y[train_idx], max_iter=1)
    assert history.loss[0] == reference.loss[0]
    assert len(history.val_loss) == 3


def test_early_stopping_restores_the_best_validation_weights(rng):
    # 20 noisy training rows, 50 hidden units: the network soon memorises the noise and
    # the loss on fresh rows from the same distribution rises again.
    X, y = _binary_data(20, rng, n_features=10)
    X_val, y_val = _binary_data(200, rng, n_features=10)
    net = dp.Network([dp.Dense(10, 50, "tanh"), dp.Dense(50, 1)], random_state=0)
    history = dp.train(
        net,
        X,
        y,
        optimizer=dp.Adam(0.01),
        max_iter=500,
        validation_data=(X_val, y_val),
        early_stopping=True,
        n_iter_no_change=15,
    )
    best = int(np.argmin(history.val_loss)) + 1
    assert history.stop_reason == "early_stopping"
    assert history.best_iteration == best
    assert history.n_iter == best + 15  # 15 epochs without improvement, then stop
    assert history.val_loss[-1] > min(history.val_loss) + 0.1  # really overfitting
    assert history.loss[-1] < history.loss[best - 1]  # while the training loss falls
    val_loss_now, _ = net.loss_and_gradients(X_val, y_val)
    assert val_loss_now == pytest.approx(min(history.val_loss), rel=1e-12)


def test_early_stopping_tolerance_counts_small_gains_as_none(rng):
    X, y = _binary_data(30, rng)
    history = dp.train(
        _small_net(),
        X,
        y,
        optimizer=dp.SGD(0.01),
        max_iter=100,
        validation_data=(X, y),
        early_stopping=True,
        tol=10.0,
        n_iter_no_change=3,
    )
    # no gain is ever >= 10: stop after 3 epochs past the first; the best weights are
    # still the lowest validation loss (the last, as the loss keeps falling)
    assert (history.stop_reason, history.n_iter, history.best_iteration) == (
        "early_stopping",
        4,
        4,
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"early_stopping": True}, ValueError, "needs validation_data or validation_fraction"),
        (
            {"validation_fraction": 0.2, "validation_data": "x"},
            ValueError,
            "not both",
        ),
        ({"validation_fraction": 1.0}, ValueError, "validation_fraction must be < 1"),
        ({"validation_fraction": 0.0}, ValueError, "validation_fraction must be > 0"),
        ({"validation_data": ([[1.0]],)}, TypeError, "validation_data must be a tuple"),
        ({"early_stopping": 1}, TypeError, "early_stopping must be a bool"),
        ({"callbacks": [print, 3]}, TypeError, r"callbacks\[1\] must be callable"),
        ({"callbacks": "print"}, TypeError, "callbacks must be a callable"),
    ],
)
def test_bad_training_arguments(rng, kwargs, error, message):
    X, y = _binary_data(10, rng)
    with pytest.raises(error, match=message):
        dp.train(_small_net(), X, y, **kwargs)


def test_bad_validation_data_is_named(rng):
    X, y = _binary_data(10, rng)
    with pytest.raises(ValueError, match="validation_data: X has 3 features"):
        dp.train(_small_net(), X, y, validation_data=(np.ones((4, 3)), np.ones(4)))


# -- callbacks -------------------------------------------------------------------------


def test_callback_sees_each_epoch_and_can_stop(rng):
    X, y = _binary_data(20, rng)
    seen = []

    def watch(iteration, history, net):
        seen.append((iteration, history.n_iter, np.array(net.layers[0].weights)))
        return iteration == 3

    net = _small_net()
    history = dp.train(net, X, y, batch_size=5, max_iter=10, callbacks=[watch])
    assert history.stop_reason == "callback" and history.n_iter == 3
    assert [(i, n) for i, n, _ in seen] == [(1, 1), (2, 2), (3, 3)]
    assert np.array_equal(seen[-1][2], net.layers[0].weights)
    assert not np.array_equal(seen[0][2], seen[1][2])


# -- class weights ---------------------------------------------------------------------


def test_balanced_class_weight_equals_explicit_sample_weights(rng):
    X, y = _binary_data(30, rng)
    y[:20] = 0.0  # unbalanced: mostly zeros
    n_1 = y.sum()
    explicit = np.where(y == 1.0, 30 / (2 * n_1), 30 / (2 * (30 - n_1)))
    w = rng.uniform(0.5, 1.5, size=30)
    a, b = _small_net(), _small_net()
    ha = dp.train(a, X, y, sample_weight=w, class_weight="balanced", max_iter=5)
    hb = dp.train(b, X, y, sample_weight=w * explicit, max_iter=5)
    assert ha.loss == pytest.approx(hb.loss, rel=1e-13)
    np.testing.assert_allclose(a.parameters[0], b.parameters[0], rtol=1e-13)


def test_class_weight_mapping_for_one_hot_targets_and_validation(rng):
    X = rng.normal(size=(12, 4))
    classes = np.arange(12) % 3
    Y = np.eye(3)[classes]
    net = dp.Network([dp.Dense(4, 3, "softmax")], loss="cross_entropy", random_state=0)
    mapping = {0: 2.0, 2: 0.5}  # class 1 keeps weight 1
    factors = np.array([2.0, 1.0, 0.5])[classes]
    history = dp.train(
        net,
        X,
        Y,
        class_weight=mapping,
        validation_data=(X, Y),
        max_iter=1,
        optimizer=dp.SGD(1e-300),
    )
    reference = dp.Network([dp.Dense(4, 3, "softmax")], loss="cross_entropy", random_state=0)
    expected, _ = reference.loss_and_gradients(X, Y, sample_weight=factors)
    assert history.loss[0] == pytest.approx(expected, rel=1e-13)
    assert history.val_loss[0] == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize(
    ("class_weight", "y", "error", "message"),
    [
        ("balanced", np.linspace(0, 1, 6), ValueError, "class_weight needs class labels"),
        ("auto", np.array([0.0, 1.0] * 3), ValueError, "'balanced' or a mapping"),
        ({2: 1.0}, np.array([0.0, 1.0] * 3), ValueError, "y has classes 0..1"),
        ({"a": 1.0}, np.array([0.0, 1.0] * 3), TypeError, "keys must be class indices"),
        ({0: -1.0}, np.array([0.0, 1.0] * 3), ValueError, r"class_weight\[0\] must be >= 0"),
        ([1.0, 2.0], np.array([0.0, 1.0] * 3), TypeError, "'balanced' or a mapping"),
    ],
)
def test_bad_class_weight(rng, class_weight, y, error, message):
    X = rng.normal(size=(6, 4))
    with pytest.raises(error, match=message):
        dp.train(_small_net(), X, y, class_weight=class_weight)


# -- divergence --------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [None, 4])
def test_divergence_stops_warns_and_keeps_finite_weights(batch_size):
    X = np.array([[1.0], [2.0], [3.0], [4.0]]) * 100.0
    y = np.array([1.0, 2.0, 3.0, 4.0])
    net = dp.Network([dp.Dense(1, 1, "identity")], loss="squared_error", random_state=0)
    with (
        np.errstate(over="ignore", invalid="ignore"),  # NumPy's own overflow warnings
        pytest.warns(dp.DivergenceWarning, match=r"iteration \d+.*learning_rate=10\.0"),
    ):
        history = dp.train(
            net, X, y, optimizer=dp.SGD(learning_rate=10.0), batch_size=batch_size, max_iter=500
        )
    assert history.stop_reason == "diverged"
    assert all(np.isfinite(history.loss))
    assert np.all(np.isfinite(net.layers[0].weights))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isfinite(net.loss_and_gradients(X, y)[0])


# -- accuracy on real data ----------------------------------------------------------


def _standardised_split(X, y):
    from sklearn.model_selection import train_test_split

    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    std[std == 0.0] = 1.0
    return (X_train - mean) / std, (X_test - mean) / std, y_train, y_test


def test_digits_reach_97_5_percent_with_adam():
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = _standardised_split(X, y)
    net = dp.Network(
        [dp.Dense(64, 64, "relu"), dp.Dense(64, 10, "softmax")],
        loss="cross_entropy",
        alpha=0.1,
        random_state=0,
    )
    dp.train(net, X_train, np.eye(10)[y_train], optimizer=dp.Adam(1e-3), batch_size=32, max_iter=30)
    accuracy = np.mean(np.argmax(net.forward(X_test), axis=1) == y_test)
    assert accuracy >= 0.975


def test_breast_cancer_reaches_96_5_percent_with_adam():
    pytest.importorskip("sklearn")
    from deltaprop.datasets import load_breast_cancer

    X, y, _, _ = load_breast_cancer()
    X_train, X_test, y_train, y_test = _standardised_split(X, y)
    net = dp.Network([dp.Dense(30, 64, "relu"), dp.Dense(64, 1)], alpha=1.0, random_state=0)
    dp.train(net, X_train, y_train, optimizer=dp.Adam(1e-3), batch_size=32, max_iter=50)
    accuracy = np.mean((net.forward(X_test)[:, 0] > 0.5) == y_test)
    assert accuracy >= 0.965


def test_every_feature_runs_on_each_array_library(xp):
    data_rng = np.random.default_rng(5)
    X = data_rng.normal(size=(30, 4))
    Y = np.eye(3)[np.arange(30) % 3]

    def run(X, Y):
        net = dp.Network(
            [dp.Dense(4, 6, "relu", dropout=0.2), dp.Dense(6, 3, "softmax")],
            loss="cross_entropy",
            random_state=0,
        )
        history = dp.train(
            net,
            X,
            Y,
            optimizer=dp.Adam(0.01),
            batch_size=8,
            max_iter=6,
            schedule=dp.schedules.ExponentialDecay(0.9),
            validation_fraction=0.2,
            early_stopping=True,
            n_iter_no_change=3,
            class_weight={0: 2.0},
            random_state=1,
        )
        return history, [np.asarray(p) for p in net.parameters]

    h_xp, p_xp = run(*to_xp(xp, X, Y))
    h_np, p_np = run(X, Y)
    np.testing.assert_allclose(h_xp.loss, h_np.loss, rtol=1e-12)
    np.testing.assert_allclose(h_xp.val_loss, h_np.val_loss, rtol=1e-12)
    assert h_xp.best_iteration == h_np.best_iteration
    for a, b in zip(p_xp, p_np, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
