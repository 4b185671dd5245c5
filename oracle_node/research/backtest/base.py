"""What a walk-forward model is: given the returns before day t, the day's VaR and ES (and draws).

A model family may produce several named forecasts from one fit (GJR-GARCH skew-t and the filtered
historical simulation built on its residuals). The engine calls `forecast(past, refit, rng)` once per
test day with `past` = returns[:t], a read-only view: the model cannot see day t or later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class DayForecast:
    """One model's forecast for one day: positive log-return VaR and ES, and simulated returns drawn
    from the model's predictive distribution for the day (None when not simulated)."""

    var: float
    es: float
    draws: np.ndarray | None = None


class BacktestModel(Protocol):
    names: tuple[str, ...]  # the forecasts this family produces, in order
    cost: float  # relative cost per day (used to split families over processes)

    def forecast(
        self, past: np.ndarray, refit: bool, rng: np.random.Generator
    ) -> tuple[DayForecast, ...]: ...

    @property
    def stats(self) -> dict[str, int]: ...  # e.g. fits, refit_failures, cold_starts


def tail_count(alpha: float, n: int) -> int:
    """k = ceil(alpha n), at least 1: the number of order statistics in the empirical tail."""
    return max(1, math.ceil(alpha * n - 1e-9))


def empirical_tail(x: np.ndarray, alpha: float) -> tuple[float, float]:
    """(VaR, ES) of a sample as positive losses: VaR = -x_(k), ES = -mean(x_(1..k)), k = ceil(alpha n)."""
    k = tail_count(alpha, x.size)
    low = np.partition(x, k - 1)[:k]
    return -float(low.max()), -float(low.mean())
