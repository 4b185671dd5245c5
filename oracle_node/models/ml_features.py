"""The ML models' feature matrix: HAR + funding + volume + calendar, aligned with next-day returns.

Row k holds the features of day k (built from closes up to and including close k: `features.build`
is causal, every column a trailing window) and predicts returns[k] = log(close[k+1] / close[k]), the
return of the following day. A forecast for returns[t] therefore reads row t, which uses returns[:t]
only. Columns (scale-free, so BTC and ETH rows can be pooled):

* HAR: har_d_rel, har_w_rel, log_har_m, ret_1d_rel, ret_7d_rel (see features.build), and
  log_ewma_rel = log(ewma_sigma / har_m), the fast RiskMetrics volatility against the 30-day one
* volume: volume_z (30-day z-score of log volume; 0 when the history has no volume)
* funding: funding_level (mean 8 h rate, in bp) and funding_chg_7d (bp); 0 when unknown, which is
  also the neutral value of a perpetual's funding (BTC before 2019-09, ETH from the spot file)
* calendar: sin and cos of the weekday of the forecast day (weekend liquidity)

The target is standardised by ewma_sigma (RiskMetrics, lambda 0.94, the volatility forecast for
returns[k] from returns[:k]): z = returns[k] / ewma_sigma[k].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oracle_node.errors import DataError
from oracle_node.features.build import build_features
from oracle_node.features.history import SECONDS_PER_DAY, MarketHistory
from oracle_node.models.ewma import ewma_variance_path

ML_FEATURES: tuple[str, ...] = (
    "har_d_rel",
    "har_w_rel",
    "log_har_m",
    "ret_1d_rel",
    "ret_7d_rel",
    "log_ewma_rel",
    "volume_z",
    "funding_level_bp",
    "funding_chg_7d_bp",
    "dow_sin",
    "dow_cos",
)
SCALE_FEATURE = "ewma_sigma"
EWMA_LAMBDA = 0.94
SEED_DAYS = 30
BP = 1e4
ZERO_FILLED = ("volume_z", "funding_level", "funding_chg_7d")


@dataclass(frozen=True)
class MlRows:
    """Feature rows aligned with next-day returns (row k predicts returns[k]).

    x: (n, len(ML_FEATURES)) float64; scale: har_m per row; target_ts: the end (UTC) of the day
    whose return row k predicts; ok: rows whose features and scale are finite (the first 30 days are
    not). returns has n entries (the last row's target is unknown: NaN)."""

    market: str
    x: np.ndarray
    scale: np.ndarray
    returns: np.ndarray
    target_ts: np.ndarray
    ok: np.ndarray


def weekday(ts: np.ndarray) -> np.ndarray:
    """Monday = 0 .. Sunday = 6 of the UTC day that starts at `ts` (1970-01-01 was a Thursday)."""
    return ((np.floor_divide(ts, SECONDS_PER_DAY).astype(np.int64) + 3) % 7).astype(np.float64)


def ewma_sigma(r: np.ndarray, lam: float = EWMA_LAMBDA) -> np.ndarray:
    """Row k: RiskMetrics volatility forecast for returns[k] from returns[:k] (seeded with the mean
    square of the first SEED_DAYS returns; rows <= SEED_DAYS are NaN, they are never ok anyway)."""
    v = ewma_variance_path(r, lam, float(np.mean(r[:SEED_DAYS] ** 2)))
    out = np.full(r.size + 1, np.nan)
    out[SEED_DAYS + 1 :] = np.sqrt(v[SEED_DAYS:])
    return out


def ml_rows(history: MarketHistory) -> MlRows:
    """Feature rows for every day of `history` (at least 32 closes)."""
    if len(history) < 32:
        raise DataError(f"history[{history.market}]", None, "close", len(history), "need >= 32 daily closes")
    frame = build_features(history)
    cols = {name: frame.column(name).copy() for name in (*ML_FEATURES[:5], *ZERO_FILLED)}
    for name in ZERO_FILLED:
        cols[name][~np.isfinite(cols[name])] = 0.0
    r = np.append(np.diff(np.log(history.close)), np.nan)
    scale = ewma_sigma(r[:-1])
    cols["log_ewma_rel"] = np.log(scale / frame.column("har_m"))
    day = weekday(history.ts)  # ts[k] = end of day k = start of the forecast day
    x = np.column_stack(
        [*(cols[n] for n in ML_FEATURES[:7]), cols["funding_level"] * BP, cols["funding_chg_7d"] * BP,
         np.sin(2 * np.pi * day / 7), np.cos(2 * np.pi * day / 7)]
    )  # fmt: skip
    target_ts = np.append(history.ts[1:], np.nan)
    ok = np.isfinite(x).all(axis=1) & np.isfinite(scale) & (scale > 0)
    return MlRows(history.market, x, scale, r, target_ts, ok)
