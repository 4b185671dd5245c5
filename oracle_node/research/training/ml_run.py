"""`oracle-node train`: fit the ML models for one asset before a test start date, export ONNX + manifest.

The cut is the first row whose target day is on or after `test_start` (UTC): every fitted and
calibration row has its target day before it (see ml_train for the fit / calibration split). One
bundle per alpha; all files land in `out` with one manifest.json.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from oracle_node.errors import ConfigError
from oracle_node.models.ml_features import ml_rows
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.training.ml_data import data_hashes, with_funding
from oracle_node.research.training.ml_train import CAL_DAYS, train_bundle, write_bundles

Pool = tuple[str | Path, str, str | Path | None]


def parse_pool(spec: str) -> Pool:
    """`FILE:ASSET[:FUNDING_FILE]` -> (prices, asset, funding or None)."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise ConfigError(f"--pool {spec!r}: expected FILE:ASSET or FILE:ASSET:FUNDING_FILE")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def cut_index(target_ts: np.ndarray, test_start: str) -> int:
    try:
        day = date.fromisoformat(test_start)
    except ValueError:
        raise ConfigError(f"--test-start {test_start!r} is not an ISO date (YYYY-MM-DD)") from None
    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    known = np.where(np.isfinite(target_ts), target_ts, np.inf)
    return int(np.searchsorted(known, start, side="right"))  # first target day ending after start


def run_train(
    prices: str | Path, asset: str, test_start: str, alphas: Sequence[float], out: Path, *,
    funding: str | Path | None = None, pool: Sequence[Pool] = (), cal_days: int = CAL_DAYS,
) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """Train for each alpha, write ONNX files + manifest.json; -> (0x manifest hash, manifest)."""
    rows = ml_rows(with_funding(load_prices(prices, asset), funding))
    pooled = [ml_rows(with_funding(load_prices(p, a), f)) for p, a, f in pool]
    cut = cut_index(rows.target_ts, test_start)
    bundles = [train_bundle(rows, cut, a, pooled, cal_days) for a in alphas]
    files: dict[str, Path | str | None] = {"prices": prices, "funding": funding}
    files.update({f"pool_{a}_prices": p for p, a, _ in pool})
    files.update({f"pool_{a}_funding": f for _, a, f in pool})
    digest = write_bundles(out, bundles, rows, data_hashes(files))
    return "0x" + digest.hex(), json.loads((out / "manifest.json").read_text())
