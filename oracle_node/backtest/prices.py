"""Price input for backtests: a CSV of closes -> daily closes (a `MarketHistory`, oldest first).

* the plain daily file (`date,price[,volume]`) and CryptoDataDownload hourly exports go through the
  replay readers (`sources.history.load_history`: quirks handled, hourly bars aggregated to the
  UTC day's last close, stamped 00:00 UTC of the next day);
* any other CSV with a time column (`date`, `timestamp`, `time`, `datetime` or `unix`; ISO dates or
  datetimes, naive = UTC, or unix seconds / milliseconds) and a price column (`close` or `price`)
  is read here. Rows at midnight, one or more days apart, are daily closes labelled by their date
  (stamped at the end of that day, like the daily file); anything finer is intraday and aggregated.

A day's return is log(close_t / close_{t-1}); its date label is the UTC date the close belongs to.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from oracle_node.errors import DataError
from oracle_node.features.daily import aggregate_to_daily
from oracle_node.features.history import SECONDS_PER_DAY, MarketHistory
from oracle_node.sources.base import open_text
from oracle_node.sources.history import load_history

PriceSeries = MarketHistory  # daily closes, ts = end of the day (00:00 UTC of the next day)
TIME_COLUMNS = ("date", "timestamp", "time", "datetime", "unix")
PRICE_COLUMNS = ("close", "price")
MS_THRESHOLD = 1e11  # a unix time this large is in milliseconds


def load_prices(source: PriceSeries | str | Path, asset: str) -> PriceSeries:
    """Daily closes from a MarketHistory (returned as is) or a price CSV (plain or .gz)."""
    if isinstance(source, MarketHistory):
        return source
    path = Path(source)
    if not path.is_file():
        raise DataError(str(path), None, None, str(path), "price file does not exist")
    with open_text(path) as fh:
        first = fh.readline().strip().lower()
    cols = [c.strip() for c in first.split(",")]
    if first.startswith("http") or {"unix", "symbol"} <= set(cols) or {"date", "price"} <= set(cols[:2]):
        return load_history(asset, str(path))
    return _read_generic(path, asset)


def _pick(name: str, header: list[str], wanted: tuple[str, ...]) -> int:
    lower = [h.strip().lower() for h in header]
    for w in wanted:
        if w in lower:
            return lower.index(w)
    raise DataError(name, 1, "header", header, f"expected one of the columns {list(wanted)}")


def parse_time(name: str, line: int, text: str) -> float:
    raw = text.strip()
    try:
        value = float(raw)
    except ValueError:
        try:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise DataError(name, line, "time", text, "expected an ISO date/datetime or unix time") from None
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
    return value / 1000.0 if value >= MS_THRESHOLD else value


def _read_generic(path: Path, asset: str) -> PriceSeries:
    name = str(path)
    rows: list[tuple[float, float]] = []
    with open_text(path) as fh:
        reader = csv.reader(fh)
        header = next(reader, None) or []
        it, ip = _pick(name, header, TIME_COLUMNS), _pick(name, header, PRICE_COLUMNS)
        for line, rec in enumerate(reader, start=2):
            if not rec:
                continue
            try:
                price = float(rec[ip])
            except (ValueError, IndexError):
                raise DataError(name, line, header[ip], rec[ip : ip + 1], "not a number") from None
            if not (np.isfinite(price) and price > 0):
                raise DataError(name, line, header[ip], price, "price must be finite and > 0")
            rows.append((parse_time(name, line, rec[it]), price))
    return _to_daily(name, asset, rows)


def _to_daily(name: str, asset: str, rows: list[tuple[float, float]]) -> PriceSeries:
    if len(rows) < 2:
        raise DataError(name, None, "rows", len(rows), "need at least 2 prices")
    rows.sort()
    ts = np.array([t for t, _ in rows])
    close = np.array([p for _, p in rows])
    if (np.diff(ts) <= 0).any():
        i = int(np.argmax(np.diff(ts) <= 0)) + 1
        raise DataError(name, None, "time", float(ts[i]), "duplicate timestamp")
    daily = (ts % SECONDS_PER_DAY == 0).all() and (np.diff(ts) >= SECONDS_PER_DAY).all()
    if daily:
        return MarketHistory(asset, ts + SECONDS_PER_DAY, close)
    return aggregate_to_daily(asset, ts, close, min_obs_per_day=1)
