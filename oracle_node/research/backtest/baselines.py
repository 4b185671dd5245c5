"""Historical simulation and EWMA-normal (RiskMetrics, lambda 0.94) as walk-forward models.

Historical simulation: the empirical alpha-tail of the last `window` returns (VaR = -x_(k), ES the
mean of the k lowest, k = ceil(alpha window)); nothing to fit. EWMA-normal: `models.ewma.EwmaModel`
seeded on the last `window` returns at each refit, its variance recursion advanced by each new day
in between; zero-mean normal VaR = -sigma Phi^-1(alpha), ES = sigma phi(Phi^-1(alpha)) / alpha.
"""

from __future__ import annotations

import math

import numpy as np

from oracle_node.models.ewma import RISKMETRICS_LAMBDA, EwmaModel, EwmaResult
from oracle_node.models.tails import normal_es, normal_quantile
from oracle_node.research.backtest.base import DayForecast, empirical_tail


class HistoricalSimulation:
    names = ("hs",)
    cost = 0.05

    def __init__(self, alpha: float, window: int, sims: int = 0) -> None:
        self.alpha, self.window, self.sims = alpha, window, sims

    @property
    def stats(self) -> dict[str, int]:
        return {}

    def forecast(self, past: np.ndarray, refit: bool, rng: np.random.Generator) -> tuple[DayForecast, ...]:
        sample = past[-self.window :]
        var, es = empirical_tail(sample, self.alpha)
        draws = rng.choice(sample, self.sims) if self.sims else None
        return (DayForecast(var, es, draws),)


class EwmaNormal:
    names = ("ewma_normal",)
    cost = 0.1

    def __init__(self, alpha: float, window: int, sims: int = 0, lam: float = RISKMETRICS_LAMBDA) -> None:
        self.alpha, self.window, self.sims = alpha, window, sims
        self.model = EwmaModel(lam)
        self.result: EwmaResult | None = None
        self.n_seen = 0
        self.fits = 0

    @property
    def stats(self) -> dict[str, int]:
        return {"fits": self.fits}

    def forecast(self, past: np.ndarray, refit: bool, rng: np.random.Generator) -> tuple[DayForecast, ...]:
        if refit or self.result is None:
            self.result = self.model.fit(past[-self.window :])
            self.fits += 1
        else:
            self.result = self.result.update(past[self.n_seen :])
        self.n_seen = past.size
        sigma = math.sqrt(self.result.variance)
        var, es = -sigma * normal_quantile(self.alpha), -sigma * normal_es(self.alpha)
        draws = sigma * rng.standard_normal(self.sims) if self.sims else None
        return (DayForecast(var, es, draws),)
