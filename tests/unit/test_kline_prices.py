"""Backtest/train price input (research.backtest.prices.load_prices) from OHLCV files in the common
formats: Binance klines with and without a header, open time in ms or a date, hourly or daily, and a
generic `date,open,high,low,close,volume` CSV. High/low are kept whenever the file has them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from oracle_node.errors import DataError
from oracle_node.research.backtest.prices import load_prices

DAY_MS = 86_400_000
T0 = 1_577_836_800_000  # 2020-01-01 00:00 UTC in ms


def _kline(open_ms: int, o: float, h: float, lo: float, c: float) -> str:
    return f"{open_ms},{o},{h},{lo},{c},10.0,{open_ms + 3_599_999},{10 * c},100,5.0,{5 * c},0"


def _hourly(days: int) -> list[str]:
    rows, price = [], 100.0
    for k in range(24 * days):
        nxt = price * (1.01 if k % 3 else 0.985)
        rows.append(_kline(T0 + k * 3_600_000, price, max(price, nxt) * 1.002, min(price, nxt) * 0.998, nxt))
        price = nxt
    return rows


def test_load_prices__binance_hourly_klines_no_header__daily_ohlc_rv_and_bipower(tmp_path: Path) -> None:
    rows = _hourly(3)
    path = tmp_path / "BTCUSDT-1h-2020-01.csv"
    path.write_text("\n".join(rows) + "\n")
    h = load_prices(path, "BTC")
    assert len(h) == 3
    day0 = [r.split(",") for r in rows[:24]]
    assert h.open is not None and h.high is not None and h.low is not None
    assert h.open[0] == float(day0[0][1]) and h.close[0] == float(day0[-1][4])
    assert h.high[0] == max(float(r[2]) for r in day0) and h.low[0] == min(float(r[3]) for r in day0)
    r = np.diff(np.log([float(x.split(",")[4]) for x in rows[23:48]]))  # day 1: prev close .. last
    assert h.rv_intraday is not None and h.bv_intraday is not None
    assert h.rv_intraday[1] == pytest.approx(math.sqrt(np.sum(r * r)))
    bv = math.pi / 2 * 24 / 23 * np.sum(np.abs(r[1:]) * np.abs(r[:-1]))
    assert h.bv_intraday[1] == pytest.approx(math.sqrt(bv))


def test_load_prices__daily_klines_with_open_time_header__ohlc_per_day(tmp_path: Path) -> None:
    head = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore"
    rows = [_kline(T0 + k * DAY_MS, 100 + k, 110 + k, 90 + k, 105 + k) for k in range(5)]
    path = tmp_path / "BTCUSDT-1d-2020-01.csv"
    path.write_text(head + "\n" + "\n".join(rows) + "\n")
    h = load_prices(path, "BTC")
    assert h.close.tolist() == [105.0, 106.0, 107.0, 108.0, 109.0]
    assert h.high is not None and h.high.tolist() == [110.0, 111.0, 112.0, 113.0, 114.0]
    assert h.ts[0] == (T0 + DAY_MS) / 1000  # a day's close is stamped at its end


def test_load_prices__klines_no_header_date_open_time__ohlc_per_day(tmp_path: Path) -> None:
    rows = [f"2020-01-0{k + 1},{100 + k},{110 + k},{90 + k},{105 + k},12.5,0,0,0,0,0,0" for k in range(5)]
    path = tmp_path / "ethusdt_1d.csv"
    path.write_text("\n".join(rows) + "\n")
    h = load_prices(path, "ETH")
    assert len(h) == 5 and h.low is not None and h.low.tolist() == [90.0, 91.0, 92.0, 93.0, 94.0]
    assert h.open is not None and h.open[0] == 100.0


def test_load_prices__generic_header_ohlcv__high_low_kept_and_close_only_file_has_none(
    tmp_path: Path,
) -> None:
    ohlc = tmp_path / "ohlc.csv"
    ohlc.write_text("Date,Open,High,Low,Close,Volume\n2020-01-01,1,2,0.5,1.5,9\n2020-01-02,1.5,2.5,1,2,9\n")
    h = load_prices(ohlc, "X")
    assert h.high is not None and h.high.tolist() == [2.0, 2.5]
    plain = tmp_path / "plain.csv"
    plain.write_text("date,close\n2020-01-01,1.5\n2020-01-02,2\n")
    assert load_prices(plain, "X").high is None


def test_load_prices__close_above_high__data_error_names_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("date,open,high,low,close\n2020-01-01,1,2,0.5,1.5\n2020-01-02,1.5,2.5,1,3\n")
    with pytest.raises(DataError) as info:
        load_prices(path, "X")
    assert info.value.line == 3 and info.value.field == "low" and "outside [low, high]" in str(info.value)
