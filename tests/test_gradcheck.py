"""check_gradients: it must catch a wrong backward pass, not only bless a right one."""

from __future__ import annotations

import numpy as np

import deltaprop as dp
from deltaprop.core.activations import Sigmoid


class _WrongSigmoid(Sigmoid):
    """A sigmoid whose derivative forgets the (1 - a) factor."""

    name = "wrong_sigmoid"

    def derivative(self, z, a, *, xp):
        return a


def test_reports_tiny_error_for_correct_backprop(rng):
    net = dp.Network(
        [dp.Dense(3, 4, "tanh"), dp.Dense(4, 2, "softmax")],
        loss="cross_entropy",
        alpha=0.1,
        random_state=0,
    )
    X = rng.normal(size=(6, 3))
    y = np.eye(2)[rng.integers(0, 2, size=6)]
    assert dp.check_gradients(net, X, y, rng.uniform(size=6)) < 1e-7


def test_catches_a_wrong_derivative(rng):
    net = dp.Network([dp.Dense(3, 4, _WrongSigmoid()), dp.Dense(4, 1)], random_state=0)
    X, y = rng.normal(size=(6, 3)), rng.uniform(size=6)
    assert dp.check_gradients(net, X, y) > 1e-2


def test_leaves_the_network_unchanged_and_works_from_float32(rng):
    net = dp.Network([dp.Dense(3, 2), dp.Dense(2, 1)], random_state=0)
    before = [p.copy() for p in net.parameters]
    X = rng.normal(size=(4, 3)).astype(np.float32)
    y = rng.uniform(size=4).astype(np.float32)
    assert dp.check_gradients(net, X, y) < 1e-6
    for a, b in zip(before, net.parameters, strict=True):
        np.testing.assert_array_equal(a, b)
