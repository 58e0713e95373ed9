"""Explain mode: every number of one backpropagation step.

:func:`explain` runs one full-batch gradient-descent step on a network and records
what the algorithm computes, in the order a textbook presents it:

1. **forward pass**: ``z[l] = a[l-1] @ W[l] + b[l]`` and ``a[l] = f(z[l])``, with
   ``a[0] = X`` (the input layer is linear);
2. **error**: the per-sample losses ``l_i``, their weights ``w_i`` and the weighted
   total ``L = sum_i w_i l_i / sum_i w_i`` (plus the L2 penalty when ``alpha > 0``);
3. **output delta** ``delta[L] = dL/dz[L]``: the canonical shortcut
   ``w_i (a_i - y_i) / sum(w)`` or the general chain rule ``w_i / sum(w) dl/da f'(z)``;
4. **hidden deltas** by the chain rule, ``delta[l] = (delta[l+1] @ W[l+1].T) * f'(z[l])``;
5. **gradients and update**: ``dW[l] = a[l-1].T @ delta[l]``, ``db[l] = sum_i delta[l]``
   and ``W[l] <- W[l] - learning_rate * dW[l]``.

The numbers come from the functions training itself uses
(:func:`deltaprop.core.backprop.forward_pass`, :func:`~deltaprop.core.backprop.backward_pass` and
:func:`~deltaprop.core.objective.penalty`), so the gradients in a :class:`Trace` are exactly
those of :meth:`Network.loss_and_gradients`. Layers are numbered from 1 in the text
(``layer l`` is ``network.layers[l - 1]``), so that ``a[0]`` is the input.

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
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltaprop.core.arrays import device, to_numpy
from deltaprop.core.backprop import backward_pass, forward_pass
from deltaprop.core.layers import Dense
from deltaprop.core.network import Network
from deltaprop.core.objective import add_penalty, penalty
from deltaprop.core.validation import check_number
from deltaprop.explain.document import norm, render_markdown, render_text
from deltaprop.explain.plot import draw_trace
from deltaprop.optim.optimizers import SGD
from deltaprop.training.trainer import train

__all__ = ["LayerTrace", "Trace", "explain", "worked_example"]

#: ``f'(z) < 0.01``: a sigmoid unit with ``a`` outside [0.01, 0.99] (tanh: ``|a| > 0.99``).
_SATURATION = 0.99
#: A layer whose gradient is this many times smaller than the largest one is vanishing.
_VANISHING_RATIO = 1e3


def worked_example() -> tuple[Network, np.ndarray, np.ndarray, float]:
    """The classic worked example: 2 inputs, 2 sigmoid hidden units, 1 sigmoid output.

    The numbers are those of Matt Mazur's "A Step by Step Backpropagation Example"
    (2015), reduced to its first output unit: one sample ``x = (0.05, 0.10)`` with
    target ``0.01``; hidden weights ``w1..w4 = 0.15, 0.20, 0.25, 0.30`` (``w1``, ``w2``
    feed hidden unit 1, ``w3``, ``w4`` hidden unit 2) and bias ``0.35``; output weights
    ``w5, w6 = 0.40, 0.45`` and bias ``0.60``; squared error ``1/2 (a - y)^2``; learning
    rate ``0.5``. The forward pass, the error and the output layer's gradients equal
    the post's numbers for ``o1`` (for instance ``dL/dw5 = 0.082167041``); the hidden
    layer's differ, because the post's second output sends back a second error.
    Squared error with a sigmoid output is not a canonical pair, so the output delta
    takes the general chain rule, as in the post.

    Returns
    -------
    network : Network
        ``Dense(2, 2, "sigmoid")`` then ``Dense(2, 1, "sigmoid")``, loss ``squared_error``.
    X : ndarray of shape (1, 2)
    y : ndarray of shape (1, 1)
    learning_rate : float

    Examples
    --------
    >>> net, X, y, learning_rate = worked_example()
    >>> net.layers[0].weights
    array([[0.15, 0.25],
           [0.2 , 0.3 ]])
    """
    hidden, output = Dense(2, 2, "sigmoid"), Dense(2, 1, "sigmoid")
    # Rows are inputs, columns units: W[i, j] connects input i to unit j.
    hidden.weights = np.array([[0.15, 0.25], [0.20, 0.30]])
    hidden.bias = np.array([0.35, 0.35])
    output.weights = np.array([[0.40], [0.45]])
    output.bias = np.array([0.60])
    network = Network([hidden, output], loss="squared_error")
    return network, np.array([[0.05, 0.10]]), np.array([[0.01]]), 0.5


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
        output layer, where it cancels.
    delta : array, shape (n_samples, n_out)
        ``dL/dz`` as the backward pass computed it.
    d_weights, d_bias : arrays of shapes (n_in, n_out) and (n_out,)
        The gradient, L2 penalty included.
    d_weights_penalty : array of shape (n_in, n_out) or None
        The penalty's part ``alpha W / sum(w)`` (None when ``alpha == 0``).
    weights_after, bias_after : arrays
        After one gradient-descent step.
    grad_norm, bias_grad_norm, weight_norm : float
        ``||dW||``, ``||db||`` and ``||W||`` (Frobenius).
    saturated : float or None
        Fraction of (sample, unit) values within 0.01 of either end of a bounded
        activation's range (``Activation.saturation_range``: sigmoid ``a`` outside
        [0.01, 0.99], tanh ``|a| > 0.99``), where ``f'`` nearly vanishes; None for others.
    dead : float or None
        Fraction of the units of an activation that can die (``Activation.can_die``, the
        ReLU) with ``z <= 0`` on every sample (their gradient is 0); None for others.
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
        Plain-language diagnostics (vanishing or exploding gradients, saturation).
    loss_curve : list of float or None
        With ``steps``: the loss of each of that many gradient-descent steps.
    stop_reason : str or None
        Why those steps stopped (``"max_iter"``, or ``"diverged"``).
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

    # -- renderers --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every number as plain Python lists and floats (what :meth:`to_json` writes)."""
        layers = []
        for lt in self.layers:
            layers.append(
                {
                    "index": lt.index,
                    "activation": lt.activation,
                    "n_in": lt.n_in,
                    "n_out": lt.n_out,
                    "weights": lt.weights.tolist(),
                    "bias": lt.bias.tolist(),
                    "z": lt.z.tolist(),
                    "a": lt.a.tolist(),
                    "d_a": lt.d_a.tolist(),
                    "f_prime": None if lt.f_prime is None else lt.f_prime.tolist(),
                    "delta": lt.delta.tolist(),
                    "d_weights": lt.d_weights.tolist(),
                    "d_bias": lt.d_bias.tolist(),
                    "weights_after": lt.weights_after.tolist(),
                    "bias_after": lt.bias_after.tolist(),
                    "grad_norm": lt.grad_norm,
                    "bias_grad_norm": lt.bias_grad_norm,
                    "weight_norm": lt.weight_norm,
                    "saturated": lt.saturated,
                    "dead": lt.dead,
                }
            )
        return {
            "loss": self.loss,
            "data_loss": self.data_loss,
            "penalty": self.penalty,
            "alpha": self.alpha,
            "loss_name": self.loss_name,
            "canonical": self.canonical,
            "learning_rate": self.learning_rate,
            "X": self.X.tolist(),
            "y": self.y.tolist(),
            "sample_weight": self.sample_weight.tolist(),
            "total_weight": self.total_weight,
            "losses": self.losses.tolist(),
            "layers": layers,
            "hints": list(self.hints),
            "loss_curve": self.loss_curve,
            "stop_reason": self.stop_reason,
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
        are those of row ``sample``; weights, gradients and biases belong to the whole
        batch.

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
            For a layer of more than 8 units (the diagram would be unreadable) or a
            ``sample`` out of range.
        """
        draw_trace(self, path, sample=sample, dpi=dpi)


# -- explain ----------------------------------------------------------------------------
def explain(
    network: Network,
    X: Any,
    y: Any,
    sample_weight: Any = None,
    learning_rate: float = 0.1,
    *,
    steps: int | None = None,
) -> Trace:
    """Record one full-batch gradient-descent step of ``network`` on ``(X, y)``.

    The network itself is not changed.

    Parameters
    ----------
    network : Network
    X : array of shape (n_samples, n_inputs)
    y : array of shape (n_samples, n_outputs), or (n_samples,) for one output
    sample_weight : array of shape (n_samples,), optional
    learning_rate : float, default 0.1
        Step size of the update shown in step 5 (``W - learning_rate * dW``).
    steps : int, optional
        Also train a copy of the network for this many full-batch steps
        (:func:`deltaprop.train` with ``SGD(learning_rate)``) and record their losses
        in ``Trace.loss_curve``.

    Returns
    -------
    Trace

    Raises
    ------
    ValueError, TypeError
        For bad data (as :meth:`Network.loss_and_gradients`) or a bad
        ``learning_rate`` or ``steps``.

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
    X, y, w, total_weight, xp = network._check_data(X, y, sample_weight)
    params = network._parameters_as(xp, X.dtype, device(X))
    layers, loss_fn = network.layers, network.loss

    # The textbook calls of Network.objective, with every intermediate kept.
    zs, activations = forward_pass(layers, params, X, xp=xp)
    result = backward_pass(layers, loss_fn, params, zs, activations, y, w, total_weight, xp=xp)
    data_loss = float(result.loss)
    loss, grads = add_penalty(data_loss, result.grads, params, network.alpha, total_weight, xp=xp)
    loss = float(loss)
    reg, d_reg = penalty(params, network.alpha, total_weight, xp=xp)  # its share, shown
    # Exactly the step of SGD without momentum.
    new_params = [p - learning_rate * g for p, g in zip(params, grads, strict=True)]

    n_layers = len(layers)
    traced = []
    for l, layer in enumerate(layers):
        z, a = zs[l], activations[l + 1]
        if l == n_layers - 1:
            # Display factors of the output delta, from the loss's own methods.
            if result.canonical:
                d_a, f_prime = loss_fn.canonical_delta(y, a, xp=xp), None
            else:
                d_a = loss_fn.gradient(y, a, xp=xp)
                f_prime = _derivative(layer, z, a, xp=xp)
        else:
            d_a = layers[l + 1].backward(
                activations[l + 1], result.deltas[l + 1], params[2 * l + 2], xp=xp
            )[2]
            f_prime = _derivative(layer, z, a, xp=xp)
        traced.append(
            _layer_trace(
                l,
                layer,
                params[2 * l : 2 * l + 2],
                activations[l],
                z,
                a,
                d_a,
                f_prime,
                result.deltas[l],
                grads[2 * l : 2 * l + 2],
                None if d_reg is None else d_reg[l],
                new_params[2 * l : 2 * l + 2],
            )
        )

    X_np = _host(X)
    sample_weight_np = np.ones(X_np.shape[0], dtype=X_np.dtype) if w is None else _host(w)
    trace = Trace(
        loss_name=loss_fn.name or type(loss_fn).__name__,
        X=X_np,
        y=_host(y),
        sample_weight=sample_weight_np,
        weighted=w is not None,
        total_weight=total_weight,
        losses=_host(result.losses),
        data_loss=data_loss,
        penalty=float(reg),
        alpha=network.alpha,
        loss=loss,
        canonical=bool(result.canonical),
        learning_rate=learning_rate,
        layers=traced,
    )
    trace.hints = _hints(trace)
    if steps is not None:
        copied = copy.deepcopy(network)
        history = train(copied, X, y, sample_weight=w, optimizer=SGD(learning_rate), max_iter=steps)
        trace.loss_curve = list(history.loss)
        trace.stop_reason = history.stop_reason
    return trace


def _derivative(layer: Dense, z: Any, a: Any, *, xp: Any) -> Any:
    if not layer.activation.elementwise:
        return None
    return layer.activation.derivative(z, a, xp=xp)


def _host(x: Any) -> np.ndarray:
    return np.array(to_numpy(x), copy=True)


def _layer_trace(
    l, layer, params, a_prev, z, a, d_a, f_prime, delta, grads, d_penalty, new_params
) -> LayerTrace:
    z_np, a_np = _host(z), _host(a)
    activation = layer.activation
    name = activation.name
    saturated = dead = None
    if activation.saturation_range is not None:
        low, high = activation.saturation_range
        margin = 1.0 - _SATURATION
        saturated = float(np.mean((a_np < low + margin) | (a_np > high - margin)))
    if activation.can_die:
        dead = float(np.mean(np.all(z_np <= 0.0, axis=0)))
    d_weights, d_bias = _host(grads[0]), _host(grads[1])
    weights = _host(params[0])
    return LayerTrace(
        index=l,
        activation=name,
        n_in=layer.n_in,
        n_out=layer.n_out,
        weights=weights,
        bias=_host(params[1]),
        a_prev=_host(a_prev),
        z=z_np,
        a=a_np,
        d_a=_host(d_a),
        f_prime=None if f_prime is None else _host(f_prime),
        delta=_host(delta),
        d_weights=d_weights,
        d_bias=d_bias,
        d_weights_penalty=None if d_penalty is None else _host(d_penalty),
        weights_after=_host(new_params[0]),
        bias_after=_host(new_params[1]),
        grad_norm=norm(d_weights),
        bias_grad_norm=norm(d_bias),
        weight_norm=norm(weights),
        saturated=saturated,
        dead=dead,
        derivative_rule=activation.derivative_rule,
        symbol=activation.symbol or name,
    )


# -- diagnostics ------------------------------------------------------------------------
def _hints(trace: Trace) -> list[str]:
    """Plain-language warnings about vanishing or exploding gradients and saturation."""
    hints = []
    layers = trace.layers
    norms = [lt.grad_norm for lt in layers]
    largest = max(norms)
    if largest == 0.0:
        return [
            "Every weight gradient is exactly zero: this step changes no weight. The outputs "
            "may already equal the targets, or every unit feeding the output is dead."
        ]
    k = norms.index(largest) + 1
    for lt in layers:
        l = lt.index + 1
        is_output = lt.index == len(layers) - 1
        causes = []
        if lt.saturated is not None and lt.saturated > 0.0:
            causes.append(
                f"{lt.saturated:.0%} of its {lt.activation} values are saturated "
                f"(f'(z) < 0.01 there)"
            )
        if lt.dead:
            causes.append(
                f"{lt.dead:.0%} of its {lt.symbol} units are dead (z <= 0 on every sample)"
            )
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
        elif not (is_output and trace.canonical) and (
            (lt.saturated or 0.0) > 0.5 or (lt.dead or 0.0) > 0.5
        ):
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
    if not hints:
        hints.append(
            "No problems found: no layer's gradient is vanishing (1000 times smaller than "
            "another's) or exploding (one step larger than the weights), and no layer is "
            "mostly saturated or dead."
        )
    return hints
