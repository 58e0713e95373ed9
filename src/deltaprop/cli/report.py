"""The report of ``deltaprop evaluate``: text, a picture (``--plot``), a page (``--html``).

Everything here renders a :meth:`deltaprop.TabularModel.report` dict (plain JSON); the
pictures need matplotlib (the cli extra) and the page is one self-contained HTML file:
inline CSS, PNGs embedded as base64, no external address.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import numpy as np

from deltaprop.cli.common import INSTALL, number

__all__ = ["html_page", "report_lines", "report_png"]


def _cell(value: Any) -> str:
    return "absent" if value is None else (str(value) if isinstance(value, int) else number(value))


def _metric_lines(report: dict) -> list[str]:
    lines = []
    for key, value in report["metrics"].items():
        why = report["absent"].get(key)
        lines.append(f"{key:<18} {_cell(value)}" + (f" ({why})" if why else ""))
    return lines


def _per_class_rows(report: dict) -> list[list[str]]:
    """Header and one row per class: class, precision, recall, f1, support."""
    rows = [["class", "precision", "recall", "f1", "support"]]
    for entry in report["per_class"]:
        rows.append([str(entry["class"])] + [_cell(entry[k]) for k in rows[0][1:]])
    return rows


def _confusion_lines(matrix: list[list[float]], labels: list[str]) -> list[str]:
    """The confusion matrix as aligned text: counts, or sums of weights (6 digits)."""
    cells = [[_cell(v) for v in row] for row in matrix]
    width = max(6, *(len(label) for label in labels), *(len(v) for r in cells for v in r))
    lines = ["confusion matrix (rows: true class, columns: predicted class):"]
    lines.append(" " * (width + 2) + " ".join(f"{label:>{width}}" for label in labels))
    for label, row in zip(labels, cells, strict=True):
        lines.append(f"  {label:<{width}}" + " ".join(f"{v:>{width}}" for v in row))
    return lines


def report_lines(report: dict, data: str) -> list[str]:
    """The text report of ``deltaprop evaluate``."""
    weighted = (
        "" if report["sample_weight"] is None else f", weighted by {report['sample_weight']!r}"
    )
    lines = [
        f"evaluated on {report['n_rows']} rows of {data} (target {report['target']!r}, "
        f"{report['task']}{weighted})",
        *_metric_lines(report),
    ]
    if report["task"] != "classification":
        return lines
    rows = _per_class_rows(report)
    width = max(len(row[0]) for row in rows)
    lines.append("per class:")
    lines += [f"  {row[0]:<{width}}" + "".join(f" {v:>10}" for v in row[1:]) for row in rows]
    labels = [str(label) for label in report["confusion_matrix"]["labels"]]
    return lines + _confusion_lines(report["confusion_matrix"]["matrix"], labels)


# -- pictures -------------------------------------------------------------------------
def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.figure import Figure  # optional dependency: the cli extra
    except ImportError:
        raise ImportError(f"--plot and --html need matplotlib: {INSTALL}") from None
    return Figure(figsize=(width, height))


def _png(figure: Any) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _draw_confusion(report: dict) -> Any:
    labels = [str(label) for label in report["confusion_matrix"]["labels"]]
    matrix = np.asarray(report["confusion_matrix"]["matrix"], dtype=np.float64)
    size = min(12.0, 3.0 + 0.6 * len(labels))
    figure = _figure(size + 1.0, size)
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes)
    ticks = np.arange(len(labels))
    axes.set_xticks(ticks, labels, rotation=45, ha="right")
    axes.set_yticks(ticks, labels)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(f"confusion matrix of {report['target']!r}")
    if len(labels) <= 20:  # the counts stay readable
        middle = matrix.max() / 2.0
        for (i, j), value in np.ndenumerate(matrix):
            colour = "white" if value > middle else "black"
            axes.text(j, i, _cell(value.item()), ha="center", va="center", color=colour)
    return figure


def _draw_regression(report: dict, actual: np.ndarray, predicted: np.ndarray) -> Any:
    figure = _figure(10.0, 4.5)
    left, right = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    left.scatter(actual, predicted, s=10, alpha=0.6)
    low, high = (
        float(np.min([actual.min(), predicted.min()])),
        float(np.max([actual.max(), predicted.max()])),
    )
    left.plot([low, high], [low, high], color="grey", linestyle="--", label="predicted = actual")
    left.set_xlabel(f"actual {report['target']}")
    left.set_ylabel(f"predicted {report['target']}")
    left.set_title("predicted vs actual")
    left.legend()
    right.scatter(predicted, actual - predicted, s=10, alpha=0.6)
    right.axhline(0.0, color="grey", linestyle="--")
    right.set_xlabel(f"predicted {report['target']}")
    right.set_ylabel("residual (actual - predicted)")
    right.set_title("residuals")
    return figure


def report_png(report: dict, actual: Any = None, predicted: Any = None) -> bytes:
    """The picture of a report as PNG bytes: the confusion matrix (classification), or
    predicted vs actual and the residuals (regression; ``actual`` and ``predicted`` are
    arrays of shape (n_rows,) in the target's units)."""
    if report["task"] == "classification":
        return _png(_draw_confusion(report))
    return _png(
        _draw_regression(
            report, np.asarray(actual, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
        )
    )


# -- the page -------------------------------------------------------------------------
_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; } pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; }
.note { color: #666; }
"""


def _table(rows: list[list[str]], header: bool = True) -> str:
    parts = ["<table>"]
    for i, row in enumerate(rows):
        tag = "th" if header and i == 0 else "td"
        parts.append("<tr>" + "".join(f"<{tag}>{html.escape(v)}</{tag}>" for v in row) + "</tr>")
    return "\n".join([*parts, "</table>"])


def _image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def html_page(
    report: dict,
    *,
    data: str,
    model: str,
    picture: bytes,
    losses: bytes | None,
    card: list[str],
) -> str:
    """One self-contained HTML page: metrics, per-class table, confusion matrix, the
    report's picture, the loss curves of training (``losses``, a PNG) and the model card."""
    title = f"deltaprop evaluate: {model} on {data}"
    metrics = [["metric", "value"]]
    for key, value in report["metrics"].items():
        why = report["absent"].get(key)
        metrics.append([key, _cell(value) + (f" ({why})" if why else "")])
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(report_lines(report, data)[0])}</p>",
        "<h2>Metrics</h2>",
        _table(metrics),
    ]
    if report["task"] == "classification":
        labels = [str(label) for label in report["confusion_matrix"]["labels"]]
        matrix = [["true \\ predicted", *labels]] + [
            [label, *(_cell(v) for v in row)]
            for label, row in zip(labels, report["confusion_matrix"]["matrix"], strict=True)
        ]
        body += ["<h2>Per class</h2>", _table(_per_class_rows(report))]
        body += ["<h2>Confusion matrix</h2>", _table(matrix), _image(picture, "confusion matrix")]
    else:
        body += ["<h2>Predicted vs actual, residuals</h2>", _image(picture, "predicted vs actual")]
    body.append("<h2>Training</h2>")
    if losses is not None:
        body.append(_image(losses, "loss per epoch"))
    else:
        body.append('<p class="note">the model file records no loss curve</p>')
    body += ["<h2>Model card</h2>", f"<pre>{html.escape(chr(10).join(card))}</pre>"]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
