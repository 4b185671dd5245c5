"""The multi-source tick CSV: good and malformed fixtures, round trip through the writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from oracle_node.errors import DataError
from oracle_node.sources.tick import Tick
from oracle_node.sources.tickcsv import parse_ts, read_ticks, write_ticks

TICKS = Path(__file__).resolve().parents[1] / "fixtures" / "ticks"
H04 = 1596340800.0  # 2020-08-02T04:00:00Z


def test_read_ticks__good_file__sorted_stably_and_deduplicated() -> None:
    f = read_ticks(TICKS / "good.csv")
    order = [(t.ts, t.market, t.source) for t in f.ticks]
    assert order == [
        (H04 - 3600, "BTC-USD", "binance_spot"),
        (H04, "BTC-USD", "binance_spot"),
        (H04, "BTC-USD", "okx_swap"),  # ISO with Z
        (H04, "BTC-USD", "binance_api2"),  # naive ISO = UTC
        (H04, "ETH-USD", "okx_swap"),  # 06:00+02:00
        (H04 + 0.5, "BTC-USD", "bybit_linear"),
    ]
    assert f.duplicates == 1 and f.skipped == ()
    assert f.markets == ("BTC-USD", "ETH-USD")


def test_read_ticks__good_file__empty_cells_none_and_values_exact() -> None:
    ticks = read_ticks(TICKS / "good.csv").ticks
    spot = ticks[1]
    assert (spot.price, spot.bid, spot.ask, spot.volume) == (11185.5, 11185.4, 11185.6, 1541746863.99)
    assert (spot.depth_bid, spot.depth_ask, spot.funding_rate, spot.pool) == (
        2500000.0,
        2700000.0,
        None,
        "binance",
    )
    okx = ticks[2]
    assert (okx.volume, okx.depth_bid, okx.funding_rate, okx.pool) == (None, 1800000.5, 0.0001, None)
    eth = ticks[4]
    assert (eth.volume, eth.depth_ask, eth.funding_rate) == (0.0, 0.0, -0.00025)


def test_read_ticks__file_without_pool_column__pool_none() -> None:
    f = read_ticks(TICKS / "no_pool.csv")
    assert [(t.source, t.pool, t.funding_rate) for t in f.ticks] == [
        ("binance_spot", None, None),
        ("binance_perp", None, 0.0001),
    ]


MALFORMED = [
    (3, "price", "abc", "not a number"),
    (4, "price", "NaN", "not finite"),
    (5, "price", "-5", "must be > 0"),
    (6, "market", "", "required"),
    (7, "source", "", "required"),
    (8, None, "1596344400,BTC-USD,binance_perp,12100,,,", "7 columns, header has 10"),
    (9, "funding_rate", "inf", "not finite"),
    (10, "ts", "yesterday", "neither unix seconds nor ISO-8601"),
    (11, "ts", "1596348000000", "milliseconds"),
    (12, "volume", "-3", "must be >= 0"),
    (13, "bid", "0", "must be > 0"),
]


def test_read_ticks__malformed_strict__first_bad_row_raises_with_line_and_field() -> None:
    path = TICKS / "malformed.csv"
    with pytest.raises(DataError) as err:
        read_ticks(path)
    assert (err.value.line, err.value.field, err.value.value) == (3, "price", "abc")
    assert str(err.value) == f"{path}:3: field 'price' value 'abc': not a number"


def test_read_ticks__malformed_lenient__every_bad_row_reported_good_rows_kept() -> None:
    f = read_ticks(TICKS / "malformed.csv", lenient=True)
    got = [(e.line, e.field, e.value) for e in f.skipped]
    assert got == [(line, fld, value) for line, fld, value, _ in MALFORMED]
    for err, (line, _, _, why) in zip(f.skipped, MALFORMED, strict=True):
        assert why in err.why and f"malformed.csv:{line}" in str(err)
    assert [(t.ts, t.source, t.price) for t in f.ticks] == [
        (1596337200.0, "binance_spot", 12026.41),
        (1596351600.0, "binance_spot", 12290.0),
    ]


@pytest.mark.parametrize(
    ("header", "why"),
    [
        ("ts,market,source,price", "missing"),
        ("ts,market,source,price,bid,ask,volume,depth_bid,depth_ask,funding_rate,venue", "unknown"),
    ],
)
def test_read_ticks__bad_header__data_error_on_line_1(tmp_path: Path, header: str, why: str) -> None:
    path = tmp_path / "h.csv"
    path.write_text(header + "\n")
    with pytest.raises(DataError) as err:
        read_ticks(path)
    assert (err.value.line, err.value.field) == (1, "header") and why in err.value.why


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1596340800", H04),
        ("1596340800.25", H04 + 0.25),
        ("2020-08-02T04:00:00Z", H04),
        ("2020-08-02T04:00:00", H04),
        ("2020-08-02 05:30:00+01:30", H04),
        ("2020-08-02T04:00:00.500000+00:00", H04 + 0.5),
    ],
)
def test_parse_ts__unix_and_iso_forms__unix_seconds(raw: str, expected: float) -> None:
    assert parse_ts("f.csv", 2, raw) == expected


def test_write_ticks__round_trip__identical_ticks(tmp_path: Path) -> None:
    ticks = [
        Tick(H04, "BTC-USD", "a", 11185.123456789, 11185.1, 11185.2, 1e9 / 3, 2.5e6, 2.7e6, -1.23e-5, "p"),
        Tick(H04 + 0.125, "ETH-USD", "b", 0.1 + 0.2),
    ]
    out = tmp_path / "t.csv"
    assert write_ticks(out, ticks) == 2
    assert out.read_text().splitlines()[0].endswith(",funding_rate,pool")
    assert read_ticks(out).ticks == tuple(ticks)


def test_write_ticks__no_pools__pool_column_omitted(tmp_path: Path) -> None:
    out = tmp_path / "t.csv"
    write_ticks(out, [Tick(H04, "BTC-USD", "a", 1.5)])
    assert (
        out.read_text()
        == "ts,market,source,price,bid,ask,volume,depth_bid,depth_ask,funding_rate\n1596340800,BTC-USD,a,1.5,,,,,,\n"
    )
