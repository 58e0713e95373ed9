"""The defaults of the low-level API, shared with the estimators where they agree.

``deltaprop.train(net, X, y)`` with nothing else given trains with :func:`default_optimizer`
(``Adam(learning_rate=1e-3)``) in mini-batches of :func:`auto_batch_size` rows (``min(200,
n_samples)``) for 200 epochs: scikit-learn's ``solver="adam"``, ``learning_rate_init``,
``batch_size="auto"`` and ``max_iter`` defaults, which the estimators keep as their
parameters' defaults (:mod:`deltaprop.estimators.plan` reads :func:`auto_batch_size` from
here). The initial weights of both are :func:`deltaprop.core.initializers.glorot_parameters`
(``init="auto"``). The comparison that chose them is in BENCHMARKS.md
(``benchmarks/images.py``).

What stays apart, on purpose: the estimators' ``alpha=1e-4`` and their stop rule
(``tol=1e-4``, ``n_iter_no_change=10``) are scikit-learn parameters; a
:class:`~deltaprop.Network` defaults to ``alpha=0`` (the measured accuracy is the same,
and the objective stays the plain loss) and ``train`` stops on ``max_iter`` unless
``tol`` or ``early_stopping`` is given.
"""

from __future__ import annotations

from deltaprop.optim.optimizers import Adam

__all__ = ["BATCH_SIZE", "MAX_ITER", "auto_batch_size", "default_optimizer"]

#: The largest mini-batch :func:`auto_batch_size` gives (scikit-learn's ``"auto"``).
BATCH_SIZE = 200
#: ``train``'s and the estimators' default number of iterations (epochs).
MAX_ITER = 200


def auto_batch_size(n_samples: int) -> int:
    """``batch_size="auto"``: ``min(200, n_samples)`` rows per mini-batch.

    Examples
    --------
    >>> auto_batch_size(5000), auto_batch_size(150)
    (200, 150)
    """
    return min(BATCH_SIZE, int(n_samples))


def default_optimizer() -> Adam:
    """A fresh ``Adam(learning_rate=1e-3)``: ``train``'s optimizer when none is given."""
    return Adam(learning_rate=1e-3)
