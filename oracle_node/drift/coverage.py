"""Rolling coverage of a VaR: are there more breaches in the last n days than alpha allows?

A breach is a day with return r < -VaR. Under correct coverage the count in n days is
binomial(n, alpha); the p-value of x breaches is P(X >= x). A small p-value means the model
under-states the risk now (one-sided: too few breaches is the backtest's business, not an alarm).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binom

from oracle_node.errors import ModelError


@dataclass(frozen=True, slots=True)
class Coverage:
    days: int
    breaches: int
    expected: float
    p_value: float  # P(X >= breaches), X ~ binomial(days, alpha)


def breaches(returns: np.ndarray, var: np.ndarray) -> np.ndarray:
    r, v = np.asarray(returns, dtype=np.float64), np.asarray(var, dtype=np.float64)
    if r.shape != v.shape:
        raise ModelError(f"coverage: returns {r.shape} and VaR {v.shape} differ in shape")
    return r < -v


def rolling_coverage(hits: np.ndarray, alpha: float) -> Coverage:
    """Coverage of one window of breach indicators."""
    h = np.asarray(hits, dtype=bool)
    if h.size == 0 or not 0.0 < alpha < 1.0:
        raise ModelError(f"coverage: window of {h.size} days at alpha {alpha} (need >= 1 day, 0 < alpha < 1)")
    x = int(h.sum())
    return Coverage(int(h.size), x, alpha * h.size, float(binom.sf(x - 1, h.size, alpha)))
