"""`run_backtest`: load prices, walk every model forward, score, write the three output files.

DIR/metrics.json   {"run": {...metadata...}, "models": {name: metrics}} (see backtest.metrics; each
                   model's `risk_score` object: the score's out-of-sample calibration, see
                   backtest.score_calibration)
DIR/forecasts.csv  date, return, then var_<model>, es_<model> per model (log-return losses)
DIR/report.html    metadata, the metrics table and matplotlib charts inlined as PNG

Optional families are added by preparers (`FamilyPreparer`: trained before the walk, registered, and
named in metrics.json `run.<key>`; the hybrid is one, see `hybrid_preparer`). With `combo`, every
model is walked `combo.window` lead days before the test period and the combination (a second stage,
research.backtest.combination) learns its weights on them; only the test days are scored.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from oracle_node import atomic
from oracle_node.errors import ConfigError, DataError
from oracle_node.features.history import OPTIONAL_COLUMNS, MarketHistory
from oracle_node.models.ml_features import ml_rows
from oracle_node.research.backtest.attribution import AttributionSeries, qgbm_attributions
from oracle_node.research.backtest.combination import MODEL as COMBO
from oracle_node.research.backtest.combination import ComboOptions, combine
from oracle_node.research.backtest.engine import (
    DEFAULT_MODELS,
    ModelPath,
    Progress,
    WalkForwardConfig,
    walk_forward,
)
from oracle_node.research.backtest.hybrid import HybridOptions, prepare_hybrid
from oracle_node.research.backtest.metrics import dm_against_best, dm_group_best, model_metrics
from oracle_node.research.backtest.ml import MlOptions, train_for_backtest
from oracle_node.research.backtest.prices import PriceSeries, load_prices
from oracle_node.research.backtest.report import render_report
from oracle_node.research.backtest.score_calibration import add_score_calibration
from oracle_node.research.training.ml_data import with_funding


@dataclass(frozen=True)
class PreparedFamily:
    """What a preparer registered: its models (added to a default run), metadata for metrics.json
    `run.<key>`, and whether its models count as ML in the best-ML vs best-baseline DM test."""

    key: str
    models: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    challenger: bool = True


# (asset history, number of returns, walk config, output dir) -> trains before the walk, registers
FamilyPreparer = Callable[[MarketHistory, int, WalkForwardConfig, Path], PreparedFamily]


def hybrid_preparer(ml: MlOptions, opts: HybridOptions) -> FamilyPreparer:
    """A `hybrid_gjr` family (GJR sigma x ML residual quantile), with the ML inputs (funding, pool)."""

    def prepare(history: MarketHistory, n: int, cfg: WalkForwardConfig, _out: Path) -> PreparedFamily:
        model = prepare_hybrid(with_funding(history, ml.funding), n, cfg, ml.pooled(), opts)
        return PreparedFamily(opts.name, (opts.name,), model.split)

    return prepare


def truncate(history: MarketHistory, end: str | None) -> MarketHistory:
    """The history up to and including the UTC day `end` (a validation run: nothing after it)."""
    if end is None:
        return history
    try:
        d = date.fromisoformat(end)
    except ValueError:
        raise ConfigError(f"--end {end!r} is not an ISO date (YYYY-MM-DD)") from None
    limit = datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() + 86400.0  # close of day `end`
    n = int(np.searchsorted(history.ts, limit, side="right"))
    cols = {c: getattr(history, c)[:n] for c in OPTIONAL_COLUMNS if getattr(history, c) is not None}
    return replace(history, ts=history.ts[:n], close=history.close[:n], **cols)


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
    hybrids: Sequence[HybridOptions] = (),
    combo: ComboOptions | None = None,
    preparers: Sequence[FamilyPreparer] = (),
    end: str | None = None,
) -> BacktestResult:
    """Walk-forward backtest of `models` (default: all baselines, plus the ML models when `ml` is
    given: trained here before the walk, written to out_dir/models/; plus a `hybrid_gjr` per `hybrids`
    entry (with `ml`), every preparer's models, and `combo` when `combo` is given). `end` cuts the
    price history after that UTC day (validation runs)."""
    started = time.perf_counter()
    history = truncate(load_prices(prices, asset), end)
    returns = np.diff(np.log(history.close))
    dates = day_labels(history.ts[1:])
    lead = 0 if combo is None else combo.lead_days(returns.size - window - test_days)
    cfg = WalkForwardConfig(alpha, window, test_days, refit_every, sims, seed, lead)
    cfg.validate(returns.size)
    out = Path(out_dir)
    added: list[str] = []  # models the ML options and preparers add to a default run
    challengers: list[str] = []
    run_extra: dict[str, Any] = {}
    ml_meta = None
    if ml is not None:
        bundle, model_hash = train_for_backtest(history, returns.size, cfg, ml, prices, out)
        ml_meta = {"split": bundle.split, "manifest_hash": model_hash,
                   "train_seconds": round(time.perf_counter() - started, 3)}  # fmt: skip
        challengers += bundle.models
        added += bundle.models
        preparers = [*(hybrid_preparer(ml, h) for h in hybrids), *preparers]
    for prep in preparers:
        done = prep(history, returns.size, cfg, out)
        run_extra[done.key] = done.meta
        challengers += done.models if done.challenger else []
        added += done.models
    names = list(models or dict.fromkeys((*DEFAULT_MODELS, *added, *([COMBO] if combo else []))))
    if COMBO in names and combo is None:
        raise ConfigError("backtest: model 'combo' needs combo options (ComboOptions)")
    walked = [m for m in names if m != COMBO]
    n_workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    paths = walk_forward(returns, cfg, walked, progress, n_workers)
    if combo is not None and COMBO in names:
        run_extra["combo"] = _add_combo(paths, returns[-cfg.walk_days :], cfg, combo)
        challengers.append(COMBO)
    paths = {m: p.last(test_days) for m, p in paths.items()}
    test_r, test_dates = returns[-test_days:], tuple(dates[-test_days:])
    metrics = score_paths(test_r, paths, alpha)
    add_score_calibration(metrics, returns, paths, alpha)
    wall = time.perf_counter() - started
    run = _run_meta(prices, asset, cfg, test_dates, dates[-cfg.walk_days - window], n_workers, wall)
    run.update(ml=ml_meta, end=end, **run_extra)
    if ml_meta is not None or challengers:
        pairs = {m: (p.var, p.es) for m, p in paths.items()}
        run["dm_fz0_best_ml_vs_best_baseline"] = dm_group_best(test_r, pairs, alpha, challengers)
        run["ml_models"] = challengers
        if ml_meta is not None:
            ml_meta["dm_fz0_best_ml_vs_best_baseline"] = run["dm_fz0_best_ml_vs_best_baseline"]
    attribution = None
    if ml is not None:  # the qgbm model's TreeSHAP attributions, for the report
        attribution = qgbm_attributions(bundle, ml_rows(with_funding(history, ml.funding)), dates, test_days)
    write_outputs(out, run, metrics, test_dates, test_r, paths, history.close[-test_days:], attribution)
    return BacktestResult(run, metrics, test_dates, test_r, paths, out, wall)


def _add_combo(
    paths: dict[str, ModelPath], walked_r: np.ndarray, cfg: WalkForwardConfig, combo: ComboOptions
) -> dict[str, Any]:
    """Add the `combo` path (test days) learned on the lead days and each test day's past."""
    members = list(combo.members or paths)
    missing = [m for m in members if m not in paths]
    if missing:
        raise ConfigError(f"combo members {missing} are not in the run ({sorted(paths)})")
    var = np.vstack([paths[m].var for m in members])
    es = np.vstack([paths[m].es for m in members])
    c = combine(walked_r, var, es, cfg.alpha, combo.window, cfg.lead_days, members, combo.shrink)
    paths[COMBO] = ModelPath(COMBO, c.var, c.es, None, {"members": len(members)})
    return {"window": combo.window, "lead_days": cfg.lead_days, "shrink": combo.shrink, **c.summary()}


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
    attribution: AttributionSeries | None = None,
) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        doc = _json_safe({"run": run, "models": metrics})
        atomic.write_text(out / "metrics.json", json.dumps(doc, indent=2, allow_nan=False) + "\n")
        write_forecasts(out / "forecasts.csv", dates, returns, paths)
        pairs = {m: (p.var, p.es) for m, p in paths.items()}
        atomic.write_text(
            out / "report.html", render_report(run, metrics, dates, close, returns, pairs, attribution)
        )
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
