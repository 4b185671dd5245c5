"""The risk score (oracle_node.risk.score) and its out-of-sample calibration
(oracle_node.research.backtest.score_calibration): hand-computed cases, a simulation whose score is
calibrated by construction, and the look-ahead guard of the reference move."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from oracle_node.research.backtest.engine import WalkForwardConfig, walk_forward
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.backtest.score_calibration import (
    implied_t,
    reliability,
    score_calibration,
    score_path,
)
from oracle_node.risk.score import exceedance_probability, reference_move
from oracle_node.risk.tails import t_tail_multipliers
from oracle_node.sources.bundled import resolve


def test_exceedance_probability__normal_and_t__closed_forms() -> None:
    p = exceedance_probability([0.02, 0.02, 0.0], [np.inf, 4.0, 4.0], [0.02, 0.02, 0.02])
    assert p[0] == pytest.approx(2 * stats.norm.sf(1.0), rel=1e-12)
    assert p[1] == pytest.approx(2 * stats.t.sf(1.0 / math.sqrt(0.5), 4), rel=1e-12)
    assert p[2] == 0.0


def test_reference_move__median_of_overlapping_abs_moves__and_short_history_none() -> None:
    close = np.exp(np.cumsum(np.r_[0.0, np.tile([0.01, -0.03, 0.02], 20)]))
    # 2-day moves cycle -0.02, -0.01, +0.03: median |move| 0.02
    assert reference_move(close, 2) == pytest.approx(0.02, abs=1e-12)
    assert reference_move(close[:20], 2) is None
    assert reference_move(np.ones(100), 2) is None  # a flat series has no typical move


def test_reference_move__window__only_the_last_days_count() -> None:
    calm = np.exp(np.cumsum(np.r_[0.0, np.tile([0.001, -0.001], 200)]))
    wild = calm[-1] * np.exp(np.cumsum(np.tile([0.05, -0.05], 50)))
    both = np.r_[calm, wild]
    assert reference_move(both, 1, window=100) == pytest.approx(0.05)
    assert reference_move(both, 1, window=400) == pytest.approx(0.001, rel=1e-6)


@pytest.mark.parametrize("nu", [3.0, 5.0, 12.0])
def test_implied_t__var_es_of_a_t__recovers_sigma_and_nu(nu: float) -> None:
    var_m, es_m = t_tail_multipliers(np.array([nu]), 0.99)
    sigma, got = implied_t(0.03 * var_m, 0.03 * es_m, 0.01)
    assert got[0] == pytest.approx(nu, rel=0.02)
    assert sigma[0] == pytest.approx(0.03, rel=0.005)


def test_implied_t__normal_ratio__infinite_nu() -> None:
    z = stats.norm.ppf(0.99)
    sigma, nu = implied_t(np.array([0.02 * z]), np.array([0.02 * stats.norm.pdf(z) / 0.01]), 0.01)
    assert np.isinf(nu[0]) and sigma[0] == pytest.approx(0.02)


def _regime_returns(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Normal returns whose sigma switches between 1 % and 4 % every 50 days (known to the model)."""
    sigma = np.where((np.arange(n) // 50) % 2 == 0, 0.01, 0.04)
    return sigma * rng.standard_normal(n), sigma


def test_score_calibration__true_model__reliable_and_skilled() -> None:
    rng = np.random.default_rng(7)
    r, sigma = _regime_returns(rng, 6000)
    start, z = 1500, stats.norm.ppf(0.99)
    # the true 1-day model; over 2 days the sigma of the pair is close to the day's sigma except at
    # the 1-in-50 regime switches, so the score is nearly calibrated by construction
    var, es = sigma[start:] * z, sigma[start:] * stats.norm.pdf(z) / 0.01
    c = score_calibration(r, start, var, es, 0.01, 2)
    assert c["brier_skill"] > 0.2
    for b in c["reliability"]:
        if b["days"] >= 200:
            assert abs(b["mean_score"] - b["observed"]) < 0.06, b
    assert c["days_with_outcome"] == 6000 - start - 1


def test_score_calibration__constant_forecast_on_regimes__no_skill() -> None:
    rng = np.random.default_rng(8)
    r, _ = _regime_returns(rng, 4000)
    start, z = 1500, stats.norm.ppf(0.99)
    flat = np.full(4000 - start, 0.025)
    c = score_calibration(r, start, flat * z, flat * stats.norm.pdf(z) / 0.01, 0.01, 2)
    assert c["brier_skill"] < 0.01  # one score every day: at best the climatology
    assert c["max_decile_share"] == 1.0


def test_score_path__future_poisoned__past_scores_and_references_identical() -> None:
    rng = np.random.default_rng(9)
    r, sigma = _regime_returns(rng, 2000)
    start = 1000
    var, es = sigma[start:] * 2.33, sigma[start:] * 2.67
    s1, o1, m1 = score_path(r, start, var, es, 0.01, 2)
    poisoned = r.copy()
    poisoned[1600:] = 0.5  # every day from 1600 on
    s2, o2, m2 = score_path(poisoned, start, var, es, 0.01, 2)
    cut = 1600 - start  # day t's score uses returns[:t]; its outcome returns[t:t+2]
    np.testing.assert_array_equal(s1[: cut + 1], s2[: cut + 1])
    np.testing.assert_array_equal(m1[: cut + 1], m2[: cut + 1])
    np.testing.assert_array_equal(o1[: cut - 1], o2[: cut - 1])
    assert not np.array_equal(m1[cut + 1 :], m2[cut + 1 :])


def test_reliability__two_bins__counts_and_frequencies() -> None:
    bins = reliability(np.array([0.05, 0.05, 0.95, 0.97]), np.array([0.0, 1.0, 1.0, 1.0]), 2)
    assert [b["days"] for b in bins] == [2, 2]
    assert bins[0]["observed"] == 0.5 and bins[1]["observed"] == 1.0
    assert bins[1]["mean_score"] == pytest.approx(0.96)


def test_score_on_btc_2016_2026__uses_its_range__ordinary_days_not_in_top_decile() -> None:
    """Issue 12's range requirement, computed on the bundled BTC file with the cheapest baseline
    (EWMA-normal, walk-forward): no decile of 0..10000 holds more than a third of the days, no
    ordinary day scores in the top decile, and the score beats climatology out of sample."""
    h = load_prices(resolve("bundled:btc_usd_daily"), "BTC")
    r = np.diff(np.log(h.close))
    test = r.size - 365
    path = walk_forward(r, WalkForwardConfig(0.01, 365, test, 1, 0, 0), ["ewma_normal"], None, 1)[
        "ewma_normal"
    ]
    c = score_calibration(r, r.size - test, path.var, path.es, 0.01, 2)
    assert c["days_with_outcome"] == test - 1
    assert c["max_decile_share"] <= 1 / 3
    assert c["ordinary_days"] > 1000 and c["ordinary_top_decile_share"] == 0.0
    assert c["brier"] < c["brier_climatology"]
