"""Replay sources and the multi-source tick file built from the real Binance spot + perp exports."""

from __future__ import annotations

from pathlib import Path

import pytest

from oracle_node.errors import DataError
from oracle_node.sources.base import ReplaySource
from oracle_node.sources.replay import (
    OhlcvFeed,
    TickReplay,
    binance_btc_spot_perp_feeds,
    build_tick_file,
    build_ticks,
)
from oracle_node.sources.series import read_funding_daily
from oracle_node.sources.tickcsv import read_ticks

TICKS = Path(__file__).resolve().parents[1] / "fixtures" / "ticks"
BUNDLED = Path(__file__).resolve().parents[2] / "oracle_node" / "data"


def test_build_tick_file__binance_spot_perp__two_venues_over_overlap(
    shared_data: Path, tmp_path: Path
) -> None:
    funding = read_funding_daily(shared_data / "funding" / "btc_perp_funding_daily_2019_2026.csv")
    feeds = binance_btc_spot_perp_feeds(shared_data / "prices", funding)
    built = build_tick_file(feeds, tmp_path / "btc.csv")
    by_source = {s: [t for t in built.ticks if t.source == s] for s in ("binance_spot", "binance_perp")}
    assert (built.start, built.end) == (1596337200.0, 1609290000.0)  # 2020-08-02 03:00 .. 2020-12-30 01:00
    assert len(by_source["binance_perp"]) == 3_599
    assert len(by_source["binance_spot"]) == 3_593  # 5 missing hours and 1 idle hour in spot
    assert [t.ts for t in built.ticks] == sorted(t.ts for t in built.ticks)
    perp0 = by_source["binance_perp"][0]
    assert (perp0.price, perp0.funding_rate) == (11940.59, pytest.approx(5.42496666666667e-4))
    assert all(t.funding_rate is None for t in by_source["binance_spot"])
    assert read_ticks(tmp_path / "btc.csv").ticks == built.ticks


def test_build_ticks__bundled_gz_copies__same_ticks_as_shared(shared_data: Path) -> None:
    shared = build_ticks(binance_btc_spot_perp_feeds(shared_data / "prices"))
    bundled = build_ticks(binance_btc_spot_perp_feeds(BUNDLED))
    assert bundled.ticks == shared.ticks


def test_build_ticks__window_narrowed__only_ticks_inside(shared_data: Path) -> None:
    crash_day = 1584000000.0  # 2020-03-12 08:00 UTC: before the perp file starts
    spot = OhlcvFeed(shared_data / "prices" / "binance_btcusdt_spot_1h_2017_2021.csv", "BTC-USD", "s")
    built = build_ticks([spot], start=crash_day, end=crash_day + 86400)
    assert len(built.ticks) == 25 and built.ticks[0].ts == crash_day
    prices = [t.price for t in built.ticks]
    assert min(prices) / max(prices) < 0.75  # the real COVID crash is in the data, untouched


def test_build_ticks__disjoint_windows__data_error(shared_data: Path) -> None:
    spot = OhlcvFeed(shared_data / "prices" / "binance_btcusdt_spot_1h_2017_2021.csv", "BTC-USD", "s")
    with pytest.raises(DataError, match="share no window"):
        build_ticks([spot], start=1.7e9, end=1.8e9)


def test_tick_replay__from_file__time_ordered_rounds_and_skipped_rows() -> None:
    replay = TickReplay.from_file(TICKS / "malformed.csv")
    assert isinstance(replay, ReplaySource)
    assert [t.price for t in replay] == [12026.41, 12290.0]
    assert len(replay.skipped) == 11 and replay.skipped[0].line == 3
    good = TickReplay.from_file(TICKS / "good.csv")
    rounds = [(ts, sorted(t.source for t in group)) for ts, group in good.rounds()]
    assert rounds[0] == (1596337200.0, ["binance_spot"])
    assert rounds[1] == (1596340800.0, ["binance_api2", "binance_spot", "okx_swap", "okx_swap"])
    assert good.markets == ("BTC-USD", "ETH-USD") and len(good.window(0, 1596340800.0)) == 5


def test_tick_replay__strict__malformed_raises() -> None:
    with pytest.raises(DataError) as err:
        TickReplay.from_file(TICKS / "malformed.csv", lenient=False)
    assert err.value.line == 3
