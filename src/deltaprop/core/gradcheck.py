"""Checking backpropagation against central finite differences.

For every parameter ``p`` the central difference ``D(h) = (L(p + h) - L(p - h)) / (2 h)``
approximates ``dL/dp`` with an error of order ``h^2``. Near a pole of the loss (an
output close to 0 or 1 under a cross-entropy) that error alone can reach 1e-6, so two
central differences are combined, ``(4 D(h/2) - D(h)) / 3`` (Richardson extrapolation),
leaving an error of order ``h^4``: in float64 with ``h = 1e-5`` backprop and the
numbers agree to about 1e-9 relative when the backward pass is right.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deltaprop.core.arrays import to_numpy
from deltaprop.core.network import Network

__all__ = ["check_gradients", "finite_difference"]


def check_gradients(
    net: Network, X: Any, y: Any, sample_weight: Any = None, *, epsilon: float = 1e-5
) -> float:
    """Largest relative difference between backprop and finite-difference gradients.

    Everything is computed in float64 NumPy on copies of the network's parameters
    (the network is left unchanged). For each parameter array ``g`` (backprop) and
    ``n`` (numerical), the relative difference is ``||g - n|| / max(||g||, ||n||)``
    (0 when both vanish); the largest over all arrays is returned.

    Parameters
    ----------
    net : Network
    X : array of shape (n_samples, n_inputs)
    y : array of shape (n_samples, n_outputs) or (n_samples,)
    sample_weight : array of shape (n_samples,), optional
    epsilon : float, default 1e-5
        Step ``h`` of the central differences. Two of them, with steps ``h`` and
        ``h/2``, are combined by Richardson extrapolation, ``(4 D(h/2) - D(h)) / 3``,
        which cancels their ``O(h^2)`` errors; what is left is ``O(h^4)`` plus rounding.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> import deltaprop as dp
    >>> rng = np.random.default_rng(0)
    >>> net = dp.Network([dp.Dense(3, 4, "tanh"), dp.Dense(4, 1)], random_state=0)
    >>> X, y = rng.normal(size=(5, 3)), rng.uniform(size=5)
    >>> dp.check_gradients(net, X, y) < 1e-6
    True
    """
    objective, params = _float64_objective(net, X, y, sample_weight)
    _, grads = objective(params)
    worst = 0.0
    for p, g in zip(params, grads, strict=True):
        numeric = np.empty_like(p)
        flat, flat_numeric = p.reshape(-1), numeric.reshape(-1)
        for k in range(flat.size):
            flat_numeric[k] = _richardson(objective, params, flat, k, epsilon)
        scale = max(float(np.linalg.norm(g)), float(np.linalg.norm(numeric)))
        if scale > 0.0:
            worst = max(worst, float(np.linalg.norm(g - numeric)) / scale)
    return worst


def finite_difference(
    net: Network,
    X: Any,
    y: Any,
    sample_weight: Any = None,
    *,
    parameter: int,
    index: tuple[int, ...],
    epsilon: float = 1e-5,
) -> float:
    """The derivative of the objective by one parameter entry, from finite differences.

    The same estimate as :func:`check_gradients` makes for every entry: two central
    differences ``D(h) = (L(p + h) - L(p - h)) / (2 h)``, with ``h = epsilon`` and
    ``epsilon / 2``, combined as ``(4 D(h/2) - D(h)) / 3``; in float64 NumPy on a copy
    of the parameters (the network is left unchanged).

    Parameters
    ----------
    net : Network
    X : array of shape (n_samples, n_inputs)
    y : array of shape (n_samples, n_outputs) or (n_samples,)
    sample_weight : array of shape (n_samples,), optional
    parameter : int
        Position in ``net.parameters`` (``[W_0, b_0, W_1, b_1, ...]``, 0-based).
    index : tuple of int
        The entry of that array: ``(i, j)`` of a weight matrix, ``(j,)`` of a bias.
    epsilon : float, default 1e-5

    Returns
    -------
    float
        The estimate of ``dL/dp``, penalty included.

    Examples
    --------
    >>> import numpy as np
    >>> import deltaprop as dp
    >>> from deltaprop.core.gradcheck import finite_difference
    >>> net = dp.Network([dp.Dense(2, 1, "identity")], loss="squared_error")
    >>> net.layers[0].weights, net.layers[0].bias = np.array([[2.0], [0.0]]), np.zeros(1)
    >>> # L = 1/2 (2 x - y)^2 at x = 1, y = 0: dL/dW[0, 0] = (2 x - y) x = 2
    >>> round(finite_difference(net, [[1.0, 0.0]], [0.0], parameter=0, index=(0, 0)), 9)
    2.0
    """
    objective, params = _float64_objective(net, X, y, sample_weight)
    if not 0 <= parameter < len(params):
        raise ValueError(f"parameter must be in [0, {len(params) - 1}], got {parameter!r}")
    array = params[parameter]
    k = int(np.ravel_multi_index(tuple(index), array.shape))
    return _richardson(objective, params, array.reshape(-1), k, epsilon)


def _float64_objective(net: Network, X: Any, y: Any, sample_weight: Any):
    """``objective(params) -> (loss, grads)`` on float64 copies, and those parameters."""
    X64 = np.asarray(to_numpy(X) if not isinstance(X, list) else X, dtype=np.float64)
    y64 = np.asarray(to_numpy(y) if not isinstance(y, list) else y, dtype=np.float64)
    w64 = None
    if sample_weight is not None:
        w64 = np.asarray(to_numpy(sample_weight), dtype=np.float64)
    X64, y64, w64, total_weight, _ = net._check_data(X64, y64, w64)
    params = [np.array(to_numpy(p), dtype=np.float64) for p in net.parameters]

    def objective(ps):
        return net.objective(ps, X64, y64, w64, total_weight, xp=np)

    return objective, params


def _richardson(objective, params, flat, k, h) -> float:
    """``(4 D(h/2) - D(h)) / 3``: the h^2 error terms of the two central differences cancel."""
    return (
        4.0 * _central(objective, params, flat, k, h / 2.0)
        - _central(objective, params, flat, k, h)
    ) / 3.0


def _central(objective, params, flat, k, h) -> float:
    """``(L(p + h) - L(p - h)) / (2 h)`` for the entry ``flat[k]`` of one parameter array."""
    original = flat[k]
    flat[k] = original + h
    loss_plus, _ = objective(params)
    flat[k] = original - h
    loss_minus, _ = objective(params)
    flat[k] = original
    return (loss_plus - loss_minus) / (2.0 * h)
