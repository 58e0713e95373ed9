"""Divergence: when training has gone numerically wrong, and the probable cause.

One detector serves every solver: the first-order loop (eager steps, the static-buffer
steps that CUDA graphs replay, the Dask engine's rounds) and the L-BFGS driver (in memory
and on Dask). A run *diverges* when, after an iteration,

- its loss is not finite (NaN or infinite);
- its loss *explodes*: it exceeds both ``EXPLOSION_FACTOR`` (1e6) times the run's
  reference loss (its first finite loss) and ``EXPLOSION_FLOOR`` (1e3), the floor that
  keeps a run starting near 0 from being called diverged for a loss of 1e-3;
- its weights are not finite or *overflow*: some ``|w|`` reaches the square root of the
  largest number of their dtype (about 1.3e154 in float64, 1.8e19 in float32), where
  their squares in the L2 penalty, and soon the products of the forward pass, overflow;
- the optimizer's state (momentum velocities, Adam's moments) is not finite: Adam's
  second moment overflows first when the gradient is huge, and its steps are then 0.

The run stops with ``History.stop_reason == "diverged"``, keeps the last weights whose
loss was finite and below the explosion, records a :class:`Divergence` in
``History.divergence`` and warns with a :class:`DivergenceWarning`. The probable cause is
the first of these that holds:

``"initial_weights"``
    The weights training started from already overflow.
``"data"``
    The inputs or the sample weights hold values at or beyond the overflow threshold.
``"penalty"``
    The L2 penalty dominates: ``alpha/2 sum ||W||^2 / sum(w)`` at the weights training
    started from is not finite or is at least half of the first loss.
``"inputs"``
    Feature scales differ wildly (:func:`deltaprop.tabular.check_feature_scales`).
``"learning_rate"``
    Otherwise, for an optimizer with a learning rate.
``"unknown"``
    Otherwise (L-BFGS, which has no learning rate).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from deltaprop.core.diagnostics import check_feature_scales
from deltaprop.core.objective import penalty
from deltaprop.training.history import Divergence, DivergenceWarning, History

__all__ = [
    "EXPLOSION_FACTOR",
    "EXPLOSION_FLOOR",
    "Watch",
    "forget_overflowed_state",
    "largest_magnitude",
    "overflow_threshold",
]

#: A finite loss above this many times the run's first finite loss (and above
#: :data:`EXPLOSION_FLOOR`) has exploded.
EXPLOSION_FACTOR = 1e6
#: The smallest loss that can count as exploded.
EXPLOSION_FLOOR = 1e3


def overflow_threshold(dtype: Any, *, xp: Any = np) -> float:
    """``sqrt(largest finite number of dtype)``: magnitudes whose squares overflow.

    Parameters
    ----------
    dtype : floating dtype of ``xp``
    xp : namespace, default NumPy
        The array library of ``dtype`` (its ``finfo``).

    Returns
    -------
    float
        About 1.34e154 for float64, 1.84e19 for float32, 256 for float16.

    Examples
    --------
    >>> import numpy as np
    >>> f"{overflow_threshold(np.float32):.3g}"
    '1.84e+19'
    """
    return math.sqrt(float(xp.finfo(dtype).max))


def largest_magnitude(arrays: Sequence[Any], *, xp: Any) -> float:
    """The largest ``|value|`` over ``arrays`` (NaN if any holds NaN), in one device sync.

    Parameters
    ----------
    arrays : sequence of arrays of one library
    xp : namespace

    Returns
    -------
    float
        0.0 for no arrays (or only empty ones).
    """
    maxima = [xp.max(xp.abs(a)) for a in arrays if math.prod(a.shape) > 0]
    if not maxima:
        return 0.0
    if len(maxima) == 1:
        return float(maxima[0])
    return float(xp.max(xp.stack([xp.astype(m, maxima[0].dtype) for m in maxima])))


def forget_overflowed_state(optimizer: Any, *, xp: Any) -> bool:
    """``optimizer.reset()`` when its state holds NaN or infinity; True if it did.

    A diverged run can leave Adam's moments infinite: a warm start from them would
    take steps of 0, and a model file cannot store them.
    """
    arrays = optimizer.state_arrays()
    if arrays and not math.isfinite(largest_magnitude(arrays, xp=xp)):
        optimizer.reset()
        return True
    return False


class Watch:
    """The divergence detector of one training run (see the module's docstring).

    Parameters
    ----------
    net : Network
        Its ``alpha`` and dtype decide the penalty and overflow checks.
    X : array of shape (n_samples, n_features) or None
        The training inputs (None: not at hand, as on a Dask cluster).
    sample_weight : array of shape (n_samples,) or None
    total_weight : float or None
        ``sum(sample_weight)`` (or the number of rows), which divides the penalty.
    xp : namespace
        The parameters' array library.

    Attributes
    ----------
    X, sample_weight, total_weight
        As given (the Dask engine sets ``total_weight`` once the row blocks are summed).
    reference_loss : float or None
        The run's first finite loss (set by :meth:`check_loss`, or from the History when
        a run resumes).
    start_params : list of arrays or None
        The weights training started from (set by :meth:`start`).
    """

    def __init__(
        self,
        net: Any,
        X: Any = None,
        sample_weight: Any = None,
        total_weight: float | None = None,
        *,
        xp: Any,
    ) -> None:
        self.net, self.xp = net, xp
        self.X, self.sample_weight, self.total_weight = X, sample_weight, total_weight
        self.reference_loss: float | None = None
        self.start_params: list[Any] | None = None

    # -- detection ---------------------------------------------------------------------
    def start(self, params: Sequence[Any], history: History) -> str | None:
        """Remember where training starts; the problem if its weights already overflow."""
        self.start_params = list(params)
        if history.loss and self.reference_loss is None:  # a resumed run
            finite = [v for v in history.loss if math.isfinite(v)]
            self.reference_loss = finite[0] if finite else None
        return self.check_weights(params)

    def unsound(self, loss: float) -> bool:
        """Whether ``loss`` (an iteration's or a batch's) is not finite or has exploded."""
        if not math.isfinite(loss):
            return True
        reference = self.reference_loss
        if reference is None:
            return False
        return loss > EXPLOSION_FLOOR and loss > EXPLOSION_FACTOR * max(reference, 0.0)

    def check_loss(self, loss: float) -> str | None:
        """What is wrong with an iteration's loss (for the message), or None.

        The first finite loss it sees becomes :attr:`reference_loss`.
        """
        if not self.unsound(loss):
            if self.reference_loss is None:
                self.reference_loss = loss
            return None
        if not math.isfinite(loss):
            return f"the loss became {loss!r}"
        return (
            f"the loss exploded to {loss:.3g} (more than {EXPLOSION_FACTOR:.0e} times "
            f"its first value, {self.reference_loss:.3g})"
        )

    def check_weights(self, params: Sequence[Any], state: Sequence[Any] = ()) -> str | None:
        """What is wrong with the weights (or the optimizer's ``state`` arrays), or None."""
        if not params:
            return None
        largest = largest_magnitude(params, xp=self.xp)
        if not math.isfinite(largest):
            return "the weights became NaN or infinite"
        limit = overflow_threshold(params[0].dtype, xp=self.xp)
        if largest >= limit:
            return f"the weights overflow (largest |w| {largest:.3g} >= {limit:.3g})"
        if state and not math.isfinite(largest_magnitude(state, xp=self.xp)):
            return "the optimizer's state (velocities or moments) became NaN or infinite"
        return None

    # -- the report --------------------------------------------------------------------
    def report(
        self,
        history: History,
        iteration: int,
        problem: str,
        *,
        optimizer: Any,
        batch: int | None = None,
        stacklevel: int = 4,
    ) -> None:
        """Stop with ``"diverged"``: record a :class:`Divergence` and warn, naming the cause.

        Parameters
        ----------
        history : History
        iteration : int
            Counted from 1.
        problem : str
            What :meth:`check_loss` or :meth:`check_weights` found.
        optimizer : Optimizer or LBFGS
            Its ``learning_rate`` (if it has one) is named in the message.
        batch : int, optional
            The batch (from 1) whose loss was not finite.

        Warns
        -----
        DivergenceWarning
        """
        rate = getattr(optimizer, "learning_rate", None)
        cause, advice = self._cause(rate)
        where = f"iteration {iteration}" + (f", batch {batch}" if batch is not None else "")
        with_rate = f" with learning_rate={rate!r}" if rate is not None else ""
        message = (
            f"training diverged at {where}: {problem}{with_rate}; the last weights with a "
            f"finite loss were kept. {advice}"
        )
        history.stop_reason = "diverged"
        history.divergence = Divergence(iteration, batch, problem, cause, advice)
        warnings.warn(message, DivergenceWarning, stacklevel=stacklevel)

    def _cause(self, rate: float | None) -> tuple[str, str]:
        """``(cause, advice)``: the first cause of the module's list that holds."""
        start = self.start_params or []
        if start:
            limit = overflow_threshold(start[0].dtype, xp=self.xp)
            largest = largest_magnitude(start, xp=self.xp)
            if not largest < limit:
                return "initial_weights", (
                    f"Likely cause: the weights it started from overflow (largest |w| "
                    f"{largest:.3g}); start from fresh weights."
                )
        extreme = self._extreme_data()
        if extreme is not None:
            return "data", extreme
        dominant = self._dominant_penalty(start)
        if dominant is not None:
            return "penalty", dominant
        return _scale_or_rate(rate, self.X)

    def _extreme_data(self) -> str | None:
        for name, values in (("X", self.X), ("sample_weight", self.sample_weight)):
            if values is None:
                continue
            xp = self.xp
            largest = largest_magnitude([values], xp=xp)
            limit = overflow_threshold(values.dtype, xp=xp)
            if largest >= limit:
                return (
                    f"Likely cause: {name} holds extreme values (largest magnitude "
                    f"{largest:.3g} >= {limit:.3g}, whose squares overflow); rescale it."
                )
        return None

    def _dominant_penalty(self, start: Sequence[Any]) -> str | None:
        alpha = float(getattr(self.net, "alpha", 0.0))
        if alpha == 0.0 or not start or self.total_weight is None:
            return None
        with np.errstate(over="ignore", invalid="ignore"):
            value, _ = penalty(start, alpha, self.total_weight, xp=self.xp)
            value = float(value)
        reference = self.reference_loss
        if math.isfinite(value):
            if reference is not None and value < 0.5 * reference:
                return None
            if reference is None and value < EXPLOSION_FLOOR:
                return None
        share = ""
        if reference is not None and reference > 0.0 and math.isfinite(value):
            share = f", {min(value / reference, 1.0):.0%} of the first loss"
        return (
            f"Likely cause: the L2 penalty is too large: alpha={alpha:.3g} makes it "
            f"{value:.3g} at the start{share}; lower alpha."
        )


def _scale_or_rate(rate: float | None, X: Any) -> tuple[str, str]:
    if X is None:  # the inputs are not at hand (a Dask cluster holds them)
        if rate is None:
            return "unknown", "Check the data and the loss for extreme values."
        return "learning_rate", "Try a smaller learning rate or standardise the inputs."
    scales = check_feature_scales(X)
    if scales is not None:
        advice = f"Likely cause: unscaled inputs. {scales[0].upper()}{scales[1:]}."
        if rate is not None:
            advice += " Then, if it still diverges, try a smaller learning rate."
        return "inputs", advice
    if rate is not None:
        return "learning_rate", (
            f"Likely cause: the learning rate is too high (the inputs look scaled); try "
            f"learning_rate={rate / 10:.3g} or smaller."
        )
    return "unknown", "Check the data and the loss for extreme values."
