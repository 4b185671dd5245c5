"""The retrain-policy study: choose each policy's parameter on a validation span, compare on the rest.

Every candidate (never; schedule with each N of `every_grid`; drift with each gap of `gap_grid` and the
monitor's default thresholds) is walked forward once from `start` to the last known return. The walk is
causal (tests/unit/test_retrain_policy.py poisons the future), so a candidate's forecasts on the
validation span `start .. valid_end` are what a run stopping at `valid_end` would have produced.
Choices read the validation span only: N and the gap minimise the mean FZ0 there (ties: fewer
retrains). The chosen schedule and drift policies are then compared with `never` on the evaluation
span (the day after `valid_end` to the end): the recommended default is the one with the lowest FZ0
there, reported with its Diebold-Mariano p against `never`. The other candidates' evaluation scores
are kept as a sensitivity check (never used to choose).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from oracle_node.errors import ModelError
from oracle_node.models.ml_features import MlRows, ml_rows
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.retrain.evaluate import dm_between, span_scores, yearly_scores
from oracle_node.research.retrain.policy import Fitter, Policy, PolicyPath, bundle_fitter, walk
from oracle_node.research.training.ml_data import with_funding
from oracle_node.research.training.ml_train import CAL_DAYS, day


@dataclass(frozen=True)
class StudyConfig:
    alpha: float = 0.01
    start: str = "2017-01-01"
    valid_end: str = "2018-12-31"
    every_grid: tuple[int, ...] = (30, 90, 180, 365)
    gap_grid: tuple[int, ...] = (30, 90, 180)
    model: str = "qgbm"
    cal_window: int = CAL_DAYS

    def candidates(self) -> list[Policy]:
        return [Policy("never"), *(Policy("schedule", every=n) for n in self.every_grid),
                *(Policy("drift", min_gap=g) for g in self.gap_grid)]  # fmt: skip


@dataclass(frozen=True)
class Study:
    cfg: StudyConfig
    dates: list[str]
    paths: dict[str, PolicyPath]  # by policy label
    chosen: dict[str, str]  # never / schedule / drift -> label
    validation: dict[str, dict[str, Any]]
    evaluation: dict[str, dict[str, Any]]
    yearly: dict[str, dict[str, dict[str, Any]]]
    recommended: str  # label
    head_to_head: dict[str, dict[str, Any]]  # DM of the recommended policy against each other chosen one
    wall_seconds: float

    @property
    def eval_span(self) -> tuple[str, str]:
        return next(iter(self.evaluation.values()))["first"], next(iter(self.evaluation.values()))["last"]


def row_dates(rows: MlRows) -> list[str]:
    """Date of the return each row forecasts ('' where unknown)."""
    return [day(t) if np.isfinite(t) else "" for t in rows.target_ts.tolist()]


def load_rows(prices: str | Path, asset: str, funding: str | Path | None) -> MlRows:
    return ml_rows(with_funding(load_prices(prices, asset), funding))


def _bounds(rows: MlRows, dates: Sequence[str], cfg: StudyConfig) -> tuple[int, int]:
    known = np.flatnonzero(np.isfinite(rows.returns))
    last = int(known[-1]) + 1
    first = next((k for k in range(last) if dates[k] >= cfg.start), last)
    if not cfg.start < cfg.valid_end < dates[last - 1] or first >= last:
        raise ModelError(
            f"retrain study: need start {cfg.start} < validation end {cfg.valid_end} < {dates[last - 1]}"
        )
    return first, last


def _pick(labels: Sequence[str], scores: dict[str, dict[str, Any]]) -> str:
    return min(labels, key=lambda m: (scores[m]["fz0"], scores[m]["retrains"]))


def study_span(rows: MlRows, cfg: StudyConfig) -> tuple[list[str], int, int]:
    """(row dates, first row, last row + 1) every candidate walks; ModelError when cfg does not fit."""
    dates = row_dates(rows)
    return (dates, *_bounds(rows, dates, cfg))


def run_study(rows: MlRows, cfg: StudyConfig, progress: Any = None, fitter: Fitter | None = None) -> Study:
    """Walk every candidate, choose on the validation span, score on the evaluation span."""
    started = time.perf_counter()
    fitter = fitter or bundle_fitter(cfg.alpha, cfg.model, cfg.cal_window)
    dates, first, last = study_span(rows, cfg)
    paths: dict[str, PolicyPath] = {}
    for p in cfg.candidates():
        paths[p.label] = walk(rows, p, first, last, cfg.alpha, fitter, cfg.cal_window)
        if progress is not None:
            progress(p.label, paths[p.label])
    return choose(cfg, dates, paths, time.perf_counter() - started)


def choose(cfg: StudyConfig, dates: list[str], paths: dict[str, PolicyPath], wall_seconds: float) -> Study:
    """The study from every candidate's walk (`paths`, by label, in `cfg.candidates()` order): choices
    on the validation span, scores on the evaluation span. `research.scale` walks the candidates as
    separate tasks and calls this in the driver."""
    never = paths["never"]
    first, last = never.first, never.first + never.var.size
    validation = {
        m: span_scores(p, dates, cfg.start, cfg.valid_end, cfg.alpha, never) for m, p in paths.items()
    }
    chosen = {
        "never": "never",
        "schedule": _pick([m for m in paths if m.startswith("schedule")], validation),
        "drift": _pick([m for m in paths if m.startswith("drift")], validation),
    }
    lo, hi = dates[next(k for k in range(first, last) if dates[k] > cfg.valid_end)], dates[last - 1]
    evaluation = {m: span_scores(p, dates, lo, hi, cfg.alpha, never) for m, p in paths.items()}
    yearly = {m: yearly_scores(paths[m], dates, lo, hi, cfg.alpha, never) for m in chosen.values()}
    best = min(chosen.values(), key=lambda m: evaluation[m]["fz0"])
    versus = {
        m: dm_between(paths[best], paths[m], dates, lo, hi, cfg.alpha) for m in chosen.values() if m != best
    }
    return Study(cfg, dates, paths, chosen, validation, evaluation, yearly, best, versus, wall_seconds)
