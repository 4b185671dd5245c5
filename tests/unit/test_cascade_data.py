"""Liquidation events to USD (both export schemas), bad rows as one DataError, daily totals."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from oracle_node.errors import DataError
from oracle_node.research.cascade.data import REQUIRED, daily_totals, read_liquidation_usd

DAY = 86400.0
T0 = 1621382400  # 2021-05-19 00:00 UTC


def _row(**kw: str) -> dict[str, str]:
    return dict.fromkeys(REQUIRED, "") | kw


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=REQUIRED)
        w.writeheader()
        w.writerows(rows)
    return path


RAW_USDC = _row(timestamp=str(T0 + 3600), collateralReserve="WETH", principalReserve="USDC",
                collateralAmount="1000000000000000000", principalAmount="2500000000",
                priceUSDTCollateral="400000000000000", reservePriceUSDPrincipal="1.001")  # fmt: skip
RAW_WETH_DEBT = _row(timestamp=str(T0 + 7200), collateralReserve="WBTC", principalReserve="WETH",
                     collateralAmount="10000000", principalAmount="2000000000000000000",
                     priceUSDTCollateral="500000000000000")  # fmt: skip
DECIMAL = _row(timestamp=str(T0 + DAY + 60), collateralReserve="WBTC", principalReserve="DAI",
               collateralAmount="0.5", principalAmount="15000.5", reservePriceUSDPrincipal="0.999",
               amountETHPincipal="5.0")  # fmt: skip


def test_read_liquidation_usd__both_schemas__debt_repaid_in_dollars(tmp_path: Path) -> None:
    ev = read_liquidation_usd(_write(tmp_path / "l.csv", [DECIMAL, RAW_WETH_DEBT, RAW_USDC]))
    # raw USDC: 2.5e9 / 1e6 x 1.001; raw WETH debt: 2 ETH x 1e18 / 5e14 = $2,000 each; decimal: 15000.5 x 0.999
    assert ev.usd.tolist() == pytest.approx([2500 * 1.001, 2 * 2000.0, 15000.5 * 0.999])
    assert ev.collateral.tolist() == ["WETH", "WBTC", "WBTC"]
    assert np.all(np.diff(ev.ts) > 0)


def test_read_liquidation_usd__no_principal_price__collateral_over_median_bonus(tmp_path: Path) -> None:
    row = DECIMAL | {"reservePriceUSDPrincipal": "", "reservePriceUSDCollateral": "40000"}
    ev = read_liquidation_usd(_write(tmp_path / "l.csv", [row]))
    assert ev.usd[0] == pytest.approx(0.5 * 40000 / 1.075)


@pytest.mark.parametrize(
    ("change", "field", "why"),
    [
        ({"principalReserve": "DOGE"}, "principalReserve", "unknown reserve"),
        ({"principalAmount": "lots"}, "principalAmount", "not a number"),
        ({"principalAmount": "-3"}, "principalAmount", ">= 0"),
        ({"timestamp": "yesterday"}, "timestamp", "not a number"),
        ({"priceUSDTCollateral": "4e14"}, "priceUSDTCollateral", "exactly one of"),
        ({"reservePriceUSDPrincipal": ""}, "reservePriceUSDPrincipal", "no USD price"),
    ],
)
def test_read_liquidation_usd__bad_row__data_error_names_line_and_field(
    tmp_path: Path, change: dict[str, str], field: str, why: str
) -> None:
    path = _write(tmp_path / "l.csv", [RAW_USDC, DECIMAL | change])
    with pytest.raises(DataError, match=why) as err:
        read_liquidation_usd(path)
    assert (err.value.path, err.value.line, err.value.field) == (str(path), 3, field)


def test_read_liquidation_usd__missing_column__header_error(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_text("timestamp,user\n1621382400,0xabc\n")
    with pytest.raises(DataError, match="missing column") as err:
        read_liquidation_usd(path)
    assert err.value.line == 1


def test_daily_totals__window_and_next_day__per_market(tmp_path: Path) -> None:
    ev = read_liquidation_usd(_write(tmp_path / "l.csv", [RAW_USDC, RAW_WETH_DEBT, DECIMAL]))
    closes = T0 + DAY * np.arange(0, 4, dtype=float)  # 05-19 00:00 .. 05-22 00:00
    span = (float(ev.ts[0]), float(ev.ts[-1]))
    btc = daily_totals(ev, "BTC", closes, span)
    # day (05-19, 05-20]: the raw WBTC event ($4,000); (05-20, 05-21]: the decimal one
    assert np.isnan(btc.usd[0])  # 05-18 is before the file's first event: unknown, not 0
    assert btc.usd[1] == pytest.approx(4000.0)
    assert btc.usd[2] == pytest.approx(15000.5 * 0.999)
    assert btc.next_usd[1] == pytest.approx(btc.usd[2])
    assert np.isnan(btc.usd[3]) and np.isnan(btc.next_usd[2])  # after the last event's day
    assert daily_totals(ev, "ALL", closes, span).usd[1] == pytest.approx(2500 * 1.001 + 4000.0)
