"""Readers for recorded OHLCV history: CryptoDataDownload hourly exports and the plain daily close file.

CryptoDataDownload (CDD) exports, as found in the real files, and what the reader does with each quirk:

* an optional banner line (``https://www.CryptoDataDownload.com``) before the header: skipped;
* header ``unix,date,symbol,open,high,low,close,Volume <BASE>,Volume <QUOTE>,tradecount``;
* rows run newest first: output is oldest first;
* ``unix`` is milliseconds in recent rows (``1609286400000``) and seconds with ``.0`` in old ones
  (``1502942400.0``): any value >= 1e11 is read as ms (1e11 s would be the year 5138);
* ``date`` is ``2020-12-30 00:00:00`` or ``2017-08-17 04-AM``: both are parsed and compared with
  ``unix``; when they disagree the unix time wins and a ``date_label_mismatch`` anomaly is reported
  (the BTC/ETH spot files have 91 rows, 2017-09-22..26, whose label is 4 h behind);
* ``tradecount`` ``NULL``: None;
* the same hour twice (the spot files splice two exports; 2020-08-01 23:00..2020-11-20 07:00 appear in
  both, once with ms epochs and full precision, once with second epochs rounded to cents and, for the
  splice hour, a partial bar): the ms-epoch row is kept (newer export, full precision, trade count),
  the other dropped and reported as ``duplicate_ts``;
* missing hours: kept as gaps and reported (``gap``), never filled;
* bars with zero volume (exchange maintenance: a flat bar repeating the last price, e.g. BTC spot
  2020-12-21 14:00) are kept in the series and reported (``no_trades``); `bars_to_ticks` emits no tick
  for them, since nothing was observed;
* bad prints, rule ``BAD_PRINT_FACTOR`` = 1.5: an open, high or low further than a factor 1.5 from the
  bar's own close is a bad print (the first BTC bar opens at 16,199.91 against a 4,308.83 close). The
  close is what ticks carry; it is kept when it is within the factor of the neighbouring closes, and
  the bar is repaired: open := previous close (the bar's close for the first bar), high/low := the
  max/min of the repaired open, the close and the untouched fields (``bad_print``/``repaired``).
  A bar whose *close* is beyond the factor from the median close of up to 3 bars either side is
  dropped (``bad_print``/``dropped``). No real hourly bar in the data moves 50% close to close (the 2020-03-12 crash is -15%
  in its worst hour), so real crashes pass untouched.
"""

from __future__ import annotations

import csv
import itertools
import math
import statistics
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from oracle_node.errors import DataError
from oracle_node.sources.base import Anomaly
from oracle_node.sources.files import (
    MAX_AMOUNT,
    MAX_PRICE,
    MIN_PRICE,
    check_time,
    complete,
    csv_header,
    csv_records,
    csv_rows,
    open_text,
)
from oracle_node.sources.tick import Tick

BAD_PRINT_FACTOR = 1.5
NEIGHBOURS = 3  # bars either side whose median close judges a close
MS_THRESHOLD = 1e11
CDD_BANNER_PREFIX = "http"
_CDD_REQUIRED = ("unix", "date", "symbol", "open", "high", "low", "close")


@dataclass(frozen=True, slots=True)
class OhlcvBar:
    """One bar; ts is the bar's open time in unix seconds (UTC); volumes in base and quote units."""

    ts: float
    open: float
    high: float
    low: float
    close: float
    volume_base: float | None
    volume_quote: float | None
    trades: int | None


@dataclass(frozen=True, slots=True)
class DailyClose:
    """One row of the plain daily file `date,price,volume` (ts = 00:00 UTC of the date)."""

    ts: float
    close: float
    volume_quote: float | None


@dataclass(frozen=True)
class OhlcvSeries:
    """Cleaned bars, oldest first, plus every anomaly found and what was done about it."""

    path: str
    symbol: str
    bars: tuple[OhlcvBar, ...]
    anomalies: tuple[Anomaly, ...]
    rows_read: int

    def anomalies_of(self, kind: str) -> list[Anomaly]:
        return [a for a in self.anomalies if a.kind == kind]

    def between(self, start: float, end: float) -> list[OhlcvBar]:
        """Bars with start <= ts <= end."""
        return [b for b in self.bars if start <= b.ts <= end]


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    ms_epoch: bool
    bar: OhlcvBar


def read_cdd_ohlcv(path: str | Path) -> OhlcvSeries:
    """Read a CryptoDataDownload OHLCV export (plain or .gz) into cleaned, oldest-first bars."""
    name = str(path)
    anomalies: list[Anomaly] = []
    with open_text(path) as fh:
        rows, symbol = _parse_cdd_rows(name, fh, anomalies)
    kept = _drop_duplicates(name, rows, anomalies)
    bars = _fix_bad_prints(name, kept, anomalies)
    anomalies.extend(_gaps(name, bars))
    return OhlcvSeries(name, symbol, tuple(bars), tuple(anomalies), len(rows))


def _parse_cdd_rows(name: str, fh: Iterable[str], anomalies: list[Anomaly]) -> tuple[list[_Row], str]:
    lines = iter(fh)
    first = next(lines, "")
    line_no = 1
    if first.lower().startswith(CDD_BANNER_PREFIX):
        first, line_no = next(lines, ""), 2
    header = next((cells for _, cells in csv_rows([first], name, line_no)), [])
    cols = _cdd_columns(name, line_no, header)
    rows: list[_Row] = []
    symbol = ""
    for offset, record in csv_rows(lines, name, line_no + 1):
        if not record or not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            raise DataError(name, offset, None, ",".join(record), f"expected {len(header)} columns")
        row = _parse_cdd_record(name, offset, record, cols)
        _check_label(name, offset, record[cols["date"]], row, anomalies)
        symbol = symbol or record[cols["symbol"]]
        rows.append(row)
    return rows, symbol


def _cdd_columns(name: str, line: int, header: Sequence[str]) -> dict[str, int]:
    lowered = [h.strip().lower() for h in header]
    missing = [c for c in _CDD_REQUIRED if c not in lowered]
    if missing:
        raise DataError(name, line, "header", ",".join(header), f"missing columns {missing}")
    cols = {c: lowered.index(c) for c in _CDD_REQUIRED}
    volumes = [i for i, h in enumerate(lowered) if h.startswith("volume")]
    cols["volume_base"] = volumes[0] if volumes else -1
    cols["volume_quote"] = volumes[1] if len(volumes) > 1 else -1
    cols["tradecount"] = lowered.index("tradecount") if "tradecount" in lowered else -1
    return cols


def _parse_cdd_record(name: str, line: int, record: list[str], cols: dict[str, int]) -> _Row:
    raw_unix = record[cols["unix"]].strip()
    unix = _num(name, line, "unix", raw_unix)
    ms_epoch = unix >= MS_THRESHOLD
    ts = check_time(name, line, "unix", raw_unix, unix / 1000.0 if ms_epoch else unix)
    prices = {
        f: _num(name, line, f, record[cols[f]], positive=True) for f in ("open", "high", "low", "close")
    }
    bar = OhlcvBar(
        ts=ts,
        volume_base=_opt_num(name, line, "volume_base", record, cols["volume_base"]),
        volume_quote=_opt_num(name, line, "volume_quote", record, cols["volume_quote"]),
        trades=_opt_int(name, line, record, cols["tradecount"]),
        **prices,
    )
    return _Row(line, ms_epoch, bar)


def _num(name: str, line: int, fld: str, raw: str, *, positive: bool = False) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise DataError(name, line, fld, raw, "not a number") from None
    if not math.isfinite(value):
        raise DataError(name, line, fld, raw, "not finite")
    if positive and value <= 0:
        raise DataError(name, line, fld, raw, "must be > 0")
    if positive and not MIN_PRICE <= value <= MAX_PRICE:
        raise DataError(
            name, line, fld, raw, f"outside [{MIN_PRICE:g}, {MAX_PRICE:g}] (a typo or a unit error?)"
        )
    if abs(value) > MAX_AMOUNT:
        raise DataError(name, line, fld, raw, f"beyond {MAX_AMOUNT:g} (a typo or a unit error?)")
    return value


def _opt_num(name: str, line: int, fld: str, record: list[str], col: int) -> float | None:
    if col < 0 or record[col].strip().upper() in ("", "NULL", "NAN"):
        return None
    value = _num(name, line, fld, record[col])
    if value < 0:
        raise DataError(name, line, fld, record[col], "volume must be >= 0")
    return value


def _opt_int(name: str, line: int, record: list[str], col: int) -> int | None:
    value = _opt_num(name, line, "tradecount", record, col)
    return None if value is None else int(value)


def parse_cdd_date(text: str) -> datetime:
    """`2020-12-30 00:00:00` or `2017-08-17 04-AM` (12-hour clock) as a UTC datetime."""
    fmt = "%Y-%m-%d %I-%p" if text.strip()[-2:].upper() in ("AM", "PM") else "%Y-%m-%d %H:%M:%S"
    return datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC)


def _check_label(name: str, line: int, label: str, row: _Row, anomalies: list[Anomaly]) -> None:
    try:
        label_ts = parse_cdd_date(label).timestamp()
    except ValueError:
        raise DataError(
            name, line, "date", label, "expected 'YYYY-MM-DD HH:MM:SS' or 'YYYY-MM-DD HH-AM'"
        ) from None
    if label_ts != row.bar.ts:
        detail = (
            f"label {label!r} is {(label_ts - row.bar.ts) / 3600:+.0f} h from the unix time {row.bar.ts:.0f}"
        )
        anomalies.append(Anomaly(name, line, "date_label_mismatch", detail, "used unix"))


def _drop_duplicates(name: str, rows: list[_Row], anomalies: list[Anomaly]) -> list[_Row]:
    """Oldest first; one bar per ts, preferring the ms-epoch (newer, full-precision) export."""
    chosen: dict[float, _Row] = {}
    for row in rows:
        held = chosen.get(row.bar.ts)
        if held is None:
            chosen[row.bar.ts] = row
            continue
        keep, drop = (row, held) if row.ms_epoch and not held.ms_epoch else (held, row)
        chosen[row.bar.ts] = keep
        anomalies.append(
            Anomaly(
                name,
                drop.line,
                "duplicate_ts",
                f"ts {row.bar.ts:.0f} also on line {keep.line}; close {drop.bar.close} vs {keep.bar.close}",
                f"kept line {keep.line}",
            )
        )
    return [chosen[ts] for ts in sorted(chosen)]


def _fix_bad_prints(name: str, rows: list[_Row], anomalies: list[Anomaly]) -> list[OhlcvBar]:
    closes = [r.bar.close for r in rows]
    out: list[OhlcvBar] = []
    for i, row in enumerate(rows):
        bar = row.bar
        ref = _neighbour_median(closes, i)
        if ref is not None and _off(bar.close, ref):
            detail = f"ts {bar.ts:.0f} close {bar.close} vs neighbours' median {ref}"
            anomalies.append(Anomaly(name, row.line, "bad_print", detail, "dropped"))
            continue
        wild = [f for f in ("open", "high", "low") if _off(getattr(bar, f), bar.close)]
        if wild:
            detail = f"ts {bar.ts:.0f} " + ", ".join(f"{f} {getattr(bar, f)}" for f in wild)
            anomalies.append(
                Anomaly(name, row.line, "bad_print", f"{detail} vs close {bar.close}", "repaired")
            )
        if bar.volume_base == 0:
            anomalies.append(
                Anomaly(name, row.line, "no_trades", f"ts {bar.ts:.0f} volume 0", "kept, no tick")
            )
        out.append(_repair(bar, out[-1].close if out else None, wild) if wild else bar)
    return out


def _neighbour_median(closes: list[float], i: int) -> float | None:
    """Median close of up to NEIGHBOURS bars either side of i (i excluded), None when alone."""
    window = closes[max(0, i - NEIGHBOURS) : i] + closes[i + 1 : i + 1 + NEIGHBOURS]
    return statistics.median(window) if window else None


def _off(value: float, ref: float) -> bool:
    return value > ref * BAD_PRINT_FACTOR or value < ref / BAD_PRINT_FACTOR


def _repair(bar: OhlcvBar, prev_close: float | None, wild: list[str]) -> OhlcvBar:
    open_ = (prev_close if prev_close is not None else bar.close) if "open" in wild else bar.open
    keep = [open_, bar.close]
    high = max([*keep, bar.high] if "high" not in wild else keep)
    low = min([*keep, bar.low] if "low" not in wild else keep)
    return replace(bar, open=open_, high=high, low=low)


def _gaps(name: str, bars: Sequence[OhlcvBar]) -> Iterator[Anomaly]:
    if len(bars) < 3:
        return
    steps = [b.ts - a.ts for a, b in itertools.pairwise(bars)]
    step = sorted(steps)[len(steps) // 2]
    for bar, gap in zip(bars, steps, strict=False):
        if gap > step:
            missing = round(gap / step) - 1
            yield Anomaly(name, None, "gap", f"{missing} bar(s) missing after ts {bar.ts:.0f}", "left as gap")


def read_daily_prices(path: str | Path) -> list[DailyClose]:
    """The plain daily file `date,price,volume` (oldest first, dates as 00:00 UTC)."""
    name = str(path)
    out: list[DailyClose] = []
    with open_text(path) as fh:
        reader = csv.DictReader(fh)
        fields = csv_header(reader, name)
        if fields is None or not {"date", "price"} <= set(fields):
            raise DataError(name, 1, "header", fields, "expected columns date,price[,volume]")
        for line, raw_rec in csv_records(reader, name):
            rec = complete(raw_rec, name, line, len(fields))
            ts = _date_ts(name, line, rec["date"])
            price = _num(name, line, "price", rec["price"], positive=True)
            raw_vol = (rec.get("volume") or "").strip()
            volume = None if raw_vol.upper() in ("", "NULL", "NAN") else _num(name, line, "volume", raw_vol)
            out.append(DailyClose(ts, price, volume))
    out.sort(key=lambda d: d.ts)
    return out


def _date_ts(name: str, line: int, text: str) -> float:
    try:
        ts = datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise DataError(name, line, "date", text, "expected YYYY-MM-DD") from None
    return check_time(name, line, "date", text, ts)


def bars_to_ticks(
    bars: Iterable[OhlcvBar | DailyClose],
    market: str,
    source: str,
    *,
    pool: str | None = None,
    at_close: bool = True,
    bar_seconds: float = 3600.0,
) -> list[Tick]:
    """One tick per bar: price = close, volume = quote volume.

    Bars with zero volume (no trade: the venue was down) give no tick. With `at_close` the tick is stamped at the bar's close time (open time + bar_seconds): the close is
    only known then, so a replay never sees a price before it existed.
    """
    shift = bar_seconds if at_close else 0.0
    return [
        Tick(ts=b.ts + shift, market=market, source=source, price=b.close, volume=b.volume_quote, pool=pool)
        for b in bars
        if b.volume_quote != 0
    ]
