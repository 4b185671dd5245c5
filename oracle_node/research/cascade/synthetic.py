"""Small synthetic inputs in the shared files' layouts (tests and a quick CLI try-out): a Hawkes
liquidation stream written as an Aave V2 research CSV (decimal-row schema, USDC debt at $1) and a
daily BTC price file."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from oracle_node.research.cascade.data import REQUIRED
from oracle_node.research.cascade.hawkes import HawkesParams, simulate

COLLATERALS = ("WETH", "WBTC", "LINK")
START = datetime(2021, 1, 1, tzinfo=UTC).timestamp()


def write_liquidations(
    path: Path, days: int, seed: int = 0, params: HawkesParams | None = None
) -> np.ndarray:
    """Events over `days` days from START; returns their unix times."""
    rng = np.random.default_rng(seed)
    t = simulate(rng, params or HawkesParams(3.0, 1.5, 3.0), float(days))
    ts = np.floor(START + t * 86400.0)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(REQUIRED)
        for k, s in enumerate(ts):
            usd = float(np.exp(rng.normal(8.0, 1.5)))
            w.writerow(
                [
                    int(s),
                    COLLATERALS[k % 3],
                    "USDC",
                    f"{usd / 2000:.6f}",
                    f"{usd:.6f}",
                    "",
                    "1.0",
                    "2000.0",
                    f"{usd / 2000:.6f}",
                ]
            )
    return ts


def write_prices(path: Path, first: float, days: int, seed: int = 0) -> None:
    """`date,price,volume` daily closes from `first` (unix s) for `days` days."""
    rng = np.random.default_rng(seed)
    close = 30000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.04, days)))
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "price", "volume"])
        for k, c in enumerate(close):
            day = datetime.fromtimestamp(first + k * 86400.0, UTC).strftime("%Y-%m-%d")
            w.writerow([day, f"{c:.2f}", "1000"])


def write_hourly_prices(
    path: Path, first: float, hours: int, seed: int = 0, start_price: float = 2000.0
) -> None:
    """A Binance hourly OHLCV export (newest first, as the shared files) from `first` for `hours` hours."""
    rng = np.random.default_rng(seed)
    close = start_price * np.exp(np.cumsum(rng.normal(0.0, 0.008, hours)))
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "unix",
                "date",
                "symbol",
                "open",
                "high",
                "low",
                "close",
                "Volume X",
                "Volume USDT",
                "tradecount",
            ]
        )
        for k in range(hours - 1, -1, -1):
            ts = first + k * 3600.0
            c, o = close[k], close[k - 1] if k else close[0]
            day = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
            w.writerow([int(ts * 1000), day, "X/USDT", f"{o:.2f}", f"{max(o, c) * 1.001:.2f}",
                        f"{min(o, c) * 0.999:.2f}", f"{c:.2f}", "100", f"{100 * c:.2f}", "10"])  # fmt: skip
