"""Out-of-sample calibration of the risk score (oracle_node.risk.score) in the walk-forward backtest.

For test day t a model's forecast is a 1-day VaR and ES at level alpha (log-return losses). The
score needs a distribution: the unit-variance Student-t whose ES/VaR ratio at alpha equals the
forecast's (`implied_t`; the normal when the ratio is at or below the normal's), scaled so that its
alpha-quantile is the VaR. Then, exactly as the node does it,

    score_t   = P(|R_{t..t+h-1}| > m_t)       (risk.score.exceedance_probability, sigma_h = sigma sqrt(h))
    m_t       = risk.score.reference_move of the closes up to day t-1 (returns[:t] only)
    outcome_t = |r_t + ... + r_{t+h-1}| > m_t  (known h days later; the last h-1 test days have none)

and the pairs (score_t, outcome_t) give the Brier score, the climatological Brier score of the
constant forecast equal to the observed base rate (skill = 1 - Brier / climatology), and a
reliability diagram (10 equal-width bins of the score: mean score against observed frequency). The
range checks of issue 12: the share of days in each decile of 0..10000, and the score on ordinary
days, days whose trailing 30-day realised volatility lies inside its interquartile range over the
test period.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from oracle_node.risk.params import RiskSettings
from oracle_node.risk.score import REFERENCE_DAYS, exceedance_probability, horizon_days, reference_move
from oracle_node.risk.tails import t_tail_multipliers

BINS = 10
ORDINARY_WINDOW = 30
_NU_GRID = np.geomspace(2.05, 400.0, 600)


def _normal_ratio(alpha: float) -> float:
    z = float(special.ndtri(alpha))
    return float(np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi) / alpha / -z)


def implied_t(var: np.ndarray, es: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(sigma, nu) of the unit-variance t scaled to match VaR and ES at alpha (nu = inf: normal)."""
    var_m, es_m = t_tail_multipliers(_NU_GRID, 1.0 - alpha)
    ratios = es_m / var_m  # decreasing in nu
    ratio = np.divide(es, var, out=np.full(var.shape, np.nan), where=var > 0)
    nu = np.interp(-ratio, -ratios, _NU_GRID)  # np.interp needs increasing x
    nu = np.where(ratio <= _normal_ratio(alpha) + 1e-9, np.inf, nu)
    z = np.where(np.isfinite(nu), np.interp(nu, _NU_GRID, var_m), -special.ndtri(alpha))
    return var / z, nu


def score_path(
    returns: np.ndarray, start: int, var: np.ndarray, es: np.ndarray, alpha: float, h: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score 0..1, outcome 0/1 or NaN, reference move) for test days start.. of `returns`."""
    sigma, nu = implied_t(var, es, alpha)
    logp = np.r_[0.0, np.cumsum(returns)]  # log close, up to a constant
    n = var.size
    ref = np.empty(n)
    outcome = np.full(n, np.nan)
    for i in range(n):
        t = start + i
        lo = max(0, t + 1 - REFERENCE_DAYS - h)
        m = reference_move(np.exp(logp[lo : t + 1] - logp[t]), h)
        ref[i] = np.nan if m is None else m
        if t + h <= returns.size:
            outcome[i] = float(abs(logp[t + h] - logp[t]) > ref[i])
    score = exceedance_probability(sigma * np.sqrt(h), nu, ref)
    score[~np.isfinite(ref)] = np.nan
    return score, outcome, ref


def reliability(score: np.ndarray, outcome: np.ndarray, bins: int = BINS) -> list[dict[str, Any]]:
    """Per equal-width bin of the score: days, mean score, observed frequency of the event."""
    idx = np.minimum((score * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        sel = idx == b
        k = int(sel.sum())
        out.append({"bin": [b / bins, (b + 1) / bins], "days": k,
                    "mean_score": float(score[sel].mean()) if k else None,
                    "observed": float(outcome[sel].mean()) if k else None})  # fmt: skip
    return out


def _ordinary(returns: np.ndarray, start: int, n: int) -> np.ndarray:
    """Test days whose trailing 30-day RMS return (through day t-1) lies in its test-period IQR."""
    r2 = returns * returns
    c = np.r_[0.0, np.cumsum(r2)]
    t = np.arange(start, start + n)
    ok = t >= ORDINARY_WINDOW
    rv = np.full(n, np.nan)
    rv[ok] = np.sqrt((c[t[ok]] - c[t[ok] - ORDINARY_WINDOW]) / ORDINARY_WINDOW)
    q1, q3 = np.nanpercentile(rv, [25, 75])
    return (rv >= q1) & (rv <= q3)


def score_calibration(
    returns: np.ndarray, start: int, var: np.ndarray, es: np.ndarray, alpha: float, h: int
) -> dict[str, Any]:
    """metrics.json's `risk_score` object of one model (see the module docstring)."""
    score, outcome, _ = score_path(returns, start, var, es, alpha, h)
    have = np.isfinite(score)
    scored = have & np.isfinite(outcome)
    s, o = score[scored], outcome[scored]
    base = float(o.mean()) if o.size else float("nan")
    brier = float(np.mean((s - o) ** 2)) if o.size else float("nan")
    clim = base * (1.0 - base)
    bp = np.ceil(score[have] * 10_000 - 1e-7)
    deciles = np.histogram(bp, bins=np.linspace(0, 10_000, BINS + 1))[0] / max(bp.size, 1)
    ordinary = _ordinary(returns, start, var.size) & have
    ord_bp = np.ceil(score[ordinary] * 10_000 - 1e-7)
    return {
        "horizon_days": h,
        "days_scored": int(have.sum()),
        "days_with_outcome": int(o.size),
        "base_rate": base,
        "brier": brier,
        "brier_climatology": clim,
        "brier_skill": 1.0 - brier / clim if clim > 0 else None,
        "reliability": reliability(s, o),
        "decile_shares": deciles.tolist(),
        "max_decile_share": float(deciles.max()),
        "median_score_bp": float(np.median(bp)) if bp.size else None,
        "ordinary_days": int(ordinary.sum()),
        "ordinary_median_bp": float(np.median(ord_bp)) if ord_bp.size else None,
        "ordinary_top_decile_share": float((ord_bp >= 9000).mean()) if ord_bp.size else None,
        "top_decile_days": int((bp >= 9000).sum()),
    }


def add_score_calibration(
    metrics: dict[str, dict[str, Any]], returns: np.ndarray, paths: dict[str, Any], alpha: float
) -> None:
    """Add each model's `risk_score` object (test days = the last len(path.var) of `returns`), with
    the node's default margin period as the horizon."""
    h = horizon_days(RiskSettings())
    for name, path in paths.items():
        start = returns.size - path.var.size
        metrics[name]["risk_score"] = score_calibration(returns, start, path.var, path.es, alpha, h)
