"""Training's two threads: the same bits as one thread, and a BLAS limit scoped to the call."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.kernels import _threads

threadpoolctl = pytest.importorskip("threadpoolctl")


def _trained_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8000, 20))
    y = (X[:, :1] + X[:, 1:2] > 0).astype(float)
    net = dp.Network([dp.Dense(20, 64, "tanh"), dp.Dense(64, 1, "sigmoid")], random_state=0)
    dp.train(net, X, y, optimizer=dp.Adam(0.01), batch_size=None, max_iter=3, random_state=0)
    return [np.array(p) for p in net.parameters]


def _blas_threads():
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]


def test_threaded_training_gives_the_bits_of_single_threaded_training(monkeypatch):
    # more rows than a block: the kernel's two lanes run on two threads here
    threaded = _trained_weights()
    monkeypatch.setattr(_threads.os, "cpu_count", lambda: 1)  # a one-core machine
    single = _trained_weights()
    for a, b in zip(threaded, single, strict=True):
        assert (a == b).all()


def test_the_blas_limit_ends_with_the_call_even_when_calls_overlap():
    before = _blas_threads()
    if before == [1] * len(before):
        pytest.skip("BLAS runs one thread already: a leaked limit would not show")
    seen = []

    def piece(seconds):
        seen.append(_blas_threads())
        time.sleep(seconds)
        return seconds

    # the second call starts while the first holds the limit and ends after it
    first = threading.Thread(target=_threads.run_pieces, args=(piece, [0.2, 0.2]))
    second = threading.Thread(target=_threads.run_pieces, args=(piece, [0.3, 0.3]))
    first.start()
    time.sleep(0.05)
    second.start()
    first.join()
    second.join()
    assert _blas_threads() == before
    assert all(threads == [1] * len(before) for threads in seen)  # limited while running
    assert _threads.run_pieces(piece, [0.0, 0.0]) == [0.0, 0.0]
    assert _blas_threads() == before


def test_a_blas_loaded_after_the_first_call_is_limited_too(monkeypatch):
    _threads.run_pieces(lambda piece: piece, [0, 1])  # the controller is made now
    made = _threads._controller

    class Later:  # a library loaded since: its import adds a module
        pass

    monkeypatch.setitem(__import__("sys").modules, "deltaprop_test_later_import", Later)
    seen = []
    _threads.run_pieces(lambda piece: seen.append(_blas_threads()), [0, 1])
    assert _threads._controller is not made  # looked up again after the import
    assert all(threads == [1] * len(threads) for threads in seen)
