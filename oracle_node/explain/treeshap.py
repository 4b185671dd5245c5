"""TreeSHAP (the `shap` library, path-dependent) of the served ONNX trees.

Each ONNX output's trees go to shap.TreeExplainer as its custom-tree dictionary format: children by
ONNX node id (the true branch of BRANCH_LEQ is shap's left, as both test x <= threshold), float32
thresholds held exactly in float64, leaf values, covers from the explain artifact, and every
internal node's value the cover-weighted mean of its children (shap's expected value is the root's).
Additivity holds per row and output: expected + sum(contributions) = the model's output, checked
against onnxruntime on every call (`attribute`), so an explanation never describes another model.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import numpy as np

from oracle_node.errors import ModelError
from oracle_node.explain.trees import Ensemble, Tree

ADDITIVITY_RTOL = 1e-5  # float32 model output vs float64 sums
METHOD = "tree_shap_path_dependent"


@dataclass(frozen=True)
class Attribution:
    """Per output: expected value, contributions (n, features) and the model output (n,)."""

    expected: dict[str, float]
    contributions: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]


class TreeShap:
    """shap.TreeExplainer per ONNX output; `library` names the shap version (it goes in each record)."""

    def __init__(self, ensembles: dict[str, Ensemble], covers: dict[str, tuple[np.ndarray, ...]]) -> None:
        with warnings.catch_warnings():  # shap's colour maps, matplotlib's pending deprecations
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            import shap  # noqa: PLC0415 - ~2 s import (numba): paid when a model is explained, not by every CLI command

        self.library = f"shap {version('shap')}"
        self.outputs = tuple(sorted(ensembles))
        self._explainers = {
            out: shap.TreeExplainer(_shap_model(ensembles[out], covers[out])) for out in self.outputs
        }

    def attribute(self, rows: np.ndarray, onnx_outputs: dict[str, np.ndarray]) -> Attribution:
        """SHAP values of `rows` (n, features); ModelError when they do not add up to `onnx_outputs`."""
        x = np.asarray(rows, dtype=np.float32).astype(np.float64)
        expected, contributions = {}, {}
        for out, explainer in self._explainers.items():
            phi = np.asarray(explainer.shap_values(x, check_additivity=False), dtype=np.float64)
            ev = float(np.asarray(explainer.expected_value).reshape(-1)[0])
            got = ev + phi.sum(axis=1)
            want = np.asarray(onnx_outputs[out], dtype=np.float64).reshape(-1)
            if not np.allclose(got, want, rtol=ADDITIVITY_RTOL, atol=ADDITIVITY_RTOL):
                gap = float(np.max(np.abs(got - want)))
                raise ModelError(
                    f"TreeSHAP of {out}: expected value + contributions differ from the model by {gap:.3g}"
                )
            expected[out], contributions[out] = ev, phi
        return Attribution(
            expected, contributions, {o: np.asarray(v).reshape(-1) for o, v in onnx_outputs.items()}
        )


def _shap_model(ensemble: Ensemble, covers: tuple[np.ndarray, ...]) -> dict[str, Any]:
    return {
        "trees": [_shap_tree(t, c) for t, c in zip(ensemble.trees, covers, strict=True)],
        "base_offset": ensemble.base,
        "input_dtype": np.float32,
        "internal_dtype": np.float64,
        "tree_output": "raw_value",
        "objective": "squared_error",
    }


def _shap_tree(tree: Tree, cover: np.ndarray) -> dict[str, np.ndarray]:
    values = tree.leaf_value.copy()
    weight = cover.astype(np.float64)
    for node in _bottom_up(tree):
        a, b = tree.left[node], tree.right[node]
        values[node] = (weight[a] * values[a] + weight[b] * values[b]) / max(weight[node], 1.0)
    return {
        "children_left": tree.left,
        "children_right": tree.right,
        "children_default": tree.left,  # no missing values reach the trees (the ensemble refuses NaN)
        "features": tree.feature,
        "thresholds": tree.threshold,
        "values": values.reshape(-1, 1),
        "node_sample_weight": weight,
    }


def _bottom_up(tree: Tree) -> list[int]:
    """Internal nodes, children before parents."""
    order, stack = [], [0]
    while stack:
        node = stack.pop()
        if not tree.is_leaf[node]:
            order.append(node)
            stack += [int(tree.left[node]), int(tree.right[node])]
    return order[::-1]
