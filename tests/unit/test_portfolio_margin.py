"""The float64 portfolio-margin reference and the generated on-chain normal CDF."""

from __future__ import annotations

import math

import numpy as np

from oracle_node.options import portfolio_margin as pm
from oracle_node.options.svi import SviParams
from scripts import gen_normal_cdf as gen

NOW = 1_750_000_000
EXPIRY = NOW + 30 * 86_400
SMILE = pm.Smile(SviParams(a=0.01, b=0.05, rho=-0.3, m=0.02, sigma=0.1), 100_000.0, NOW)
BTC = pm.Underlying(pm.Shocks(0.16, 0.5, 0.25), 100_000.0, {EXPIRY: SMILE}, {NOW - 86_400: 93_000.0})
MARKET = {"BTC": BTC}


def _im(options: list[pm.OptionPosition], linear: list[pm.LinearPosition] | None = None) -> float:
    return pm.initial_margin(options, linear or [], MARKET, NOW)


def test_initial_margin__long_options__need_nothing() -> None:
    assert _im([pm.OptionPosition("BTC", EXPIRY, 110_000.0, True, 1.0)]) == 0.0
    assert _im([pm.OptionPosition("BTC", EXPIRY, 90_000.0, False, 2.0)]) == 0.0


def test_initial_margin__linear_only__is_size_spot_price_move() -> None:
    # Extreme moves weigh 2x by 1/2 and 3x by 1/3, so they tie with the core move for linear risk.
    assert math.isclose(_im([], [pm.LinearPosition("BTC", -0.5)]), 0.5 * 100_000 * 0.16, rel_tol=1e-12)


def test_initial_margin__put_spread__below_naked_and_width() -> None:
    short = pm.OptionPosition("BTC", EXPIRY, 95_000.0, False, -1.0)
    long = pm.OptionPosition("BTC", EXPIRY, 85_000.0, False, 1.0)
    assert _im([short, long]) < _im([short])
    assert _im([short, long]) <= 10_000.0


def test_initial_margin__expired_short_put__is_settled_intrinsic() -> None:
    expired = pm.OptionPosition("BTC", NOW - 86_400, 100_000.0, False, -1.0)
    assert math.isclose(_im([expired]), 7_000.0, rel_tol=1e-15)


def test_vol_multipliers__deribit_term_scaling() -> None:
    up, down = pm.vol_multipliers(pm.Shocks(0.16, 0.5, 0.25), 30 * 86_400)
    assert (up, down) == (1.5, 0.75)
    up7, down7 = pm.vol_multipliers(pm.Shocks(0.16, 0.5, 0.25), 7 * 86_400)
    assert math.isclose(up7, 1 + 0.5 * (30 / 7) ** 0.3) and math.isclose(down7, 1 - 0.25 * (30 / 7) ** 0.13)
    # Below one day the term stops shrinking; a huge down shock stops at x0.1.
    assert pm.vol_multipliers(pm.Shocks(0.16, 0.5, 0.9), 60) == pm.vol_multipliers(
        pm.Shocks(0.16, 0.5, 0.9), 86_400
    )
    assert pm.vol_multipliers(pm.Shocks(0.16, 0.5, 0.9), 60)[1] == 0.1


def test_moves__down_moves_stop_at_minus_95_percent() -> None:
    assert pm.moves(0.4)[0] == -0.95
    assert list(pm.moves(0.1)) == [
        -0.30000000000000004,
        -0.2,
        -0.1,
        -0.05,
        0.0,
        0.05,
        0.1,
        0.2,
        0.30000000000000004,
    ]


def test_normal_cdf_table__error_within_documented_bound() -> None:
    table = gen.fit_table()
    worst, _ = gen.max_error(table, step=1e-3)
    assert worst <= pm.CDF_MAX_ABS_ERROR
    assert worst > 1e-11, "the measured error is the table's, not zero: the emulation must be exercised"
    xs = np.linspace(-8, 8, 4001)
    assert all(0 <= gen.cdf_fixed(round(x * gen.WAD), table) <= gen.WAD for x in xs)


def test_normal_cdf_solidity__in_sync_with_generator() -> None:
    table = gen.fit_table()
    error, _ = gen.max_error(table, step=1e-3)
    committed = gen.OUT.read_text(encoding="utf-8")
    assert f"MAX_ABS_ERROR_WAD = {pm.CDF_MAX_ABS_ERROR * 1e18:.0f};" in committed
    assert f'hex"{table.to_bytes().hex()}"' in committed, "regenerate with `python -m scripts.gen_normal_cdf`"
    assert error * 1e18 * 1.01 <= pm.CDF_MAX_ABS_ERROR * 1e18 + 1
