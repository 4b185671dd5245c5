"""The real market data bundled with the package (see oracle_node/data/PROVENANCE.md)."""

from __future__ import annotations

from pathlib import Path

from oracle_node.errors import ConfigError

BUNDLED_DIR = Path(__file__).resolve().parents[1] / "data"
BUNDLED = {
    "btc_usd_daily": "btc_usd_daily_2015_2026.csv.gz",
    "btc_perp_funding_daily": "btc_perp_funding_daily_2019_2026.csv.gz",
    "binance_btcusdt_spot_1h": "binance_btcusdt_spot_1h_2017_2021.csv.gz",
    "binance_ethusdt_spot_1h": "binance_ethusdt_spot_1h_2017_2021.csv.gz",
    "binance_btcusdt_perp_1h": "binance_btcusdt_perp_1h_2020.csv.gz",
}
# The real hourly venue each demo market is derived from.
HOURLY_SPOT = {"BTC-USD": "binance_btcusdt_spot_1h", "ETH-USD": "binance_ethusdt_spot_1h"}


def resolve(spec: str) -> Path:
    """'bundled:NAME' or a file path -> an existing path (ConfigError otherwise)."""
    if spec.startswith("bundled:"):
        name = spec.removeprefix("bundled:")
        if name not in BUNDLED:
            raise ConfigError(f"data {spec!r}: unknown bundled data set, choose one of {sorted(BUNDLED)}")
        return BUNDLED_DIR / BUNDLED[name]
    path = Path(spec)
    if not path.is_file():
        raise ConfigError(f"data {spec!r}: file does not exist")
    return path
