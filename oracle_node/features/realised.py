"""Range-based and intraday realised measures of one market's daily history (issue 12, item 1).

All in daily-volatility units (the square root of a daily variance); day t uses day t's bars and
earlier only. From the day's open O, high H, low L and close C (columns of MarketHistory, present
when the source had bars; NaN otherwise):

- parkinson_1d:        sqrt( ln(H/L)^2 / (4 ln 2) )                                (Parkinson 1980)
- garman_klass_1d:     sqrt( max(0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2, 0) )      (Garman-Klass 1980)
- rogers_satchell_1d:  sqrt( max(ln(H/C) ln(H/O) + ln(L/C) ln(L/O), 0) )           (Rogers-Satchell 1991,
                       drift-robust)
- parkinson_7d / garman_klass_7d / rogers_satchell_7d: sqrt of the mean daily variance over days
  t-6..t (NaN when any of them is unknown); range_rel_30d = sqrt(mean Parkinson variance over 30
  days) / har_m (range vol against close-to-close vol: > 1 when intraday swings exceed the closes').

From intraday bars (MarketHistory.rv_intraday and bv_intraday, hourly where the data has them):

- rv_1d, bv_1d: realised and bipower volatility of day t;
- jump_1d: sqrt(max(RV^2 - BV^2, 0)), the jump part (Barndorff-Nielsen and Shephard 2004);
- jump_share_7d: sum of jump variance / sum of RV^2 over days t-6..t;
- rv_7d_rel: sqrt(mean RV^2 over 7 days) / har_m.

har_m is the 30-day RMS close-to-close return (features.build).
"""

from __future__ import annotations

import numpy as np

from oracle_node.features.history import MarketHistory
from oracle_node.features.rolling import log_returns, ratio, rolling_mean, rolling_rms, rolling_sum

WEEK, MONTH = 7, 30
LN2 = float(np.log(2.0))

REALISED_FEATURES: tuple[str, ...] = (
    "parkinson_1d",
    "garman_klass_1d",
    "rogers_satchell_1d",
    "parkinson_7d",
    "garman_klass_7d",
    "rogers_satchell_7d",
    "range_rel_30d",
    "rv_1d",
    "bv_1d",
    "jump_1d",
    "jump_share_7d",
    "rv_7d_rel",
)


def _nan(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def range_variances(h: MarketHistory) -> dict[str, np.ndarray]:
    """Daily Parkinson, Garman-Klass and Rogers-Satchell variances (NaN where OHLC is unknown)."""
    n = len(h)
    if h.high is None or h.low is None or h.open is None:
        return {k: _nan(n) for k in ("parkinson", "garman_klass", "rogers_satchell")}
    with np.errstate(invalid="ignore", divide="ignore"):
        hl = np.log(h.high / h.low)
        co = np.log(h.close / h.open)
        hc, ho = np.log(h.high / h.close), np.log(h.high / h.open)
        lc, lo = np.log(h.low / h.close), np.log(h.low / h.open)
    return {
        "parkinson": hl * hl / (4.0 * LN2),
        "garman_klass": np.maximum(0.5 * hl * hl - (2.0 * LN2 - 1.0) * co * co, 0.0),
        "rogers_satchell": np.maximum(hc * ho + lc * lo, 0.0),
    }


def _intraday(h: MarketHistory, har_m: np.ndarray) -> dict[str, np.ndarray]:
    n = len(h)
    if h.rv_intraday is None:
        return {k: _nan(n) for k in ("rv_1d", "bv_1d", "jump_1d", "jump_share_7d", "rv_7d_rel")}
    rv = h.rv_intraday
    bv = h.bv_intraday if h.bv_intraday is not None else _nan(n)
    rv2, jump2 = rv * rv, np.maximum(rv * rv - bv * bv, 0.0)
    jump2 = np.where(np.isfinite(bv) & np.isfinite(rv), jump2, np.nan)
    return {
        "rv_1d": rv.copy(),
        "bv_1d": bv.copy(),
        "jump_1d": np.sqrt(jump2),
        "jump_share_7d": ratio(rolling_sum(jump2, WEEK), rolling_sum(rv2, WEEK)),
        "rv_7d_rel": ratio(np.sqrt(rolling_mean(rv2, WEEK)), har_m),
    }


def realised_features(h: MarketHistory) -> dict[str, np.ndarray]:
    """Every REALISED_FEATURES column for every day of the history."""
    har_m = rolling_rms(log_returns(h.close), MONTH)
    var = range_variances(h)
    out = {
        "parkinson_1d": np.sqrt(var["parkinson"]),
        "garman_klass_1d": np.sqrt(var["garman_klass"]),
        "rogers_satchell_1d": np.sqrt(var["rogers_satchell"]),
        "parkinson_7d": np.sqrt(rolling_mean(var["parkinson"], WEEK)),
        "garman_klass_7d": np.sqrt(rolling_mean(var["garman_klass"], WEEK)),
        "rogers_satchell_7d": np.sqrt(rolling_mean(var["rogers_satchell"], WEEK)),
        "range_rel_30d": ratio(np.sqrt(rolling_mean(var["parkinson"], MONTH)), har_m),
    }
    return out | _intraday(h, har_m)
