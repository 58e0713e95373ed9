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
(:func:`deltaprop.network.forward_pass`, :func:`~deltaprop.network.backward_pass` and
:func:`~deltaprop.network.penalty`), so the gradients in a :class:`Trace` are exactly
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
import textwrap
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validation import check_number
from ._xp import device, to_numpy
from .layers import Dense
from .network import Network, backward_pass, forward_pass, penalty

__all__ = ["LayerTrace", "Trace", "explain", "worked_example"]

#: Arrays with more rows or columns than this are summarised in text and Markdown.
MAX_SHOWN = 8
#: Paragraphs of the text output are wrapped at this width.
_TEXT_WIDTH = 96
#: ``f'(z) < 0.01``: a sigmoid unit with ``a`` outside [0.01, 0.99] (tanh: ``|a| > 0.99``).
_SATURATION = 0.99
#: A layer whose gradient is this many times smaller than the largest one is vanishing.
_VANISHING_RATIO = 1e3

_LOSS_FORMULAS = {
    "binary_cross_entropy": "l_i = -sum_k [y_ik log a_ik + (1 - y_ik) log(1 - a_ik)]",
    "cross_entropy": "l_i = -sum_k y_ik log a_ik",
    "squared_error": "l_i = 1/2 sum_k (a_ik - y_ik)^2",
    "poisson": "l_i = sum_k (a_ik - y_ik log a_ik)",
}
_LOSS_GRADIENTS = {
    "binary_cross_entropy": "dl/da = (a - y) / (a (1 - a))",
    "cross_entropy": "dl/da = -y / a",
    "squared_error": "dl/da = a - y",
    "poisson": "dl/da = 1 - y / a",
}
_DERIVATIVES = {
    "identity": "f'(z) = 1",
    "sigmoid": "f'(z) = a (1 - a)",
    "tanh": "f'(z) = 1 - a^2",
    "relu": "f'(z) = 1 if z > 0 else 0",
    "leaky_relu": "f'(z) = 1 if z > 0 else negative_slope",
    "elu": "f'(z) = 1 if z > 0 else a + 1",
    "softplus": "f'(z) = sigmoid(z)",
    "silu": "f'(z) = s + z s (1 - s) with s = sigmoid(z)",
    "gelu": "f'(z) of the tanh-approximated GELU",
    "exp": "f'(z) = a",
}


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
        Fraction of (sample, unit) values of a sigmoid or tanh layer with ``f'(z) < 0.01``
        (sigmoid ``a`` outside [0.01, 0.99], tanh ``|a| > 0.99``); None for others.
    dead : float or None
        Fraction of a ReLU layer's units with ``z <= 0`` on every sample (their gradient
        is 0); None for other activations.
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
        _check_precision(precision)
        lines = []
        title, sections = self._document(precision)
        lines += [title, "=" * len(title)]
        for heading, items in sections:
            lines += ["", heading, "-" * len(heading)]
            for item in items:
                lines += _text_item(item, precision)
        return "\n".join(lines) + "\n"

    def to_markdown(self, precision: int = 6) -> str:
        """Markdown with the same sections as :meth:`to_text` (a heading per step)."""
        _check_precision(precision)
        title, sections = self._document(precision)
        lines = [f"## {title}"]
        for heading, items in sections:
            lines += ["", f"### {heading}", ""]
            block: list[str] = []
            for item in items:
                if item[0] == "array":
                    block += _text_item(item, precision, indent="")
                    continue
                if block:
                    lines += ["```text", *block, "```", ""]
                    block = []
                if item[0] == "p":
                    lines += [item[1], ""]
                else:
                    lines += [*_markdown_table(item[1], item[2]), ""]
            if block:
                lines += ["```text", *block, "```", ""]
            while lines[-1] == "":
                lines.pop()
        return "\n".join(lines) + "\n"

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
        from ._plot import draw_trace

        draw_trace(self, path, sample=sample, dpi=dpi)

    # -- the shared document behind text and Markdown --------------------------------
    def _document(self, precision: int):
        n_samples = self.X.shape[0]
        L = len(self.layers)
        last = self.layers[-1]
        sizes = " -> ".join(
            [f"{self.X.shape[1]} inputs"] + [f"{lt.n_out} {lt.activation}" for lt in self.layers]
        )
        weights = "weighted" if self.weighted else "unweighted"
        overview = [
            ("p", f"network: {sizes}; loss: {self.loss_name}"),
            (
                "p",
                f"data: {n_samples} sample{'s' if n_samples != 1 else ''} ({weights}); "
                f"learning_rate {_fmt(self.learning_rate, precision)}"
                + (f"; alpha {_fmt(self.alpha, precision)}" if self.alpha else "")
                + f"; dtype {self.X.dtype}",
            ),
            ("p", "Layer l has weights W[l] (rows: inputs, columns: units); a[0] = X."),
        ]

        forward = [
            ("p", "`z[l] = a[l-1] @ W[l] + b[l]`, `a[l] = f(z[l])`"),
            ("array", "a[0] = X", self.X),
        ]
        for lt in self.layers:
            l = lt.index + 1
            forward += [
                ("p", f"layer {l}: {lt.n_in} -> {lt.n_out}, {lt.activation}"),
                ("array", f"W[{l}]", lt.weights),
                ("array", f"b[{l}]", lt.bias),
                ("array", f"z[{l}] = a[{l - 1}] @ W[{l}] + b[{l}]", lt.z),
                ("array", f"a[{l}] = {lt.activation}(z[{l}])", lt.a),
            ]

        formula = _LOSS_FORMULAS.get(self.loss_name, f"l_i = {self.loss_name}(a_i, y_i)")
        error: list[tuple] = [
            ("p", f"loss {self.loss_name}: `{formula}`, compared with the output a[{L}]"),
            ("array", "y", self.y),
        ]
        error += _per_sample_table(self, precision)
        error.append(
            (
                "p",
                f"`L = sum_i w_i l_i / sum_i w_i` = {_fmt(self.data_loss, precision)} "
                f"(sum_i w_i = {_fmt(self.total_weight, precision)})",
            )
        )
        if self.alpha:
            error.append(
                (
                    "p",
                    f"penalty `(alpha / 2) sum_l ||W[l]||^2 / sum_i w_i` = "
                    f"{_fmt(self.penalty, precision)}; total L = {_fmt(self.loss, precision)}",
                )
            )

        if self.canonical:
            output = [
                (
                    "p",
                    f"{last.activation} output with {self.loss_name} is a canonical pair: "
                    f"`f'(z)` cancels the denominator of `dl/da`, so `dl/dz = a - y` and "
                    f"`delta[{L}] = w_i (a_i - y_i) / sum(w)`.",
                ),
                ("array", "a - y", last.d_a),
            ]
        else:
            d_rule = _LOSS_GRADIENTS.get(self.loss_name, "dl/da")
            f_rule = _DERIVATIVES.get(last.activation, "f'(z)")
            how = (
                f"`delta[{L}] = w_i / sum(w) * dl/da * f'(z[{L}])` with `{d_rule}` and `{f_rule}`"
                if last.f_prime is not None
                else f"`delta[{L}] = w_i / sum(w) * a * (g - sum_k g_k a_k)` with `g = dl/da`, "
                f"`{d_rule}` (the softmax Jacobian product)"
            )
            output = [
                (
                    "p",
                    f"{last.activation} output with {self.loss_name} is not a canonical pair, "
                    f"so the general chain rule applies: {how}.",
                ),
                ("array", "dl/da", last.d_a),
            ]
            if last.f_prime is not None:
                output.append(("array", f"f'(z[{L}])", last.f_prime))
        output += [
            ("array", "w_i / sum(w)", self.sample_weight / self.total_weight),
            ("array", f"delta[{L}] = dL/dz[{L}]", last.delta),
        ]

        hidden: list[tuple] = []
        if L == 1:
            hidden.append(("p", "The network has no hidden layer: nothing more to propagate."))
        else:
            hidden.append(
                (
                    "p",
                    "Each hidden layer's delta comes from the layer above by the chain rule: "
                    "`delta[l] = (delta[l+1] @ W[l+1].T) * f'(z[l])`.",
                )
            )
        for lt in reversed(self.layers[:-1]):
            l = lt.index + 1
            if lt.f_prime is not None:
                rule = _DERIVATIVES.get(lt.activation, "f'(z)")
                hidden += [
                    ("p", f"layer {l} ({lt.activation}, `{rule}`)"),
                    ("array", f"delta[{l + 1}] @ W[{l + 1}].T", lt.d_a),
                    ("array", f"f'(z[{l}])", lt.f_prime),
                    ("array", f"delta[{l}]", lt.delta),
                ]
            else:
                hidden += [
                    (
                        "p",
                        f"layer {l} (softmax, not element-wise: `delta = a * (g - sum_k g_k a_k)` "
                        f"with `g = delta[{l + 1}] @ W[{l + 1}].T`)",
                    ),
                    ("array", f"g = delta[{l + 1}] @ W[{l + 1}].T", lt.d_a),
                    ("array", f"delta[{l}]", lt.delta),
                ]

        rule = "`dW[l] = a[l-1].T @ delta[l]`"
        if self.alpha:
            rule += " + `alpha W[l] / sum(w)`"
        update = [
            (
                "p",
                f"{rule}, `db[l] = sum_i delta[l]`; then "
                f"`W[l] <- W[l] - {_fmt(self.learning_rate, precision)} dW[l]` "
                f"and the same for b[l].",
            )
        ]
        for lt in self.layers:
            l = lt.index + 1
            update += [
                (
                    "p",
                    f"layer {l}: |dW| = {_fmt(lt.grad_norm, precision)}, "
                    f"|db| = {_fmt(lt.bias_grad_norm, precision)}",
                ),
                ("array", f"dW[{l}]", lt.d_weights),
                ("array", f"db[{l}]", lt.d_bias),
                ("array", f"W[{l}] after", lt.weights_after),
                ("array", f"b[{l}] after", lt.bias_after),
            ]

        sections = [
            ("The step", overview),
            ("1 Forward pass", forward),
            ("2 Error", error),
            (f"3 Output-layer delta (layer {L})", output),
            ("4 Hidden-layer deltas", hidden),
            ("5 Gradients and update", update),
        ]
        if self.loss_curve is not None:
            sections.append(("6 " + _curve_heading(self), _curve_items(self, precision)))
        sections.append(("Diagnostics", _diagnostic_items(self, precision)))
        return "deltaprop explain: one step of backpropagation, every number", sections


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

    # The same three calls as Network._loss_and_gradients, in the same order.
    zs, activations = forward_pass(layers, params, X, xp=xp)
    result = backward_pass(layers, loss_fn, params, zs, activations, y, w, total_weight, xp=xp)
    reg, d_reg = penalty(params, network.alpha, total_weight, xp=xp)
    data_loss = float(result.loss)
    loss = data_loss
    grads = list(result.grads)
    if d_reg is not None:
        loss += reg
        for l, d_w in enumerate(d_reg):
            grads[2 * l] = grads[2 * l] + d_w
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
        from .optimizers import SGD
        from .training import train

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


def _norm(x: np.ndarray) -> float:
    """The Euclidean norm, scaled by the largest entry so large values do not overflow."""
    values = np.abs(np.asarray(x, dtype=np.float64))
    largest = float(np.max(values)) if values.size else 0.0
    if largest == 0.0 or not np.isfinite(largest):
        return largest  # 0, inf, or nan
    return largest * float(np.sqrt(np.sum((values / largest) ** 2)))


def _layer_trace(
    l, layer, params, a_prev, z, a, d_a, f_prime, delta, grads, d_penalty, new_params
) -> LayerTrace:
    z_np, a_np = _host(z), _host(a)
    name = layer.activation.name
    saturated = dead = None
    if name == "sigmoid":
        saturated = float(np.mean((a_np < 1.0 - _SATURATION) | (a_np > _SATURATION)))
    elif name == "tanh":
        saturated = float(np.mean(np.abs(a_np) > _SATURATION))
    elif name == "relu":
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
        grad_norm=_norm(d_weights),
        bias_grad_norm=_norm(d_bias),
        weight_norm=_norm(weights),
        saturated=saturated,
        dead=dead,
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
            causes.append(f"{lt.dead:.0%} of its ReLU units are dead (z <= 0 on every sample)")
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


def _diagnostic_items(trace: Trace, precision: int) -> list[tuple]:
    rows = []
    for lt in trace.layers:
        ratio = (
            trace.learning_rate * lt.grad_norm / lt.weight_norm if lt.weight_norm > 0 else math.inf
        )
        rows.append(
            [
                str(lt.index + 1),
                lt.activation,
                _fmt(lt.grad_norm, 3),
                _fmt(lt.bias_grad_norm, 3),
                _fmt(_norm(lt.delta), 3),
                _fmt(ratio, 3),
                "-" if lt.saturated is None else f"{lt.saturated:.0%}",
                "-" if lt.dead is None else f"{lt.dead:.0%}",
            ]
        )
    headers = [
        "layer",
        "activation",
        "|dW|",
        "|db|",
        "|delta|",
        "lr |dW| / |W|",
        "saturated",
        "dead",
    ]
    return [
        ("p", "Gradient norms per layer, the relative size of the update, and unit health:"),
        ("table", headers, rows),
        *[("p", hint) for hint in trace.hints],
    ]


def _curve_heading(trace: Trace) -> str:
    return f"Loss over {len(trace.loss_curve)} steps of gradient descent"


def _curve_items(trace: Trace, precision: int) -> list[tuple]:
    curve = trace.loss_curve
    n = len(curve)
    every = max(1, math.ceil(n / 10))
    shown = [i for i in range(n) if i % every == 0 or i == n - 1]
    rows = [[str(i + 1), _fmt(curve[i], precision)] for i in shown]
    items = [
        (
            "p",
            f"`deltaprop.train` with `SGD(learning_rate={trace.learning_rate:g})`, full batch; "
            "each loss is computed before that step's update (step 1 is the step above).",
        ),
        ("table", ["step", "loss"], rows),
    ]
    if trace.stop_reason not in (None, "max_iter"):
        items.append(("p", f"stopped early: {trace.stop_reason}"))
    return items


def _per_sample_table(trace: Trace, precision: int) -> list[tuple]:
    n = trace.X.shape[0]
    shown = list(range(n)) if n <= MAX_SHOWN else list(range(5))
    out = trace.layers[-1].a
    n_outputs = out.shape[1]
    rows = []
    for i in shown:
        row = [str(i)]
        if n_outputs <= 3:
            row += [_fmt_vector(trace.y[i], precision), _fmt_vector(out[i], precision)]
        row += [_fmt(trace.losses[i], precision), _fmt(trace.sample_weight[i], precision)]
        rows.append(row)
    headers = ["sample"] + (["y", "a"] if n_outputs <= 3 else []) + ["l_i", "w_i"]
    items: list[tuple] = [("table", headers, rows)]
    if n > len(shown):
        items.append(
            (
                "p",
                f"... {n - len(shown)} more samples; l_i over all {n}: "
                + _summary(trace.losses, precision),
            )
        )
    return items


# -- formatting -------------------------------------------------------------------------
def _check_precision(precision: int) -> None:
    check_number("precision", precision, low=1, high=17, integer=True)


def _fmt(value: float, precision: int) -> str:
    value = float(value)
    if value == 0.0:
        return "0"
    return f"{value:.{precision}g}"


def _fmt_vector(v: np.ndarray, precision: int) -> str:
    return " ".join(_fmt(x, precision) for x in v)


def _summary(a: np.ndarray, precision: int) -> str:
    """One line for an array too large to show: norm, range, mean and the first values."""
    flat = np.asarray(a, dtype=np.float64).ravel()
    first = " ".join(_fmt(x, 4) for x in flat[:4])
    return (
        f"norm {_fmt(_norm(flat), precision)}, "
        f"min {_fmt(flat.min(), 4)}, max {_fmt(flat.max(), 4)}, "
        f"mean {_fmt(flat.mean(), 4)}; first values {first} ..."
    )


def _matrix_lines(a: np.ndarray, precision: int) -> list[str]:
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    # Align each column on the decimal point: split every number at its first ".".
    split = [[_fmt(x, precision).partition(".") for x in row] for row in a2]
    columns = []
    for c in range(a2.shape[1]):
        heads = [row[c][0] for row in split]
        tails = [row[c][1] + row[c][2] for row in split]
        h, t = max(map(len, heads)), max(map(len, tails))
        columns.append([hd.rjust(h) + tl.ljust(t) for hd, tl in zip(heads, tails, strict=True)])
    rows = ["  ".join(col[r] for col in columns).rstrip() for r in range(a2.shape[0])]
    if a.ndim == 1:
        return [f"[{rows[0]}]"]
    n = len(rows)
    return [
        ("[[" if i == 0 else " [") + row + ("]]" if i == n - 1 else "]")
        for i, row in enumerate(rows)
    ]


def _too_big(a: np.ndarray) -> bool:
    if a.ndim == 1:
        return a.shape[0] > MAX_SHOWN
    return a.shape[0] > MAX_SHOWN or a.shape[1] > MAX_SHOWN


def _text_item(item: tuple, precision: int, indent: str = "  ") -> list[str]:
    kind = item[0]
    if kind == "p":
        # Formulas (between backticks) are not broken across lines: their spaces become
        # no-break spaces, which textwrap does not split on, until the lines are made.
        parts = item[1].split("`")
        parts[1::2] = [part.replace(" ", "\xa0") for part in parts[1::2]]
        lines = textwrap.wrap(
            "".join(parts),
            width=_TEXT_WIDTH,
            initial_indent=indent,
            subsequent_indent=indent + "  ",
            break_on_hyphens=False,
        )
        return [line.replace("\xa0", " ") for line in lines]
    if kind == "table":
        headers, rows = item[1], item[2]
        widths = [max(len(str(r[c])) for r in [headers, *rows]) for c in range(len(headers))]
        return [
            indent + "  ".join(str(cell).rjust(w) for cell, w in zip(r, widths, strict=True))
            for r in [headers, *rows]
        ]
    label, a = item[1], item[2]
    indent *= 2  # arrays sit under the sentence that introduces them
    shape = " x ".join(str(s) for s in a.shape)
    if _too_big(a):
        return [f"{indent}{label} ({shape}): {_summary(a, precision)}"]
    lines = _matrix_lines(a, precision)
    if len(lines) == 1:
        return [f"{indent}{label} = {lines[0]}"]
    return [f"{indent}{label} ({shape}) ="] + [f"{indent}  {line}" for line in lines]


def _markdown_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [line(headers), "|" + "|".join("---" for _ in headers) + "|"] + [line(r) for r in rows]
