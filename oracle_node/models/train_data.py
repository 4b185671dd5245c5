"""Training data: the real BTC and ETH histories from the shared data set, read for offline
training only (the node itself never reads ../shared). Loaders handle the files' quirks: optional
banner line, newest-first rows, unix seconds or milliseconds, odd date forms (the unix column is used).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from oracle_node.errors import DataError
from oracle_node.features.daily import aggregate_to_daily
from oracle_node.features.history import SECONDS_PER_DAY, MarketHistory

BTC_DAILY = "prices/btc_usd_daily_2015_2026.csv"
BTC_FUNDING = "funding/btc_perp_funding_daily_2019_2026.csv"
ETH_HOURLY = "prices/binance_ethusdt_spot_1h_2017_2021.csv"
TRAINING_FILES: tuple[str, ...] = (BTC_DAILY, BTC_FUNDING, ETH_HOURLY)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV, skipping a banner line before the header."""
    with path.open(newline="", encoding="utf-8") as fh:
        lines = fh.readlines()
    start = 1 if lines and "," not in lines[0] else 0
    reader = csv.DictReader(lines[start:])
    yield from enumerate(reader, start=start + 2)


def _num(path: Path, line: int, row: dict[str, str], field: str) -> float:
    raw = row.get(field)
    try:
        value = float(raw) if raw not in (None, "", "NULL") else float("nan")
    except ValueError:
        raise DataError(str(path), line, field, raw, "not a number") from None
    return value


def _day_end(path: Path, line: int, date: str) -> float:
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        raise DataError(str(path), line, "date", date, "not an ISO date") from None
    return float(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() + SECONDS_PER_DAY)


def read_daily_csv(path: Path, market: str, funding_path: Path | None = None) -> MarketHistory:
    """`date,price,volume` daily closes (stamped at the day's end, UTC), funding joined by date."""
    ts, close, volume = [], [], []
    for line, row in _rows(path):
        ts.append(_day_end(path, line, row["date"]))
        close.append(_num(path, line, row, "price"))
        volume.append(_num(path, line, row, "volume"))
    funding = None
    if funding_path is not None:
        by_day = {
            _day_end(funding_path, ln, r["date"]): _num(funding_path, ln, r, "funding_mean")
            for ln, r in _rows(funding_path)
        }
        funding = [by_day.get(t, float("nan")) for t in ts]
    return MarketHistory(market, np.array(ts), np.array(close), volume=np.array(volume), funding=funding)


def _unix_seconds(path: Path, line: int, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise DataError(str(path), line, "unix", raw, "not a unix time") from None
    return value / 1000.0 if value > 1e11 else value


def read_cdd_hourly(path: Path, market: str, volume_field: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CryptoDataDownload hourly export -> (ts, close, quote volume), oldest first, de-duplicated."""
    rows = [
        (_unix_seconds(path, ln, r["unix"]), _num(path, ln, r, "close"), _num(path, ln, r, volume_field))
        for ln, r in _rows(path)
    ]
    arr = np.array(sorted(rows))
    keep = np.r_[True, np.diff(arr[:, 0]) > 0]
    return arr[keep, 0], arr[keep, 1], arr[keep, 2]


def load_training_histories(data_dir: Path) -> dict[str, MarketHistory]:
    """BTC daily with funding; ETH daily aggregated from hourly closes (days with >= 20 hours)."""
    btc = read_daily_csv(data_dir / BTC_DAILY, "BTC-USD", data_dir / BTC_FUNDING)
    ts, close, vol = read_cdd_hourly(data_dir / ETH_HOURLY, "ETH-USDT", "Volume USDT")
    eth = aggregate_to_daily("ETH-USDT", ts, close, vol, min_obs_per_day=20)
    return {"BTC-USD": btc, "ETH-USDT": eth}


def training_file_hashes(data_dir: Path) -> dict[str, str]:
    return {name: file_sha256(data_dir / name) for name in TRAINING_FILES}
