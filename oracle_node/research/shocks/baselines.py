"""The two baselines, as forecasts of the same quantiles of y = ln(DVOL[t+h] / DVOL[t]).

* fixed (Deribit portfolio margin): vol +50 % / -25 % at the 30-day point, scaled by (30/T)^0.3 up and
  (30/T)^0.13 down for an expiry T days away. DVOL is a 30-day constant-maturity index, so T = 30 and
  the factor is 1: the fixed forecast is q_up = ln 1.5, q_down = ln 0.75 on every day and for every
  horizon (Deribit does not scale its vol shock by the margin period).
* empirical: the `level` and (1 - level) quantiles (numpy's linear interpolation) of the last
  `window` observed h-day DVOL log changes, i.e. those whose end day is <= t. Updated daily.
"""

from __future__ import annotations

import math

import numpy as np

from oracle_node.options.shocks import FIXED_DOWN, FIXED_UP


def fixed(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full(n, math.log1p(FIXED_UP)), np.full(n, math.log1p(-FIXED_DOWN))


def empirical(
    day: np.ndarray, y: np.ndarray, rows: np.ndarray, horizon: int, window: int, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Rolling empirical quantiles for each row index in `rows` (day[i], y[i] as in a ShockFrame)."""
    up, down = np.full(rows.size, np.nan), np.full(rows.size, np.nan)
    known = np.isfinite(y)
    for k, i in enumerate(rows):
        seen = np.flatnonzero(known & (day + horizon <= day[i]))[-window:]
        if seen.size >= 2:
            up[k], down[k] = np.quantile(y[seen], [level, 1.0 - level])
    return up, down
