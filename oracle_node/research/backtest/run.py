"""`run_backtest`: load prices, walk every model forward, score, write the three output files.

DIR/metrics.json   {"run": {...metadata...}, "models": {name: metrics}} (see backtest.metrics; each
                   model's `risk_score` object: the score's out-of-sample calibration, see
                   backtest.score_calibration)
DIR/forecasts.csv  date, return, then var_<model>, es_<model> per model (log-return losses)
DIR/report.html    metadata, the metrics table and inline SVG charts
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from oracle_node import atomic
from oracle_node.errors import DataError
from oracle_node.research.backtest.engine import (
    DEFAULT_MODELS,
    ModelPath,
    Progress,
    WalkForwardConfig,
    walk_forward,
)
from oracle_node.research.backtest.metrics import dm_against_best, dm_group_best, model_metrics
from oracle_node.research.backtest.ml import MlOptions, train_for_backtest
from oracle_node.research.backtest.prices import PriceSeries, load_prices
from oracle_node.research.backtest.report import render_report
from oracle_node.research.backtest.score_calibration import add_score_calibration


@dataclass(frozen=True)
class BacktestResult:
    run: dict[str, Any]  # metadata written under "run" in metrics.json
    metrics: dict[str, dict[str, Any]]  # per model, as in metrics.json
    dates: tuple[str, ...]  # the test days (UTC dates of the realised returns)
    returns: np.ndarray  # realised log returns on the test days
    paths: dict[str, ModelPath]
    out_dir: Path
    wall_seconds: float


def day_labels(close_ts: np.ndarray) -> list[str]:
    """UTC date each close belongs to (closes are stamped at the end of their day)."""
    return [datetime.fromtimestamp(t - 1.0, UTC).strftime("%Y-%m-%d") for t in close_ts.tolist()]


def run_backtest(
    prices: PriceSeries | str | Path,
    asset: str,
    alpha: float,
    window: int,
    test_days: int,
    refit_every: int = 1,
    out_dir: str | Path = "backtest",
    models: Sequence[str] | None = None,
    progress: Progress | None = None,
    *,
    workers: int | None = None,
    sims: int = 1000,
    seed: int = 0,
    ml: MlOptions | None = None,
) -> BacktestResult:
    """Walk-forward backtest of `models` (default: all baselines, plus the ML models when `ml` is
    given: trained here on the days before the test period, written to out_dir/models/)."""
    started = time.perf_counter()
    history = load_prices(prices, asset)
    returns = np.diff(np.log(history.close))
    dates = day_labels(history.ts[1:])
    cfg = WalkForwardConfig(alpha, window, test_days, refit_every, sims, seed)
    cfg.validate(returns.size)
    out = Path(out_dir)
    names, ml_meta = tuple(models or DEFAULT_MODELS), None
    if ml is not None:
        bundle, model_hash = train_for_backtest(history, returns.size, cfg, ml, prices, out)
        names = tuple(dict.fromkeys((*names, *([] if models else bundle.models))))
        ml_meta = {
            "split": bundle.split,
            "manifest_hash": model_hash,
            "train_seconds": round(time.perf_counter() - started, 3),
        }
    n_workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    paths = walk_forward(returns, cfg, names, progress, n_workers)
    test_r, test_dates = returns[-test_days:], tuple(dates[-test_days:])
    metrics = score_paths(test_r, paths, alpha)
    add_score_calibration(metrics, returns, paths, alpha)
    wall = time.perf_counter() - started
    run = _run_meta(prices, asset, cfg, test_dates, dates[-test_days - window], n_workers, wall)
    run["ml"] = ml_meta
    if ml_meta is not None:
        pairs = {m: (p.var, p.es) for m, p in paths.items()}
        ml_meta["dm_fz0_best_ml_vs_best_baseline"] = dm_group_best(test_r, pairs, alpha, bundle.models)
    write_outputs(out, run, metrics, test_dates, test_r, paths, history.close[-test_days:])
    return BacktestResult(run, metrics, test_dates, test_r, paths, out, wall)


def score_paths(returns: np.ndarray, paths: dict[str, ModelPath], alpha: float) -> dict[str, dict[str, Any]]:
    """metrics.json's per-model objects, with fit counters and the DM test against the best FZ0."""
    metrics = {m: model_metrics(returns, p.var, p.es, alpha, p.draws) for m, p in paths.items()}
    dm = dm_against_best(returns, {m: (p.var, p.es) for m, p in paths.items()}, alpha)
    for m, p in paths.items():
        metrics[m]["fit_stats"] = p.stats
        metrics[m]["dm_fz0_vs_best"] = dm.get(m)
    return metrics


def _run_meta(
    prices: object,
    asset: str,
    cfg: WalkForwardConfig,
    test_dates: Sequence[str],
    first_fit_date: str,
    workers: int,
    wall: float,
) -> dict[str, Any]:
    return {
        "asset": asset,
        "prices": prices.market if hasattr(prices, "market") else str(prices),
        "alpha": cfg.alpha,
        "window": cfg.window,
        "test_days": cfg.test_days,
        "test_start": test_dates[0],
        "test_end": test_dates[-1],
        "first_fit_window_start": first_fit_date,
        "refit_every": cfg.refit_every,
        "z2_simulations": cfg.sims,
        "seed": cfg.seed,
        "workers": workers,
        "wall_seconds": round(wall, 3),
        "units": "1-day log returns; VaR/ES positive losses; breach when return < -VaR",
    }


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_outputs(
    out: Path,
    run: dict[str, Any],
    metrics: dict[str, dict[str, Any]],
    dates: Sequence[str],
    returns: np.ndarray,
    paths: dict[str, ModelPath],
    close: np.ndarray,
) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        doc = _json_safe({"run": run, "models": metrics})
        atomic.write_text(out / "metrics.json", json.dumps(doc, indent=2, allow_nan=False) + "\n")
        write_forecasts(out / "forecasts.csv", dates, returns, paths)
        pairs = {m: (p.var, p.es) for m, p in paths.items()}
        atomic.write_text(out / "report.html", render_report(run, metrics, dates, close, returns, pairs))
    except OSError as exc:
        raise DataError(str(out), None, None, exc.strerror, "cannot write the backtest outputs") from exc


def write_forecasts(
    path: Path, dates: Sequence[str], returns: np.ndarray, paths: dict[str, ModelPath]
) -> None:
    cols = [c for m in paths for c in (f"var_{m}", f"es_{m}")]
    with atomic.atomic_write(path, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "return", *cols])
        for i, day in enumerate(dates):
            row = [f"{v:.8f}" for m in paths.values() for v in (m.var[i], m.es[i])]
            w.writerow([day, f"{returns[i]:.8f}", *row])
