"""What a training run records: :class:`History`, and the warning a diverging run gives."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Divergence", "DivergenceWarning", "History"]


class DivergenceWarning(UserWarning):
    """Training stopped because it diverged (see :mod:`deltaprop.training.divergence`).

    The loss became NaN or infinite or exploded, or the weights (or the optimizer's
    state) overflowed; the message names the iteration and the probable cause, which
    ``History.divergence`` records.
    """


@dataclass
class Divergence:
    """How a training run diverged (:attr:`History.divergence`).

    Attributes
    ----------
    iteration : int
        The iteration (from 1) at which it was found.
    batch : int or None
        The mini-batch (from 1) whose loss was not finite, when one was.
    problem : str
        What was found: ``"the loss became nan"``, ``"the loss exploded to ..."``,
        ``"the weights overflow ..."``...
    cause : str
        The probable cause: ``"initial_weights"``, ``"data"``, ``"penalty"``,
        ``"inputs"`` (unscaled), ``"learning_rate"`` or ``"unknown"``.
    advice : str
        The sentence of the warning that explains the cause and what to try.

    Examples
    --------
    >>> Divergence(3, None, "the loss became nan", "learning_rate", "...").cause
    'learning_rate'
    """

    iteration: int
    batch: int | None
    problem: str
    cause: str
    advice: str


@dataclass
class History:
    """What happened during :func:`~deltaprop.train`.

    Attributes
    ----------
    loss : list of float
        One entry per iteration (epoch): the training loss computed in that iteration,
        before its update. With mini-batches, the sample-weighted mean of the batch
        losses. With L-BFGS, the loss at the iterate each iteration accepted.
    val_loss : list of float
        One entry per iteration when there is validation data (else empty): the
        weighted mean loss on the validation rows, without the L2 penalty and without
        dropout, of the weights at the end of the iteration.
    learning_rate : list of float
        The learning rate used in each iteration (empty for L-BFGS).
    val_score : list of float
        One entry per iteration when a :class:`~deltaprop.training.metrics.ValidationScore`
        is among the callbacks (else empty): its score (accuracy, R², ...) of the
        weights at the end of the iteration.
    divergence : Divergence or None
        With ``stop_reason == "diverged"``: when, what and the probable cause.
    best_iteration : int or None
        With validation data, the iteration (counted from 1) with the lowest
        validation loss; with ``early_stopping=True`` the network ends with its weights.
    stop_reason : str or None
        ``"max_iter"``, ``"target_loss"``, ``"no_improvement"``, ``"early_stopping"``,
        ``"min_learning_rate"``, ``"callback"``, ``"diverged"``, ``"interrupted"``, or for
        L-BFGS also
        ``"converged"``, ``"max_fun"`` and ``"line_search_failed"``.

    Examples
    --------
    >>> history = History(loss=[0.7, 0.5], stop_reason="max_iter")
    >>> history.n_iter
    2
    """

    loss: list[float] = field(default_factory=list)
    stop_reason: str | None = None
    val_loss: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    best_iteration: int | None = None
    val_score: list[float] = field(default_factory=list)
    divergence: Divergence | None = None

    @property
    def n_iter(self) -> int:
        """Number of completed iterations (epochs)."""
        return len(self.loss)
