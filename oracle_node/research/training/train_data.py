"""Training data: the real BTC and ETH histories from the shared data set, read for offline
training only (the node itself never reads ../shared), through the same readers the node's replay
uses (oracle_node.sources), so every file quirk is handled in one place.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from oracle_node.features.daily import aggregate_to_daily
from oracle_node.features.history import MarketHistory
from oracle_node.research.training.ml_data import file_sha256, with_funding
from oracle_node.sources.history import load_history
from oracle_node.sources.ohlcv import read_cdd_ohlcv

BTC_DAILY = "prices/btc_usd_daily_2015_2026.csv"
BTC_FUNDING = "funding/btc_perp_funding_daily_2019_2026.csv"
ETH_HOURLY = "prices/binance_ethusdt_spot_1h_2017_2021.csv"
TRAINING_FILES: tuple[str, ...] = (BTC_DAILY, BTC_FUNDING, ETH_HOURLY)


def read_daily_csv(path: Path, market: str, funding_path: Path | None = None) -> MarketHistory:
    """`date,price,volume` daily closes (stamped at the day's end, UTC), funding joined by date."""
    return with_funding(load_history(market, str(path)), funding_path)


def read_cdd_hourly(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CryptoDataDownload hourly export -> (bar open ts, close, quote volume), oldest first, with the
    export's quirks (splice, bad prints) handled by the replay reader."""
    bars = read_cdd_ohlcv(path).bars
    ts = np.array([b.ts for b in bars])
    close = np.array([b.close for b in bars])
    volume = np.array([np.nan if b.volume_quote is None else b.volume_quote for b in bars])
    return ts, close, volume


def load_training_histories(data_dir: Path) -> dict[str, MarketHistory]:
    """BTC daily with funding; ETH daily aggregated from hourly closes (days with >= 20 hours)."""
    btc = read_daily_csv(data_dir / BTC_DAILY, "BTC-USD", data_dir / BTC_FUNDING)
    ts, close, vol = read_cdd_hourly(data_dir / ETH_HOURLY)
    eth = aggregate_to_daily("ETH-USDT", ts, close, vol, min_obs_per_day=20)
    return {"BTC-USD": btc, "ETH-USDT": eth}


def training_file_hashes(data_dir: Path) -> dict[str, str]:
    return {name: file_sha256(data_dir / name) for name in TRAINING_FILES}
