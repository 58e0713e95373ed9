"""What one frame of the live page shows, computed by the engine's own functions.

A frame is a plain dictionary (JSON-ready, every float finite or None):

- the loss and gradients at the frame's weights, from :meth:`Network.loss_and_gradients`
  on all training rows (so a test can recompute them from the streamed weights);
- the validation loss (no L2 penalty, as :attr:`History.val_loss`) and, for
  classification, the training and validation accuracy;
- one sample's forward and backward pass from :func:`deltaprop.explain` (``z``, ``a``,
  ``f'(z)`` and ``delta = dl/dz`` of that sample's own loss), for colouring the units;
- the network's outputs over a grid of the input plane (:class:`Projection`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from deltaprop.core.network import Network
from deltaprop.explain.trace import explain
from deltaprop.training.splits import validation_loss

#: Points per side of the decision-boundary grid.
GRID_SIZE = 48
#: Training rows drawn on the decision-boundary plot (a seeded subsample).
MAX_POINTS = 400
#: Rows used to find the principal components.
MAX_PCA_ROWS = 20000


def network_task(net: Network) -> str:
    """``"binary"``, ``"multiclass"`` or ``"regression"``, from the loss and output size."""
    name = net.loss.name
    if name == "binary_cross_entropy" and net.n_outputs == 1:
        return "binary"
    if name == "cross_entropy" and net.n_outputs >= 2:
        return "multiclass"
    return "regression"


def finite_or_none(value: float | None) -> float | None:
    """``value`` as a float, or None when it is None, NaN or infinite (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class Projection:
    """A plane through the input space, where the decision boundary is drawn.

    Two inputs: the inputs themselves. More: the plane through the training rows' mean
    spanned by their first two principal components (NumPy's SVD of the centred rows;
    each component's sign fixed so its largest entry is positive). One input: a line.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    feature_names : list of str
    rng : numpy Generator
        Draws the subsample of rows shown as points.
    grid_size : int
    """

    def __init__(
        self, X: np.ndarray, feature_names: list[str], rng: np.random.Generator, grid_size: int
    ) -> None:
        n_samples, n_features = X.shape
        self.grid_size = grid_size
        self.explained: list[float] | None = None
        if n_features <= 2:
            self.kind = "line" if n_features == 1 else "inputs"
            self.origin = np.zeros(n_features)
            self.axes = np.eye(n_features)
            self.axis_labels = list(feature_names)
        else:
            self.kind = "pca"
            rows = X if n_samples <= MAX_PCA_ROWS else X[rng.choice(n_samples, MAX_PCA_ROWS)]
            self.origin = rows.mean(axis=0)
            _, s, vt = np.linalg.svd(rows - self.origin, full_matrices=False)
            axes = vt[:2].T.copy()
            for k in range(axes.shape[1]):
                if axes[np.argmax(np.abs(axes[:, k])), k] < 0:
                    axes[:, k] = -axes[:, k]
            self.axes = axes
            total = float(np.sum(s**2))
            self.explained = [float(v) / total if total > 0 else 0.0 for v in s[:2] ** 2]
            self.axis_labels = ["PC1", "PC2"][: axes.shape[1]]
        coords = self.project(X)
        self.ranges = []
        for k in range(coords.shape[1]):
            low, high = float(coords[:, k].min()), float(coords[:, k].max())
            pad = 0.1 * (high - low) if high > low else 1.0
            self.ranges.append((low - pad, high + pad))
        self.shown = np.sort(rng.permutation(n_samples)[:MAX_POINTS])
        self.points = coords[self.shown]
        ticks = [np.linspace(low, high, grid_size) for low, high in self.ranges]
        if self.kind == "line":
            self.grid_coords = ticks[0][:, None]
        else:
            u, v = np.meshgrid(ticks[0], ticks[1])  # row r of the grid is v = ticks[1][r]
            self.grid_coords = np.column_stack([u.ravel(), v.ravel()])
        self.grid_X = self.origin + self.grid_coords @ self.axes.T

    def project(self, X: np.ndarray) -> np.ndarray:
        """Coordinates of rows of ``X`` in the plane, shape (n_samples, 1 or 2)."""
        return (X - self.origin) @ self.axes

    def describe(self) -> dict[str, Any]:
        """The plane for the page: kind, axis labels and ranges, grid size, axes."""
        return {
            "kind": self.kind,
            "axis_labels": self.axis_labels,
            "ranges": [list(r) for r in self.ranges],
            "grid_size": self.grid_size,
            "explained": self.explained,
            "axes": self.axes.T.tolist(),
        }


def _labels(y: np.ndarray, task: str) -> np.ndarray:
    if task == "binary":
        return (y[:, 0] >= 0.5).astype(np.int64)
    if task == "multiclass":
        return np.argmax(y, axis=1)
    return y[:, 0]


def _predicted(out: np.ndarray, task: str) -> np.ndarray:
    if task == "binary":
        return (out[:, 0] >= 0.5).astype(np.int64)
    return np.argmax(out, axis=1)


def point_labels(y: np.ndarray, task: str, rows: np.ndarray) -> list[float]:
    """What each shown point is coloured by: its class index, or its target."""
    return [float(v) for v in _labels(y[rows], task)]


def _grid(net: Network, projection: Projection, task: str) -> dict[str, Any]:
    out = net.forward(projection.grid_X)
    if task == "binary":
        return {"kind": task, "value": np.round(out[:, 0], 4).tolist()}
    if task == "multiclass":
        return {
            "kind": task,
            "value": np.argmax(out, axis=1).tolist(),
            "confidence": np.round(np.max(out, axis=1), 4).tolist(),
        }
    return {"kind": task, "value": np.round(out[:, 0], 5).tolist()}


def _accuracy(net: Network, X: np.ndarray, y: np.ndarray, task: str) -> float | None:
    if task == "regression" or X.shape[0] == 0:
        return None
    return float(np.mean(_predicted(net.forward(X), task) == _labels(y, task)))


def _sample(net: Network, X: np.ndarray, y: np.ndarray, index: int) -> dict[str, Any]:
    trace = explain(net, X[index : index + 1], y[index : index + 1])
    return {
        "index": index,
        "x": X[index].tolist(),
        "y": y[index].tolist(),
        "loss": finite_or_none(trace.loss),
        "canonical": trace.canonical,
        "z": [lt.z[0].tolist() for lt in trace.layers],
        "a": [lt.a[0].tolist() for lt in trace.layers],
        "f_prime": [None if lt.f_prime is None else lt.f_prime[0].tolist() for lt in trace.layers],
        "delta": [lt.delta[0].tolist() for lt in trace.layers],
    }


def network_frame(
    net: Network,
    data: tuple[np.ndarray, np.ndarray, np.ndarray | None],
    validation: tuple[np.ndarray, np.ndarray, np.ndarray | None, float] | None,
    *,
    task: str,
    projection: Projection,
    sample_index: int,
) -> dict[str, Any]:
    """The numbers of one frame at ``net``'s current weights.

    Parameters
    ----------
    net : Network
    data : tuple ``(X, y, sample_weight)``
        The training rows, ``X`` of shape (n_samples, n_inputs), ``y`` of shape
        (n_samples, n_outputs), ``sample_weight`` of shape (n_samples,) or None.
    validation : tuple ``(X_val, y_val, w_val, total_weight)`` or None
    task : {"binary", "multiclass", "regression"}
    projection : Projection
    sample_index : int
        The training row whose forward and backward pass colours the units.

    Returns
    -------
    dict
        ``loss``, ``val_loss``, ``accuracy``, ``val_accuracy``, ``diverged``, ``layers``
        (per layer ``weights`` (n_in, n_out), ``bias`` (n_out,), ``d_weights``,
        ``d_bias``), ``sample`` and ``grid``. When the numbers overflow, ``diverged`` is
        True and only ``layers[*].weights`` and ``bias`` are filled.
    """
    X, y, w = data
    layers = [
        {"weights": layer.weights.tolist(), "bias": layer.bias.tolist()} for layer in net.layers
    ]
    frame: dict[str, Any] = {
        "loss": None,
        "val_loss": None,
        "accuracy": None,
        "val_accuracy": None,
        "diverged": False,
        "layers": layers,
        "sample": None,
        "grid": None,
    }
    try:
        loss, grads = net.loss_and_gradients(X, y, w)
        if validation is not None:
            X_v, y_v, w_v, total_v = validation
            frame["val_loss"] = finite_or_none(
                validation_loss(net, net.parameters, X_v, y_v, w_v, total_v, xp=np)
            )
            frame["val_accuracy"] = _accuracy(net, X_v, y_v, task)
        frame["accuracy"] = _accuracy(net, X, y, task)
        frame["sample"] = _sample(net, X, y, sample_index)
        frame["grid"] = _grid(net, projection, task)
    except ValueError:  # the loss, gradients or outputs overflow: a diverged network
        frame["diverged"] = True
        return frame
    frame["loss"] = finite_or_none(loss)
    for entry, (d_weights, d_bias) in zip(layers, grads, strict=True):
        entry["d_weights"] = d_weights.tolist()
        entry["d_bias"] = d_bias.tolist()
    return frame
