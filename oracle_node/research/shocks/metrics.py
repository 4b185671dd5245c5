"""Per-side scores of a shock forecast, with the house statistics (research.backtest.stats).

Up side: the forecast is q_up, the `level` quantile of y = ln(DVOL[t+h]/DVOL[t]); an exceedance is
y > q_up. Down side: q_down, the (1 - level) quantile; an exceedance is y < q_down. Both are scored
as a tail of probability a = 1 - level through the stats helpers' loss convention (return r, VaR v,
breach r < -v): up side r = -y, v = q_up; down side r = y, v = -q_down. The pinball loss is then the
usual quantile loss at level (up) or 1 - level (down), in log-change units. Shock sizes are reported
as fractions of the current vol: e^q_up - 1 and 1 - e^q_down.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oracle_node.research.backtest.stats import (
    christoffersen,
    diebold_mariano,
    hits,
    kupiec_pof,
    pinball_losses,
)

SIDES = ("up", "down")


def _as_loss_frame(y: np.ndarray, q: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray]:
    return (-y, q) if side == "up" else (y, -q)


def side_losses(y: np.ndarray, q: np.ndarray, side: str, level: float) -> np.ndarray:
    r, v = _as_loss_frame(y, q, side)
    return pinball_losses(r, v, 1.0 - level)


def side_metrics(y: np.ndarray, q: np.ndarray, side: str, level: float) -> dict[str, Any]:
    """Coverage (exceedances, Kupiec, Christoffersen), mean pinball loss and mean shock of one side."""
    a = 1.0 - level
    r, v = _as_loss_frame(y, q, side)
    hit = hits(r, v)
    x, n = int(hit.sum()), int(hit.size)
    chris = christoffersen(hit, a)
    shock = np.expm1(q) if side == "up" else -np.expm1(q)
    return {
        "days": n,
        "exceedances": x,
        "expected": round(n * a, 2),
        "rate": x / n,
        "kupiec_p": kupiec_pof(x, n, a).p_value,
        "christoffersen_ind_p": chris.independence.p_value,
        "christoffersen_cc_p": chris.conditional_coverage.p_value,
        "pinball": float(np.mean(pinball_losses(r, v, a))),
        "mean_shock": float(np.mean(shock)),
        "median_shock": float(np.median(shock)),
    }


def dm_test(
    y: np.ndarray, q_a: np.ndarray, q_b: np.ndarray, side: str, level: float, horizon: int = 1
) -> dict[str, float]:
    """Diebold-Mariano on the pinball losses of a against b (negative statistic: a is better)."""
    dm = diebold_mariano(side_losses(y, q_a, side, level), side_losses(y, q_b, side, level), h=horizon)
    return {"mean_loss_diff": dm.mean_differential, "statistic": dm.statistic, "p_value": dm.p_value}


def pooled_pinball(y: np.ndarray, up: np.ndarray, down: np.ndarray, level: float) -> float:
    """Mean of the two sides' mean pinball losses: the validation criterion."""
    return 0.5 * float(
        np.mean(side_losses(y, up, "up", level)) + np.mean(side_losses(y, down, "down", level))
    )
