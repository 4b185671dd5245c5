"""`oracle-node train`: the served model (`qgbm_har_v1`, kind onnx_quantile) trained on price files,
written as a model directory the node loads as is: OUT/manifest.json (schema manifest_schema.py) and
the ONNX file it pins. Point the node's `model.manifest` at OUT/manifest.json once the DAO has
allow-listed its hash (scripts/allow_model.py).

The asset's rows and those of every `--pool FILE:ASSET` are pooled; rows whose target day closes on
or before `--test-start` (00:00 UTC) are fitted, the rest are scored out of sample (train.py). The
same function trains the bundled model (scripts/train_models.py), so there is one writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from oracle_node.errors import ConfigError
from oracle_node.features.history import MarketHistory
from oracle_node.models.manifest import load_manifest
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.training.ml_data import file_sha256
from oracle_node.research.training.train_run import train_served_model

Pool = tuple[str | Path, str, str | Path | None]


def parse_pool(spec: str) -> Pool:
    """`FILE:ASSET[:FUNDING_FILE]` -> (prices, asset, funding or None)."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise ConfigError(f"--pool {spec!r}: expected FILE:ASSET or FILE:ASSET:FUNDING_FILE")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def cut_index(target_ts: np.ndarray, test_start: str) -> int:
    """First row (of a backtest's ML rows) whose target day ends after `test_start` 00:00 UTC."""
    try:
        day = date.fromisoformat(test_start)
    except ValueError:
        raise ConfigError(f"--test-start {test_start!r} is not an ISO date (YYYY-MM-DD)") from None
    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    known = np.where(np.isfinite(target_ts), target_ts, np.inf)
    return int(np.searchsorted(known, start, side="right"))  # first target day ending after start


def training_inputs(
    prices: str | Path, asset: str, pool: Sequence[Pool]
) -> tuple[dict[str, MarketHistory], dict[str, str]]:
    """Daily histories by market, and {file name: sha256} of every price file read."""
    histories: dict[str, MarketHistory] = {}
    files: dict[str, str] = {}
    for path, market, funding in [(prices, asset, None), *pool]:
        if funding is not None:
            raise ConfigError(
                f"--pool {path}:{market}:{funding}: the served model has no funding feature; give FILE:ASSET"
            )
        if market in histories:
            raise ConfigError(f"market {market!r} is given twice (--asset / --pool)")
        histories[market] = load_prices(path, market)
        name = Path(path).name if Path(path).name not in files else str(path)
        files[name] = file_sha256(Path(path))
    return histories, files


def run_train(
    prices: str | Path,
    asset: str,
    test_start: str,
    out: Path,
    *,
    pool: Sequence[Pool] = (),
    walk: bool = True,
) -> tuple[str, dict[str, Any]]:
    """Train, write OUT/ (ONNX + manifest.json) and load it back as the node does; -> (0x hash, manifest)."""
    histories, files = training_inputs(prices, asset, pool)
    train_served_model(histories, files, out, test_start=test_start, walk=walk)
    manifest = load_manifest(out)
    return manifest.hash_hex, manifest.data
