"""The scenario grid and the Student-t tail multipliers, on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import integrate, stats

from oracle_node.risk.black_scholes import bs_price
from oracle_node.risk.grid import OptionPosition, ScenarioGrid
from oracle_node.risk.params import RiskSettings
from oracle_node.risk.tails import es_multiplier, normal_es_multiplier, t_es_multiplier, t_var_multiplier

GRID = ScenarioGrid.from_settings(RiskSettings())


def _es_by_integration(nu: float, level: float) -> float:
    scale = math.sqrt((nu - 2.0) / nu)
    q = stats.t.ppf(level, nu)
    tail, _ = integrate.quad(lambda x: x * stats.t.pdf(x, nu), q, math.inf)
    return tail / (1.0 - level) * scale


@pytest.mark.parametrize("nu", [2.5, 3.0, 4.0, 5.0, 8.0, 30.0])
def test_t_es_multiplier__closed_form__matches_numerical_integration(nu: float) -> None:
    assert float(t_es_multiplier(nu, 0.99)) == pytest.approx(_es_by_integration(nu, 0.99), rel=1e-6)
    assert float(t_var_multiplier(nu, 0.99)) == pytest.approx(
        stats.t.ppf(0.99, nu) * math.sqrt((nu - 2) / nu)
    )


def test_es_multiplier__normal_limit_and_floor__never_below_2_6652() -> None:
    assert normal_es_multiplier(0.99) == pytest.approx(2.665214, abs=1e-6)
    assert float(t_es_multiplier(1e9, 0.99)) == pytest.approx(2.665214, abs=1e-4)
    # Near nu = 2 the unit-variance t's ES99 falls below the normal's: the floor takes over.
    assert float(t_es_multiplier(2.05, 0.99)) < 2.6652
    assert float(es_multiplier(2.05, 0.99)) == pytest.approx(2.665214, abs=1e-6)
    assert float(es_multiplier(5.0, 0.99)) == pytest.approx(3.448837, abs=1e-6)


def test_grid__default_settings__27_span_style_scenarios_with_skew() -> None:
    assert len(GRID) == 27  # 4 zero/down-price x 4 vols (16) + 3 up-price x 3 vols (9) + 2 extremes
    down = GRID.vol_multipliers[GRID.price_multiples == -1.0]
    up = GRID.vol_multipliers[GRID.price_multiples == 1.0]
    assert down.tolist() == [0.75, 1.0, 1.5, 2.0]
    assert up.tolist() == [0.75, 1.0, 1.5]
    assert GRID.price_multiples[-2:].tolist() == [-2.0, 2.0]
    assert GRID.cover[-2:].tolist() == [0.35, 0.35]
    assert GRID.label(0) == "price -1.00S vol x0.75"
    assert GRID.label(26) == "price +2.00S vol x1.00 cover 35%"


def test_grid__linear_losses__hand_computed_for_s_2_6652pct() -> None:
    long_loss, short_loss = GRID.linear_losses(np.array([0.026652]))
    assert long_loss.shape == short_loss.shape == (1, 27)
    assert long_loss.max() == pytest.approx(1 - math.exp(-0.026652))  # 0.026300: full down move
    assert short_loss.max() == pytest.approx(math.exp(0.026652) - 1)  # 0.027010: full up move
    assert long_loss[0, 25] == pytest.approx(0.35 * (1 - math.exp(-2 * 0.026652)))  # extreme, 35% cover
    assert long_loss[0, GRID.price_multiples == 0.0].tolist() == [0.0] * 4


def test_grid__extreme_triple_move__binds_for_the_short_side() -> None:
    grid = ScenarioGrid.from_settings(RiskSettings(extreme_multiple=3.0))
    _, short_loss = grid.linear_losses(np.array([0.2]))
    worst = int(np.argmax(short_loss[0]))
    assert grid.label(worst) == "price +3.00S vol x1.00 cover 35%"
    assert short_loss[0, worst] == pytest.approx(0.35 * (math.exp(0.6) - 1))  # 0.2877 > e^0.2 - 1 = 0.2214


def _book_losses_reference(
    spot: float, s: float, book: tuple[OptionPosition, ...], days: float
) -> list[float]:
    out = []
    for m, v, c in zip(GRID.price_multiples, GRID.vol_multipliers, GRID.cover, strict=True):
        now = sum(
            p.quantity * bs_price(p.is_call, spot, p.strike, p.expiry_years, p.implied_vol) for p in book
        )
        later = sum(
            p.quantity
            * bs_price(
                p.is_call,
                spot * math.exp(m * s),
                p.strike,
                max(p.expiry_years - days / 365, 0),
                p.implied_vol * v,
            )
            for p in book
        )
        out.append(c * (now - later))
    return out


BOOK = (
    OptionPosition(True, 60_000.0, 30 / 365, 0.55, 2.0),
    OptionPosition(False, 50_000.0, 7 / 365, 0.70, -3.0),
    OptionPosition(True, 70_000.0, 1 / 365, 0.60, -1.0),
)


def test_option_book_losses__vectorised__equals_scalar_loop() -> None:
    got = GRID.option_book_losses(58_000.0, 0.12, BOOK, horizon_days=2.0)
    assert_allclose(got, _book_losses_reference(58_000.0, 0.12, BOOK, 2.0), rtol=1e-10, atol=1e-6)


def test_option_book_losses__short_put__worst_is_crash_with_vol_doubling() -> None:
    book = (OptionPosition(False, 50_000.0, 30 / 365, 0.6, -1.0),)
    losses = GRID.option_book_losses(50_000.0, 0.1, book, horizon_days=1.0)
    assert GRID.label(int(np.argmax(losses))) == "price -1.00S vol x2.00"


def test_option_book_losses__long_straddle__worst_is_calm_with_vol_crush() -> None:
    book = (
        OptionPosition(True, 50_000.0, 30 / 365, 0.6, 1.0),
        OptionPosition(False, 50_000.0, 30 / 365, 0.6, 1.0),
    )
    losses = GRID.option_book_losses(50_000.0, 0.1, book, horizon_days=1.0)
    assert GRID.label(int(np.argmax(losses))) == "price +0.00S vol x0.75"
    assert losses.max() > 0.0
    assert GRID.option_book_losses(50_000.0, 0.1, (), horizon_days=1.0).tolist() == [0.0] * 27
