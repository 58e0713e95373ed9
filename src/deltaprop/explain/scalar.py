"""The scalar view: one weight's gradient and update, worked out with the numbers plugged in.

A weight ``W[l][i, j]`` (1-based: from unit ``i`` of layer ``l - 1`` to unit ``j`` of layer
``l``; ``i = 0`` names the bias ``b[l][j]``, the weight of a constant input 1) gets

``dL/dW[l][i, j] = sum_r a[l-1][r, i] * delta[l][r, j] + alpha * W[l][i, j] / sum(w)``

where ``delta[l][r, j] = dL/dz[l][r, j]`` is row ``r``'s delta (it carries the row's share
``w_r / sum(w)`` of the weighted mean loss). :func:`scalar_view` recomputes every delta
of that sum from scalars (the output's ``w_r / sum(w) * dl/da * f'(z)``, beside the
canonical shortcut ``w_r / sum(w) * (a - y)``; a hidden unit's
``(sum_k delta[l+1][r, k] * W[l+1][j, k]) * f'(z)``), adds the penalty's share, takes the
gradient-descent step, and sets a finite-difference estimate of the same derivative
beside it (:func:`deltaprop.core.gradcheck.finite_difference`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from deltaprop.core.gradcheck import finite_difference
from deltaprop.explain.document import LOSS_GRADIENTS, check_precision, fmt

__all__ = ["RowTerm", "ScalarView", "scalar_view"]

#: Rows written out one by one in :meth:`ScalarView.to_text`; the rest are summed.
MAX_ROWS_SHOWN = 8
#: Terms ``delta[l+1][r, k] * W[l+1][j, k]`` written out in a hidden unit's sum.
MAX_TERMS_SHOWN = 6


@dataclass
class RowTerm:
    """One row's term ``a[l-1][r, i] * delta[l][r, j]`` of a weight's gradient.

    Attributes
    ----------
    row : int
        1-based (row ``r`` is ``X[r - 1]``).
    weight, share : float
        The row's sample weight ``w_r`` and its share ``w_r / sum(w)``.
    a_prev : float
        ``a[l-1][r, i]``; 1 for a bias.
    z, a : float
        ``z[l][r, j]`` and ``a[l][r, j]``.
    f_prime : float or None
        ``f'(z[l][r, j])``; None for a softmax (its Jacobian is not diagonal).
    y, dl_da : float or None
        Output layer only: the target and ``dl/da`` of the row's own loss.
    shortcut : float or None
        Output layer of a canonical pair only: ``w_r / sum(w) * (a - y)``.
    chain : float or None
        Output layer only: ``w_r / sum(w) * dl/da * f'(z)`` (softmax:
        ``w_r / sum(w) * a_j (g_j - sum_k g_k a_k)`` with ``g = dl/da``).
    back_terms : list of (float, float)
        Hidden layer only: ``(delta[l+1][r, k], W[l+1][j, k])`` for every unit ``k``
        of the layer above.
    back : float or None
        Hidden layer only: ``sum_k delta[l+1][r, k] * W[l+1][j, k]``.
    softmax_sum : float or None
        Softmax only: ``sum_k g_k a_k``.
    delta : float
        ``delta[l][r, j]`` from these scalars (the shortcut for a canonical output).
    product : float
        ``a_prev * delta``.
    """

    row: int
    weight: float
    share: float
    a_prev: float
    z: float
    a: float
    f_prime: float | None
    delta: float
    product: float
    y: float | None = None
    dl_da: float | None = None
    shortcut: float | None = None
    chain: float | None = None
    back_terms: list[tuple[float, float]] = field(default_factory=list)
    back: float | None = None
    softmax_sum: float | None = None


@dataclass
class ScalarView:
    """Every scalar of one weight's gradient and update, and a finite-difference check.

    Built by :meth:`deltaprop.explain.Trace.scalar_view` or :func:`scalar_view`; printed
    by :meth:`to_text`. Numbers are Python floats.

    Attributes
    ----------
    layer, i, j : int
        1-based, as the text prints them: the weight ``W[layer][i, j]`` is
        ``network.layers[layer - 1].weights[i - 1, j - 1]``; ``i == 0`` is the bias
        ``b[layer][j]``, ``network.layers[layer - 1].bias[j - 1]``.
    activation, derivative_rule : str
        Layer ``layer``'s activation and ``f'(z)`` as a formula.
    loss_name, loss_rule : str
        The loss and ``dl/da`` as a formula.
    output, canonical : bool
        Whether layer ``layer`` is the output layer; whether its delta takes the
        canonical shortcut.
    weight : float
        The parameter before the step.
    loss : float
        The objective ``L`` of the step.
    total_weight, alpha, learning_rate : float
    rows : list of RowTerm
        One per row of the batch.
    data_gradient : float
        ``sum_r a_prev * delta`` over the rows.
    penalty_gradient : float
        ``alpha * W / sum(w)`` (0 for a bias).
    gradient : float
        ``data_gradient + penalty_gradient``.
    engine_gradient : float
        The backward pass's entry of ``dW`` (or ``db``): what training uses.
    weight_after : float
        ``weight - learning_rate * engine_gradient``, as the trace's step computed it.
    finite_difference : float
        ``(4 D(h/2) - D(h)) / 3`` with ``D(h) = (L(W + h) - L(W - h)) / (2 h)``, in float64.
    epsilon : float
        ``h``.
    relative_difference : float
        ``|gradient - finite_difference| / max(|gradient|, |finite_difference|)``.
    """

    layer: int
    i: int
    j: int
    activation: str
    derivative_rule: str
    loss_name: str
    loss_rule: str
    output: bool
    canonical: bool
    weight: float
    loss: float
    total_weight: float
    alpha: float
    learning_rate: float
    rows: list[RowTerm]
    data_gradient: float
    penalty_gradient: float
    gradient: float
    engine_gradient: float
    weight_after: float
    finite_difference: float
    epsilon: float
    relative_difference: float

    @property
    def is_bias(self) -> bool:
        """Whether this is a bias (``i == 0``)."""
        return self.i == 0

    @property
    def name(self) -> str:
        """``W[l][i,j]`` or ``b[l][j]``, 1-based."""
        if self.is_bias:
            return f"b[{self.layer}][{self.j}]"
        return f"W[{self.layer}][{self.i},{self.j}]"

    def to_dict(self) -> dict[str, Any]:
        """Every number as plain Python values (what ``to_json`` of a trace writes)."""
        out = asdict(self)
        out["name"] = self.name
        out["rows"] = [
            {**row, "back_terms": [list(t) for t in row["back_terms"]]} for row in out["rows"]
        ]
        return out

    def to_text(self, precision: int = 6) -> str:
        """The derivation, one line per step, with the numbers plugged in."""
        check_precision(precision)
        return "\n".join(scalar_lines(self, precision)) + "\n"


def scalar_view(trace: Any, layer: int, i: int, j: int, *, epsilon: float = 1e-4) -> ScalarView:
    """Work one weight's gradient and update out of ``trace`` (a :class:`Trace`).

    Parameters
    ----------
    trace : Trace
    layer, i, j : int
        1-based, as the text prints them (see :class:`ScalarView`); ``i = 0`` for the bias.
    epsilon : float, default 1e-4
        Step ``h`` of the finite differences: after Richardson's combination the
        truncation error is of order ``h^4``, so a larger step than a plain central
        difference would take loses fewer digits to rounding.

    Returns
    -------
    ScalarView

    Raises
    ------
    ValueError, TypeError
        For a ``layer``, ``i`` or ``j`` that is not an int in range.
    """
    n_layers = len(trace.layers)
    _check_position("layer", layer, 1, n_layers)
    lt = trace.layers[layer - 1]
    _check_position("i", i, 0, lt.n_in, note=" (0 is the bias)")
    _check_position("j", j, 1, lt.n_out)
    output = layer == n_layers
    above = None if output else trace.layers[layer]
    w = trace.sample_weight.astype(np.float64)
    total = float(trace.total_weight)
    rows = [_row_term(trace, lt, above, r, i, j, float(w[r]), total) for r in range(w.shape[0])]

    is_bias = i == 0
    weight = float(lt.bias[j - 1] if is_bias else lt.weights[i - 1, j - 1])
    data_gradient = math.fsum(row.product for row in rows)
    penalty_gradient = 0.0 if is_bias else trace.alpha * weight / total
    gradient = data_gradient + penalty_gradient
    engine = float(lt.d_bias[j - 1] if is_bias else lt.d_weights[i - 1, j - 1])
    after = float(lt.bias_after[j - 1] if is_bias else lt.weights_after[i - 1, j - 1])
    estimate = finite_difference(
        trace.network,
        trace.X,
        trace.y,
        trace.sample_weight if trace.weighted else None,
        parameter=2 * (layer - 1) + int(is_bias),
        index=(j - 1,) if is_bias else (i - 1, j - 1),
        epsilon=epsilon,
    )
    scale = max(abs(gradient), abs(estimate))
    return ScalarView(
        layer=layer,
        i=i,
        j=j,
        activation=lt.activation,
        derivative_rule=lt.derivative_rule,
        loss_name=trace.loss_name,
        loss_rule=LOSS_GRADIENTS.get(trace.loss_name, "dl/da"),
        output=output,
        canonical=output and trace.canonical,
        weight=weight,
        loss=float(trace.loss),
        total_weight=total,
        alpha=float(trace.alpha),
        learning_rate=float(trace.learning_rate),
        rows=rows,
        data_gradient=data_gradient,
        penalty_gradient=penalty_gradient,
        gradient=gradient,
        engine_gradient=engine,
        weight_after=after,
        finite_difference=estimate,
        epsilon=epsilon,
        relative_difference=abs(gradient - estimate) / scale if scale > 0.0 else 0.0,
    )


def _check_position(name: str, value: Any, low: int, high: int, note: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}]{note}, got {value}")


def _row_term(trace, lt, above, r, i, j, weight, total) -> RowTerm:
    """Row ``r``'s delta of unit ``j`` recomputed from scalars, times its input ``i``."""
    share = weight / total
    z, a = float(lt.z[r, j - 1]), float(lt.a[r, j - 1])
    a_prev = 1.0 if i == 0 else float(lt.a_prev[r, i - 1])
    term = RowTerm(row=r + 1, weight=weight, share=share, a_prev=a_prev, z=z, a=a,
                   f_prime=None, delta=0.0, product=0.0)  # fmt: skip
    if above is None:
        term.y = float(trace.y[r, j - 1])
        g = lt.dl_da[r].astype(np.float64)
        term.dl_da = float(g[j - 1])
        f_prime = lt.f_prime if lt.f_prime is not None else lt.chain_f_prime
        with np.errstate(all="ignore"):  # dl/da is infinite where a saturates exactly
            if f_prime is not None:
                term.f_prime = float(f_prime[r, j - 1])
                term.chain = share * term.dl_da * term.f_prime
            else:
                term.softmax_sum = float(np.dot(g, lt.a[r].astype(np.float64)))
                term.chain = share * (a * (term.dl_da - term.softmax_sum))
        if trace.canonical:
            term.shortcut = share * (a - term.y)
        term.delta = term.shortcut if term.shortcut is not None else term.chain
    else:
        term.back_terms = [
            (float(above.delta[r, k]), float(above.weights[j - 1, k])) for k in range(above.n_out)
        ]
        term.back = math.fsum(d * w for d, w in term.back_terms)
        if lt.f_prime is not None:
            term.f_prime = float(lt.f_prime[r, j - 1])
            term.delta = term.back * term.f_prime
        else:  # softmax: delta_j = a_j (g_j - sum_k g_k a_k), g the whole row of back sums
            g = lt.d_a[r].astype(np.float64)
            term.softmax_sum = float(np.dot(g, lt.a[r].astype(np.float64)))
            term.delta = a * (term.back - term.softmax_sum)
    term.product = a_prev * term.delta
    return term


# -- text --------------------------------------------------------------------------------
def _n(value: float, precision: int) -> str:
    """A number inside a product: negative ones in parentheses."""
    text = fmt(value, precision)
    return f"({text})" if text.startswith("-") else text


def scalar_lines(view: ScalarView, precision: int) -> list[str]:
    """The lines of :meth:`ScalarView.to_text` (also the trace's "Scalar view" section)."""
    p = precision
    l, name = view.layer, view.name
    a_prev = "1" if view.is_bias else f"a[{l - 1}][r,{view.i}]"
    if view.is_bias:
        source = "a constant input 1"
    else:
        source = f"input {view.i}" if l == 1 else f"unit {view.i} of layer {l - 1}"
    where = "output layer" if view.output else "hidden layer"
    penalty = "" if view.is_bias else f" + alpha * {name} / sum(w)"
    lines = [
        f"{name}: from {source} to unit {view.j} of layer {l} ({view.activation}, {where})",
        f"dL/d{name} = sum_r {a_prev} * delta[{l}][r,{view.j}]{penalty}",
    ]
    for row in view.rows[:MAX_ROWS_SHOWN]:
        lines += [f"  {line}" for line in _row_lines(view, row, p)]
    rest = view.rows[MAX_ROWS_SHOWN:]
    if rest:
        lines.append(
            f"  rows {rest[0].row}..{rest[-1].row}: sum of {a_prev} * delta = "
            f"{fmt(math.fsum(r.product for r in rest), p)}"
        )
    n = len(view.rows)
    lines.append(f"sum over the {n} row{'s' if n != 1 else ''}: {fmt(view.data_gradient, p)}")
    if not view.is_bias:
        lines.append(
            f"penalty's share: alpha * {name} / sum(w) = {_n(view.alpha, p)} * "
            f"{_n(view.weight, p)} / {fmt(view.total_weight, p)} = {fmt(view.penalty_gradient, p)}"
        )
    lines += [
        f"dL/d{name} = {fmt(view.data_gradient, p)} + {_n(view.penalty_gradient, p)} = "
        f"{fmt(view.gradient, p)} (the backward pass's d{name.split('[')[0]}: "
        f"{fmt(view.engine_gradient, p)})",
        f"update: {name} <- {name} - eta * dL/d{name} = {fmt(view.weight, p)} - "
        f"{fmt(view.learning_rate, p)} * {_n(view.engine_gradient, p)} = "
        f"{fmt(view.weight_after, p)}",
        f"check: D(h) = (L({name} + h) - L({name} - h)) / 2h, h = {view.epsilon:g}; "
        f"(4 D(h/2) - D(h)) / 3 = {fmt(view.finite_difference, p)} "
        f"(relative difference {view.relative_difference:.2g})",
    ]
    if view.relative_difference > 1e-6 and abs(view.gradient) < 1e-6 * max(1.0, abs(view.loss)):
        lines.append(
            "  (a gradient this small beside the loss: the differences of L lose digits to "
            "rounding, not the backward pass)"
        )
    return lines


def _row_lines(view: ScalarView, row: RowTerm, p: int) -> list[str]:
    l, j, r = view.layer, view.j, row.row
    delta = f"delta[{l}][{r},{j}]"
    head = (
        f"row {r}: w_{r} / sum(w) = {fmt(row.weight, p)} / {fmt(view.total_weight, p)} = "
        f"{fmt(row.share, p)}; z = {fmt(row.z, p)}, a = {fmt(row.a, p)}"
    )
    lines = [head + (f", y = {fmt(row.y, p)}" if row.y is not None else "")]
    if view.output:
        slope = (
            f"{view.derivative_rule} = {fmt(row.f_prime, p)}"
            if row.f_prime is not None
            else f"softmax: sum_k g_k a_k = {fmt(row.softmax_sum, p)} with g = dl/da"
        )
        lines.append(f"  {view.loss_rule} = {fmt(row.dl_da, p)}; {slope}")
        if row.f_prime is not None:
            chain = (
                f"w_{r} / sum(w) * dl/da * f'(z) = {fmt(row.share, p)} * "
                f"{_n(row.dl_da, p)} * {_n(row.f_prime, p)} = {fmt(row.chain, p)}"
            )
        else:
            chain = (
                f"w_{r} / sum(w) * a * (g_{j} - sum_k g_k a_k) = {fmt(row.share, p)} * "
                f"{_n(row.a, p)} * ({fmt(row.dl_da, p)} - {_n(row.softmax_sum, p)}) = "
                f"{fmt(row.chain, p)}"
            )
        if row.shortcut is not None:
            lines.append(
                f"  {delta} = w_{r} / sum(w) * (a - y) = {fmt(row.share, p)} * "
                f"({fmt(row.a, p)} - {_n(row.y, p)}) = {fmt(row.shortcut, p)} (shortcut)"
            )
            lines.append(f"    chain rule: {chain}")
        else:
            lines.append(f"  {delta} = {chain}")
    else:
        terms = " + ".join(f"{_n(d, p)} * {_n(w, p)}" for d, w in row.back_terms[:MAX_TERMS_SHOWN])
        if len(row.back_terms) > MAX_TERMS_SHOWN:
            terms += f" + ... ({len(row.back_terms) - MAX_TERMS_SHOWN} more)"
        lines.append(
            f"  sum_k delta[{l + 1}][{r},k] * W[{l + 1}][{j},k] = {terms} = {fmt(row.back, p)}"
        )
        if row.f_prime is not None:
            lines.append(
                f"  {delta} = {_n(row.back, p)} * f'(z) = {_n(row.back, p)} * "
                f"{_n(row.f_prime, p)} = {fmt(row.delta, p)} ({view.derivative_rule})"
            )
        else:
            lines.append(
                f"  {delta} = a * (g_{j} - sum_k g_k a_k) = {_n(row.a, p)} * "
                f"({fmt(row.back, p)} - {_n(row.softmax_sum, p)}) = {fmt(row.delta, p)} (softmax)"
            )
    a_prev = "1" if view.is_bias else f"a[{l - 1}][{r},{view.i}]"
    lines.append(
        f"  {a_prev} * {delta} = {fmt(row.a_prev, p)} * {_n(row.delta, p)} = {fmt(row.product, p)}"
    )
    return lines
