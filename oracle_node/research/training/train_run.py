"""The training run: data -> fitted quantile pair -> ONNX + manifest, with the coverage report.
`train_served_model` is the one path for `oracle-node train` and scripts/train_models.py.

Also evaluates, out of sample, the EWMA-normal baseline, GJR-GARCH-t (weekly refit, as the node runs)
and the published ensemble, walking forward day by day with data up to t only.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from oracle_node import atomic
from oracle_node.errors import ModelError
from oracle_node.features.history import MarketHistory
from oracle_node.models.ensemble import RiskModel
from oracle_node.models.ewma import ewma_variance_path
from oracle_node.models.manifest import MANIFEST_FILE, Manifest, load_manifest, manifest_hash, write_manifest
from oracle_node.models.manifest_schema import check_manifest
from oracle_node.models.quantile_onnx import deterministic_session
from oracle_node.models.tails import normal_quantile
from oracle_node.research.training.explain_export import write_explain_artifact
from oracle_node.research.training.onnx_export import OUTPUTS, export_quantile_pair
from oracle_node.research.training.train import (
    ALPHA,
    BASELINE,
    MIN_TRAIN_ROWS,
    MODEL_NAME,
    ONNX_FILE,
    TEST_START,
    Dataset,
    build_manifest,
    coverage,
    fit_quantile_pair,
    fit_tails,
    split_ts,
)
from oracle_node.research.training.train_data import load_training_histories, training_file_hashes


def onnx_matches_sklearn(onnx_bytes: bytes, lo: Any, hi: Any, x: np.ndarray) -> float:
    """Largest relative difference between onnxruntime and scikit-learn; ModelError above 1e-5."""
    sess = deterministic_session(onnx_bytes, ONNX_FILE)
    got = np.column_stack(sess.run(None, {"X": x.astype(np.float32)})).astype(np.float64)
    ref = np.column_stack([lo.predict(x.astype(np.float32)), hi.predict(x.astype(np.float32))])
    rel = float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-12)))
    if not np.allclose(got, ref, rtol=1e-5, atol=0.0):
        raise ModelError(f"ONNX export differs from scikit-learn: max relative difference {rel:.3g}")
    return rel


def _ewma_quantiles(history_close: np.ndarray, n_rows_idx: np.ndarray) -> np.ndarray:
    """EWMA-normal 1 % log-return quantile for the day after each feature day index."""
    r = np.diff(np.log(history_close))
    v = ewma_variance_path(r, BASELINE["ewma_lambda"], float(np.mean(r[:30] ** 2)))
    return np.sqrt(v[n_rows_idx - 1]) * normal_quantile(ALPHA)


def in_and_out_metrics(
    ds: Dataset, pair: tuple[Any, Any], cut: float, history: MarketHistory
) -> dict[str, Any]:
    lo, hi = pair
    z = np.column_stack([lo.predict(ds.x.astype(np.float32)), hi.predict(ds.x.astype(np.float32))])
    q_lo, q_hi = ds.scale * z[:, 0], ds.scale * z[:, 1]
    idx = np.searchsorted(history.ts, ds.target_ts) - 1  # feature day index of each row
    e_lo = _ewma_quantiles(history.close, idx)
    out: dict[str, Any] = {}
    for part, mask in zip(("in_sample", "out_of_sample"), ds.split(cut), strict=True):
        out[part] = {
            "ml": coverage(ds.r_next[mask], q_lo[mask], q_hi[mask]),
            "ewma": coverage(ds.r_next[mask], e_lo[mask], -e_lo[mask]),
        }
    return out


def walk_forward(model: RiskModel, history: MarketHistory, cut: float) -> dict[str, Any]:
    """Ensemble and baseline out of sample: forecast each day after `cut` from data before it."""
    first = int(np.searchsorted(history.ts, cut, side="right"))
    r = np.diff(np.log(history.close))
    ens, base, flags = [], [], {}
    for i in range(first, len(history)):
        past = history.until(history.ts[i - 1])
        fc = model.forecast(past)
        ens.append((fc.var99, fc.var99_short))
        b = model.baseline.forecast(past)
        base.append((b.var99, b.var99_short))
        for f in fc.flags:
            flags[f] = flags.get(f, 0) + 1
    realised = r[first - 1 :]
    return {
        "ensemble": _loss_coverage(realised, np.array(ens)),
        "baseline_gjr": _loss_coverage(realised, np.array(base)),
        "flag_counts": dict(sorted(flags.items())),
    }


def _loss_coverage(r: np.ndarray, var: np.ndarray) -> dict[str, Any]:
    q_lo, q_hi = np.log1p(-var[:, 0]), np.log1p(var[:, 1])
    cov = coverage(r, q_lo, q_hi)
    cov["mean_var99"] = float(np.mean(var[:, 0]))
    return cov


def train_served_model(
    histories: Mapping[str, MarketHistory], data_files: Mapping[str, str], out_dir: Path, *,
    test_start: str = TEST_START, walk: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """The one training path of a model the node serves: fit on every market's rows before
    `test_start` (pooled), export ONNX, write the manifest (the schema the node loads), load it back as
    the node does and forecast each market once. `data_files`: {file label: sha256} of the inputs.
    walk=False skips the day-by-day out-of-sample run of the ensemble (metrics.M.walk_forward)."""
    cut = split_ts(test_start)
    sets = {m: Dataset(h) for m, h in histories.items()}
    _check_rows(sets, cut, test_start)
    train_x = np.vstack([d.x[d.split(cut)[0]] for d in sets.values()])
    train_z = np.concatenate([d.z[d.split(cut)[0]] for d in sets.values()])
    lo, hi = fit_quantile_pair(train_x, train_z)
    onnx_bytes = export_quantile_pair(lo, hi, train_x.shape[1], MODEL_NAME)
    max_rel = onnx_matches_sklearn(onnx_bytes, lo, hi, np.vstack([d.x for d in sets.values()]))
    metrics: dict[str, Any] = {"onnx_vs_sklearn_max_rel_diff": max_rel}
    for m, d in sets.items():
        metrics[m] = in_and_out_metrics(d, (lo, hi), cut, histories[m])
    training = {
        "data": dict(sorted(data_files.items())),
        "test_start": test_start,
        "split": "train: target day closes <= test_start 00:00 UTC; test: after",
        "rows_train": int(train_x.shape[0]),
        "rows_by_market": {m: int(d.split(cut)[0].sum()) for m, d in sets.items()},
    }
    onnx_sha = hashlib.sha256(onnx_bytes).hexdigest()
    data = build_manifest(onnx_sha, train_x, fit_tails(train_z), training, metrics)
    manifest_hash(data)  # NaN / infinity
    check_manifest(out_dir / MANIFEST_FILE, data)  # refused before any file in out_dir is replaced
    atomic.write_bytes(out_dir / ONNX_FILE, onnx_bytes)
    fitted = dict(zip(OUTPUTS, (lo, hi), strict=True))
    write_explain_artifact(out_dir, ONNX_FILE, MODEL_NAME, onnx_bytes, train_x, fitted)  # not in the manifest
    write_manifest(out_dir, data)
    model = RiskModel(load_manifest(out_dir))  # exactly what the node loads
    for h in histories.values():
        model.forecast(h)
    if walk:
        for m, h in histories.items():
            if sets[m].split(cut)[1].any():
                data["metrics"][m]["walk_forward"] = walk_forward(model, h, cut)
        write_manifest(out_dir, data)
    return data


def _check_rows(sets: Mapping[str, Dataset], cut: float, test_start: str) -> None:
    """ModelError naming the markets when the pooled training rows are too few to fit the 1 % tails."""
    counts = {m: int(d.split(cut)[0].sum()) for m, d in sets.items()}
    if sum(counts.values()) < MIN_TRAIN_ROWS:
        raise ModelError(
            f"only {sum(counts.values())} training rows before --test-start {test_start} ({counts}); "
            f"the 1 % quantiles need >= {MIN_TRAIN_ROWS}: give more history (every feature needs 30 "
            f"days, volume_z a volume column) or a later --test-start"
        )


def run_training(
    data_dir: Path, out_dir: Path, *, walk: bool = True, test_start: str = TEST_START
) -> dict[str, Any]:
    """The bundled models: BTC daily and ETH hourly (as daily) from the shared data set, trained on the
    days before `test_start` (TEST_START: the served model; 2020-03-01: make demo's model)."""
    histories = load_training_histories(data_dir)
    return train_served_model(
        histories, training_file_hashes(data_dir), out_dir, test_start=test_start, walk=walk
    )


def format_report(manifest: Manifest | dict[str, Any]) -> str:
    data = manifest.data if isinstance(manifest, Manifest) else manifest
    lines = [f"model {data['model']}  test_start {data['training']['test_start']}  alpha {ALPHA}"]
    for m in data["training"]["rows_by_market"]:
        met = data["metrics"][m]
        for part in ("in_sample", "out_of_sample"):
            for name, cov in met[part].items():
                lines.append(_line(m, part, name, cov))
        for name in ("ensemble", "baseline_gjr"):
            if "walk_forward" in met:
                lines.append(_line(m, "out_of_sample", name, met["walk_forward"][name]))
    return "\n".join(lines)


def _line(market: str, part: str, name: str, cov: dict[str, Any]) -> str:
    if cov["n"] == 0:
        return f"{market:9s} {part:13s} {name:13s} n=    0  (no days)"
    rate = f"long {100 * cov['rate_lo']:.2f}% ({cov['violations_lo']})  short {100 * cov['rate_hi']:.2f}% ({cov['violations_hi']})"
    extra = (
        f"  mean VaR99 {cov['mean_var99']:.4f}"
        if "mean_var99" in cov and math.isfinite(cov["mean_var99"])
        else ""
    )
    return f"{market:9s} {part:13s} {name:13s} n={cov['n']:5d}  {rate}  pinball_lo {cov['pinball_lo']:.5f}{extra}"
