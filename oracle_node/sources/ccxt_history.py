"""Warm-up history fetched from a venue when the node starts: `ccxt:<exchange>:<symbol>:<timeframe>`.

A market configured with `history: ccxt:binance:SOL/USDT:1d` has its daily closes from the venue's
OHLCV (ccxt `fetch_ohlcv`, synchronous: it runs once, before the first round), so a market new to the
node publishes on its first round instead of after three days of its own closes. The symbol is the
venue's ccxt symbol and may itself hold a colon (`BTC/USDT:USDT`, a linear perpetual).

* Live only: a replay must not read today's venue data, so with `until_ts` (a replay's start) the
  form is a ConfigError asking for a file.
* Lookback LOOKBACK_DAYS = 1000 days, the GJR-GARCH fitting window (`models/gjr.py`): older days are
  never read. Pages of PAGE_LIMIT bars, at most MAX_PAGES requests: enough for 1000 days of hourly
  bars; a finer timeframe is cut to its most recent pages, with a warning. The models read daily
  closes, so `1d` (one request) is the timeframe to use.
* The bar still open at `now` is dropped (its close is not known yet); bars become days as in
  `oracle_node.sources.klines.daily_from_bars`. ccxt's rows carry the base volume; the quote volume is
  taken as base volume x close (the models use volume only relative to its own history).
* Failures: an unknown venue, symbol or timeframe is a ConfigError; a venue that does not answer, or
  answers garbage, a SourceError naming the venue (the node then does not start: a market that
  cannot warm up would publish nothing for days).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ccxt
from ccxt.base import errors as ccxt_errors

from oracle_node.errors import ConfigError, SourceError
from oracle_node.features.history import SECONDS_PER_DAY, MarketHistory
from oracle_node.logs import get_logger
from oracle_node.sources.exchanges import MARKET_TYPES
from oracle_node.sources.files import MAX_AMOUNT, MAX_PRICE, MIN_PRICE
from oracle_node.sources.klines import daily_from_bars
from oracle_node.sources.ohlcv import OhlcvBar

log = get_logger(__name__)

PREFIX = "ccxt:"
LOOKBACK_DAYS = 1000
PAGE_LIMIT = 1000
MAX_PAGES = 30
TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class CcxtHistorySpec:
    exchange: str
    symbol: str
    timeframe: str

    @classmethod
    def parse(cls, spec: str) -> CcxtHistorySpec:
        """`ccxt:<exchange>:<symbol>:<timeframe>`, or ConfigError showing the expected form."""
        problem = spec_problem(spec)
        if problem is not None:
            raise ConfigError(problem, source="markets[].history")
        parts = spec.split(":")
        return cls(parts[1], ":".join(parts[2:-1]), parts[-1])

    def __str__(self) -> str:
        return f"{PREFIX}{self.exchange}:{self.symbol}:{self.timeframe}"


def spec_problem(spec: str) -> str | None:
    """Why `spec` is not of the form ccxt:<exchange>:<symbol>:<timeframe> (None when it is)."""
    parts = spec.split(":")
    if parts[0] + ":" == PREFIX and len(parts) >= 4 and all(p.strip() for p in parts):
        return None
    return f"history {spec!r}: expected ccxt:<exchange>:<symbol>:<timeframe>, e.g. ccxt:binance:BTC/USDT:1d"


def make_exchange(spec: CcxtHistorySpec) -> Any:
    """The venue's synchronous ccxt client (rate-limited; loads only the market type of the symbol, as
    the live poller does)."""
    cls = getattr(ccxt, spec.exchange, None)
    if not isinstance(cls, type) or spec.exchange not in ccxt.exchanges:
        raise ConfigError(
            f"history {spec}: {spec.exchange!r} is not a ccxt exchange", source="markets[].history"
        )
    types = MARKET_TYPES.get(spec.exchange, {})
    options = {"fetchMarkets": {"types": [types["swap" if ":" in spec.symbol else "spot"]]}} if types else {}
    return cls({"enableRateLimit": True, "timeout": TIMEOUT_MS, "options": options})


def fetch_history(
    market: str,
    spec: str,
    *,
    exchange: Any = None,
    now: float | None = None,
    lookback_days: int = LOOKBACK_DAYS,
) -> MarketHistory:
    """Daily history of `market` from the venue's OHLCV over the last `lookback_days` (rules above)."""
    parsed = CcxtHistorySpec.parse(spec)
    venue = make_exchange(parsed) if exchange is None else exchange
    now = time.time() if now is None else now
    bar_s = _bar_seconds(venue, parsed)
    bars = _fetch_bars(venue, parsed, now - lookback_days * SECONDS_PER_DAY, now, bar_s)
    if len(bars) < 2:
        raise SourceError(parsed.exchange, "malformed", f"{parsed}: {len(bars)} closed bars, need at least 2")
    history = daily_from_bars(market, bars, bar_s)
    log.info("history_fetched", market=market, spec=str(parsed), bars=len(bars), days=len(history))
    return history


def _bar_seconds(venue: Any, spec: CcxtHistorySpec) -> float:
    known = getattr(venue, "timeframes", None) or {}
    if known and spec.timeframe not in known:
        why = f"history {spec}: timeframe {spec.timeframe!r} not offered, choose one of {sorted(known)}"
        raise ConfigError(why, source="markets[].history")
    try:
        return float(venue.parse_timeframe(spec.timeframe))
    except (ValueError, KeyError, ccxt_errors.BaseError):
        raise ConfigError(
            f"history {spec}: timeframe {spec.timeframe!r} not understood", source="markets[].history"
        ) from None


def _fetch_bars(venue: Any, spec: CcxtHistorySpec, start: float, now: float, bar_s: float) -> list[OhlcvBar]:
    """Closed bars opening in [start, now - bar_s], oldest first, page by page."""
    bars: list[OhlcvBar] = []
    since = start
    for _ in range(MAX_PAGES):
        rows = _call(venue, spec, int(since * 1000))
        page = [b for b in (_bar(spec, i, row) for i, row in enumerate(rows)) if b.ts >= since]
        page = [b for b in page if not bars or b.ts > bars[-1].ts]
        closed = [b for b in page if b.ts + bar_s <= now]
        bars += closed
        if not page or len(closed) < len(page) or not closed:
            return bars
        since = bars[-1].ts + bar_s
    log.warning("history_truncated", spec=str(spec), pages=MAX_PAGES, first=bars[0].ts if bars else None)
    return bars


def _call(venue: Any, spec: CcxtHistorySpec, since_ms: int) -> Sequence[Any]:
    try:
        rows = venue.fetch_ohlcv(spec.symbol, spec.timeframe, since_ms, PAGE_LIMIT)
    except ccxt_errors.BadSymbol as exc:
        raise ConfigError(f"history {spec}: {exc}", source="markets[].history") from None
    except ccxt_errors.RequestTimeout as exc:
        raise SourceError(spec.exchange, "timeout", f"fetch_ohlcv: {exc}") from None
    except ccxt_errors.NetworkError as exc:
        raise SourceError(spec.exchange, "unreachable", f"fetch_ohlcv: {str(exc)[:160]}") from None
    except ccxt_errors.BaseError as exc:
        raise SourceError(spec.exchange, "api_error", f"fetch_ohlcv: {str(exc)[:160]}") from None
    if not isinstance(rows, list):
        raise SourceError(spec.exchange, "malformed", f"fetch_ohlcv returned {type(rows).__name__}")
    return rows


def _bar(spec: CcxtHistorySpec, i: int, row: Any) -> OhlcvBar:
    """[ms, open, high, low, close, base volume] checked like a recorded file's row."""
    if not isinstance(row, list | tuple) or len(row) < 6:
        raise SourceError(spec.exchange, "malformed", f"{spec} row {i}: {row!r:.80}")
    try:
        ts, o, h, low, c = (float(v) for v in row[:5])
        volume = None if row[5] is None else float(row[5])
    except (TypeError, ValueError):
        raise SourceError(spec.exchange, "malformed", f"{spec} row {i}: {row!r:.80}") from None
    prices_ok = (
        all(MIN_PRICE <= p <= MAX_PRICE for p in (o, h, low, c)) and low <= min(o, c) <= max(o, c) <= h
    )
    volume_ok = volume is None or 0.0 <= volume <= MAX_AMOUNT
    if not (math.isfinite(ts) and ts > 0 and prices_ok and volume_ok):
        raise SourceError(spec.exchange, "non_finite", f"{spec} row {i}: {row!r:.80}")
    quote = None if volume is None else volume * c
    return OhlcvBar(ts / 1000.0, o, h, low, c, volume, quote, None)
