"""Features from outside the market's own prices (issue 12, item 1): implied vol and the variance
risk premium, funding, liquidation intensity and the other market (BTC for ETH, ETH for BTC).

Every value of day t is known at day t's close (ts[t]); a series not covering day t gives NaN,
never 0 (unknown is not calm):

- dvol: Deribit DVOL (30-day implied vol, annualised fraction), the latest point stamped at or
  before the START of day t (ts[t] - 1 day): a daily DVOL point stamped 00:00 of day D is known by
  D's close whether it is a snapshot at 00:00 or a daily bar of day D. Stale after 3 days: NaN.
- vrp: dvol^2 - 365 * har_m^2, implied minus 30-day realised variance (annualised); iv_rv_ratio:
  dvol / (har_m sqrt 365).
- funding_level_bp, funding_chg_1d_bp, funding_chg_7d_bp, funding_z_30d: mean perpetual funding
  per 8 h on day t (bp), its 1- and 7-day changes and its 30-day z-score; from the history's funding
  column, or from the 8-hourly series' settlements in (ts[t] - 1 day, ts[t]] where that is missing.
- liq_log_1d, liq_log_7d, liq_z_30d: log(1 + number of Aave liquidations) in (ts[t] - 1 day, ts[t]],
  the same over 7 days, and the 30-day z-score of liq_log_1d; NaN outside the events file's span.
- xa_corr_30d: correlation of the two markets' daily log returns over days t-29..t; xa_ret_rel and
  xa_absret_rel: the other market's return of day t (signed and absolute) over its own har_m;
  xa_har_w_rel: its har_w / har_m; xa_vol_ratio: har_m / the other's har_m. Days are matched on
  the close timestamp (both markets' closes at 00:00 UTC).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oracle_node.features.history import SECONDS_PER_DAY, MarketHistory
from oracle_node.features.rolling import (
    lagged_diff,
    log_returns,
    ratio,
    rolling_mean,
    rolling_rms,
    rolling_sum,
    rolling_zscore,
)

WEEK, MONTH = 7, 30
DVOL_MAX_AGE_DAYS = 3.0
BP = 1e4

EXTERNAL_FEATURES: tuple[str, ...] = (
    "dvol",
    "vrp",
    "iv_rv_ratio",
    "funding_level_bp",
    "funding_chg_1d_bp",
    "funding_chg_7d_bp",
    "funding_z_30d",
    "liq_log_1d",
    "liq_log_7d",
    "liq_z_30d",
    "xa_corr_30d",
    "xa_ret_rel",
    "xa_absret_rel",
    "xa_har_w_rel",
    "xa_vol_ratio",
)


@dataclass(frozen=True, eq=False)
class Stamped:
    """Values stamped in unix seconds (ascending): a DVOL or funding series, or events (values = 1)."""

    ts: np.ndarray
    values: np.ndarray

    @classmethod
    def of(cls, ts: object, values: object | None = None) -> Stamped:
        t = np.asarray(ts, dtype=np.float64)
        v = np.ones(t.size) if values is None else np.asarray(values, dtype=np.float64)
        order = np.argsort(t, kind="stable")
        return cls(t[order], v[order])


@dataclass(frozen=True, eq=False)
class ExternalInputs:
    """What the external features read; any may be None (its features are then NaN).
    liquidations_span: (first, last) unix seconds the events file covers."""

    dvol: Stamped | None = None
    funding_8h: Stamped | None = None
    liquidations: Stamped | None = None
    liquidations_span: tuple[float, float] | None = None
    other: MarketHistory | None = None


def latest_at(close_ts: np.ndarray, s: Stamped, lag: float, max_age: float) -> np.ndarray:
    """Per day: the last value stamped at or before close_ts - lag, NaN if none or older than max_age."""
    cut = close_ts - lag
    i = np.searchsorted(s.ts, cut, side="right") - 1
    out = np.full(close_ts.size, np.nan)
    ok = i >= 0
    out[ok] = s.values[i[ok]]
    out[ok & (cut - s.ts[np.maximum(i, 0)] > max_age)] = np.nan
    return out


def day_sums(close_ts: np.ndarray, s: Stamped) -> tuple[np.ndarray, np.ndarray]:
    """(sum, count) of values stamped in (close_ts - 1 day, close_ts] per day."""
    hi = np.searchsorted(s.ts, close_ts, side="right")
    lo = np.searchsorted(s.ts, close_ts - SECONDS_PER_DAY, side="right")
    c = np.r_[0.0, np.cumsum(s.values)]
    return c[hi] - c[lo], (hi - lo).astype(np.float64)


def _implied(h: MarketHistory, ext: ExternalInputs, har_m: np.ndarray) -> dict[str, np.ndarray]:
    n = len(h)
    if ext.dvol is None:
        return {k: np.full(n, np.nan) for k in ("dvol", "vrp", "iv_rv_ratio")}
    dvol = latest_at(h.ts, ext.dvol, SECONDS_PER_DAY, DVOL_MAX_AGE_DAYS * SECONDS_PER_DAY)
    return {
        "dvol": dvol,
        "vrp": dvol * dvol - 365.0 * har_m * har_m,
        "iv_rv_ratio": ratio(dvol, har_m * np.sqrt(365.0)),
    }


def _funding(h: MarketHistory, ext: ExternalInputs) -> dict[str, np.ndarray]:
    f = np.full(len(h), np.nan) if h.funding is None else h.funding.copy()
    if ext.funding_8h is not None:
        total, count = day_sums(h.ts, ext.funding_8h)
        from_8h = np.where(count > 0, total / np.maximum(count, 1.0), np.nan)
        f = np.where(np.isfinite(f), f, from_8h)
    return {
        "funding_level_bp": f * BP,
        "funding_chg_1d_bp": lagged_diff(f, 1) * BP,
        "funding_chg_7d_bp": lagged_diff(f, WEEK) * BP,
        "funding_z_30d": rolling_zscore(f, MONTH),
    }


def _liquidations(h: MarketHistory, ext: ExternalInputs) -> dict[str, np.ndarray]:
    n = len(h)
    if ext.liquidations is None or ext.liquidations_span is None:
        return {k: np.full(n, np.nan) for k in ("liq_log_1d", "liq_log_7d", "liq_z_30d")}
    _, count = day_sums(h.ts, ext.liquidations)
    first, last = ext.liquidations_span
    covered = (h.ts - SECONDS_PER_DAY >= first - SECONDS_PER_DAY) & (h.ts <= last + SECONDS_PER_DAY)
    count = np.where(covered, count, np.nan)
    daily = np.log1p(count)
    return {
        "liq_log_1d": daily,
        "liq_log_7d": np.log1p(rolling_sum(count, WEEK)),
        "liq_z_30d": rolling_zscore(daily, MONTH),
    }


def _cross(h: MarketHistory, ext: ExternalInputs, r: np.ndarray, har_m: np.ndarray) -> dict[str, np.ndarray]:
    n = len(h)
    names = ("xa_corr_30d", "xa_ret_rel", "xa_absret_rel", "xa_har_w_rel", "xa_vol_ratio")
    if ext.other is None:
        return {k: np.full(n, np.nan) for k in names}
    o = ext.other
    ro = log_returns(o.close)
    har_m_o, har_w_o = rolling_rms(ro, MONTH), rolling_rms(ro, WEEK)
    idx = np.searchsorted(o.ts, h.ts)
    match = (idx < o.ts.size) & (o.ts[np.minimum(idx, o.ts.size - 1)] == h.ts)

    def aligned(x: np.ndarray) -> np.ndarray:
        out = np.full(n, np.nan)
        out[match] = x[idx[match]]
        return out

    # the other market's return on the same calendar day as ours (NaN where it has no close)
    ry = aligned(ro)
    mx, my = rolling_mean(r, MONTH), rolling_mean(ry, MONTH)
    cov = rolling_mean(r * ry, MONTH) - mx * my
    sx = np.sqrt(np.maximum(rolling_mean(r * r, MONTH) - mx * mx, 0.0))
    sy = np.sqrt(np.maximum(rolling_mean(ry * ry, MONTH) - my * my, 0.0))
    hm_o = aligned(har_m_o)
    return {
        "xa_corr_30d": ratio(cov, sx * sy),
        "xa_ret_rel": ratio(ry, hm_o),
        "xa_absret_rel": ratio(np.abs(ry), hm_o),
        "xa_har_w_rel": ratio(aligned(har_w_o), hm_o),
        "xa_vol_ratio": ratio(har_m, hm_o),
    }


def external_features(h: MarketHistory, ext: ExternalInputs) -> dict[str, np.ndarray]:
    """Every EXTERNAL_FEATURES column for every day of the history."""
    r = log_returns(h.close)
    har_m = rolling_rms(r, MONTH)
    return _implied(h, ext, har_m) | _funding(h, ext) | _liquidations(h, ext) | _cross(h, ext, r, har_m)
