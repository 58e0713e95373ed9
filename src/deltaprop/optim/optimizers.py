"""Optimizers: how a gradient becomes a parameter update.

Each optimizer takes its hyper-parameters in ``__init__`` (validated there) and creates
its state (velocities, moments) on the first :meth:`Optimizer.step`, in the array
library, dtype and device of the parameters. ``learning_rate`` is a plain attribute so
that schedules can change it between steps.

Parameters and gradients travel as flat lists ``[W_0, b_0, W_1, b_1, ...]``; ``step``
returns the updated list and never modifies its inputs.

The state survives across calls to :func:`deltaprop.train`: passing the same optimizer
object again continues with its velocities or moments (a warm start);
:meth:`Optimizer.reset` forgets them. :meth:`Optimizer.state_dict` and
:meth:`Optimizer.load_state_dict` copy the hyper-parameters and the state out and in
(arrays as NumPy copies) for checkpoints.

:class:`LBFGS` is different: a full-batch quasi-Newton method run by SciPy, which
:func:`deltaprop.train` drives as a whole rather than step by step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from deltaprop.core.arrays import array_namespace, device, from_numpy, is_numpy, to_numpy
from deltaprop.core.validation import check_number, check_state
from deltaprop.optim.fused import fused_adam, fused_arrays, fused_sgd

__all__ = ["LBFGS", "OPTIMIZERS", "SGD", "Adam", "Optimizer"]


class Optimizer:
    """Base class for first-order optimizers.

    Subclasses list their hyper-parameters in ``_hyper_parameters``, their scalar state
    in ``_scalar_state`` and their per-parameter array state (lists of arrays shaped like
    the parameters, or None before the first step) in ``_array_state``.
    """

    learning_rate: float
    _hyper_parameters: tuple[str, ...] = ("learning_rate",)
    _scalar_state: tuple[str, ...] = ()
    _array_state: tuple[str, ...] = ()

    def step(self, params: Sequence[Any], grads: Sequence[Any], *, xp: Any) -> list[Any]:
        """Return updated parameters from the current ones and their gradients."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the state (velocities, moments, step count)."""

    def state_arrays(self) -> list[Any]:
        """Every array of the state (velocities, moments); empty before the first step.

        Returns
        -------
        list of arrays
            In ``_array_state``'s order, each shaped like its parameter; not copies.
        """
        return [a for key in self._array_state for a in (getattr(self, key) or ())]

    def keep_members(self, positions: Sequence[int]) -> None:
        """Keep the state of the stacked networks at ``positions`` only.

        For networks trained side by side (:mod:`deltaprop.training.members`), whose
        parameters, and so this state, carry a leading axis of one entry per network:
        when some stop, the others continue with their own velocities or moments.

        Parameters
        ----------
        positions : sequence of int
            Entries of the leading axis to keep, in the order to keep them.
        """
        for key in self._array_state:
            arrays = getattr(self, key)
            if arrays is not None:
                setattr(self, key, [a[list(positions)] for a in arrays])

    # The step split in two, for the static-buffer step of deltaprop.kernels.cuda_graph: the
    # scalars of a step (advancing the step count) as Python floats, and the update as
    # a function of parameters, gradients, state and those scalars. The scalars may be
    # 0-D arrays of the parameters' dtype instead (same numbers: a Python float meets a
    # float32 array as float32).
    _scalar_names: tuple[str, ...] = ("learning_rate",)

    @property
    def _state_keys(self) -> tuple[str, ...]:
        """The array states :meth:`_update` reads and returns."""
        return self._array_state

    def _start_step(self) -> dict[str, float]:
        """The scalars of the next step, keyed by ``_scalar_names``; advances the step count."""
        # a Python float: a schedule's NumPy scalar would change NumPy's arithmetic (NEP 50)
        return {"learning_rate": float(self.learning_rate)}

    def _update(
        self,
        params: Sequence[Any],
        grads: Sequence[Any],
        state: dict[str, list[Any]],
        scalars: dict[str, Any],
        *,
        xp: Any,
    ) -> tuple[list[Any], dict[str, list[Any]]]:
        """New parameters and new state (new arrays; nothing is modified)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Hyper-parameters and state, with arrays copied to NumPy.

        Returns
        -------
        dict
            ``"name"`` (the class name), each hyper-parameter, each scalar state and each
            array state (a list of NumPy arrays, or None before the first step).
        """
        out: dict[str, Any] = {"name": type(self).__name__}
        for key in self._hyper_parameters + self._scalar_state:
            out[key] = getattr(self, key)
        for key in self._array_state:
            arrays = getattr(self, key)
            out[key] = None if arrays is None else [to_numpy(a).copy() for a in arrays]
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (hyper-parameters are re-validated).

        Raises
        ------
        ValueError
            When ``state`` belongs to another optimizer class or lacks a key.
        """
        keys = self._hyper_parameters + self._scalar_state + self._array_state
        check_state(state, self, "optimizer", keys)
        type(self).__init__(self, **{key: state[key] for key in self._hyper_parameters})
        for key in self._scalar_state:
            setattr(self, key, state[key])
        for key in self._array_state:
            arrays = state[key]
            setattr(self, key, None if arrays is None else [to_numpy(a).copy() for a in arrays])

    def _match_state(self, params: Sequence[Any], *, xp: Any) -> None:
        """Move array state to the parameters' library, dtype and device; check shapes.

        Called by :func:`deltaprop.train` before the first step of each call, so a state
        loaded as NumPy arrays (or kept from a run in another dtype) keeps working.
        """
        for key in self._array_state:
            arrays = getattr(self, key)
            if arrays is None:
                continue
            shapes = [tuple(p.shape) for p in params]
            if [tuple(a.shape) for a in arrays] != shapes:
                raise ValueError(
                    f"the optimizer's {key} do not match the network's parameters "
                    f"(shapes {[tuple(a.shape) for a in arrays]} vs {shapes}); call "
                    "optimizer.reset() to use it on another network"
                )
            moved = []
            for a, p in zip(arrays, params, strict=True):
                if array_namespace(a) is not xp or device(a) != device(p):
                    a = from_numpy(to_numpy(a), xp=xp, dtype=p.dtype, device=device(p))
                elif a.dtype != p.dtype:
                    a = xp.astype(a, p.dtype)
                moved.append(a)
            setattr(self, key, moved)


class SGD(Optimizer):
    """Gradient descent, optionally with classical or Nesterov momentum.

    Without momentum a step is exactly ``w <- w - learning_rate * g``. With momentum::

        v <- momentum * v - learning_rate * g
        w <- w + v                                  (classical)
        w <- w + momentum * v - learning_rate * g   (Nesterov, with the new v)

    A velocity smaller in magnitude than the dtype's smallest normal number (1.2e-38 in
    float32) is stored as 0. Where a gradient stays 0 (a ReLU unit that no longer
    fires) the velocity shrinks by ``momentum`` at every step into subnormal numbers,
    and stays there: ``momentum * v`` rounds back to the smallest of them, on which the
    processor computes 3 to 30 times slower, for the rest of the run. Adding a velocity
    that small leaves every float32 parameter larger than about 2e-31 as it was, and
    the next velocity, ``momentum * 0 - learning_rate * g``, equals the one computed
    from the subnormal number whenever ``learning_rate * g`` is at least 4e-31 in
    magnitude (the subnormal part is under half a unit in its last place). Only dtypes
    whose smallest normal number is below 1e-20 times their machine epsilon flush
    (float32, float64; not float16). See :class:`Adam` for the same in its moments.

    Parameters
    ----------
    learning_rate : float, default 0.1
    momentum : float in [0, 1), default 0.0
    nesterov : bool, default False

    Examples
    --------
    >>> import numpy as np
    >>> SGD(learning_rate=0.5).step([np.array([1.0])], [np.array([0.2])], xp=np)
    [array([0.9])]
    """

    _hyper_parameters = ("learning_rate", "momentum", "nesterov")
    _array_state = ("velocities",)

    def __init__(
        self, learning_rate: float = 0.1, momentum: float = 0.0, nesterov: bool = False
    ) -> None:
        self.learning_rate = check_number("learning_rate", learning_rate, low=0.0, low_open=True)
        self.momentum = check_number("momentum", momentum, low=0.0)
        if self.momentum >= 1.0:
            raise ValueError(f"momentum must be < 1, got {momentum!r}")
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov must be a bool, got {nesterov!r}")
        if nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.nesterov = nesterov
        self.velocities: list[Any] | None = None

    def reset(self) -> None:
        self.velocities = None

    @property
    def _state_keys(self) -> tuple[str, ...]:
        return () if self.momentum == 0.0 else ("velocities",)

    def step(self, params, grads, *, xp):
        scalars = self._start_step()
        if self.momentum == 0.0:
            return self._update(params, grads, {}, scalars, xp=xp)[0]
        if self.velocities is None:
            self.velocities = [xp.zeros_like(p) for p in params]
        if not is_numpy(xp):
            new, state = self._update(
                params, grads, {"velocities": self.velocities}, scalars, xp=xp
            )
            self.velocities = state["velocities"]
            return new
        # NumPy: the operations of _update in place, no new velocity arrays every step;
        # with Numba, in one compiled pass per parameter (deltaprop.optim.fused)
        lr, m = scalars["learning_rate"], self.momentum
        fused = fused_sgd(sum(p.size for p in params))
        out = []
        for p, g, v in zip(params, grads, self.velocities, strict=True):
            below = _velocity_flush(np.finfo(v.dtype))
            if fused is not None and fused_arrays(p, g, v):
                new = np.empty_like(p)
                kind = p.dtype.type
                flat = (p.ravel(), g.ravel(), v.ravel(), new.ravel())
                fused(*flat, kind(m), kind(lr), self.nesterov, kind(below))
                out.append(new)
                continue
            v *= m
            scratch = lr * g
            v -= scratch
            if below:
                np.copyto(v, 0, where=np.abs(v, out=scratch) < below)
            out += self._apply_velocities([p], [g], [v], lr)
        return out

    def _update(self, params, grads, state, scalars, *, xp):
        lr = scalars["learning_rate"]
        if self.momentum == 0.0:
            return [p - lr * g for p, g in zip(params, grads, strict=True)], {}
        m = self.momentum
        velocities = [
            _flushed(m * v - lr * g, _velocity_flush(xp.finfo(v.dtype)), xp)
            for v, g in zip(state["velocities"], grads, strict=True)
        ]
        return self._apply_velocities(params, grads, velocities, lr), {"velocities": velocities}

    def _apply_velocities(self, params, grads, velocities, lr):
        m = self.momentum
        if self.nesterov:
            return [p + m * v - lr * g for p, v, g in zip(params, velocities, grads, strict=True)]
        return [p + v for p, v in zip(params, velocities, strict=True)]

    def __repr__(self) -> str:
        return (
            f"SGD(learning_rate={self.learning_rate!r}, momentum={self.momentum!r}, "
            f"nesterov={self.nesterov!r})"
        )


class Adam(Optimizer):
    """Adam (Kingma & Ba, Algorithm 1), with optional decoupled weight decay (AdamW).

    For step ``t = 1, 2, ...``::

        w <- w - learning_rate * weight_decay * w      (only when weight_decay > 0)
        m <- beta_1 m + (1 - beta_1) g
        v <- beta_2 v + (1 - beta_2) g^2
        w <- w - learning_rate * m_hat / (sqrt(v_hat) + epsilon)

    with ``m_hat = m / (1 - beta_1^t)`` and ``v_hat = v / (1 - beta_2^t)``. The decay is
    applied to every parameter, as ``torch.optim.AdamW`` does.

    A moment smaller in magnitude than the dtype's smallest normal number (1.2e-38 in
    float32) is stored as 0. Such subnormal numbers appear where a gradient stays 0 (a
    ReLU unit that no longer fires): its moments shrink by ``beta_1`` and ``beta_2`` at
    every step, and the processor computes on subnormal numbers 10 to 30 times slower
    (most of one small table's fit went to them). In the step that stores the 0, the
    parameter moves as it would have: a second moment that small leaves ``sqrt(v_hat) +
    epsilon`` at ``epsilon``, and a first moment that small moves a parameter by at most
    ``learning_rate * 1.2e-38 / ((1 - beta_1) * epsilon)`` (1.2e-29 times the learning
    rate with the defaults, so only a parameter within about 1e-21 times the learning
    rate of 0 can feel it). Later steps start from 0 instead of the subnormal number;
    that can change the last bit of a parameter when its gradient comes back at a
    magnitude near 1e-14 or below (float32) and the parameter is about as small as its
    step or smaller (found for parameters of 1e-8 with a learning rate of 1e-3, not
    found for parameters of 1e-4 or more). With an ``epsilon`` too small for the
    argument on the second moment (below 1.6e-10 in float32 with the default
    ``beta_2``), nothing is flushed; float16 never is. The flush is part of the
    arithmetic: the same seed still gives the same bits. A processor in flush-to-zero
    mode, TensorFlow's default on CPUs, does the same to every operation.

    Parameters
    ----------
    learning_rate : float, default 1e-3
    beta_1, beta_2 : float in [0, 1), defaults 0.9 and 0.999
    epsilon : float > 0, default 1e-8
    weight_decay : float >= 0, default 0.0

    Examples
    --------
    The first step moves every parameter by about ``learning_rate`` against the sign
    of its gradient (``m_hat / sqrt(v_hat) = g / |g|``):

    >>> import numpy as np
    >>> Adam(learning_rate=0.1).step([np.array([1.0, 1.0])], [np.array([0.5, -2.0])], xp=np)
    [array([0.9, 1.1])]
    """

    _hyper_parameters = ("learning_rate", "beta_1", "beta_2", "epsilon", "weight_decay")
    _scalar_state = ("t",)
    _array_state = ("first_moments", "second_moments")

    def __init__(
        self,
        learning_rate: float = 1e-3,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        self.learning_rate = check_number("learning_rate", learning_rate, low=0.0, low_open=True)
        self.beta_1 = check_number("beta_1", beta_1, low=0.0)
        self.beta_2 = check_number("beta_2", beta_2, low=0.0)
        for name, value in (("beta_1", self.beta_1), ("beta_2", self.beta_2)):
            if value >= 1.0:
                raise ValueError(f"{name} must be < 1, got {value!r}")
        self.epsilon = check_number("epsilon", epsilon, low=0.0, low_open=True)
        self.weight_decay = check_number("weight_decay", weight_decay, low=0.0)
        self.t = 0
        self.first_moments: list[Any] | None = None
        self.second_moments: list[Any] | None = None

    def reset(self) -> None:
        self.t = 0
        self.first_moments = self.second_moments = None

    _scalar_names = ("learning_rate", "decay", "correction_1", "correction_2")

    def _start_step(self):
        self.t += 1
        lr = float(self.learning_rate)
        return {
            "learning_rate": lr,
            "decay": lr * self.weight_decay,
            "correction_1": 1.0 - self.beta_1**self.t,
            "correction_2": 1.0 - self.beta_2**self.t,
        }

    def step(self, params, grads, *, xp):
        if self.first_moments is None:
            self.first_moments = [xp.zeros_like(p) for p in params]
            self.second_moments = [xp.zeros_like(p) for p in params]
        scalars = self._start_step()
        if is_numpy(xp):
            return self._step_numpy(
                params,
                grads,
                self.first_moments,
                self.second_moments,
                scalars["correction_1"],
                scalars["correction_2"],
            )
        state = {"first_moments": self.first_moments, "second_moments": self.second_moments}
        out, state = self._update(params, grads, state, scalars, xp=xp)
        self.first_moments, self.second_moments = state["first_moments"], state["second_moments"]
        return out

    def _update(self, params, grads, state, scalars, *, xp):
        b1, b2, lr = self.beta_1, self.beta_2, scalars["learning_rate"]
        correction_1, correction_2 = scalars["correction_1"], scalars["correction_2"]
        first = [
            b1 * m + (1.0 - b1) * g for m, g in zip(state["first_moments"], grads, strict=True)
        ]
        second = [
            b2 * v + (1.0 - b2) * (g * g)
            for v, g in zip(state["second_moments"], grads, strict=True)
        ]
        flush = [self._flush_below(xp.finfo(p.dtype)) for p in params]
        first = [_flushed(m, below, xp) for m, below in zip(first, flush, strict=True)]
        second = [_flushed(v, below, xp) for v, below in zip(second, flush, strict=True)]
        out = []
        for p, m, v in zip(params, first, second, strict=True):
            if self.weight_decay > 0.0:
                p = p - scalars["decay"] * p
            step = (m / correction_1) / (xp.sqrt(v / correction_2) + self.epsilon)
            out.append(p - lr * step)
        return out, {"first_moments": first, "second_moments": second}

    def _step_numpy(self, params, grads, first_moments, second_moments, correction_1, correction_2):
        # The operations of `step` in the same order (so the same bits), written into the
        # moments, the result and one scratch array instead of ten temporaries; with Numba,
        # in one compiled pass per parameter (deltaprop.optim.fused). (Splitting the update
        # over two threads was measured: slower, it fights BLAS's own threads.)
        outs = [np.empty_like(p) for p in params]
        fused = fused_adam(sum(p.size for p in params))
        scalars: dict[Any, tuple] = {}  # per dtype
        for p, g, m, v, out in zip(params, grads, first_moments, second_moments, outs, strict=True):
            if fused is not None and fused_arrays(p, g, m, v, out):
                if p.dtype not in scalars:
                    scalars[p.dtype] = self._fused_scalars(p.dtype.type, correction_1, correction_2)
                fused(p.ravel(), g.ravel(), m.ravel(), v.ravel(), out.ravel(), *scalars[p.dtype])
            else:
                self._update_numpy(p, g, m, v, out, correction_1, correction_2)
        return outs

    def _flush_below(self, info: Any) -> float:
        """The magnitude under which moments are stored as 0 (see the class docstring).

        ``info`` is the ``finfo`` of the parameters' dtype. Returns its smallest normal
        number, or 0 when ``epsilon`` is too small: the flush is kept only where a second
        moment below it gives ``sqrt(v_hat) < epsilon * eps / 4``, under half a unit in
        the last place of ``epsilon`` (``v_hat <= 2 v / (1 - beta_2)``: the bias
        correction is at least ``1 - beta_2``, give or take its rounding).
        """
        tiny = float(info.smallest_normal)
        if math.sqrt(2.0 * tiny / (1.0 - self.beta_2)) < self.epsilon * float(info.eps) / 4:
            return tiny
        return 0.0

    def _fused_scalars(self, dtype, correction_1, correction_2) -> tuple:
        """The scalars of the compiled update, cast to the arrays' dtype as NumPy casts them."""
        b1, b2, lr = self.beta_1, self.beta_2, float(self.learning_rate)
        decay = lr * self.weight_decay if self.weight_decay > 0.0 else 0.0
        flush = self._flush_below(np.finfo(dtype))
        values = (b1, 1.0 - b1, b2, 1.0 - b2, correction_1, correction_2, self.epsilon, lr, decay)
        return tuple(dtype(x) for x in (*values, flush))

    def _update_numpy(self, p, g, m, v, out, correction_1, correction_2):
        b1, b2, lr = self.beta_1, self.beta_2, float(self.learning_rate)
        flush = self._flush_below(np.finfo(p.dtype))
        scratch = np.multiply(g, 1.0 - b1)
        m *= b1
        m += scratch
        if flush:
            np.copyto(m, 0, where=np.abs(m, out=scratch) < flush)
        np.multiply(g, g, out=scratch)
        scratch *= 1.0 - b2
        v *= b2
        v += scratch
        if flush:
            np.copyto(v, 0, where=v < flush)
        np.divide(v, correction_2, out=scratch)
        np.sqrt(scratch, out=scratch)
        scratch += self.epsilon
        np.divide(m, correction_1, out=out)
        out /= scratch
        out *= lr
        if self.weight_decay > 0.0:
            np.multiply(p, lr * self.weight_decay, out=scratch)
            np.subtract(p, scratch, out=scratch)
            np.subtract(scratch, out, out=out)
        else:
            np.subtract(p, out, out=out)

    def __repr__(self) -> str:
        return (
            f"Adam(learning_rate={self.learning_rate!r}, beta_1={self.beta_1!r}, "
            f"beta_2={self.beta_2!r}, epsilon={self.epsilon!r}, "
            f"weight_decay={self.weight_decay!r})"
        )


def _velocity_flush(info: Any) -> float:
    """The magnitude under which SGD stores a velocity as 0 (see :class:`SGD`): the
    smallest normal number of the dtype ``info`` describes, or 0 where that is not
    below 1e-20 times its machine epsilon (float16)."""
    tiny = float(info.smallest_normal)
    return tiny if tiny < 1e-20 * float(info.eps) else 0.0


def _flushed(a: Any, below: float, xp: Any) -> Any:
    """``a`` with the entries smaller than ``below`` in magnitude set to 0 (NaN kept)."""
    if not below:
        return a
    return xp.where(xp.abs(a) < below, xp.zeros_like(a), a)


#: The first-order optimizers by class name: what checkpoints and model files rebuild.
OPTIMIZERS: dict[str, type[Optimizer]] = {"SGD": SGD, "Adam": Adam}


class LBFGS:
    """Full-batch L-BFGS through ``scipy.optimize.minimize(method="L-BFGS-B")``.

    :func:`deltaprop.train` hands the whole run to SciPy: the objective is the network's
    loss on all training rows as a function of the flattened parameters
    ``[W_0.ravel(), b_0, W_1.ravel(), b_1, ...]`` (in float64), with backpropagation's
    gradient. ``History.loss`` gets one entry per L-BFGS iteration: the loss at the
    iterate that iteration accepted. The stop reason is ``"converged"`` (SciPy's
    gradient or relative-reduction test passed), ``"max_iter"``, ``"max_fun"``,
    ``"line_search_failed"`` (SciPy's abnormal termination, usually at the limit of
    floating-point precision near a minimum), or one of :func:`deltaprop.train`'s own
    per-iteration rules (``"target_loss"``, ``"no_improvement"``, ``"early_stopping"``,
    ``"callback"``). L-BFGS keeps no state between calls; within a run, a
    :class:`~deltaprop.Checkpoint` saves L-BFGS-B's workspace so that ``resume`` continues
    it exactly (SciPy >= 1.15).

    Parameters
    ----------
    max_iter : int or None, default None
        Maximum number of iterations; None uses ``train``'s ``max_iter``.
    tol : float > 0, default 1e-4
        Stop when the largest absolute gradient component is ``<= tol`` (SciPy's
        ``gtol``; scikit-learn's MLP passes its ``tol`` here too).
    max_fun : int, default 15000
        Maximum number of loss-and-gradient evaluations (SciPy's ``maxfun``).
    memory : int, default 10
        Number of correction pairs kept (SciPy's ``maxcor``).

    Raises
    ------
    ImportError
        When SciPy is not installed (``pip install "deltaprop[scipy]"``).

    Examples
    --------
    >>> import numpy as np
    >>> import deltaprop as dp
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([1.0, 3.0, 5.0, 7.0])
    >>> net = dp.Network([dp.Dense(1, 1, "identity")], loss="squared_error", random_state=0)
    >>> history = dp.train(net, X, y, optimizer=dp.LBFGS(tol=1e-10))
    >>> history.stop_reason, np.round(net.layers[0].weights, 6), np.round(net.layers[0].bias, 6)
    ('converged', array([[2.]]), array([1.]))
    """

    #: What a checkpoint records of it (a resumed run with other values is refused)
    _hyper_parameters: tuple[str, ...] = ("max_iter", "tol", "max_fun", "memory")

    def __init__(
        self,
        max_iter: int | None = None,
        tol: float = 1e-4,
        max_fun: int = 15000,
        memory: int = 10,
    ) -> None:
        _import_scipy_optimize()
        self.max_iter = check_number("max_iter", max_iter, low=1, integer=True, allow_none=True)
        self.tol = check_number("tol", tol, low=0.0, low_open=True)
        self.max_fun = check_number("max_fun", max_fun, low=1, integer=True)
        self.memory = check_number("memory", memory, low=1, integer=True)

    def minimize(self, fun, x0, *, max_iter: int, callback=None):
        """Run SciPy's L-BFGS-B.

        Parameters
        ----------
        fun : callable
            ``fun(x) -> (loss, gradient)`` for a float64 NumPy vector ``x``.
        x0 : ndarray of shape (n_parameters,)
        max_iter : int
            Used when ``self.max_iter`` is None.
        callback : callable, optional
            ``callback(x)`` after each iteration.

        Returns
        -------
        scipy.optimize.OptimizeResult
        """
        optimize = _import_scipy_optimize()
        return optimize.minimize(
            fun,
            x0,
            method="L-BFGS-B",
            jac=True,
            callback=callback,
            options={
                "maxiter": self.max_iter if self.max_iter is not None else max_iter,
                "maxfun": self.max_fun,
                "gtol": self.tol,
                "maxcor": self.memory,
            },
        )

    def stop_reason(self, result: Any, max_iter: int) -> str:
        """``History.stop_reason`` for SciPy's result (``max_iter``: train's limit)."""
        limit = self.max_iter if self.max_iter is not None else max_iter
        if result.status == 0:
            return "converged"
        if result.status == 1:
            return "max_iter" if result.nit >= limit else "max_fun"
        return "line_search_failed"

    def __repr__(self) -> str:
        return (
            f"LBFGS(max_iter={self.max_iter!r}, tol={self.tol!r}, max_fun={self.max_fun!r}, "
            f"memory={self.memory!r})"
        )


def _import_scipy_optimize():
    try:
        import scipy.optimize
    except ImportError:
        raise ImportError(
            'LBFGS needs SciPy, an optional dependency: pip install "deltaprop[scipy]"'
        ) from None
    return scipy.optimize
