"""What one frame of the live page shows, computed by the engine's own functions.

A frame is a plain dictionary (JSON-ready, every float finite or None):

- the loss and gradients at the frame's weights, from :meth:`Network.loss_and_gradients`
  on all training rows (so a test can recompute them from the streamed weights);
- the validation loss (no L2 penalty, as :attr:`History.val_loss`) and, for
  classification, the training and validation accuracy;
- one chosen row's forward and backward pass (``z``, ``a``, ``f'(z)``, and its row of
  ``delta[l] = dL/dz[l]``, the same delta as :func:`deltaprop.explain`'s: ``L`` is the
  weighted mean loss of all training rows, so the row's delta carries the factor
  ``w_i / sum(w)``), and its share ``a[l-1]_i^T delta[l]_i`` of each ``dW[l]``, from the
  engine's :func:`~deltaprop.core.backprop.backward_pass` on that row with the batch's
  total weight;
- the network's outputs over a grid of the input plane (:class:`Projection`), and for
  two-dimensional planes each hidden unit's output over a coarser grid;
- a warning when the recent training loss grows or swings (:func:`loss_warning`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from deltaprop.core.backprop import backward_pass, forward_pass
from deltaprop.core.network import Network
from deltaprop.core.objective import penalty
from deltaprop.training.splits import validation_loss

#: Points per side of the decision-boundary grid.
GRID_SIZE = 48
#: Training rows drawn on the decision-boundary plot (a seeded subsample).
MAX_POINTS = 400
#: Rows used to find the principal components.
MAX_PCA_ROWS = 20000
#: Points per side of the grid of each hidden unit's picture.
UNIT_GRID_SIZE = 20
#: At most this many pictures per hidden layer (the units with the largest outgoing
#: weights), and in all.
MAX_UNIT_PICTURES = 12
MAX_ALL_UNIT_PICTURES = 48
#: The loss warning looks at this many last epochs.
TREND_WINDOW = 30


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
        self.grid_X = self._grid(grid_size)
        self.unit_grid_X = None if self.kind == "line" else self._grid(UNIT_GRID_SIZE)

    def _grid(self, size: int) -> np.ndarray:
        """Rows of input space over a ``size``-point grid of the plane (or the line)."""
        ticks = [np.linspace(low, high, size) for low, high in self.ranges]
        if self.kind == "line":
            coords = ticks[0][:, None]
        else:
            u, v = np.meshgrid(ticks[0], ticks[1])  # row r of the grid is v = ticks[1][r]
            coords = np.column_stack([u.ravel(), v.ravel()])
        return self.origin + coords @ self.axes.T

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
            "unit_grid_size": None if self.unit_grid_X is None else UNIT_GRID_SIZE,
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


def _total_weight(X: np.ndarray, w: np.ndarray | None) -> float:
    return float(X.shape[0]) if w is None else float(np.sum(w))


def row_passes(
    net: Network,
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    index: int,
) -> dict[str, Any]:
    """Row ``index``'s forward and backward pass, as one row of the whole batch's.

    The engine's :func:`~deltaprop.core.backprop.backward_pass` runs on the one row with
    the batch's total weight ``sum(w)``: its ``delta[l]`` is row ``index`` of the
    batch's ``dL/dz[l]`` (rows are independent), and its gradients are the row's share
    ``a[l-1]_i^T delta[l]_i`` of ``dW[l]`` and ``delta[l]_i`` of ``db[l]``.

    Returns
    -------
    dict
        ``index``, ``x``, ``y``, ``weight`` (``w_i``, 1 without weights),
        ``total_weight``, ``share`` (``w_i / sum(w)``), ``loss`` (the row's own ``l_i``),
        ``canonical``, and per layer ``z``, ``a``, ``f_prime`` (None where there is no
        single ``f'(z)``), ``delta``, ``d_weights`` and ``d_bias`` (the row's shares).
    """
    params = list(net.parameters)
    rows = slice(index, index + 1)
    weight = None if w is None else w[rows]
    total = _total_weight(X, w)
    zs, activations = forward_pass(net.layers, params, X[rows], xp=np)
    result = backward_pass(
        net.layers, net.loss, params, zs, activations, y[rows], weight, total, xp=np
    )
    f_prime = []
    for layer, z, a in zip(net.layers, zs, activations[1:], strict=True):
        if layer.activation.elementwise:
            f_prime.append(layer.activation.derivative(z, a, xp=np)[0].tolist())
        else:  # a softmax: a Jacobian, not one f'(z) per unit
            f_prime.append(None)
    arrays = [*zs, *activations, *result.deltas, *result.grads]
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise ValueError(f"row {index + 1}'s forward or backward pass is not finite")
    w_i = 1.0 if w is None else float(w[index])
    return {
        "index": index,
        "x": X[index].tolist(),
        "y": y[index].tolist(),
        "weight": w_i,
        "total_weight": total,
        "share": w_i / total,
        "loss": finite_or_none(result.losses[0]),
        "canonical": result.canonical,
        "z": [z[0].tolist() for z in zs],
        "a": [a[0].tolist() for a in activations[1:]],
        "f_prime": f_prime,
        "delta": [d[0].tolist() for d in result.deltas],
        "d_weights": [g.tolist() for g in result.grads[0::2]],
        "d_bias": [g.tolist() for g in result.grads[1::2]],
    }


def _unit_pictures(net: Network, projection: Projection) -> list[dict[str, Any]] | None:
    """Each hidden unit's output over the plane (a few per layer when there are many)."""
    if projection.unit_grid_X is None or len(net.layers) < 2:
        return None
    params = list(net.parameters)
    _, activations = forward_pass(net.layers, params, projection.unit_grid_X, xp=np)
    out, left = [], MAX_ALL_UNIT_PICTURES
    for l in range(len(net.layers) - 1):
        n_units = net.layers[l].n_out
        shown = min(n_units, MAX_UNIT_PICTURES, left)
        if shown <= 0:
            break
        if shown < n_units:  # the units that matter most downstream
            strength = np.linalg.norm(net.layers[l + 1].weights, axis=1)
            units = np.sort(np.argsort(-strength, kind="stable")[:shown])
        else:
            units = np.arange(n_units)
        values = activations[l + 1][:, units].T
        if not np.all(np.isfinite(values)):
            raise ValueError(f"layer {l + 1}'s outputs over the plane are not finite")
        out.append(
            {
                "layer": l,
                "n_units": n_units,
                "units": units.tolist(),
                "values": np.round(values, 3).tolist(),
            }
        )
        left -= shown
    return out


def step_row(trace: Any, net: Network, index: int) -> dict[str, Any]:
    """Row ``index`` through the step that :func:`deltaprop.explain` recorded in ``trace``.

    Per layer: the row's ``z``, ``a``, ``f_prime``, ``d_a`` and ``delta`` (its row of
    the batch's ``dL/dz``), its share of the gradients (``row_d_weights``
    ``= a[l-1]_i^T delta[l]_i`` from the layer's own backward pass, ``row_d_bias``
    ``= delta[l]_i``), and the batch's ``d_weights`` (penalty included),
    ``d_weights_penalty`` (or None), ``d_bias``, ``weights``, ``weights_after``,
    ``bias`` and ``bias_after``.
    """
    rows = slice(index, index + 1)
    layers = []
    for layer, lt in zip(net.layers, trace.layers, strict=True):
        d_weights, d_bias, _ = layer.backward(
            lt.a_prev[rows], lt.delta[rows], lt.weights, xp=np, need_d_a_prev=False
        )
        layers.append(
            {
                "z": lt.z[index].tolist(),
                "a": lt.a[index].tolist(),
                "f_prime": None if lt.f_prime is None else lt.f_prime[index].tolist(),
                "d_a": lt.d_a[index].tolist(),
                "delta": lt.delta[index].tolist(),
                "row_d_weights": d_weights.tolist(),
                "row_d_bias": d_bias.tolist(),
                "d_weights": lt.d_weights.tolist(),
                "d_weights_penalty": (
                    None if lt.d_weights_penalty is None else lt.d_weights_penalty.tolist()
                ),
                "d_bias": lt.d_bias.tolist(),
                "weights": lt.weights.tolist(),
                "weights_after": lt.weights_after.tolist(),
                "bias": lt.bias.tolist(),
                "bias_after": lt.bias_after.tolist(),
            }
        )
    weight = float(trace.sample_weight[index])
    return {
        "index": index,
        "x": trace.X[index].tolist(),
        "y": trace.y[index].tolist(),
        "weight": weight,
        "total_weight": float(trace.total_weight),
        "share": weight / float(trace.total_weight),
        "loss": finite_or_none(trace.losses[index]),
        "data_loss": finite_or_none(trace.data_loss),
        "penalty": finite_or_none(trace.penalty),
        "alpha": float(trace.alpha),
        "canonical": bool(trace.canonical),
        "learning_rate": float(trace.learning_rate),
        "layers": layers,
    }


def loss_warning(losses: list[float | None], learning_rate: float) -> str | None:
    """A warning when the last :data:`TREND_WINDOW` epochs' loss grows or swings.

    ``losses`` is the loss per epoch (None where it was not finite). Growing: the mean
    of the window's last third is more than 2% above that of its first third.
    Swinging: the loss changes direction at more than half the epochs, by a median
    step of more than 5% of the median loss.

    Examples
    --------
    >>> loss_warning([1.0 / (k + 1) for k in range(40)], 0.5) is None
    True
    >>> loss_warning([1.0 + (k % 2) for k in range(40)], 1000.0)[:32]
    'The loss swings up and down from'
    """
    window = [v for v in losses[-TREND_WINDOW:] if v is not None]
    if len(window) < TREND_WINDOW // 2:
        return None
    values = np.array(window)
    third = len(values) // 3
    advice = f"the learning rate ({learning_rate:g}) may be too large: lower it"
    if values[-third:].mean() > 1.02 * values[:third].mean():
        return f"The loss grew over the last {len(values)} epochs: {advice}."
    steps = np.diff(values)
    turns = np.count_nonzero(np.sign(steps[1:]) * np.sign(steps[:-1]) < 0)
    if turns > len(steps) / 2 and np.median(np.abs(steps)) > 0.05 * np.median(values):
        return f"The loss swings up and down from epoch to epoch: {advice}."
    return None


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
        ``d_bias`` (the whole gradient, penalty included) and, when ``alpha > 0``,
        ``d_weights_penalty``, the penalty's part ``alpha W / sum(w)``), ``sample``
        (:func:`row_passes`), ``grid`` and ``units`` (hidden units' pictures, or None).
        When the numbers overflow, ``diverged`` is True and only ``layers[*].weights``
        and ``bias`` are filled.
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
        "units": None,
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
        frame["sample"] = row_passes(net, X, y, w, sample_index)
        frame["grid"] = _grid(net, projection, task)
        frame["units"] = _unit_pictures(net, projection)
    except ValueError:  # the numbers overflow: a diverged network
        frame["diverged"] = True
        frame["sample"] = frame["grid"] = frame["units"] = None
        return frame
    frame["loss"] = finite_or_none(loss)
    _, d_penalty = penalty(list(net.parameters), net.alpha, _total_weight(X, w), xp=np)
    for l, (entry, (d_weights, d_bias)) in enumerate(zip(layers, grads, strict=True)):
        entry["d_weights"] = d_weights.tolist()
        entry["d_bias"] = d_bias.tolist()
        if d_penalty is not None:
            entry["d_weights_penalty"] = d_penalty[l].tolist()
    return frame
