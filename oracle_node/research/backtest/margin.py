"""Margin efficiency: how much initial margin a model's VaR path needs to keep breaches at or below a
target rate, against a fixed-percentage margin with the same breach count.

Long position, losses as fractions of notional: loss_t = 1 - exp(r_t); the model's margin path is
k * (1 - exp(-VaR_t)) (its VaR as a simple-return loss, scaled). Both margins are calibrated on the
same days: with m = floor(target * T) allowed breaches, k is the smallest scale leaving at most m days
with loss_t > k * VaR_t (the (m+1)-th largest ratio loss_t / VaR_t), and the fixed margin is the
smallest constant leaving at most m days with loss_t > margin (the (m+1)-th largest loss). A model
earns its keep when its average margin is below the fixed one: it asks for less in calm days and more
before storms, for the same number of breaches. (In-sample calibration for both: this compares the
shape of the margin path, not the model's level, which the coverage tests judge.)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from oracle_node.errors import ModelError
from oracle_node.research.backtest.stats import as_path


@dataclass(frozen=True, slots=True)
class MarginEfficiency:
    target_breach_rate: float
    allowed_breaches: int
    scale: float  # k applied to the model's VaR
    model_breaches: int
    model_mean_margin: float  # average k * VaR (simple-return fraction of notional)
    fixed_margin: float  # the constant margin with at most the same breaches
    fixed_breaches: int
    ratio: float  # model_mean_margin / fixed_margin (< 1: the model needs less margin)

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _kth_largest(x: np.ndarray, m: int) -> float:
    """The (m+1)-th largest value: at most m values are strictly greater."""
    return float(np.sort(x)[::-1][m])


def margin_efficiency(returns: object, var: object, target: float = 0.01) -> MarginEfficiency:
    """Average model-scaled margin vs fixed margin, both with at most floor(target T) breaches."""
    r = as_path(returns, "returns")
    v = as_path(var, "var", r.size)
    if not 0.0 < target < 1.0 or (v <= 0).any():
        raise ModelError(f"margin: target = {target!r} must be in (0, 1) and every VaR > 0")
    loss, var_loss = -np.expm1(r), -np.expm1(-v)
    m = math.floor(target * r.size + 1e-9)
    if m >= r.size:
        raise ModelError(f"margin: {r.size} days are too few for target {target!r}")
    k = max(0.0, _kth_largest(loss / var_loss, m))
    fixed = max(0.0, _kth_largest(loss, m))
    margin = k * var_loss
    return MarginEfficiency(
        target,
        m,
        k,
        int(np.sum(loss > margin)),
        float(margin.mean()),
        fixed,
        int(np.sum(loss > fixed)),
        float(margin.mean() / fixed) if fixed > 0 else math.inf,
    )
