"""The explain artifact: node covers of the served trees, written beside the model at training time.

    <model dir>/<onnx stem>.explain.json
    {"schema_version": 1, "kind": "tree_covers", "model": ..., "onnx_sha256": ...,
     "training_rows": n, "covers": {"q_lo": [[rows per node id] per tree], "q_hi": [...]}}

It is *not* pinned in the manifest, so adding it left the served model's hash (the DAO's allow-listed
modelHash) unchanged. It pins the ONNX file instead (`onnx_sha256` must equal the manifest's pin),
and every attribution record carries this file's sha256, which the signed report commits to through
inputsHash: a node cannot change the covers behind a published explanation without changing the
report. Covers only shape how a prediction is split across features, never the prediction itself.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from oracle_node import atomic
from oracle_node.errors import ModelError
from oracle_node.explain.trees import Ensemble, count_covers, read_ensembles
from oracle_node.models.manifest import Manifest

SCHEMA_VERSION = 1
KIND = "tree_covers"
SUFFIX = ".explain.json"


@dataclass(frozen=True)
class Covers:
    """Verified covers of one model: {output: per tree, rows per node id}; `sha256` of the file."""

    covers: dict[str, tuple[np.ndarray, ...]]
    training_rows: int
    sha256: str


def explain_path(onnx_path: Path) -> Path:
    return onnx_path.with_name(onnx_path.stem + SUFFIX)


def build_covers(model: str, onnx_bytes: bytes, ensembles: dict[str, Ensemble], rows: np.ndarray) -> bytes:
    """The artifact's bytes (canonical JSON, one line) from the training rows."""
    doc = {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "model": model,
        "onnx_sha256": hashlib.sha256(onnx_bytes).hexdigest(),
        "training_rows": int(rows.shape[0]),
        "covers": {
            out: [count_covers(t, rows).tolist() for t in e.trees] for out, e in sorted(ensembles.items())
        },
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def write_covers(path: Path, data: bytes) -> None:
    atomic.write_bytes(path, data)


def load_for(manifest: Manifest) -> tuple[dict[str, Ensemble], Covers]:
    """The served trees of an onnx_quantile manifest and their verified covers (ModelError otherwise)."""
    onnx_file = str(manifest.data["onnx"]["file"])
    path = manifest.artifact_path(onnx_file)
    ensembles = read_ensembles(path.read_bytes(), str(path))
    return ensembles, load_covers(explain_path(path), str(manifest.data["artifacts"][onnx_file]), ensembles)


def load_covers(path: Path, onnx_sha256: str, ensembles: dict[str, Ensemble]) -> Covers:
    """Read and check the artifact against the served trees; ModelError naming file and field."""
    try:
        raw = path.read_bytes()
        doc = json.loads(raw)
    except FileNotFoundError:
        raise ModelError(f"explain artifact {path} is missing") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"explain artifact {path} cannot be read: {exc}") from None
    _field(path, doc, "schema_version", SCHEMA_VERSION)
    _field(path, doc, "kind", KIND)
    _field(path, doc, "onnx_sha256", onnx_sha256)
    n = doc.get("training_rows")
    if not isinstance(n, int) or n < 1:
        raise ModelError(f"explain artifact {path}: field 'training_rows' = {n!r} must be a positive integer")
    covers = doc.get("covers")
    if not isinstance(covers, dict) or sorted(covers) != sorted(ensembles):
        raise ModelError(f"explain artifact {path}: field 'covers' must have the outputs {sorted(ensembles)}")
    out = {name: _check_trees(path, name, covers[name], e, n) for name, e in ensembles.items()}
    return Covers(out, n, hashlib.sha256(raw).hexdigest())


def _field(path: Path, doc: Any, name: str, expected: object) -> None:
    value = doc.get(name) if isinstance(doc, dict) else None
    if value != expected:
        raise ModelError(f"explain artifact {path}: field {name!r} = {value!r}, expected {expected!r}")


def _check_trees(path: Path, output: str, trees: Any, ensemble: Ensemble, n: int) -> tuple[np.ndarray, ...]:
    """Per tree: one cover per node, the root holds every row, each split's children sum to it."""
    if not isinstance(trees, list) or len(trees) != len(ensemble.trees):
        raise ModelError(f"explain artifact {path}: covers.{output} must list {len(ensemble.trees)} trees")
    out = []
    for i, (cover, tree) in enumerate(zip(trees, ensemble.trees, strict=True)):
        c = np.asarray(cover, dtype=np.int64) if isinstance(cover, list) else np.zeros(0, np.int64)
        inner = ~tree.is_leaf
        ok = c.size == tree.left.size and c[0] == n if c.size else False
        if not ok or np.any(c[inner] != c[tree.left[inner]] + c[tree.right[inner]]):
            raise ModelError(
                f"explain artifact {path}: covers.{output}[{i}] do not fit tree {i} of the model"
            )
        out.append(c)
    return tuple(out)
