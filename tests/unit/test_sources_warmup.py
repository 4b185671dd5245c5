"""Warm-up history from OHLCV: Binance kline CSVs of any interval and a venue's OHLCV through ccxt.

The bars are real (the bundled Binance ETH/USDT hourly export) in Binance's formats; the ccxt client
is the real one, its HTTPS transport answered in-process (tests/unit/klines_venue.py), no socket.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from pydantic import ValidationError

from oracle_node.config import MarketConfig
from oracle_node.errors import ConfigError, DataError, SourceError
from oracle_node.sources.ccxt_history import fetch_history
from oracle_node.sources.history import load_history
from tests.unit.klines_venue import (
    DAY,
    HOUR,
    RecordedBinance,
    daily_bars,
    hourly_between,
    kline_csv,
    recorded_binance,
)

START = datetime(2021, 1, 1, tzinfo=UTC).timestamp()
END = datetime(2021, 6, 1, tzinfo=UTC).timestamp()
NOW = datetime(2021, 5, 20, 12, 30, tzinfo=UTC).timestamp()


def test_load_history__binance_kline_csv_1h__each_day_closes_at_its_last_bar(tmp_path: Path) -> None:
    bars = hourly_between(START, END)
    history = load_history("ETH-USD", str(kline_csv(tmp_path / "ETHUSDT-1h-2021.csv", bars, HOUR)))
    by_open = {b.ts: b for b in bars}
    assert len(history) >= 140  # five months less days with < 20 bars (outages)
    for ts, close, volume in zip(history.ts, history.close, history.volume, strict=True):
        day_bars = [b for b in bars if ts - DAY <= b.ts < ts]
        assert close == day_bars[-1].close
        assert volume == pytest.approx(sum(b.volume_quote or 0.0 for b in day_bars))
        assert len(day_bars) >= 20
    assert history.close[-1] == by_open[END - HOUR].close  # 2021-05-31 23:00, stamped 2021-06-01 00:00
    assert history.ts[-1] == END


def test_load_history__1d_and_1h_klines_of_the_same_bars__same_daily_closes(tmp_path: Path) -> None:
    hourly = hourly_between(START, END)
    one_h = load_history("ETH-USD", str(kline_csv(tmp_path / "h.csv", hourly, HOUR)))
    one_d = load_history("ETH-USD", str(kline_csv(tmp_path / "d.csv", daily_bars(hourly), DAY)))
    common, ih, i_d = np.intersect1d(one_h.ts, one_d.ts, return_indices=True)
    assert len(common) == len(one_h)  # every full hourly day is also a daily bar
    assert np.array_equal(one_h.close[ih], one_d.close[i_d])
    assert np.allclose(one_h.volume[ih], one_d.volume[i_d])


def test_load_history__microsecond_times_and_header_row__read_the_same(tmp_path: Path) -> None:
    bars = hourly_between(START, START + 10 * DAY)
    plain = load_history("ETH-USD", str(kline_csv(tmp_path / "ms.csv", bars, HOUR)))
    micro = load_history("ETH-USD", str(kline_csv(tmp_path / "us.csv", bars, HOUR, unit=1e6, header=True)))
    assert np.array_equal(plain.ts, micro.ts) and np.array_equal(plain.close, micro.close)


def test_load_history__kline_until__no_day_after_it(tmp_path: Path) -> None:
    path = kline_csv(tmp_path / "k.csv", hourly_between(START, END), HOUR)
    history = load_history("ETH-USD", str(path), until_ts=NOW)
    assert history.ts[-1] == datetime(2021, 5, 20, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("mutate", "line", "field"),
    [
        (lambda rows: rows.__setitem__(2, rows[2].replace(rows[2].split(",")[4], "abc", 1)), 3, "close"),
        (lambda rows: rows.__setitem__(3, rows[1]), 4, "open_time"),  # an earlier bar again
        (lambda rows: rows.__setitem__(1, ",".join(rows[1].split(",")[:6])), 2, None),
    ],
)
def test_load_history__bad_kline_row__data_error_names_line(
    tmp_path: Path, mutate: object, line: int, field: str | None
) -> None:
    path = kline_csv(tmp_path / "k.csv", hourly_between(START, START + 3 * DAY), HOUR)
    rows = path.read_text().splitlines()
    mutate(rows)  # type: ignore[operator]
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as caught:
        load_history("ETH-USD", str(path))
    assert (caught.value.line, caught.value.field) == (line, field)


# ---- ccxt fetch_ohlcv at start ---------------------------------------------------------------------


def _venue() -> RecordedBinance:
    hourly = hourly_between(START, END)
    return RecordedBinance({"1h": hourly, "1d": daily_bars(hourly)}, now=NOW)


def test_fetch_history__1h_over_two_pages__same_days_as_the_file_and_open_bar_dropped(tmp_path: Path) -> None:
    venue = _venue()
    history = fetch_history(
        "ETH-USD", "ccxt:binance:ETH/USDT:1h", exchange=recorded_binance(venue), now=NOW, lookback_days=60
    )
    klines = [r for r in venue.requests if r.startswith("/api/v3/klines")]
    assert len(klines) == 2  # 60 days of hours is 1440 bars: two pages of at most 1000
    assert "startTime=" in klines[1]
    from_file = load_history(
        "ETH-USD", str(kline_csv(tmp_path / "k.csv", venue.bars["1h"], HOUR)), until_ts=NOW
    )
    tail = from_file.until(history.ts[-1])
    assert np.array_equal(history.close, tail.close[-len(history) :])
    assert history.ts[-1] == datetime(2021, 5, 20, tzinfo=UTC).timestamp()  # the running day is left out
    assert history.ts[0] >= NOW - 60 * DAY


def test_fetch_history__1d__one_request_and_quote_volume_from_base_times_close() -> None:
    venue = _venue()
    history = fetch_history("ETH-USD", "ccxt:binance:ETH/USDT:1d", exchange=recorded_binance(venue), now=NOW)
    assert [r.split("?")[0] for r in venue.requests] == ["/api/v3/exchangeInfo", "/api/v3/klines"]
    days = [b for b in venue.bars["1d"] if b.ts + DAY <= NOW]
    assert np.array_equal(history.close, [b.close for b in days])
    assert np.allclose(history.volume, [(b.volume_base or 0.0) * b.close for b in days])


def test_fetch_history__venue_errors__source_or_config_error() -> None:
    venue = _venue()
    venue.fault = 503
    with pytest.raises(SourceError) as caught:
        fetch_history("ETH-USD", "ccxt:binance:ETH/USDT:1d", exchange=recorded_binance(venue), now=NOW)
    assert caught.value.source == "binance"
    with pytest.raises(ConfigError, match="FOO/USDT"):
        fetch_history("X-USD", "ccxt:binance:FOO/USDT:1d", exchange=recorded_binance(_venue()), now=NOW)
    with pytest.raises(ConfigError, match="timeframe '7m'"):
        fetch_history("ETH-USD", "ccxt:binance:ETH/USDT:7m", exchange=recorded_binance(_venue()), now=NOW)
    with pytest.raises(ConfigError, match="not a ccxt exchange"):
        fetch_history("ETH-USD", "ccxt:nosuchvenue:ETH/USDT:1d", now=NOW)


def test_fetch_history__malformed_row__source_error_names_the_row() -> None:
    class Garbage:
        timeframes: ClassVar[dict[str, str]] = {"1d": "1d"}

        def parse_timeframe(self, tf: str) -> int:
            return 86_400

        def fetch_ohlcv(self, *_: object) -> list[list[object]]:
            return [
                [1_600_000_000_000, 1.0, 2.0, 0.5, 1.5, 10.0],
                [1_600_086_400_000, "nan", 2.0, 0.5, 1.5, 1.0],
            ]

    with pytest.raises(SourceError, match="row 1") as caught:
        fetch_history("X-USD", "ccxt:binance:X/USDT:1d", exchange=Garbage(), now=NOW)
    assert caught.value.reason == "non_finite"


def test_load_history__ccxt_in_a_replay__config_error_asks_for_a_file() -> None:
    with pytest.raises(ConfigError, match="a replay needs recorded history"):
        load_history("ETH-USD", "ccxt:binance:ETH/USDT:1d", until_ts=NOW)


@pytest.mark.parametrize("spec", ["ccxt:binance:ETH/USDT", "ccxt::ETH/USDT:1d", "ccxt:binance:ETH/USDT:"])
def test_market_config__malformed_ccxt_history__rejected_with_the_form(spec: str) -> None:
    with pytest.raises(ValidationError, match=r"ccxt:<exchange>:<symbol>:<timeframe>"):
        MarketConfig(id="ETH-USD", history=spec)


def test_market_config__ccxt_history_with_a_swap_symbol__accepted() -> None:
    assert (
        MarketConfig(id="BTC-USD", history="ccxt:okx:BTC/USDT:USDT:1d").history == "ccxt:okx:BTC/USDT:USDT:1d"
    )
