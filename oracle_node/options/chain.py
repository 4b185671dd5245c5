"""Read a Deribit option-chain snapshot CSV into typed quotes.

One row per option; a file may hold several underlyings (column `currency`). Prices (`bid_price`,
`ask_price`, `mark_price`) are in the coin (inverse options). `futures_price` is the forward Deribit
used for that expiry (empty for the shortest expiries when Deribit prices them off the index; then
`underlying` holds the index). An empty bid or ask is a one-sided quote, kept as `None`.

Any malformed input is a `DataError` naming file, line, field and value: missing file, missing
column, a non-numeric or non-finite number, an unknown option type, a bad timestamp.
"""

from __future__ import annotations

import csv
import gzip
import math
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, TextIO

import numpy as np
from numpy.typing import NDArray

from oracle_node.errors import DataError

Array = NDArray[np.float64]

REQUIRED = (
    "timestamp",
    "instrument_name",
    "underlying",
    "option_type",
    "strike",
    "expiry_datetime",
    "time_to_maturity",
    "bid_price",
    "ask_price",
    "mark_price",
    "futures_price",
    "open_interest",
    "currency",
    "index_price",
)
OPTIONAL_NUMBERS = ("implied_volatility", "delta", "vega", "volume")


@dataclass(frozen=True, slots=True)
class OptionQuote:
    """One option of a snapshot. Prices in the coin; `line` is the CSV line (header = 1)."""

    line: int
    instrument: str
    currency: str
    option_type: Literal["call", "put"]
    strike: float
    expiry: datetime
    t: float
    bid: float | None
    ask: float | None
    mark: float
    futures_price: float | None
    underlying_price: float
    index_price: float
    open_interest: float
    volume: float | None
    mark_iv: float | None
    delta: float | None
    vega: float | None

    @property
    def is_call(self) -> bool:
        return self.option_type == "call"

    @property
    def two_sided(self) -> bool:
        return self.bid is not None and self.ask is not None and 0.0 < self.bid <= self.ask


@dataclass(frozen=True, slots=True)
class QuoteColumns:
    """Quotes as NumPy columns (row i = quote i); a missing bid, ask or futures price is NaN.

    `expiry` indexes `expiries` (the distinct expiries, sorted), so rows group by expiry without
    touching Python objects.
    """

    instrument: NDArray[np.str_]
    currency: NDArray[np.str_]
    is_call: NDArray[np.bool_]
    strike: Array
    expiry: NDArray[np.intp]
    expiries: tuple[datetime, ...]
    t: Array
    bid: Array
    ask: Array
    futures: Array
    underlying: Array
    index: Array
    open_interest: Array

    @property
    def size(self) -> int:
        return int(self.strike.size)

    @property
    def two_sided(self) -> NDArray[np.bool_]:
        """Bid and ask present and 0 < bid <= ask (as OptionQuote.two_sided)."""
        with np.errstate(invalid="ignore"):
            return (self.bid > 0.0) & (self.bid <= self.ask)

    def take(self, rows: NDArray[np.intp] | NDArray[np.bool_]) -> QuoteColumns:
        """The sub-table of the given rows (indices or a mask), in that order."""
        idx = np.flatnonzero(rows) if rows.dtype == bool else rows
        arrays = {f: getattr(self, f)[idx] for f in _ARRAY_FIELDS}
        return QuoteColumns(expiries=self.expiries, **arrays)


_ARRAY_FIELDS = (
    "instrument",
    "currency",
    "is_call",
    "strike",
    "expiry",
    "t",
    "bid",
    "ask",
    "futures",
    "underlying",
    "index",
    "open_interest",
)


def quote_columns(quotes: Sequence[OptionQuote]) -> QuoteColumns:
    """Column view of quotes (one pass over the objects)."""
    nan = math.nan
    expiries = tuple(sorted({q.expiry for q in quotes}))
    code = {e: i for i, e in enumerate(expiries)}

    def col(values: Iterator[float | None]) -> Array:
        return np.array([nan if v is None else v for v in values], dtype=float)

    return QuoteColumns(
        instrument=np.array([q.instrument for q in quotes], dtype=str),
        currency=np.array([q.currency for q in quotes], dtype=str),
        is_call=np.array([q.option_type == "call" for q in quotes], dtype=bool),
        strike=col(q.strike for q in quotes),
        expiry=np.array([code[q.expiry] for q in quotes], dtype=np.intp),
        expiries=expiries,
        t=col(q.t for q in quotes),
        bid=col(q.bid for q in quotes),
        ask=col(q.ask for q in quotes),
        futures=col(q.futures_price for q in quotes),
        underlying=col(q.underlying_price for q in quotes),
        index=col(q.index_price for q in quotes),
        open_interest=col(q.open_interest for q in quotes),
    )


@dataclass(frozen=True, slots=True)
class OptionChain:
    """A whole snapshot: every quote of every underlying, and when it was taken.

    `columns` is the same quotes as NumPy columns (built by read_chain; `table()` builds it if absent).
    """

    path: str
    observed_at: datetime
    quotes: tuple[OptionQuote, ...]
    columns: QuoteColumns | None = field(default=None, compare=False, repr=False)

    def table(self) -> QuoteColumns:
        return self.columns if self.columns is not None else quote_columns(self.quotes)

    def underlyings(self) -> list[str]:
        return sorted({q.currency for q in self.quotes})

    def for_underlying(self, currency: str) -> list[OptionQuote]:
        return [q for q in self.quotes if q.currency == currency]


class _Row:
    """Field access for one CSV row that raises a DataError naming the file, line and field."""

    def __init__(self, path: str, line: int, raw: dict[str, str]) -> None:
        self.path, self.line, self.raw = path, line, raw

    def fail(self, field: str, value: object, why: str) -> DataError:
        return DataError(self.path, self.line, field, value, why)

    def text(self, field: str) -> str:
        value = (self.raw.get(field) or "").strip()
        if not value:
            raise self.fail(field, value, "empty")
        return value

    def number(self, field: str, *, positive: bool = False) -> float:
        value = self.optional(field)
        if value is None:
            raise self.fail(field, "", "empty")
        if positive and value <= 0.0:
            raise self.fail(field, self.raw[field], "must be > 0")
        return value

    def optional(self, field: str) -> float | None:
        text = (self.raw.get(field) or "").strip()
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            raise self.fail(field, text, "not a number") from None
        if not math.isfinite(value):
            raise self.fail(field, text, "not finite")
        return value

    def time(self, field: str) -> datetime:
        text = self.text(field)
        try:
            stamp = datetime.fromisoformat(text)
        except ValueError:
            raise self.fail(field, text, "not an ISO-8601 timestamp") from None
        if stamp.tzinfo is None:
            raise self.fail(field, text, "timestamp without a time zone")
        return stamp


def _quote(row: _Row) -> tuple[OptionQuote, datetime]:
    kind = row.text("option_type").lower()
    if kind not in ("call", "put"):
        raise row.fail("option_type", kind, "must be call or put")
    bid, ask = row.optional("bid_price"), row.optional("ask_price")
    quote = OptionQuote(
        line=row.line,
        instrument=row.text("instrument_name"),
        currency=row.text("currency").upper(),
        option_type="call" if kind == "call" else "put",
        strike=row.number("strike", positive=True),
        expiry=row.time("expiry_datetime"),
        t=row.number("time_to_maturity", positive=True),
        bid=bid if bid is not None and bid > 0.0 else None,
        ask=ask if ask is not None and ask > 0.0 else None,
        mark=row.number("mark_price"),
        futures_price=row.optional("futures_price"),
        underlying_price=row.number("underlying", positive=True),
        index_price=row.number("index_price", positive=True),
        open_interest=row.optional("open_interest") or 0.0,
        volume=row.optional("volume"),
        mark_iv=row.optional("implied_volatility"),
        delta=row.optional("delta"),
        vega=row.optional("vega"),
    )
    if quote.futures_price is not None and quote.futures_price <= 0.0:
        raise row.fail("futures_price", quote.futures_price, "must be > 0")
    return quote, row.time("timestamp")


def _open(path: Path) -> TextIO:
    """The CSV as text; a `.gz` file is decompressed on the fly."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", newline="", encoding="utf-8")
    return path.open(newline="", encoding="utf-8")


def _rows(path: Path) -> Iterator[_Row]:
    with _open(path) as fh:
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []
        for name in REQUIRED:
            if name not in columns:
                raise DataError(str(path), 1, name, None, f"missing column (header has {len(columns)})")
        for raw in reader:
            yield _Row(str(path), reader.line_num, raw)


def read_chain(path: Path | str) -> OptionChain:
    """Parse a snapshot file; every row must be well formed (one bad row is an error, not a skip)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(str(path), None, None, str(path), "no such file")
    quotes: list[OptionQuote] = []
    latest: datetime | None = None
    try:
        for row in _rows(path):
            quote, stamp = _quote(row)
            quotes.append(quote)
            latest = stamp if latest is None or stamp > latest else latest
    except UnicodeDecodeError as exc:
        raise DataError(str(path), None, None, exc.reason, "not UTF-8 text") from None
    except csv.Error as exc:
        raise DataError(str(path), None, None, str(exc), "not a CSV file") from None
    except (OSError, EOFError, zlib.error) as exc:  # a corrupt or truncated .gz
        raise DataError(str(path), None, None, str(exc), "unreadable (corrupt gzip?)") from None
    if latest is None:
        raise DataError(str(path), None, None, "", "no option rows")
    return OptionChain(
        path=str(path), observed_at=latest, quotes=tuple(quotes), columns=quote_columns(quotes)
    )
