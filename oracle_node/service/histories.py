"""Per-market daily history the models read: warm-up history, days closed from guarded prices, and
the current partial day.

The models forecast from daily closes. A node must still react within the day (a crash at 14:00
must raise margins at 14:00, not at midnight), so every snapshot ends with a *partial day*: the
latest guarded price stamped at `now`, treated as if the day closed there. The GJR variance
recursion and the ML features then see the intraday move at once; when the UTC day ends the partial
day becomes a closed day. The partial day's volume is its run rate (volume so far x 86400 / elapsed
seconds, elapsed at least one hour) so that a volume z-score is not biased low early in the day.

Warm-up comes from the bundled real data (or a CSV path) up to the first tick, never after it
(`oracle_node.sources.history.load_history`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from oracle_node.features.history import SECONDS_PER_DAY, MarketHistory

MIN_RUN_RATE_S = 3600.0


@dataclass
class _Book:
    ts: deque[float]
    close: deque[float]
    volume: deque[float]
    day: int | None = None
    day_start_ts: float = 0.0
    last_price: float | None = None
    last_ts: float = 0.0
    volume_today: float = 0.0
    volume_seen: bool = False
    closed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # arrays of the closed days, cached

    def closed_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.closed is None:
            self.closed = (
                np.array(self.ts, dtype=float),
                np.array(self.close, dtype=float),
                np.array(self.volume, dtype=float),
            )
        return self.closed


class HistoryBook:
    """Keeps at most `max_days` closed days per market plus the running day."""

    def __init__(self, max_days: int = 1000) -> None:
        self.max_days = max_days
        self._books: dict[str, _Book] = {}

    def markets(self) -> list[str]:
        return sorted(self._books)

    def seed(self, history: MarketHistory) -> None:
        n = self.max_days
        vol = history.volume if history.volume is not None else np.full(len(history), np.nan)
        self._books[history.market] = _Book(
            deque(history.ts[-n:].tolist(), maxlen=n),
            deque(history.close[-n:].tolist(), maxlen=n),
            deque(vol[-n:].tolist(), maxlen=n),
        )

    def observe(self, market: str, ts: float, price: float, volume: float | None) -> None:
        """A guarded aggregate price (and the accepted sources' representative volume, if any)."""
        book = self._books.get(market)
        if book is None:
            book = self._books[market] = _Book(
                deque(maxlen=self.max_days), deque(maxlen=self.max_days), deque(maxlen=self.max_days)
            )
        if ts <= book.last_ts:
            return  # the guard already saw this time; history only moves forward
        day = math.floor(ts / SECONDS_PER_DAY)
        if book.day is not None and day != book.day and book.last_price is not None:
            self._close_day(book)
        if book.day != day:
            book.day, book.day_start_ts = day, day * SECONDS_PER_DAY
            book.volume_today, book.volume_seen = 0.0, False
        book.last_price, book.last_ts = price, ts
        if volume is not None and math.isfinite(volume):
            book.volume_today += volume
            book.volume_seen = True

    def _close_day(self, book: _Book) -> None:
        assert book.day is not None and book.last_price is not None
        close_ts = (book.day + 1) * SECONDS_PER_DAY
        if book.ts and close_ts <= book.ts[-1]:
            return
        book.ts.append(close_ts)
        book.close.append(book.last_price)
        book.volume.append(book.volume_today if book.volume_seen else math.nan)
        book.closed = None

    def snapshot(self, market: str) -> MarketHistory | None:
        """Closed days plus the partial day at the last observed price; None without any data."""
        book = self._books.get(market)
        if book is None or (not book.ts and book.last_price is None):
            return None
        ts, close, vol = book.closed_arrays()
        if book.last_price is not None and (not ts.size or book.last_ts > ts[-1]):
            elapsed = max(book.last_ts - book.day_start_ts, MIN_RUN_RATE_S)
            run_rate = book.volume_today * SECONDS_PER_DAY / elapsed if book.volume_seen else math.nan
            ts = np.append(ts, book.last_ts)
            close = np.append(close, book.last_price)
            vol = np.append(vol, run_rate)
        v = vol
        return MarketHistory(market, np.array(ts), np.array(close), volume=None if np.isnan(v).all() else v)
