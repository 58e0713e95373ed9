"""The static-buffer training step that CUDA graphs capture (deltaprop.kernels.cuda_graph,
driven by deltaprop.training.static).

On the CPU everything except the capture runs: the step on fixed buffers is compared
bit for bit with the eager step, and ``train`` through it (with ``DirectStep`` standing
in for ``CUDAGraphStep``) with ordinary ``train``. The CUDA tests skip without a GPU.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.core.arrays import from_numpy, to_numpy
from deltaprop.kernels import cuda_graph
from deltaprop.training import static

torch = pytest.importorskip("torch")
pytest.importorskip("array_api_compat")
import array_api_compat  # noqa: E402

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

OPTIMIZERS = {
    "sgd": lambda: dp.SGD(learning_rate=0.3),
    "nesterov": lambda: dp.SGD(learning_rate=0.2, momentum=0.9, nesterov=True),
    "adamw": lambda: dp.Adam(learning_rate=0.02, weight_decay=0.05),
}


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(43, 4))
    y = np.eye(3)[rng.integers(0, 3, size=43)]
    w = rng.uniform(0.2, 1.5, size=43)
    return X, y, w


def _net(alpha=0.05):
    layers = [dp.Dense(4, 6, "relu"), dp.Dense(6, 5, "tanh"), dp.Dense(5, 3, "softmax")]
    return dp.Network(layers, loss="cross_entropy", alpha=alpha, random_state=4)


@pytest.fixture
def static_on_cpu(monkeypatch):
    """Make ``train`` take the CUDA-graph path for CPU tensors, without capturing."""
    monkeypatch.setattr(cuda_graph, "is_cuda", lambda X: True)
    monkeypatch.setattr(cuda_graph, "capture", cuda_graph.DirectStep)


def _tensors(dtype, *arrays):
    return [None if a is None else torch.asarray(a, dtype=dtype) for a in arrays]


def _equal(a, b):
    return all(torch.equal(p, q) for p, q in zip(a, b, strict=True))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    ("name", "batch_size", "weighted", "alpha"),
    [
        ("adamw", 8, True, 0.05),  # 43 rows: a short last batch of 3
        ("nesterov", None, True, 0.05),
        ("sgd", 16, False, 0.0),
        ("adamw", None, False, 0.1),
    ],
)
def test_train_through_the_static_step_is_bit_identical(
    static_on_cpu, data, dtype, name, batch_size, weighted, alpha
):
    X, y, w = _tensors(dtype, *data)
    w = w if weighted else None
    eager_net, static_net = _net(alpha), _net(alpha)
    eager_opt, static_opt = OPTIMIZERS[name](), OPTIMIZERS[name]()
    kwargs = {"sample_weight": w, "batch_size": batch_size, "max_iter": 6, "random_state": 0}
    eager = dp.train(eager_net, X, y, optimizer=eager_opt, cuda_graph=False, **kwargs)
    static = dp.train(static_net, X, y, optimizer=static_opt, cuda_graph=True, **kwargs)
    assert static.loss == eager.loss  # every iteration's loss, bit for bit
    assert static.stop_reason == eager.stop_reason == "max_iter"
    assert _equal(static_net.parameters, eager_net.parameters)
    assert all(p.dtype == dtype for p in static_net.parameters)
    for key in static_opt._state_keys:  # the state carries over (a warm start)
        assert _equal(getattr(static_opt, key), getattr(eager_opt, key))
    assert getattr(static_opt, "t", None) == getattr(eager_opt, "t", None)


def test_stop_rules_and_validation_match_the_eager_loop(static_on_cpu, data):
    X, y, w = _tensors(torch.float64, *data)
    runs = []
    for graph in (False, True):
        net = _net()
        history = dp.train(
            net,
            X,
            y,
            sample_weight=w,
            optimizer=dp.Adam(learning_rate=0.05),
            batch_size=10,
            max_iter=40,
            validation_fraction=0.3,
            early_stopping=True,
            n_iter_no_change=3,
            schedule=dp.schedules.StepDecay(step_size=2, gamma=0.5),
            random_state=1,
            cuda_graph=graph,
        )
        runs.append((history, net.parameters))
    (eager, eager_params), (static, static_params) = runs
    assert static.loss == eager.loss and static.val_loss == eager.val_loss
    assert static.learning_rate == eager.learning_rate
    assert static.stop_reason == eager.stop_reason
    assert static.best_iteration == eager.best_iteration < static.n_iter  # restored weights
    assert _equal(static_params, eager_params)


def test_target_loss_keeps_the_weights_that_reached_it(static_on_cpu, data):
    X, y, _ = _tensors(torch.float64, *data)
    results = []
    for graph in (False, True):
        net = _net()
        history = dp.train(
            net,
            X,
            y,
            optimizer=dp.SGD(learning_rate=0.1),  # full batch: the target_loss rule's case
            max_iter=100,
            target_loss=1.0,
            cuda_graph=graph,
        )
        results.append((history, net.parameters))
    (eager, eager_params), (static, static_params) = results
    assert static.stop_reason == eager.stop_reason == "target_loss"
    assert static.loss == eager.loss
    assert _equal(static_params, eager_params)


@pytest.mark.parametrize("batch_size", [None, 8])
def test_divergence_restores_the_same_weights(static_on_cpu, data, batch_size):
    X, y, _ = data
    X = torch.asarray(X * 1e3, dtype=torch.float32)
    y = torch.asarray(y, dtype=torch.float32)
    results = []
    for graph in (False, True):
        layers = [dp.Dense(4, 6, "relu"), dp.Dense(6, 3, "identity")]
        net = dp.Network(layers, "squared_error", random_state=0)
        with pytest.warns(dp.DivergenceWarning):
            history = dp.train(
                net,
                X,
                y,
                optimizer=dp.SGD(learning_rate=50.0),
                batch_size=batch_size,
                max_iter=50,
                cuda_graph=graph,
            )
        results.append((history, net.parameters))
    (eager, eager_params), (static, static_params) = results
    assert static.stop_reason == eager.stop_reason == "diverged"
    assert static.loss == eager.loss
    assert _equal(static_params, eager_params)
    assert all(bool(torch.all(torch.isfinite(p))) for p in static_params)


def test_the_callers_arrays_are_not_written(static_on_cpu, data):
    X, y, w = _tensors(torch.float32, *data)
    net = _net()
    net._set_parameters([torch.asarray(p, dtype=torch.float32) for p in net.parameters])
    given = net.parameters
    before = [torch.clone(p) for p in given]
    dp.train(net, X, y, sample_weight=w, batch_size=8, max_iter=2, cuda_graph=True)
    assert _equal(given, before)
    assert not _equal(net.parameters, before)


@pytest.mark.parametrize("library", ["numpy", "torch"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_static_step_equals_the_eager_step(data, library, name):
    """Two steps on fixed buffers against ``_loss_and_gradients`` and ``Optimizer.step``."""
    X, y, w = data
    if library == "torch":
        X, y, w = _tensors(torch.float32, X, y, w)
        xp = array_api_compat.array_namespace(X)
    else:
        X, y, w = (a.astype(np.float32) for a in (X, y, w))
        xp = np
    net = _net()
    params = net._parameters_as(xp, X.dtype, "cpu")
    eager_opt, static_opt = OPTIMIZERS[name](), OPTIMIZERS[name]()
    xp_static = cuda_graph.capture_safe(xp)
    buffers = cuda_graph.TrainingBuffers(params, params, static_opt, xp=xp_static)
    addresses = [id(a) for a in buffers.mutable()]
    step = cuda_graph.StaticStep(
        net,
        static_opt,
        buffers,
        (X, y, w),
        rows=10,
        total_weight=None,
        block_size=256,
        xp=xp_static,
    )
    rows = np.random.default_rng(0).permutation(43)
    eager_params = params
    for batch in (rows[:10], rows[10:20]):
        step.index[...] = from_numpy(batch, xp=xp, device="cpu")
        summary, grads = step.gradient()
        X_b, y_b, w_b = (xp.take(a, xp.asarray(batch), axis=0) for a in (X, y, w))
        batch_weight = float(xp.sum(w_b))
        loss, eager_grads = net.objective(eager_params, X_b, y_b, w_b, batch_weight, xp=xp)
        assert [float(v) for v in to_numpy(summary)] == [loss, batch_weight]
        for g, h in zip(grads, eager_grads, strict=True):
            np.testing.assert_array_equal(to_numpy(g), to_numpy(h))
        buffers.load_scalars(static_opt._start_step())
        step.update(grads)
        previous, eager_params = eager_params, eager_opt.step(eager_params, eager_grads, xp=xp)
        for buffer, p in zip(buffers.params, eager_params, strict=True):
            np.testing.assert_array_equal(to_numpy(buffer), to_numpy(p))
        for buffer, p in zip(buffers.previous, previous, strict=True):
            np.testing.assert_array_equal(to_numpy(buffer), to_numpy(p))
    assert [id(a) for a in buffers.mutable()] == addresses  # written in place


def test_capture_safe_maximum_gives_the_same_numbers():
    xp = array_api_compat.array_namespace(torch.zeros(1))
    safe = cuda_graph.capture_safe(xp)
    z = torch.linspace(-2.0, 2.0, 9, dtype=torch.float32)
    assert torch.equal(safe.maximum(z, 0.0), xp.maximum(z, 0.0))
    assert torch.equal(safe.minimum(0.5, z), xp.minimum(0.5, z))
    assert cuda_graph.capture_safe(np) is np


def test_choose(data, monkeypatch):
    X, y, _ = _tensors(torch.float32, *data)
    net = _net()
    assert static.choose(None, net, dp.SGD(), X) is False  # CPU tensors
    with pytest.raises(ValueError, match="cuda_graph=True needs PyTorch tensors on a CUDA"):
        dp.train(net, X, y, max_iter=1, cuda_graph=True)
    with pytest.raises(TypeError, match="cuda_graph must be a bool or None"):
        dp.train(net, X, y, max_iter=1, cuda_graph="yes")
    with pytest.raises(ValueError, match="cuda_graph=True needs a first-order optimizer"):
        dp.train(net, X, y, optimizer=dp.LBFGS(), max_iter=1, cuda_graph=True)
    monkeypatch.setattr(cuda_graph, "is_cuda", lambda X: True)
    assert static.choose(None, net, dp.Adam(), X) is True
    dropout = dp.Network([dp.Dense(4, 6, dropout=0.5), dp.Dense(6, 3, "softmax")])
    assert static.choose(None, dropout, dp.Adam(), X) is False
    with pytest.raises(ValueError, match="dropout"):
        static.choose(True, dropout, dp.Adam(), X)

    class MySGD(dp.SGD):
        pass

    with pytest.raises(ValueError, match="MySGD, not SGD or Adam"):
        static.choose(True, net, MySGD(), X)
    monkeypatch.setenv("DELTAPROP_CUDA_GRAPH", "0")
    assert static.choose(None, net, dp.Adam(), X) is False


# ----------------------------------------------------------------------- CUDA only
@needs_cuda
@pytest.mark.parametrize(("name", "batch_size"), [("adamw", 8), ("nesterov", None)])
def test_replay_equals_eager_on_cuda(data, name, batch_size):
    X, y, w = (t.cuda() for t in _tensors(torch.float32, *data))
    nets = []
    for graph in (False, True):
        net = _net()
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # a failed capture fails the test
            history = dp.train(
                net,
                X,
                y,
                sample_weight=w,
                optimizer=OPTIMIZERS[name](),
                batch_size=batch_size,
                max_iter=5,
                cuda_graph=graph,
            )
        nets.append((history, net.parameters))
    (eager, eager_params), (graph, graph_params) = nets
    np.testing.assert_allclose(graph.loss, eager.loss, rtol=1e-5)
    for p, q in zip(graph_params, eager_params, strict=True):
        assert p.is_cuda
        np.testing.assert_allclose(p.cpu().numpy(), q.cpu().numpy(), rtol=1e-4, atol=1e-6)


@needs_cuda
def test_replays_do_not_synchronise_with_the_host(data):
    X, y, w = (t.cuda() for t in _tensors(torch.float32, *data))
    xp = cuda_graph.capture_safe(array_api_compat.array_namespace(X))
    net, optimizer = _net(), dp.Adam()
    params = net._parameters_as(xp, X.dtype, X.device)
    buffers = cuda_graph.TrainingBuffers(params, params, optimizer, xp=xp)
    step = cuda_graph.StaticStep(
        net, optimizer, buffers, (X, y, w), rows=8, total_weight=None, block_size=256, xp=xp
    )
    graph = cuda_graph.CUDAGraphStep(step)
    step.index[...] = torch.arange(8, device=X.device)
    buffers.load_scalars(optimizer._start_step())
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            _, grads = graph.gradient()
            graph.update(grads)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert all(bool(torch.all(torch.isfinite(p))) for p in buffers.params)


@needs_cuda
def test_gradients_on_cuda_match_float64_numpy(data):
    X, y, w = data
    net = _net()
    loss64, grads64 = net.loss_and_gradients(X, y, w)
    loss32, grads32 = net.loss_and_gradients(*(t.cuda() for t in _tensors(torch.float32, X, y, w)))
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    for pair32, pair64 in zip(grads32, grads64, strict=True):
        for g32, g64 in zip(pair32, pair64, strict=True):
            error = np.max(np.abs(g32.cpu().numpy() - g64)) / np.max(np.abs(g64))
            assert error < 1e-4
