"""The feature table of a market from files: prices (any format load_prices reads) plus the optional
sources (funding, DVOL, 8-hourly funding, Aave liquidations, the other market's prices).

    python -m oracle_node.research.features_data [--out docs/features-coverage.md]

prints (or writes) the coverage table of docs/features.md for the shared data: which days each
feature has a value, per market and price file.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from oracle_node.features.external import ExternalInputs, Stamped
from oracle_node.features.frame import FeatureFrame
from oracle_node.features.history import MarketHistory
from oracle_node.features.table import coverage, feature_table
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.training.ml_data import with_funding
from oracle_node.sources.aave_csv import read_aave_liquidations
from oracle_node.sources.series import TimeSeries, read_dvol, read_funding_8h

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@dataclass(frozen=True)
class FeatureFiles:
    """Optional inputs of the feature table (None: those features are NaN)."""

    funding: Path | None = None  # daily `date,funding_mean,funding_abs`
    dvol: Path | None = None  # Deribit DVOL `[[ms, value], ...]`
    funding_8h: Path | None = None  # `[[ms, percent], ...]`
    liquidations: Path | None = None  # Aave V2 liquidation CSV
    other_prices: Path | None = None  # the other market (BTC for ETH, ETH for BTC)
    other_asset: str = "OTHER"


def _stamped(series: TimeSeries) -> Stamped:
    return Stamped.of(series.ts, series.values)


def external_inputs(files: FeatureFiles) -> ExternalInputs:
    liq = None if files.liquidations is None else read_aave_liquidations(files.liquidations)
    other = None if files.other_prices is None else load_prices(files.other_prices, files.other_asset)
    return ExternalInputs(
        dvol=None if files.dvol is None else _stamped(read_dvol(files.dvol)),
        funding_8h=None if files.funding_8h is None else _stamped(read_funding_8h(files.funding_8h)),
        liquidations=None if liq is None else Stamped.of(liq.ts),
        liquidations_span=None if liq is None else liq.span,
        other=other,
    )


def market_history(prices: Path | str, asset: str, files: FeatureFiles) -> MarketHistory:
    return with_funding(load_prices(prices, asset), files.funding)


def table_for(prices: Path | str, asset: str, files: FeatureFiles) -> FeatureFrame:
    """The feature table of `asset` from its price file and the optional sources."""
    return feature_table(market_history(prices, asset, files), external_inputs(files))


def shared_tables(data: Path = SHARED) -> dict[str, FeatureFrame]:
    """The shared data's tables: BTC daily 2015-2026, BTC and ETH hourly 2017-2021."""
    common = {
        "dvol": data / "vol" / "deribit_btc_dvol_daily.json",
        "funding_8h": data / "funding" / "btc_perp_funding_8h.json",
        "liquidations": data / "liquidations" / "aave_v2_liquidations_2020_2022.csv",
    }
    funding = data / "funding" / "btc_perp_funding_daily_2019_2026.csv"
    btc_h = data / "prices" / "binance_btcusdt_spot_1h_2017_2021.csv"
    eth_h = data / "prices" / "binance_ethusdt_spot_1h_2017_2021.csv"
    return {
        "BTC daily 2015-2026 (btc_usd_daily)": table_for(
            data / "prices" / "btc_usd_daily_2015_2026.csv",
            "BTC",
            FeatureFiles(funding, **common, other_prices=eth_h, other_asset="ETH"),
        ),
        "BTC hourly 2017-2021 (binance spot)": table_for(
            btc_h, "BTC", FeatureFiles(funding, **common, other_prices=eth_h, other_asset="ETH")
        ),
        "ETH hourly 2017-2021 (binance spot)": table_for(
            eth_h,
            "ETH",
            FeatureFiles(liquidations=common["liquidations"], other_prices=btc_h, other_asset="BTC"),
        ),
    }


def coverage_markdown(tables: dict[str, FeatureFrame]) -> str:
    """One row per feature, one column per table: first..last day (days with a value)."""
    labels = list(tables)
    cov = {label: {c["feature"]: c for c in coverage(frame)} for label, frame in tables.items()}
    names = next(iter(tables.values())).names
    lines = ["| feature | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for name in names:
        cells = []
        for label in labels:
            c = cov[label][name]
            cells.append("-" if not c["days"] else f"{c['first']}..{c['last']} ({c['days']})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    text = coverage_markdown(shared_tables(args.data))
    if args.out is None:
        print(text, end="")
    else:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
