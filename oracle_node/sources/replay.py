"""Replay sources over recorded history, and the builder of multi-source tick files from OHLCV exports.

`TickReplay` is the node's `ReplaySource`: ticks in time order from a tick CSV (see
`oracle_node.sources.tickcsv` for the format) or any list of ticks, with `rounds()` grouping the
ticks that share a timestamp (one guard round each).

`build_tick_file` turns CryptoDataDownload OHLCV exports into one tick CSV, one source per export,
restricted to the window every export covers. The demo and the scenarios use it for two real venues
of one market: Binance BTC/USDT spot and the Binance USDT-margined perpetual, hourly, 2020-08-02..
2020-12-30 (`binance_btc_spot_perp_feeds`), with the perpetual's daily mean funding attached.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from oracle_node.errors import DataError
from oracle_node.sources.base import Anomaly, sorted_by_ts
from oracle_node.sources.ohlcv import bars_to_ticks, read_cdd_ohlcv
from oracle_node.sources.series import DailyFunding
from oracle_node.sources.tick import Tick
from oracle_node.sources.tickcsv import TickFile, read_ticks, write_ticks


class TickReplay:
    """Recorded ticks replayed in time order (a `ReplaySource`)."""

    def __init__(
        self, ticks: Sequence[Tick], name: str = "replay", skipped: Sequence[DataError] = ()
    ) -> None:
        self.name = name
        self._ticks = tuple(sorted_by_ts(ticks))
        self.markets = tuple(sorted({t.market for t in self._ticks}))
        self.sources = tuple(sorted({t.source for t in self._ticks}))
        self.skipped = tuple(skipped)

    @classmethod
    def from_file(cls, path: str | Path, *, lenient: bool = True) -> TickReplay:
        """A replay of a tick CSV; malformed rows are skipped (and kept in `skipped`) unless strict."""
        tick_file: TickFile = read_ticks(path, lenient=lenient)
        return cls(tick_file.ticks, name=f"replay:{Path(path).name}", skipped=tick_file.skipped)

    def __iter__(self) -> Iterator[Tick]:
        return iter(self._ticks)

    def __len__(self) -> int:
        return len(self._ticks)

    def rounds(self) -> Iterator[tuple[float, list[Tick]]]:
        """(ts, ticks at that ts) in time order."""
        for ts, group in itertools.groupby(self._ticks, key=lambda t: t.ts):
            yield ts, list(group)

    def window(self, start: float, end: float) -> TickReplay:
        """The ticks with start <= ts <= end."""
        return TickReplay([t for t in self._ticks if start <= t.ts <= end], self.name)


@dataclass(frozen=True)
class OhlcvFeed:
    """One OHLCV export replayed as one source of one market."""

    path: Path
    market: str
    source: str
    pool: str | None = None
    funding: DailyFunding | None = None  # daily mean funding attached to each tick (perpetuals)


@dataclass(frozen=True)
class BuiltTicks:
    """What `build_ticks` produced: the ticks, the common window, and the anomalies of the inputs."""

    ticks: tuple[Tick, ...]
    start: float
    end: float
    anomalies: tuple[Anomaly, ...]


def build_ticks(
    feeds: Sequence[OhlcvFeed], start: float | None = None, end: float | None = None
) -> BuiltTicks:
    """Ticks of every feed within the window all feeds cover (narrowed by start/end), time ordered."""
    per_feed: list[list[Tick]] = []
    anomalies: list[Anomaly] = []
    for feed in feeds:
        series = read_cdd_ohlcv(feed.path)
        anomalies.extend(series.anomalies)
        ticks = bars_to_ticks(series.bars, feed.market, feed.source, pool=feed.pool)
        per_feed.append(_with_funding(ticks, feed.funding) if feed.funding else ticks)
    lo = max([ticks[0].ts for ticks in per_feed if ticks] + ([start] if start is not None else []))
    hi = min([ticks[-1].ts for ticks in per_feed if ticks] + ([end] if end is not None else []))
    if not per_feed or any(not ticks for ticks in per_feed) or lo > hi:
        raise DataError(",".join(str(f.path) for f in feeds), None, "ts", (lo, hi), "feeds share no window")
    merged = [t for ticks in per_feed for t in ticks if lo <= t.ts <= hi]
    return BuiltTicks(tuple(sorted_by_ts(merged)), lo, hi, tuple(anomalies))


def _with_funding(ticks: list[Tick], funding: DailyFunding) -> list[Tick]:
    by_day = dict(zip(funding.mean.ts, funding.mean.values, strict=True))
    # a bar closing at 00:00 belongs to the previous day: use the day of (close - 1 s)
    return [replace(t, funding_rate=by_day.get((t.ts - 1) - (t.ts - 1) % 86400)) for t in ticks]


def build_tick_file(
    feeds: Sequence[OhlcvFeed], out: str | Path, start: float | None = None, end: float | None = None
) -> BuiltTicks:
    """`build_ticks` written to `out` in the tick CSV format."""
    built = build_ticks(feeds, start, end)
    write_ticks(out, built.ticks)
    return built


def binance_btc_spot_perp_feeds(
    data_dir: str | Path, funding: DailyFunding | None = None, market: str = "BTC-USD"
) -> list[OhlcvFeed]:
    """Binance BTC/USDT spot and USDT-M perpetual hourly exports as two venues of `market`.

    `data_dir` holds the files either as shipped in ../shared/data/prices (`.csv`) or bundled in
    oracle_node/data (`.csv.gz`).
    """
    base = Path(data_dir)

    def pick(stem: str) -> Path:
        for candidate in (base / f"{stem}.csv", base / f"{stem}.csv.gz"):
            if candidate.exists():
                return candidate
        raise DataError(str(base / f"{stem}.csv"), None, None, None, "file not found (nor .csv.gz)")

    return [
        OhlcvFeed(pick("binance_btcusdt_spot_1h_2017_2021"), market, "binance_spot"),
        OhlcvFeed(pick("binance_btcusdt_perp_1h_2020"), market, "binance_perp", funding=funding),
    ]
