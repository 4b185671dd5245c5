"""Daily history for the models from a real price file: the plain daily CSV or an hourly OHLCV export."""

from __future__ import annotations

import numpy as np

from oracle_node.features.daily import aggregate_to_daily
from oracle_node.features.history import SECONDS_PER_DAY, MarketHistory
from oracle_node.sources.bundled import resolve
from oracle_node.sources.files import open_text
from oracle_node.sources.ohlcv import read_cdd_ohlcv, read_daily_prices


def load_history(market: str, spec: str, until_ts: float | None = None) -> MarketHistory:
    """Daily history from a plain daily file (`date,price,volume`) or an intraday OHLCV export.

    Only days that closed at or before `until_ts` are kept (no look-ahead into a replay).
    """
    path = resolve(spec)
    with open_text(path) as fh:
        header = fh.readline().strip().lower()
    if header.startswith("date,"):
        days = read_daily_prices(path)
        ts = np.array([d.ts + SECONDS_PER_DAY for d in days])
        close = np.array([d.close for d in days])
        vol = np.array([np.nan if d.volume_quote is None else d.volume_quote for d in days])
        hist = MarketHistory(market, ts, close, volume=vol)
    else:
        bars = read_cdd_ohlcv(path).bars
        ts = np.array([b.ts + 3600.0 for b in bars])  # bar close time
        close = np.array([b.close for b in bars])
        vol = np.array([np.nan if b.volume_quote is None else b.volume_quote for b in bars])
        hist = aggregate_to_daily(market, ts, close, vol, min_obs_per_day=20)
    return hist.until(until_ts) if until_ts is not None else hist
