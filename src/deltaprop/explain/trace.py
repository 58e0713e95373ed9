"""Explain mode: every number of one backpropagation step.

:func:`explain` runs one full-batch gradient-descent step on a network and records
what the algorithm computes, in the order a textbook presents it:

1. **forward pass**: ``z[l] = a[l-1] @ W[l] + b[l]`` and ``a[l] = f(z[l])``, with
   ``a[0] = X`` (the input layer is linear);
2. **error**: the per-sample losses ``l_i``, their weights ``w_i`` and the weighted
   mean ``L = sum_i w_i l_i / sum_i w_i`` (plus the L2 penalty
   ``(alpha / 2) sum_l ||W[l]||^2 / sum_i w_i`` when ``alpha > 0``);
3. **output delta** ``delta[L] = dL/dz[L]``: the canonical shortcut
   ``w_i / sum(w) * (a_i - y_i)`` beside the general chain rule ``w_i / sum(w) dl/da f'(z)``;
4. **hidden deltas** by the chain rule, ``delta[l] = (delta[l+1] @ W[l+1].T) * f'(z[l])``;
5. **gradients and update**: ``dW[l] = a[l-1].T @ delta[l] + alpha W[l] / sum(w)``,
   ``db[l] = sum_i delta[l]`` and ``W[l] <- W[l] - learning_rate * dW[l]``.

One delta everywhere: ``delta[l] = dL/dz[l]`` of the batch's weighted mean loss, so row
``i`` carries the factor ``w_i / sum(w)`` and ``dW[l] = a[l-1].T @ delta[l]`` exactly (for
a single row, ``delta`` is that row's ``dl/dz``). Rows are samples: ``W[l]`` has shape
(n_in, n_out), the transpose of a textbook's ``W`` in ``z = W a + b``.

The numbers come from the functions training itself uses
(:func:`deltaprop.core.backprop.forward_pass`, :func:`~deltaprop.core.backprop.backward_pass` and
:func:`~deltaprop.core.objective.penalty`), so the gradients in a :class:`Trace` are exactly
those of :meth:`Network.loss_and_gradients`. The text numbers layers, rows and units from 1
(``layer l`` is ``network.layers[l - 1]``, so that ``a[0]`` is the input; ``W[l][i, j]`` is
``network.layers[l - 1].weights[i - 1, j - 1]``); Python's arrays stay 0-based.

Examples
--------
>>> import deltaprop as dp
>>> from deltaprop.explain import worked_example
>>> net, X, y, learning_rate = worked_example()
>>> trace = dp.explain(net, X, y, learning_rate=learning_rate)
>>> round(trace.loss, 9)
0.274811083
>>> print(trace.to_text().splitlines()[0])
deltaprop explain: one step of backpropagation, every number
>>> view = trace.scalar_view(2, 1, 1)  # W[2][1,1], Mazur's w5
>>> round(view.gradient, 9), round(view.weight_after, 8)
(0.082167041, 0.35891648)
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltaprop.core.arrays import device
from deltaprop.core.backprop import backward_pass, forward_pass
from deltaprop.core.layers import Dense
from deltaprop.core.network import Network
from deltaprop.core.objective import add_penalty, penalty
from deltaprop.core.validation import check_number, check_X
from deltaprop.explain.document import norm, render_markdown, render_text
from deltaprop.explain.examples import DEFAULT_LEARNING_RATE, tutorial_example, worked_example
from deltaprop.explain.plot import draw_trace
from deltaprop.explain.rows import host
from deltaprop.explain.scalar import ScalarView, scalar_view
from deltaprop.optim.optimizers import SGD
from deltaprop.training.trainer import train

__all__ = [
    "DEFAULT_LEARNING_RATE",
    "LayerTrace",
    "Trace",
    "explain",
    "tutorial_example",
    "worked_example",
]

#: ``f'(z) < 0.01``: a sigmoid unit with ``a`` outside [0.01, 0.99] (tanh: ``|a| > 0.99``).
_SATURATION = 0.99
#: A layer whose gradient is this many times smaller than the largest one is vanishing.
_VANISHING_RATIO = 1e3


@dataclass
class LayerTrace:
    """Every number of one layer in one step (NumPy arrays in the computation's dtype).

    Attributes
    ----------
    index : int
        Position in ``network.layers`` (0-based; the text calls it layer ``index + 1``).
    activation : str
    n_in, n_out : int
    weights, bias : arrays of shapes (n_in, n_out) and (n_out,)
        The parameters before the update.
    a_prev : array, shape (n_samples, n_in)
        The layer's input (``X`` for the first layer).
    z, a : arrays, shape (n_samples, n_out)
        Pre-activations and activations.
    d_a : array, shape (n_samples, n_out)
        For a hidden layer ``delta[l+1] @ W[l+1].T``; for the output layer ``dl/da``
        per sample (general rule) or ``a - y`` (canonical shortcut), both unweighted.
    f_prime : array of shape (n_samples, n_out) or None
        ``f'(z)``; None for a softmax (its Jacobian is not diagonal) and for a canonical
        output layer, where it cancels (see ``chain_f_prime``).
    delta : array, shape (n_samples, n_out)
        ``dL/dz`` as the backward pass computed it: row ``i`` carries ``w_i / sum(w)``.
    d_weights, d_bias : arrays of shapes (n_in, n_out) and (n_out,)
        The gradient, L2 penalty included.
    d_weights_data : array of shape (n_in, n_out)
        The data term's part ``a_prev.T @ delta`` (``d_weights`` without the penalty).
    d_weights_penalty : array of shape (n_in, n_out) or None
        The penalty's part ``alpha W / sum(w)`` (None when ``alpha == 0``):
        ``d_weights = d_weights_data + d_weights_penalty``.
    dl_da : array of shape (n_samples, n_out) or None
        Output layer only: ``dl/da`` of each row's own loss (unweighted).
    chain_f_prime : array of shape (n_samples, n_out) or None
        Output layer of a canonical pair only: the ``f'(z)`` that the shortcut cancels
        (None for a softmax).
    chain_delta : array of shape (n_samples, n_out) or None
        Output layer of a canonical pair only: ``w_i / sum(w) * dl/da * f'(z)`` by the
        full chain rule (the softmax's Jacobian product), beside the shortcut ``delta``.
    weights_after, bias_after : arrays
        After one gradient-descent step.
    grad_norm, bias_grad_norm, weight_norm : float
        ``||dW||``, ``||db||`` and ``||W||`` (Frobenius).
    saturated : float or None
        Fraction of (row, unit) values within 0.01 of either end of a bounded
        activation's range (``Activation.saturation_range``: sigmoid ``a`` outside
        [0.01, 0.99], tanh ``|a| > 0.99``), where ``f'`` nearly vanishes, over the rows
        of ``Trace.health_rows``; None for others.
    dead : float or None
        Fraction of the units of an activation that can die (``Activation.can_die``, the
        ReLU) with ``z <= 0`` on every one of the ``Trace.health_rows`` rows (their
        gradient is 0 whatever the row); None for others, and when there is one row only
        (a unit off on one row is not dead).
    derivative_rule : str
        ``f'(z)`` as a formula (``Activation.derivative_rule``).
    symbol : str
        The activation's short label (``Activation.symbol``, else its name).
    """

    index: int
    activation: str
    n_in: int
    n_out: int
    weights: np.ndarray
    bias: np.ndarray
    a_prev: np.ndarray
    z: np.ndarray
    a: np.ndarray
    d_a: np.ndarray
    f_prime: np.ndarray | None
    delta: np.ndarray
    d_weights: np.ndarray
    d_bias: np.ndarray
    d_weights_data: np.ndarray
    d_weights_penalty: np.ndarray | None
    weights_after: np.ndarray
    bias_after: np.ndarray
    grad_norm: float
    bias_grad_norm: float
    weight_norm: float
    saturated: float | None
    dead: float | None
    derivative_rule: str = "f'(z)"
    symbol: str = ""
    dl_da: np.ndarray | None = None
    chain_f_prime: np.ndarray | None = None
    chain_delta: np.ndarray | None = None

    @property
    def layer(self) -> int:
        """The layer's number in the text: ``index + 1``."""
        return self.index + 1


@dataclass
class Trace:
    """One full-batch gradient-descent step, recorded number by number.

    Produced by :func:`explain`; render it with :meth:`to_text`, :meth:`to_markdown`,
    :meth:`to_json` or :meth:`to_png`.

    Attributes
    ----------
    loss_name : str
    X : array, shape (n_samples, n_inputs)
    y : array, shape (n_samples, n_outputs)
    sample_weight : array of shape (n_samples,)
        The weights ``w_i`` (all 1 when none were given).
    weighted : bool
        Whether sample weights were given.
    total_weight : float
        ``sum_i w_i``.
    losses : array, shape (n_samples,)
        Per-sample losses ``l_i``.
    data_loss : float
        ``sum_i w_i l_i / sum_i w_i``.
    penalty : float
        ``(alpha / 2) sum ||W||^2 / sum_i w_i``.
    alpha : float
    loss : float
        ``data_loss + penalty``: equal to :meth:`Network.loss_and_gradients`'s loss.
    canonical : bool
        Whether the output delta took the canonical shortcut.
    learning_rate : float
    layers : list of LayerTrace
    hints : list of str
        Plain-language diagnostics (vanishing or exploding gradients, saturation, dead
        units, a loss that grows or oscillates over ``steps``).
    loss_curve : list of float or None
        With ``steps``: the loss of each of that many gradient-descent steps.
    stop_reason : str or None
        Why those steps stopped (``"max_iter"``, or ``"diverged"``).
    feature_names : list of str or None
        The inputs' names (``a[0][:, i - 1]`` is input ``i``), when known.
    health_rows : int
        How many rows the ``saturated`` and ``dead`` figures were measured on
        (``explain``'s ``health_data``, else ``X``).
    network : Network or None
        A copy of the explained network (with its ``alpha``), for the finite
        differences of :meth:`scalar_view`.
    scalar_views : list of ScalarView
        The weights worked out as scalars (``explain``'s ``scalar_views``), printed as
        the last sections.
    """

    loss_name: str
    X: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray
    weighted: bool
    total_weight: float
    losses: np.ndarray
    data_loss: float
    penalty: float
    alpha: float
    loss: float
    canonical: bool
    learning_rate: float
    layers: list[LayerTrace]
    hints: list[str] = field(default_factory=list)
    loss_curve: list[float] | None = None
    stop_reason: str | None = None
    feature_names: list[str] | None = None
    health_rows: int = 0
    network: Network | None = field(default=None, repr=False)
    scalar_views: list[ScalarView] = field(default_factory=list)

    @property
    def weight_share(self) -> np.ndarray:
        """``w_i / sum(w)``, shape (n_samples,): the factor row ``i`` of every delta carries."""
        return self.sample_weight / self.total_weight

    def scalar_view(self, layer: int, i: int, j: int) -> ScalarView:
        """Work the gradient and update of ``W[layer][i, j]`` out as scalars.

        ``dL/dW[l][i, j] = sum_r a[l-1][r, i] * delta[l][r, j] + alpha W[l][i, j] / sum(w)``
        with every row's delta recomputed from scalars, the update, and a
        finite-difference estimate beside it (see :mod:`deltaprop.explain.scalar`).

        Parameters
        ----------
        layer, i, j : int
            1-based, as the text numbers them: ``W[layer][i, j]`` is
            ``network.layers[layer - 1].weights[i - 1, j - 1]``. ``i = 0`` is the bias
            ``b[layer][j]`` (the weight of a constant input 1).

        Returns
        -------
        ScalarView

        Raises
        ------
        ValueError, TypeError
            For a position out of range, or a trace built without its network.

        Examples
        --------
        >>> import deltaprop as dp
        >>> from deltaprop.explain import worked_example
        >>> net, X, y, learning_rate = worked_example()
        >>> view = dp.explain(net, X, y, learning_rate=learning_rate).scalar_view(1, 1, 1)
        >>> view.relative_difference < 1e-6
        True
        """
        if self.network is None:
            raise ValueError("scalar_view needs the trace's network: build it with explain()")
        return scalar_view(self, layer, i, j)

    # -- renderers --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every number as plain Python lists and floats (what :meth:`to_json` writes).

        Layers carry ``layer`` (numbered from 1, as in the text); rows of the arrays are
        the rows of ``X``, in order.
        """
        layers = []
        for lt in self.layers:
            entry: dict[str, Any] = {
                "layer": lt.layer,
                "activation": lt.activation,
                "derivative_rule": lt.derivative_rule,
                "n_in": lt.n_in,
                "n_out": lt.n_out,
            }
            for key in _ARRAY_KEYS:
                value = getattr(lt, key)
                entry[key] = None if value is None else value.tolist()
            for key in ("grad_norm", "bias_grad_norm", "weight_norm", "saturated", "dead"):
                entry[key] = getattr(lt, key)
            layers.append(entry)
        return {
            "loss": self.loss,
            "data_loss": self.data_loss,
            "penalty": self.penalty,
            "alpha": self.alpha,
            "loss_name": self.loss_name,
            "canonical": self.canonical,
            "learning_rate": self.learning_rate,
            "feature_names": self.feature_names,
            "X": self.X.tolist(),
            "y": self.y.tolist(),
            "weighted": self.weighted,
            "sample_weight": self.sample_weight.tolist(),
            "total_weight": self.total_weight,
            "weight_share": self.weight_share.tolist(),
            "losses": self.losses.tolist(),
            "layers": layers,
            "health_rows": self.health_rows,
            "hints": list(self.hints),
            "loss_curve": self.loss_curve,
            "stop_reason": self.stop_reason,
            "scalar_views": [view.to_dict() for view in self.scalar_views],
        }

    def to_json(self, indent: int | None = None) -> str:
        """The trace as JSON, every array in full as nested lists.

        Top-level keys include ``loss`` and ``layers`` (one object per layer with
        ``z``, ``a``, ``delta``, ``d_weights``, ``d_bias``, ``weights_after`` and
        ``bias_after``); see :meth:`to_dict`.
        """
        return json.dumps(self.to_dict(), indent=indent)

    def to_text(self, precision: int = 6) -> str:
        """Plain text, in sections numbered like the algorithm's steps.

        Arrays larger than 8 rows or columns are summarised (shape, norm, range and
        the first values); ``precision`` is the number of significant digits.
        """
        return render_text(self, precision)

    def to_markdown(self, precision: int = 6) -> str:
        """Markdown with the same sections as :meth:`to_text` (a heading per step)."""
        return render_markdown(self, precision)

    def to_png(self, path: Any, sample: int = 0, *, dpi: int = 150) -> None:
        """Draw the network: units with their activation and delta, connections with
        their weight and gradient.

        Needs matplotlib (``pip install "deltaprop[plot]"``). Activations and deltas
        are those of row ``sample`` (0-based here; the picture calls it row
        ``sample + 1``); weights, gradients and biases belong to the whole batch. A layer
        of more than 8 units shows its first 7 and a circle "... n more"; inputs carry
        ``feature_names`` when the trace has them.

        Parameters
        ----------
        path : str or path-like
            Where to write the PNG.
        sample : int, default 0
        dpi : int, default 150

        Raises
        ------
        ImportError
            Without matplotlib.
        ValueError
            For a ``sample`` out of range.
        """
        draw_trace(self, path, sample=sample, dpi=dpi)


#: The arrays of a :class:`LayerTrace` that :meth:`Trace.to_dict` writes (None stays None).
_ARRAY_KEYS = (
    "weights",
    "bias",
    "z",
    "a",
    "d_a",
    "f_prime",
    "dl_da",
    "chain_f_prime",
    "chain_delta",
    "delta",
    "d_weights_data",
    "d_weights_penalty",
    "d_weights",
    "d_bias",
    "weights_after",
    "bias_after",
)


# -- explain ----------------------------------------------------------------------------
def explain(
    network: Network,
    X: Any,
    y: Any,
    sample_weight: Any = None,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    *,
    steps: int | None = None,
    feature_names: Sequence[str] | None = None,
    health_data: Any = None,
    scalar_views: Sequence[tuple[int, int, int]] = (),
) -> Trace:
    """Record one full-batch gradient-descent step of ``network`` on ``(X, y)``.

    The network itself is not changed.

    Parameters
    ----------
    network : Network
    X : array of shape (n_samples, n_inputs)
    y : array of shape (n_samples, n_outputs), or (n_samples,) for one output
    sample_weight : array of shape (n_samples,), optional
        The weights ``w_i`` of ``L = sum_i w_i l_i / sum_i w_i`` (default: all 1).
    learning_rate : float, default 0.5
        Step size of the update shown in step 5 (``W - learning_rate * dW``);
        :data:`DEFAULT_LEARNING_RATE`, as ``deltaprop explain`` and ``deltaprop serve``.
    steps : int, optional
        Also train a copy of the network for this many full-batch steps
        (:func:`deltaprop.train` with ``SGD(learning_rate)``) and record their losses
        in ``Trace.loss_curve``; a hint warns when that loss grows or oscillates.
    feature_names : sequence of str, optional
        The names of the ``n_inputs`` inputs, shown beside their numbers.
    health_data : array of shape (n_rows, n_inputs), optional
        The rows on which saturated and dead units are counted (for instance the
        training data when ``X`` is one row of it); default ``X``. A unit is dead when
        it is off on every one of these rows, never because of a single row.
    scalar_views : sequence of (layer, i, j)
        Weights to work out as scalars (:meth:`Trace.scalar_view`, 1-based; ``i = 0``
        for a bias), kept in ``Trace.scalar_views`` and printed last.

    Returns
    -------
    Trace

    Raises
    ------
    ValueError, TypeError
        For bad data (as :meth:`Network.loss_and_gradients`) or a bad
        ``learning_rate``, ``steps``, ``feature_names``, ``health_data`` or
        ``scalar_views``.

    Examples
    --------
    >>> import numpy as np
    >>> import deltaprop as dp
    >>> net = dp.Network([dp.Dense(2, 3, "tanh"), dp.Dense(3, 1)], random_state=0)
    >>> X, y = np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([1.0, 0.0])
    >>> trace = dp.explain(net, X, y)
    >>> loss, grads = net.loss_and_gradients(X, y)
    >>> trace.loss == loss, bool(np.all(trace.layers[0].d_weights == grads[0][0]))
    (True, True)
    """
    if not isinstance(network, Network):
        raise TypeError(f"network must be a Network, got {type(network).__name__}")
    learning_rate = check_number("learning_rate", learning_rate, low=0.0, low_open=True)
    steps = check_number("steps", steps, low=1, integer=True, allow_none=True)
    names = _check_names(feature_names, network.n_inputs)
    X, y, w, total_weight, xp = network._check_data(X, y, sample_weight)
    params = network._parameters_as(xp, X.dtype, device(X))
    layers, loss_fn = network.layers, network.loss

    # The textbook calls of Network.objective, with every intermediate kept.
    zs, activations = forward_pass(layers, params, X, xp=xp)
    result = backward_pass(layers, loss_fn, params, zs, activations, y, w, total_weight, xp=xp)
    data_loss = float(result.loss)
    loss, grads = add_penalty(data_loss, result.grads, params, network.alpha, total_weight, xp=xp)
    reg, d_reg = penalty(params, network.alpha, total_weight, xp=xp)  # its share, shown
    # Exactly the step of SGD without momentum.
    new_params = [p - learning_rate * g for p, g in zip(params, grads, strict=True)]
    health_zs, health_as = _health_pass(network, health_data, zs, activations, xp=xp)

    traced = []
    for l, layer in enumerate(layers):
        factors = _delta_factors(
            network, l, params, zs, activations, result, y, w, total_weight, xp=xp
        )
        traced.append(
            _layer_trace(
                l,
                layer,
                params[2 * l : 2 * l + 2],
                activations[l],
                zs[l],
                activations[l + 1],
                result.deltas[l],
                (grads[2 * l], grads[2 * l + 1], result.grads[2 * l]),
                None if d_reg is None else d_reg[l],
                new_params[2 * l : 2 * l + 2],
                factors,
                (health_zs[l], health_as[l + 1]),
            )
        )

    X_np = host(X)
    trace = Trace(
        loss_name=loss_fn.name or type(loss_fn).__name__,
        X=X_np,
        y=host(y),
        sample_weight=np.ones(X_np.shape[0], dtype=X_np.dtype) if w is None else host(w),
        weighted=w is not None,
        total_weight=total_weight,
        losses=host(result.losses),
        data_loss=data_loss,
        penalty=float(reg),
        alpha=network.alpha,
        loss=float(loss),
        canonical=bool(result.canonical),
        learning_rate=learning_rate,
        layers=traced,
        feature_names=names,
        health_rows=int(health_zs[0].shape[0]),
        network=copy.deepcopy(network),
    )
    if steps is not None:
        copied = copy.deepcopy(network)
        history = train(copied, X, y, sample_weight=w, optimizer=SGD(learning_rate), max_iter=steps)
        trace.loss_curve = [float(v) for v in history.loss]
        trace.stop_reason = history.stop_reason
    trace.hints = _hints(trace)
    trace.scalar_views = [trace.scalar_view(*_check_triple(p)) for p in scalar_views]
    return trace


def _check_names(names: Any, n_inputs: int) -> list[str] | None:
    if names is None:
        return None
    names = [str(n) for n in names]
    if len(names) != n_inputs:
        raise ValueError(
            f"feature_names must name the network's {n_inputs} inputs, got {len(names)} names"
        )
    return names


def _check_triple(position: Any) -> tuple[int, int, int]:
    if not isinstance(position, tuple | list) or len(position) != 3:
        raise TypeError(f"scalar_views must hold (layer, i, j) triples, got {position!r}")
    return position[0], position[1], position[2]


def _health_pass(network: Network, health_data: Any, zs, activations, *, xp: Any):
    """``zs`` and ``activations`` of the rows that unit health is measured on."""
    if health_data is None:
        return zs, activations
    rows, rows_xp = check_X(health_data, network.n_inputs, name="health_data")
    params = network._parameters_as(rows_xp, rows.dtype, device(rows))
    return forward_pass(network.layers, params, rows, xp=rows_xp)


def _delta_factors(network, l, params, zs, activations, result, y, w, total_weight, *, xp):
    """``(d_a, f_prime, dl_da, chain_f_prime, chain_delta)`` of layer ``l``, for display.

    For the output layer: the loss's ``dl/da`` and, for a canonical pair, the full chain
    rule ``w_i / sum(w) * dl/da * f'(z)`` that the shortcut ``a - y`` stands for. For a
    hidden layer: ``delta[l+1] @ W[l+1].T`` and ``f'(z)``.
    """
    layers, loss_fn = network.layers, network.loss
    layer, z, a = layers[l], zs[l], activations[l + 1]
    if l < len(layers) - 1:
        d_a = layers[l + 1].backward(
            activations[l + 1], result.deltas[l + 1], params[2 * l + 2], xp=xp
        )[2]
        return d_a, _derivative(layer, z, a, xp=xp), None, None, None
    dl_da = loss_fn.gradient(y, a, xp=xp)
    f_prime = _derivative(layer, z, a, xp=xp)
    if not result.canonical:
        return dl_da, f_prime, dl_da, None, None
    share = xp.ones_like(a[:, 0]) / total_weight if w is None else w / total_weight
    # The shortcut's cancellation, undone: at an exactly saturated output dl/da is infinite.
    with np.errstate(all="ignore"):
        chain = layer.activation.backward(z, a, dl_da, xp=xp) * share[:, None]
    return loss_fn.canonical_delta(y, a, xp=xp), None, dl_da, f_prime, chain


def _derivative(layer: Dense, z: Any, a: Any, *, xp: Any) -> Any:
    if not layer.activation.elementwise:
        return None
    return layer.activation.derivative(z, a, xp=xp)


def _unit_health(
    activation: Any, z: np.ndarray, a: np.ndarray
) -> tuple[float | None, float | None]:
    """``(saturated, dead)`` fractions over the rows of ``z`` and ``a`` (see LayerTrace)."""
    saturated = dead = None
    if activation.saturation_range is not None:
        low, high = activation.saturation_range
        margin = 1.0 - _SATURATION
        saturated = float(np.mean((a < low + margin) | (a > high - margin)))
    if activation.can_die and z.shape[0] > 1:
        dead = float(np.mean(np.all(z <= 0.0, axis=0)))
    return saturated, dead


def _layer_trace(
    l, layer, params, a_prev, z, a, delta, grads, d_penalty, new_params, factors, health
) -> LayerTrace:
    d_a, f_prime, dl_da, chain_f_prime, chain_delta = factors
    saturated, dead = _unit_health(layer.activation, host(health[0]), host(health[1]))
    d_weights, d_bias, d_weights_data = (host(g) for g in grads)
    weights = host(params[0])
    activation = layer.activation
    return LayerTrace(
        index=l,
        activation=activation.name,
        n_in=layer.n_in,
        n_out=layer.n_out,
        weights=weights,
        bias=host(params[1]),
        a_prev=host(a_prev),
        z=host(z),
        a=host(a),
        d_a=host(d_a),
        f_prime=None if f_prime is None else host(f_prime),
        delta=host(delta),
        d_weights=d_weights,
        d_bias=d_bias,
        d_weights_data=d_weights_data,
        d_weights_penalty=None if d_penalty is None else host(d_penalty),
        weights_after=host(new_params[0]),
        bias_after=host(new_params[1]),
        grad_norm=norm(d_weights),
        bias_grad_norm=norm(d_bias),
        weight_norm=norm(weights),
        saturated=saturated,
        dead=dead,
        derivative_rule=activation.derivative_rule,
        symbol=activation.symbol or activation.name,
        dl_da=None if dl_da is None else host(dl_da),
        chain_f_prime=None if chain_f_prime is None else host(chain_f_prime),
        chain_delta=None if chain_delta is None else host(chain_delta),
    )


# -- diagnostics ------------------------------------------------------------------------
#: Over ``steps``, a loss that rises in at least this share of the steps oscillates.
_OSCILLATION_SHARE = 0.25


def _hints(trace: Trace) -> list[str]:
    """Plain-language warnings: vanishing or exploding gradients, saturated or dead
    units, a loss that grows or oscillates. Every figure they quote is in the table."""
    layers = trace.layers
    norms = [lt.grad_norm for lt in layers]
    largest = max(norms)
    if largest == 0.0:
        hints = [
            "Every weight gradient is exactly zero: this step changes no weight. The outputs "
            "may already equal the targets, or every unit feeding the output is dead."
        ]
        return hints + _curve_hints(trace)
    k = norms.index(largest) + 1
    hints = []
    for lt in layers:
        hints += _layer_hints(trace, lt, largest, k)
    hints += _curve_hints(trace)
    if not hints:
        can_die = trace.network is not None and any(
            layer.activation.can_die for layer in trace.network.layers
        )
        if not can_die:
            health = f"mostly saturated on the {_rows(trace.health_rows)} measured"
        elif trace.health_rows > 1:
            health = f"mostly saturated or dead on the {_rows(trace.health_rows)} measured"
        else:
            health = (
                "mostly saturated on this row (a dead unit is one off on every row: pass "
                "more rows as health_data to count them)"
            )
        hints.append(
            "No problems found: no layer's gradient is vanishing (1000 times smaller than "
            "another's) or exploding (one step larger than the weights), and no layer is "
            f"{health}."
        )
    return hints


def _rows(n: int) -> str:
    return f"{n} row{'s' if n != 1 else ''}"


def _causes(trace: Trace, lt: LayerTrace) -> list[str]:
    causes = []
    where = _rows(trace.health_rows)
    if lt.saturated:
        causes.append(
            f"{lt.saturated:.0%} of its {lt.activation} values on the {where} are saturated "
            f"(f'(z) < 0.01 there)"
        )
    if lt.dead:
        causes.append(f"{lt.dead:.0%} of its {lt.symbol} units are dead (z <= 0 on all {where})")
    return causes


def _layer_hints(trace: Trace, lt: LayerTrace, largest: float, k: int) -> list[str]:
    hints = []
    l = lt.layer
    causes = _causes(trace, lt)
    # a dead unit never learns again: worth a word however few; saturation when most are
    mostly = (lt.saturated or 0.0) > 0.5 or (lt.dead or 0.0) > 0.0
    canonical_output = lt.index == len(trace.layers) - 1 and trace.canonical
    ratio = largest / lt.grad_norm if lt.grad_norm > 0.0 else math.inf
    if ratio >= _VANISHING_RATIO:
        if causes:
            why = (
                f" {'; '.join(causes).capitalize()}. Standardised inputs or smaller "
                "initial weights usually help."
            )
        else:
            why = (
                " The deltas shrink on their way back through the layers above (a "
                "sigmoid's slope is at most 0.25); fewer layers or tanh/relu hidden "
                "units usually help."
            )
        hints.append(
            f"Layer {l}: vanishing gradient. |dW| = {lt.grad_norm:.3g} is "
            f"{ratio:.3g} times smaller than layer {k}'s, so its weights barely move.{why}"
        )
    elif mostly and canonical_output:
        hints.append(
            f"Layer {l}: {'; '.join(causes)}. That does not slow learning here: with "
            f"{trace.loss_name} its delta is w_i / sum(w) * (a - y), which f'(z) does not "
            "shrink."
        )
    elif mostly:
        hints.append(
            f"Layer {l}: {'; '.join(causes)}. Those units pass almost no gradient back; "
            "standardise the inputs or start from smaller weights."
        )
    step = trace.learning_rate * lt.grad_norm
    if lt.weight_norm > 0.0 and step > lt.weight_norm:
        hints.append(
            f"Layer {l}: exploding gradient. One step of learning_rate "
            f"{trace.learning_rate:g} changes its weights by {step / lt.weight_norm:.3g} "
            "times their own size; lower the learning rate or standardise the inputs."
        )
    return hints


def _curve_hints(trace: Trace) -> list[str]:
    """A warning when the loss over ``steps`` grows, oscillates or diverges."""
    curve = trace.loss_curve
    if not curve or len(curve) < 2:
        return []
    lr = f"{trace.learning_rate:g}"
    if trace.stop_reason == "diverged" or not all(math.isfinite(v) for v in curve):
        return [
            f"The loss diverged within {len(curve)} steps: learning_rate {lr} is far too "
            "large; try one 10 times smaller."
        ]
    rises = sum(1 for before, after in itertools.pairwise(curve) if after > before)
    if curve[-1] > curve[0]:
        return [
            f"The loss grew over {len(curve)} steps (from {curve[0]:.4g} to {curve[-1]:.4g}): "
            f"learning_rate {lr} is too large; try a smaller one."
        ]
    if rises >= max(2, _OSCILLATION_SHARE * (len(curve) - 1)):
        return [
            f"The loss oscillates: it rose in {rises} of {len(curve) - 1} steps. "
            f"learning_rate {lr} overshoots the minimum; try a smaller one."
        ]
    return []
