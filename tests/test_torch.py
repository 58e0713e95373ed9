"""The PyTorch CPU path: same numbers as NumPy, and the arrays stay PyTorch tensors."""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp

torch = pytest.importorskip("torch")
pytest.importorskip("array_api_compat")


@pytest.fixture
def data():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(37, 4))
    y = np.eye(3)[rng.integers(0, 3, size=37)]
    w = rng.uniform(0.2, 1.5, size=37)
    return X, y, w


def _net():
    layers = [dp.Dense(4, 6, "tanh"), dp.Dense(6, 5, "relu"), dp.Dense(5, 3, "softmax")]
    return dp.Network(layers, loss="cross_entropy", alpha=0.05, random_state=4)


def _tensors(*arrays):
    return [torch.asarray(a, dtype=torch.float64) for a in arrays]


def _assert_close(tensor, array, rtol=1e-12):
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float64
    np.testing.assert_allclose(tensor.numpy(), array, rtol=rtol, atol=1e-15)


def test_forward_and_gradients_match_numpy(data):
    X, y, w = data
    net = _net()
    _assert_close(net.forward(torch.asarray(X)), net.forward(X))
    loss_t, grads_t = net.loss_and_gradients(*_tensors(X, y, w))
    loss_n, grads_n = net.loss_and_gradients(X, y, w)
    assert loss_t == pytest.approx(loss_n, rel=1e-12)
    for (d_w_t, d_b_t), (d_w_n, d_b_n) in zip(grads_t, grads_n, strict=True):
        _assert_close(d_w_t, d_w_n)
        _assert_close(d_b_t, d_b_n)


def test_gradients_pass_the_finite_difference_check_on_torch(data):
    X, y, w = data
    assert dp.check_gradients(_net(), *_tensors(X, y), sample_weight=torch.asarray(w)) < 1e-6


@pytest.mark.parametrize(
    ("optimizer", "batch_size"),
    [
        (lambda: dp.SGD(learning_rate=0.3, momentum=0.9, nesterov=True), None),
        (lambda: dp.Adam(learning_rate=0.02, weight_decay=0.01), 8),
    ],
)
def test_training_matches_numpy(data, optimizer, batch_size):
    X, y, w = data
    net_t, net_n = _net(), _net()
    kwargs = {"batch_size": batch_size, "max_iter": 6, "random_state": 0}
    history_t = dp.train(
        net_t, *_tensors(X, y), sample_weight=torch.asarray(w), optimizer=optimizer(), **kwargs
    )
    history_n = dp.train(net_n, X, y, sample_weight=w, optimizer=optimizer(), **kwargs)
    np.testing.assert_allclose(history_t.loss, history_n.loss, rtol=1e-12)
    assert history_t.loss[-1] < history_t.loss[0]
    # the parameters stay on torch (no silent copy to NumPy inside the loop)
    for p_t, p_n in zip(net_t.parameters, net_n.parameters, strict=True):
        _assert_close(p_t, p_n, rtol=1e-11)


def test_optimizer_state_lives_in_torch():
    params = [torch.tensor([1.0, -2.0], dtype=torch.float64)]
    grads = [torch.tensor([0.5, 0.25], dtype=torch.float64)]
    sgd = dp.SGD(learning_rate=0.1, momentum=0.5)
    xp = __import__("array_api_compat").array_namespace(params[0])
    step1 = sgd.step(params, grads, xp=xp)
    step2 = sgd.step(step1, grads, xp=xp)
    # closed form: v1 = -lr g, v2 = m v1 - lr g
    _assert_close(step1[0], [1.0 - 0.05, -2.0 - 0.025])
    _assert_close(step2[0], [0.95 - 0.075, -2.025 - 0.0375])
    assert isinstance(sgd.velocities[0], torch.Tensor)

    adam = dp.Adam(learning_rate=0.1)
    out = adam.step(params, grads, xp=xp)
    # first Adam step: m_hat = g and v_hat = g^2, so each coordinate moves lr g / (|g| + eps)
    expected = [1.0 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 - 0.1 * 0.25 / (0.25 + 1e-8)]
    _assert_close(out[0], expected)
    assert isinstance(adam.first_moments[0], torch.Tensor)


def test_float32_tensors_train_in_float32(data):
    X, y, _ = data
    net = _net()
    dp.train(net, torch.asarray(X, dtype=torch.float32), torch.asarray(y), max_iter=2)
    assert all(p.dtype == torch.float32 for p in net.parameters)
