"""Adam and SGD store subnormal moments and velocities as 0; parameters of ordinary size
keep every bit."""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.core import compiled

F32 = np.float32
TINY = np.finfo(F32).smallest_normal


@pytest.fixture(autouse=True)
def small_arrays_compiled(monkeypatch):
    """This module's small arrays run the loops that release the GIL (by default, arrays
    below MIN_COMPILED_SIZE entries run the copies that keep it), so that their bits are
    compared."""
    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 0)


@pytest.fixture(params=["0", "1"])
def fused(request, monkeypatch):
    """Each test twice: NumPy's operations ("0") and the compiled loops ("1", with Numba)."""
    if request.param == "1":
        pytest.importorskip("numba")
    monkeypatch.setenv("DELTAPROP_FUSED", request.param)
    return request.param


def _subnormal(a):
    return (a != 0) & (np.abs(a) < TINY)


def _gradients(rng, steps, n=64):
    # 20 steps of ordinary gradients, then half the entries see 0 for good (a ReLU unit
    # that stopped firing): their moments shrink geometrically into subnormal numbers
    grads = []
    for t in range(steps):
        g = (rng.normal(size=n) * 1e-2).astype(F32)
        if t >= 20:
            g[: n // 2] = 0
        grads.append(g)
    return grads


def _reference(p, grads, lr, b1, b2, eps):
    """Adam in float32 with gradual underflow, written out here operation by operation."""
    m, v = np.zeros_like(p), np.zeros_like(p)
    subnormal_seen = False
    for t, g in enumerate(grads, start=1):
        c1, c2 = F32(1 - b1**t), F32(1 - b2**t)
        m = m * F32(b1) + g * F32(1 - b1)
        v = v * F32(b2) + (g * g) * F32(1 - b2)
        step = ((m / c1) / (np.sqrt(v / c2) + F32(eps))) * F32(lr)
        p = p - step
        subnormal_seen |= bool(_subnormal(m).any() or _subnormal(v).any())
    return p, m, v, subnormal_seen


@pytest.mark.parametrize("beta_2", [0.999, 0.95])
@pytest.mark.usefixtures("fused")
def test_flushed_moments_leave_every_parameter_bit_unchanged(rng, beta_2):
    p0 = rng.normal(size=64).astype(F32)
    grads = _gradients(rng, 1500)
    expected, m_ref, v_ref, seen = _reference(p0, grads, 0.01, 0.9, beta_2, 1e-8)
    assert seen  # the reference did compute on subnormal moments
    adam, (p,) = dp.Adam(learning_rate=0.01, beta_2=beta_2), [p0]
    for g in grads:
        (p,) = adam.step([p], [g], xp=np)
        assert not _subnormal(adam.first_moments[0]).any()
        assert not _subnormal(adam.second_moments[0]).any()
    np.testing.assert_array_equal(p, expected)
    m, v = adam.first_moments[0], adam.second_moments[0]
    # where the reference kept a normal number, the moment is the same; where it kept a
    # subnormal one, 0
    np.testing.assert_array_equal(m, np.where(_subnormal(m_ref), F32(0), m_ref))
    np.testing.assert_array_equal(v, np.where(_subnormal(v_ref), F32(0), v_ref))
    assert (m[:32] == 0).all()  # 1480 steps at 0.9: far below the smallest normal number


@pytest.mark.usefixtures("fused")
def test_a_parameter_as_small_as_its_step_can_differ_in_its_last_bit():
    # the documented limit: v = 9e-39 is stored as 0 at step 1, and when a gradient of
    # 6e-16 comes back at step 2, the parameter 1e-8 ends one unit in the last place
    # from the update with gradual underflow (found in review)
    p0, grads = np.array([1e-8], F32), [np.array([3e-18], F32), np.array([6.278743e-16], F32)]
    expected, _, v_ref, _ = _reference(p0, grads, 1e-3, 0.9, 0.999, 1e-8)
    adam, (p,) = dp.Adam(), [p0]
    for g in grads:
        (p,) = adam.step([p], [g], xp=np)
    assert adam.second_moments[0][0] != v_ref[0]
    assert abs(int(p.view(np.int32)[0]) - int(expected.view(np.int32)[0])) == 1


@pytest.mark.usefixtures("fused")
def test_an_epsilon_too_small_for_the_argument_flushes_nothing(rng):
    p0 = rng.normal(size=64).astype(F32)
    grads = _gradients(rng, 900)
    expected, m_ref, v_ref, seen = _reference(p0, grads, 0.01, 0.9, 0.95, 1e-12)
    assert seen
    adam, (p,) = dp.Adam(learning_rate=0.01, beta_2=0.95, epsilon=1e-12), [p0]
    for g in grads:
        (p,) = adam.step([p], [g], xp=np)
    assert _subnormal(adam.first_moments[0]).any()
    np.testing.assert_array_equal(p, expected)
    np.testing.assert_array_equal(adam.first_moments[0], m_ref)
    np.testing.assert_array_equal(adam.second_moments[0], v_ref)


@pytest.mark.usefixtures("fused")
def test_a_nan_moment_stays_nan():
    # the flush compares magnitudes; NaN compares false and must survive for the
    # divergence check to see it
    adam = dp.Adam()
    with np.errstate(invalid="ignore"):  # inf / inf in the step
        adam.step([np.ones(4, F32)], [np.array([np.nan, 1, 0, np.inf], F32)], xp=np)
    m, v = adam.first_moments[0], adam.second_moments[0]
    assert np.isnan(m[0]) and np.isnan(v[0]) and m[2] == 0 and np.isinf(v[3])


def _numpy_and_torch(rng, make, steps):
    """The same steps by two optimizers, one on NumPy arrays, one on torch tensors."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    xp = __import__("array_api_compat").array_namespace(torch.zeros(1))
    p0 = rng.normal(size=64).astype(F32)
    ours, theirs = make(), make()
    p, q = p0, torch.asarray(p0)
    for g in _gradients(rng, steps):
        (p,) = ours.step([p], [g], xp=np)
        (q,) = theirs.step([q], [torch.asarray(g)], xp=xp)
    return ours, theirs, p, q.numpy()


def test_the_array_api_path_flushes_alike(rng):
    ours, theirs, p, q = _numpy_and_torch(rng, lambda: dp.Adam(beta_2=0.95), 1200)
    for mine, tensor in (
        (ours.first_moments[0], theirs.first_moments[0]),
        (ours.second_moments[0], theirs.second_moments[0]),
    ):
        assert not _subnormal(tensor.numpy()).any()
        np.testing.assert_array_equal(tensor.numpy() == 0, mine == 0)
    np.testing.assert_allclose(q, p, rtol=1e-6)


def _sgd_reference(p, grads, lr, momentum, nesterov):
    """SGD with momentum in float32 with gradual underflow, written out here."""
    v = np.zeros_like(p)
    subnormal_seen = False
    for g in grads:
        v = v * F32(momentum) - F32(lr) * g
        p = p + F32(momentum) * v - F32(lr) * g if nesterov else p + v
        subnormal_seen |= bool(_subnormal(v).any())
    return p, v, subnormal_seen


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.usefixtures("fused")
def test_sgd_flushes_velocities_and_keeps_every_parameter_bit(rng, nesterov):
    # momentum * v rounds back to the smallest subnormal number: without the flush the
    # velocities of zero gradients stay subnormal for good
    p0 = rng.normal(size=64).astype(F32)
    grads = _gradients(rng, 1200)
    expected, v_ref, seen = _sgd_reference(p0, grads, 0.01, 0.9, nesterov)
    assert seen and _subnormal(v_ref).any()  # still subnormal after 1180 zero gradients
    sgd, (p,) = dp.SGD(learning_rate=0.01, momentum=0.9, nesterov=nesterov), [p0]
    for g in grads:
        (p,) = sgd.step([p], [g], xp=np)
        assert not _subnormal(sgd.velocities[0]).any()
    np.testing.assert_array_equal(p, expected)
    np.testing.assert_array_equal(sgd.velocities[0], np.where(_subnormal(v_ref), F32(0), v_ref))


def test_sgd_keeps_float16_velocities_as_they_are():
    # float16's smallest normal number, 6e-5, is too large a step to drop
    sgd = dp.SGD(learning_rate=1e-3, momentum=0.5)
    p, g = np.ones(2, np.float16), np.array([0.01, 0.0], np.float16)
    sgd.step([p], [g], xp=np)
    assert sgd.velocities[0][0] == np.float16(-1e-5) != 0


def test_sgd_on_the_array_api_path_flushes_alike(rng):
    ours, theirs, p, q = _numpy_and_torch(rng, lambda: dp.SGD(momentum=0.9), 1000)
    np.testing.assert_array_equal(theirs.velocities[0].numpy(), ours.velocities[0])
    np.testing.assert_array_equal(q, p)
