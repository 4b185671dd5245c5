"""Offline training of the served ML quantile model: the fit, the tails and the manifest contents.
Both `oracle-node train` and scripts/train_models.py (the bundled model) run it through
train_run.train_served_model, which writes the one manifest schema the node loads.

Split (documented, no look-ahead): a row is (features of day t, return of day t+1). Training rows are
those whose target day closes on or before the test start (00:00 UTC; the bundled model's TEST_START
is 2021-01-01, i.e. returns up to and including 2020-12-31); everything after is out of sample (for
the bundled model: BTC 2021-01-01 .. 2026-02-13 and ETH 2021-01-01 .. 2021-06-09, where the ETH file
ends). The rows of every market given are pooled.

Model: scikit-learn GradientBoostingRegressor(loss="quantile") for alpha = 1 % and 99 % of the
standardised return z = r[t+1] / har_m[t], on ML_FEATURES (scale-free HAR and volume features).
Hyper-parameters are fixed a priori (shallow trees, large leaves: the 1 % tail has ~35 training
points), not tuned on the test period.
"""

from __future__ import annotations

import datetime as dt
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from scipy import stats
from sklearn.ensemble import GradientBoostingRegressor

from oracle_node.errors import ConfigError
from oracle_node.features.build import build_features
from oracle_node.features.history import MarketHistory
from oracle_node.features.rolling import log_returns
from oracle_node.models.manifest import ARTIFACTS_DIR
from oracle_node.models.manifest_schema import SCHEMA_VERSION
from oracle_node.models.tails import std_t_es_ratio
from oracle_node.research.training.onnx_export import INPUT, OUTPUTS, TARGET_OPSET

MODEL_NAME = "qgbm_har_v1"
ONNX_FILE = f"{MODEL_NAME}.onnx"
TEST_START = "2021-01-01"
ALPHA = 0.01
ML_FEATURES: tuple[str, ...] = ("har_d_rel", "har_w_rel", "log_har_m", "ret_1d_rel", "ret_7d_rel", "volume_z")
SCALE_FEATURE = "har_m"
GBM_PARAMS: dict[str, Any] = {
    "n_estimators": 150,
    "max_depth": 2,
    "learning_rate": 0.05,
    "min_samples_leaf": 60,
    "subsample": 1.0,
    "random_state": 0,
}
RANGE_TOLERANCE = 0.10
MIN_TRAIN_ROWS = 500  # pooled rows before the test start: ~5 beyond each 1 % quantile
BASELINE = {
    "ewma_lambda": 0.94,
    "gjr_window": 1000,
    "gjr_min_obs": 250,
    "refit_every_days": 7,
    "fit_lag_days": 1,
}
ENSEMBLE = {"tolerance": 0.3}


def split_ts(date: str = TEST_START) -> float:
    """00:00 UTC of the test start day; ConfigError naming --test-start when it is not YYYY-MM-DD."""
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        raise ConfigError(f"--test-start {date!r} is not an ISO date (YYYY-MM-DD)") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


class Dataset:
    """Rows (features of day t) -> standardised next-day return, for one market."""

    def __init__(self, history: MarketHistory, features: tuple[str, ...] = ML_FEATURES) -> None:
        frame = build_features(history)
        x = frame.select(features)[:-1]
        scale = frame.column(SCALE_FEATURE)[:-1]
        r_next = log_returns(history.close)[1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            z = r_next / scale
        ok = np.isfinite(x).all(axis=1) & np.isfinite(z) & (scale > 0)
        self.market = history.market
        self.x, self.scale, self.z = x[ok], scale[ok], z[ok]
        self.r_next = r_next[ok]
        self.target_ts = history.ts[1:][ok]

    def split(self, cut_ts: float) -> tuple[np.ndarray, np.ndarray]:
        """Boolean masks (train, test): target day closing at or before cut_ts is training."""
        train = self.target_ts <= cut_ts
        return train, ~train


def fit_quantile_pair(x: np.ndarray, z: np.ndarray, alpha: float = ALPHA) -> tuple[Any, Any]:
    """(model for alpha, model for 1 - alpha) on float32 features, as ONNX will see them."""
    x32 = x.astype(np.float32)
    lo = GradientBoostingRegressor(loss="quantile", alpha=alpha, **GBM_PARAMS).fit(x32, z)
    hi = GradientBoostingRegressor(loss="quantile", alpha=1.0 - alpha, **GBM_PARAMS).fit(x32, z)
    return lo, hi


def fit_tails(z: np.ndarray, alpha: float = ALPHA) -> dict[str, float]:
    """Student-t nu fitted by ML to the training targets, and the ES/VaR ratios it implies."""
    nu, _, _ = stats.t.fit(z, floc=float(np.mean(z)))
    nu = float(max(nu, 2.5))
    q_lo, q_hi = np.quantile(z, [alpha, 1.0 - alpha])
    return {
        "nu": nu,
        "es_ratio_lo": std_t_es_ratio(alpha, nu),
        "es_ratio_hi": std_t_es_ratio(alpha, nu),
        "hist_es_ratio_lo": float(z[z <= q_lo].mean() / q_lo),
        "hist_es_ratio_hi": float(z[z >= q_hi].mean() / q_hi),
    }


def pinball(y: np.ndarray, q: np.ndarray, alpha: float) -> float:
    d = y - q
    return float(np.mean(np.maximum(alpha * d, (alpha - 1.0) * d)))


def coverage(r: np.ndarray, q_lo: np.ndarray, q_hi: np.ndarray, alpha: float = ALPHA) -> dict[str, Any]:
    """Violation rates of the long (r < q_lo) and short (r > q_hi) 1-day quantiles, and pinball loss
    (rates and losses None when there is no row, e.g. no day after the test start)."""
    if r.size == 0:
        return {"n": 0, **dict.fromkeys(("rate_lo", "rate_hi", "pinball_lo", "pinball_hi")),
                "violations_lo": 0, "violations_hi": 0}  # fmt: skip
    return {
        "n": int(r.size),
        "rate_lo": float(np.mean(r < q_lo)),
        "rate_hi": float(np.mean(r > q_hi)),
        "violations_lo": int(np.sum(r < q_lo)),
        "violations_hi": int(np.sum(r > q_hi)),
        "pinball_lo": pinball(r, q_lo, alpha),
        "pinball_hi": pinball(r, q_hi, 1.0 - alpha),
    }


def feature_range(x: np.ndarray, features: tuple[str, ...] = ML_FEATURES) -> dict[str, list[float]]:
    return {n: [float(x[:, j].min()), float(x[:, j].max())] for j, n in enumerate(features)}


def build_manifest(
    onnx_sha: str,
    x_train: np.ndarray,
    tails: dict[str, float],
    training: dict[str, Any],
    metrics: dict[str, Any],
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "model": MODEL_NAME,
        "kind": "onnx_quantile",
        "artifacts": {ONNX_FILE: onnx_sha},
        "onnx": {"file": ONNX_FILE, "input": INPUT, "outputs": list(OUTPUTS), "opset": TARGET_OPSET},
        "features": list(ML_FEATURES),
        "feature_range": feature_range(x_train),
        "range_tolerance": RANGE_TOLERANCE,
        "quantiles": [ALPHA, 1.0 - ALPHA],
        "target": {
            "kind": "standardised_log_return",
            "definition": "z = r[t+1] / har_m[t]; log-return quantile = har_m[t] * z_q",
            "scale_feature": SCALE_FEATURE,
            "horizon_days": 1,
        },
        "tails": {**tails, "es_rule": "ES = q * ES/VaR ratio of the standardised Student-t(nu) at alpha"},
        "baseline": BASELINE,
        "ensemble": ENSEMBLE,
        "training": {
            **training,
            "sklearn": sklearn.__version__,
            "params": GBM_PARAMS,
            "platform": build_platform(),
        },
        "metrics": metrics,
    }


PLATFORM_PACKAGES: tuple[str, ...] = ("numpy", "scipy", "scikit-learn", "skl2onnx", "onnx", "onnxruntime")


def build_platform() -> dict[str, Any]:
    """Where the model was built: an ONNX file rebuilds byte for byte only with the same floating
    point (the bundled qgbm_har_v1, built before this was recorded, no longer does on a newer
    machine); the node does not read it, it is provenance."""
    versions = {}
    for name in PLATFORM_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"python": platform.python_version(), "system": platform.system(), "machine": platform.machine(),
            "libc": "-".join(platform.libc_ver()) or None, "packages": versions}  # fmt: skip


def artifact_dir_default() -> Path:
    """The bundled model's folder (oracle_node/models/artifacts), which the node serves."""
    return ARTIFACTS_DIR
