"""All features of one market's daily history, as a FeatureFrame.

Definitions (day t uses data up to and including the close of day t; returns are log returns):
- ret_1d = r[t]; ret_7d = r[t-6] + ... + r[t].
- har_d = |r[t]| (daily RV from the close-to-close return), har_w = RMS of the last 7 returns,
  har_m = RMS of the last 30 returns: the daily, weekly and monthly components of the HAR model
  (Corsi 2009) in daily-volatility units. rv_1d, rv_7d, rv_30d are aliases used by the RV windows.
- rv_intraday_1d: intraday realised volatility of day t (when the history has it), and
  rv_intraday_7d its 7-day RMS.
- Scale-free forms for pooling markets with different volatility: har_d_rel = har_d / har_m,
  har_w_rel = har_w / har_m, log_har_m = log(har_m), ret_1d_rel = r[t] / har_m,
  ret_7d_rel = ret_7d / (har_m * sqrt(7)).
- funding_level (mean funding per 8 h on day t), funding_chg_1d / funding_chg_7d (its change).
- log_volume, volume_z (z-score of log volume against the last 30 days, day t included);
  log_depth, depth_z likewise for +-1 % depth.
Features a history cannot supply are NaN (a model that needs them then falls back, flagged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oracle_node.errors import DataError
from oracle_node.features.frame import FeatureFrame
from oracle_node.features.history import OPTIONAL_COLUMNS, MarketHistory
from oracle_node.features.rolling import (
    lagged_diff,
    last_or_all,
    log_returns,
    ratio,
    rolling_rms,
    rolling_sum,
    rolling_zscore,
    safe_log,
)

WEEK = 7
MONTH = 30
Z_WINDOW = 30
# Days of history the last row's features need (30 returns need 31 closes); a tail this long gives
# the same last row as the full history.
LOOKBACK_DAYS = MONTH + 1

FEATURE_NAMES: tuple[str, ...] = (
    "ret_1d",
    "ret_7d",
    "har_d",
    "har_w",
    "har_m",
    "rv_intraday_1d",
    "rv_intraday_7d",
    "har_d_rel",
    "har_w_rel",
    "log_har_m",
    "ret_1d_rel",
    "ret_7d_rel",
    "funding_level",
    "funding_chg_1d",
    "funding_chg_7d",
    "log_volume",
    "volume_z",
    "log_depth",
    "depth_z",
)
OPTIONAL_FEATURES: tuple[str, ...] = FEATURE_NAMES[5:7] + FEATURE_NAMES[12:]


@dataclass(frozen=True, slots=True)
class _Tail:
    """An already-validated slice of a MarketHistory (skips re-validation on the hot path)."""

    market: str
    ts: np.ndarray
    close: np.ndarray
    volume: np.ndarray | None
    funding: np.ndarray | None
    depth: np.ndarray | None
    rv_intraday: np.ndarray | None
    open: np.ndarray | None
    high: np.ndarray | None
    low: np.ndarray | None
    bv_intraday: np.ndarray | None

    def __len__(self) -> int:
        return int(self.ts.size)


def _returns_block(r: np.ndarray, last: bool) -> dict[str, np.ndarray]:
    har_m = rolling_rms(r, MONTH, last)
    har_w = rolling_rms(r, WEEK, last)
    ret_7d = rolling_sum(r, WEEK, last)
    return har_terms(last_or_all(r, last), ret_7d, har_w, har_m)


def har_terms(
    r_t: np.ndarray, ret_7d: np.ndarray, har_w: np.ndarray, har_m: np.ndarray
) -> dict[str, np.ndarray]:
    """The return and HAR features from the day's return, the 7-day sum and the weekly and monthly RMS
    (shared with models.partial_day, which evaluates them for many candidate closes at once)."""
    har_d = np.abs(r_t)
    return {
        "ret_1d": r_t,
        "ret_7d": ret_7d,
        "har_d": har_d,
        "har_w": har_w,
        "har_m": har_m,
        "har_d_rel": ratio(har_d, har_m),
        "har_w_rel": ratio(har_w, har_m),
        "log_har_m": safe_log(har_m),
        "ret_1d_rel": ratio(r_t, har_m),
        "ret_7d_rel": ratio(ret_7d, har_m * np.sqrt(WEEK)),
    }


def _optional_block(h: MarketHistory, last: bool) -> dict[str, np.ndarray]:
    nan = np.full(1 if last else len(h), np.nan)
    out = dict.fromkeys(OPTIONAL_FEATURES, nan)
    if h.rv_intraday is not None:
        out["rv_intraday_1d"] = last_or_all(h.rv_intraday, last)
        out["rv_intraday_7d"] = rolling_rms(h.rv_intraday, WEEK, last)
    if h.funding is not None:
        out["funding_level"] = last_or_all(h.funding, last)
        out["funding_chg_1d"] = lagged_diff(h.funding, 1, last)
        out["funding_chg_7d"] = lagged_diff(h.funding, WEEK, last)
    if h.volume is not None:
        logv = safe_log(h.volume)
        out["log_volume"] = last_or_all(logv, last)
        out["volume_z"] = rolling_zscore(logv, Z_WINDOW, last)
    if h.depth is not None:
        logd = safe_log(h.depth)
        out["log_depth"] = last_or_all(logd, last)
        out["depth_z"] = rolling_zscore(logd, Z_WINDOW, last)
    return out


def _frame(history: MarketHistory, last: bool) -> FeatureFrame:
    cols = _returns_block(log_returns(history.close), last) | _optional_block(history, last)
    values = np.empty((1 if last else len(history), len(FEATURE_NAMES)))
    for j, name in enumerate(FEATURE_NAMES):
        values[:, j] = cols[name]
    return FeatureFrame(history.market, last_or_all(history.ts, last), FEATURE_NAMES, values)


def build_features(history: MarketHistory) -> FeatureFrame:
    """Every feature in FEATURE_NAMES for every day of the history."""
    return _frame(history, last=False)


def latest_features(history: MarketHistory) -> FeatureFrame:
    """Features of the last day only, from the last LOOKBACK_DAYS days (equal, bit for bit, to the
    last row of build_features on the whole history)."""
    if len(history) == 0:
        raise DataError(f"history[{history.market}]", None, "ts", "length 0", "no data")
    n = LOOKBACK_DAYS
    tail = {name: getattr(history, name) for name in ("ts", "close", *OPTIONAL_COLUMNS)}
    tail = {name: (None if col is None else col[-n:]) for name, col in tail.items()}
    return _frame(_Tail(history.market, **tail), last=True)  # type: ignore[arg-type]
