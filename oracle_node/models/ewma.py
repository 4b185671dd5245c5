"""EWMA volatility (RiskMetrics 1996, lambda 0.94) with normal quantiles: the baseline model and the
conservative fallback when GJR-GARCH cannot be fitted.

Recursion on log returns r_t (fractions): s2[t+1] = lambda * s2[t] + (1 - lambda) * r[t]^2, seeded
with s2[1] = mean of the first `seed_window` squared returns (all of them if fewer). Zero mean: the
drift is not credited (RiskMetrics convention). After n returns the result holds s2[n+1], the variance
forecast for the next day; update() advances it by new returns in O(1) each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.signal import lfilter

from oracle_node.errors import ModelError
from oracle_node.models.forecast import Forecast
from oracle_node.models.tails import ALPHA_99, loss_fractions, normal_es, normal_quantile

RISKMETRICS_LAMBDA = 0.94


def check_returns(returns: object, model: str, min_obs: int = 1) -> np.ndarray:
    """Finite 1-D float64 returns with at least min_obs values, or ModelError naming the model."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1:
        raise ModelError(f"{model}: returns must be 1-D, got shape {r.shape}")
    if r.size < min_obs:
        raise ModelError(f"{model}: need at least {min_obs} returns, got {r.size}")
    if not np.isfinite(r).all():
        i = int(np.argmax(~np.isfinite(r)))
        raise ModelError(f"{model}: return [{i}] = {r[i]!r} is not finite")
    return r


def ewma_variance_path(r: np.ndarray, lam: float, seed: float) -> np.ndarray:
    """v[t] = lam * v[t-1] + (1 - lam) * r[t]^2 with v[-1] = seed: v[t] is the forecast for t+1."""
    return lfilter([1.0 - lam], [1.0, -lam], r * r, zi=[lam * seed])[0]


def normal_forecast(model: str, sigma: float, alpha: float = ALPHA_99) -> Forecast:
    """Zero-mean normal forecast with daily log-return volatility sigma."""
    q = sigma * normal_quantile(alpha)
    es = sigma * normal_es(alpha)
    var_l, es_l, var_s, es_s = loss_fractions(q, es, -q, -es)
    return Forecast(model, sigma, var_l, es_l, var_s, es_s)


@dataclass(frozen=True, slots=True)
class EwmaResult:
    """A fitted EWMA: `variance` is the next-day variance forecast after n_obs returns."""

    lam: float
    variance: float
    n_obs: int

    def forecast(self, alpha: float = ALPHA_99) -> Forecast:
        return normal_forecast(EwmaModel.name, math.sqrt(self.variance), alpha)

    def update(self, returns: object) -> EwmaResult:
        """Advance the recursion by new returns (same floats as refitting on the longer series)."""
        r = check_returns(returns, EwmaModel.name, min_obs=0)
        v = self.variance
        for x in r.tolist():
            v = (1.0 - self.lam) * (x * x) + self.lam * v
        return replace(self, variance=v, n_obs=self.n_obs + r.size)


class EwmaModel:
    """RiskMetrics EWMA: fit() returns an EwmaResult whose forecast() is a Forecast."""

    name = "ewma"

    def __init__(self, lam: float = RISKMETRICS_LAMBDA, seed_window: int = 30) -> None:
        if not 0.0 < lam < 1.0:
            raise ModelError(f"ewma: lambda = {lam!r} must be in (0, 1)")
        self.lam, self.seed_window = lam, seed_window

    def fit(self, returns: object) -> EwmaResult:
        r = check_returns(returns, self.name, min_obs=2)
        seed = float(np.mean(r[: self.seed_window] ** 2))
        if seed <= 0.0:
            raise ModelError(f"ewma: the first {self.seed_window} returns are all zero (a frozen price?)")
        v = float(ewma_variance_path(r, self.lam, seed)[-1])
        return EwmaResult(self.lam, v, int(r.size))
