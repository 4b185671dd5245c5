"""Backtest statistics against hand-computed values (the arithmetic is in each docstring)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from oracle_node.errors import ModelError
from oracle_node.research.backtest import stats
from oracle_node.research.backtest.metrics import dm_against_best


def test_kupiec__5_of_250_at_1pct__matches_hand_lr() -> None:
    """log L0 = 245 ln .99 + 5 ln .01 = -2.462332283 - 23.02585093 = -25.48818321
    log L1 = 245 ln .98 + 5 ln .02 = -4.949663291 - 19.56011503 = -24.50977832
    LR = -2 (L0 - L1) = 1.95680978; p = P(chi2_1 > 1.9568) = 0.16185."""
    t = stats.kupiec_pof(5, 250, 0.01)
    assert t.statistic == pytest.approx(1.95680978, abs=1e-7)
    assert t.p_value == pytest.approx(0.1618549, abs=1e-6)
    assert t.df == 1


def test_kupiec__no_violations__uses_zero_log_zero() -> None:
    """x = 0: log L1 = 100 ln 1 + 0 ln 0 = 0 (0 ln 0 = 0); log L0 = 100 ln .95 = -5.129329439;
    LR = 10.25865888; p = 2 (1 - Phi(sqrt(10.2587))) = 0.0013604."""
    t = stats.kupiec_pof(0, 100, 0.05)
    assert t.statistic == pytest.approx(10.25865888, abs=1e-7)
    assert t.p_value == pytest.approx(0.00136045, abs=1e-7)


def test_kupiec__exact_rate__statistic_zero_p_one() -> None:
    """x/n = alpha: the two likelihoods are equal, LR = 0, p = 1."""
    t = stats.kupiec_pof(10, 1000, 0.01)
    assert t.statistic == pytest.approx(0.0, abs=1e-9)
    assert t.p_value == pytest.approx(1.0)


def test_christoffersen__clustered_hits__matches_hand_counts_and_lr() -> None:
    """Hits 0001110000: pairs 00,00,01,11,11,10,00,00,00 -> n00 5, n01 1, n10 1, n11 2.
    pi01 = 1/6, pi11 = 2/3, pi = 3/9 = 1/3.
    log L0 = 6 ln(2/3) + 3 ln(1/3) = -2.432790649 - 3.295836866 = -5.728627515
    log L1 = 5 ln(5/6) + ln(1/6) + ln(1/3) + 2 ln(2/3)
           = -0.911607784 - 1.791759469 - 1.098612289 - 0.810930216 = -4.612909758
    LR_ind = 2.231435514. Kupiec (x 3, n 10, alpha .1): L0 = 7 ln .9 + 3 ln .1 = -7.645278889,
    L1 = 7 ln .7 + 3 ln .3 = -6.10864302, LR_pof = 3.073271738; LR_cc = 5.304707252,
    p_cc = exp(-LR_cc / 2) (chi2 with 2 df) = 0.070485."""
    c = stats.christoffersen([0, 0, 0, 1, 1, 1, 0, 0, 0, 0], 0.1)
    assert (c.n00, c.n01, c.n10, c.n11) == (5, 1, 1, 2)
    assert c.independence.statistic == pytest.approx(2.231435514, abs=1e-8)
    assert c.conditional_coverage.statistic == pytest.approx(5.304707252, abs=1e-8)
    assert c.conditional_coverage.p_value == pytest.approx(math.exp(-5.304707252 / 2), abs=1e-9)
    assert c.conditional_coverage.df == 2


def test_christoffersen__no_exit_from_breach__zero_count_convention() -> None:
    """Hits 0011: n00 1, n01 1, n10 0, n11 1; pi01 = 1/2, pi11 = 1 (n10 ln(1 - pi11) = 0 ln 0 = 0),
    pi = 2/3. log L0 = 1 ln(1/3) + 2 ln(2/3) = -1.909542505; log L1 = 2 ln(1/2) = -1.386294361;
    LR_ind = 1.046496288."""
    c = stats.christoffersen([0, 0, 1, 1], 0.1)
    assert (c.n00, c.n01, c.n10, c.n11) == (1, 1, 0, 1)
    assert c.independence.statistic == pytest.approx(1.046496288, abs=1e-8)


def test_christoffersen__evenly_spread_hits__independence_zero() -> None:
    """Hits 0011000100 -> n00 4, n01 2, n10 2, n11 1: pi01 = pi11 = pi = 1/3, so LR_ind = 0."""
    c = stats.christoffersen([0, 0, 1, 1, 0, 0, 0, 1, 0, 0], 0.1)
    assert (c.n00, c.n01, c.n10, c.n11) == (4, 2, 2, 1)
    assert c.independence.statistic == pytest.approx(0.0, abs=1e-12)
    assert c.independence.p_value == pytest.approx(1.0)


def test_christoffersen__no_hits__all_zero_but_n00() -> None:
    c = stats.christoffersen([0] * 20, 0.01)
    assert (c.n00, c.n01, c.n10, c.n11) == (19, 0, 0, 0)
    assert c.independence.statistic == 0.0


@pytest.mark.parametrize(
    ("exceptions", "zone", "cum"),
    [(4, "green", 0.892188), (5, "yellow", 0.958817), (9, "yellow", 0.999750), (10, "red", 0.999946)],
)
def test_traffic_light__basel_table__zones_and_probabilities(exceptions: int, zone: str, cum: float) -> None:
    """Binomial(250, 0.01): P0 = .99^250 = 0.081059, P1 = P0 250/99 = 0.204695, P2 = P1 249/198 = 0.257420,
    P3 = P2 248/297 = 0.214950, P4 = P3 247/396 = 0.134071 -> P(X <= 4) = 0.892188 (green, Basel's 89.22 %);
    P5 = P4 246/495 = 0.066629 -> 0.958817 (yellow, 95.88 %); 9 -> 99.97 % yellow; 10 -> 99.99 % red."""
    hit = [True] * exceptions + [False] * (260 - exceptions)  # 260 days: only the last 250 count
    hit = [False] * 10 + hit[:250]
    light = stats.traffic_light(hit, 0.01)
    assert (light.zone, light.exceptions, light.days) == (zone, exceptions, 250)
    assert light.cumulative_probability == pytest.approx(cum, abs=2e-6)


def test_traffic_light__old_exceptions__outside_250_day_window() -> None:
    hit = [True] * 12 + [False] * 250
    assert stats.traffic_light(hit, 0.01).exceptions == 0


def test_pinball__three_days__hand_values() -> None:
    """alpha .1, q = -var: day 1 r -.05 < q -.04: (.1 - 1)(-.05 + .04) = .009;
    day 2: .1 (.01 + .03) = .004; day 3: .1 (.02 + .01) = .003; mean = .016 / 3."""
    losses = stats.pinball_losses([-0.05, 0.01, 0.02], [0.04, 0.03, 0.01], 0.1)
    np.testing.assert_allclose(losses, [0.009, 0.004, 0.003], atol=1e-15)


def test_fz0__hit_and_no_hit__hand_values() -> None:
    """alpha .1, v = -.04, e = -.06. Hit (r = -.05): -(v - r)/(alpha e) = -(.01)/(-.006) = 1.6666667,
    v/e = .6666667, ln(.06) = -2.8134107, -1: total -1.4800774. No hit (r = .01): -3.1467441."""
    losses = stats.fz0_losses([-0.05, 0.01], [0.04, 0.04], [0.06, 0.06], 0.1)
    np.testing.assert_allclose(losses, [-1.4800774, -3.1467441], atol=1e-7)


def test_fz0__true_normal_var_es__lower_expected_loss_than_misscaled() -> None:
    """FZ0 is a consistent scoring function: the true (VaR, ES) of N(0, 1) at 2.5 % beats 0.8x and 1.25x."""
    r = np.random.default_rng(7).standard_normal(400_000)
    q, es = -sps.norm.ppf(0.025), sps.norm.pdf(sps.norm.ppf(0.025)) / 0.025
    n = r.size

    def score(k: float) -> float:
        return float(stats.fz0_losses(r, np.full(n, k * q), np.full(n, k * es), 0.025).mean())

    assert score(1.0) < score(0.8)
    assert score(1.0) < score(1.25)


def test_fz0__nonpositive_es__raises() -> None:
    with pytest.raises(ModelError, match=r"es\[1\]"):
        stats.fz0_losses([0.0, 0.0], [0.01, 0.01], [0.02, 0.0], 0.05)


def test_acerbi_szekely_z2__four_days__hand_value() -> None:
    """alpha .25, VaR .03, ES .04: only r = -.05 breaches; Z2 = (-.05/.04) / (4 * .25) + 1 = -.25."""
    z2 = stats.acerbi_szekely_z2([-0.05, 0.01, -0.02, 0.03], [0.03] * 4, [0.04] * 4, 0.25)
    assert z2 == pytest.approx(-0.25)


def test_z2_p_value__four_simulated_paths__fraction_at_or_below() -> None:
    """One day, alpha .25, VaR .03, ES .04: Z2 = 100 r 1{r < -.03} + 1 -> paths -.05, -.01, 0, -.08 give
    -4, 1, 1, -7; P(Z2 <= -4) = 2/4."""
    sims = np.array([[-0.05], [-0.01], [0.0], [-0.08]])
    assert stats.z2_p_value(-4.0, sims, [0.03], [0.04], 0.25) == 0.5


def test_diebold_mariano__no_lags__hand_value() -> None:
    """d = 1, -1, 2, 0, 3: mean 1, gamma0 = (0 + 4 + 1 + 1 + 4)/5 = 2, DM = 1/sqrt(2/5) = 1.5811388;
    HLN factor sqrt((5 + 1 - 2)/5) = .8944272 -> 1.4142136; t(4): p = 2 (1 - F(sqrt 2)) with
    F = 1/2 + 3/8 * 1.1547005 * (1 - 2/18) = .8849002 -> p = .2301996."""
    dm = stats.diebold_mariano([1, -1, 2, 0, 3], [0, 0, 0, 0, 0], lags=0)
    assert dm.statistic == pytest.approx(math.sqrt(2.0), abs=1e-12)
    assert dm.p_value == pytest.approx(0.2301996, abs=1e-7)
    assert dm.mean_differential == 1.0


def test_diebold_mariano__one_bartlett_lag__hand_value() -> None:
    """x = d - 1 = 0, -2, 1, -1, 2: gamma1 = (0 - 2 - 1 - 2)/5 = -1; LRV = 2 + 2 (1/2)(-1) = 1;
    DM = 1/sqrt(1/5) = 2.2360680 x .8944272 = 2.0."""
    dm = stats.diebold_mariano([1, -1, 2, 0, 3], [0, 0, 0, 0, 0], lags=1)
    assert dm.statistic == pytest.approx(2.0, abs=1e-12)


def test_diebold_mariano__default_lags__newey_west_rule() -> None:
    """floor(4 (800/100)^(2/9)) = floor(6.32) = 6."""
    rng = np.random.default_rng(3)
    dm = stats.diebold_mariano(rng.standard_normal(800), rng.standard_normal(800))
    assert dm.lags == 6
    assert 0.0 <= dm.p_value <= 1.0


def test_stats__mismatched_lengths__raise_naming_argument() -> None:
    with pytest.raises(ModelError, match="var has length 2, expected 3"):
        stats.pinball_losses([0.0, 0.1, 0.2], [0.1, 0.1], 0.01)
    with pytest.raises(ModelError, match="alpha"):
        stats.kupiec_pof(1, 10, 0.7)


def test_dm_against_best__three_models__ranked_by_mean_fz0() -> None:
    """Model 'b' has the true normal VaR/ES on N(0, 1) data; 'a' is too small, 'c' too large: b is best,
    compared with the runner-up; a and c are compared with b and have positive statistics."""
    r = np.random.default_rng(5).standard_normal(5000)
    q, es = -sps.norm.ppf(0.025), sps.norm.pdf(sps.norm.ppf(0.025)) / 0.025
    paths = {
        k: (np.full(r.size, s * q), np.full(r.size, s * es)) for k, s in (("a", 0.6), ("b", 1.0), ("c", 1.8))
    }
    out = dm_against_best(r, paths, 0.025)
    assert out["a"]["against"] == "b" and out["c"]["against"] == "b"
    assert out["a"]["statistic"] > 2 and out["c"]["statistic"] > 2
    assert out["b"]["statistic"] < 0
