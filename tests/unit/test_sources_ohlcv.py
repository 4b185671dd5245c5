"""OHLCV readers on the real recorded files in ../shared/data (and the bundled .gz copies)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oracle_node.errors import DataError
from oracle_node.sources.ohlcv import (
    BAD_PRINT_FACTOR,
    OhlcvSeries,
    bars_to_ticks,
    parse_cdd_date,
    read_cdd_ohlcv,
    read_daily_prices,
)

BUNDLED = Path(__file__).resolve().parents[2] / "oracle_node" / "data"


def _utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def btc_spot(shared_data: Path) -> OhlcvSeries:
    return read_cdd_ohlcv(shared_data / "prices" / "binance_btcusdt_spot_1h_2017_2021.csv")


@pytest.fixture(scope="module")
def btc_perp(shared_data: Path) -> OhlcvSeries:
    return read_cdd_ohlcv(shared_data / "prices" / "binance_btcusdt_perp_1h_2020.csv")


def test_read_cdd_ohlcv__btc_spot__one_bar_per_hour_oldest_first(btc_spot: OhlcvSeries) -> None:
    ts = [b.ts for b in btc_spot.bars]
    assert btc_spot.symbol == "BTC/USDT"
    assert btc_spot.rows_read == 36_062
    assert len(ts) == 33_413  # 36,062 rows minus 2,649 hours recorded twice
    assert ts == sorted(ts) and len(set(ts)) == len(ts)
    assert ts[0] == _utc("2017-08-17T04:00:00") and ts[-1] == _utc("2021-06-10T00:00:00")
    assert all(t % 3600 == 0 for t in ts)  # ms and second epochs both normalised to whole hours


def test_read_cdd_ohlcv__mixed_epochs__ms_and_seconds_rows_both_in_seconds(btc_spot: OhlcvSeries) -> None:
    by_ts = {b.ts: b for b in btc_spot.bars}
    newest = by_ts[_utc("2021-06-10T00:00:00")]  # unix 1623283200000 (ms)
    oldest_s = by_ts[_utc("2017-08-17T05:00:00")]  # unix 1502946000.0 (s), date "2017-08-17 05-AM"
    assert (newest.close, newest.trades) == (37584.76, 10796)
    assert (oldest_s.open, oldest_s.close, oldest_s.trades) == (4308.83, 4315.32, None)


def test_read_cdd_ohlcv__first_bar_bad_print__open_high_repaired_close_kept(btc_spot: OhlcvSeries) -> None:
    first = btc_spot.bars[0]
    (bad,) = btc_spot.anomalies_of("bad_print")
    assert (first.open, first.high, first.low, first.close) == (4308.83, 4308.83, 4261.32, 4308.83)
    assert bad.action == "repaired" and bad.line == 36_063 and "16199.91" in bad.detail
    wild = [b for b in btc_spot.bars if max(b.open, b.high) > BAD_PRINT_FACTOR * b.close]
    assert wild == []


def test_read_cdd_ohlcv__eth_spot__first_print_and_2017_wick_repaired(shared_data: Path) -> None:
    eth = read_cdd_ohlcv(shared_data / "prices" / "binance_ethusdt_spot_1h_2017_2021.csv")
    repaired = {a.detail.split()[1]: a for a in eth.anomalies_of("bad_print")}
    assert set(repaired) == {str(int(_utc("2017-08-17T04:00:00"))), str(int(_utc("2017-08-22T04:00:00")))}
    wick = next(b for b in eth.bars if b.ts == _utc("2017-08-22T04:00:00"))
    assert (wick.low, wick.close) == (280.0, 287.0)  # low 144.21 against a 287 close -> min(open, close)


def test_read_cdd_ohlcv__spliced_exports__ms_row_kept_over_rounded_partial_row(btc_spot: OhlcvSeries) -> None:
    dups = btc_spot.anomalies_of("duplicate_ts")
    splice = next(b for b in btc_spot.bars if b.ts == _utc("2020-11-20T07:00:00"))
    assert len(dups) == 2_649
    assert (splice.close, splice.trades) == (18212.0, 93118)  # not the partial 18143.03 / NULL row


def test_read_cdd_ohlcv__date_labels_off_by_4h__unix_wins_and_reported(btc_spot: OhlcvSeries) -> None:
    labels = btc_spot.anomalies_of("date_label_mismatch")
    assert len(labels) == 91
    assert all("-4 h" in a.detail and a.action == "used unix" for a in labels)
    gaps = btc_spot.anomalies_of("gap")
    assert len(gaps) == 8 and "4 bar(s) missing" in gaps[0].detail


def test_read_cdd_ohlcv__nulls__tradecount_none_only_in_old_export(btc_spot: OhlcvSeries) -> None:
    cutover = _utc("2020-08-01T23:00:00")
    old = [b for b in btc_spot.bars if b.ts < cutover]
    new = [b for b in btc_spot.bars if b.ts >= cutover]
    assert all(b.trades is None for b in old)
    assert all(b.trades is not None for b in new)
    idle = [b for b in new if b.trades == 0]  # exchange maintenance: flat bars, no volume
    assert [b.ts for b in idle] == [_utc("2020-12-21T14:00:00"), _utc("2021-02-11T03:00:00")]
    assert all(b.volume_quote == 0 and b.open == b.close for b in idle)


def test_read_cdd_ohlcv__perp_with_banner__3599_hourly_bars(btc_perp: OhlcvSeries) -> None:
    ts = [b.ts for b in btc_perp.bars]
    assert len(ts) == 3_599 and btc_perp.anomalies == ()
    assert ts[0] == _utc("2020-08-02T02:00:00") and ts[-1] == _utc("2020-12-30T00:00:00")
    assert {b - a for a, b in itertools.pairwise(ts)} == {3600.0}
    assert btc_perp.bars[-1].close == 27623.41 and btc_perp.bars[-1].volume_quote == 72437377.94142


def test_spot_perp_overlap__2020_08_to_12__closes_track_within_1pct(
    btc_spot: OhlcvSeries, btc_perp: OhlcvSeries
) -> None:
    lo, hi = btc_perp.bars[0].ts, btc_perp.bars[-1].ts
    spot = {b.ts: b.close for b in btc_spot.between(lo, hi) if b.volume_quote}
    perp = {b.ts: b.close for b in btc_perp.bars}
    common = sorted(spot.keys() & perp.keys())
    assert len(common) == len(spot) == 3_593  # spot misses 5 hours and idles 1 in the window
    basis = sorted(abs(perp[t] / spot[t] - 1) for t in common)
    assert basis[len(basis) // 2] < 0.001 and basis[-1] < 0.01


def test_read_cdd_ohlcv__bundled_gz_copy__same_bars(btc_perp: OhlcvSeries) -> None:
    bundled = read_cdd_ohlcv(BUNDLED / "binance_btcusdt_perp_1h_2020.csv.gz")
    assert bundled.bars == btc_perp.bars


def test_read_daily_prices__btc_daily__4062_days_in_order(shared_data: Path) -> None:
    days = read_daily_prices(shared_data / "prices" / "btc_usd_daily_2015_2026.csv")
    assert len(days) == 4_062
    assert days[0].ts == _utc("2015-01-01T00:00:00") and days[0].close == 314.248992919922
    assert days[-1].ts == _utc("2026-02-13T00:00:00") and days[-1].volume_quote == 42571694080
    assert all(b.ts - a.ts == 86400 for a, b in itertools.pairwise(days))


def test_bars_to_ticks__hourly_bars__stamped_at_close_with_quote_volume(btc_perp: OhlcvSeries) -> None:
    ticks = bars_to_ticks(btc_perp.bars[:2], "BTC-USD", "binance_perp", pool="binance")
    assert [t.ts for t in ticks] == [_utc("2020-08-02T03:00:00"), _utc("2020-08-02T04:00:00")]
    assert [t.price for t in ticks] == [11940.59, 12026.41]
    assert ticks[0].volume == 169762747.68376 and ticks[0].pool == "binance"


def test_parse_cdd_date__12_hour_forms__midnight_and_noon() -> None:
    assert parse_cdd_date("2020-08-02 12-AM").hour == 0
    assert parse_cdd_date("2020-08-02 12-PM").hour == 12
    assert parse_cdd_date("2017-08-17 04-AM") == datetime(2017, 8, 17, 4, tzinfo=UTC)


def test_read_cdd_ohlcv__bad_number__data_error_names_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "https://www.CryptoDataDownload.com\n"
        "unix,date,symbol,open,high,low,close,Volume BTC,Volume USDT,tradecount\n"
        "1609286400000,2020-12-30 00:00:00,BTC/USDT,27402.83,27624.00,27402.82,27623.41,1,2,3\n"
        "1609282800000,2020-12-29 23:00:00,BTC/USDT,27074.52,oops,26970.25,27402.83,1,2,3\n"
    )
    with pytest.raises(DataError) as err:
        read_cdd_ohlcv(path)
    assert (err.value.line, err.value.field, err.value.value) == (4, "high", "oops")
    assert f"{path}:4" in str(err.value)


def test_read_cdd_ohlcv__close_spike__bar_dropped(tmp_path: Path) -> None:
    path = tmp_path / "spike.csv"
    rows = [(5, 99.0), (4, 102.0), (3, 100.0), (2, 400.0), (1, 101.0)]  # newest first; one close 4x the rest
    body = "".join(f"{1600000000 + 3600 * h}.0,x,BTC/USDT,{c},{c},{c},{c},1,1,NULL\n" for h, c in rows)
    path.write_text("unix,date,symbol,open,high,low,close,Volume BTC,Volume USDT,tradecount\n" + body)
    with pytest.raises(DataError) as err:  # the 'x' date label is refused first
        read_cdd_ohlcv(path)
    assert err.value.field == "date"
    path.write_text(path.read_text().replace(",x,", ",2020-09-13 12-PM,"))
    series = read_cdd_ohlcv(path)
    assert [b.close for b in series.bars] == [101.0, 100.0, 102.0, 99.0]
    assert series.anomalies_of("bad_print")[0].action == "dropped"
