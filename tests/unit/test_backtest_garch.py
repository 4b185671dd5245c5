"""arch-based walk-forward models: warm starts and the filter between refits."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from arch import arch_model

from oracle_node.models.tails import std_t_quantile
from oracle_node.research.backtest.garch import (
    GARCH_T,
    GJR_SKEWT,
    PERSISTENCE_CAP,
    ArchFamily,
    feasible_start,
)
from tests.unit.test_backtest_engine import garch_returns


def test_feasible_start__persistence_above_one__pulled_inside_and_accepted_by_arch() -> None:
    """mu, omega, alpha, gamma, beta, eta, lambda with alpha + gamma/2 + beta = 1 + 1e-8."""
    p = np.array([0.05, 0.04, 0.03, -0.01, 0.975 + 1e-8, 3.1, 0.02])
    x = feasible_start(GJR_SKEWT, p)
    assert x[2] + 0.5 * x[3] + x[4] <= PERSISTENCE_CAP
    np.testing.assert_array_equal(x[[0, 1, 2, 3, 5, 6]], p[[0, 1, 2, 3, 5, 6]])
    y = 100 * garch_returns(600, seed=2)
    am = arch_model(y, mean="Constant", vol="GARCH", p=1, o=1, q=1, dist="skewt", rescale=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        am.fit(disp="off", show_warning=False, starting_values=x)
    assert not [w for w in caught if "Starting values" in str(w.message)]


def test_arch_family__between_refits__variance_follows_recursion() -> None:
    """After a fit, days without refit run s2 = omega + alpha e^2 + beta s2, e = 100 r - mu, and
    VaR = sqrt(s2)/100 * -q_t(alpha, nu)."""
    r = garch_returns(700, seed=4)
    fam = ArchFamily(GARCH_T, alpha=0.01, window=500, sims=0)
    rng = np.random.default_rng(0)
    t0 = 690
    fam.forecast(r[:t0], True, rng)
    assert fam.state is not None
    mu, omega, a, beta, nu = fam.state.params
    v = fam.state.variance
    for t in range(t0 + 1, t0 + 6):
        e = 100 * r[t - 1] - mu
        v = omega + a * e * e + beta * v
        (fc,) = fam.forecast(r[:t], False, rng)
        assert fc.var == pytest.approx(-math.sqrt(v) / 100 * std_t_quantile(0.01, nu), rel=1e-12)
    assert fam.stats["fits"] == 1


def test_arch_family__warm_refits__no_cold_start_after_the_first() -> None:
    r = garch_returns(560, seed=8)
    fam = ArchFamily(GJR_SKEWT, alpha=0.025, window=500, sims=10, fhs=True)
    rng = np.random.default_rng(1)
    out = [fam.forecast(r[:t], True, rng) for t in range(550, 556)]
    assert fam.stats == {"fits": 6, "refit_failures": 0, "cold_starts": 1}
    gjr, fhs = out[-1]
    assert 0 < gjr.var < gjr.es and 0 < fhs.var < fhs.es
    assert gjr.draws is not None and gjr.draws.shape == (10,)


def test_fhs__residual_sample__filtered_days_appended() -> None:
    """FHS keeps the fit's standardised residuals and appends each filtered day's e / s."""
    r = garch_returns(620, seed=6)
    fam = ArchFamily(GJR_SKEWT, alpha=0.01, window=500, sims=0, fhs=True)
    rng = np.random.default_rng(0)
    fam.forecast(r[:600], True, rng)
    assert fam.state is not None
    z0, mu, v = fam.z.copy(), fam.state.params[0], fam.state.variance
    fam.forecast(r[:601], False, rng)
    assert fam.z.size == 501
    assert fam.z[-1] == pytest.approx((100 * r[600] - mu) / math.sqrt(v), rel=1e-12)
    np.testing.assert_array_equal(fam.z[:-1], z0)
