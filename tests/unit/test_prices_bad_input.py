"""Backtest price files as an operator hands them over: gaps, impossible dates and absurd prices
are one DataError naming file, line, field and value (or the dates around a gap)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from oracle_node.errors import DataError
from oracle_node.research.backtest.prices import load_prices


def _daily(tmp_path: Path, days: list[str], prices: list[str] | None = None) -> Path:
    path = tmp_path / "p.csv"
    prices = prices or [str(100 + i) for i in range(len(days))]
    path.write_text("date,close\n" + "".join(f"{d},{p}\n" for d, p in zip(days, prices, strict=True)))
    return path


def _days(start: str, n: int) -> list[str]:
    t0 = datetime.fromisoformat(start).replace(tzinfo=UTC).timestamp()
    return [datetime.fromtimestamp(t0 + 86400 * i, UTC).strftime("%Y-%m-%d") for i in range(n)]


def test_load_prices__gap_of_months__error_names_the_dates_around_it(tmp_path: Path) -> None:
    path = _daily(tmp_path, _days("2020-01-01", 30) + _days("2020-05-01", 30))
    with pytest.raises(DataError) as err:
        load_prices(path, "BTC")
    assert err.value.value == "2020-01-30..2020-05-01"
    assert "no price for 91 days between the closes of 2020-01-30 and 2020-05-01" in err.value.why


def test_load_prices__seven_days_missing__accepted_eight__refused(tmp_path: Path) -> None:
    path = _daily(tmp_path, _days("2020-01-01", 10) + _days("2020-01-18", 10))  # 01-11..01-17 missing
    assert load_prices(path, "BTC").close.size == 20
    path = _daily(tmp_path, _days("2020-01-01", 10) + _days("2020-01-19", 10))
    with pytest.raises(
        DataError, match="no price for 8 days between the closes of 2020-01-10 and 2020-01-19"
    ):
        load_prices(path, "BTC")


@pytest.mark.parametrize(
    ("day", "price", "field", "why"),
    [
        ("1970-01-05", "100", "time", "is before 2009-01-03"),
        ("2999-01-05", "100", "time", "is in the future"),
        ("2020-01-05", "1e300", "close", "outside [1e-15, 1e+15]"),
        ("2020-01-05", "9" * 400, "close", "finite"),
    ],
)
def test_load_prices__absurd_row__error_names_line_field_value(
    tmp_path: Path, day: str, price: str, field: str, why: str
) -> None:
    days = [*_days("2020-01-01", 4), day]
    path = _daily(tmp_path, days, ["100", "101", "102", "103", price])
    with pytest.raises(DataError) as err:
        load_prices(path, "BTC")
    assert (err.value.line, err.value.field) == (6, field) and why in err.value.why


def test_load_prices__oversized_cell__data_error_names_line(tmp_path: Path) -> None:
    path = _daily(tmp_path, _days("2020-01-01", 3), ["100", '"' + "1" * 200_000 + '"', "102"])
    with pytest.raises(DataError) as err:
        load_prices(path, "BTC")
    assert err.value.line == 3 and "field larger than field limit" in err.value.why
