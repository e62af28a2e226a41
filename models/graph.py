"""The fast model as an ONNX graph: a hashed-n-gram linear model with sigmoid outputs.

Inputs (built by :func:`streams.features.featurize`): ``ids`` int64 [C, O] character n-gram
buckets per position and order, ``rows`` int64 [C] the text of each position, ``scale`` float32
[N] per-text normaliser of the character block; ``word_ids`` int64 [K], ``word_rows`` int64
[K] and ``word_scale`` float32 [N] the same for word unigrams and bigrams. Output ``scores``
float32 [N, L] = sigmoid(scale * sum(W[ids]) + word_scale * sum(W[word_ids]) + b), sums per
text. The last row of ``W`` is the zero padding bucket. ``W`` is stored as float16 (half the
file and half the cache footprint; the training-time model rounds its weights the same way)
and widened to float32 before anything is summed.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 18
WEIGHT_DTYPE = np.float16


def linear_graph(
    weights: npt.NDArray[np.float32], bias: npt.NDArray[np.float32]
) -> onnx.ModelProto:
    """Build the graph for a weight table ``[buckets + 1, L]`` (last row zero) and bias ``[L]``."""
    n_labels = weights.shape[1]
    inits = [
        numpy_helper.from_array(weights.astype(WEIGHT_DTYPE), "W"),
        numpy_helper.from_array(bias.astype(np.float32).reshape(1, n_labels), "b"),
        numpy_helper.from_array(np.array([n_labels], dtype=np.int64), "L"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "minus1"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "two"),
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
        # character n-grams: the [O, L] block of each position adds into its text's [O, L]
        # block of a [N, O, L] accumulator (one index per position, not per n-gram: measured
        # faster than an Expand'ed [C, O, 1] index), then the orders are summed
        helper.make_node("Gather", ["W", "ids"], ["char_half"], axis=0),
        helper.make_node("Cast", ["char_half"], ["char_rows"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["rows", "minus1"], ["rows2"]),
        helper.make_node("Shape", ["ids"], ["ids_shape"]),
        helper.make_node("Slice", ["ids_shape", "one", "two"], ["orders"]),
        helper.make_node("Concat", ["n", "orders", "L"], ["acc3_shape"], axis=0),
        helper.make_node(
            "ConstantOfShape",
            ["acc3_shape"],
            ["zeros3"],
            value=helper.make_tensor("z3", TensorProto.FLOAT, [1], [0.0]),
        ),
        helper.make_node(
            "ScatterND", ["zeros3", "rows2", "char_rows"], ["char_acc3"], reduction="add"
        ),
        helper.make_node("ReduceSum", ["char_acc3", "one"], ["char_acc"], keepdims=0),
        helper.make_node("Unsqueeze", ["scale", "one"], ["scale2"]),
        helper.make_node("Mul", ["char_acc", "scale2"], ["char_logits"]),
        # word unigrams and bigrams: index [K, 1]
        helper.make_node("Gather", ["W", "word_ids"], ["word_half"], axis=0),
        helper.make_node("Cast", ["word_half"], ["word_rows_w"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["word_rows", "minus1"], ["word_index"]),
        helper.make_node(
            "ScatterND", ["zeros", "word_index", "word_rows_w"], ["word_acc"], reduction="add"
        ),
        helper.make_node("Unsqueeze", ["word_scale", "one"], ["word_scale2"]),
        helper.make_node("Mul", ["word_acc", "word_scale2"], ["word_logits"]),
        helper.make_node("Add", ["char_logits", "word_logits"], ["sum_logits"]),
        helper.make_node("Add", ["sum_logits", "b"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["scores"]),
    ]
    graph = helper.make_graph(
        nodes,
        "flagstream_fast",
        [
            helper.make_tensor_value_info("ids", TensorProto.INT64, ["C", "O"]),
            helper.make_tensor_value_info("rows", TensorProto.INT64, ["C"]),
            helper.make_tensor_value_info("scale", TensorProto.FLOAT, ["N"]),
            helper.make_tensor_value_info("word_ids", TensorProto.INT64, ["K"]),
            helper.make_tensor_value_info("word_rows", TensorProto.INT64, ["K"]),
            helper.make_tensor_value_info("word_scale", TensorProto.FLOAT, ["N"]),
        ],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", n_labels])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model
