"""Train the ML models for one asset with a documented split, and write them with a manifest.

Split (no look-ahead): `cut` is the index of the first test row (the first day forecast out of
sample). Rows k < cut have known targets (returns[k], the day after row k's features) and are the
pre-test period; the last `cal_days` of them (at most a third) are held out for conformal
calibration, the rows before them fit the models. Rows of pooled markets (e.g. BTC for ETH) join the
fit set only when their target day ends before the first calibration day. Nothing at or after `cut`
is read while training.

These are the backtest's research models (`oracle-node backtest` writes them to OUT/models/ for
provenance). Their manifest.json (schema "mlra-ml-models-1", sorted keys, hashed like a served
manifest) lists each ONNX file's sha256, the training data files' sha256, the split dates, row counts,
hyper-parameters and metrics (ONNX vs scikit-learn agreement, calibration multipliers, and
out-of-sample coverage when test rows exist). The node does not serve it (its loader says so): the
served model and its schema are train.py / train_run.py and models/manifest_schema.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sklearn

from oracle_node import atomic
from oracle_node.errors import ModelError
from oracle_node.models.manifest import canonical_bytes
from oracle_node.models.ml_features import ML_FEATURES, SCALE_FEATURE, MlRows
from oracle_node.research.training.conformal import Calibration, calibrate, scores
from oracle_node.research.training.ml_fit import (
    GBM_PARAMS,
    ML_MODELS,
    MLP_PARAMS,
    FittedModel,
    fit_and_export,
)

CAL_DAYS = 500
MIN_FIT_ROWS = 250
SCHEMA = "mlra-ml-models-1"


def day(ts: float) -> str:
    """UTC date of the day that ends at `ts`."""
    return datetime.fromtimestamp(float(ts) - 1.0, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class MlBundle:
    """Models fitted on one split: row indices refer to the asset's MlRows."""

    market: str
    alpha: float
    cut: int  # first test row
    cal_start: int  # first calibration row
    fit_rows: int
    models: dict[str, FittedModel]
    split: dict[str, Any] = field(default_factory=dict)
    fit_x: np.ndarray | None = None  # the rows the models were fitted on (pooled ones included)

    def raw_var(self, name: str, rows: MlRows, start: int) -> np.ndarray:
        """Uncalibrated VaR (log-return loss) of rows[start:], one onnxruntime run; NaN where not ok."""
        out = np.full(rows.x.shape[0] - start, np.nan)
        ok = np.flatnonzero(rows.ok[start:])
        out[ok] = rows.scale[start:][ok] * self.models[name].runtime.raw(rows.x[start:][ok])
        return out


def _fit_set(rows: MlRows, cal_start: int, pool: Sequence[MlRows]) -> tuple[np.ndarray, np.ndarray]:
    own = np.flatnonzero(rows.ok[:cal_start])
    xs, zs = [rows.x[own]], [rows.returns[own] / rows.scale[own]]
    first_cal_ts = rows.target_ts[cal_start]
    for p in pool:
        sel = np.flatnonzero(p.ok & np.isfinite(p.returns) & (p.target_ts < first_cal_ts))
        xs.append(p.x[sel])
        zs.append(p.returns[sel] / p.scale[sel])
    return np.vstack(xs), np.concatenate(zs)


def train_bundle(
    rows: MlRows, cut: int, alpha: float, pool: Sequence[MlRows] = (), cal_days: int = CAL_DAYS,
    models: Sequence[str] = ML_MODELS,
) -> MlBundle:  # fmt: skip
    """Fit every model on rows before the calibration block that precedes `cut`."""
    known = int(rows.ok[:cut].sum())
    n_cal = min(cal_days, known // 3)
    cal_start = cut - n_cal
    x, z = _fit_set(rows, cal_start, pool)
    if x.shape[0] < MIN_FIT_ROWS or n_cal < 100:
        raise ModelError(
            f"{rows.market}: {x.shape[0]} fit rows (>= {MIN_FIT_ROWS}) and {n_cal} calibration rows "
            f"(>= 100) needed before the test start {day(rows.target_ts[cut - 1])}"
        )
    fitted = {name: fit_and_export(name, x, z, alpha) for name in models}
    split = {
        "fit": f"targets up to {day(rows.target_ts[cal_start - 1])} (pooled: {[p.market for p in pool]})",
        "calibration": f"{day(rows.target_ts[cal_start])} .. {day(rows.target_ts[cut - 1])}",
        "test_start": day(rows.target_ts[cut]) if cut < rows.target_ts.size and np.isfinite(rows.target_ts[cut]) else None,
        "fit_rows": int(x.shape[0]),
        "calibration_rows": int(n_cal),
    }  # fmt: skip
    return MlBundle(rows.market, alpha, cut, cal_start, int(x.shape[0]), fitted, split, x)


def static_calibration(bundle: MlBundle, name: str, rows: MlRows) -> Calibration:
    """Split-conformal multipliers from the held-out calibration block."""
    v = bundle.raw_var(name, rows, bundle.cal_start)[: bundle.cut - bundle.cal_start]
    return calibrate(scores(rows.returns[bundle.cal_start : bundle.cut], v), bundle.alpha)


def test_coverage(bundle: MlBundle, name: str, rows: MlRows, cal: Calibration) -> dict[str, Any]:
    """Breaches of the statically calibrated VaR on rows at and after the cut (known targets)."""
    v = bundle.raw_var(name, rows, bundle.cut)
    r = rows.returns[bundle.cut :]
    keep = np.isfinite(v) & np.isfinite(r)
    hits = int(np.sum(r[keep] < -cal.multiplier * v[keep]))
    n = int(keep.sum())
    return {"days": n, "violations": hits, "rate": hits / n if n else None}


def bundle_metrics(bundle: MlBundle, rows: MlRows) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, fm in bundle.models.items():
        cal = static_calibration(bundle, name, rows)
        out[name] = {
            "onnx_vs_sklearn_max_rel_diff": fm.onnx_vs_sklearn_max_rel,
            "conformal_var_multiplier": cal.multiplier,
            "conformal_es_multiplier": cal.es_multiplier,
            "test_static_conformal": test_coverage(bundle, name, rows, cal),
        }
    return out


def onnx_file(name: str, alpha: float) -> str:
    return f"{name}_a{round(alpha * 1000):03d}.onnx"


def write_bundles(out: Path, bundles: Sequence[MlBundle], rows: MlRows, data: dict[str, str]) -> bytes:
    """ONNX files + manifest.json into `out`; returns the manifest hash (sha256 of canonical JSON)."""
    out.mkdir(parents=True, exist_ok=True)
    artifacts: dict[str, str] = {}
    models: dict[str, Any] = {}
    for b in bundles:
        for name, fm in b.models.items():
            fname = onnx_file(name, b.alpha)
            atomic.write_bytes(out / fname, fm.onnx)
            artifacts[fname] = hashlib.sha256(fm.onnx).hexdigest()
        models[f"alpha_{b.alpha}"] = {"split": b.split, "metrics": bundle_metrics(b, rows)}
    manifest = {
        "schema": SCHEMA, "market": rows.market, "models": list(bundles[0].models),
        "artifacts": artifacts, "features": list(ML_FEATURES), "scale_feature": SCALE_FEATURE,
        "target": "z = r[t+1] / ewma_sigma[t]; qgbm: alpha-quantile of z; mlp: E|z|",
        "calibration": "split conformal on the held-out block, rolling in the walk-forward",
        "training_data_sha256": data, "by_alpha": models,
        "params": {"qgbm": GBM_PARAMS, "mlp": {**MLP_PARAMS, "hidden_layer_sizes": list(MLP_PARAMS["hidden_layer_sizes"])}},
        "sklearn": sklearn.__version__,
    }  # fmt: skip
    atomic.write_text(out / "manifest.json", canonical_json(manifest))
    return hashlib.sha256(canonical_bytes(manifest)).digest()


def canonical_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
