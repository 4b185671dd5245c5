"""Inputs of the ML models besides prices: daily funding joined onto a price history by UTC date."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from oracle_node.errors import DataError
from oracle_node.features.history import SECONDS_PER_DAY, MarketHistory
from oracle_node.sources.series import read_funding_daily


def read_funding(path: Path) -> dict[float, float]:
    """`date,funding_mean,funding_abs` (mean 8 h funding of the UTC day, a fraction) -> {day-end ts: rate}."""
    if not path.is_file():
        raise DataError(str(path), None, None, str(path), "funding file does not exist")
    mean = read_funding_daily(path).mean
    return {t + SECONDS_PER_DAY: v for t, v in zip(mean.ts, mean.values, strict=True)}


def with_funding(history: MarketHistory, path: Path | str | None) -> MarketHistory:
    """The history with its funding column from `path` (NaN on days the file lacks)."""
    if path is None:
        return history
    by_day = read_funding(Path(path))
    funding = np.array([by_day.get(float(t), np.nan) for t in history.ts.tolist()])
    return replace(history, funding=funding)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def data_hashes(paths: dict[str, Path | str | None]) -> dict[str, str]:
    """sha256 of each input file that exists (role -> hash)."""
    return {role: file_sha256(Path(p)) for role, p in paths.items() if p is not None and Path(p).is_file()}
