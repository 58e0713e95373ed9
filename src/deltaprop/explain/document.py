"""The document behind :meth:`Trace.to_text` and :meth:`Trace.to_markdown`.

:func:`document` lays one :class:`~deltaprop.explain.Trace` out as titled sections of
paragraphs, arrays and tables, in the order of the algorithm's steps;
:func:`render_text` and :func:`render_markdown` print that document. Arrays larger than
``MAX_SHOWN`` rows or columns are summarised.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

import numpy as np

from deltaprop.core.validation import check_number

#: A :class:`deltaprop.explain.Trace`. Not imported, not even for type checking:
#: :mod:`deltaprop.explain.trace` imports this module, and imports run one way.
_Trace = Any

#: Arrays with more rows or columns than this are summarised in text and Markdown.
MAX_SHOWN = 8
#: Paragraphs of the text output are wrapped at this width.
_TEXT_WIDTH = 96

LOSS_FORMULAS = {
    "binary_cross_entropy": "l_i = -sum_k [y_ik log a_ik + (1 - y_ik) log(1 - a_ik)]",
    "cross_entropy": "l_i = -sum_k y_ik log a_ik",
    "squared_error": "l_i = 1/2 sum_k (a_ik - y_ik)^2",
    "poisson": "l_i = sum_k (a_ik - y_ik log a_ik)",
}
LOSS_GRADIENTS = {
    "binary_cross_entropy": "dl/da = (a - y) / (a (1 - a))",
    "cross_entropy": "dl/da = -y / a",
    "squared_error": "dl/da = a - y",
    "poisson": "dl/da = 1 - y / a",
}


def render_text(trace: _Trace, precision: int) -> str:
    """Plain text: a title, then each section with an underlined heading."""
    check_precision(precision)
    title, sections = document(trace, precision)
    lines = [title, "=" * len(title)]
    for heading, items in sections:
        lines += ["", heading, "-" * len(heading)]
        for item in items:
            lines += _text_item(item, precision)
    return "\n".join(lines) + "\n"


def render_markdown(trace: _Trace, precision: int) -> str:
    """Markdown: a heading per section, arrays in ``text`` code blocks, tables as tables."""
    check_precision(precision)
    title, sections = document(trace, precision)
    lines = [f"## {title}"]
    for heading, items in sections:
        lines += ["", f"### {heading}", ""]
        block: list[str] = []
        for item in items:
            if item[0] in ("array", "lines"):
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


def _weights_phrase(trace: _Trace, precision: int) -> str:
    """``sample weights w = [...] (sum ...)`` or what stands for them."""
    if not trace.weighted:
        return "no sample weights (every w_i = 1)"
    w = trace.sample_weight
    shown = " ".join(fmt(v, precision) for v in w[:MAX_SHOWN])
    more = f" ... ({w.shape[0]} in all)" if w.shape[0] > MAX_SHOWN else ""
    return f"sample weights w = [{shown}{more}] (sum(w) = {fmt(trace.total_weight, precision)})"


def norm(x: np.ndarray) -> float:
    """The Euclidean norm, scaled by the largest entry so large values do not overflow."""
    values = np.abs(np.asarray(x, dtype=np.float64))
    largest = float(np.max(values)) if values.size else 0.0
    if largest == 0.0 or not np.isfinite(largest):
        return largest  # 0, inf, or nan
    return largest * float(np.sqrt(np.sum((values / largest) ** 2)))


def document(trace: _Trace, precision: int) -> tuple[str, list[tuple[str, list[tuple]]]]:
    """The title and the sections that :func:`render_text` and :func:`render_markdown` print.

    Each section is ``(heading, items)``; an item is ``("p", text)``,
    ``("array", label, array)``, ``("table", headers, rows)`` or ``("lines", lines)``
    (preformatted).
    """
    n_samples = trace.X.shape[0]
    L = len(trace.layers)
    last = trace.layers[-1]
    sizes = " -> ".join(
        [f"{trace.X.shape[1]} inputs"] + [f"{lt.n_out} {lt.activation}" for lt in trace.layers]
    )
    overview = [
        ("p", f"network: {sizes}; loss: {trace.loss_name}"),
        (
            "p",
            f"data: {n_samples} row{'s' if n_samples != 1 else ''}, "
            + _weights_phrase(trace, precision)
            + f"; learning_rate eta = {fmt(trace.learning_rate, precision)}"
            + f"; L2 penalty alpha = {fmt(trace.alpha, precision)}"
            + f"; dtype {trace.X.dtype}",
        ),
        (
            "p",
            "Notation: layers, rows and units are numbered from 1; a[0] = X. Rows are "
            "samples: z[l] = a[l-1] @ W[l] + b[l], and W[l][i, j] (rows: inputs i, "
            "columns: units j) connects unit i of layer l-1 to unit j of layer l, the "
            "transpose of the textbook's W in z = W a + b. delta[l] = dL/dz[l] of the "
            "weighted mean loss L of this batch, so row i of delta carries w_i / sum(w).",
        ),
    ]
    if trace.feature_names is not None:
        named = ", ".join(f"{k + 1} {name}" for k, name in enumerate(trace.feature_names[:12]))
        more = f", ... ({len(trace.feature_names)} in all)" if len(trace.feature_names) > 12 else ""
        overview.append(("p", f"inputs: {named}{more}"))

    forward = [
        ("p", "`z[l] = a[l-1] @ W[l] + b[l]`, `a[l] = f(z[l])`"),
        ("array", "a[0] = X", trace.X),
    ]
    for lt in trace.layers:
        l = lt.index + 1
        forward += [
            ("p", f"layer {l}: {lt.n_in} -> {lt.n_out}, {lt.activation}"),
            ("array", f"W[{l}]", lt.weights),
            ("array", f"b[{l}]", lt.bias),
            ("array", f"z[{l}] = a[{l - 1}] @ W[{l}] + b[{l}]", lt.z),
            ("array", f"a[{l}] = {lt.activation}(z[{l}])", lt.a),
        ]

    formula = LOSS_FORMULAS.get(trace.loss_name, f"l_i = {trace.loss_name}(a_i, y_i)")
    error: list[tuple] = [
        ("p", f"loss {trace.loss_name}: `{formula}`, compared with the output a[{L}]"),
        ("array", "y", trace.y),
    ]
    error += _per_sample_table(trace, precision)
    error.append(
        (
            "p",
            f"`L = sum_i w_i l_i / sum_i w_i` = {fmt(trace.data_loss, precision)} "
            f"(sum_i w_i = {fmt(trace.total_weight, precision)})",
        )
    )
    if trace.alpha:
        error.append(
            (
                "p",
                f"penalty `(alpha / 2) sum_l ||W[l]||^2 / sum_i w_i` = "
                f"{fmt(trace.penalty, precision)}; total L = {fmt(trace.loss, precision)}",
            )
        )

    if trace.canonical:
        d_rule = LOSS_GRADIENTS.get(trace.loss_name, "dl/da")
        chain = (
            f"`w_i / sum(w) * dl/da * f'(z[{L}])` with `{d_rule}` and `{last.derivative_rule}`"
            if last.chain_f_prime is not None
            else "`w_i / sum(w) * a * (g - sum_k g_k a_k)` with `g = dl/da` (the softmax "
            "Jacobian product)"
        )
        intro = (
            f"{last.activation} output with {trace.loss_name} is a canonical pair: "
            f"`f'(z)` cancels the denominator of `dl/da`, so `dl/dz = a - y` and "
            f"`delta[{L}] = w_i / sum(w) * (a_i - y_i)`, the shortcut the backward pass "
            f"takes. The full chain rule, {chain}, gives the same numbers:"
        )
        output = [
            *_chain_items(L, intro, last.dl_da, last.chain_f_prime),
            ("array", "chain rule: w_i / sum(w) * dl/da * f'(z)", last.chain_delta),
            ("p", "and the shortcut:"),
            ("array", "a - y", last.d_a),
        ]
    else:
        d_rule = LOSS_GRADIENTS.get(trace.loss_name, "dl/da")
        f_rule = last.derivative_rule
        how = (
            f"`delta[{L}] = w_i / sum(w) * dl/da * f'(z[{L}])` with `{d_rule}` and `{f_rule}`"
            if last.f_prime is not None
            else f"`delta[{L}] = w_i / sum(w) * a * (g - sum_k g_k a_k)` with `g = dl/da`, "
            f"`{d_rule}` (the softmax Jacobian product)"
        )
        intro = (
            f"{last.activation} output with {trace.loss_name} is not a canonical pair, "
            f"so the general chain rule applies: {how}."
        )
        output = _chain_items(L, intro, last.d_a, last.f_prime)
    output += [
        ("array", "w_i / sum(w)", trace.sample_weight / trace.total_weight),
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
    for lt in reversed(trace.layers[:-1]):
        hidden += _hidden_delta_items(lt)

    update = [
        (
            "p",
            "`dW[l] = a[l-1].T @ delta[l] + alpha W[l] / sum(w)` (the data term's part, "
            "then the L2 penalty's share), `db[l] = sum_i delta[l]` (biases are not "
            f"penalised); then `W[l] <- W[l] - eta dW[l]` with eta = "
            f"{fmt(trace.learning_rate, precision)}, and the same for b[l].",
        )
    ]
    for lt in trace.layers:
        l = lt.index + 1
        update += [
            (
                "p",
                f"layer {l}: |dW| = {fmt(lt.grad_norm, precision)}, "
                f"|db| = {fmt(lt.bias_grad_norm, precision)}",
            ),
        ]
        if lt.d_weights_penalty is not None:
            update += [
                ("array", f"a[{l - 1}].T @ delta[{l}]", lt.d_weights_data),
                ("array", f"alpha W[{l}] / sum(w)", lt.d_weights_penalty),
            ]
        update += [
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
    if trace.loss_curve is not None:
        sections.append(("6 " + _curve_heading(trace), _curve_items(trace, precision)))
    sections.append(("Diagnostics", _diagnostic_items(trace, precision)))
    for view in trace.scalar_views:
        lines = view.to_text(precision).splitlines()
        sections.append((f"Scalar view of {view.name}", [("lines", lines)]))
    return "deltaprop explain: one step of backpropagation, every number", sections


def _chain_items(L: int, intro: str, dl_da: np.ndarray, f_prime: np.ndarray | None) -> list:
    """The output delta's factors: the sentence, ``dl/da`` and ``f'(z)`` (None: softmax)."""
    items: list[tuple] = [("p", intro), ("array", "dl/da", dl_da)]
    if f_prime is not None:
        items.append(("array", f"f'(z[{L}])", f_prime))
    return items


def _hidden_delta_items(lt: Any) -> list[tuple]:
    """How the backward pass reached a hidden layer's delta (``lt`` a ``LayerTrace``)."""
    l = lt.index + 1
    back = f"delta[{l + 1}] @ W[{l + 1}].T"
    if lt.f_prime is not None:
        intro = f"layer {l} ({lt.activation}, `{lt.derivative_rule}`)"
        d_a = [("array", back, lt.d_a), ("array", f"f'(z[{l}])", lt.f_prime)]
    else:  # the softmax, whose Jacobian is not diagonal
        intro = (
            f"layer {l} ({lt.activation}, not element-wise: "
            f"`delta = a * (g - sum_k g_k a_k)` with `g = {back}`)"
        )
        d_a = [("array", f"g = {back}", lt.d_a)]
    return [("p", intro), *d_a, ("array", f"delta[{l}]", lt.delta)]


def _diagnostic_items(trace: _Trace, precision: int) -> list[tuple]:
    rows = []
    for lt in trace.layers:
        ratio = (
            trace.learning_rate * lt.grad_norm / lt.weight_norm if lt.weight_norm > 0 else math.inf
        )
        rows.append(
            [
                str(lt.index + 1),
                lt.activation,
                fmt(lt.grad_norm, 3),
                fmt(lt.bias_grad_norm, 3),
                fmt(norm(lt.delta), 3),
                fmt(ratio, 3),
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
        (
            "p",
            "Gradient norms per layer, the relative size of the update, and unit health "
            f"(saturated: values with f'(z) < 0.01; dead: units with z <= 0 on every row; "
            f"both over the {trace.health_rows} row{'s' if trace.health_rows != 1 else ''} "
            "measured):",
        ),
        ("table", headers, rows),
        *[("p", hint) for hint in trace.hints],
    ]


def _curve_heading(trace: _Trace) -> str:
    return f"Loss over {len(trace.loss_curve)} steps of gradient descent"


def _curve_items(trace: _Trace, precision: int) -> list[tuple]:
    curve = trace.loss_curve
    n = len(curve)
    every = max(1, math.ceil(n / 10))
    shown = [i for i in range(n) if i % every == 0 or i == n - 1]
    rows = [[str(i + 1), fmt(curve[i], precision)] for i in shown]
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


def _per_sample_table(trace: _Trace, precision: int) -> list[tuple]:
    n = trace.X.shape[0]
    shown = list(range(n)) if n <= MAX_SHOWN else list(range(5))
    out = trace.layers[-1].a
    n_outputs = out.shape[1]
    rows = []
    for i in shown:
        row = [str(i + 1)]
        if n_outputs <= 3:
            row += [_fmt_vector(trace.y[i], precision), _fmt_vector(out[i], precision)]
        row += [fmt(trace.losses[i], precision), fmt(trace.sample_weight[i], precision)]
        rows.append(row)
    headers = ["row"] + (["y", "a"] if n_outputs <= 3 else []) + ["l_i", "w_i"]
    items: list[tuple] = [("table", headers, rows)]
    if n > len(shown):
        items.append(
            (
                "p",
                f"... {n - len(shown)} more rows; l_i over all {n}: "
                + _summary(trace.losses, precision),
            )
        )
    return items


# -- formatting -------------------------------------------------------------------------
def check_precision(precision: int) -> None:
    check_number("precision", precision, low=1, high=17, integer=True)


def fmt(value: float, precision: int) -> str:
    """``value`` with ``precision`` significant digits, as a plain number (``0`` for zero)."""
    value = float(value)
    if value == 0.0:
        return "0"
    return f"{value:.{precision}g}"


def _fmt_vector(v: np.ndarray, precision: int) -> str:
    return " ".join(fmt(x, precision) for x in v)


def _summary(a: np.ndarray, precision: int) -> str:
    """One line for an array too large to show: norm, range, mean and the first values."""
    flat = np.asarray(a, dtype=np.float64).ravel()
    first = " ".join(fmt(x, 4) for x in flat[:4])
    return (
        f"norm {fmt(norm(flat), precision)}, "
        f"min {fmt(flat.min(), 4)}, max {fmt(flat.max(), 4)}, "
        f"mean {fmt(flat.mean(), 4)}; first values {first} ..."
    )


def _matrix_lines(a: np.ndarray, precision: int) -> list[str]:
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    # Align each column on the decimal point: split every number at its first ".".
    split = [[fmt(x, precision).partition(".") for x in row] for row in a2]
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
    if kind == "lines":
        return [indent + line for line in item[1]]
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
