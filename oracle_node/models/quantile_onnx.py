"""The ML model at inference: a quantile regressor exported to ONNX, served by onnxruntime.

It predicts the alpha and 1 - alpha quantiles of the *standardised* next-day log return
z = r[t+1] / har_m[t] (har_m: 30-day RMS of daily log returns, the manifest's target.scale_feature)
from the manifest's feature row, so one model serves markets of any volatility level. Log-return
quantiles are q = har_m * z. ES follows the documented rule of the manifest's `tails` section:
ES = q * ratio, with ratio = ES / VaR of a standardised Student-t whose nu was fitted (maximum
likelihood) to the training targets. sigma_1d is the volatility a standardised Student-t(nu) needs to
produce the predicted interval: (q_hi - q_lo) / (2 |q_t(alpha, nu)|).

onnxruntime runs single-threaded and sequential (intra_op_num_threads = inter_op_num_threads = 1,
ORT_SEQUENTIAL, CPU provider) so every node gets the same floats; one run() serves many markets.
"""

from __future__ import annotations

import math

import numpy as np
import onnxruntime as ort

from oracle_node.errors import ModelError
from oracle_node.models.forecast import Flag, Forecast
from oracle_node.models.manifest import Manifest
from oracle_node.models.tails import loss_fractions, std_t_quantile

ORT_ERRORS: tuple[type[BaseException], ...] = tuple(
    getattr(ort.capi.onnxruntime_pybind11_state, n)
    for n in ("Fail", "InvalidArgument", "InvalidProtobuf", "NoSuchFile", "RuntimeException", "InvalidGraph")
    if hasattr(ort.capi.onnxruntime_pybind11_state, n)
)


def deterministic_session(model_bytes: bytes, where: str) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(model_bytes, sess_options=opts, providers=["CPUExecutionProvider"])
    except ORT_ERRORS as exc:
        raise ModelError(f"model artifact {where} is not a loadable ONNX model: {exc}") from None


class OnnxQuantileModel:
    """Standardised-return quantile model behind a verified manifest."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.name = manifest.model
        onnx = manifest.data["onnx"]
        path = manifest.artifact_path(onnx["file"])
        self.session = deterministic_session(path.read_bytes(), str(path))
        self.input_name = str(onnx["input"])
        self.output_names = [str(n) for n in onnx["outputs"]]
        self._check_io(path)
        self.features = manifest.features
        self.scale_feature = str(manifest.data["target"]["scale_feature"])
        self.low, self.high = manifest.feature_bounds()
        tails = manifest.data["tails"]
        self.alpha = float(manifest.data["quantiles"][0])
        self.nu = float(tails["nu"])
        self.ratio_lo, self.ratio_hi = float(tails["es_ratio_lo"]), float(tails["es_ratio_hi"])
        self._sigma_div = 2.0 * abs(std_t_quantile(self.alpha, self.nu))

    def _check_io(self, path: object) -> None:
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        if inputs != [self.input_name] or outputs != self.output_names:
            raise ModelError(
                f"model artifact {path}: inputs {inputs} / outputs {outputs} do not match the manifest "
                f"({[self.input_name]} / {self.output_names})"
            )

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Standardised quantiles (n, 2) [z_lo, z_hi] for feature rows (n, len(features)); one run()."""
        x = np.ascontiguousarray(rows, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != len(self.features):
            raise ModelError(
                f"{self.name}: feature rows must have shape (n, {len(self.features)}), got {x.shape}"
            )
        try:
            out = self.session.run(self.output_names, {self.input_name: x})
        except ORT_ERRORS as exc:
            raise ModelError(f"{self.name}: onnxruntime failed on {x.shape[0]} rows: {exc}") from None
        return np.column_stack([np.asarray(o, dtype=np.float64).reshape(-1) for o in out])

    def in_range(self, rows: np.ndarray) -> np.ndarray:
        """True per row when every feature is finite and inside the (widened) training range."""
        ok = np.isfinite(rows) & (rows >= self.low) & (rows <= self.high)
        return ok.all(axis=1)

    def to_forecast(self, z_lo: float, z_hi: float, scale: float) -> Forecast | None:
        """Forecast from standardised quantiles; None when they are crossed or on the wrong side of 0."""
        if not (z_lo < 0.0 < z_hi and math.isfinite(scale) and scale > 0.0):
            return None
        q_lo, q_hi = scale * z_lo, scale * z_hi
        var_l, es_l, var_s, es_s = loss_fractions(q_lo, q_lo * self.ratio_lo, q_hi, q_hi * self.ratio_hi)
        sigma = (q_hi - q_lo) / self._sigma_div
        return Forecast(self.name, sigma, var_l, es_l, var_s, es_s, nu=self.nu)

    def forecast_rows(self, rows: np.ndarray, scales: np.ndarray) -> list[Forecast | str]:
        """Per row a Forecast, or the Flag saying why the ML model cannot serve it."""
        out: list[Forecast | str] = [Flag.OUT_OF_TRAINING_RANGE] * rows.shape[0]
        ok = np.flatnonzero(self.in_range(rows))
        if ok.size:
            z = self.predict(rows[ok])
            for k, i in enumerate(ok.tolist()):
                fc = self.to_forecast(float(z[k, 0]), float(z[k, 1]), float(scales[i]))
                out[i] = fc if fc is not None else Flag.ML_INVALID_OUTPUT
        return out
