"""Price input for backtests: a CSV of closes -> daily closes (a `MarketHistory`, oldest first).

* the plain daily file (`date,price[,volume]`) and CryptoDataDownload hourly exports go through the
  replay readers (`sources.history.load_history`: quirks handled, hourly bars aggregated to the
  UTC day's last close, stamped 00:00 UTC of the next day);
* Binance kline CSVs with a numeric open time (no header, or the `open_time` header) go through
  `sources.klines` (via load_history);
* any other CSV with a time column (`date`, `timestamp`, `time`, `datetime`, `unix`, `open_time` or
  `open time`; ISO dates or datetimes, naive = UTC, or unix seconds / milliseconds) and a price column
  (`close` or `price`) is read here, and so is a kline CSV without a header whose open time is a date
  (`2020-01-01,open,high,low,close,volume,...`). `open`, `high` and `low` are read when the file has
  all three (kept per day: first open, highest high, lowest low; a row whose open or close lies outside
  [low, high] is an error). The range features (features.realised) use them. Rows at midnight, one or more days apart, are daily closes labelled by their date
  (stamped at the end of that day, like the daily file); anything finer is intraday and aggregated.

A day's return is log(close_t / close_{t-1}); its date label is the UTC date the close belongs to.

Checks on any price file (each a `DataError` naming the file, line, field and value): UTF-8 text (a
BOM is accepted), times within [2009-01-03, now + 1 day], prices within [1e-15, 1e15], and no gap of
more than `MAX_GAP_DAYS` (7) days between two daily closes: a walk-forward backtest would otherwise
score the whole gap as one day's return and fit its models across it without a word. The error names
the last date before the gap and the first after it; fill the gap, or cut the file to one side of it.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from oracle_node.errors import DataError
from oracle_node.features.daily import aggregate_to_daily
from oracle_node.features.history import SECONDS_PER_DAY, MarketHistory
from oracle_node.sources.files import MAX_PRICE, MIN_PRICE, check_time, csv_rows, open_text
from oracle_node.sources.history import load_history
from oracle_node.sources.klines import looks_like_klines

PriceSeries = MarketHistory  # daily closes, ts = end of the day (00:00 UTC of the next day)
TIME_COLUMNS = ("date", "timestamp", "time", "datetime", "unix", "open_time", "open time")
OHLC_FIELDS = ("open", "high", "low")
# Binance kline CSV without a header: open time (ms, s or a date), open, high, low, close, volume, ...
KLINE_LAYOUT = {"time": 0, "open": 1, "high": 2, "low": 3, "close": 4}
PRICE_COLUMNS = ("close", "price")
MS_THRESHOLD = 1e11  # a unix time this large is in milliseconds
MAX_GAP_DAYS = 7.0  # a longer gap between two daily closes is an error (see the module docstring)


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
    known = first.startswith("http") or {"unix", "symbol"} <= set(cols) or {"date", "price"} <= set(cols[:2])
    if known or looks_like_klines(first):
        history = load_history(asset, str(path))
    else:
        history = _read_generic(path, asset)
    check_gaps(str(path), history)
    return history


def check_gaps(name: str, history: MarketHistory, max_gap_days: float = MAX_GAP_DAYS) -> None:
    """DataError naming the dates around the first run of more than `max_gap_days` days without a close."""
    steps = np.diff(history.ts)
    limit = (max_gap_days + 1) * SECONDS_PER_DAY  # closes 8 days apart: 7 days without one
    if steps.size == 0 or steps.max() <= limit:
        return
    i = int(np.argmax(steps > limit))
    before, after = _day(history.ts[i]), _day(history.ts[i + 1])
    raise DataError(
        name, None, "date", f"{before}..{after}",
        f"no price for {steps[i] / SECONDS_PER_DAY - 1:.0f} days between the closes of {before} and {after} "
        f"(more than {max_gap_days:g}); fill the gap or cut the file to one side of it",
    )  # fmt: skip


def _day(close_ts: float) -> str:
    """The UTC date a daily close belongs to (closes are stamped at the end of their day)."""
    return datetime.fromtimestamp(close_ts - 1.0, UTC).strftime("%Y-%m-%d")


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
        return check_time(name, line, "time", text, (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp())
    return check_time(name, line, "time", text, value / 1000.0 if value >= MS_THRESHOLD else value)


def _headerless(cells: list[str]) -> bool:
    """A first row that is data, not a header: its first cell is a time (Binance klines without a
    header, open time in ms or a date)."""
    cell = cells[0].strip() if cells else ""
    try:
        float(cell)
    except ValueError:
        try:
            datetime.fromisoformat(cell.replace("Z", "+00:00"))
        except ValueError:
            return False
    return True


def _columns(name: str, header: list[str]) -> dict[str, int]:
    """Column index of time and close, and of open/high/low where the header has them."""
    cols = {"time": _pick(name, header, TIME_COLUMNS), "close": _pick(name, header, PRICE_COLUMNS)}
    lower = [h.strip().lower() for h in header]
    for field in OHLC_FIELDS:
        if field in lower:
            cols[field] = lower.index(field)
    return cols


def _read_generic(path: Path, asset: str) -> PriceSeries:
    name = str(path)
    rows: list[tuple[float, ...]] = []
    with open_text(path) as fh:
        records = csv_rows(fh, name)
        first = next(((line, cells) for line, cells in records if cells), (1, []))
        if _headerless(first[1]):
            cols, header = KLINE_LAYOUT, [*KLINE_LAYOUT]
            records = itertools.chain([first], records)
        else:
            header = first[1]
            cols = _columns(name, header)
        for line, rec in records:
            if rec:
                rows.append(_row(name, line, rec, header, cols))
    return _to_daily(name, asset, rows)


def _row(name: str, line: int, rec: list[str], header: list[str], cols: dict[str, int]) -> tuple[float, ...]:
    if len(rec) <= max(cols.values()):
        raise DataError(name, line, None, ",".join(rec), f"{len(rec)} columns, expected {len(header)}")
    t = parse_time(name, line, rec[cols["time"]])
    close = _price(name, line, header[cols["close"]], rec[cols["close"]])
    if not all(f in cols for f in OHLC_FIELDS):
        return (t, close)
    o, h, lo = (_price(name, line, header[cols[f]], rec[cols[f]]) for f in OHLC_FIELDS)
    if not lo <= min(o, close) <= max(o, close) <= h:
        raise DataError(name, line, header[cols["low"]], rec[cols["low"]], "open/close outside [low, high]")
    return (t, close, o, h, lo)


def _price(name: str, line: int, field: str, raw: str) -> float:
    try:
        price = float(raw)
    except ValueError:
        raise DataError(name, line, field, raw, "not a number") from None
    if not np.isfinite(price):
        raise DataError(name, line, field, raw, "not finite")
    if price <= 0:
        raise DataError(name, line, field, price, "price must be finite and > 0")
    if not MIN_PRICE <= price <= MAX_PRICE:
        raise DataError(
            name, line, field, raw, f"outside [{MIN_PRICE:g}, {MAX_PRICE:g}] (a typo or a unit error?)"
        )
    return price


def _to_daily(name: str, asset: str, rows: list[tuple[float, ...]]) -> PriceSeries:
    if len(rows) < 2:
        raise DataError(name, None, "rows", len(rows), "need at least 2 prices")
    rows.sort()
    table = np.array(rows, dtype=np.float64)
    ts, close = table[:, 0], table[:, 1]
    if (np.diff(ts) <= 0).any():
        i = int(np.argmax(np.diff(ts) <= 0)) + 1
        raise DataError(name, None, "time", float(ts[i]), "duplicate timestamp")
    ohlc = (table[:, 2], table[:, 3], table[:, 4]) if table.shape[1] == 5 else None
    daily = (ts % SECONDS_PER_DAY == 0).all() and (np.diff(ts) >= SECONDS_PER_DAY).all()
    if daily:
        extra = {} if ohlc is None else dict(zip(OHLC_FIELDS, ohlc, strict=True))
        return MarketHistory(asset, ts + SECONDS_PER_DAY, close, **extra)
    return aggregate_to_daily(asset, ts, close, min_obs_per_day=1, ohlc=ohlc)
