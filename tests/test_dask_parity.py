"""Dask parity: every option of training gives the in-memory result through Dask.

The reference is always the in-memory fit on the same rows (validation rows included):
full-batch solvers must agree to 1e-10 (relative), L-BFGS to 1e-8; local SGD, which has
no in-memory twin, must be deterministic and resume exactly. Options that cannot be
exact are refused with a message saying why (tests at the end).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.optim.schedules import InverseScaling, ReduceOnPlateau

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
pytest.importorskip("scipy")

from deltaprop.parallel import held_out_blocks  # noqa: E402
from deltaprop.parallel import train as parallel_train  # noqa: E402

CHUNKS = (30, 11, 40, 20)  # unequal row blocks, 101 rows
STARTS = np.cumsum((0, *CHUNKS))


@pytest.fixture(scope="module")
def client(dask_client):
    return dask_client


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(101, 3))
    y = (X[:, 0] * X[:, 1] + 0.3 * rng.normal(size=101) > 0).astype(float)
    w = rng.uniform(0.1, 2.0, size=101)
    return X, y, w


def _dask(*arrays, chunks=CHUNKS):
    return [None if a is None else da.from_array(a, chunks=(chunks, *a.shape[1:])) for a in arrays]


def _net(dropout=0.0, n_out=1):
    """A classifier: a sigmoid unit or a softmax over ``n_out`` classes."""
    out, loss = ("sigmoid", "binary_cross_entropy") if n_out == 1 else ("softmax", "cross_entropy")
    layers = [dp.Dense(3, 5, "tanh", dropout=dropout), dp.Dense(5, n_out, out)]
    return dp.Network(layers, loss=loss, alpha=0.01, random_state=0)


def _assert_same_run(on_dask, in_memory, history_dask, history_memory, rtol=1e-10):
    assert history_dask.stop_reason == history_memory.stop_reason
    assert history_dask.n_iter == history_memory.n_iter
    assert history_dask.best_iteration == history_memory.best_iteration
    np.testing.assert_allclose(history_dask.loss, history_memory.loss, rtol=rtol, atol=0)
    np.testing.assert_allclose(history_dask.val_loss, history_memory.val_loss, rtol=rtol, atol=0)
    assert history_dask.learning_rate == pytest.approx(history_memory.learning_rate, rel=1e-15)
    for a, b in zip(on_dask.parameters, in_memory.parameters, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-14)


# -- validation, early stopping, schedules ----------------------------------------------
def test_early_stopping_on_validation_data_equals_the_local_fit(client, data):
    X, y, w = data
    fit, held = slice(0, 71), slice(71, 101)  # validation rows = the last two blocks
    kwargs = {"optimizer": dp.SGD(2.0), "max_iter": 60, "early_stopping": True}
    kwargs["n_iter_no_change"] = 3
    local, remote = _net(), _net()
    expected = dp.train(
        local,
        X[fit],
        y[fit],
        sample_weight=w[fit],
        validation_data=(X[held], y[held], w[held]),
        **kwargs,
    )
    Xd, yd, wd = _dask(X, y, w)
    history = parallel_train(
        remote,
        Xd[:71],
        yd[:71],
        sample_weight=wd[:71],
        validation_data=(Xd[71:], yd[71:], wd[71:]),
        client=client,
        **kwargs,
    )
    assert history.stop_reason == "early_stopping" and history.n_iter < 60  # it has teeth
    assert history.best_iteration < history.n_iter  # the best weights were restored
    _assert_same_run(remote, local, history, expected)


def test_validation_fraction_holds_out_whole_blocks_drawn_by_the_seed(client, data):
    X, y, w = data
    seed, fraction = 3, 0.3
    # the documented rule: round(0.3 * 4) = 1 block, the first of a seeded permutation
    # (after the gd run draws nothing else from the generator)
    held = np.sort(np.random.default_rng(seed).permutation(4)[:1])
    assert held.tolist() == held_out_blocks(4, fraction, np.random.default_rng(seed))
    rows = np.concatenate([np.arange(STARTS[i], STARTS[i + 1]) for i in held])
    kept = np.setdiff1d(np.arange(101), rows)
    schedule = ReduceOnPlateau(factor=0.5, patience=2, threshold=0.05, monitor="val_loss")
    local, remote = _net(), _net()
    expected = dp.train(
        local,
        X[kept],
        y[kept],
        sample_weight=w[kept],
        optimizer=dp.SGD(1.0),
        max_iter=25,
        validation_data=(X[rows], y[rows], w[rows]),
        schedule=schedule,
        tol=1e-3,
    )
    Xd, yd, wd = _dask(X, y, w)
    schedule = ReduceOnPlateau(factor=0.5, patience=2, threshold=0.05, monitor="val_loss")
    history = parallel_train(
        remote,
        Xd,
        yd,
        sample_weight=wd,
        optimizer=dp.SGD(1.0),
        max_iter=25,
        validation_fraction=fraction,
        schedule=schedule,
        tol=1e-3,
        random_state=seed,
        client=client,
    )
    assert len(set(history.learning_rate)) > 1  # the schedule did reduce the rate
    _assert_same_run(remote, local, history, expected)


def test_inverse_scaling_and_class_weight_equal_the_local_fit(client, data):
    X, _, w = data
    Y = np.eye(3)[np.digitize(X[:, 2], [-0.5, 0.5])]  # one-hot, three classes
    for class_weight in ("balanced", {0: 2.0, 2: 0.25}):
        local, remote = _net(n_out=3), _net(n_out=3)
        expected = dp.train(
            local,
            X,
            Y,
            sample_weight=w,
            optimizer=dp.SGD(0.5, momentum=0.5),
            max_iter=15,
            schedule=InverseScaling(power_t=0.5),
            class_weight=class_weight,
        )
        Xd, Yd, wd = _dask(X, Y, w)
        history = parallel_train(
            remote,
            Xd,
            Yd,
            sample_weight=wd,
            optimizer=dp.SGD(0.5, momentum=0.5),
            max_iter=15,
            schedule=InverseScaling(power_t=0.5),
            class_weight=class_weight,
            client=client,
        )
        _assert_same_run(remote, local, history, expected)
    # an independent check of "balanced": n / (n_classes * n_c) in the first loss
    counts = Y.sum(axis=0)
    factors = 101 / (3 * counts)
    net = _net(n_out=3)
    weights = w * (Y @ factors)
    losses = -np.sum(Y * np.log(net.forward(X)), axis=1)
    penalty = 0.5 * 0.01 * sum(np.sum(W * W) for W in net.parameters[0::2]) / weights.sum()
    history = parallel_train(
        net,
        *_dask(X, Y),
        sample_weight=_dask(w)[0],
        class_weight="balanced",
        learning_rate=0.1,
        max_iter=1,
        client=client,
    )
    assert history.loss[0] == pytest.approx(np.sum(weights * losses) / weights.sum() + penalty)


def test_multilabel_targets_and_callbacks(client, data):
    X, _, w = data
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0]).astype(float)
    seen = {"dask": [], "memory": []}

    def recorder(key):
        def callback(iteration, history, net):
            seen[key].append(np.array(net.parameters[0]))
            return iteration == 7  # stop after 7 iterations

        return callback

    def multilabel_net():  # one logistic unit per label, binary cross-entropy
        layers = [dp.Dense(3, 5, "tanh"), dp.Dense(5, 2, "sigmoid")]
        return dp.Network(layers, loss="binary_cross_entropy", alpha=0.01, random_state=0)

    local, remote = multilabel_net(), multilabel_net()
    expected = dp.train(
        local,
        X,
        Y,
        sample_weight=w,
        optimizer=dp.SGD(0.5),
        max_iter=20,
        callbacks=recorder("memory"),
    )
    history = parallel_train(
        remote,
        *_dask(X, Y),
        sample_weight=_dask(w)[0],
        optimizer=dp.SGD(0.5),
        max_iter=20,
        callbacks=recorder("dask"),
        client=client,
    )
    assert history.stop_reason == "callback" and history.n_iter == 7
    _assert_same_run(remote, local, history, expected)
    for a, b in zip(seen["dask"], seen["memory"], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)


# -- dropout ------------------------------------------------------------------------------
def test_full_batch_dropout_draws_the_masks_of_one_process(client, data):
    """Each block draws its own rows of the masks one process draws for all rows."""
    X, y, w = data
    local, remote = _net(dropout=0.3), _net(dropout=0.3)
    kwargs = {"max_iter": 10, "random_state": 5}
    expected = dp.train(
        local, X, y, sample_weight=w, optimizer=dp.Adam(0.05), batch_size=None, **kwargs
    )
    Xd, yd, wd = _dask(X, y, w)
    history = parallel_train(
        remote, Xd, yd, sample_weight=wd, optimizer=dp.Adam(0.05), client=client, **kwargs
    )
    _assert_same_run(remote, local, history, expected)
    # and the masks matter: without dropout the losses differ
    plain = parallel_train(
        _net(), Xd, yd, sample_weight=wd, optimizer=dp.Adam(0.05), client=client, **kwargs
    )
    assert not np.allclose(plain.loss, history.loss)


def test_local_sgd_dropout_is_deterministic(client, data):
    X, y, w = data
    kwargs = {"batch_size": 8, "local_steps": 3, "max_iter": 4, "random_state": 1}
    runs = []
    for dropout in (0.5, 0.5, 0.0):
        net = _net(dropout=dropout)
        history = parallel_train(
            net,
            *_dask(X, y, w)[:2],
            sample_weight=_dask(w)[0],
            optimizer=dp.SGD(0.3),
            client=client,
            **kwargs,
        )
        runs.append((history.loss, net.parameters))
    assert runs[0][0] == runs[1][0]
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][1], runs[1][1], strict=True))
    assert runs[0][0] != runs[2][0]


# -- checkpoints and resume ------------------------------------------------------------------
def _run_with_checkpoint(tmp_path, make_net, run, stop_at, max_iter):
    path = tmp_path / "run.ckpt"
    run(make_net(), max_iter=stop_at, callbacks=[dp.Checkpoint(path, every=stop_at)])
    assert dp.load(path).iteration == stop_at
    resumed = make_net()
    return resumed, run(resumed, max_iter=max_iter, resume=path, optimizer=None)


def test_lbfgs_resumed_on_dask_equals_an_uninterrupted_local_run(client, data, tmp_path):
    X, y, w = data
    local = _net()
    expected = dp.train(local, X, y, sample_weight=w, optimizer=dp.LBFGS(tol=1e-12), max_iter=40)
    Xd, yd, wd = _dask(X, y, w)

    def run(net, optimizer=dp.LBFGS(tol=1e-12), **kwargs):  # noqa: B008
        return parallel_train(
            net, Xd, yd, sample_weight=wd, optimizer=optimizer, client=client, **kwargs
        )

    resumed, history = _run_with_checkpoint(tmp_path, _net, run, 15, 40)
    assert expected.stop_reason == "max_iter"  # 40 iterations: the curvature pairs matter
    _assert_same_run(resumed, local, history, expected, rtol=1e-8)


def test_lbfgs_resumed_in_memory_is_bit_identical(data, tmp_path):
    X, y, w = data
    straight = _net()
    expected = dp.train(straight, X, y, sample_weight=w, optimizer=dp.LBFGS(tol=1e-12))

    def run(net, optimizer=dp.LBFGS(tol=1e-12), **kwargs):  # noqa: B008
        return dp.train(net, X, y, sample_weight=w, optimizer=optimizer, **kwargs)

    resumed, history = _run_with_checkpoint(tmp_path, _net, run, 12, 200)
    assert history == expected
    assert all(
        np.array_equal(a, b) for a, b in zip(resumed.parameters, straight.parameters, strict=True)
    )
    # a different memory cannot continue the saved curvature pairs
    with pytest.raises(ValueError, match="memory=10 curvature pairs"):
        run(_net(), optimizer=dp.LBFGS(memory=5), resume=tmp_path / "run.ckpt")


def test_lbfgs_stepping_is_scipy_minimize_bit_for_bit(data):
    """The driver's own L-BFGS-B loop takes SciPy's steps (same iterates, same counts)."""
    from deltaprop.core.flat import flatten, unflatten
    from deltaprop.training.lbfgs import LbfgsRun, can_checkpoint_lbfgs

    if not can_checkpoint_lbfgs():
        pytest.skip("needs SciPy >= 1.15")
    X, y, w = data
    net = _net()
    shapes = [p.shape for p in net.parameters]

    def fun(x):
        loss, grads = net.objective(unflatten(x, shapes), X, y[:, None], w, w.sum(), xp=np)
        return float(loss), flatten(grads, dtype=np.float64)

    x0 = flatten(net.parameters, dtype=np.float64)
    for max_iter, max_fun in ((5, 15000), (300, 60)):
        optimizer = dp.LBFGS(tol=1e-12, max_fun=max_fun)
        expected = optimizer.minimize(fun, x0, max_iter=max_iter)
        got = LbfgsRun(optimizer, fun, x0, max_iter=max_iter).run(lambda x: None)
        assert np.array_equal(got.x, expected.x)
        assert (got.nit, got.nfev, got.status) == (expected.nit, expected.nfev, expected.status)


def test_gradient_descent_with_dropout_resumed_on_dask(client, data, tmp_path):
    X, y, w = data
    kwargs = {"random_state": 4}
    local = _net(dropout=0.2)
    expected = dp.train(
        local,
        X,
        y,
        sample_weight=w,
        optimizer=dp.Adam(0.05),
        batch_size=None,
        max_iter=20,
        **kwargs,
    )
    Xd, yd, wd = _dask(X, y, w)

    def run(net, optimizer=dp.Adam(0.05), **more):  # noqa: B008
        return parallel_train(
            net, Xd, yd, sample_weight=wd, optimizer=optimizer, client=client, **kwargs, **more
        )

    resumed, history = _run_with_checkpoint(tmp_path, lambda: _net(dropout=0.2), run, 8, 20)
    _assert_same_run(resumed, local, history, expected)


def test_local_sgd_resumed_is_bit_identical(client, data, tmp_path):
    X, y, w = data
    Xd, yd, wd = _dask(X, y, w)

    def run(net, optimizer=None, **more):
        optimizer = dp.Adam(0.05) if optimizer is None and "resume" not in more else optimizer
        return parallel_train(
            net,
            Xd,
            yd,
            sample_weight=wd,
            optimizer=optimizer,
            batch_size=16,
            local_steps=2,
            random_state=2,
            client=client,
            **more,
        )

    straight = _net()
    expected = run(straight, max_iter=9)
    resumed, history = _run_with_checkpoint(tmp_path, _net, run, 4, 9)
    assert history == expected
    assert all(
        np.array_equal(a, b) for a, b in zip(resumed.parameters, straight.parameters, strict=True)
    )


# -- the estimators --------------------------------------------------------------------------
def test_resume_on_dask_refuses_changed_options_or_data(client, data, tmp_path):
    """A Dask checkpoint records the options and a fingerprint of the row blocks."""
    X, y, w = data
    path = tmp_path / "run.ckpt"

    def run(X, optimizer, **more):
        Xd, yd, wd = _dask(X, y, w)
        return parallel_train(
            _net(), Xd, yd, sample_weight=wd, optimizer=optimizer, client=client, **more
        )

    run(X, dp.SGD(0.1), max_iter=3, callbacks=[dp.Checkpoint(path)])
    with pytest.raises(dp.training.ResumeMismatchError, match=r"learning_rate 0\.1 -> 0\.2"):
        run(X, dp.SGD(0.2), max_iter=6, resume=path)
    changed = X.copy()
    changed[50, 2] += 1e-9
    with pytest.raises(dp.training.ResumeMismatchError, match="the training data changed"):
        run(changed, dp.SGD(0.1), max_iter=6, resume=path)
    assert run(X, dp.SGD(0.1), max_iter=6, resume=path).n_iter == 6


def _fit_quietly(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is small on purpose
        return est.fit(*args, **kwargs)


def _assert_same_fit(on_dask, in_memory, rtol=1e-8):
    assert on_dask.n_iter_ == in_memory.n_iter_
    assert on_dask.stop_reason_ == in_memory.stop_reason_
    np.testing.assert_allclose(on_dask.loss_curve_, in_memory.loss_curve_, rtol=rtol)
    pairs = zip(
        on_dask.coefs_ + on_dask.intercepts_,
        in_memory.coefs_ + in_memory.intercepts_,
        strict=True,
    )
    for a, b in pairs:
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-13)


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "sgd", "learning_rate": "adaptive", "momentum": 0.9, "n_iter_no_change": 2},
        {"solver": "gd", "learning_rate": "invscaling", "learning_rate_init": 0.5},
        {"solver": "adam", "dropout": 0.25, "learning_rate_init": 0.05},
    ],
    ids=["adaptive", "invscaling", "dropout"],
)
def test_estimator_schedules_and_dropout_equal_the_in_memory_fit(client, data, params):
    from deltaprop import MLPRegressor

    X, _, w = data
    target = X[:, 0] - 2.0 * X[:, 1] ** 2
    params = {
        "hidden_layer_sizes": (4,),
        "batch_size": 101,
        "max_iter": 25,
        "random_state": 2,
        "learning_rate_init": 0.05,
        **params,
    }
    in_memory = _fit_quietly(MLPRegressor(**params), X, target, sample_weight=w)
    X_d, t_d, w_d = _dask(X, target, w)
    on_dask = _fit_quietly(MLPRegressor(**params), X_d, t_d, sample_weight=w_d)
    _assert_same_fit(on_dask, in_memory, rtol=1e-10)


def test_estimator_multilabel_lbfgs_equals_the_in_memory_fit(client, data):
    from deltaprop import MLPClassifier

    X, _, w = data
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0, X[:, 2] > 1]).astype(int)
    params = {"hidden_layer_sizes": (5,), "solver": "lbfgs", "max_iter": 30, "random_state": 0}
    in_memory = _fit_quietly(MLPClassifier(**params), X, Y, sample_weight=w)
    on_dask = _fit_quietly(MLPClassifier(**params), *_dask(X, Y), sample_weight=_dask(w)[0])
    _assert_same_fit(on_dask, in_memory)
    np.testing.assert_array_equal(on_dask.classes_, [0, 1, 2])
    np.testing.assert_array_equal(on_dask.predict(X), in_memory.predict(X))
    with pytest.raises(ValueError, match="class_weight is not supported for multilabel"):
        MLPClassifier(class_weight="balanced", **params).fit(*_dask(X, Y))


def test_estimator_early_stopping_holds_out_partitions(client, data):
    """The held-out partitions' loss drives early stopping, as deltaprop.train's would."""
    from sklearn.utils import check_random_state

    from deltaprop import MLPClassifier
    from deltaprop.estimators import plan

    X, y, w = data
    params = {"hidden_layer_sizes": (5,), "activation": "tanh", "solver": "gd", "max_iter": 80}
    params |= {"learning_rate_init": 3.0, "early_stopping": True, "validation_fraction": 0.25}
    params |= {"early_stopping_metric": "loss", "n_iter_no_change": 2, "random_state": 3}
    params |= {"tol": 0.0, "alpha": 0.01}
    clf = _fit_quietly(MLPClassifier(**params), *_dask(X, y.astype(int)), sample_weight=_dask(w)[0])
    # the reference: the same initial weights and held-out blocks, trained in memory
    rs = check_random_state(3)
    coefs, intercepts = plan.initial_parameters([3, 5, 1], "tanh", rs, np.float64)
    held = held_out_blocks(4, 0.25, rs)
    rows = np.concatenate([np.arange(STARTS[i], STARTS[i + 1]) for i in held])
    kept = np.setdiff1d(np.arange(101), rows)
    net = plan.network(
        coefs,
        intercepts,
        activation="tanh",
        out_activation="logistic",
        loss="binary_cross_entropy",
        alpha=0.01,
        dropout=0.0,
        dtype=np.float64,
    )
    history = dp.train(
        net,
        X[kept],
        y[kept],
        sample_weight=w[kept],
        optimizer=dp.SGD(3.0),
        max_iter=80,
        validation_data=(X[rows], y[rows], w[rows]),
        early_stopping=True,
        tol=0.0,
        n_iter_no_change=3,
    )
    assert clf.stop_reason_ == history.stop_reason == "early_stopping"
    np.testing.assert_allclose(clf.loss_curve_, history.loss, rtol=1e-10)
    np.testing.assert_allclose(clf.validation_loss_curve_, history.val_loss, rtol=1e-10)
    for a, b in zip(clf.coefs_, net.parameters[0::2], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    assert clf.best_loss_ is None
    # the held-out partitions' accuracy after every epoch, as the in-memory fit keeps it
    assert len(clf.validation_scores_) == history.n_iter
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_estimator_early_stopping_on_the_score_stops_by_the_in_memory_rule(client, data):
    """``early_stopping_metric="score"`` on Dask: scikit-learn's rule on the held-out score.

    The reference scores every epoch's weights (a callback records them) on the held-out
    rows with NumPy, and applies the rule written out here: stop after more than
    ``n_iter_no_change`` epochs in a row scoring below ``best + tol``; keep the best.
    """
    from deltaprop import MLPClassifier

    X, y, w = data
    params = {"hidden_layer_sizes": (5,), "activation": "tanh", "solver": "gd", "max_iter": 60}
    params |= {"learning_rate_init": 1.0, "early_stopping": True, "validation_fraction": 0.25}
    params |= {"early_stopping_metric": "score", "n_iter_no_change": 3, "tol": 1e-4}
    weights = []

    def record(iteration, history, net):
        weights.append([np.array(p) for p in net.parameters])

    est = MLPClassifier(**params, random_state=3, callbacks=[record])
    _fit_quietly(est, *_dask(X, y.astype(int)), sample_weight=_dask(w)[0])
    rows = _held_rows(3, [3, 5, 1])
    scores = [
        _weighted_accuracy((_outputs(p, X[rows], _sigmoid)[:, 0] > 0.5) == y[rows], w[rows])
        for p in weights
    ]
    best, best_epoch, below, stop_epoch = -np.inf, None, 0, None
    for epoch, score in enumerate(scores):
        below = below + 1 if score < best + 1e-4 else 0
        if score > best:
            best, best_epoch = score, epoch
        if below > 3:
            stop_epoch = epoch
            break
    assert stop_epoch is not None and est.n_iter_ == stop_epoch + 1 == len(scores) < 60
    assert est.stop_reason_ == "early_stopping"
    np.testing.assert_allclose(est.validation_scores_, scores, rtol=1e-10, atol=1e-12)
    assert est.best_validation_score_ == pytest.approx(best, rel=1e-10)
    kept = [*est.coefs_, *est.intercepts_]
    expected = [*weights[best_epoch][0::2], *weights[best_epoch][1::2]]
    for a, b in zip(kept, expected, strict=True):
        np.testing.assert_array_equal(a, b)  # the best epoch's weights, not the last's
    # the rule's state is not in checkpoints: resuming is refused, as in memory
    with pytest.raises(ValueError, match="resuming from a checkpoint needs early_stopping_metric"):
        MLPClassifier(**params, random_state=3)._fit(*_dask(X, y.astype(int)), resume="x.ckpt")


def _held_rows(random_state, layer_units):
    """The rows of the blocks the estimator holds out (its generator's draws, in order)."""
    from sklearn.utils import check_random_state

    from deltaprop.estimators import plan

    rs = check_random_state(random_state)
    plan.initial_parameters(layer_units, "tanh", rs, np.float64)
    held = held_out_blocks(4, 0.25, rs)
    return np.concatenate([np.arange(STARTS[i], STARTS[i + 1]) for i in held])


def _outputs(params, X, out):
    """A tanh network's outputs, written out: ``out`` is the output layer's activation."""
    a = X
    for i in range(0, len(params), 2):
        z = a @ params[i] + params[i + 1]
        a = out(z) if i == len(params) - 2 else np.tanh(z)
    return a


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _weighted_accuracy(right, w):
    return float(np.sum(w * right) / np.sum(w))


def _r2(Y, P, w):
    mean = np.sum(w[:, None] * Y, axis=0) / np.sum(w)
    ss_tot = np.sum(w[:, None] * (Y - mean) ** 2, axis=0)
    ss_res = np.sum(w[:, None] * (Y - P) ** 2, axis=0)
    return float(np.mean(1.0 - ss_res / ss_tot))


@pytest.mark.parametrize("case", ["binary", "multiclass+class_weight", "multilabel", "regression"])
def test_estimator_validation_scores_are_the_held_out_blocks_score(client, data, case, capsys):
    """``validation_scores_`` on Dask: accuracy or R^2 of the held-out partitions each epoch.

    The reference scores the weights of every epoch (a callback records them) on the
    held-out rows with NumPy, written out here.
    """
    from deltaprop import MLPClassifier, MLPRegressor

    X, y, w = data
    params = {"hidden_layer_sizes": (5,), "activation": "tanh", "solver": "gd", "max_iter": 6}
    params |= {"learning_rate_init": 1.0, "early_stopping": True, "validation_fraction": 0.25}
    params |= {"early_stopping_metric": "loss", "random_state": 3, "verbose": True}
    labels = np.digitize(X[:, 0] + 0.5 * X[:, 1], [-0.5, 0.5])  # 3 classes
    targets = {
        "binary": (y.astype(int), _sigmoid, lambda out, t: (out[:, 0] > 0.5) == t),
        "multiclass+class_weight": (
            labels,
            _softmax,
            lambda out, t: np.argmax(out, axis=1) == t,
        ),
        "multilabel": (
            np.column_stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0, X[:, 2] > 0.5]).astype(int),
            _sigmoid,
            lambda out, t: ((out > 0.5) == t).all(axis=1),
        ),
        "regression": (np.column_stack([X[:, 0] - X[:, 1] ** 2, X[:, 2]]), None, None),
    }
    target, out, right = targets[case]
    weights = []

    def record(iteration, history, net):
        weights.append([np.array(p) for p in net.parameters])

    if case == "regression":
        est = MLPRegressor(**params, callbacks=[record])
    else:
        est = MLPClassifier(**params, callbacks=[record])
        if case == "multiclass+class_weight":
            est.set_params(class_weight="balanced")
    _fit_quietly(est, *_dask(X, target), sample_weight=_dask(w)[0])
    n_out = {"binary": 1, "multiclass+class_weight": 3, "multilabel": 3, "regression": 2}[case]
    rows = _held_rows(3, [3, 5, n_out])
    if case == "regression":
        expected = [_r2(target[rows], _outputs(p, X[rows], lambda z: z), w[rows]) for p in weights]
    else:
        expected = [
            _weighted_accuracy(right(_outputs(p, X[rows], out), target[rows]), w[rows])
            for p in weights
        ]
    assert len(expected) == est.n_iter_ == 6
    np.testing.assert_allclose(est.validation_scores_, expected, rtol=1e-10, atol=1e-12)
    assert est.best_validation_score_ == max(est.validation_scores_)
    printed = capsys.readouterr().out
    assert printed.count("Validation score: ") == 6
    assert f"Validation score: {est.validation_scores_[-1]:f}" in printed


def test_a_validation_score_needs_validation_rows_and_its_methods(client, data):
    X, y, _ = data

    class Share:
        def sums(self, y, output, w):
            return np.array([float(len(y))])

        def value(self, sums):
            return float(sum(s[0] for s in sums))

    with pytest.raises(ValueError, match="give validation_data or validation_fraction"):
        parallel_train(_net(), *_dask(X, y), client=client, validation_score=Share())
    with pytest.raises(TypeError, match=r"methods sums\(y, output, w\) and value\(sums\)"):
        parallel_train(
            _net(), *_dask(X, y), client=client, validation_fraction=0.25, validation_score=len
        )
    # the validation_data's rows, given: 101 rows in each epoch's sums
    history = parallel_train(
        _net(),
        *_dask(X, y),
        client=client,
        max_iter=2,
        validation_data=(X, y),
        validation_score=Share(),
    )
    assert history.val_score == [101.0, 101.0]


def test_a_score_added_on_resume_leaves_the_earlier_epochs_unknown(client, data, tmp_path):
    X, y, _ = data
    path = tmp_path / "run.ckpt"
    options = {"client": client, "validation_fraction": 0.25, "optimizer": dp.SGD(0.5)}
    parallel_train(_net(), *_dask(X, y), max_iter=2, callbacks=[dp.Checkpoint(path)], **options)

    class Rows:
        def sums(self, y, output, w):
            return np.array([float(len(y))])

        def value(self, sums):
            return float(sum(s[0] for s in sums))

    again = tmp_path / "again.ckpt"
    history = parallel_train(
        _net(),
        *_dask(X, y),
        max_iter=4,
        resume=path,
        validation_score=Rows(),
        callbacks=[dp.Checkpoint(again)],
        **{**options, "optimizer": None},
    )
    assert np.isnan(history.val_score[:2]).all()
    assert history.val_score[2] == history.val_score[3] and history.val_score[2] in CHUNKS
    resumed = parallel_train(_net(), *_dask(X, y), max_iter=5, resume=again, **options)
    assert resumed.n_iter == 5  # the checkpoint with the scores reads back


# -- what cannot be exact is refused, saying why ------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 8, "shuffle": False}, "its mini-batches in a random order"),
        (
            {"optimizer": dp.LBFGS(), "schedule": InverseScaling(power_t=0.5)},
            "LBFGS has no learning rate",
        ),
        ({"validation_fraction": 0.5, "chunks": (101,)}, "holds out whole row blocks"),
    ],
)
def test_refusals_say_why(client, data, kwargs, match):
    X, y, _ = data
    chunks = kwargs.pop("chunks", CHUNKS)
    with pytest.raises(ValueError, match=match):
        parallel_train(_net(), *_dask(X, y, chunks=chunks), client=client, **kwargs)
    with pytest.raises(ValueError, match="LBFGS needs a deterministic loss"):
        parallel_train(_net(dropout=0.1), *_dask(X, y), optimizer=dp.LBFGS(), client=client)
