"""Fit the two ML models on standardised next-day returns and export each to ONNX.

* `qgbm`: scikit-learn GradientBoostingRegressor(loss="quantile", alpha) on ML_FEATURES; it predicts
  the alpha-quantile z_q of z = r / ewma_sigma, so the raw VaR is v = -ewma_sigma z_q.
* `mlp`: a small MLP (StandardScaler -> 16 -> 8 ReLU units, L2 1e-3, early stopping) predicting the
  conditional mean absolute standardised return E|z|; the raw VaR is v = ewma_sigma E|z| (a volatility
  scale; the conformal step supplies the tail multiple). scikit-learn, not torch: torch is not
  installed here and the CPU wheel is an optional extra; skl2onnx exports both models.

Hyper-parameters are fixed a priori (shallow trees, large leaves; a tiny network), never tuned on the
test period. Inference is onnxruntime only (`OnnxRegressor`), batched: one run() for all rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from skl2onnx import convert_sklearn  # training only: inference (OnnxRegressor) needs onnxruntime alone
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from oracle_node.errors import ModelError
from oracle_node.models.quantile_onnx import ORT_ERRORS, deterministic_session
from oracle_node.research.training.onnx_export import TARGET_OPSET

ML_MODELS: tuple[str, ...] = ("qgbm", "mlp")
GBM_PARAMS: dict[str, Any] = {
    "n_estimators": 200,
    "max_depth": 2,
    "learning_rate": 0.05,
    "min_samples_leaf": 50,
    "subsample": 0.8,
    "random_state": 0,
}
MLP_PARAMS: dict[str, Any] = {
    "hidden_layer_sizes": (16, 8),
    "alpha": 1e-3,
    "learning_rate_init": 1e-3,
    "max_iter": 400,
    "early_stopping": True,
    "validation_fraction": 0.2,
    "n_iter_no_change": 20,
    "random_state": 0,
}
MIN_RAW = 0.05  # floor of the standardised raw VaR (crossed or degenerate predictions)
ONNX_RTOL = 1e-4


def fit_model(name: str, x: np.ndarray, z: np.ndarray, alpha: float) -> Any:
    x32 = np.asarray(x, dtype=np.float32)
    if name == "qgbm":
        return GradientBoostingRegressor(loss="quantile", alpha=alpha, **GBM_PARAMS).fit(x32, z)
    if name == "mlp":
        return make_pipeline(StandardScaler(), MLPRegressor(**MLP_PARAMS)).fit(x32, np.abs(z))
    raise ModelError(f"unknown ML model {name!r}; choose from {list(ML_MODELS)}")


def standard_raw(name: str, prediction: np.ndarray) -> np.ndarray:
    """Model output -> standardised raw VaR (positive, in ewma_sigma units)."""
    p = np.asarray(prediction, dtype=np.float64).reshape(-1)
    return np.maximum(-p if name == "qgbm" else p, MIN_RAW)


def to_onnx(model: Any, n_features: int) -> bytes:
    proto = convert_sklearn(model, initial_types=[("X", FloatTensorType([None, n_features]))],
                            target_opset=TARGET_OPSET)  # fmt: skip
    return proto.SerializeToString()


class OnnxRegressor:
    """One exported model behind a deterministic onnxruntime session; predict() is one run()."""

    def __init__(self, name: str, onnx_bytes: bytes) -> None:
        self.name = name
        self.session = deterministic_session(onnx_bytes, name)
        self.input = self.session.get_inputs()[0].name

    def predict(self, x: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(x, dtype=np.float32)
        try:
            out = self.session.run(None, {self.input: rows})[0]
        except ORT_ERRORS as exc:
            raise ModelError(f"{self.name}: onnxruntime failed on {rows.shape[0]} rows: {exc}") from None
        return np.asarray(out, dtype=np.float64).reshape(-1)

    def raw(self, x: np.ndarray) -> np.ndarray:
        return standard_raw(self.name, self.predict(x))


@dataclass(frozen=True)
class FittedModel:
    name: str
    alpha: float
    onnx: bytes
    runtime: OnnxRegressor
    onnx_vs_sklearn_max_rel: float


def fit_and_export(name: str, x: np.ndarray, z: np.ndarray, alpha: float) -> FittedModel:
    """Fit, export, and check onnxruntime against scikit-learn on the training rows."""
    model = fit_model(name, x, z, alpha)
    blob = to_onnx(model, x.shape[1])
    runtime = OnnxRegressor(name, blob)
    got, ref = runtime.predict(x), np.asarray(model.predict(x.astype(np.float32)), dtype=np.float64)
    rel = float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-6)))
    if not np.allclose(got, ref, rtol=ONNX_RTOL, atol=1e-6):
        raise ModelError(f"{name}: ONNX export differs from scikit-learn (max relative difference {rel:.3g})")
    return FittedModel(name, alpha, blob, runtime, rel)
