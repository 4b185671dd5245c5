"""The explain artifact of a freshly trained model: node covers of the ONNX trees (explain/covers.py),
counted from the training rows and checked node by node against scikit-learn's own sample counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from oracle_node.errors import ModelError
from oracle_node.explain.covers import build_covers, explain_path, write_covers
from oracle_node.explain.trees import count_covers, read_ensembles


def write_explain_artifact(
    out_dir: Path, onnx_file: str, model: str, onnx_bytes: bytes, train_x: np.ndarray, fitted: dict[str, Any]
) -> Path:
    """Write OUT/<stem>.explain.json. `fitted`: {ONNX output: its scikit-learn regressor}; ModelError
    when any tree's covers differ from the regressor's node sample counts."""
    ensembles = read_ensembles(onnx_bytes, onnx_file)
    if sorted(fitted) != sorted(ensembles):
        raise ModelError(
            f"explain artifact: ONNX outputs {sorted(ensembles)}, regressors for {sorted(fitted)}"
        )
    for name, ensemble in sorted(ensembles.items()):
        for i, (tree, est) in enumerate(zip(ensemble.trees, fitted[name].estimators_[:, 0], strict=True)):
            if not np.array_equal(count_covers(tree, train_x), est.tree_.n_node_samples):
                raise ModelError(f"explain artifact: covers of {name} tree {i} differ from scikit-learn's")
    path = explain_path(out_dir / onnx_file)
    write_covers(path, build_covers(model, onnx_bytes, ensembles, train_x))
    return path
