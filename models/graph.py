"""The fast model as an ONNX graph: a hashed-n-gram linear model with sigmoid outputs.

Inputs (built by :func:`streams.features.featurize`): ``ids`` int64 [C, O] n-gram buckets per
character position and order, ``rows`` int64 [C] the text of each position, ``scale`` float32
[N] per-text normaliser. Output ``scores`` float32 [N, L] =
sigmoid(scale * sum(W[ids] per text) + b). The last row of ``W`` is the zero padding bucket.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 18


def linear_graph(
    weights: npt.NDArray[np.float32], bias: npt.NDArray[np.float32]
) -> onnx.ModelProto:
    """Build the graph for a weight table ``[buckets + 1, L]`` (last row zero) and bias ``[L]``."""
    buckets, n_labels = weights.shape
    inits = [
        numpy_helper.from_array(weights.astype(np.float32), "W"),
        numpy_helper.from_array(bias.astype(np.float32).reshape(1, n_labels), "b"),
        numpy_helper.from_array(np.array([n_labels], dtype=np.int64), "L"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "minus1"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
    ]
    nodes = [
        helper.make_node("Shape", ["scale"], ["n"]),
        helper.make_node("Concat", ["n", "L"], ["acc_shape"], axis=0),
        helper.make_node(
            "ConstantOfShape",
            ["acc_shape"],
            ["zeros"],
            value=helper.make_tensor("z", TensorProto.FLOAT, [1], [0.0]),
        ),
        helper.make_node("Gather", ["W", "ids"], ["per_order"], axis=0),
        # index [C, O, 1]: every order of a position adds into the row of that position
        helper.make_node("Unsqueeze", ["rows", "minus1"], ["rows2"]),
        helper.make_node("Shape", ["ids"], ["ids_shape"]),
        helper.make_node("Concat", ["ids_shape", "one"], ["index_shape"], axis=0),
        helper.make_node("Unsqueeze", ["rows2", "minus1"], ["rows3"]),
        helper.make_node("Expand", ["rows3", "index_shape"], ["index"]),
        helper.make_node("ScatterND", ["zeros", "index", "per_order"], ["acc"], reduction="add"),
        helper.make_node("Unsqueeze", ["scale", "one"], ["scale2"]),
        helper.make_node("Mul", ["acc", "scale2"], ["scaled"]),
        helper.make_node("Add", ["scaled", "b"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["scores"]),
    ]
    graph = helper.make_graph(
        nodes,
        "flagstream_fast",
        [
            helper.make_tensor_value_info("ids", TensorProto.INT64, ["C", "O"]),
            helper.make_tensor_value_info("rows", TensorProto.INT64, ["C"]),
            helper.make_tensor_value_info("scale", TensorProto.FLOAT, ["N"]),
        ],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", n_labels])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    del buckets
    return model
