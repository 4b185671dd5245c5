"""Scores of a policy's forecasts on a span of days: coverage tests, FZ0, and DM against `never`.

Per span: breaches / expected, Kupiec POF p, Christoffersen independence and conditional-coverage
p, mean FZ0 (lower is better), mean VaR, the number of retrains inside the span, and the
Diebold-Mariano test (FZ0 loss, HAC with Newey-West lags) of the policy against `never` on the
same days (negative statistic: the policy's loss is lower).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from oracle_node.research.backtest import stats
from oracle_node.research.retrain.policy import PolicyPath


def _days(path: PolicyPath, dates: Sequence[str], lo: str, hi: str) -> np.ndarray:
    """Offsets into the path of the days whose date is in [lo, hi]."""
    d = np.asarray(dates[path.first : path.first + path.var.size])
    return np.flatnonzero((d >= lo) & (d <= hi))


def span_scores(
    path: PolicyPath, dates: Sequence[str], lo: str, hi: str, alpha: float, base: PolicyPath | None = None
) -> dict[str, Any]:
    """Scores of `path` on the days dated lo .. hi (ISO dates, inclusive); DM against `base`."""
    i = _days(path, dates, lo, hi)
    r, v, e = path.returns[i], path.var[i], path.es[i]
    hit = stats.hits(r, v)
    chris = stats.christoffersen(hit, alpha)
    loss = stats.fz0_losses(r, v, e, alpha)
    first, last = path.first + int(i[0]), path.first + int(i[-1])
    out: dict[str, Any] = {
        "first": dates[first], "last": dates[last], "days": int(i.size),
        "breaches": int(hit.sum()), "expected": alpha * i.size,
        "kupiec_p": stats.kupiec_pof(int(hit.sum()), int(i.size), alpha).p_value,
        "christoffersen_ind_p": chris.independence.p_value,
        "christoffersen_cc_p": chris.conditional_coverage.p_value,
        "fz0": float(loss.mean()), "mean_var": float(v.mean()),
        "retrains": sum(first <= k <= last for k in path.retrains),
    }  # fmt: skip
    if base is not None and base is not path:
        out["dm_vs_never"] = dm_between(path, base, dates, lo, hi, alpha)
    return out


def fz0_on(path: PolicyPath, dates: Sequence[str], lo: str, hi: str, alpha: float) -> np.ndarray:
    i = _days(path, dates, lo, hi)
    return stats.fz0_losses(path.returns[i], path.var[i], path.es[i], alpha)


def dm_between(
    a: PolicyPath, b: PolicyPath, dates: Sequence[str], lo: str, hi: str, alpha: float
) -> dict[str, Any]:
    """Diebold-Mariano of a's FZ0 loss against b's on the days lo .. hi (negative: a is better)."""
    dm = stats.diebold_mariano(fz0_on(a, dates, lo, hi, alpha), fz0_on(b, dates, lo, hi, alpha))
    return {"mean_differential": dm.mean_differential, "statistic": dm.statistic, "p_value": dm.p_value,
            "lags": dm.lags}  # fmt: skip


def yearly_scores(
    path: PolicyPath, dates: Sequence[str], lo: str, hi: str, alpha: float, base: PolicyPath | None = None
) -> dict[str, dict[str, Any]]:
    """`span_scores` per calendar year within lo .. hi."""
    years = range(int(lo[:4]), int(hi[:4]) + 1)
    spans = {y: (max(lo, f"{y}-01-01"), min(hi, f"{y}-12-31")) for y in years}
    return {str(y): span_scores(path, dates, a, b, alpha, base) for y, (a, b) in spans.items()
            if _days(path, dates, a, b).size >= 30}  # fmt: skip
