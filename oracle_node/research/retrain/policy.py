"""Retrain policies, walked forward day by day: when does the ML VaR model get a new fit?

Row t of `models.ml_features` forecasts returns[t] from data up to close t. On each day t the walk
first asks the policy whether to retrain; a retrain on day t is `train_bundle(rows, cut=t)` (the
backtest's split: rows before the last `cal_window` known rows fit the model, those rows are its
held-out calibration block; nothing at or after t is read). The forecast for day t is the rolling
conformal one of `research.backtest.ml`: multipliers from the scores of the last `cal_window` rows
before t that the current model was not fitted on, times the model's raw VaR of row t.

* never:    the model trained on the first day is kept to the end;
* schedule: retrain when `every` days have passed since the last fit;
* drift:    retrain when the node's drift verdict (`drift.live.verdict_at`: tail PSI against the two
            years ending a month earlier, coverage of the EWMA-normal VaR) asks for it and at least
            `min_gap` days have passed since the last fit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from oracle_node.drift.live import retrain_due, verdict_at
from oracle_node.drift.monitor import DriftConfig
from oracle_node.errors import ConfigError, ModelError
from oracle_node.models.ml_features import MlRows
from oracle_node.research.training.conformal import calibrate, scores
from oracle_node.research.training.ml_train import CAL_DAYS, train_bundle

POLICIES = ("never", "schedule", "drift")


@dataclass(frozen=True, slots=True)
class Policy:
    name: str  # one of POLICIES
    every: int = 0  # schedule: days between fits
    min_gap: int = 0  # drift: days after a fit before a drift verdict may trigger the next
    drift: DriftConfig = field(default_factory=DriftConfig)

    def __post_init__(self) -> None:
        if self.name not in POLICIES:
            raise ConfigError(f"retrain policy {self.name!r}: choose from {list(POLICIES)}")
        if (self.name == "schedule" and self.every < 1) or self.min_gap < 0:
            raise ConfigError(f"retrain policy {self.label}: every must be >= 1, min_gap >= 0")

    @property
    def label(self) -> str:
        if self.name == "schedule":
            return f"schedule_{self.every}d"
        return f"drift_gap{self.min_gap}d" if self.name == "drift" else "never"

    def due(self, rows: MlRows, t: int, fitted_at: int) -> bool:
        """Retrain on day t? Reads rows before t only (the drift verdict of day t)."""
        if self.name == "schedule":
            return t - fitted_at >= self.every
        if self.name == "drift" and t - fitted_at >= self.min_gap:  # the verdict only when it can count
            return retrain_due(verdict_at(rows, t, self.drift), t - fitted_at, self.min_gap)
        return False


@dataclass(frozen=True)
class PolicyPath:
    """Forecasts of rows first .. first + len(var) - 1 under one policy."""

    policy: Policy
    first: int
    var: np.ndarray
    es: np.ndarray
    returns: np.ndarray
    fit_rows: tuple[int, ...]  # the rows on which a model was fitted (the first day included)
    fit_seconds: float

    @property
    def retrains(self) -> tuple[int, ...]:
        return self.fit_rows[1:]


@dataclass(frozen=True)
class Fitted:
    """A model fitted on day `at`: its raw (uncalibrated) VaR of rows cal_start .. (the rows from
    its held-out calibration block on, which it was not fitted on)."""

    at: int
    cal_start: int
    raw: np.ndarray


Fitter = Callable[[MlRows, int], Fitted]  # (rows, t) -> a model fitted on rows before t only


def bundle_fitter(alpha: float, model: str = "qgbm", cal_window: int = CAL_DAYS) -> Fitter:
    """The backtest's training: `train_bundle(rows, cut=t)` with one model, raw VaR by onnxruntime."""

    def fit(rows: MlRows, t: int) -> Fitted:
        bundle = train_bundle(rows, t, alpha, (), cal_window, models=(model,))
        return Fitted(t, bundle.cal_start, bundle.raw_var(model, rows, bundle.cal_start))

    return fit


def walk(
    rows: MlRows, policy: Policy, first: int, last: int, alpha: float,
    fitter: Fitter | None = None, cal_window: int = CAL_DAYS,
) -> PolicyPath:  # fmt: skip
    """Forecast rows first .. last - 1 (their returns must be known) under `policy`."""
    if not 0 < first < last <= rows.returns.size or not np.isfinite(rows.returns[first:last]).all():
        raise ModelError(f"retrain walk: rows {first}..{last} need known returns within {rows.returns.size}")
    fit = fitter or bundle_fitter(alpha, cal_window=cal_window)
    n = last - first
    var, es = np.empty(n), np.empty(n)
    fits: list[int] = []
    spent, cur = 0.0, None
    for t in range(first, last):
        if cur is None or policy.due(rows, t, cur.at):
            started = time.perf_counter()
            cur = fit(rows, t)
            spent += time.perf_counter() - started
            fits.append(t)
        lo = max(cur.cal_start, t - cal_window)
        cal = calibrate(scores(rows.returns[lo:t], cur.raw[lo - cur.cal_start : t - cur.cal_start]), alpha)
        v = float(cur.raw[t - cur.cal_start])
        if not np.isfinite(v):
            raise ModelError(f"retrain walk {policy.label}: no features for row {t}")
        var[t - first], es[t - first] = cal.multiplier * v, cal.es_multiplier * v
    return PolicyPath(policy, first, var, es, rows.returns[first:last].copy(), tuple(fits), spent)
