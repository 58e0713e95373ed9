"""Dask data-parallel training: the same iterates as one process, and local SGD's averaging."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp

from .conftest import run_docs_pages

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

from deltaprop.parallel import flatten, is_dask_collection, unflatten  # noqa: E402
from deltaprop.parallel import train as parallel_train  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs" / "scale.md"

CHUNKS = (30, 11, 40, 20)  # unequal row blocks, 101 rows


@pytest.fixture(scope="module")
def client(dask_client):
    return dask_client


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(101, 3))
    y = (X[:, 0] - 0.5 * X[:, 1] + 0.3 * rng.normal(size=101) > 0).astype(float)
    w = rng.uniform(0.1, 2.0, size=101)
    return X, y, w


def _dask(X, y, w):
    # y and w chunked differently from X on purpose: train aligns them to X's blocks
    return (
        da.from_array(X, chunks=(CHUNKS, 3)),
        da.from_array(y, chunks=17),
        da.from_array(w, chunks=50),
    )


def _seed_net(alpha=0.0):
    layers = [dp.Dense(3, 5, "sigmoid"), dp.Dense(5, 1, "sigmoid")]
    return dp.Network(layers, alpha=alpha, random_state=0)


def _softmax_net():
    return dp.Network(
        [dp.Dense(3, 4, "tanh"), dp.Dense(4, 3, "softmax")],
        loss="cross_entropy",
        alpha=0.05,
        random_state=1,
    )


def _assert_same_parameters(net_a, net_b, rtol=1e-10):
    for a, b in zip(net_a.parameters, net_b.parameters, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=0)


@pytest.mark.parametrize(
    ("make_net", "optimizer"),
    [
        (lambda: _seed_net(alpha=0.1), lambda: dp.SGD(learning_rate=0.5)),
        (_softmax_net, lambda: dp.SGD(learning_rate=0.3, momentum=0.9)),
    ],
)
def test_gradient_descent_matches_single_process(client, data, make_net, optimizer):
    X, y, w = data
    if make_net is _softmax_net:
        y = np.eye(3)[np.digitize(X[:, 2], [-0.5, 0.5])]
    k = 12
    reference, net = make_net(), make_net()
    expected = dp.train(reference, X, y, sample_weight=w, optimizer=optimizer(), max_iter=k)
    history = parallel_train(
        net,
        *_dask(X, y, w)[:2],
        sample_weight=_dask(X, y, w)[2],
        optimizer=optimizer(),
        max_iter=k,
        client=client,
    )
    assert history.n_iter == k and history.stop_reason == "max_iter"
    # every iteration's loss: a block that used stale parameters would show here
    np.testing.assert_allclose(history.loss, expected.loss, rtol=1e-10, atol=0)
    assert len(set(history.loss)) == k  # the losses move, so the comparison has teeth
    _assert_same_parameters(net, reference)


def test_gradient_descent_one_step_is_the_sum_of_block_gradients(client, data):
    X, y, w = data
    alpha, lr = 0.2, 0.7
    net, unpenalised = _seed_net(alpha=alpha), _seed_net(alpha=0.0)
    theta0 = flatten(net.parameters)
    # independent reference: per-block weighted means, recombined with the blocks' weights,
    # plus the L2 term (alpha/2) sum ||W||^2 / sum(w) written out by hand
    total = w.sum()
    loss, grad, start = 0.0, np.zeros_like(theta0), 0
    for n in CHUNKS:
        rows = slice(start, start + n)
        block_loss, block_grads = unpenalised.loss_and_gradients(X[rows], y[rows], w[rows])
        share = w[rows].sum() / total
        loss += share * block_loss
        grad += share * flatten([g for pair in block_grads for g in pair])
        start += n
    weights, biases = net.parameters[0::2], net.parameters[1::2]
    loss += 0.5 * alpha * sum(float(np.sum(W * W)) for W in weights) / total
    grad += flatten(
        [p for W, b in zip(weights, biases, strict=True) for p in (alpha * W / total, 0 * b)]
    )
    Xd, yd, wd = _dask(X, y, w)
    history = parallel_train(
        net, Xd, yd, sample_weight=wd, learning_rate=lr, max_iter=1, client=client
    )
    assert history.loss[0] == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(flatten(net.parameters), theta0 - lr * grad, rtol=1e-12)


def _scipy_lbfgs(net, X, y, w, k):
    """In-process reference: SciPy's L-BFGS-B on Network.loss_and_gradients."""
    from scipy.optimize import minimize

    shapes = [p.shape for p in net.parameters]
    losses = []

    def fun(theta):
        net._set_parameters([p.copy() for p in unflatten(theta, shapes)])
        loss, grads = net.loss_and_gradients(X, y, w)
        return loss, flatten([g for pair in grads for g in pair])

    def callback(intermediate_result):
        losses.append(float(intermediate_result.fun))

    # the options of deltaprop.LBFGS()'s defaults
    options = {"maxiter": k, "gtol": 1e-4, "maxcor": 10, "maxfun": 15000}
    result = minimize(
        fun, flatten(net.parameters), jac=True, method="L-BFGS-B", callback=callback,
        options=options,
    )  # fmt: skip
    net._set_parameters([p.copy() for p in unflatten(result.x, shapes)])
    return losses


def test_lbfgs_matches_scipy_in_process(client, data):
    pytest.importorskip("scipy")
    X, y, w = data
    k = 10
    reference, net, core = _seed_net(alpha=0.1), _seed_net(alpha=0.1), _seed_net(alpha=0.1)
    expected = _scipy_lbfgs(reference, X, y, w, k)
    Xd, yd, wd = _dask(X, y, w)
    history = parallel_train(
        net, Xd, yd, sample_weight=wd, solver="lbfgs", max_iter=k, client=client
    )
    assert len(expected) == k and history.stop_reason == "max_iter"
    np.testing.assert_allclose(history.loss, expected, rtol=1e-10, atol=0)
    assert history.loss[-1] < history.loss[0]
    _assert_same_parameters(net, reference)
    # and the same run as deltaprop.train with an LBFGS optimizer
    core_history = dp.train(core, X, y, sample_weight=w, optimizer=dp.LBFGS(), max_iter=k)
    np.testing.assert_allclose(history.loss, core_history.loss, rtol=1e-10, atol=0)
    _assert_same_parameters(net, core)


def test_lbfgs_converges_and_stops_on_target(client, data):
    pytest.importorskip("scipy")
    X, y, w = data
    Xd, yd, wd = _dask(X, y, w)
    net = _seed_net(alpha=0.1)
    history = parallel_train(net, Xd, yd, sample_weight=wd, optimizer=dp.LBFGS(tol=1e-3),
                             max_iter=500, client=client)  # fmt: skip
    assert history.stop_reason == "converged"
    _, grads = net.loss_and_gradients(X, y, w)
    assert max(float(np.max(np.abs(g))) for pair in grads for g in pair) <= 1e-3
    history = parallel_train(_seed_net(), Xd, yd, optimizer=dp.LBFGS(), target_loss=0.5,
                             client=client)  # fmt: skip
    assert history.stop_reason == "target_loss" and history.loss[-1] <= 0.5 < history.loss[-2]


def test_dataframe_input_and_the_current_client(client, data):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y, w = data
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(target=y, weight=w)
    ddf = dd.from_pandas(frame, npartitions=3)
    reference, net = _seed_net(), _seed_net()
    expected = dp.train(reference, X, y, sample_weight=w, optimizer=dp.SGD(0.5), max_iter=4)
    # client=None: the fixture's client is the current one
    history = parallel_train(
        net,
        ddf[["a", "b", "c"]],
        ddf["target"],
        sample_weight=ddf["weight"],
        learning_rate=0.5,
        max_iter=4,
    )
    np.testing.assert_allclose(history.loss, expected.loss, rtol=1e-10)
    _assert_same_parameters(net, reference)


def test_unknown_chunk_sizes_and_float32(client, data):
    X, y, _ = data
    keep = X[:, 0] > -0.5
    Xd = da.from_array(X, chunks=(CHUNKS, 3))
    yd = da.from_array(y, chunks=(CHUNKS,))
    mask = Xd[:, 0] > -0.5  # unknown (NaN) chunk sizes after boolean indexing
    reference, net = _seed_net(), _seed_net()
    expected = dp.train(reference, X[keep], y[keep], optimizer=dp.SGD(0.5), max_iter=3)
    history = parallel_train(net, Xd[mask], yd[mask], learning_rate=0.5, max_iter=3, client=client)
    np.testing.assert_allclose(history.loss, expected.loss, rtol=1e-10)

    net32 = _seed_net()
    parallel_train(net32, Xd.astype(np.float32), yd, max_iter=2, client=client)
    assert all(p.dtype == np.float32 for p in net32.parameters)


def test_stops_like_single_process(client, data):
    X, y, w = data
    Xd, yd, _ = _dask(X, y, w)
    reference = dp.train(_seed_net(), X, y, optimizer=dp.SGD(0.5), max_iter=50, target_loss=0.6)
    history = parallel_train(
        _seed_net(), Xd, yd, learning_rate=0.5, max_iter=50, target_loss=0.6, client=client
    )
    assert history.stop_reason == reference.stop_reason == "target_loss"
    assert history.n_iter == reference.n_iter and history.loss[-1] <= 0.6

    Xs, ys = np.array([[1.0], [2.0]]), np.array([1.0, -1.0])
    net = dp.Network([dp.Dense(1, 1, "identity")], loss="squared_error", random_state=0)
    with pytest.warns(dp.DivergenceWarning, match=r"learning_rate=1e\+30"):
        history = parallel_train(
            net,
            da.from_array(Xs, chunks=1),
            da.from_array(ys, chunks=1),
            learning_rate=1e30,
            max_iter=50,
            client=client,
        )
    assert history.stop_reason == "diverged"
    assert all(np.all(np.isfinite(p)) for p in net.parameters)
    assert net.loss_and_gradients(Xs, ys)[0] == pytest.approx(history.loss[-1], rel=1e-12)


# -- local SGD -----------------------------------------------------------------------------
def _two_blocks(data):
    X, y, w = data
    Xd = da.from_array(X, chunks=((60, 41), 3))
    yd = da.from_array(y, chunks=((60, 41),))
    wd = da.from_array(w, chunks=((60, 41),))
    blocks = [slice(0, 60), slice(60, 101)]
    return Xd, yd, wd, blocks


def test_local_sgd_one_round_closed_form(client, data):
    """Two blocks, momentum SGD, two full-block steps each, then the weighted average."""
    X, y, w = data
    Xd, yd, wd, blocks = _two_blocks(data)
    lr, m = 0.4, 0.9
    net = _seed_net(alpha=0.1)
    theta0 = flatten(net.parameters)
    thetas, velocities, losses = [], [], []
    for rows in blocks:
        probe = _seed_net(alpha=0.1)
        theta, v = theta0.copy(), np.zeros_like(theta0)
        for _ in range(2):
            probe._set_parameters(
                [p.copy() for p in unflatten(theta, [p.shape for p in net.parameters])]
            )
            loss, grads = probe.loss_and_gradients(X[rows], y[rows], w[rows])
            g = flatten([a for pair in grads for a in pair])
            v = m * v - lr * g  # classical momentum, by hand
            theta = theta + v
            losses.append((loss, w[rows].sum()))
        thetas.append(theta)
        velocities.append(v)
    weights = [w[rows].sum() for rows in blocks]
    expected_theta = (weights[0] * thetas[0] + weights[1] * thetas[1]) / sum(weights)
    expected_v = (weights[0] * velocities[0] + weights[1] * velocities[1]) / sum(weights)
    expected_loss = sum(l * b for l, b in losses) / sum(b for _, b in losses)

    optimizer = dp.SGD(learning_rate=lr, momentum=m)
    history = parallel_train(
        net,
        Xd,
        yd,
        sample_weight=wd,
        solver="local_sgd",
        optimizer=optimizer,
        batch_size=1000,
        local_steps=2,
        max_iter=1,
        client=client,
    )
    np.testing.assert_allclose(flatten(net.parameters), expected_theta, rtol=1e-10)
    np.testing.assert_allclose(flatten(optimizer.velocities), expected_v, rtol=1e-10)
    assert history.loss == [pytest.approx(expected_loss, rel=1e-12)]


def test_local_sgd_with_one_full_block_step_is_gradient_descent(client, data):
    X, y, w = data
    reference, net = _seed_net(), _seed_net()
    expected = dp.train(reference, X, y, sample_weight=w, optimizer=dp.SGD(0.5), max_iter=5)
    Xd, yd, wd = _dask(X, y, w)
    history = parallel_train(net, Xd, yd, sample_weight=wd, solver="local_sgd",
                             learning_rate=0.5, batch_size=100, local_steps=1, max_iter=5,
                             client=client)  # fmt: skip
    # average of (theta - lr g_b) weighted by w_b is theta - lr * (full-batch gradient)
    np.testing.assert_allclose(history.loss, expected.loss, rtol=1e-10)
    _assert_same_parameters(net, reference)


def test_local_sgd_averages_adam_state(client, data):
    X, y, w = data
    Xd, yd, wd, blocks = _two_blocks(data)
    net = _seed_net()
    replicas = []
    for rows in blocks:  # each replica: a fresh Adam taking 3 full-block steps
        probe, adam = _seed_net(), dp.Adam(learning_rate=0.05)
        for _ in range(3):
            _, grads = probe.loss_and_gradients(X[rows], y[rows], w[rows])
            probe._set_parameters(
                adam.step(probe.parameters, [g for pair in grads for g in pair], xp=np)
            )
        replicas.append((flatten(probe.parameters), adam, w[rows].sum()))
    total = sum(weight for *_, weight in replicas)

    def mean(get):
        return sum(weight / total * get(r) for *r, weight in replicas)

    adam = dp.Adam(learning_rate=0.05)
    parallel_train(
        net,
        Xd,
        yd,
        sample_weight=wd,
        solver="local_sgd",
        optimizer=adam,
        batch_size=1000,
        local_steps=3,
        max_iter=1,
        client=client,
    )
    np.testing.assert_allclose(flatten(net.parameters), mean(lambda r: r[0]), rtol=1e-10)
    np.testing.assert_allclose(
        flatten(adam.first_moments), mean(lambda r: flatten(r[1].first_moments)), rtol=1e-10
    )
    np.testing.assert_allclose(
        flatten(adam.second_moments), mean(lambda r: flatten(r[1].second_moments)), rtol=1e-10
    )
    assert adam.t == 3


def test_local_sgd_converges_and_is_deterministic(client):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(float)
    Xd = da.from_array(X, chunks=((150, 50, 120, 80), 2))
    yd = da.from_array(y, chunks=100)

    def run():
        net = dp.Network([dp.Dense(2, 4, "tanh"), dp.Dense(4, 1)], random_state=0)
        history = parallel_train(
            net,
            Xd,
            yd,
            solver="local_sgd",
            optimizer=dp.Adam(0.05),
            batch_size=16,
            local_steps=5,
            max_iter=15,
            client=client,
        )
        return net, history

    net, history = run()
    assert history.loss[-1] < 0.3 < history.loss[0]
    accuracy = np.mean((net.forward(X)[:, 0] > 0.5) == (y == 1.0))
    assert accuracy > 0.95
    again, history_again = run()
    assert history_again.loss == history.loss
    for a, b in zip(net.parameters, again.parameters, strict=True):
        assert np.array_equal(a, b)


# -- inputs and errors ----------------------------------------------------------------------
def test_is_dask_collection(data):
    X, y, _ = data
    assert is_dask_collection(None, da.from_array(X))
    assert not is_dask_collection(X, y, None)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"solver": "adam"}, ValueError, "solver must be one of"),
        ({"solver": "lbfgs", "learning_rate": 0.1}, ValueError, "an LBFGS optimizer and no"),
        ({"solver": "lbfgs", "optimizer": dp.SGD()}, ValueError, "an LBFGS optimizer and no"),
        ({"solver": "gd", "optimizer": dp.LBFGS()}, ValueError, "needs solver='lbfgs'"),
        ({"solver": "gd", "batch_size": 10}, ValueError, "solver='gd' is full-batch"),
        ({"optimizer": dp.LBFGS(), "batch_size": 10}, ValueError, "L-BFGS is full-batch"),
        ({"optimizer": dp.SGD(), "learning_rate": 0.1}, ValueError, "not both"),
        ({"optimizer": "sgd"}, TypeError, "optimizer must be an Optimizer or LBFGS"),
        ({"max_iter": 0}, ValueError, "max_iter must be >= 1"),
        ({"local_steps": 0}, ValueError, "local_steps must be >= 1"),
    ],
)
def test_bad_hyper_parameters(client, data, kwargs, error, match):
    Xd, yd, _ = _dask(*data)
    with pytest.raises(error, match=match):
        parallel_train(_seed_net(), Xd, yd, client=client, **kwargs)


def test_solver_follows_optimizer_and_batch_size(client, data):
    Xd, yd, _ = _dask(*data)
    history = parallel_train(_seed_net(), Xd, yd, batch_size=16, local_steps=1, max_iter=2,
                             learning_rate=0.2, client=client)  # fmt: skip
    # local SGD: one step per replica on a batch, not the full-batch loss
    gd = parallel_train(_seed_net(), Xd, yd, learning_rate=0.2, max_iter=2, client=client)
    assert history.loss[0] != pytest.approx(gd.loss[0], rel=1e-6)
    assert history.learning_rate == gd.learning_rate == [0.2, 0.2]
    # dropout trains (tests/test_dask_parity.py); a generator that cannot jump ahead is refused
    net = dp.Network([dp.Dense(3, 4, dropout=0.5), dp.Dense(4, 1)])
    mt = np.random.Generator(np.random.MT19937(0))
    with pytest.raises(ValueError, match="dropout on Dask needs a generator that can jump"):
        parallel_train(net, Xd, yd, client=client, random_state=mt)


def test_bad_data(client, data):
    X, y, w = data
    Xd, yd, wd = _dask(X, y, w)
    with pytest.raises(TypeError, match="X must be a dask array"):
        parallel_train(_seed_net(), X, y, client=client)
    with pytest.raises(ValueError, match="X has 3 features, but the network expects 2"):
        parallel_train(dp.Network([dp.Dense(2, 1)]), Xd, yd, client=client)
    with pytest.raises(ValueError, match="y has 50 rows, but X has 101"):
        parallel_train(_seed_net(), Xd, da.from_array(y[:50]), client=client)
    with pytest.raises(ValueError, match=r"row block \d: sample_weight must be >= 0"):
        parallel_train(_seed_net(), Xd, yd, sample_weight=-wd, client=client)
    with pytest.raises(ValueError, match=r"row block \d: y must lie in \[0, 1\]"):
        parallel_train(_seed_net(), Xd, 3 * yd, client=client)
    with pytest.raises(ValueError, match="must not be all zero"):
        parallel_train(_seed_net(), Xd, yd, sample_weight=0 * wd, client=client)
    Xu, yu = Xd[Xd[:, 0] > -9], da.from_array(y, chunks=20)
    yu = yu[yu > -1]  # unknown chunks, 6 blocks against X's 4
    with pytest.raises(ValueError, match="y has 6 row blocks but X has 4"):
        parallel_train(_seed_net(), Xu, yu, client=client)


def test_without_a_client_a_local_cluster_is_started(monkeypatch, data, small_local_clusters):
    X, y, _ = data

    def no_client():
        raise ValueError("No global client found")

    monkeypatch.setattr(distributed, "get_client", no_client)
    reference, net = _seed_net(), _seed_net()
    expected = dp.train(reference, X, y, optimizer=dp.SGD(0.5), max_iter=2)
    history = parallel_train(
        net, da.from_array(X, chunks=50), da.from_array(y, chunks=50), learning_rate=0.5, max_iter=2
    )
    assert len(small_local_clusters) == 1
    np.testing.assert_allclose(history.loss, expected.loss, rtol=1e-10)
    assert history.stop_reason == "max_iter"


@pytest.mark.early(command=run_docs_pages)  # the run of tests/test_docs.py (conftest.py)
def test_docs_scale_example_runs(docs_page_run):
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.DOTALL)
    # the Dask example of deltaprop.parallel.train; the estimators' block is checked in
    # tests/test_estimator_dask.py, the GPU example by tests/test_docs.py
    first = next(i for i, b in enumerate(blocks) if "deltaprop.parallel" in b or "dp.parallel" in b)
    printed = docs_page_run(DOCS.name).lines(first)
    assert printed[:4] == ["max_iter 30", "True", "True", "[[1.]]"]


def test_deltaprop_train_dispatches_dask_inputs(client, rng):
    """dp.train on dask arrays runs the distributed path and matches in-process training."""
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(float)
    w = rng.uniform(0.5, 2.0, size=60)
    local = dp.Network([dp.Dense(3, 4), dp.Dense(4, 1)], random_state=0)
    remote = dp.Network([dp.Dense(3, 4), dp.Dense(4, 1)], random_state=0)
    h_local = dp.train(local, X, y, sample_weight=w, optimizer=dp.SGD(0.5), max_iter=4)
    h_remote = dp.train(
        remote,
        da.from_array(X, chunks=25),
        da.from_array(y, chunks=25),
        sample_weight=da.from_array(w, chunks=25),
        optimizer=dp.SGD(0.5),
        max_iter=4,
        client=client,
    )
    np.testing.assert_allclose(h_remote.loss, h_local.loss, rtol=1e-12)
    for a, b in zip(remote.parameters, local.parameters, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    # early stopping, schedules, callbacks... go through (tests/test_dask_parity.py);
    # CUDA graphs cannot: the workers train with NumPy
    with pytest.raises(ValueError, match="early_stopping=True needs validation_data"):
        dp.train(
            remote,
            da.from_array(X, chunks=25),
            da.from_array(y, chunks=25),
            early_stopping=True,
            client=client,
        )
    with pytest.raises(ValueError, match="cuda_graph=True is not supported with dask"):
        dp.train(
            remote,
            da.from_array(X, chunks=25),
            da.from_array(y, chunks=25),
            cuda_graph=True,
            client=client,
        )
    with pytest.raises(ValueError, match="client is only used with dask inputs"):
        dp.train(remote, X, y, client=client)
