"""Plain time series from recorded files: perpetual funding (daily CSV, 8-hourly JSON) and Deribit DVOL.

Units after loading (the published units differ; these helpers convert so callers never guess):

* funding rates are **fractions per 8 hours** (0.0001 = 0.01 % per 8 h, Binance's neutral rate);
* the daily funding file (`date,funding_mean,funding_abs`) is already in fractions: its mean of the
  day's 8 h rates is kept as published;
* the 8-hourly JSON `[[ms, rate], ...]` is published in **percent**. Checked against the daily file
  over the 1,106 days both cover (2022-11-03..2025-11-12): the daily mean of the JSON values divided
  by the daily file's mean has median exactly 100.0, a least-squares slope of 100.006 and a
  correlation of 0.99999, so `FUNDING_8H_SCALE` = 1/100 converts it. Its timestamps carry a few ms
  of settlement jitter (1667462400016); they are kept to the millisecond, in seconds;
* DVOL is published as annualised implied volatility in percent points (56.76); it is returned as a
  fraction (0.5676).
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from oracle_node.errors import DataError
from oracle_node.sources.files import check_time, complete, csv_header, csv_records, open_text

FUNDING_8H_SCALE = 0.01  # the 8h JSON is in percent
DVOL_SCALE = 0.01  # DVOL is in vol points (percent)


@dataclass(frozen=True)
class TimeSeries:
    """Parallel tuples of unix seconds (ascending) and values, with the unit of the values."""

    ts: tuple[float, ...]
    values: tuple[float, ...]
    unit: str

    def __len__(self) -> int:
        return len(self.ts)

    def between(self, start: float, end: float) -> TimeSeries:
        pairs = [(t, v) for t, v in zip(self.ts, self.values, strict=True) if start <= t <= end]
        return TimeSeries(tuple(t for t, _ in pairs), tuple(v for _, v in pairs), self.unit)


@dataclass(frozen=True)
class DailyFunding:
    """Daily mean and mean absolute funding, fractions per 8 h."""

    mean: TimeSeries
    mean_abs: TimeSeries


def _finite(path: str, line: int | None, field: str, raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise DataError(path, line, field, raw, "not a number")
    try:
        value = float(raw)
    except ValueError:
        raise DataError(path, line, field, raw, "not a number") from None
    except OverflowError:  # a JSON integer with hundreds of digits
        raise DataError(path, line, field, raw, "not finite (too large for a float)") from None
    if not math.isfinite(value):
        raise DataError(path, line, field, raw, "not finite")
    return value


def read_funding_daily(path: str | Path) -> DailyFunding:
    """`date,funding_mean,funding_abs` (fractions per 8 h) as two series stamped 00:00 UTC."""
    name = str(path)
    ts: list[float] = []
    mean: list[float] = []
    mean_abs: list[float] = []
    with open_text(path) as fh:
        reader = csv.DictReader(fh)
        fields = csv_header(reader, name)
        if fields is None or not {"date", "funding_mean", "funding_abs"} <= set(fields):
            raise DataError(name, 1, "header", fields, "expected date,funding_mean,funding_abs")
        for line, raw_rec in csv_records(reader, name):
            rec = complete(raw_rec, name, line, len(fields))
            try:
                day = datetime.strptime(rec["date"].strip(), "%Y-%m-%d").replace(tzinfo=UTC)
            except ValueError:
                raise DataError(name, line, "date", rec["date"], "expected YYYY-MM-DD") from None
            ts.append(check_time(name, line, "date", rec["date"], day.timestamp()))
            mean.append(_finite(name, line, "funding_mean", rec["funding_mean"]))
            mean_abs.append(_finite(name, line, "funding_abs", rec["funding_abs"]))
    order = sorted(range(len(ts)), key=ts.__getitem__)
    t = tuple(ts[i] for i in order)
    unit = "fraction per 8h"
    return DailyFunding(
        TimeSeries(t, tuple(mean[i] for i in order), unit),
        TimeSeries(t, tuple(mean_abs[i] for i in order), unit),
    )


def read_ms_pairs(path: str | Path, scale: float, unit: str) -> TimeSeries:
    """A JSON file `[[ms, value], ...]` as seconds and value * scale, sorted, duplicates rejected."""
    name = str(path)
    with open_text(path) as fh:
        try:
            raw = json.load(fh)
        except json.JSONDecodeError as exc:
            raise DataError(name, exc.lineno, None, exc.msg, "not valid JSON") from None
    if not isinstance(raw, list):
        raise DataError(name, None, None, type(raw).__name__, "expected a JSON list of [ms, value] pairs")
    pairs: list[tuple[float, float]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, list) or len(item) != 2:
            raise DataError(name, None, f"[{i}]", item, "expected a [ms, value] pair")
        ts = check_time(name, None, f"[{i}][0]", item[0], _finite(name, None, f"[{i}][0]", item[0]) / 1000.0)
        pairs.append((ts, _finite(name, None, f"[{i}][1]", item[1]) * scale))
    pairs.sort(key=lambda p: p[0])
    for (a, _), (b, _) in itertools.pairwise(pairs):
        if a == b:
            raise DataError(name, None, "ts", a, "duplicate timestamp")
    return TimeSeries(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs), unit)


def read_funding_8h(path: str | Path) -> TimeSeries:
    """The 8-hourly funding JSON, converted from percent to a fraction per 8 h."""
    return read_ms_pairs(path, FUNDING_8H_SCALE, "fraction per 8h")


def read_dvol(path: str | Path) -> TimeSeries:
    """Deribit DVOL daily JSON as annualised implied volatility, a fraction (0.5676 = 56.76 vol points)."""
    return read_ms_pairs(path, DVOL_SCALE, "annualised vol fraction")


def daily_means(series: TimeSeries) -> dict[float, float]:
    """Mean of the values per UTC day, keyed by the day's 00:00 UTC unix time."""
    sums: dict[float, list[float]] = {}
    for t, v in zip(series.ts, series.values, strict=True):
        sums.setdefault(t - t % 86400, []).append(v)
    return {day: sum(vs) / len(vs) for day, vs in sums.items()}
