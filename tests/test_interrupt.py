"""Ctrl-C during training: stop after the current batch, keep the best weights, report it."""

from __future__ import annotations

import os
import signal

import pytest

import deltaprop as dp

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs POSIX signals")


class _CtrlCAtStep(dp.SGD):
    """SGD that delivers a real SIGINT to this process during its k-th step."""

    def __init__(self, k: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.k, self.steps = k, 0

    def step(self, params, grads, *, xp):
        self.steps += 1
        if self.steps == self.k:
            os.kill(os.getpid(), signal.SIGINT)
        return super().step(params, grads, xp=xp)


def _data(rng):
    X = rng.normal(size=(40, 3))
    return X, (X[:, 0] > 0).astype(float)


def test_mini_batches_stop_after_the_current_batch(rng):
    X, y = _data(rng)
    net = dp.Network([dp.Dense(3, 4), dp.Dense(4, 1)], random_state=0)
    optimizer = _CtrlCAtStep(6, learning_rate=0.5)
    history = dp.train(net, X, y, optimizer=optimizer, batch_size=10, max_iter=50)
    assert history.stop_reason == "interrupted"
    assert optimizer.steps == 6  # epoch 1 had 4 batches; epoch 2 stopped after its 2nd
    assert history.n_iter == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_full_batch_keeps_best_validation_weights(rng):
    X, y = _data(rng)
    X_val, y_val = X[:10] + rng.normal(scale=2.0, size=(10, 3)), 1.0 - y[:10]
    net = dp.Network([dp.Dense(3, 4), dp.Dense(4, 1)], random_state=0)
    history = dp.train(
        net,
        X,
        y,
        optimizer=_CtrlCAtStep(5, learning_rate=2.0),
        max_iter=50,
        validation_data=(X_val, y_val),
    )
    assert history.stop_reason == "interrupted" and history.n_iter == 5
    assert history.val_loss[history.best_iteration - 1] == min(history.val_loss)
    # the network holds the weights with the lowest validation loss, not the last ones
    assert net.loss_and_gradients(X_val, y_val)[0] == pytest.approx(min(history.val_loss))


def test_an_inherited_ignore_of_sigint_stays(rng):
    # a background job of a shell starts with SIGINT ignored: Ctrl-C must not stop it
    X, y = _data(rng)
    net = dp.Network([dp.Dense(3, 4), dp.Dense(4, 1)], random_state=0)
    seen = []
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        history = dp.train(
            net,
            X,
            y,
            optimizer=_CtrlCAtStep(3, learning_rate=0.5),
            max_iter=5,
            callbacks=[lambda i, h, n: seen.append(signal.getsignal(signal.SIGINT))],
        )
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    assert history.stop_reason == "max_iter" and history.n_iter == 5
    assert seen == [signal.SIG_IGN] * 5
