"""The node's served model as a walk-forward family (`served`): what a report publishes, scored like
every research model.

`served_preparer` trains the served recipe (`research.training.train_run.train_served_model`: the
1 % / 99 % quantile GBM pair of `qgbm_har_v1`, its Student-t tails, the manifest) on the rows whose
target day closes before the first walked day, pooled with the ML pool markets, and writes it to
OUT/served/<cut day>/. The family then loads that directory exactly as the node does
(`models.ensemble.RiskModel`: ML quantiles, the GJR-GARCH-t baseline refitted weekly with its one-day
lag, the conservative field-wise combination `max(ML, 0.7 x GJR)`, the fallback to the baseline out
of the training range) and forecasts each walked day t from the daily history up to day t's open.
With `retrain_every = N > 0` it trains a new model directory on the first walked day at least N days
after the current cut (the node's retrain policy keeps a 90-day minimum gap, docs/retrain-policy.md).

The served model publishes VaR99 / ES99 as fractions of the price; the walk scores log-return
losses, so VaR = -log(1 - var99) (exact: a monotone map of a quantile) and ES = -log(1 - es99) (the
map of the tail mean, a lower bound of the log tail mean by Jensen; the difference is second order
at these sizes). It exists at alpha = 1 % only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from oracle_node.errors import ConfigError, ModelError
from oracle_node.features.history import MarketHistory
from oracle_node.models.ensemble import RiskModel
from oracle_node.models.forecast import Flag
from oracle_node.models.manifest import load_manifest
from oracle_node.research.backtest.base import DayForecast
from oracle_node.research.backtest.engine import WalkForwardConfig, register_family
from oracle_node.research.backtest.ml import MlOptions
from oracle_node.research.training.ml_data import data_hashes
from oracle_node.research.training.train import ALPHA
from oracle_node.research.training.train_run import train_served_model

FAMILY = "served"
MODELS: tuple[str, ...] = ("served",)

# (cut index: number of returns known) -> a RiskModel trained on rows before it
Trainer = Callable[[int], RiskModel]


def cut_day(history: MarketHistory, t: int) -> str:
    """The `--test-start` day of a model trained for walked day t: rows whose target day closes at
    or before close t (stamped 00:00 UTC of the next day) are fitted."""
    return datetime.fromtimestamp(float(history.ts[t]), UTC).strftime("%Y-%m-%d")


class ServedFamily:
    cost = 0.3

    def __init__(self, history: MarketHistory, trainer: Trainer, first: RiskModel, cut: int,
                 retrain_every: int = 0) -> None:  # fmt: skip
        self.history, self.trainer, self.model, self.cut = history, trainer, first, cut
        self.retrain_every = retrain_every
        self.names = MODELS
        self.fits = 1
        self.fallback_days = 0

    @property
    def stats(self) -> dict[str, int]:
        return {"fits": self.fits, "fallback_days": self.fallback_days}

    def forecast(self, past: np.ndarray, refit: bool, rng: np.random.Generator) -> tuple[DayForecast, ...]:
        t = past.size
        if t < self.cut:
            raise ModelError(f"served family: day {t} precedes the training cut {self.cut}")
        if t > 0 and not np.isclose(math.log(self.history.close[t] / self.history.close[t - 1]), past[-1],
                                    rtol=0, atol=1e-12):  # fmt: skip
            raise ModelError("served family: the history is not aligned with the backtest returns")
        if self.retrain_every and t - self.cut >= self.retrain_every:
            self.model, self.cut = self.trainer(t), t  # rows before day t only
            self.fits += 1
        fc = self.model.forecast(self.history.until(float(self.history.ts[t])))
        self.fallback_days += Flag.FALLBACK_BASELINE in fc.flags
        return (DayForecast(-math.log1p(-fc.var99), -math.log1p(-fc.es99), None),)


def require_served_alpha(alpha: float) -> None:
    """ConfigError unless alpha is the level the served model publishes (checked before any training)."""
    if not math.isclose(alpha, ALPHA):
        raise ConfigError(f"--served: the served model publishes VaR at {ALPHA:g} only, not alpha {alpha:g}")


def served_preparer(ml: MlOptions | None, prices: object, retrain_every: int = 0) -> Callable[..., Any]:
    """run_backtest's FamilyPreparer for the served model (alpha 1 % only); metadata to
    metrics.json `run.served`: the first model's hash and cut, the retrain gap."""
    opts = ml or MlOptions()

    def prepare(history: MarketHistory, n_returns: int, cfg: WalkForwardConfig, out: Path) -> Any:
        from oracle_node.research.backtest.run import PreparedFamily  # noqa: PLC0415 - run imports the preparers' callers

        require_served_alpha(cfg.alpha)
        if retrain_every < 0:
            raise ConfigError(f"served: retrain_every = {retrain_every} days (0 = never, or > 0)")
        started = time.perf_counter()
        pool = opts.pooled()
        hashes = data_hashes(opts.data_files(prices))
        trainer = served_trainer(history, pool, hashes, out / "served")
        cut = n_returns - cfg.walk_days
        first = trainer(cut)

        def factory(_c: WalkForwardConfig) -> ServedFamily:
            return ServedFamily(history, trainer, first, cut, retrain_every)

        register_family(FAMILY, factory, MODELS, replace=True)
        meta = {"first_cut": cut_day(history, cut), "manifest_hash": "0x" + first.model_hash.hex(),
                "retrain_every": retrain_every, "pool": [h.market for h in pool],
                "train_seconds": round(time.perf_counter() - started, 3)}  # fmt: skip
        return PreparedFamily(FAMILY, MODELS, meta)

    return prepare


def served_trainer(
    history: MarketHistory, pool: list[MarketHistory], hashes: Mapping[str, str], out: Path
) -> Trainer:
    """t -> the served recipe trained on every market's rows whose target day closes at or before
    close t (each history cut there, so nothing later is read), loaded back as the node loads it."""
    markets = [history.market, *(h.market for h in pool)]
    if len(set(markets)) != len(markets):
        raise ConfigError(f"served: every pooled market needs its own name, got {markets}")

    def train(t: int) -> RiskModel:
        day = cut_day(history, t)
        limit = float(history.ts[t])
        cut = {h.market: h.until(limit) for h in (history, *pool)}
        directory = out / day
        directory.mkdir(parents=True, exist_ok=True)
        train_served_model(cut, dict(hashes), directory, test_start=day, walk=False)
        return RiskModel(load_manifest(directory))

    return train
