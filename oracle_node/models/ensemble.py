"""RiskModel: what the service calls once per market per round.

forecast(history) / forecast_many(histories) -> Forecast per market. For each market:
1. the baseline (GJR-GARCH-t from the scheduled fit, or EWMA, flagged) - see baseline.py;
2. the ML feature row of the last day; if any feature is NaN or outside the training range (widened
   by the manifest's range_tolerance), the baseline is published, flagged out_of_training_range and
   fallback_baseline. A closed day is evaluated as it is; on a partial day (the node's intraday
   rounds) the ML quantiles are the conditional expectation of the model's output at the day's close,
   anchored on the previous close's output (models.partial_day): smooth in the price instead of the
   trees' steps, continuous across midnight, and centred on the observed move (no lag);
3. otherwise ML and baseline are combined conservatively, field by field (sigma, VaR, ES, both sides):
       published = max(ml, (1 - tolerance) * baseline)
   so the result is never more than `tolerance` below the baseline and follows the ML model whenever
   it is more cautious; it is continuous in both inputs. model_disagreement is flagged when a VaR
   (long or short) differs by more than `tolerance` relative to the larger of the two, and
   agreement = min over the two VaRs of min(ml, base) / max(ml, base).
All settings (EWMA lambda, GJR window and refit schedule, tolerance) come from the manifest, so the
manifest hash (the report's modelHash) pins the whole model. The ML call is batched: forecast_many runs
onnxruntime once for all markets. Deterministic: the same histories give the same floats (the memo of
each market's previous-close row, models.previous_row, only skips repeated work).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from oracle_node.errors import ModelError
from oracle_node.features.build import latest_features
from oracle_node.features.history import MarketHistory
from oracle_node.models.baseline import BaselineForecaster
from oracle_node.models.ewma import EwmaModel
from oracle_node.models.forecast import Flag, Forecast
from oracle_node.models.gjr import GjrGarchT
from oracle_node.models.manifest import ARTIFACTS_DIR, Manifest, load_manifest
from oracle_node.models.partial_day import combine_quantiles, row_set
from oracle_node.models.previous_row import PreviousRowCache
from oracle_node.models.registry import create_ml_model

FIELDS: tuple[str, ...] = ("sigma_1d", "var99", "es99", "var99_short", "es99_short")
VAR_FIELDS: tuple[str, ...] = ("var99", "var99_short")


def combine(ml: Forecast, base: Forecast, tolerance: float) -> Forecast:
    """Conservative field-wise combination (see the module docstring)."""
    values = {f: max(getattr(ml, f), (1.0 - tolerance) * getattr(base, f)) for f in FIELDS}
    disagree = any(_rel_gap(getattr(ml, f), getattr(base, f)) > tolerance for f in VAR_FIELDS)
    agreement = min(_ratio(ml.var99, base.var99), _ratio(ml.var99_short, base.var99_short))
    flags = ml.flags | base.flags | ({Flag.MODEL_DISAGREEMENT} if disagree else set())
    return Forecast(
        f"{ml.model}+{base.model}", **values, nu=base.nu, flags=frozenset(flags), agreement=agreement
    )


def _rel_gap(a: float, b: float) -> float:
    top = max(a, b)
    return 0.0 if top == 0.0 else abs(a - b) / top


def _ratio(a: float, b: float) -> float:
    top = max(a, b)
    return 1.0 if top == 0.0 else min(a, b) / top


class RiskModel:
    """The ensemble of the manifest's ML model and the GJR-GARCH-t / EWMA baseline."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.ml = create_ml_model(manifest)
        base = manifest.data["baseline"]
        self.baseline = BaselineForecaster(
            GjrGarchT(window=int(base["gjr_window"]), min_obs=int(base["gjr_min_obs"])),
            EwmaModel(lam=float(base["ewma_lambda"])),
            refit_every_days=int(base["refit_every_days"]),
            fit_lag_days=int(base["fit_lag_days"]),
        )
        self.tolerance = float(manifest.data["ensemble"]["tolerance"])
        if not 0.0 <= self.tolerance < 1.0:
            raise ModelError(
                f"{manifest.directory}: ensemble.tolerance = {self.tolerance!r} must be in [0, 1)"
            )
        self.previous_rows = PreviousRowCache()  # partial days: the previous close's row, per market

    @classmethod
    def load(cls, directory: Path | str = ARTIFACTS_DIR) -> RiskModel:
        """Verify the manifest and every artifact hash, then load (ModelError on any problem)."""
        return cls(load_manifest(directory))

    @property
    def model_hash(self) -> bytes:
        """32-byte manifest hash: the report's modelHash."""
        return self.manifest.hash

    def prefit(self, histories: Sequence[MarketHistory]) -> int:
        """Scheduled GJR refits for the next anchor, off the round path; returns how many ran."""
        return sum(self.baseline.prefit(h) for h in histories)

    def forecast(self, history: MarketHistory) -> Forecast:
        return self.forecast_many([history])[history.market]

    def forecast_many(self, histories: Sequence[MarketHistory]) -> dict[str, Forecast]:
        """One Forecast per market; a single onnxruntime call covers every market in range."""
        markets = [h.market for h in histories]
        if len(set(markets)) != len(markets):
            raise ModelError(f"forecast_many: duplicate markets in {markets}")
        bases = [self.baseline.forecast(h) for h in histories]
        mls = self._ml_forecasts(histories)
        out: dict[str, Forecast] = {}
        for h, base, ml in zip(histories, bases, mls, strict=True):
            if isinstance(ml, Forecast):
                out[h.market] = combine(ml, base, self.tolerance)
            else:
                out[h.market] = replace(base, flags=base.flags | {ml, Flag.FALLBACK_BASELINE})
        return out

    def _ml_forecasts(self, histories: Sequence[MarketHistory]) -> list[Forecast | str]:
        """Per market the ML Forecast, or the Flag saying why it cannot serve; one onnxruntime call.

        In range or not is decided on the observed row of the history (NaN or outside the widened
        training range: out_of_training_range, as before); a partial day's quantiles then combine the
        rows of models.partial_day."""
        names = (*self.ml.features, self.ml.scale_feature)
        observed = np.array([latest_features(h).last_row(names) for h in histories]).reshape(-1, len(names))
        ok = self.ml.in_range(observed[:, :-1]).tolist()
        sets = [
            row_set(h, names, row, self.previous_rows) if good else None
            for h, row, good in zip(histories, observed, ok, strict=True)
        ]
        live = [s.rows for s in sets if s is not None]
        z = self.ml.predict(np.vstack(live)[:, :-1]) if live else np.empty((0, 2))
        out: list[Forecast | str] = []
        at = 0
        for s in sets:
            if s is None:
                out.append(Flag.OUT_OF_TRAINING_RANGE)
                continue
            zs, scales, at = z[at : at + len(s.rows)], s.rows[:, -1], at + len(s.rows)
            out.append(self._ml_forecast(zs, scales, s.w))
        return out

    def _ml_forecast(self, z: np.ndarray, scales: np.ndarray, w: float) -> Forecast | str:
        """A closed day: the model's own output, bit for bit; a partial day: partial_day's combination
        (every row's quantiles must be valid, as one row's must be)."""
        if len(scales) == 1:
            fc = self.ml.to_forecast(float(z[0, 0]), float(z[0, 1]), float(scales[0]))
        elif np.isfinite(scales).all() and (scales > 0).all() and (z[:, 0] < 0).all() and (z[:, 1] > 0).all():
            q_lo, q_hi = combine_quantiles(scales[:, None] * z, w)
            fc = self.ml.to_forecast(q_lo, q_hi, 1.0)
        else:
            fc = None
        return fc if fc is not None else Flag.ML_INVALID_OUTPUT
