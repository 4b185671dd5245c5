"""The LSTM's inputs and its onnxruntime serving path (NumPy and onnxruntime only: no torch here).

Per-day inputs (row j uses data up to the close of day j only, like `ml_rows`):

* shock = r[j-1] / ewma_sigma[j-1]: the latest return in units of its own ex-ante RiskMetrics
  volatility (a standardised residual), clipped to +-SHOCK_CLIP, and its absolute value;
* the HAR terms of `ml_rows`: har_d_rel, har_w_rel, log_ewma_rel (scale-free) and log_har_m (level).

The sequence of row k is the inputs of days k-L+1 .. k (L = `length`); it forecasts returns[k]. The
network outputs a positive scale v_k of z = returns[k] / ewma_sigma[k] (a Student-t scale, see
lstm_model.py); the raw VaR is ewma_sigma[k] v_k and the conformal step supplies the tail multiple,
as for `mlp`. Inference is one onnxruntime run for all rows (`LstmRuntime`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from oracle_node.errors import ModelError
from oracle_node.models.ml_features import ML_FEATURES, MlRows
from oracle_node.models.quantile_onnx import ORT_ERRORS, deterministic_session

LSTM_INPUTS: tuple[str, ...] = ("shock", "abs_shock", "har_d_rel", "har_w_rel", "log_ewma_rel", "log_har_m")
SHOCK_CLIP = 8.0
LOG_CLIP = 4.0  # the network's log-scale is clipped to +-LOG_CLIP (lstm_model.py)
MIN_RAW = 0.05  # floor of the standardised raw VaR, as ml_fit.MIN_RAW
ONNX_INPUT, ONNX_OUTPUT = "X", "scale"


def day_inputs(rows: MlRows) -> np.ndarray:
    """(n, len(LSTM_INPUTS)) float64; row j reads returns[:j] only (NaN where unknown)."""
    n = rows.x.shape[0]
    shock = np.full(n, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        shock[1:] = np.clip(rows.returns[:-1] / rows.scale[:-1], -SHOCK_CLIP, SHOCK_CLIP)
    har = [rows.x[:, ML_FEATURES.index(f)] for f in LSTM_INPUTS[2:]]
    return np.column_stack([shock, np.abs(shock), *har])


def sequences(rows: MlRows, length: int, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sequences (m, length, F) float32 of rows start.. (zeros where not ok) and their ok mask."""
    u = day_inputs(rows)
    n, f = u.shape
    if length < 1 or n < length:
        raise ModelError(f"lstm: {n} rows cannot make sequences of length {length}")
    out = np.zeros((n - start, length, f), dtype=np.float32)
    ok = np.zeros(n - start, dtype=bool)
    win = sliding_window_view(u, (length, f))[:, 0]  # window i = rows i .. i + length - 1
    first = max(start, length - 1)
    sel = win[first - length + 1 :]
    good = np.isfinite(sel).all(axis=(1, 2)) & rows.ok[first:]
    out[first - start :][good] = sel[good]
    ok[first - start :] = good
    return out, ok


class LstmRuntime:
    """The exported LSTM behind a deterministic onnxruntime session; predict() is one run()."""

    def __init__(self, onnx_bytes: bytes, length: int, where: str = "lstm") -> None:
        self.length, self.where = length, where
        self.session = deterministic_session(onnx_bytes, where)
        names = ([i.name for i in self.session.get_inputs()], [o.name for o in self.session.get_outputs()])
        if names != ([ONNX_INPUT], [ONNX_OUTPUT]):
            raise ModelError(
                f"{where}: ONNX inputs/outputs {names}, expected [{ONNX_INPUT}] / [{ONNX_OUTPUT}]"
            )

    def predict(self, seqs: np.ndarray) -> np.ndarray:
        """Standardised scale v (n,) float64 for sequences (n, length, F)."""
        x = np.ascontiguousarray(seqs, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (self.length, len(LSTM_INPUTS)):
            raise ModelError(
                f"{self.where}: input shape {x.shape}, expected (n, {self.length}, {len(LSTM_INPUTS)})"
            )
        try:
            out = self.session.run(None, {ONNX_INPUT: x})[0]
        except ORT_ERRORS as exc:
            raise ModelError(f"{self.where}: onnxruntime failed on {x.shape[0]} rows: {exc}") from None
        return np.asarray(out, dtype=np.float64).reshape(-1)

    def raw(self, seqs: np.ndarray) -> np.ndarray:
        return np.maximum(self.predict(seqs), MIN_RAW)


@dataclass(frozen=True)
class LstmModel:
    """One exported LSTM (the `models` entry of an LstmBundle)."""

    name: str
    onnx: bytes
    runtime: LstmRuntime
    weights: dict[str, np.ndarray]  # torch state_dict as float32 arrays (the NumPy reference reads it)
    params: dict[str, Any]  # the selected hyper-parameters
    metrics: dict[str, Any]  # selection, training and ONNX-vs-torch figures


@dataclass(frozen=True)
class LstmBundle:
    """The LSTM fitted on one split; the same fields and raw_var as ml_train.MlBundle, so the
    walk-forward serves it with MlFamily's rolling conformal calibration."""

    market: str
    alpha: float
    cut: int  # first test row
    cal_start: int  # first calibration row
    fit_rows: int
    models: dict[str, LstmModel]
    split: dict[str, Any] = field(default_factory=dict)

    def raw_var(self, name: str, rows: MlRows, start: int) -> np.ndarray:
        """Uncalibrated VaR (log-return loss) of rows[start:], one onnxruntime run; NaN where not ok."""
        m = self.models[name]
        seqs, ok = sequences(rows, m.runtime.length, start)
        out = np.full(ok.size, np.nan)
        idx = np.flatnonzero(ok)
        out[idx] = rows.scale[start:][idx] * m.runtime.raw(seqs[idx])
        return out
