"""Aave V2 liquidation events in USD, and their daily totals per market (issue 13, item 1).

The research CSV (../shared/data/liquidations, TheRensselaerIDEA/IDEA-Blockchain) is two exports
glued together, told apart row by row:

- raw rows (2020-12-17 .. 2021-07-27, `priceUSDTCollateral` set): `principalAmount` and
  `collateralAmount` are integer token units (wei-like: amount x 10^decimals), the `amountUSD*`
  columns are those raw units times a price (1.9e22 "USD" for one liquidation: not dollars);
  `reservePriceUSD*` is the reserve's USD price (its ETH price / USDT's ETH price); WETH's USD
  price is empty there and is 1e18 / `priceUSDTCollateral` (USDT's price in wei per token).
- decimal rows (2021-07-28 .. 2022-04-03, `amountETHPincipal` set): amounts already in tokens,
  `amountUSDPrincipal` = principalAmount x reservePriceUSDPrincipal (checked: equal to 1e-16).

Liquidated USD of an event = debt repaid: principal tokens (amount / 10^decimals on raw rows)
x the principal's USD price in the row. Where the row has no principal price, the collateral seized
in USD / 1.075 (the median bonus) is used; where it has neither, the row is an error. The
decimals are the Aave V2 reserves' ERC-20 decimals (DECIMALS). Check on the file: collateral USD /
principal USD has median 1.05-1.10 (the liquidation bonus) for every large reserve.

A market is a set of collateral reserves: the collateral seized is what liquidators sell into it.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oracle_node.errors import DataError
from oracle_node.features.external import Stamped, day_sums
from oracle_node.sources.aave_csv import event_time
from oracle_node.sources.files import complete, csv_header, csv_records, open_text

DECIMALS: dict[str, int] = {
    "USDC": 6, "USDT": 6, "GUSD": 2, "WBTC": 8, "AMPL": 9, "UST": 6,
    "AmmUSDC": 6, "AmmUSDT": 6, "AmmWBTC": 8,
    **dict.fromkeys(
        ("DAI", "TUSD", "WETH", "SUSD", "BUSD", "MANA", "CRV", "UNI", "PAX", "LINK", "ENJ", "FRAX",
         "SNX", "FEI", "BAT", "REN", "YFI", "ZRX", "KNC", "RAI", "MKR", "BAL", "XSUSHI", "AAVE", "DPI",
         "AmmDAI", "AmmWETH", "AmmBptBALWETH", "AmmUniWBTCWETH"), 18),
}  # fmt: skip
ETH_PRICED = ("WETH", "AmmWETH")  # USD price on raw rows: 1e18 / priceUSDTCollateral
MEDIAN_BONUS = 1.075
MARKETS: dict[str, tuple[str, ...] | None] = {
    "ETH": ("WETH", "AmmWETH"),
    "BTC": ("WBTC", "AmmWBTC"),
    "ALL": None,  # every collateral
}
REQUIRED = ("timestamp", "collateralReserve", "principalReserve", "collateralAmount", "principalAmount",
            "priceUSDTCollateral", "reservePriceUSDPrincipal", "reservePriceUSDCollateral", "amountETHPincipal")  # fmt: skip
DAY = 86400.0


@dataclass(frozen=True, eq=False)
class LiquidationEvents:
    """One row per event, ascending time: ts (unix s), usd (debt repaid), collateral and principal
    (debt) reserve symbols."""

    path: str
    ts: np.ndarray
    usd: np.ndarray
    collateral: np.ndarray
    principal: np.ndarray

    def _rows(self, keep: np.ndarray | slice) -> LiquidationEvents:
        return LiquidationEvents(
            self.path, self.ts[keep], self.usd[keep], self.collateral[keep], self.principal[keep]
        )

    def market(self, name: str) -> LiquidationEvents:
        reserves = MARKETS[name]
        return self._rows(
            np.ones(self.ts.size, bool) if reserves is None else np.isin(self.collateral, reserves)
        )

    def until(self, t: float) -> LiquidationEvents:
        """Events at or before t (no look-ahead)."""
        return self._rows(slice(0, int(np.searchsorted(self.ts, t, side="right"))))


def _number(name: str, line: int, rec: dict[str, str], field: str, *, required: bool) -> float:
    text = rec[field].strip()
    if not text:
        if required:
            raise DataError(name, line, field, text, "empty")
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise DataError(name, line, field, text, "not a number") from None
    if not math.isfinite(value) or value < 0:
        raise DataError(name, line, field, text, "must be a finite number >= 0")
    return value


def _tokens(name: str, line: int, rec: dict[str, str], side: str, raw: bool) -> float:
    reserve = rec[f"{side}Reserve"].strip()
    if reserve not in DECIMALS:
        raise DataError(
            name, line, f"{side}Reserve", reserve, f"unknown reserve (known: {', '.join(DECIMALS)})"
        )
    amount = _number(name, line, rec, f"{side}Amount", required=True)
    return amount / 10.0 ** DECIMALS[reserve] if raw else amount


def _price(name: str, line: int, rec: dict[str, str], side: str, raw: bool) -> float:
    price = _number(name, line, rec, f"reservePriceUSD{side.title()}", required=False)
    if math.isnan(price) and raw and rec[f"{side}Reserve"].strip() in ETH_PRICED:
        usdt = _number(name, line, rec, "priceUSDTCollateral", required=True)
        price = 1e18 / usdt if usdt > 0 else math.nan
    return price


def event_usd(name: str, line: int, rec: dict[str, str]) -> float:
    """Debt repaid in USD (module docstring), or DataError naming the line and field."""
    raw = bool(rec["priceUSDTCollateral"].strip())
    if raw == bool(rec["amountETHPincipal"].strip()):
        why = "exactly one of priceUSDTCollateral (raw-unit rows) and amountETHPincipal (decimal rows) must be set"
        raise DataError(name, line, "priceUSDTCollateral", rec["priceUSDTCollateral"], why)
    principal = _tokens(name, line, rec, "principal", raw) * _price(name, line, rec, "principal", raw)
    if math.isfinite(principal):
        return principal
    collateral = _tokens(name, line, rec, "collateral", raw) * _price(name, line, rec, "collateral", raw)
    if math.isfinite(collateral):
        return collateral / MEDIAN_BONUS
    raise DataError(
        name, line, "reservePriceUSDPrincipal", "", "no USD price for the principal or the collateral"
    )


def read_liquidation_usd(path: str | Path) -> LiquidationEvents:
    """Every event of the Aave V2 research CSV with its USD size; DataError on a bad row."""
    name = str(path)
    if not Path(path).is_file():
        raise DataError(name, None, None, None, "liquidations file does not exist")
    ts: list[float] = []
    usd: list[float] = []
    coll: list[str] = []
    debt: list[str] = []
    with open_text(path) as fh:
        reader = csv.DictReader(fh)
        fields = csv_header(reader, name)
        missing = [f for f in REQUIRED if fields is None or f not in fields]
        if missing:
            raise DataError(name, 1, "header", missing[0], "missing column (the Aave V2 research CSV layout)")
        assert fields is not None
        for line, raw in csv_records(reader, name, 1):
            rec = complete(raw, name, line, len(fields))
            ts.append(event_time(name, line, rec["timestamp"]))
            usd.append(event_usd(name, line, rec))
            coll.append(rec["collateralReserve"].strip())
            debt.append(rec["principalReserve"].strip())
    if not ts:
        raise DataError(name, None, "timestamp", None, "no liquidation events")
    order = np.argsort(np.array(ts), kind="stable")
    return LiquidationEvents(
        name, np.array(ts)[order], np.array(usd)[order], np.array(coll)[order], np.array(debt)[order]
    )


@dataclass(frozen=True, eq=False)
class DailyLiquidations:
    """Per forecast time ts[i] (a daily close, 00:00 UTC): USD and count in (ts[i] - 1 day, ts[i]]
    (`usd`, `count`: known at ts[i]) and in (ts[i], ts[i] + 1 day] (`next_usd`: the target); NaN
    where the events file does not cover the day."""

    market: str
    ts: np.ndarray
    usd: np.ndarray
    count: np.ndarray
    next_usd: np.ndarray


def daily_totals(
    events: LiquidationEvents, market: str, ts: np.ndarray, span: tuple[float, float]
) -> DailyLiquidations:
    """Daily totals of one market's events on the closes `ts`; `span` = the file's first/last event."""
    ev = events.market(market)
    usd, count = day_sums(ts, Stamped.of(ev.ts, ev.usd))
    first, last = span
    # a day counts as covered when the file spans it (first event's day .. last event's day)
    covered = (ts > math.floor(first / DAY) * DAY) & (ts <= math.ceil(last / DAY) * DAY)
    usd, count = np.where(covered, usd, np.nan), np.where(covered, count, np.nan)
    nxt = np.full(ts.size, np.nan)
    step = np.diff(ts) == DAY
    nxt[:-1] = np.where(step, usd[1:], np.nan)
    return DailyLiquidations(market, ts, usd, count, nxt)
