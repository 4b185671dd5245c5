"""Intraday (e.g. hourly) prices aggregated to the daily bars the models use.

A day is a UTC calendar day. Its close is the last price observed in the day, stamped at the day's
end (00:00 UTC of the next day), its volume the sum of the bars' volumes, and its intraday realised
volatility sqrt(sum of squared log returns) over consecutive observations inside the day plus the
return from the previous day's close to the first observation (so the daily RV covers close to close).
Over the same M returns, the bipower volatility sqrt(pi/2 * M/(M-1) * sum_{i>=2} |r_i| |r_{i-1}|)
(Barndorff-Nielsen and Shephard 2004). When the bars' open/high/low are given, the day's open is its
first bar's open, its high/low the extremes of its bars.
"""

from __future__ import annotations

import numpy as np

from oracle_node.errors import DataError
from oracle_node.features.history import (
    SECONDS_PER_DAY,
    MarketHistory,
    as_series,
    require_finite,
    require_increasing,
)


def aggregate_to_daily(
    market: str,
    ts: object,
    price: object,
    volume: object | None = None,
    *,
    min_obs_per_day: int = 1,
    ohlc: tuple[object, ...] | None = None,
) -> MarketHistory:
    """Daily MarketHistory (close, summed volume, intraday RV) from an intraday price series.

    Days with fewer than `min_obs_per_day` observations are dropped (a partial first or last day
    would otherwise look calm). The first day's RV is NaN: it has no previous close.
    """
    where = f"intraday[{market}]"
    t = as_series(ts, "ts", where)
    p = as_series(price, "price", where)
    require_finite(t, "ts", where)
    require_finite(p, "price", where)
    require_increasing(t, where)
    if t.size < 2:
        raise DataError(where, None, "ts", f"length {t.size}", "need at least 2 observations")
    if (p <= 0).any():
        i = int(np.argmax(p <= 0))
        raise DataError(where, i, "price", float(p[i]), "must be > 0")
    day = np.floor(t / SECONDS_PER_DAY).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, day[1:] != day[:-1]])
    ends = np.r_[starts[1:], t.size]
    counts = ends - starts
    r = np.r_[np.nan, np.diff(np.log(p))]
    r2 = np.where(np.isnan(r), 0.0, r * r)
    rv = np.sqrt(np.add.reduceat(r2, starts))
    rv[0] = np.nan
    vol = None
    if volume is not None:
        v = as_series(volume, "volume", where)
        require_finite(v, "volume", where, allow_nan=True)
        vol = np.add.reduceat(np.nan_to_num(v, nan=0.0), starts)
    keep = counts >= min_obs_per_day
    close = p[ends - 1]
    day_end = (day[starts] + 1).astype(np.float64) * SECONDS_PER_DAY
    bv = _bipower(r, starts, ends)
    bv[0] = np.nan
    cols = {} if ohlc is None else _daily_ohlc(where, ohlc, t.size, starts)
    return MarketHistory(
        market,
        day_end[keep],
        close[keep],
        volume=None if vol is None else vol[keep],
        rv_intraday=rv[keep],
        bv_intraday=bv[keep],
        **{k: v[keep] for k, v in cols.items()},
    )


def _bipower(r: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """sqrt(pi/2 * M/(M-1) * sum_{i>=2} |r_i||r_{i-1}|) per day; NaN for a day with one return."""
    a = np.abs(np.where(np.isnan(r), 0.0, r))
    prod = np.r_[0.0, a[1:] * a[:-1]]
    prod[starts] = 0.0  # the first return of a day is not paired with the previous day's last
    m = (ends - starts).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        bv = np.pi / 2.0 * m / (m - 1.0) * np.add.reduceat(prod, starts)
    return np.where(m > 1, np.sqrt(bv), np.nan)


def _daily_ohlc(where: str, ohlc: tuple[object, ...], n: int, starts: np.ndarray) -> dict[str, np.ndarray]:
    o, h, lo = (as_series(x, name, where) for x, name in zip(ohlc, ("open", "high", "low"), strict=True))
    for arr, name in ((o, "open"), (h, "high"), (lo, "low")):
        if arr.size != n:
            raise DataError(where, None, name, f"length {arr.size}", f"ts has length {n}")
        require_finite(arr, name, where)
    return {
        "open": o[starts],
        "high": np.maximum.reduceat(h, starts),
        "low": np.minimum.reduceat(lo, starts),
    }
