"""The ML models (`qgbm`, `mlp`) as a walk-forward family with rolling conformal calibration.

`run_backtest` trains the models once, in the parent process, on rows before the test period
(`models.ml_train.train_bundle`: fit block, then a held-out calibration block); the family only runs
inference and calibrates. On its first day it computes the raw VaR of every row from the calibration
block on in ONE onnxruntime run per model (row k's features use returns[:k] only, so computing them
early reads nothing a forecast may not). For test day t the calibration set is the last
`cal_window` scores s_k = -r_k / v_k with k < t, r_k taken from `past` (held-out block, then realised test days): VaR_t and
ES_t are the conformal multipliers times v_t. Simulated draws resample the calibration scores.

With `retrain_every = N > 0` the family retrains inside the walk: on the first walked day at least N
days after the current models' cut it trains a new bundle with cut = t (fit and calibration rows all
before day t, so `past` bounds it exactly as it bounds a forecast) and recomputes the raw VaRs from
the new calibration block on. That is the node's retrain policy (docs/retrain-policy.md) applied to
the research models; N = 0 keeps the train-once walk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oracle_node.errors import ModelError
from oracle_node.features.history import MarketHistory
from oracle_node.models.ml_features import MlRows, ml_rows
from oracle_node.research.backtest.base import DayForecast
from oracle_node.research.backtest.engine import WalkForwardConfig, register_family
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.training.conformal import calibrate, scores
from oracle_node.research.training.ml_data import data_hashes, with_funding
from oracle_node.research.training.ml_train import CAL_DAYS, MlBundle, train_bundle, write_bundles

FAMILY = "ml"
# Walked days between retrains of qgbm/mlp inside a backtest walk, the default of `oracle-node backtest`
# (--ml-retrain-every) and of its markets file (ml_retrain_every): chosen on the validation periods,
# docs/model-quality.md "Retraining inside the walk". MlOptions keeps 0 (train once) for callers that
# study the train-once walk.
DEFAULT_RETRAIN_EVERY = 90


class MlFamily:
    cost = 0.2

    def __init__(
        self,
        bundle: MlBundle,
        rows: MlRows,
        sims: int = 0,
        cal_window: int = CAL_DAYS,
        retrain: Callable[[int], MlBundle] | None = None,
        retrain_every: int = 0,
    ) -> None:
        self.bundle, self.rows, self.sims, self.cal_window = bundle, rows, sims, cal_window
        self.retrain, self.retrain_every = retrain, retrain_every if retrain is not None else 0
        self.names = tuple(bundle.models)
        self.raw: np.ndarray | None = None  # (models, rows from cal_start)
        self.fits = 1

    @property
    def stats(self) -> dict[str, int]:
        return {"fits": self.fits, "fit_rows": self.bundle.fit_rows,
                "calibration_rows": self.bundle.cut - self.bundle.cal_start}  # fmt: skip

    def _start(self, past: np.ndarray) -> None:
        t, b = past.size, self.bundle
        if t < b.cut or not np.isclose(self.rows.returns[t - 1], past[-1], rtol=0, atol=1e-12):
            raise ModelError(
                f"ml family: day {t} precedes the training cut {b.cut} or the feature rows are not "
                f"aligned with the backtest returns"
            )
        self.raw = np.vstack([b.raw_var(n, self.rows, b.cal_start) for n in self.names])

    def forecast(self, past: np.ndarray, refit: bool, rng: np.random.Generator) -> tuple[DayForecast, ...]:
        if self.retrain_every and self.raw is not None and past.size - self.bundle.cut >= self.retrain_every:
            assert self.retrain is not None
            self.bundle, self.raw = self.retrain(past.size), None  # trained on rows before day t only
            self.fits += 1
        if self.raw is None:
            self._start(past)
        assert self.raw is not None
        i = past.size - self.bundle.cal_start  # this day's column; columns < i are realised days
        lo = max(0, i - self.cal_window)
        realised = past[self.bundle.cal_start + lo :]  # the scores come from `past` only
        out = []
        for j in range(len(self.names)):
            window = scores(realised, self.raw[j, lo:i])
            cal = calibrate(window, self.bundle.alpha)
            v = float(self.raw[j, i])
            if not np.isfinite(v):
                raise ModelError(f"ml family {self.names[j]}: no features for day {past.size}")
            draws = None
            if self.sims:
                draws = -v * rng.choice(window[np.isfinite(window)], self.sims)
            out.append(DayForecast(cal.multiplier * v, cal.es_multiplier * v, draws))
        return tuple(out)


def prepare_ml(
    history: MarketHistory,
    n_returns: int,
    cfg: WalkForwardConfig,
    pool: Sequence[MarketHistory] = (),
    cal_window: int = CAL_DAYS,
    retrain_every: int = 0,
) -> MlBundle:
    """Train the ML models on the days before the walk (lead + test days) and register the `ml` family
    (retraining every `retrain_every` walked days when > 0)."""
    rows = ml_rows(history)
    if rows.x.shape[0] != n_returns + 1:
        raise ModelError(f"ml: {rows.x.shape[0]} feature rows for {n_returns} returns (expected one more)")
    if retrain_every < 0:
        raise ModelError(f"ml: retrain_every = {retrain_every} days (0 = never, or > 0)")
    cut = n_returns - cfg.walk_days  # before the lead days when a combination learns on them
    pooled = [ml_rows(h) for h in pool]
    bundle = train_bundle(rows, cut, cfg.alpha, pooled, cal_window)

    def retrain(t: int) -> MlBundle:
        return train_bundle(rows, t, cfg.alpha, pooled, cal_window)

    def factory(c: WalkForwardConfig) -> MlFamily:
        return MlFamily(bundle, rows, c.sims, cal_window, retrain, retrain_every)

    register_family(FAMILY, factory, bundle.models, replace=True)
    return bundle


@dataclass(frozen=True)
class MlOptions:
    """ML inputs of a backtest: the asset's funding file, pooled training markets
    ((prices, asset, funding or None) each), and the rolling conformal window in days."""

    funding: str | Path | None = None
    pool: tuple[tuple[str | Path, str, str | Path | None], ...] = ()
    cal_window: int = CAL_DAYS
    retrain_every: int = 0  # walked days between retrains inside the walk (0: trained once)

    def pooled(self) -> list[MarketHistory]:
        return [with_funding(load_prices(p, a), f) for p, a, f in self.pool]

    def data_files(self, prices: object) -> dict[str, Path | str | None]:
        files: dict[str, Path | str | None] = {"prices": prices if isinstance(prices, str | Path) else None}
        files["funding"] = self.funding
        for i, (p, a, f) in enumerate(self.pool):
            files[f"pool{i}_{a}_prices"], files[f"pool{i}_{a}_funding"] = p, f
        return files


def train_for_backtest(
    history: MarketHistory, n_returns: int, cfg: WalkForwardConfig, opts: MlOptions, prices: object, out: Path
) -> tuple[MlBundle, str]:
    """Train (before the test period), register the family, write out/models/; -> (bundle, 0x hash)."""
    hist = with_funding(history, opts.funding)
    bundle = prepare_ml(hist, n_returns, cfg, opts.pooled(), opts.cal_window, opts.retrain_every)
    digest = write_bundles(out / "models", [bundle], ml_rows(hist), data_hashes(opts.data_files(prices)))
    return bundle, "0x" + digest.hex()
