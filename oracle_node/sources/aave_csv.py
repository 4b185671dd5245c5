"""Recorded Aave V2 liquidation events (the research CSV of ../shared/data/liquidations): their times.

The file (TheRensselaerIDEA/IDEA-Blockchain) has one row per `LiquidationCall` with a unix-seconds
`timestamp` column and a `type` column (`liquidation`). Its USD columns are not usable as recorded
(e.g. amountUSDCollateral 1.9e22 for a USDT/ENJ liquidation: raw token units, not dollars), so only
the event times are read: the liquidation-intensity features count events per day. A missing or
non-numeric timestamp, or one outside [2009-01-03, now], is a DataError naming the line.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oracle_node.errors import DataError
from oracle_node.sources.files import check_time, complete, csv_header, csv_records, open_text


@dataclass(frozen=True, eq=False)
class LiquidationTimes:
    """Event times in unix seconds, ascending."""

    path: str
    ts: np.ndarray

    @property
    def span(self) -> tuple[float, float]:
        return float(self.ts[0]), float(self.ts[-1])


def event_time(name: str, line: int, raw: str) -> float:
    """A row's `timestamp` (unix seconds), or DataError naming the file, line and value."""
    text = raw.strip()
    try:
        value = float(text)
    except ValueError:
        raise DataError(name, line, "timestamp", text, "not a number") from None
    return check_time(name, line, "timestamp", text, value)


def read_aave_liquidations(path: str | Path) -> LiquidationTimes:
    name = str(path)
    times: list[float] = []
    with open_text(path) as fh:
        reader = csv.DictReader(fh)
        fields = csv_header(reader, name)
        if fields is None or "timestamp" not in fields:
            raise DataError(name, 1, "header", fields, "expected a timestamp column (unix seconds)")
        for line, raw in csv_records(reader, name, 1):
            rec = complete(raw, name, line, len(fields))
            times.append(event_time(name, line, rec["timestamp"]))
    if not times:
        raise DataError(name, None, "timestamp", None, "no liquidation events")
    return LiquidationTimes(name, np.sort(np.array(times)))
