"""The network diagram of :meth:`deltaprop.explain.Trace.to_png` (needs matplotlib).

Units are circles in one column per layer, labelled with their activation ``a`` and
delta; each connection carries its weight ``w`` and gradient ``dL/dw`` (in layers of at
most 8 connections; denser ones would be unreadable); each unit's bias and its gradient
stand under it. A layer of more than ``MAX_UNITS`` units shows its first
``MAX_UNITS - 1`` and a last circle "... n more". Inputs carry their column names when the
trace has them. matplotlib is imported here only, and only when a diagram is drawn: the
figure is built without pyplot, so no backend is changed.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from deltaprop.files.container import write_atomically

#: Units drawn per layer: a wider layer shows its first MAX_UNITS - 1 and "... n more".
MAX_UNITS = 8
#: Connections per layer beyond which edge labels are left out.
MAX_LABELLED_EDGES = 8


def _matplotlib_figure():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError('Trace.to_png needs matplotlib: pip install "deltaprop[plot]"') from None
    return Figure


def _fmt(value: float) -> str:
    value = float(value)
    return "0" if value == 0.0 else f"{value:.4g}"


def draw_trace(trace: Any, path: Any, *, sample: int = 0, dpi: int = 150) -> None:
    """Write the diagram of ``trace`` for row ``sample`` to ``path`` (PNG)."""
    Figure = _matplotlib_figure()
    n_samples = trace.X.shape[0]
    if isinstance(sample, bool) or not isinstance(sample, int):
        raise TypeError(f"sample must be an int, got {sample!r}")
    if not 0 <= sample < n_samples:
        raise ValueError(f"sample must be in [0, {n_samples - 1}], got {sample}")
    full = [trace.X.shape[1]] + [lt.n_out for lt in trace.layers]
    # circles per column; a wide layer's last circle stands for the units left out
    sizes = [min(n, MAX_UNITS) for n in full]
    shown = [n if n <= MAX_UNITS else MAX_UNITS - 1 for n in full]

    x_step, y_step, radius = 4.0, 2.2, 0.42
    height = max(sizes)
    positions = [
        [(c * x_step, (height - 1) / 2 * y_step - j * y_step) for j in range(n)]
        for c, n in enumerate(sizes)
    ]
    fig = Figure(figsize=(2.6 + 3.3 * (len(sizes) - 1), 1.6 + 1.75 * height))
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    ax.axis("off")

    _draw_edges(ax, trace, positions, shown)
    _draw_units(ax, trace, positions, shown, full, radius, sample)
    names = trace.feature_names

    columns = [f"input ({full[0]})"] + [
        f"layer {lt.index + 1}: {lt.activation}"
        + (f" ({lt.n_out})" if lt.n_out > MAX_UNITS else "")
        for lt in trace.layers
    ]
    top = (height - 1) / 2 * y_step + radius + 1.0
    for c, name in enumerate(columns):
        ax.text(c * x_step, top, name, ha="center", va="bottom", fontsize=9, weight="bold")
    sample_note = f"row {sample + 1} of {n_samples}" if n_samples > 1 else "the one row"
    title = (
        f"{trace.loss_name}, loss {trace.loss:.6g}; a and δ = dL/dz for {sample_note}; "
        f"w, b and their gradients ∂L/∂w, ∂L/∂b over the batch"
    )
    if any(lt.n_in * lt.n_out > MAX_LABELLED_EDGES for lt in trace.layers):
        title += (
            f"\n(connections of layers with more than {MAX_LABELLED_EDGES} are left "
            "unlabelled: see to_text or to_json)"
        )
    ax.set_title(title, fontsize=8.5)
    bottom = -(height - 1) / 2 * y_step - radius - 0.9
    ax.set_xlim(-3.2 if names is not None else -1.0, (len(sizes) - 1) * x_step + 1.4)
    ax.set_ylim(bottom, top + 0.6)
    fig.tight_layout()
    if not isinstance(path, str | os.PathLike):
        fig.savefig(path, dpi=dpi)  # a file object: the caller's to manage
        return
    # atomically: a full disk leaves the previous picture, never half of a new one
    suffix = Path(path).suffix.lstrip(".").lower() or None
    write_atomically(path, lambda file: fig.savefig(file, dpi=dpi, format=suffix))


def _draw_edges(ax: Any, trace: Any, positions: list, shown: list[int]) -> None:
    """Connections, labelled with weight and gradient in sparse layers."""
    for l, lt in enumerate(trace.layers):
        labelled = lt.n_in * lt.n_out <= MAX_LABELLED_EDGES
        for i, (x0, y0) in enumerate(positions[l]):
            for j, (x1, y1) in enumerate(positions[l + 1]):
                more = i >= shown[l] or j >= shown[l + 1]
                ax.plot([x0, x1], [y0, y1], color="0.8" if more else "0.6", lw=1.0,
                        ls=":" if more else "-", zorder=1)  # fmt: skip
                if not labelled:
                    continue
                # Staggered along the edge by target unit: edges into one unit keep their
                # heights apart, edges out of one unit their distances, and no label sits
                # on the crossing in the middle of a 2 x 2 layer.
                t = 0.2 + 0.6 * (j + 0.5) / lt.n_out
                angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
                ax.text(
                    x0 + t * (x1 - x0),
                    y0 + t * (y1 - y0),
                    f"w={_fmt(lt.weights[i, j])}\n∂L/∂w={_fmt(lt.d_weights[i, j])}",
                    rotation=angle,
                    rotation_mode="anchor",
                    ha="center",
                    va="center",
                    fontsize=7.5,
                    color="#1f3b73",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.9},
                    zorder=3,
                )


def _draw_units(
    ax: Any, trace: Any, positions: list, shown: list[int], full: list[int], radius: float,
    sample: int,
) -> None:  # fmt: skip
    """Input circles (with their names) and unit circles (a, delta, b and its gradient)."""
    names = trace.feature_names
    for j, (x, y) in enumerate(positions[0]):
        if j >= shown[0]:
            _more(ax, x, y, radius, full[0] - shown[0])
            continue
        ax.add_patch(_circle(x, y, radius, "#e8e8e8"))
        ax.text(x, y, f"x{j + 1}", ha="center", va="center", fontsize=9, zorder=5)
        ax.text(
            x, y + radius + 0.12, f"a={_fmt(trace.X[sample, j])}",
            ha="center", va="bottom", fontsize=8, zorder=5,
        )  # fmt: skip
        if names is not None:
            ax.text(
                x - radius - 0.12, y, _short(names[j]),
                ha="right", va="center", fontsize=7.5, color="#5a5a5a", zorder=5,
            )  # fmt: skip
    for l, lt in enumerate(trace.layers):
        is_output = l == len(trace.layers) - 1
        for j, (x, y) in enumerate(positions[l + 1]):
            if j >= shown[l + 1]:
                _more(ax, x, y, radius, full[l + 1] - shown[l + 1])
                continue
            ax.add_patch(_circle(x, y, radius, "#fde3c8" if is_output else "#d7e8f7"))
            ax.text(
                x, y, lt.symbol or lt.activation,
                ha="center", va="center", fontsize=8, zorder=5,
            )  # fmt: skip
            ax.text(
                x, y + radius + 0.12,
                f"a={_fmt(lt.a[sample, j])}\nδ={_fmt(lt.delta[sample, j])}",
                ha="center", va="bottom", fontsize=8, zorder=5,
            )  # fmt: skip
            ax.text(
                x, y - radius - 0.12,
                f"b={_fmt(lt.bias[j])}\n∂L/∂b={_fmt(lt.d_bias[j])}",
                ha="center", va="top", fontsize=7.5, color="#5a5a5a", zorder=5,
            )  # fmt: skip
            if is_output:
                ax.text(
                    x + radius + 0.25, y, f"y={_fmt(trace.y[sample, j])}",
                    ha="left", va="center", fontsize=8, zorder=5,
                )  # fmt: skip


def _short(name: str, width: int = 18) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _more(ax: Any, x: float, y: float, radius: float, n: int) -> None:
    """The circle that stands for the ``n`` units a wide layer leaves out."""
    ax.add_patch(_circle(x, y, radius, "white", dashed=True))
    ax.text(x, y, f"… {n}\nmore", ha="center", va="center", fontsize=7.5, zorder=5)


def _circle(x: float, y: float, radius: float, colour: str, *, dashed: bool = False):
    from matplotlib.patches import Circle  # the plot extra: only when a diagram is drawn

    return Circle(
        (x, y), radius, facecolor=colour, edgecolor="0.3", lw=1.0, ls="--" if dashed else "-",
        zorder=4,
    )  # fmt: skip
