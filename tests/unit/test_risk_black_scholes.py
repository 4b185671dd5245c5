"""Black-Scholes: textbook values, put-call parity, limits, and the vectorised pricer against the scalar one."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from oracle_node.risk.black_scholes import bs_price, bs_price_np

prices = st.floats(1.0, 1e5)
vols = st.floats(0.01, 3.0)
times = st.floats(1e-3, 3.0)
rates = st.floats(-0.02, 0.2)


def test_bs_price__atm_one_year_20pct__textbook_call_7_9656() -> None:
    assert bs_price(True, 100.0, 100.0, 1.0, 0.2) == pytest.approx(7.965567, abs=1e-6)
    assert bs_price(False, 100.0, 100.0, 1.0, 0.2) == pytest.approx(7.965567, abs=1e-6)


def test_bs_price__hull_example__call_4_76_put_0_81() -> None:
    # Hull, Options, Futures and Other Derivatives: S=42, K=40, r=10%, sigma=20%, T=0.5.
    assert bs_price(True, 42.0, 40.0, 0.5, 0.2, rate=0.1) == pytest.approx(4.759, abs=1e-3)
    assert bs_price(False, 42.0, 40.0, 0.5, 0.2, rate=0.1) == pytest.approx(0.808, abs=1e-3)


@settings(max_examples=200, deadline=None)
@given(spot=prices, moneyness=st.floats(0.3, 3.0), t=times, vol=vols, rate=rates)
def test_bs_price__any_inputs__put_call_parity_holds(
    spot: float, moneyness: float, t: float, vol: float, rate: float
) -> None:
    strike = spot * moneyness
    call = bs_price(True, spot, strike, t, vol, rate=rate)
    put = bs_price(False, spot, strike, t, vol, rate=rate)
    assert call - put == pytest.approx(spot - strike * math.exp(-rate * t), rel=1e-9, abs=1e-9 * spot)


def test_bs_price__expiry_or_zero_vol__intrinsic_on_discounted_strike() -> None:
    assert bs_price(True, 110.0, 100.0, 0.0, 0.5) == pytest.approx(10.0)
    assert bs_price(False, 110.0, 100.0, 0.0, 0.5) == 0.0
    assert bs_price(True, 100.0, 100.0, 1.0, 0.0, rate=0.05) == pytest.approx(100.0 - 100.0 * math.exp(-0.05))
    assert bs_price(True, 100.0, 100.0, 1e-12, 0.8) == pytest.approx(0.0, abs=1e-4)


def test_bs_price__vol_rises__call_value_rises() -> None:
    values = [bs_price(True, 100.0, 120.0, 0.25, v) for v in (0.2, 0.4, 0.8, 1.6)]
    assert values == sorted(values)
    assert values[0] < values[-1]


def test_bs_price__bad_inputs__raise_value_error() -> None:
    with pytest.raises(ValueError, match="spot"):
        bs_price(True, -1.0, 100.0, 1.0, 0.2)
    with pytest.raises(ValueError, match="spot"):
        bs_price_np(True, 100.0, [100.0, 0.0], 1.0, 0.2)


def test_bs_price_np__random_grid__equals_scalar_reference() -> None:
    rng = np.random.default_rng(7)
    n = 2_000
    is_call = rng.random(n) < 0.5
    spot = rng.uniform(10.0, 1e5, n)
    strike = spot * rng.uniform(0.3, 3.0, n)
    t = np.where(rng.random(n) < 0.05, 0.0, rng.uniform(1e-4, 3.0, n))
    vol = np.where(rng.random(n) < 0.05, 0.0, rng.uniform(0.01, 3.0, n))
    rate = rng.uniform(-0.02, 0.2, n)
    expected = [
        bs_price(bool(c), s, k, tt, v, rate=r)
        for c, s, k, tt, v, r in zip(is_call, spot, strike, t, vol, rate, strict=True)
    ]
    assert_allclose(bs_price_np(is_call, spot, strike, t, vol, rate=rate), expected, rtol=1e-10, atol=1e-9)


def test_bs_price_np__broadcasting__matrix_of_scenarios() -> None:
    spots = np.array([[90.0], [100.0], [110.0]])
    out = bs_price_np(np.array([True, False]), spots, 100.0, 0.5, np.array([0.5, 0.5]))
    assert out.shape == (3, 2)
    assert out[2, 0] == pytest.approx(bs_price(True, 110.0, 100.0, 0.5, 0.5))
    assert out[0, 1] == pytest.approx(bs_price(False, 90.0, 100.0, 0.5, 0.5))
