"""Export the two scikit-learn quantile regressors (alpha and 1 - alpha) as ONE ONNX graph with one
input X (float32, n x features) and two outputs q_lo, q_hi (n x 1), so a round is one onnxruntime call.
Training only (imports skl2onnx); inference needs onnxruntime alone.
"""

from __future__ import annotations

from typing import Any

import onnx
from onnx import compose, helper
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType

INPUT = "X"
OUTPUTS: tuple[str, str] = ("q_lo", "q_hi")
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}


def _convert(model: Any, n_features: int, prefix: str) -> onnx.ModelProto:
    proto = convert_sklearn(
        model,
        initial_types=[(INPUT, FloatTensorType([None, n_features]))],
        target_opset=TARGET_OPSET,
    )
    return compose.add_prefix(proto, prefix)


def export_quantile_pair(lo: Any, hi: Any, n_features: int, name: str) -> bytes:
    """Serialized ONNX model computing both quantiles from one input."""
    parts = [_convert(lo, n_features, "lo_"), _convert(hi, n_features, "hi_")]
    nodes = []
    for part, out in zip(parts, OUTPUTS, strict=True):
        g = part.graph
        nodes.append(helper.make_node("Identity", [INPUT], [g.input[0].name], name=f"{out}_in"))
        nodes.extend(g.node)
        nodes.append(helper.make_node("Identity", [g.output[0].name], [out], name=f"{out}_out"))
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(INPUT, onnx.TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, [None, 1]) for o in OUTPUTS],
        initializer=[init for p in parts for init in p.graph.initializer],
    )
    opsets = [helper.make_opsetid(domain, version) for domain, version in TARGET_OPSET.items()]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="oracle_node.train")
    model.ir_version = parts[0].ir_version
    onnx.checker.check_model(model)
    return model.SerializeToString()
