"""Small data sets for learning how a network learns, drawn with NumPy from a seed.

Five classification problems in the plane, as in TensorFlow Playground, and one
regression on a line:

==========  ==============================================================  ======
name        what                                                            rows
==========  ==============================================================  ======
xor         points in the four quadrants, class 1 where ``x1 * x2 > 0``     200
circles     a disc inside a ring                                            200
moons       two interleaved half circles                                    200
spirals     two intertwined spirals (hard: try ``--hidden 16,16``)          300
linear      two clouds a straight line separates                            200
sine        ``y = sin(x)`` plus noise, ``x`` in [-3, 3] (regression)        100
==========  ==============================================================  ======

The classification sets give ``y`` as 0/1 (one sigmoid output), the regression set ``y``
as numbers (one identity output). Every set is roughly centred on 0 with a spread of
about 1, so the inputs need no scaling. ``deltaprop serve --toy NAME`` serves one, and
the live page's data menu switches between them.

Examples
--------
>>> from deltaprop.live.toys import toy
>>> data = toy("xor", seed=0)
>>> data.X.shape, data.y.shape, data.task, data.class_names
((200, 2), (200,), 'binary', ['0', '1'])
>>> bool(((data.X[:, 0] * data.X[:, 1] > 0) == (data.y == 1)).all())
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from deltaprop.core.initializers import make_rng

__all__ = ["TOYS", "Toy", "toy"]


@dataclass
class Toy:
    """One toy data set.

    Attributes
    ----------
    name : str
    X : ndarray of shape (n_samples, n_inputs)
        Two inputs (one for ``sine``).
    y : ndarray of shape (n_samples,)
        0/1 labels (``task == "binary"``) or numbers (``"regression"``).
    task : {"binary", "regression"}
    feature_names : list of str
    class_names : list of str or None
    target_name : str
    description : str
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    task: str
    feature_names: list[str]
    class_names: list[str] | None
    target_name: str
    description: str


def _xor(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = rng.uniform(-1.0, 1.0, size=(200, 2))
    X += np.sign(X) * 0.08  # a small gap along the axes, where the label flips
    return X, (X[:, 0] * X[:, 1] > 0).astype(np.float64)


def _circles(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = 200
    label = np.repeat([1.0, 0.0], n // 2)
    radius = np.where(label == 1, rng.uniform(0.0, 0.5, n), rng.uniform(0.75, 1.1, n))
    angle = rng.uniform(0.0, 2.0 * np.pi, n)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    return X, label


def _moons(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = 200
    label = np.repeat([0.0, 1.0], n // 2)
    t = rng.uniform(0.0, np.pi, n)
    X = np.column_stack(
        [
            np.where(label == 0, np.cos(t), 1.0 - np.cos(t)) - 0.5,
            np.where(label == 0, np.sin(t), 0.5 - np.sin(t)) - 0.25,
        ]
    )
    return X + rng.normal(0.0, 0.1, X.shape), label


def _spirals(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = 150
    t = np.sqrt(rng.uniform(0.0, 1.0, n)) * 3.0 * np.pi  # denser near the centre's end
    arms = []
    for k in range(2):
        angle = t + k * np.pi
        arms.append(np.column_stack([t * np.cos(angle), t * np.sin(angle)]) / (3.0 * np.pi))
    X = np.vstack(arms) + rng.normal(0.0, 0.02, (2 * n, 2))
    return X, np.repeat([0.0, 1.0], n)


def _linear(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = 200
    label = np.repeat([0.0, 1.0], n // 2)
    centres = np.where(label[:, None] == 1, [[0.45, 0.3]], [[-0.45, -0.3]])
    return centres + rng.normal(0.0, 0.3, (n, 2)), label


def _sine(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = np.sort(rng.uniform(-3.0, 3.0, 100))
    return x[:, None], np.sin(x) + rng.normal(0.0, 0.1, x.size)


#: name -> (generator, task, description).
TOYS: dict[str, tuple[Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]], str, str]] = {
    "xor": (_xor, "binary", "XOR: class 1 where x1 and x2 have the same sign"),
    "circles": (_circles, "binary", "a disc inside a ring"),
    "moons": (_moons, "binary", "two interleaved half circles"),
    "spirals": (_spirals, "binary", "two intertwined spirals"),
    "linear": (_linear, "binary", "two clouds a straight line separates"),
    "sine": (_sine, "regression", "y = sin(x) + noise"),
}


def toy(name: str, seed: int | np.random.Generator | None = 0) -> Toy:
    """Draw the toy data set ``name``.

    Parameters
    ----------
    name : {"xor", "circles", "moons", "spirals", "linear", "sine"}
    seed : int, numpy Generator or None, default 0
        The same seed gives the same rows.

    Returns
    -------
    Toy

    Raises
    ------
    ValueError
        For an unknown ``name``.
    """
    if name not in TOYS:
        raise ValueError(f"toy data set must be one of {list(TOYS)}, got {name!r}")
    make, task, description = TOYS[name]
    X, y = make(make_rng(seed))
    if task == "binary":
        return Toy(name, X, y, task, ["x1", "x2"], ["0", "1"], "class", description)
    return Toy(name, X, y, task, ["x"], None, "y", description)
