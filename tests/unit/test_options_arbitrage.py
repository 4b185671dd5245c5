"""No-arbitrage checks fail on doctored smiles and pass on clean ones; the batched QP matches a loop."""

from __future__ import annotations

import numpy as np
import pytest

from oracle_node.options import arbitrage, qp
from oracle_node.options.svi import SviParams

GRID = arbitrage.check_grid()
# Axel Vogt's raw SVI (Gatheral-Jacquier 2014, example 3.1): positive total variance, butterfly arbitrage.
VOGT = SviParams(a=-0.0410, b=0.1331, rho=0.3060, m=0.3586, sigma=0.4153)
CLEAN = SviParams(a=0.04, b=0.1, rho=-0.3, m=0.0, sigma=0.2)


def test_check_slice__vogt_smile__reports_butterfly_arbitrage() -> None:
    check = arbitrage.check_slice(VOGT, 1.0, GRID)
    assert check.butterfly_points > 0
    assert check.min_g < 0
    assert not check.ok


def test_check_slice__clean_smile__passes() -> None:
    check = arbitrage.check_slice(CLEAN, 1.0, GRID)
    assert check.ok
    assert check.min_g > 0


def test_check_calendar__longer_expiry_below_in_a_wing__fails() -> None:
    steeper = SviParams(a=0.03, b=0.2, rho=0.0, m=0.0, sigma=0.2)  # lower ATM, higher wings
    check = arbitrage.check_calendar(steeper, CLEAN, GRID)
    assert check.points > 0
    assert check.min_gap < 0
    assert arbitrage.check_calendar(CLEAN, SviParams(0.06, 0.1, -0.3, 0.0, 0.2), GRID).ok


@pytest.mark.parametrize(
    ("params", "t", "fragment"),
    [
        (SviParams(0.04, -0.1, 0.0, 0.0, 0.2), 1.0, "b ="),
        (SviParams(0.04, 0.1, 1.0, 0.0, 0.2), 1.0, "|rho|"),
        (SviParams(0.04, 0.1, 0.0, 0.0, -0.2), 1.0, "sigma"),
        (SviParams(-0.1, 0.1, 0.0, 0.0, 0.2), 1.0, "min total variance"),
        (SviParams(0.04, 3.0, 0.5, 0.0, 0.2), 1.0, "4/T"),
    ],
)
def test_parameter_problems__each_broken_rule__is_named(params: SviParams, t: float, fragment: str) -> None:
    problems = arbitrage.parameter_problems(params, t)
    assert any(fragment in p for p in problems)


def test_count_violations__doctored_surface__counts_both_kinds() -> None:
    assert arbitrage.count_violations([CLEAN, SviParams(0.06, 0.1, -0.3, 0.0, 0.2)], [0.5, 1.0], GRID) == 0
    assert arbitrage.count_violations([CLEAN, VOGT], [0.5, 1.0], GRID) > 0


def test_solve_batch__random_problems__matches_reference_loop() -> None:
    rng = np.random.default_rng(3)
    g = 60
    x = rng.normal(size=(g, 12, 3))
    a = np.einsum("gni,gnj->gij", x, x) + 1e-3 * np.eye(3)
    b = rng.normal(size=(g, 3)) * 3
    c = np.array([[0, -1, 0.999], [0, 1, 0.999], [0, -1, -1], [0, 1, -1], [1, -1, 1], [1, 1, 1]], float)
    h = np.zeros((g, 6))
    h[:, 2] = h[:, 3] = -rng.uniform(0.1, 2, g)
    p, f = qp.solve_batch(a, b, c, h)
    for i in range(g):
        p_ref, f_ref = qp.solve_reference(a[i], b[i], c, h[i])
        assert f[i] == pytest.approx(f_ref, rel=1e-10, abs=1e-12)
        np.testing.assert_allclose(p[i], p_ref, atol=1e-8)
        assert np.all(c @ p[i] - h[i] >= -1e-9)
