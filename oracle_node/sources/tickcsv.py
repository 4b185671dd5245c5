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
                          time without offset is UTC. Values >= 1e11 are refused (milliseconds?)
market          yes       market id as published on-chain, e.g. ``BTC-USD`` (1..32 ASCII chars)
source          yes       the venue/feed name, e.g. ``binance_spot``
price           yes       reference price (last trade or mid) in quote units, > 0
bid, ask        no        best bid / ask, > 0
volume          no        traded volume in quote units over the source's window (bar or 24 h), >= 0
depth_bid/_ask  no        quote-currency amount resting within ±1 % of mid on each side, >= 0
funding_rate    no        perpetual funding, fraction per 8 hours (may be negative)
pool            no        (optional column) liquidity-pool id shared by sources that price from one
                          book; two sources with the same pool count once in the guard's quorum
==============  ========  ==========================================================================

An empty cell means unknown (None). Lines that are blank or start with ``#`` are ignored. Rows may
come in any order and may repeat: exact duplicate rows are dropped and the rest sorted by ``ts``
(stable, so equal timestamps keep file order). Column order may differ from the above as long as the
header names them; unknown columns are refused.

A malformed row (wrong column count, a bad or non-finite number, a price <= 0, a negative volume or
depth, an empty market or source, a bad timestamp) raises ``DataError(path, line, field, value,
why)``. With ``lenient=True`` (what ``replay`` uses) such rows are skipped and returned, with the
same information, in ``TickFile.skipped``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from oracle_node.errors import DataError
from oracle_node.sources.base import open_text, sorted_by_ts
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
_OPTIONAL_NONNEG = ("volume", "depth_bid", "depth_ask")
_OPTIONAL_POSITIVE = ("bid", "ask")


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


def read_ticks(path: str | Path, *, lenient: bool = False) -> TickFile:
    """Read a tick CSV (see the module docstring for the format)."""
    name = str(path)
    ticks: list[Tick] = []
    skipped: list[DataError] = []
    with open_text(path) as fh:
        lines = _numbered_rows(fh)
        header_line, header = next(lines, (1, []))
        columns = _check_header(name, header_line, header)
        for line, record in lines:
            try:
                ticks.append(parse_tick_row(name, line, columns, record))
            except DataError as err:
                if not lenient:
                    raise
                skipped.append(err)
    unique = list(dict.fromkeys(ticks))
    return TickFile(name, tuple(sorted_by_ts(unique)), tuple(skipped), len(ticks) - len(unique))


def _numbered_rows(fh: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of every row that is not blank or a # comment."""
    for line, text in enumerate(fh, start=1):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        yield line, next(csv.reader([text]))


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


def parse_tick_row(path: str, line: int, columns: tuple[str, ...], record: list[str]) -> Tick:
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
    optional = {f: _opt(path, line, f, cells[f], positive=True) for f in _OPTIONAL_POSITIVE}
    optional |= {f: _opt(path, line, f, cells[f], nonneg=True) for f in _OPTIONAL_NONNEG}
    optional["funding_rate"] = _opt(path, line, "funding_rate", cells["funding_rate"])
    price = _opt(path, line, "price", cells["price"], positive=True)
    if price is None:
        raise DataError(path, line, "price", cells["price"], "required, empty")
    return Tick(
        ts=parse_ts(path, line, cells["ts"]),
        market=cells["market"],
        source=cells["source"],
        price=price,
        pool=cells.get(POOL_COLUMN) or None,
        **optional,
    )


def _opt(
    path: str, line: int, fld: str, raw: str, *, positive: bool = False, nonneg: bool = False
) -> float | None:
    if raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise DataError(path, line, fld, raw, "not a number") from None
    if not math.isfinite(value):
        raise DataError(path, line, fld, raw, "not finite")
    if positive and value <= 0:
        raise DataError(path, line, fld, raw, "must be > 0")
    if nonneg and value < 0:
        raise DataError(path, line, fld, raw, "must be >= 0")
    return value


def parse_ts(path: str, line: int, raw: str) -> float:
    """Unix seconds or ISO-8601 (naive = UTC) to unix seconds."""
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
    return value


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
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for t in rows:
            writer.writerow([_cell(getattr(t, c)) for c in header])
    return len(rows)
