"""Conformal calibration of a VaR forecast, and the ES that goes with it.

A raw model gives a positive loss scale v_t (its uncalibrated VaR). The nonconformity score of a
realised day is s_t = -r_t / v_t (the loss in units of the model's VaR). Split conformal: with n
scores from days the model was not fitted on, the calibrated multiplier c is the k-th largest score,
k = floor(alpha (n + 1)) (the ceil((n + 1)(1 - alpha))-th smallest), so that, for exchangeable
scores, P(s_{n+1} > c) <= alpha. VaR_t = c v_t; ES_t = v_t mean(k largest scores), the empirical
expected shortfall of the score distribution beyond c.

Rolling conformal (the walk-forward): the calibration set is the last `window` scores known before
day t: the held-out calibration days before the test period, then each realised test day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from oracle_node.errors import ModelError


@dataclass(frozen=True, slots=True)
class Calibration:
    multiplier: float  # c: VaR = c * raw
    es_multiplier: float  # ES = es_multiplier * raw (>= multiplier)
    n: int
    k: int


def conformal_k(alpha: float, n: int) -> int:
    """Rank (from the top) of the conformal quantile: floor(alpha (n + 1)), at least 1."""
    return max(1, math.floor(alpha * (n + 1) + 1e-9))


def calibrate(scores: np.ndarray, alpha: float) -> Calibration:
    """The conformal VaR and ES multipliers of a calibration set of scores."""
    s = np.asarray(scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    k = conformal_k(alpha, s.size)
    if s.size < 20 or k > s.size:
        raise ModelError(f"conformal calibration needs >= 20 finite scores, got {s.size} at alpha {alpha}")
    top = -np.partition(-s, k - 1)[:k]  # the k largest scores
    c = float(top.min())
    return Calibration(c, max(c, float(top.mean())), int(s.size), k)


def scores(returns: np.ndarray, raw_var: np.ndarray) -> np.ndarray:
    """s = -r / v: a day breaches the calibrated VaR c v exactly when s > c."""
    return -np.asarray(returns, dtype=np.float64) / np.asarray(raw_var, dtype=np.float64)
