"""Fuzz the ONNX exporter on loaded models: drawn networks and damaged model files.

A network is drawn (sizes, activations, dtype, weights up to extreme values), saved and
loaded again; or a corpus model file is damaged and, when it still loads, exported.
``to_onnx`` is asked for a drawn opset and dtype. Oracle: it writes a model that
onnxruntime opens and, for a network whose outputs are moderate numbers, computes what
``forward`` computes; or it raises a ``ValueError`` / ``TypeError`` naming the argument
or the layer at fault. Nothing else.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import deltaprop as dp

from .harness import guard, out_of_time, outcome, run_for, skipped_known, target_seconds
from .known import known_defect
from .strategies import damaged_model_files

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TARGET = "onnx"
#: Relative error allowed against the largest output, per exported float type.
RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-9}


@st.composite
def networks(draw) -> dp.Network:
    """A small network with drawn activations, dtype and (sometimes extreme) weights."""
    sizes = draw(st.lists(st.integers(1, 5), min_size=2, max_size=4))
    names = st.sampled_from(list(dp.ACTIVATIONS))
    layers = [dp.Dense(a, b, draw(names)) for a, b in itertools.pairwise(sizes)]
    net = dp.Network(layers, loss="squared_error", random_state=draw(st.integers(0, 9)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    values = st.one_of(
        st.floats(-3.0, 3.0, width=32),
        st.sampled_from([0.0, -0.0, 1e-30, 1e4, -1e4, 1e30, -1e30, 3e38, 1e-45]),
    )
    for layer in net.layers:
        layer.weights = draw(hnp.arrays(dtype, layer.weights.shape, elements=values))
        layer.bias = draw(hnp.arrays(dtype, layer.bias.shape, elements=values))
    return net


EXPORTS = st.fixed_dictionaries(
    {},
    optional={
        "opset": st.one_of(st.integers(-1, 30), st.sampled_from([2**40, "13", 13.0, None])),
        "dtype": st.sampled_from(["float32", "float64", "float16", "int8", "?", np.float32]),
    },
)


def _compare(net: dp.Network, model, path: Path) -> str:
    """Run the exported graph and compare it with ``forward`` where that is meaningful."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (graph_input,) = session.get_inputs()
    dtype = np.float32 if graph_input.type == "tensor(float)" else np.float64
    X = np.linspace(-2.0, 2.0, 4 * net.n_inputs).reshape(4, -1).astype(dtype)
    (actual,) = session.run(None, {graph_input.name: X})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow in extreme weights: no comparison then
        try:
            expected = np.asarray(net.forward(X.astype(np.float64)), dtype=np.float64)
        except ValueError:  # forward refuses outputs that overflowed
            return "exported (forward overflows: not compared)"
        for layer in net.layers:  # the graph computes in its own float type
            if not np.all(np.abs(layer.weights) < 1e3) or not np.all(np.abs(layer.bias) < 1e3):
                return "exported (extreme weights: not compared)"
    largest = float(np.max(np.abs(expected))) if expected.size else 0.0
    if not np.all(np.isfinite(expected)) or largest > 1e6:
        return "exported (outputs not moderate: not compared)"
    error = float(np.max(np.abs(actual.astype(np.float64) - expected)))
    assert error <= RTOL[np.dtype(dtype)] * max(largest, 1e-3), (
        f"the exported graph computes other numbers than forward: error {error:g}, "
        f"largest output {largest:g}, dtype {np.dtype(dtype)}"
    )
    return "exported and equal"


def describe(value) -> str:
    """A network with its weights and biases, or a damaged file's recipe."""
    if isinstance(value, dp.Network):
        params = [(layer.weights.tolist(), layer.bias.tolist()) for layer in value.layers]
        return f"{value!r} in {value.layers[0].weights.dtype}, (weights, bias) {params}"
    return repr(value)


def check_export(obj, folder: Path, options: dict) -> None:
    """The oracle: an export that runs (and agrees), or a ValueError/TypeError."""
    path = folder / "model.onnx"
    try:
        model = obj.to_onnx(path, **options)
    except (ValueError, TypeError) as exc:
        outcome(TARGET, f"{type(exc).__name__}")
        return
    onnx.checker.check_model(model)
    if isinstance(obj, dp.Network):
        outcome(TARGET, _compare(obj, model, path))
    else:
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        outcome(TARGET, f"{type(obj).__name__} exported")


@pytest.mark.timeout(target_seconds() + 300)
def test_onnx_export_runs_or_refuses():
    folder = Path(tempfile.mkdtemp(prefix="deltaprop-fuzz-"))

    def export_one(source, options):
        if out_of_time(TARGET):
            return
        kind, value = source
        known = known_defect(TARGET, (source, options))
        if known is not None:
            skipped_known(TARGET, known.name)
            return
        model_path = folder / "model.deltaprop"
        try:
            if kind == "network":
                dp.save(value, model_path)
            else:
                model_path.write_bytes(value[1])
            try:
                obj = dp.load(model_path)
            except ValueError:
                outcome(TARGET, "not loaded")
                return
            if not hasattr(obj, "to_onnx"):
                outcome(TARGET, f"{type(obj).__name__}: no to_onnx")
                return
            with guard(f"to_onnx of {describe(value)} with {options}", files=(model_path,)):
                check_export(obj, folder, options)
        finally:
            for path in folder.iterdir():
                path.unlink()

    sources = st.one_of(
        st.tuples(st.just("network"), networks()),
        st.tuples(st.just("file"), damaged_model_files()),
    )
    try:
        run_for(TARGET, export_one, source=sources, options=EXPORTS)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
