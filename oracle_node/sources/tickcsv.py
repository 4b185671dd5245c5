"""The multi-source tick CSV: the node's documented replay format (reader and writer).

Format
------
UTF-8 CSV (optionally gzip-compressed, ``*.csv.gz``) with a header line naming the columns::

    ts,market,source,price,bid,ask,volume,depth_bid,depth_ask,funding_rate[,pool]

One row is one observation of one market on one source at one time.

==============  ========  ==========================================================================
column          required  meaning
==============  ========  ==========================================================================
ts              yes       unix seconds, integer or decimal (``1596340800``, ``1596340800.25``), or
                          ISO-8601 (``2020-08-02T04:00:00Z``, ``2020-08-02 04:00:00+02:00``); a
                          time without offset is UTC. Values >= 1e11 are refused (milliseconds?),
                          and so is any time before 2009-01-03 or more than 1 day after now
market          yes       market id as published on-chain, e.g. ``BTC-USD`` (1..32 ASCII chars)
source          yes       the venue/feed name, e.g. ``binance_spot``
price           yes       reference price (last trade or mid) in quote units, in [1e-15, 1e15]
bid, ask        no        best bid / ask, in [1e-15, 1e15]; bid > ask (a crossed book) is refused
volume          no        traded volume in quote units over the source's window (bar or 24 h),
                          in [0, 1e18]
depth_bid/_ask  no        quote-currency amount resting within ±1 % of mid on each side, [0, 1e18]
funding_rate    no        perpetual funding, fraction per 8 hours, in [-1, 1]
pool            no        (optional column) liquidity-pool id shared by sources that price from one
                          book; two sources with the same pool count once in the guard's quorum
==============  ========  ==========================================================================

The file is UTF-8 (a leading BOM is accepted). An empty cell means unknown (None). Lines that are
blank or start with ``#`` are ignored. Rows may come in any order and may repeat: exact duplicate
rows are dropped and the rest sorted by ``ts`` (stable, so equal timestamps keep file order). Column
order may differ from the above as long as the header names them; unknown columns are refused.

A malformed row (wrong column count, a bad or non-finite number, a value outside the ranges above,
a crossed book, an empty market or source, a bad timestamp, a cell beyond the csv module's field
limit) raises ``DataError(path, line, field, value, why)``. With ``lenient=True`` (what ``replay``
uses) such rows are skipped and returned, with the same information, in ``TickFile.skipped``.

Large files: `read_ticks` holds every tick in memory (it sorts them). `iter_ticks` streams the valid
ticks in file order and `iter_rounds` streams the (ts, ticks) groups of a file already in time order
(the usual case for a recording), so `replay` runs on millions of rows in bounded memory;
`scan_ticks` is the cheap first pass that says whether a file is in order and what it holds.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from oracle_node.atomic import atomic_write
from oracle_node.errors import DataError
from oracle_node.sources.base import sorted_by_ts
from oracle_node.sources.files import MAX_AMOUNT, MAX_PRICE, MIN_PRICE, check_time, open_text
from oracle_node.sources.tick import Tick

COLUMNS: tuple[str, ...] = (
    "ts",
    "market",
    "source",
    "price",
    "bid",
    "ask",
    "volume",
    "depth_bid",
    "depth_ask",
    "funding_rate",
)
POOL_COLUMN = "pool"
MAX_UNIX_SECONDS = 1e11
MAX_FUNDING_RATE = 1.0  # 100 % per 8 hours: beyond it the column is in percent or a typo


@dataclass(frozen=True)
class _Range:
    """The values a column accepts: the sign rule first, then the plausible magnitude."""

    low: float
    high: float
    low_open: bool  # low itself is refused (prices must be > 0)
    hint: str
    smallest: float = 0.0  # a positive value below this is refused too

    def problem(self, value: float) -> str | None:
        if value < self.low or (self.low_open and value == self.low):
            hint = f" ({self.hint})" if self.low != 0 else ""
            return f"must be {'>' if self.low_open else '>='} {self.low:g}{hint}"
        if value > self.high:
            return f"must be <= {self.high:g} ({self.hint})"
        if 0 < value < self.smallest:
            return f"must be >= {self.smallest:g} ({self.hint})"
        return None


PRICE_RANGE = _Range(0.0, MAX_PRICE, True, "a typo or a unit error?", MIN_PRICE)
AMOUNT_RANGE = _Range(0.0, MAX_AMOUNT, False, "a typo or a unit error?")
FUNDING_RANGE = _Range(-MAX_FUNDING_RATE, MAX_FUNDING_RATE, False, "a fraction per 8 h, not percent")
_OPTIONAL_AMOUNTS = ("volume", "depth_bid", "depth_ask")
_OPTIONAL_PRICES = ("bid", "ask")


@dataclass(frozen=True)
class TickFile:
    """The ticks of one file in time order, and (lenient mode) the rows that were skipped."""

    path: str
    ticks: tuple[Tick, ...]
    skipped: tuple[DataError, ...]
    duplicates: int

    @property
    def markets(self) -> tuple[str, ...]:
        return tuple(sorted({t.market for t in self.ticks}))

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(sorted({t.source for t in self.ticks}))


@dataclass(frozen=True)
class TickScan:
    """What one streaming pass over a tick file found (no tick kept)."""

    path: str
    markets: tuple[str, ...]
    ticks: int  # valid rows, duplicates included
    rounds: int  # distinct timestamps when in order (else 0)
    first_ts: float | None
    in_order: bool  # every valid row's ts >= the previous one's: `iter_rounds` can stream it
    skipped: int


SkipHandler = Callable[[DataError], None]


def read_ticks(path: str | Path, *, lenient: bool = False, now: float | None = None) -> TickFile:
    """Read a whole tick CSV into memory, sorted (see the module docstring for the format)."""
    skipped: list[DataError] = []
    ticks = list(iter_ticks(path, lenient=lenient, on_skip=skipped.append, now=now))
    unique = list(dict.fromkeys(ticks))
    return TickFile(str(path), tuple(sorted_by_ts(unique)), tuple(skipped), len(ticks) - len(unique))


def iter_ticks(
    path: str | Path, *, lenient: bool = False, on_skip: SkipHandler | None = None, now: float | None = None
) -> Iterator[Tick]:
    """The valid ticks in file order, one row at a time; a bad row raises, or (lenient) goes to on_skip."""
    name = str(path)
    with open_text(path) as fh:
        lines = _numbered_lines(fh)
        header_line, header = next(lines, (1, ""))
        columns = _check_header(name, header_line, _cells(name, header_line, header))
        for line, text in lines:
            try:
                yield parse_tick_row(name, line, columns, _cells(name, line, text), now=now)
            except DataError as err:
                if not lenient:
                    raise
                if on_skip is not None:
                    on_skip(err)


def iter_rounds(
    path: str | Path, *, lenient: bool = False, on_skip: SkipHandler | None = None, now: float | None = None
) -> Iterator[tuple[float, list[Tick]]]:
    """(ts, ticks at ts) of a file in time order, streaming; exact duplicate rows dropped.

    DataError when a row goes back in time (`scan_ticks` says beforehand whether a file is in order).
    """
    ts: float | None = None
    group: dict[Tick, None] = {}
    for tick in iter_ticks(path, lenient=lenient, on_skip=on_skip, now=now):
        if ts is not None and tick.ts != ts:
            if tick.ts < ts:
                raise DataError(str(path), None, "ts", tick.ts, f"rows not in time order (after {ts})")
            yield ts, list(group)
            group = {}
        ts = tick.ts
        group[tick] = None
    if ts is not None:
        yield ts, list(group)


def scan_ticks(
    path: str | Path, *, lenient: bool = True, on_skip: SkipHandler | None = None, now: float | None = None
) -> TickScan:
    """One streaming pass: markets, counts, first time, and whether the rows are in time order."""
    markets: set[str] = set()
    count = rounds = skipped = 0
    first: float | None = None
    last: float | None = None
    in_order = True

    def skip(err: DataError) -> None:
        nonlocal skipped
        skipped += 1
        if on_skip is not None:
            on_skip(err)

    for tick in iter_ticks(path, lenient=lenient, on_skip=skip, now=now):
        count += 1
        markets.add(tick.market)
        if last is None or tick.ts != last:
            rounds += 1
            in_order = in_order and (last is None or tick.ts > last)
        first = tick.ts if first is None else min(first, tick.ts)
        last = tick.ts
    return TickScan(
        str(path), tuple(sorted(markets)), count, rounds if in_order else 0, first, in_order, skipped
    )


def _numbered_lines(fh: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line that is not blank or a # comment."""
    for line, text in enumerate(fh, start=1):
        stripped = text.strip()
        if stripped and not stripped.startswith("#"):
            yield line, text


def _cells(path: str, line: int, text: str) -> list[str]:
    try:
        return next(csv.reader([text]), [])
    except csv.Error as exc:
        raise DataError(path, line, None, text, f"not a valid CSV row ({exc})") from None


def _check_header(path: str, line: int, header: list[str]) -> tuple[str, ...]:
    names = tuple(h.strip().lower() for h in header)
    missing = [c for c in COLUMNS if c not in names]
    unknown = [c for c in names if c not in (*COLUMNS, POOL_COLUMN)]
    if missing or unknown or len(set(names)) != len(names):
        why = f"missing {missing}" if missing else f"unknown or repeated columns {unknown or names}"
        raise DataError(
            path, line, "header", ",".join(header), why + f"; expected {','.join(COLUMNS)}[,pool]"
        )
    return names


def parse_tick_row(
    path: str, line: int, columns: tuple[str, ...], record: list[str], *, now: float | None = None
) -> Tick:
    """One data row to a Tick, or DataError naming the line, field and value."""
    if len(record) != len(columns):
        raise DataError(
            path, line, None, ",".join(record), f"{len(record)} columns, header has {len(columns)}"
        )
    cells = {c: v.strip() for c, v in zip(columns, record, strict=True)}
    for fld in ("market", "source"):
        if not cells[fld]:
            raise DataError(path, line, fld, cells[fld], "required, empty")
    if len(cells["market"]) > 32 or not cells["market"].isascii():
        raise DataError(path, line, "market", cells["market"], "must be 1..32 ASCII characters")
    price = _opt(path, line, "price", cells["price"], PRICE_RANGE)
    if price is None:
        raise DataError(path, line, "price", cells["price"], "required, empty")
    optional = {f: _opt(path, line, f, cells[f], PRICE_RANGE) for f in _OPTIONAL_PRICES}
    optional |= {f: _opt(path, line, f, cells[f], AMOUNT_RANGE) for f in _OPTIONAL_AMOUNTS}
    optional["funding_rate"] = _opt(path, line, "funding_rate", cells["funding_rate"], FUNDING_RANGE)
    bid, ask = optional["bid"], optional["ask"]
    if bid is not None and ask is not None and bid > ask:
        raise DataError(
            path,
            line,
            "bid",
            f"{cells['bid']} > ask {cells['ask']}",
            "crossed book (bid above ask): quote rejected",
        )
    return Tick(
        ts=parse_ts(path, line, cells["ts"], now=now),
        market=cells["market"],
        source=cells["source"],
        price=price,
        pool=cells.get(POOL_COLUMN) or None,
        **optional,
    )


def _opt(
    path: str, line: int, fld: str, raw: str, bounds: tuple[float, float, str] | None = None
) -> float | None:
    if raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise DataError(path, line, fld, raw, "not a number") from None
    if not math.isfinite(value):
        raise DataError(path, line, fld, raw, "not finite")
    problem = bounds.problem(value)
    if problem is not None or (bounds is PRICE_RANGE and value < MIN_PRICE):
        raise DataError(
            path, line, fld, raw, problem or f"must be >= {MIN_PRICE:g} (a typo or a unit error?)"
        )
    return value


def parse_ts(path: str, line: int, raw: str, *, now: float | None = None) -> float:
    """Unix seconds or ISO-8601 (naive = UTC) to unix seconds, within [2009-01-03, now + 1 day]."""
    if not raw:
        raise DataError(path, line, "ts", raw, "required, empty")
    try:
        value = float(raw)
    except ValueError:
        value = _iso_ts(path, line, raw)
    if not math.isfinite(value) or value <= 0:
        raise DataError(path, line, "ts", raw, "must be a positive finite unix time")
    if value >= MAX_UNIX_SECONDS:
        raise DataError(path, line, "ts", raw, "too large for unix seconds (milliseconds?)")
    return check_time(path, line, "ts", raw, value, now)


def _iso_ts(path: str, line: int, raw: str) -> float:
    text = raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise DataError(path, line, "ts", raw, "neither unix seconds nor ISO-8601") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def _cell(value: float | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def write_ticks(path: str | Path, ticks: Iterable[Tick], *, with_pool: bool | None = None) -> int:
    """Write ticks in the documented format (exact float round trip); returns the number of rows.

    The `pool` column is written when `with_pool` is True, or (None) when any tick has a pool.
    """
    rows = list(ticks)
    pool = any(t.pool for t in rows) if with_pool is None else with_pool
    header = [*COLUMNS, POOL_COLUMN] if pool else list(COLUMNS)
    with atomic_write(path, newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for t in rows:
            writer.writerow([_cell(getattr(t, c)) for c in header])
    return len(rows)
