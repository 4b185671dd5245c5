"""Margin efficiency against a hand-computed ten-day example."""

from __future__ import annotations

import numpy as np
import pytest

from oracle_node.errors import ModelError
from oracle_node.research.backtest.margin import margin_efficiency

LOSS = np.array([0.10, 0.02, 0.05, -0.01, 0.03, 0.00, 0.04, -0.02, 0.01, 0.06])
VAR_LOSS = np.array([0.10, 0.02, 0.05, 0.02, 0.03, 0.02, 0.04, 0.02, 0.02, 0.03])


def test_margin_efficiency__ten_days_10pct__hand_values() -> None:
    """target 10 % of 10 days: m = 1 breach allowed. Fixed: 2nd largest loss = .06 (only .10 exceeds).
    Ratios loss/VaR = 1, 1, 1, -.5, 1, 0, 1, -1, .5, 2 -> 2nd largest = 1 = k; only day 10 (.06 > .03)
    breaches. Mean model margin = mean(VaR) = .35 / 10 = .035; ratio .035 / .06 = .583333."""
    r = np.log1p(-LOSS)  # loss = 1 - exp(r)
    var = -np.log1p(-VAR_LOSS)  # 1 - exp(-var) = VAR_LOSS
    m = margin_efficiency(r, var, target=0.1)
    assert m.allowed_breaches == 1
    assert m.fixed_margin == pytest.approx(0.06, abs=1e-12)
    assert m.fixed_breaches == 1
    assert m.scale == pytest.approx(1.0, abs=1e-12)
    assert m.model_breaches == 1
    assert m.model_mean_margin == pytest.approx(0.035, abs=1e-12)
    assert m.ratio == pytest.approx(0.035 / 0.06, abs=1e-12)


def test_margin_efficiency__var_tracks_volatility__needs_less_than_fixed() -> None:
    """Returns with two volatility regimes: a VaR that follows sigma needs less average margin."""
    rng = np.random.default_rng(1)
    sigma = np.where(np.arange(4000) % 400 < 300, 0.01, 0.05)
    r = sigma * rng.standard_normal(4000)
    m = margin_efficiency(r, 2.33 * sigma, 0.01)
    assert m.model_breaches <= 40 and m.fixed_breaches <= 40
    assert m.ratio < 0.8


def test_margin_efficiency__nonpositive_var__raises() -> None:
    with pytest.raises(ModelError, match="every VaR > 0"):
        margin_efficiency([0.0, 0.01], [0.02, 0.0])
