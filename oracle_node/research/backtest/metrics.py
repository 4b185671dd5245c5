"""Per-model backtest metrics: the `models.<name>` objects of metrics.json.

Keys (issue 5): violations, expected (alpha T), rate, kupiec_p, christoffersen_ind_p,
christoffersen_cc_p, traffic_light (zone over the last 250 days), pinball and fz0 (mean losses),
acerbi_szekely_z2, mean_var. Also: the LR statistics, the transition counts, the traffic-light
exceptions and cumulative probability, the simulated Z2 p-value (null without draws), mean_es and
the margin efficiency at a 1 % breach target; `dm_against_best` adds a Diebold-Mariano test of
FZ0 losses against the best model of the run. VaR/ES are positive log-return losses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from oracle_node.research.backtest import stats
from oracle_node.research.backtest.margin import margin_efficiency


def model_metrics(
    returns: np.ndarray,
    var: np.ndarray,
    es: np.ndarray,
    alpha: float,
    draws: np.ndarray | None = None,
    margin_target: float = 0.01,
) -> dict[str, Any]:
    hit = stats.hits(returns, var)
    n, x = int(hit.size), int(hit.sum())
    pof = stats.kupiec_pof(x, n, alpha)
    chris = stats.christoffersen(hit, alpha)
    light = stats.traffic_light(hit, alpha)
    z2 = stats.acerbi_szekely_z2(returns, var, es, alpha)
    z2_p = None if draws is None else stats.z2_p_value(z2, draws, var, es, alpha)
    return {
        "violations": x,
        "expected": alpha * n,
        "rate": x / n,
        "kupiec_lr": pof.statistic,
        "kupiec_p": pof.p_value,
        "christoffersen_ind_lr": chris.independence.statistic,
        "christoffersen_ind_p": chris.independence.p_value,
        "christoffersen_cc_lr": chris.conditional_coverage.statistic,
        "christoffersen_cc_p": chris.conditional_coverage.p_value,
        "transitions": {"n00": chris.n00, "n01": chris.n01, "n10": chris.n10, "n11": chris.n11},
        "traffic_light": light.zone,
        "traffic_light_exceptions": light.exceptions,
        "traffic_light_days": light.days,
        "traffic_light_cum_prob": light.cumulative_probability,
        "pinball": float(stats.pinball_losses(returns, var, alpha).mean()),
        "fz0": float(stats.fz0_losses(returns, var, es, alpha).mean()),
        "acerbi_szekely_z2": z2,
        "acerbi_szekely_p": z2_p,
        "mean_var": float(np.mean(var)),
        "mean_es": float(np.mean(es)),
        "margin_efficiency": margin_efficiency(returns, var, margin_target).as_dict(),
    }


def dm_against_best(
    returns: np.ndarray, paths: dict[str, tuple[np.ndarray, np.ndarray]], alpha: float
) -> dict[str, dict[str, Any]]:
    """Diebold-Mariano test of each model's FZ0 loss against the model with the lowest mean FZ0
    (negative statistic: the model's loss is lower; the best model is compared with the runner-up)."""
    losses = {m: stats.fz0_losses(returns, var, es, alpha) for m, (var, es) in paths.items()}
    if len(losses) < 2:
        return {}
    ranked = sorted(losses, key=lambda m: float(losses[m].mean()))
    out: dict[str, dict[str, Any]] = {}
    for m in ranked:
        other = ranked[1] if m == ranked[0] else ranked[0]
        dm = stats.diebold_mariano(losses[m], losses[other])
        out[m] = {"against": other, "mean_differential": dm.mean_differential, "statistic": dm.statistic,
                  "p_value": dm.p_value, "lags": dm.lags}  # fmt: skip
    return out


def dm_group_best(
    returns: np.ndarray,
    paths: dict[str, tuple[np.ndarray, np.ndarray]],
    alpha: float,
    challengers: Sequence[str],
) -> dict[str, Any] | None:
    """Diebold-Mariano test of FZ0 loss: the best (lowest mean FZ0) of `challengers` (the ML models)
    against the best of the other models (the baselines); negative statistic: the challenger is better.
    None when either group is empty."""
    losses = {m: stats.fz0_losses(returns, var, es, alpha) for m, (var, es) in paths.items()}
    ml = [m for m in losses if m in challengers]
    base = [m for m in losses if m not in challengers]
    if not ml or not base:
        return None
    best_ml = min(ml, key=lambda m: float(losses[m].mean()))
    best_base = min(base, key=lambda m: float(losses[m].mean()))
    dm = stats.diebold_mariano(losses[best_ml], losses[best_base])
    return {"ml": best_ml, "baseline": best_base, "fz0_ml": float(losses[best_ml].mean()),
            "fz0_baseline": float(losses[best_base].mean()), "mean_differential": dm.mean_differential,
            "statistic": dm.statistic, "p_value": dm.p_value, "lags": dm.lags}  # fmt: skip
