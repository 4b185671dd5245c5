"""Daily history for the models: a real price file (the plain daily CSV, an hourly CryptoDataDownload
OHLCV export, a Binance kline CSV of any interval) or, live only, a venue's OHLCV through ccxt."""

from __future__ import annotations

import numpy as np

from oracle_node.errors import ConfigError
from oracle_node.features.daily import aggregate_to_daily
from oracle_node.features.history import SECONDS_PER_DAY, MarketHistory
from oracle_node.sources.bundled import resolve
from oracle_node.sources.ccxt_history import PREFIX as CCXT_PREFIX
from oracle_node.sources.ccxt_history import fetch_history
from oracle_node.sources.files import open_text
from oracle_node.sources.klines import daily_from_bars, looks_like_klines, read_binance_klines
from oracle_node.sources.ohlcv import read_cdd_ohlcv, read_daily_prices


def load_history(market: str, spec: str, until_ts: float | None = None) -> MarketHistory:
    """Daily history from `spec`: 'bundled:NAME', a file path (a plain daily file `date,price,volume`,
    a CryptoDataDownload hourly export, a Binance kline CSV) or 'ccxt:<exchange>:<symbol>:<timeframe>'
    (fetched from the venue now: live only, see oracle_node.sources.ccxt_history).

    Only days that closed at or before `until_ts` are kept (no look-ahead into a replay).
    """
    if spec.startswith(CCXT_PREFIX):
        if until_ts is not None:
            why = f"history {spec!r} is fetched live at start; a replay needs recorded history (a file)"
            raise ConfigError(why, source="markets[].history")
        return fetch_history(market, spec)
    path = resolve(spec)
    with open_text(path) as fh:
        header = fh.readline().strip().lower()
    if looks_like_klines(header):
        series, bar_seconds = read_binance_klines(path)
        hist = daily_from_bars(market, series.bars, bar_seconds)
    elif header.startswith("date,"):
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
        ohlc = tuple(np.array([getattr(b, f) for b in bars]) for f in ("open", "high", "low"))
        hist = aggregate_to_daily(market, ts, close, vol, min_obs_per_day=20, ohlc=ohlc)
    return hist.until(until_ts) if until_ts is not None else hist
