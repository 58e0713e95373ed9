"""Data-parallel training on a Dask cluster (``pip install "deltaprop[dask]"``).

The loss is a weighted sum over samples, so the full-batch gradient is exactly the sum
of per-block gradient sums: :func:`train` persists aligned blocks of ``X``, ``y`` and
the sample weights on the workers, lets every block compute its share with the same
core functions as single-process training, reduces the shares with a tree of additions
and updates the parameters on the client. Dask is imported only when :func:`train`
runs.

>>> from deltaprop.parallel import SOLVERS
>>> SOLVERS
('gd', 'lbfgs', 'local_sgd')
"""

from deltaprop.parallel._blocks import flatten, unflatten
from deltaprop.parallel._dask import (
    SOLVERS,
    client_for,
    held_out_blocks,
    is_dask_collection,
    train,
)

__all__ = [
    "SOLVERS",
    "client_for",
    "flatten",
    "held_out_blocks",
    "is_dask_collection",
    "train",
    "unflatten",
]
