"""The served trees, read back from the ONNX graph, and their node covers.

The ONNX model is the authority on what the node serves: each output (q_lo, q_hi) is one
`ai.onnx.ml.TreeEnsembleRegressor` (BRANCH_LEQ: x <= threshold goes to the true child; leaf weights
already scaled by the learning rate; base_values the initial quantile). `read_ensembles` turns each
into flat per-tree arrays indexed by ONNX node id.

Path-dependent TreeSHAP also needs every node's *cover* (how many training rows reached it), which
ONNX does not carry (nodes_hitrates are all 1). `count_covers` pushes the training rows through the
same float32 comparisons onnxruntime makes; the training run writes the result beside the model
(covers.py) and checks it against scikit-learn's own node sample counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import helper

from oracle_node.errors import ModelError

ENSEMBLE_OP = "TreeEnsembleRegressor"


@dataclass(frozen=True)
class Tree:
    """One regression tree; arrays indexed by node id; leaves have left = right = -1."""

    left: np.ndarray  # int32
    right: np.ndarray  # int32
    feature: np.ndarray  # int32 (-2 at leaves)
    threshold: np.ndarray  # float64 holding the float32 threshold exactly
    leaf_value: np.ndarray  # float64, 0 at internal nodes

    @property
    def is_leaf(self) -> np.ndarray:
        return self.left < 0


@dataclass(frozen=True)
class Ensemble:
    """Trees of one ONNX output: prediction = base + sum of each tree's leaf value."""

    output: str
    base: float
    trees: tuple[Tree, ...]


def read_ensembles(model_bytes: bytes, where: str) -> dict[str, Ensemble]:
    """{graph output name: Ensemble} for every TreeEnsembleRegressor feeding an output (via Identity)."""
    try:
        graph = onnx.load_from_string(model_bytes).graph
    except DecodeError as exc:
        raise ModelError(f"{where}: not a readable ONNX model ({exc})") from None
    renamed = {n.input[0]: n.output[0] for n in graph.node if n.op_type == "Identity"}
    outputs = {o.name for o in graph.output}
    out: dict[str, Ensemble] = {}
    for node in graph.node:
        if node.op_type != ENSEMBLE_OP:
            continue
        name = node.output[0]
        while name not in outputs and name in renamed:
            name = renamed[name]
        if name not in outputs:
            raise ModelError(f"{where}: tree ensemble {node.name!r} does not feed a graph output")
        out[name] = _ensemble(name, node, where)
    if not out:
        raise ModelError(f"{where}: no {ENSEMBLE_OP} node, nothing TreeSHAP can explain")
    return out


def _ensemble(output: str, node: onnx.NodeProto, where: str) -> Ensemble:
    a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
    modes = [m.decode() for m in a["nodes_modes"]]
    if set(modes) - {"BRANCH_LEQ", "LEAF"} or a.get("post_transform", b"NONE") != b"NONE":
        raise ModelError(f"{where}: {output}: only BRANCH_LEQ trees without post-transform are explained")
    tree_ids = np.asarray(a["nodes_treeids"])
    trees = []
    for t in range(int(tree_ids.max()) + 1):
        sel = np.flatnonzero(tree_ids == t)
        ids = np.asarray(a["nodes_nodeids"])[sel]
        n = int(ids.max()) + 1
        leaf = np.array([modes[i] == "LEAF" for i in sel])
        left, right = np.full(n, -1, np.int32), np.full(n, -1, np.int32)
        feature, threshold = np.full(n, -2, np.int32), np.zeros(n)
        left[ids[~leaf]] = np.asarray(a["nodes_truenodeids"])[sel][~leaf]
        right[ids[~leaf]] = np.asarray(a["nodes_falsenodeids"])[sel][~leaf]
        feature[ids[~leaf]] = np.asarray(a["nodes_featureids"])[sel][~leaf]
        threshold[ids] = np.asarray(a["nodes_values"], dtype=np.float32)[sel].astype(np.float64)
        values = np.zeros(n)
        on_t = np.asarray(a["target_treeids"]) == t
        np.add.at(values, np.asarray(a["target_nodeids"])[on_t],
                  np.asarray(a["target_weights"], dtype=np.float32)[on_t].astype(np.float64))  # fmt: skip
        trees.append(Tree(left, right, feature, threshold, values))
    base = float(np.float32(a["base_values"][0])) if "base_values" in a else 0.0
    return Ensemble(output, base, tuple(trees))


def count_covers(tree: Tree, rows: np.ndarray) -> np.ndarray:
    """Rows reaching each node (float32 comparisons, as onnxruntime makes them)."""
    x = np.asarray(rows, dtype=np.float32).astype(np.float64)
    covers = np.zeros(tree.left.size, dtype=np.int64)
    at = np.zeros(x.shape[0], dtype=np.int64)
    active = np.arange(x.shape[0])
    while active.size:
        np.add.at(covers, at[active], 1)
        active = active[~tree.is_leaf[at[active]]]
        node = at[active]
        go_left = x[active, tree.feature[node]] <= tree.threshold[node]
        at[active] = np.where(go_left, tree.left[node], tree.right[node])
    return covers


def predict(ensemble: Ensemble, rows: np.ndarray) -> np.ndarray:
    """Plain NumPy reference prediction (the onnxruntime result to float32 precision)."""
    x = np.asarray(rows, dtype=np.float32).astype(np.float64)
    total = np.full(x.shape[0], ensemble.base)
    for tree in ensemble.trees:
        at = np.zeros(x.shape[0], dtype=np.int64)
        for _ in range(tree.left.size):
            inner = ~tree.is_leaf[at]
            if not inner.any():
                break
            node = at[inner]
            go_left = x[inner, tree.feature[node]] <= tree.threshold[node]
            at[inner] = np.where(go_left, tree.left[node], tree.right[node])
        total += tree.leaf_value[at]
    return total
