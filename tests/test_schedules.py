"""Learning-rate schedules: each rate against its closed form, and how train uses them."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.optim.schedules import (
    Constant,
    CosineAnnealing,
    ExponentialDecay,
    InverseScaling,
    ReduceOnPlateau,
    StepDecay,
)


def _rates(schedule, initial, n):
    schedule.reset(initial)
    return [schedule.learning_rate(t) for t in range(1, n + 1)]


def test_constant():
    assert _rates(Constant(), 0.3, 4) == [0.3] * 4


def test_inverse_scaling_is_lr_over_t_to_the_power_t():
    rates = _rates(InverseScaling(power_t=0.5), 0.2, 5)
    np.testing.assert_allclose(rates, [0.2 / math.sqrt(t) for t in range(1, 6)], rtol=1e-15)
    rates = _rates(InverseScaling(power_t=0.25), 1.0, 3)
    np.testing.assert_allclose(rates, [1.0, 2**-0.25, 3**-0.25], rtol=1e-15)


def test_inverse_scaling_with_scikit_learns_sample_count():
    # scikit-learn: epoch 1 uses lr_0; after epoch e, lr = lr_0 / (e * n + 1)**power_t.
    n, lr0, power_t = 30, 0.01, 0.5
    rates = _rates(InverseScaling(power_t=power_t, scale=n), lr0, 4)
    expected = [lr0] + [lr0 / ((e * n) + 1) ** power_t for e in (1, 2, 3)]
    np.testing.assert_allclose(rates, expected, rtol=1e-15)


def test_step_decay():
    rates = _rates(StepDecay(step_size=3, gamma=0.5), 0.8, 8)
    np.testing.assert_allclose(rates, [0.8] * 3 + [0.4] * 3 + [0.2] * 2, rtol=1e-15)


def test_exponential_decay():
    rates = _rates(ExponentialDecay(gamma=0.9), 0.1, 4)
    np.testing.assert_allclose(rates, [0.1, 0.09, 0.081, 0.0729], rtol=1e-14)


def test_cosine_annealing():
    rates = _rates(CosineAnnealing(t_max=4, min_learning_rate=0.1), 1.1, 7)
    # half-way (t = 3) the rate is the mean of the ends; from t = t_max + 1 on, the floor
    expected = [
        1.1,
        0.1 + 1.0 * (1 + math.cos(math.pi / 4)) / 2,
        0.6,
        0.1 + 1.0 * (1 + math.cos(3 * math.pi / 4)) / 2,
        0.1,
        0.1,
        0.1,
    ]
    np.testing.assert_allclose(rates, expected, rtol=1e-14)


def _sklearn_adaptive(losses, lr0, tol, n_iter_no_change):
    """scikit-learn's MLP rule for learning_rate='adaptive', transcribed from its _fit_stochastic.

    Returns the learning rate of each epoch and the epoch after which it stops (or None).
    """
    rates, best, count, lr = [], np.inf, 0, lr0
    for epoch, loss in enumerate(losses, start=1):
        rates.append(lr)
        count = count + 1 if loss > best - tol else 0
        if loss < best:
            best = loss
        if count > n_iter_no_change:
            if lr <= 1e-6:
                return rates, epoch
            lr /= 5.0
            count = 0
    return rates, None


def test_reduce_on_plateau_is_scikit_learns_adaptive():
    rng = np.random.default_rng(0)
    # falls, then wobbles on a plateau long enough for several reductions and the stop
    losses = list(np.linspace(1.0, 0.5, 10)) + list(0.5 + 1e-5 * rng.normal(size=200))
    expected_rates, expected_stop = _sklearn_adaptive(losses, 1e-3, 1e-4, 2)
    assert expected_stop is not None
    schedule = ReduceOnPlateau(factor=0.2, patience=2, threshold=1e-4, min_learning_rate=1e-6)
    schedule.reset(1e-3)
    rates, stop = [], None
    for epoch, loss in enumerate(losses, start=1):
        rates.append(schedule.learning_rate(epoch))
        if schedule.end_epoch(epoch, loss):
            stop = epoch
            break
    assert stop == expected_stop
    np.testing.assert_allclose(rates, expected_rates, rtol=1e-12)


def test_train_applies_the_schedule_and_restores_the_rate(xor):
    X, y = xor
    net = dp.Network([dp.Dense(2, 3), dp.Dense(3, 1)], random_state=0)
    sgd = dp.SGD(learning_rate=0.5)
    history = dp.train(net, X, y, optimizer=sgd, schedule=StepDecay(2, 0.5), max_iter=5)
    np.testing.assert_allclose(history.learning_rate, [0.5, 0.5, 0.25, 0.25, 0.125])
    assert sgd.learning_rate == 0.5
    # the rates really are used: replay the updates by hand
    replay = dp.Network([dp.Dense(2, 3), dp.Dense(3, 1)], random_state=0)
    for rate in history.learning_rate:
        _, grads = replay.loss_and_gradients(X, y)
        for layer, (d_weights, d_bias) in zip(replay.layers, grads, strict=True):
            layer.weights = layer.weights - rate * d_weights
            layer.bias = layer.bias - rate * d_bias
    for p, q in zip(net.parameters, replay.parameters, strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-13, atol=1e-15)


def test_reduce_on_plateau_stops_training_at_its_floor(xor):
    X, y = xor
    net = dp.Network([dp.Dense(2, 3), dp.Dense(3, 1)], random_state=0)
    schedule = ReduceOnPlateau(factor=0.1, patience=0, threshold=1.0, min_learning_rate=2e-3)
    history = dp.train(net, X, y, optimizer=dp.SGD(0.1), schedule=schedule, max_iter=50)
    # every epoch after the first is "bad" (threshold 1): 0.1 -> 0.01 -> 0.001, then a
    # reduction is due at the floor and training stops
    assert history.stop_reason == "min_learning_rate"
    np.testing.assert_allclose(history.learning_rate, [0.1, 0.1, 0.01, 0.001], rtol=1e-12)


def test_reduce_on_plateau_on_validation_loss_needs_validation(xor):
    X, y = xor
    net = dp.Network([dp.Dense(2, 3), dp.Dense(3, 1)], random_state=0)
    with pytest.raises(ValueError, match="monitor='val_loss' needs validation_data"):
        dp.train(net, X, y, schedule=ReduceOnPlateau(monitor="val_loss"))
    history = dp.train(
        net,
        X,
        y,
        optimizer=dp.SGD(learning_rate=0.1),  # train's default before issue 17
        schedule=ReduceOnPlateau(monitor="val_loss", patience=0, threshold=10.0),
        validation_data=(X, y),
        max_iter=4,
    )
    np.testing.assert_allclose(history.learning_rate, [0.1, 0.1, 0.02, 0.004], rtol=1e-12)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: InverseScaling(power_t=0.0), "power_t must be > 0"),
        (lambda: StepDecay(step_size=0), "step_size must be >= 1"),
        (lambda: ExponentialDecay(gamma=1.5), "gamma must be <= 1"),
        (lambda: CosineAnnealing(t_max=0), "t_max must be >= 1"),
        (lambda: ReduceOnPlateau(factor=1.0), "factor must be < 1"),
        (lambda: ReduceOnPlateau(monitor="accuracy"), "monitor must be"),
    ],
)
def test_bad_schedule_parameters(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_schedule_must_be_a_schedule(xor):
    X, y = xor
    net = dp.Network([dp.Dense(2, 1)], random_state=0)
    with pytest.raises(TypeError, match="schedule must be a Schedule"):
        dp.train(net, X, y, schedule="constant")


@pytest.mark.parametrize(
    "make",
    [
        Constant,
        lambda: InverseScaling(power_t=0.7, scale=3.0),
        lambda: StepDecay(step_size=3, gamma=0.5),
        lambda: ExponentialDecay(gamma=0.9),
        lambda: CosineAnnealing(t_max=7, min_learning_rate=0.01),
        lambda: ReduceOnPlateau(factor=0.5, patience=1, threshold=0.0),
    ],
)
def test_a_restored_schedule_continues_with_the_same_rates(make):
    losses = [5.0, 4.0, 4.0, 4.0, 3.0, 3.0, 3.0, 3.0, 2.0, 2.0, 2.0, 2.0]
    straight, first = make(), make()
    straight.reset(0.8)
    first.reset(0.8)
    rates = []
    for t, loss in enumerate(losses, start=1):
        rates.append(straight.learning_rate(t))
        straight.end_epoch(t, loss)
        if t <= 5:
            first.learning_rate(t)
            first.end_epoch(t, loss)
    resumed = make()
    resumed.reset(123.0)  # train resets before loading: the saved state wins
    resumed.load_state_dict(first.state_dict())
    again = []
    for t, loss in enumerate(losses[5:], start=6):
        again.append(resumed.learning_rate(t))
        resumed.end_epoch(t, loss)
    assert again == rates[5:]


def test_load_state_dict_refuses_another_schedule():
    state = StepDecay(2).state_dict()
    with pytest.raises(ValueError, match="belongs to schedule 'StepDecay', not 'Constant'"):
        Constant().load_state_dict(state)
    with pytest.raises(ValueError, match=r"missing \['current', 'best', 'bad_epochs'\]"):
        ReduceOnPlateau().load_state_dict({"name": "ReduceOnPlateau", "initial": 0.1})
