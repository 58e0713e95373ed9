"""ONNX export: the exported graphs, run in onnxruntime, agree with deltaprop's numbers.

Two kinds of agreement are asserted. Each activation alone (a graph ``z -> f(z)``) agrees
element by element, to 1e-6 (float32) or 1e-12 (float64) relative, over ``z`` from -40 to
40 and down to 1e-9 in magnitude. A whole network agrees to the same tolerances relative
to the largest output (``max |onnx - deltaprop| <= rtol * max |deltaprop|``): the
matrix products of two libraries sum in different orders, so an output that is the
cancellation of larger terms agrees only in absolute terms. References are computed
here with NumPy from deltaprop's own ``forward`` and the builders' formulas.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import deltaprop as dp

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from deltaprop.export import onnx as ox  # noqa: E402

RTOL = {np.float32: 1e-6, np.float64: 1e-12}
DTYPES = [np.float32, np.float64]
# The lowest opset of a two-layer network of each activation (see the module docstring).
EXPECTED_OPSET = {
    "identity": 7,
    "sigmoid": 9,
    "tanh": 7,
    "relu": 7,
    "leaky_relu": 9,
    "elu": 9,
    "softplus": 9,
    "silu": 9,
    "gelu": 7,
    "exp": 7,
    "softmax": 7,
}


def run(model, **inputs):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, inputs), strict=True))


def assert_close_to_largest(actual, expected, rtol):
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    error = float(np.max(np.abs(actual.astype(np.float64) - expected)))
    assert error <= rtol * float(np.max(np.abs(expected))), error


def network(hidden, output, *, n_in=4, n_hidden=5, n_out=3, dtype=np.float64, seed=0):
    net = dp.Network(
        [dp.Dense(n_in, n_hidden, hidden), dp.Dense(n_hidden, n_out, output)], random_state=seed
    )
    for layer in net.layers:
        layer.weights = np.asarray(layer.weights, dtype=dtype)
        layer.bias = np.random.default_rng(seed).normal(0.0, 0.5, layer.n_out).astype(dtype)
    return net


def test_every_built_in_activation_has_a_translation():
    # A contributor's new activation may come without an ONNX rule (CONTRIBUTING.md): it
    # is then refused by name (tests/test_contributing.py); every built-in one exports.
    built_in = {"identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus"}
    built_in |= {"silu", "gelu", "exp", "softmax"}
    assert set(EXPECTED_OPSET) == built_in <= set(ox._ACTIVATION_BUILDERS)


# -- activations, element by element ------------------------------------------------------
_Z = np.concatenate(
    [np.linspace(-40.0, 40.0, 2001), np.geomspace(1e-9, 1.0, 299), -np.geomspace(1e-9, 1.0, 300)]
).reshape(-1, 8)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(EXPECTED_OPSET))
def test_activation_matches_deltaprop_element_by_element(name, dtype):
    activation = dp.get_activation(name)
    graph = ox.OnnxGraph(dtype)
    z_name = graph.add_input("z", width=_Z.shape[1])
    graph.add_output("a", ox.add_activation(graph, activation, z_name))
    z = _Z.astype(dtype)
    a = run(graph.to_model(), z=z)["a"]
    expected = activation.forward(z, xp=np)
    assert a.dtype == expected.dtype
    tolerance = RTOL[dtype] * np.abs(expected)
    if name == "gelu":
        # deltaprop's 1 + tanh(u) cancels for z < -3: there the formula itself (in NumPy
        # as in any runtime) is exact only to an absolute eps |z|.
        tolerance = tolerance + 4 * np.finfo(dtype).eps * np.abs(z)
    assert np.all(np.abs(a.astype(np.float64) - expected) <= tolerance)


def test_leaky_relu_keeps_its_slope():
    graph = ox.OnnxGraph("float64")
    z = graph.add_input("z", width=2)
    graph.add_output("a", ox.add_activation(graph, dp.activations.LeakyReLU(0.2), z))
    out = run(graph.to_model(), z=np.array([[-3.0, 2.0]]))["a"]
    np.testing.assert_array_equal(out, [[-0.6000000000000001, 2.0]])


# -- whole networks -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(EXPECTED_OPSET))
def test_network_matches_forward(name, dtype, rng):
    net = network(name, name, dtype=dtype)
    model = ox.network_to_model_proto(net)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == EXPECTED_OPSET[name]
    X = rng.normal(size=(32, 4)).astype(dtype)
    out = run(model, X=X)["output"]
    assert_close_to_largest(out, net.forward(X), RTOL[dtype])


def test_mixed_activations_and_three_layers(rng):
    net = dp.Network(
        [dp.Dense(3, 6, "gelu"), dp.Dense(6, 4, "elu"), dp.Dense(4, 2, "softplus")],
        random_state=3,
    )
    X = rng.normal(size=(20, 3))
    out = run(ox.network_to_model_proto(net), X=X)["output"]
    assert_close_to_largest(out, net.forward(X), 1e-12)


def test_inputs_outputs_names_and_symbolic_batch(tmp_path, rng):
    net = network("tanh", "sigmoid", n_out=2, dtype=np.float32)
    path = tmp_path / "model.onnx"
    returned = net.to_onnx(path, input_name="features", output_name="scores")
    model = onnx.load(str(path))
    assert model == returned
    onnx.checker.check_model(model, full_check=True)
    [x], [y] = model.graph.input, model.graph.output
    assert (x.name, y.name) == ("features", "scores")
    for value, width in ((x, 4), (y, 2)):
        assert value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        batch, columns = value.type.tensor_type.shape.dim
        assert batch.dim_param == "N" and columns.dim_value == width
    assert model.producer_name == "deltaprop"
    assert model.ir_version == 4
    X = rng.normal(size=(7, 4)).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert_close_to_largest(session.run(None, {"features": X})[0], net.forward(X), 1e-6)


def test_export_is_deterministic(tmp_path):
    net = network("elu", "softmax")
    net.to_onnx(tmp_path / "a.onnx")
    net.to_onnx(tmp_path / "b.onnx")
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.onnx", "b.onnx"]


def test_dtype_argument_and_default(rng):
    net64 = network("relu", "identity")
    assert ox.network_to_model_proto(net64).graph.input[0].type.tensor_type.elem_type == (
        onnx.TensorProto.DOUBLE
    )
    model32 = ox.network_to_model_proto(net64, dtype="float32")
    X = rng.normal(size=(5, 4)).astype(np.float32)
    assert_close_to_largest(run(model32, X=X)["output"], net64.forward(X), 1e-6)


@pytest.mark.parametrize("opset", [13, 17, 21])
def test_higher_opsets_give_the_same_numbers(opset, rng):
    net = network("silu", "softmax")
    X = rng.normal(size=(6, 4))
    model = ox.network_to_model_proto(net, opset=opset)
    assert model.opset_import[0].version == opset
    assert_close_to_largest(run(model, X=X)["output"], net.forward(X), 1e-12)


def test_array_api_strict_parameters(rng):
    xps = pytest.importorskip("array_api_strict")
    net = network("tanh", "identity")
    for layer in net.layers:
        layer.weights = xps.asarray(np.asarray(layer.weights))
        layer.bias = xps.asarray(np.asarray(layer.bias))
    X = rng.normal(size=(4, 4))
    expected = np.asarray(net.forward(xps.asarray(X)))
    assert_close_to_largest(run(ox.network_to_model_proto(net), X=X)["output"], expected, 1e-12)


# -- classifier heads -------------------------------------------------------------------------
def head_model(kind, classes, width, dtype=np.float64):
    graph = ox.OnnxGraph(dtype)
    scores = graph.add_input("scores", width=width)
    assert ox.add_classifier_outputs(graph, scores, kind=kind, classes=classes) == (
        "label",
        "probabilities",
    )
    return graph.to_model()


def test_binary_head_on_given_probabilities():
    p = np.array([[0.0], [0.2], [0.5], [0.5000001], [0.9], [1.0]])
    out = run(head_model("binary", ["no", "yes"], 1), scores=p)
    np.testing.assert_array_equal(out["label"], ["no", "no", "no", "yes", "yes", "yes"])
    np.testing.assert_array_equal(out["probabilities"], np.hstack([1.0 - p, p]))


def test_multiclass_head_on_given_probabilities_first_class_wins_ties():
    p = np.array([[0.2, 0.5, 0.3], [0.4, 0.2, 0.4], [0.1, 0.1, 0.8]], dtype=np.float32)
    out = run(head_model("multiclass", [10, 20, 30], 3, np.float32), scores=p)
    assert out["label"].dtype == np.int64
    np.testing.assert_array_equal(out["label"], [20, 10, 30])
    np.testing.assert_array_equal(out["probabilities"], p)


def test_multilabel_head_on_given_probabilities():
    p = np.array([[0.7, 0.5, 0.1], [0.2, 0.51, 0.9]])
    out = run(head_model("multilabel", None, 3), scores=p)
    assert out["label"].dtype == np.int64
    np.testing.assert_array_equal(out["label"], [[1, 0, 0], [0, 1, 1]])
    np.testing.assert_array_equal(out["probabilities"], p)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_network_labels_identical(dtype, rng):
    net = network("relu", "sigmoid", n_out=1, dtype=dtype, seed=4)
    graph = ox.OnnxGraph(dtype)
    X_name = graph.add_input("X", width=4)
    ox.add_classifier_outputs(
        graph, ox.add_network(graph, net, X_name), kind="binary", classes=[False, True]
    )
    X = rng.normal(size=(40, 4)).astype(dtype)
    out = run(graph.to_model(), X=X)
    p = net.forward(X)
    assert 0 < np.sum(p > 0.5) < len(X)
    np.testing.assert_array_equal(out["label"], (p > 0.5).ravel())
    assert_close_to_largest(out["probabilities"], np.hstack([1.0 - p, p]), RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_multiclass_network_string_labels_identical(dtype, rng):
    classes = np.array(["setosa", "versicolor", "virginica"])
    net = network("tanh", "softmax", n_out=3, dtype=dtype, seed=5)
    graph = ox.OnnxGraph(dtype)
    scores = ox.add_network(graph, net, graph.add_input("X", width=4))
    ox.add_classifier_outputs(graph, scores, kind="multiclass", classes=classes)
    X = rng.normal(size=(40, 4)).astype(dtype) * 3
    out = run(graph.to_model(), X=X)
    p = net.forward(X)
    assert len(set(np.argmax(p, axis=1))) == 3
    np.testing.assert_array_equal(out["label"], classes[np.argmax(p, axis=1)])
    assert_close_to_largest(out["probabilities"], p, RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_multilabel_network_labels_identical(dtype, rng):
    net = network("gelu", "sigmoid", n_out=3, dtype=dtype, seed=6)
    graph = ox.OnnxGraph(dtype)
    scores = ox.add_network(graph, net, graph.add_input("X", width=4))
    ox.add_classifier_outputs(graph, scores, kind="multilabel")
    X = rng.normal(size=(40, 4)).astype(dtype) * 3
    out = run(graph.to_model(), X=X)
    p = net.forward(X)
    np.testing.assert_array_equal(out["label"], (p > 0.5).astype(np.int64))
    assert_close_to_largest(out["probabilities"], p, RTOL[dtype])


# -- regression -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_regression_with_target_scaling(dtype, rng):
    mean, scale = np.array([100.0, -3.0]), np.array([15.0, 0.25])
    net = network("softplus", "identity", n_out=2, dtype=dtype)
    graph = ox.OnnxGraph(dtype)
    y = ox.add_network(graph, net, graph.add_input("X", width=4))
    graph.add_output("predictions", ox.add_inverse_scaling(graph, y, mean, scale))
    X = rng.normal(size=(25, 4)).astype(dtype)
    out = run(graph.to_model(), X=X)["predictions"]
    expected = net.forward(X) * scale.astype(dtype) + mean.astype(dtype)
    assert_close_to_largest(out, expected, RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_poisson_regression_exp_output(dtype, rng):
    net = dp.Network([dp.Dense(4, 5, "tanh"), dp.Dense(5, 1, "exp")], loss="poisson")
    for layer in net.layers:
        layer.weights = rng.normal(0.0, 0.4, (layer.n_in, layer.n_out)).astype(dtype)
        layer.bias = np.full(layer.n_out, 0.5, dtype=dtype)
    graph = ox.OnnxGraph(dtype)
    y = ox.add_network(graph, net, graph.add_input("X", width=4))
    graph.add_output("predictions", graph.ravel(y))
    X = rng.normal(size=(30, 4)).astype(dtype)
    out = run(graph.to_model(), X=X)["predictions"]
    (W0, b0), (W1, b1) = ((layer.weights, layer.bias) for layer in net.layers)
    expected = np.exp(np.tanh(X @ W0 + b0) @ W1 + b1).ravel()
    assert_close_to_largest(out, expected, RTOL[dtype])
    assert_close_to_largest(out, net.forward(X).ravel(), RTOL[dtype])


# -- preprocessing builders ---------------------------------------------------------------------
def test_standardization_against_numpy(rng):
    mean, scale = np.array([1.0, -2.0, 30.0]), np.array([0.5, 3.0, 7.0])
    graph = ox.OnnxGraph("float64")
    X_name = graph.add_input("X", width=3)
    graph.add_output("Z", ox.add_standardization(graph, X_name, mean, scale))
    X = rng.normal(size=(10, 3)) * 10
    np.testing.assert_array_equal(run(graph.to_model(), X=X)["Z"], (X - mean) / scale)


@pytest.mark.parametrize(
    ("categories", "column", "opset"),
    [
        (["red", "green", "blue"], [["blue"], ["red"], ["mauve"], ["green"], [""]], 19),
        ([3, 1, 7], [[7], [3], [2], [1], [1]], 7),
        ([0.5, 2.0], [[2.0], [0.5], [1.0], [0.5], [2.0]], 11),
    ],
)
def test_one_hot_against_numpy_unknown_is_all_zeros(categories, column, opset):
    graph = ox.OnnxGraph("float32")
    if isinstance(categories[0], str):
        name, value = graph.add_input("c", "string"), np.array(column, dtype=object)
    elif isinstance(categories[0], int):
        name, value = graph.add_input("c", np.int64), np.array(column, dtype=np.int64)
    else:
        name, value = graph.add_input("c"), np.array(column, dtype=np.float32)
    graph.add_output("one_hot", ox.add_one_hot(graph, name, categories))
    model = graph.to_model()
    assert model.opset_import[0].version == opset
    out = run(model, c=value)["one_hot"]
    expected = (np.asarray(column) == np.asarray(categories)[None, :]).astype(np.float32)
    assert 0 < expected.sum() < len(column)  # known and unknown values
    np.testing.assert_array_equal(out, expected)


def test_inverse_scaling_against_numpy(rng):
    graph = ox.OnnxGraph("float32")
    y = graph.add_input("y", width=2)
    graph.add_output("t", ox.add_inverse_scaling(graph, y, [5.0, -1.0], [2.0, 0.1]))
    values = rng.normal(size=(6, 2)).astype(np.float32)
    expected = values * np.float32([2.0, 0.1]) + np.float32([5.0, -1.0])
    np.testing.assert_array_equal(run(graph.to_model(), y=values)["t"], expected)


def test_raw_mixed_columns_pipeline(rng):
    """What a CLI model becomes: one input per raw column, preprocessing, network, head."""
    n = 30
    numeric = {"age": rng.uniform(20, 70, n), "income": rng.uniform(1e4, 9e4, n)}
    strings = {
        "city": rng.choice(["Lyon", "Oslo", "Porto", "Quito"], n),
        "plan": rng.choice(["basic", "pro", "trial"], n),
    }
    categories = {"city": ["Lyon", "Oslo", "Porto"], "plan": ["basic", "pro", "trial"]}
    mean, scale = np.array([45.0, 5e4]), np.array([14.0, 2.3e4])
    classes = np.array(["churn", "stay"])
    net = network("relu", "sigmoid", n_in=8, n_out=1, seed=2)

    X = np.hstack(
        [(np.column_stack(list(numeric.values())) - mean) / scale]
        + [(strings[c][:, None] == np.array(categories[c])).astype(float) for c in strings]
    )
    # Centre the output logit so that both classes occur.
    net.layers[-1].bias = net.layers[-1].bias - np.median(
        np.log(net.forward(X) / (1 - net.forward(X)))
    )
    p = net.forward(X)

    graph = ox.OnnxGraph("float64")
    x_num = graph.concat([graph.add_input(c) for c in numeric])
    parts = [ox.add_standardization(graph, x_num, mean, scale)]
    parts += [ox.add_one_hot(graph, graph.add_input(c, "string"), categories[c]) for c in strings]
    scores = ox.add_network(graph, net, graph.concat(parts))
    ox.add_classifier_outputs(graph, scores, kind="binary", classes=classes)
    model = graph.to_model()
    assert [i.name for i in model.graph.input] == ["age", "income", "city", "plan"]
    assert model.opset_import[0].version == 19

    feeds = {c: v.reshape(-1, 1) for c, v in numeric.items()}
    feeds |= {c: v.astype(object).reshape(-1, 1) for c, v in strings.items()}
    out = run(model, **feeds)
    assert 0 < np.sum(p > 0.5) < n
    np.testing.assert_array_equal(out["label"], classes[(p > 0.5).astype(int).ravel()])
    assert_close_to_largest(out["probabilities"], np.hstack([1 - p, p]), 1e-12)


# -- errors -----------------------------------------------------------------------------------
def test_missing_onnx_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r'pip install "deltaprop\[onnx\]"'):
        network("relu", "identity").to_onnx("never-written.onnx")


@pytest.mark.parametrize("dtype", ["float16", "int64", "bogus"])
def test_bad_dtype(dtype):
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        ox.network_to_model_proto(network("relu", "identity"), dtype=dtype)


def test_opset_outside_range():
    net = network("sigmoid", "identity")
    with pytest.raises(ValueError, match="opset must be between 9"):
        ox.network_to_model_proto(net, opset=8)
    with pytest.raises(ValueError, match="opset must be between"):
        ox.network_to_model_proto(net, opset=onnx.defs.onnx_opset_version() + 1)
    with pytest.raises(TypeError, match="opset must be an int"):
        ox.network_to_model_proto(net, opset=9.0)


def test_unknown_activation_is_refused():
    class Cube(dp.Activation):
        name = "cube"

        def forward(self, z, *, xp):
            return z**3

        def derivative(self, z, a, *, xp):
            return 3 * z**2

    net = dp.Network([dp.Dense(2, 1, Cube())], random_state=0)
    with pytest.raises(ValueError, match="has no ONNX translation"):
        ox.network_to_model_proto(net)


def test_builder_argument_checks():
    graph = ox.OnnxGraph("float64")
    x = graph.add_input("X", width=2)
    with pytest.raises(ValueError, match="already used"):
        graph.add_input("X")
    with pytest.raises(ValueError, match="scale must be non-zero"):
        ox.add_standardization(graph, x, [0.0, 0.0], [1.0, 0.0])
    with pytest.raises(ValueError, match=r"X must have len\(mean\) = 3 columns, got 2"):
        ox.add_standardization(graph, x, [0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"X must have network\.n_inputs = 4 columns, got 2"):
        ox.add_network(graph, network("relu", "identity"), x)
    with pytest.raises(ValueError, match=r"scores must have 1 column .* for kind='binary', got 2"):
        ox.add_classifier_outputs(graph, x, kind="binary", classes=[0, 1])
    with pytest.raises(ValueError, match="kind must be"):
        ox.add_classifier_outputs(graph, x, kind="ordinal", classes=[0, 1])
    with pytest.raises(ValueError, match="categories must be distinct"):
        ox.add_one_hot(graph, graph.add_input("c", "string"), ["a", "a"])
    with pytest.raises(ValueError, match="no outputs"):
        graph.to_model()
