"""The per-market input of every model: a daily series of closes with optional side columns.

Validated once, here, at the boundary (finite, 1-D, same length, strictly increasing timestamps); the
feature and model code inside trusts it. Optional columns may hold NaN where a value is unknown (for
example funding before a perpetual listed) but never +-inf.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oracle_node.errors import DataError

SECONDS_PER_DAY = 86_400
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "volume",
    "funding",
    "depth",
    "rv_intraday",
    "open",
    "high",
    "low",
    "bv_intraday",
)


def as_series(values: object, name: str, where: str) -> np.ndarray:
    """A 1-D float64 copy of `values`, or DataError naming the field."""
    arr = np.array(values, dtype=np.float64, copy=True)
    if arr.ndim != 1:
        raise DataError(where, None, name, f"shape {arr.shape}", "must be a 1-D series")
    return arr


def require_finite(arr: np.ndarray, name: str, where: str, *, allow_nan: bool = False) -> None:
    bad = np.isinf(arr) if allow_nan else ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        why = "must not be infinite" if allow_nan else "must be finite"
        raise DataError(where, i, name, float(arr[i]), why)


def require_increasing(ts: np.ndarray, where: str) -> None:
    if ts.size > 1:
        steps = np.diff(ts)
        if (steps <= 0).any():
            i = int(np.argmax(steps <= 0)) + 1
            raise DataError(where, i, "ts", float(ts[i]), f"not after the previous timestamp {ts[i - 1]!r}")


@dataclass(frozen=True, eq=False)
class MarketHistory:
    """Daily history of one market, oldest first.

    ts: unix seconds of each daily close (UTC). close: close price in quote units (> 0).
    volume: quote volume of the day. funding: mean perpetual funding per 8 h of the day (fraction).
    depth: quote amount resting within +-1 % of mid at the close. rv_intraday: realised volatility of
    the day from intraday (e.g. hourly) log returns, in daily units. open / high / low: the day's
    first price and its extremes, when the source has bars (OHLC); bv_intraday: the square root of the
    day's bipower variation (pi/2 * M/(M-1) * sum |r_i| |r_{i-1}| over the same M intraday returns
    as rv_intraday), in daily-volatility units like rv_intraday but robust to jumps. Each optional column is None when the source never has it, or an array of the
    same length with NaN where unknown.
    """

    market: str
    ts: np.ndarray
    close: np.ndarray
    volume: np.ndarray | None = None
    funding: np.ndarray | None = None
    depth: np.ndarray | None = None
    rv_intraday: np.ndarray | None = None
    open: np.ndarray | None = None
    high: np.ndarray | None = None
    low: np.ndarray | None = None
    bv_intraday: np.ndarray | None = None

    def __post_init__(self) -> None:
        where = f"history[{self.market}]"
        ts = as_series(self.ts, "ts", where)
        close = as_series(self.close, "close", where)
        if ts.shape != close.shape:
            raise DataError(where, None, "close", f"length {close.size}", f"ts has length {ts.size}")
        require_finite(ts, "ts", where)
        require_finite(close, "close", where)
        if (close <= 0).any():
            i = int(np.argmax(close <= 0))
            raise DataError(where, i, "close", float(close[i]), "must be > 0")
        require_increasing(ts, where)
        object.__setattr__(self, "ts", ts)
        object.__setattr__(self, "close", close)
        for name in OPTIONAL_COLUMNS:
            self._check_optional(name, where, ts.size)
        for name in ("ts", "close", *OPTIONAL_COLUMNS):
            col = getattr(self, name)
            if col is not None:
                col.setflags(write=False)

    def _check_optional(self, name: str, where: str, n: int) -> None:
        values = getattr(self, name)
        if values is None:
            return
        arr = as_series(values, name, where)
        if arr.size != n:
            raise DataError(where, None, name, f"length {arr.size}", f"ts has length {n}")
        require_finite(arr, name, where, allow_nan=True)
        object.__setattr__(self, name, arr)

    def __len__(self) -> int:
        return int(self.ts.size)

    def tail(self, n: int) -> MarketHistory:
        """The last n days (a view: features of the last day only need a short tail)."""
        cols = {
            name: (None if getattr(self, name) is None else getattr(self, name)[-n:])
            for name in OPTIONAL_COLUMNS
        }
        return MarketHistory(self.market, self.ts[-n:], self.close[-n:], **cols)

    def until(self, ts: float) -> MarketHistory:
        """Days with timestamp <= ts (no look-ahead in walk-forward use)."""
        n = int(np.searchsorted(self.ts, ts, side="right"))
        cols = {
            name: (None if getattr(self, name) is None else getattr(self, name)[:n])
            for name in OPTIONAL_COLUMNS
        }
        return MarketHistory(self.market, self.ts[:n], self.close[:n], **cols)
