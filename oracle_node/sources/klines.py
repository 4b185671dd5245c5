"""OHLCV bars of any timeframe as warm-up history, and the Binance kline CSV reader.

Binance's public kline files (data.binance.vision, `<SYMBOL>-<interval>-<date>.csv`, plain or .gz) as
they come: no header (newer futures files have one: `open_time,open,...`), oldest first, 12 columns
`open_time, open, high, low, close, volume, close_time, quote_volume, count, taker_buy_volume,
taker_buy_quote_volume, ignore`; open_time in milliseconds, in microseconds in spot files from 2025
on (read by magnitude: >= 1e14 is µs, >= 1e11 ms, else s). The bar length is the median step between
open times, so one file holds one interval. Every number is checked as the other recorded readers
check theirs (`oracle_node.sources.files`); a duplicate or out-of-order open time is a DataError.

`daily_from_bars`: the models read daily closes, so bars of any interval become days. A bar belongs
to the UTC day it opens in; the day's close is its last bar's close, stamped at the day's end (when
it is known), its volume the sum of its bars' quote volumes, its open/high/low its first bar's open
and its bars' extremes (features.daily.aggregate_to_daily also gives the intraday RV and bipower). A day with fewer than 80 % of its bars is
dropped, as a partial first or last day or an outage would look calm: 20 of 24 for hourly bars (the
bundled hourly loader's rule), 1 of 1 for daily bars.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from oracle_node.errors import DataError
from oracle_node.features.daily import aggregate_to_daily
from oracle_node.features.history import SECONDS_PER_DAY, MarketHistory
from oracle_node.sources.files import MAX_AMOUNT, MAX_PRICE, MIN_PRICE, check_time, csv_rows, open_text
from oracle_node.sources.ohlcv import OhlcvBar, OhlcvSeries

KLINE_COLUMNS = 12
FULL_DAY_SHARE = 0.8
_US_THRESHOLD, _MS_THRESHOLD = 1e14, 1e11


def looks_like_klines(first_line: str) -> bool:
    """True for a Binance kline CSV: a numeric first cell (no header) or the `open_time` header."""
    cell = first_line.split(",", 1)[0].strip().lower()
    return cell == "open_time" or cell.isdigit()


def read_binance_klines(path: str | Path) -> tuple[OhlcvSeries, float]:
    """The file's bars (oldest first) and their length in seconds."""
    name = str(path)
    bars: list[OhlcvBar] = []
    with open_text(path) as fh:
        for line, record in csv_rows(fh, name):
            if not record or (line == 1 and record[0].strip().lower() == "open_time"):
                continue
            bar = _kline(name, line, record)
            if bars and bar.ts <= bars[-1].ts:
                raise DataError(name, line, "open_time", record[0], "not after the previous bar's open time")
            bars.append(bar)
    if len(bars) < 2:
        raise DataError(name, None, None, None, f"{len(bars)} kline rows: need at least 2 bars")
    step = statistics.median(b.ts - a.ts for a, b in itertools.pairwise(bars))
    symbol = Path(name).name.split("-", 1)[0]
    return OhlcvSeries(name, symbol, tuple(bars), (), len(bars)), float(step)


def _kline(name: str, line: int, record: list[str]) -> OhlcvBar:
    if len(record) < KLINE_COLUMNS - 1:  # the trailing `ignore` column may be missing
        why = f"{len(record)} columns, a kline has {KLINE_COLUMNS}"
        raise DataError(name, line, None, ",".join(record), why)
    raw = record[0].strip()
    stamp = _number(name, line, "open_time", raw, 0.0, math.inf)
    unit = 1e6 if stamp >= _US_THRESHOLD else 1e3 if stamp >= _MS_THRESHOLD else 1.0
    fields = ("open", "high", "low", "close")
    prices = {f: _number(name, line, f, record[i], MIN_PRICE, MAX_PRICE) for i, f in enumerate(fields, 1)}
    o, h, low, c = (prices[f] for f in fields)
    if not low <= min(o, c) <= max(o, c) <= h:
        raise DataError(name, line, "low", record[3], "open/close outside [low, high]")
    return OhlcvBar(
        ts=check_time(name, line, "open_time", raw, stamp / unit),
        volume_base=_number(name, line, "volume", record[5], 0.0, MAX_AMOUNT),
        volume_quote=_number(name, line, "quote_volume", record[7], 0.0, MAX_AMOUNT),
        trades=int(_number(name, line, "count", record[8], 0.0, MAX_AMOUNT)),
        **prices,
    )


def _number(name: str, line: int, field: str, raw: str, lo: float, hi: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise DataError(name, line, field, raw, "not a number") from None
    if not math.isfinite(value):
        raise DataError(name, line, field, raw, "not finite")
    if not lo <= value <= hi:
        raise DataError(name, line, field, raw, f"outside [{lo:g}, {hi:g}] (a typo or a unit error?)")
    return value


def daily_from_bars(market: str, bars: Sequence[OhlcvBar], bar_seconds: float) -> MarketHistory:
    """Daily closes from bars of one interval (rules in the module docstring)."""
    if not 0 < bar_seconds <= SECONDS_PER_DAY:
        raise DataError(f"bars[{market}]", None, "interval", bar_seconds, "must be between 0 s and one day")
    per_day = SECONDS_PER_DAY / bar_seconds
    vol = np.array([np.nan if b.volume_quote is None else b.volume_quote for b in bars])
    return aggregate_to_daily(
        market,
        np.array([b.ts for b in bars]),
        np.array([b.close for b in bars]),
        vol,
        min_obs_per_day=max(1, math.ceil(FULL_DAY_SHARE * per_day)),
        ohlc=tuple(np.array([getattr(b, f) for b in bars]) for f in ("open", "high", "low")),
    )
