"""Data-parallel training on a Dask cluster (``pip install "deltaprop[dask]"``).

The loss is a weighted sum over samples, so the full-batch gradient is exactly the sum
of per-block gradient sums: :func:`train` persists aligned blocks of ``X``, ``y`` and
the sample weights on the workers, lets every block compute its share with the same
core functions as single-process training, reduces the shares with a tree of additions
and updates the parameters on the client. Dask is imported only when :func:`train`
runs.

When the blocks do not fit in the workers' memory, :func:`train` streams them: each pass
recomputes every block from its source (a Parquet partition, say) and releases it
(``data="stream"``; ``"auto"`` decides from the workers' memory limits, see
:func:`plan_data` and :class:`DataPlan`). A worker lost while training raises a
:class:`WorkerMemoryError` that names memory; so does every other pass over the
workers' data (:func:`watched_compute`: the summaries computed before training).

>>> from deltaprop.parallel import SOLVERS
>>> SOLVERS
('gd', 'lbfgs', 'local_sgd')
"""

from deltaprop.parallel._blocks import BlockScore, flatten, unflatten
from deltaprop.parallel._dask import (
    SOLVERS,
    client_for,
    held_out_blocks,
    is_dask_collection,
    train,
)
from deltaprop.parallel._memory import (
    DATA_MODES,
    DataPlan,
    WorkerMemoryError,
    lost_workers_named,
    plan_data,
    watched_compute,
)

__all__ = [
    "DATA_MODES",
    "SOLVERS",
    "BlockScore",
    "DataPlan",
    "WorkerMemoryError",
    "client_for",
    "flatten",
    "held_out_blocks",
    "is_dask_collection",
    "lost_workers_named",
    "plan_data",
    "train",
    "unflatten",
    "watched_compute",
]
