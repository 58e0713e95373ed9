"""Export trained networks to ONNX, the exchange format of deployment runtimes.

A network becomes, per layer, one ``Gemm`` node (``z = a_prev @ weights + bias``) and the
node(s) of its activation, written with the operators of the default ONNX domain only
(no ``ai.onnx.ml``, no custom domains), so any ONNX runtime can run it. Each activation
uses the lowest opset that expresses deltaprop's formula *exactly*; where a native
operator is missing, not implemented for float64 by onnxruntime, or computed with an
approximation that loses relative accuracy (onnxruntime's ``Sigmoid`` in the tails, the
``exp(z) - 1`` of its ``Elu``), an element-wise formula of basic operators mirrors
deltaprop's own arithmetic instead:

==========  ===================================================================  =====
activation  ONNX nodes                                                           opset
==========  ===================================================================  =====
identity    none                                                                 7
sigmoid     ``e = exp(-|z|)``, ``where(z < 0, e / (1 + e), 1 / (1 + e))``           9
tanh        ``Tanh``                                                             7
relu        ``Relu``                                                             7
leaky_relu  ``where(z > 0, z, slope * z)``                                       9
elu         ``where(z > 0, z, expm1(min(z, 0)))``, expm1 by Kahan's formula      9
softplus    ``relu(z) + log1p(exp(-|z|))``, log1p by Goldberg's formula          9
silu        ``z * sigmoid(z)`` with the sigmoid above                            9
gelu        ``0.5 z (1 + tanh(c (z + 0.044715 z^3)))`` in deltaprop's order      7
exp         ``Exp``                                                              7
softmax     ``Softmax``, axis 1 (one meaning in every opset for 2-D input)       7
==========  ===================================================================  =====

The ``Gemm`` with a broadcast bias needs opset 7, the floor of every model. A model
declares the largest opset any of its nodes needs (``opset=None``) or a larger one you
ask for. The IR version is the oldest that holds that opset, but at least 4 (from IR 4
on, weights stored as initializers need not be listed as graph inputs).

The reusable builders below (:class:`OnnxGraph`, :func:`add_network`,
:func:`add_standardization`, :func:`add_one_hot`, :func:`add_inverse_scaling`,
:func:`add_classifier_outputs`) assemble larger models: a scikit-learn estimator or a
CLI model adds its preprocessing in front of the network and a classifier head behind
it. See ``docs/onnx.md`` for the inputs, outputs and opsets of every model.

Needs the ``onnx`` package: ``pip install "deltaprop[onnx]"``.

Examples
--------
>>> import numpy as np
>>> import deltaprop as dp
>>> from deltaprop.export.onnx import network_to_model_proto
>>> net = dp.Network([dp.Dense(3, 4, "relu"), dp.Dense(4, 2, "softmax")], random_state=0)
>>> model = network_to_model_proto(net)
>>> [node.op_type for node in model.graph.node]
['Gemm', 'Relu', 'Gemm', 'Softmax', 'Identity']
>>> model.opset_import[0].version, [i.name for i in model.graph.input]
(7, ['X'])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from deltaprop._version import __version__
from deltaprop.core.activations import ACTIVATIONS, GELU_CUBIC, GELU_SQRT_2_OVER_PI, Activation
from deltaprop.core.arrays import to_numpy
from deltaprop.files.container import write_atomically

__all__ = [
    "BATCH_DIM",
    "MIN_OPSET",
    "OnnxGraph",
    "add_activation",
    "add_classifier_outputs",
    "add_inverse_scaling",
    "add_network",
    "add_one_hot",
    "add_standardization",
    "network_to_model_proto",
    "save_model",
    "to_onnx",
]

#: Name of the symbolic batch dimension of every input and output.
BATCH_DIM = "N"
#: The smallest opset deltaprop writes (``Gemm`` with a broadcast bias).
MIN_OPSET = 7

# The lowest default-domain opset in which each operator has the meaning used here.
# ``Equal`` depends on the element type and is given at its call site.
_OP_OPSET = {
    "Abs": 6,
    "Add": 7,
    "ArgMax": 1,
    "Cast": 6,
    "Concat": 4,
    "Div": 7,
    "Exp": 6,
    "Gather": 1,
    "Gemm": 7,
    "Greater": 7,
    "Identity": 1,
    "Less": 7,
    "MatMul": 1,
    "Log": 6,
    "Max": 8,
    "Min": 8,
    "Mul": 7,
    "Neg": 6,
    "Relu": 6,
    "Reshape": 5,
    "Softmax": 1,
    "Sub": 7,
    "Tanh": 6,
    "Where": 9,
}

_INTERNAL = "dp/"
_FLOAT_DTYPES = {"float32": np.float32, "float64": np.float64}


def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(
            'ONNX export needs the onnx package; install it with: pip install "deltaprop[onnx]"'
        ) from exc
    return onnx


def _float_dtype(dtype: Any) -> np.dtype:
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = repr(dtype)
    if name not in _FLOAT_DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return np.dtype(name)


def _element_type(onnx: Any, dtype: Any) -> int:
    """The ``TensorProto`` element type of a NumPy dtype (``str``/``object`` give STRING)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "OUS":
        return onnx.TensorProto.STRING
    return onnx.helper.np_dtype_to_tensor_dtype(dtype)


class OnnxGraph:
    """An ONNX graph under construction: nodes, weights, inputs, outputs and the opset.

    Builders (:func:`add_network`, :func:`add_standardization`, ...) take a graph and the
    name of the tensor they read, add their nodes and return the name of the tensor they
    produce. The graph records the width (number of columns) of every 2-D tensor it
    creates, so builders can check their inputs, and the smallest opset its nodes need.

    Parameters
    ----------
    dtype : {"float32", "float64"}, default "float32"
        Floating type of the model: of its weights, numeric inputs and float outputs.
    name : str, default "deltaprop"
        The graph's name.

    Attributes
    ----------
    required_opset : int
        The smallest default-domain opset that expresses every node added so far.
    widths : dict of str to int or None
        Number of columns of each 2-D tensor (None for 1-D tensors).

    Raises
    ------
    ImportError
        When the ``onnx`` package is not installed.

    Examples
    --------
    >>> g = OnnxGraph("float64")
    >>> x = g.add_input("X", width=2)
    >>> z = add_standardization(g, x, mean=[1.0, 2.0], scale=[2.0, 4.0])
    >>> g.add_output("Z", z)
    'Z'
    >>> model = g.to_model()
    >>> [node.op_type for node in model.graph.node], g.required_opset
    (['Sub', 'Div', 'Identity'], 7)
    """

    def __init__(self, dtype: Any = "float32", name: str = "deltaprop") -> None:
        self.onnx = _import_onnx()
        self.dtype: np.dtype = _float_dtype(dtype)
        self.name = str(name)
        self.required_opset: int = MIN_OPSET
        self.widths: dict[str, int | None] = {}
        self._nodes: list[Any] = []
        self._initializers: list[Any] = []
        self._inputs: list[Any] = []
        self._outputs: list[Any] = []
        self._names: set[str] = set()
        self._scalars: dict[tuple[str, float], str] = {}

    # -- names and tensors --------------------------------------------------------------
    def _fresh(self, hint: str) -> str:
        # Internal names live under a prefix that input and output names may not use.
        hint = _INTERNAL + hint
        name, i = hint, 1
        while name in self._names:
            name, i = f"{hint}_{i}", i + 1
        self._names.add(name)
        return name

    def _need(self, opset: int) -> None:
        self.required_opset = max(self.required_opset, int(opset))

    def constant(self, value: Any, hint: str, *, dtype: Any = None) -> str:
        """Store an array as an initializer and return its name.

        Parameters
        ----------
        value : array-like
            Numbers (cast to ``dtype``, default the model's float type) or strings.
        hint : str
            Base of the tensor's name (made unique).
        dtype : numpy dtype, optional
            Element type; ``object`` or ``str`` for strings.
        """
        array = np.asarray(value)
        if dtype is None:
            dtype = object if array.dtype.kind in "OUS" else self.dtype
        array = np.asarray(array, dtype=dtype)
        name = self._fresh(hint)
        self._initializers.append(self.onnx.numpy_helper.from_array(array, name))
        if array.ndim == 2:
            self.widths[name] = int(array.shape[1])
        return name

    def scalar(self, value: float) -> str:
        """A 0-D constant of the model's float type (one initializer per value)."""
        key = (self.dtype.name, float(value))
        if key not in self._scalars:
            self._scalars[key] = self.constant(np.asarray(value, dtype=self.dtype), "const")
        return self._scalars[key]

    def node(
        self,
        op_type: str,
        inputs: Sequence[str],
        hint: str,
        *,
        width: int | None = None,
        opset: int | None = None,
        **attributes: Any,
    ) -> str:
        """Add one default-domain node with one output and return the output's name.

        Parameters
        ----------
        op_type : str
            An ONNX operator, e.g. ``"Gemm"``.
        inputs : sequence of str
            Names of its input tensors.
        hint : str
            Base of the output's name (made unique).
        width : int, optional
            Number of columns of the output, when it is 2-D.
        opset : int, optional
            The lowest opset in which the operator means what is used here (default:
            from the table of operators this module uses).
        **attributes
            The node's attributes.
        """
        if opset is None:
            if op_type not in _OP_OPSET:
                raise ValueError(f"op_type {op_type!r} needs an explicit opset")
            opset = _OP_OPSET[op_type]
        self._need(opset)
        output = self._fresh(hint)
        node_name = self._fresh(f"{op_type}_{output[len(_INTERNAL) :]}")
        self._nodes.append(
            self.onnx.helper.make_node(
                op_type, list(inputs), [output], name=node_name, **attributes
            )
        )
        self.widths[output] = width
        return output

    # -- graph inputs and outputs -------------------------------------------------------
    def _check_public_name(self, kind: str, name: Any) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{kind} name must be a non-empty str, got {name!r}")
        if name.startswith(_INTERNAL):
            raise ValueError(f"{kind} name must not start with {_INTERNAL!r}, got {name!r}")
        if name in self._names:
            raise ValueError(f"{kind} name {name!r} is already used in this graph")

    def _value_info(self, name: str, dtype: Any, width: int | None) -> Any:
        shape = [BATCH_DIM] if width is None else [BATCH_DIM, int(width)]
        elem = _element_type(self.onnx, dtype)
        return self.onnx.helper.make_tensor_value_info(name, elem, shape)

    def add_input(self, name: str, dtype: Any = None, width: int | None = 1) -> str:
        """Declare a graph input of shape (N, width) (or (N,) for ``width=None``).

        Parameters
        ----------
        name : str
            The input's name, used as is: not taken yet, not starting with ``"dp/"``
            (the prefix of the graph's internal tensors).
        dtype : numpy dtype or "string", optional
            Element type; default the model's float type. ``"string"``, ``str`` or
            ``object`` declare a string tensor (e.g. a raw categorical column).
        width : int or None, default 1
            Number of columns.

        Returns
        -------
        str
            ``name``.
        """
        self._check_public_name("input", name)
        if width is not None and (isinstance(width, bool) or int(width) < 1):
            raise ValueError(f"width must be a positive int or None, got {width!r}")
        dtype = object if dtype in ("string", str) else (self.dtype if dtype is None else dtype)
        self._names.add(name)
        self._inputs.append(self._value_info(name, dtype, width))
        self.widths[name] = None if width is None else int(width)
        return name

    def add_output(self, name: str, source: str, dtype: Any = None) -> str:
        """Publish tensor ``source`` as graph output ``name`` (through an ``Identity``).

        Parameters
        ----------
        name : str
            The output's name: not taken yet, not starting with ``"dp/"``.
        source : str
            A tensor of the graph.
        dtype : numpy dtype, optional
            Its element type; default the model's float type.
        """
        self._check_public_name("output", name)
        if source not in self.widths:
            raise ValueError(f"source must be a tensor of this graph, got {source!r}")
        width = self.widths[source]
        self._names.add(name)
        self._need(_OP_OPSET["Identity"])
        self._nodes.append(
            self.onnx.helper.make_node("Identity", [source], [name], name=f"Identity_{name}")
        )
        self.widths[name] = width
        self._outputs.append(self._value_info(name, self.dtype if dtype is None else dtype, width))
        return name

    # -- small shared pieces ------------------------------------------------------------
    def concat(self, names: Sequence[str], hint: str = "concat") -> str:
        """Columns side by side: ``Concat`` over axis 1 of 2-D tensors of one type."""
        names = list(names)
        if not names:
            raise ValueError("names must list at least one tensor")
        if len(names) == 1:
            return names[0]
        widths = [self.widths.get(n) for n in names]
        width = None if None in widths else sum(widths)
        return self.node("Concat", names, hint, width=width, axis=1)

    def ravel(self, name: str, hint: str = "ravel") -> str:
        """Reshape a tensor of shape (N, 1) to (N,)."""
        shape = self.constant(np.array([-1], dtype=np.int64), "shape_ravel", dtype=np.int64)
        return self.node("Reshape", [name, shape], hint)

    # -- the model ----------------------------------------------------------------------
    def to_model(self, *, opset: int | None = None, doc_string: str = "") -> Any:
        """The finished, checked ``onnx.ModelProto``.

        Parameters
        ----------
        opset : int, optional
            Default-domain opset to declare: at least :attr:`required_opset` (the
            default) and at most the newest the installed ``onnx`` knows.
        doc_string : str
            Stored in the model.

        Raises
        ------
        ValueError
            For an opset outside that range, or a graph without outputs.
        """
        onnx = self.onnx
        newest = onnx.defs.onnx_opset_version()
        if opset is None:
            opset = self.required_opset
        if isinstance(opset, bool) or not isinstance(opset, int | np.integer):
            raise TypeError(f"opset must be an int, got {opset!r}")
        if not self.required_opset <= opset <= newest:
            raise ValueError(
                f"opset must be between {self.required_opset} (the lowest that expresses "
                f"this model) and {newest} (the newest onnx {onnx.__version__} knows), got {opset}"
            )
        if not self._outputs:
            raise ValueError("the graph has no outputs; call add_output first")

        graph = onnx.helper.make_graph(
            self._nodes, self.name, self._inputs, self._outputs, self._initializers
        )
        opset_ids = [onnx.helper.make_opsetid("", int(opset))]
        model = onnx.helper.make_model(
            graph,
            opset_imports=opset_ids,
            producer_name="deltaprop",
            producer_version=__version__,
            doc_string=doc_string,
        )
        # The oldest IR version that holds the opset, so older runtimes load the model.
        model.ir_version = max(4, onnx.helper.find_min_ir_version_for(opset_ids))
        onnx.checker.check_model(model, full_check=True)
        return model


# -- activations ----------------------------------------------------------------------
def _exp_minus_abs(g: OnnxGraph, z: str, w: int | None) -> str:
    # exp(-|z|) <= 1 never overflows: the stable form of sigmoid and softplus.
    minus_abs = g.node("Neg", [g.node("Abs", [z], "abs", width=w)], "minus_abs", width=w)
    return g.node("Exp", [minus_abs], "e", width=w)


def _stable_sigmoid(g: OnnxGraph, z: str, w: int | None) -> str:
    # deltaprop's sigmoid; the two branches are one function rearranged.
    e = _exp_minus_abs(g, z, w)
    one_plus_e = g.node("Add", [g.scalar(1.0), e], "one_plus_e", width=w)
    positive = g.node("Div", [g.scalar(1.0), one_plus_e], "sig_pos", width=w)
    negative = g.node("Div", [e, one_plus_e], "sig_neg", width=w)
    is_negative = g.node("Less", [z, g.scalar(0.0)], "is_neg", width=w)
    return g.node("Where", [is_negative, negative, positive], "sigmoid", width=w)


def _log1p(g: OnnxGraph, u: str, w: int | None) -> str:
    # Goldberg: log1p(u) = log(1 + u) * u / ((1 + u) - 1), exact to a few ulp for u >= 0;
    # where 1 + u rounds to 1, log1p(u) = u to working precision.
    one_plus_u = g.node("Add", [g.scalar(1.0), u], "one_plus_u", width=w)
    u_rounded = g.node("Sub", [one_plus_u, g.scalar(1.0)], "u_rounded", width=w)
    ratio = g.node("Div", [u, u_rounded], "ratio", width=w)
    formula = g.node("Mul", [g.node("Log", [one_plus_u], "log", width=w), ratio], "log1p", width=w)
    rounds_to_one = g.node("Greater", [one_plus_u, g.scalar(1.0)], "gt_one", width=w)
    return g.node("Where", [rounds_to_one, formula, u], "log1p", width=w)


def _expm1_nonpositive(g: OnnxGraph, x: str, w: int | None) -> str:
    # Kahan: expm1(x) = (u - 1) x / log(u) with u = exp(x), exact to a few ulp; u == 1
    # gives x, and u - 1 == -1 (exp underflowed to 0 or rounds away) gives -1.
    u = g.node("Exp", [x], "u", width=w)
    u_minus_1 = g.node("Sub", [u, g.scalar(1.0)], "u_minus_1", width=w)
    formula = g.node(
        "Div",
        [g.node("Mul", [u_minus_1, x], "num", width=w), g.node("Log", [u], "log_u", width=w)],
        "kahan",
        width=w,
    )
    above_minus_1 = g.node("Greater", [u_minus_1, g.scalar(-1.0)], "gt_m1", width=w)
    tail = g.node("Where", [above_minus_1, formula, g.scalar(-1.0)], "expm1_tail", width=w)
    below_1 = g.node("Less", [u, g.scalar(1.0)], "lt_one", width=w)
    return g.node("Where", [below_1, tail, x], "expm1", width=w)


def _identity(g, z, w, activation):
    return z


def _sigmoid(g, z, w, activation):
    return _stable_sigmoid(g, z, w)


def _tanh(g, z, w, activation):
    return g.node("Tanh", [z], "tanh", width=w)


def _relu(g, z, w, activation):
    return g.node("Relu", [z], "relu", width=w)


def _leaky_relu(g, z, w, activation):
    # onnxruntime has no float64 LeakyRelu kernel; the formula is deltaprop's own.
    scaled = g.node("Mul", [g.scalar(activation.negative_slope), z], "slope_z", width=w)
    positive = g.node("Greater", [z, g.scalar(0.0)], "is_pos", width=w)
    return g.node("Where", [positive, z, scaled], "leaky_relu", width=w)


def _elu(g, z, w, activation):
    # onnxruntime's Elu computes exp(z) - 1 (inexact near 0) and has no float64 kernel.
    tail = _expm1_nonpositive(g, g.node("Min", [z, g.scalar(0.0)], "min0", width=w), w)
    positive = g.node("Greater", [z, g.scalar(0.0)], "is_pos", width=w)
    return g.node("Where", [positive, z, tail], "elu", width=w)


def _softplus(g, z, w, activation):
    # onnxruntime has no float64 Softplus kernel; this is deltaprop's stable form.
    e = _exp_minus_abs(g, z, w)
    relu = g.node("Relu", [z], "relu", width=w)
    return g.node("Add", [relu, _log1p(g, e, w)], "softplus", width=w)


def _silu(g, z, w, activation):
    return g.node("Mul", [z, _stable_sigmoid(g, z, w)], "silu", width=w)


def _gelu(g, z, w, activation):
    # The tanh approximation in deltaprop's operation order; ONNX's Gelu (opset 20)
    # defaults to the erf form and would raise the opset.
    cubic = g.node("Mul", [g.scalar(GELU_CUBIC), z], "k_z", width=w)
    cubic = g.node("Mul", [cubic, z], "k_z2", width=w)
    cubic = g.node("Mul", [cubic, z], "k_z3", width=w)
    inner = g.node("Add", [z, cubic], "inner", width=w)
    c_inner = g.node("Mul", [g.scalar(GELU_SQRT_2_OVER_PI), inner], "c_inner", width=w)
    t = g.node("Tanh", [c_inner], "t", width=w)
    half_z = g.node("Mul", [g.scalar(0.5), z], "half_z", width=w)
    one_plus_t = g.node("Add", [g.scalar(1.0), t], "one_plus_t", width=w)
    return g.node("Mul", [half_z, one_plus_t], "gelu", width=w)


def _exp(g, z, w, activation):
    return g.node("Exp", [z], "exp", width=w)


def _softmax(g, z, w, activation):
    # On 2-D input, Softmax-1/11 (coerced to 2-D at axis 1) and Softmax-13 agree.
    return g.node("Softmax", [z], "softmax", width=w, axis=1)


#: The ONNX rule of each activation, by name: ``rule(graph, z, width, activation)`` adds
#: the nodes of ``a = activation(z)`` and returns the name of ``a``. An activation without
#: a rule here is refused by :func:`add_activation`.
_ACTIVATION_BUILDERS = {
    "identity": _identity,
    "sigmoid": _sigmoid,
    "tanh": _tanh,
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "softplus": _softplus,
    "silu": _silu,
    "gelu": _gelu,
    "exp": _exp,
    "softmax": _softmax,
}


def add_activation(graph: OnnxGraph, activation: Activation, z: str) -> str:
    """Add the nodes of ``a = activation(z)`` and return the name of ``a``.

    Parameters
    ----------
    graph : OnnxGraph
    activation : Activation
        One of :data:`deltaprop.ACTIVATIONS` (a subclass keeps its parent's formula
        only if it has the same ``name``).
    z : str
        Pre-activations, shape (N, n_units).

    Raises
    ------
    ValueError
        For an activation without an ONNX translation.
    """
    builder = _ACTIVATION_BUILDERS.get(activation.name)
    if builder is None or not isinstance(activation, ACTIVATIONS.get(activation.name, ())):
        raise ValueError(
            f"activation {activation.name or type(activation).__name__!r} ({activation!r}) has "
            "no ONNX translation, so the network cannot be "
            f"exported; activations with one: {sorted(_ACTIVATION_BUILDERS)} (a new one needs "
            "a rule in deltaprop.export.onnx._ACTIVATION_BUILDERS)"
        )
    return builder(graph, z, graph.widths.get(z), activation)


# -- the network ----------------------------------------------------------------------
def _network_dtype(network: Any) -> np.dtype:
    dtypes = {to_numpy(p).dtype for p in network.parameters}
    return np.dtype(np.float32) if dtypes == {np.dtype(np.float32)} else np.dtype(np.float64)


def add_network(graph: OnnxGraph, network: Any, X: str) -> str:
    """Add every layer of ``network``: a ``Gemm`` and its activation per layer.

    Parameters
    ----------
    graph : OnnxGraph
    network : Network
        A network with weights (they are copied, cast to the graph's dtype).
    X : str
        The network's input, shape (N, network.n_inputs), of the graph's float type.

    Returns
    -------
    str
        The output activations, shape (N, network.n_outputs).

    Raises
    ------
    ValueError
        When ``X`` is known to have another number of columns.
    """
    width = graph.widths.get(X)
    if width is not None and width != network.n_inputs:
        raise ValueError(f"X must have network.n_inputs = {network.n_inputs} columns, got {width}")
    a = X
    for l, layer in enumerate(network.layers):
        weights = graph.constant(to_numpy(layer.weights), f"layer{l}_weights")
        bias = graph.constant(to_numpy(layer.bias), f"layer{l}_bias")
        z = graph.node("Gemm", [a, weights, bias], f"layer{l}_z", width=layer.n_out)
        a = add_activation(graph, layer.activation, z)
    return a


def network_to_model_proto(
    network: Any,
    *,
    opset: int | None = None,
    dtype: Any = None,
    input_name: str = "X",
    output_name: str = "output",
) -> Any:
    """The ONNX model of a network: ``output = network.forward(X)``.

    Parameters
    ----------
    network : Network
    opset : int, optional
        Default-domain opset; default the lowest that expresses every layer (7 to 9,
        see the module docstring).
    dtype : {"float32", "float64"}, optional
        Float type of the model; default float32 when every parameter is float32,
        else float64.
    input_name : str, default "X"
        Name of the input, shape (N, network.n_inputs).
    output_name : str, default "output"
        Name of the output activations, shape (N, network.n_outputs).

    Returns
    -------
    onnx.ModelProto
        Checked with ``onnx.checker.check_model``.

    Raises
    ------
    ImportError
        Without the ``onnx`` package (``pip install "deltaprop[onnx]"``).
    ValueError
        For a bad ``opset``, ``dtype`` or names, or an activation without a translation.
    """
    graph = OnnxGraph(_network_dtype(network) if dtype is None else dtype)
    X = graph.add_input(input_name, width=network.n_inputs)
    graph.add_output(output_name, add_network(graph, network, X))
    return graph.to_model(opset=opset, doc_string=repr(network))


def save_model(model: Any, path: str | os.PathLike) -> None:
    """Write a ModelProto to ``path`` atomically (see :func:`deltaprop.files.write_atomically`)."""

    write_atomically(path, lambda file: file.write(model.SerializeToString()))


def to_onnx(
    network: Any,
    path: str | os.PathLike,
    *,
    opset: int | None = None,
    dtype: Any = None,
    input_name: str = "X",
    output_name: str = "output",
) -> Any:
    """Write ``network`` to an ONNX file; see :func:`network_to_model_proto`.

    Returns
    -------
    onnx.ModelProto
        The model that was written.
    """
    model = network_to_model_proto(
        network, opset=opset, dtype=dtype, input_name=input_name, output_name=output_name
    )
    save_model(model, path)
    return model


# -- preprocessing and heads ------------------------------------------------------------
def _vector(value: Any, name: str, dtype: np.dtype) -> np.ndarray:
    array = np.asarray(value, dtype=dtype)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return array


def _check_width(graph: OnnxGraph, x: str, expected: int, rule: str) -> None:
    width = graph.widths.get(x)
    if width is not None and width != expected:
        raise ValueError(f"{rule}, got {width}")


def add_standardization(graph: OnnxGraph, X: str, mean: Any, scale: Any) -> str:
    """Add ``(X - mean) / scale`` (a ``Sub`` and a ``Div``, per column).

    Parameters
    ----------
    graph : OnnxGraph
    X : str
        Shape (N, n_features), of the graph's float type.
    mean, scale : array-like of shape (n_features,)
        ``scale`` must be non-zero (scikit-learn's StandardScaler stores 1 for constant
        columns).

    Returns
    -------
    str
        The standardised tensor, shape (N, n_features).
    """
    mean = _vector(mean, "mean", graph.dtype)
    scale = _vector(scale, "scale", graph.dtype)
    if mean.shape != scale.shape:
        raise ValueError(f"mean and scale must have one shape, got {mean.shape} and {scale.shape}")
    if np.any(scale == 0):
        raise ValueError("scale must be non-zero")
    _check_width(graph, X, mean.size, f"X must have len(mean) = {mean.size} columns")
    width = mean.size
    centred = graph.node("Sub", [X, graph.constant(mean, "mean")], "centred", width=width)
    return graph.node("Div", [centred, graph.constant(scale, "scale")], "standardized", width=width)


def add_one_hot(graph: OnnxGraph, column: str, categories: Sequence[Any]) -> str:
    """Add the one-hot encoding of one column: ``Equal`` against the categories, ``Cast``.

    A value equal to ``categories[k]`` becomes the row with a 1 in column ``k``; a value
    that is none of the categories becomes a row of zeros (scikit-learn's
    ``OneHotEncoder(handle_unknown="ignore")``). Drop a category (``drop="first"``) by
    leaving it out of ``categories``. Uses the default domain only: the opset rises to 19
    for string columns (``Equal`` on strings), 11 for float columns, 7 for integers.

    Parameters
    ----------
    graph : OnnxGraph
    column : str
        Shape (N, 1): strings, integers or floats (e.g. an input declared with
        ``graph.add_input(name, "string")``).
    categories : sequence of str, int or float
        The categories in the order of the encoded columns.

    Returns
    -------
    str
        Shape (N, len(categories)), of the graph's float type.
    """
    cats = np.asarray(list(categories))
    if cats.ndim != 1 or cats.size == 0:
        raise ValueError(f"categories must be a non-empty 1-D sequence, got shape {cats.shape}")
    if cats.dtype.kind in "OUS":
        if not all(isinstance(c, str) for c in cats.tolist()):
            raise TypeError("categories must all be str, or all be numbers")
        cats, opset = cats.astype(object), 19
    elif cats.dtype.kind in "iub":
        cats, opset = cats.astype(np.int64), 7
    elif cats.dtype.kind == "f":
        cats, opset = cats.astype(graph.dtype), 11
    else:
        raise TypeError(f"categories must be str, int or float, got dtype {cats.dtype}")
    if len(set(cats.tolist())) != cats.size:
        raise ValueError("categories must be distinct")
    _check_width(graph, column, 1, "column must have 1 column")
    constant = graph.constant(cats, "categories", dtype=cats.dtype)
    width = int(cats.size)
    equal = graph.node("Equal", [column, constant], "is_category", width=width, opset=opset)
    to = _element_type(graph.onnx, graph.dtype)
    return graph.node("Cast", [equal], "one_hot", width=width, to=to)


def add_inverse_scaling(graph: OnnxGraph, y: str, mean: Any, scale: Any) -> str:
    """Undo target standardisation: ``y * scale + mean`` (a ``Mul`` and an ``Add``).

    Parameters
    ----------
    graph : OnnxGraph
    y : str
        Network outputs, shape (N, n_targets).
    mean, scale : array-like of shape (n_targets,)

    Returns
    -------
    str
        Predictions in the units of the original targets, shape (N, n_targets).
    """
    mean = _vector(mean, "mean", graph.dtype)
    scale = _vector(scale, "scale", graph.dtype)
    if mean.shape != scale.shape:
        raise ValueError(f"mean and scale must have one shape, got {mean.shape} and {scale.shape}")
    _check_width(graph, y, mean.size, f"y must have len(mean) = {mean.size} columns")
    width = mean.size
    scaled = graph.node("Mul", [y, graph.constant(scale, "target_scale")], "y_scaled", width=width)
    return graph.node("Add", [scaled, graph.constant(mean, "target_mean")], "y", width=width)


def _label_array(classes: Any) -> np.ndarray:
    array = np.asarray(classes)
    if array.ndim != 1:
        raise ValueError(f"classes must be 1-D, got shape {array.shape}")
    if array.dtype.kind in "OUS":
        if not all(isinstance(c, str) for c in array.tolist()):
            raise TypeError("classes must all be str, or all be numbers")
        return array.astype(object)
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    if array.dtype.kind in "bf":
        return array.astype(np.bool_ if array.dtype.kind == "b" else np.float64)
    raise TypeError(f"classes must be str, int, bool or float, got dtype {array.dtype}")


def add_classifier_outputs(
    graph: OnnxGraph,
    scores: str,
    *,
    kind: str,
    classes: Any = None,
    label_name: str = "label",
    proba_name: str = "probabilities",
) -> tuple[str, str]:
    """Add a classifier's two outputs: predicted labels and a probability matrix.

    ``kind="binary"``
        ``scores`` has one column, the probability ``p`` of ``classes[1]`` (a sigmoid).
        ``label`` is ``classes[1]`` where ``p > 0.5``, else ``classes[0]`` (scikit-learn's
        threshold); ``probabilities`` is ``[1 - p, p]``, shape (N, 2).
    ``kind="multiclass"``
        ``scores`` has one column per class (a softmax). ``label`` is the class of the
        largest probability (the first on ties, like ``numpy.argmax``);
        ``probabilities`` is ``scores``, shape (N, n_classes).
    ``kind="multilabel"``
        ``scores`` has one column per label, each an independent probability. ``label``
        is the int64 indicator matrix ``p > 0.5``, shape (N, n_labels);
        ``probabilities`` is ``scores``. ``classes`` must be None.

    Parameters
    ----------
    graph : OnnxGraph
    scores : str
        The network's output, shape (N, n_outputs).
    kind : {"binary", "multiclass", "multilabel"}
    classes : array-like of shape (n_classes,)
        The original labels in the order of the network's outputs: strings, integers
        (int64 output), booleans or floats (float64 output).
    label_name, proba_name : str
        Names of the two graph outputs.

    Returns
    -------
    label_name, proba_name : str
    """
    width = graph.widths.get(scores)
    if kind == "multilabel":
        if classes is not None:
            raise ValueError("classes must be None for kind='multilabel' (labels are 0/1)")
        positive = graph.node("Greater", [scores, graph.scalar(0.5)], "is_positive", width=width)
        label = graph.node(
            "Cast", [positive], "label", width=width, to=graph.onnx.TensorProto.INT64
        )
        graph.add_output(label_name, label, dtype=np.int64)
        graph.add_output(proba_name, scores)
        return label_name, proba_name
    if kind not in ("binary", "multiclass"):
        raise ValueError(f"kind must be 'binary', 'multiclass' or 'multilabel', got {kind!r}")
    if classes is None:
        raise ValueError(f"classes are required for kind={kind!r}")
    labels = _label_array(classes)
    if kind == "binary":
        if labels.size != 2:
            raise ValueError(f"kind='binary' needs 2 classes, got {labels.size}")
        rule = "scores must have 1 column (the probability of classes[1]) for kind='binary'"
        _check_width(graph, scores, 1, rule)
        positive = graph.node("Greater", [scores, graph.scalar(0.5)], "is_positive", width=1)
        index = graph.node(
            "Cast", [positive], "class_index", width=1, to=graph.onnx.TensorProto.INT64
        )
        index = graph.ravel(index, "class_index")
        negative = graph.node("Sub", [graph.scalar(1.0), scores], "p_negative", width=1)
        proba = graph.concat([negative, scores], "probabilities")
    else:
        if labels.size < 2:
            raise ValueError(f"kind='multiclass' needs at least 2 classes, got {labels.size}")
        rule = f"scores must have len(classes) = {labels.size} columns"
        _check_width(graph, scores, labels.size, rule)
        index = graph.node("ArgMax", [scores], "class_index", axis=1, keepdims=0)
        proba = scores
    constant = graph.constant(labels, "classes", dtype=labels.dtype)
    label = graph.node("Gather", [constant, index], "label", axis=0)
    graph.add_output(label_name, label, dtype=labels.dtype)
    graph.add_output(proba_name, proba)
    return label_name, proba_name


# -- scikit-learn estimators ------------------------------------------------------------
def _normalized_rows(graph: OnnxGraph, scores: str, width: int) -> str:
    """``scores / scores.sum(axis=1)`` (a MatMul with ones: the same in every opset)."""
    ones = graph.constant(np.ones((width, 1)), "ones")
    total = graph.node("MatMul", [scores, ones], "row_sum", width=1)
    return graph.node("Div", [scores, total], "normalized", width=width)


def estimator_to_model_proto(
    estimator: Any, *, opset: int | None = None, dtype: Any = None, input_name: str = "X"
) -> Any:
    """The ONNX model of a fitted :class:`~deltaprop.MLPClassifier` or ``MLPRegressor``.

    Input ``input_name``, shape (N, n_features_in_). A classifier has two outputs that
    reproduce ``predict`` and ``predict_proba``: ``label`` (the original labels: strings,
    integers, booleans; an int64 0/1 matrix for multilabel targets) and
    ``probabilities`` (shape (N, n_classes) in the order of ``classes_``). A regressor
    has one output, ``predictions``, shape (N,) for one target, else (N, n_outputs).

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor, fitted
    opset : int, optional
    dtype : {"float32", "float64"}, optional
        Default: the dtype of ``coefs_``.
    input_name : str

    Returns
    -------
    onnx.ModelProto
    """
    from sklearn.base import is_classifier
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    if dtype is None:
        dtype = np.result_type(*estimator.coefs_)
    graph = OnnxGraph(dtype)
    net = estimator._network(_float_dtype(dtype))
    X = graph.add_input(input_name, width=net.n_inputs)
    scores = add_network(graph, net, X)
    if not is_classifier(estimator):
        predictions = graph.ravel(scores, "predictions") if net.n_outputs == 1 else scores
        graph.add_output("predictions", predictions)
        return graph.to_model(opset=opset, doc_string=repr(estimator))
    classes = np.asarray(estimator.classes_)
    y_type = estimator._label_binarizer.y_type_
    if y_type.startswith("multilabel"):
        add_classifier_outputs(graph, scores, kind="multilabel")
    elif net.n_outputs == 1:
        add_classifier_outputs(graph, scores, kind="binary", classes=classes)
    else:
        if classes.size != net.n_outputs:
            raise ValueError(
                f"cannot export a classifier with {classes.size} classes and "
                f"{net.n_outputs} outputs"
            )
        if estimator.out_activation_ != "softmax":  # independent sigmoids: as predict_proba
            scores = _normalized_rows(graph, scores, net.n_outputs)
        add_classifier_outputs(graph, scores, kind="multiclass", classes=classes)
    return graph.to_model(opset=opset, doc_string=repr(estimator))


def estimator_to_onnx(
    estimator: Any,
    path: str | os.PathLike,
    *,
    opset: int | None = None,
    dtype: Any = None,
    input_name: str = "X",
) -> Any:
    """Write a fitted estimator to an ONNX file; see :func:`estimator_to_model_proto`."""
    model = estimator_to_model_proto(estimator, opset=opset, dtype=dtype, input_name=input_name)
    save_model(model, path)
    return model
