"""Write a trained LSTM bundle: OUT/lstm.onnx, OUT/lstm_weights.npz and OUT/manifest.json.

The manifest (schema "mlra-lstm-1", sorted keys, hashed like the other research manifests) pins
both files' sha256 and records the inputs, the loss, the split, the hyper-parameter grid with every
point's validation NLL, the chosen point, the ONNX-vs-torch agreement on the training rows
(`onnx_vs_torch_max_abs`, `onnx_vs_torch_max_rel`), the static conformal multipliers and the training
data files' sha256. Research provenance only: the node does not serve it.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np

from oracle_node import atomic
from oracle_node.models.manifest import canonical_bytes
from oracle_node.models.ml_features import SCALE_FEATURE, MlRows
from oracle_node.research.training.lstm_data import (
    LSTM_INPUTS,
    ONNX_INPUT,
    ONNX_OUTPUT,
    SHOCK_CLIP,
    LstmBundle,
)
from oracle_node.research.training.ml_train import canonical_json, static_calibration, test_coverage

SCHEMA = "mlra-lstm-1"
ONNX_FILE, WEIGHTS_FILE = "lstm.onnx", "lstm_weights.npz"


def weights_bytes(weights: dict[str, np.ndarray], length: int) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, length=np.array(length), **weights)
    return buf.getvalue()


def write_lstm_bundle(out: Path, bundle: LstmBundle, rows: MlRows, data: dict[str, str]) -> bytes:
    """Files + manifest.json into `out`; returns the manifest hash (sha256 of canonical JSON)."""
    out.mkdir(parents=True, exist_ok=True)
    m = bundle.models["lstm"]
    blobs = {ONNX_FILE: m.onnx, WEIGHTS_FILE: weights_bytes(m.weights, m.params["length"])}
    for name, blob in blobs.items():
        atomic.write_bytes(out / name, blob)
    cal = static_calibration(bundle, "lstm", rows)  # type: ignore[arg-type]  # same fields as MlBundle
    metrics: dict[str, Any] = {
        **m.metrics,
        "conformal_var_multiplier": cal.multiplier,
        "conformal_es_multiplier": cal.es_multiplier,
        "test_static_conformal": test_coverage(bundle, "lstm", rows, cal),  # type: ignore[arg-type]
    }
    manifest = {
        "schema": SCHEMA, "market": rows.market, "model": "lstm", "alpha": bundle.alpha,
        "artifacts": {k: hashlib.sha256(v).hexdigest() for k, v in blobs.items()},
        "onnx": {"file": ONNX_FILE, "input": ONNX_INPUT, "output": ONNX_OUTPUT, "shape": ["n", m.params["length"], len(LSTM_INPUTS)]},
        "inputs": list(LSTM_INPUTS), "shock_clip": SHOCK_CLIP, "scale_feature": SCALE_FEATURE,
        "target": "z = r[t+1] / ewma_sigma[t]; output: Student-t scale of z (raw VaR = ewma_sigma * scale)",
        "loss": "Student-t NLL, location 0, nu fixed", "params": m.params, "split": bundle.split,
        "calibration": "split conformal on the held-out block, rolling in the walk-forward",
        "metrics": metrics, "training_data_sha256": data,
    }  # fmt: skip
    atomic.write_text(out / "manifest.json", canonical_json(manifest))
    return hashlib.sha256(canonical_bytes(manifest)).digest()
