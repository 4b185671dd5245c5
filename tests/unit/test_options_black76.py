"""Black-76 on the forward: IV inversion round-trips, parity, Greeks against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from oracle_node.options import black76


@settings(max_examples=300, deadline=None)
@given(
    k=st.floats(-1.5, 1.5),
    sigma=st.floats(0.05, 3.0),
    t=st.floats(1.0 / 365 / 24, 2.0),
    is_call=st.booleans(),
)
def test_implied_vol__price_of_known_vol__round_trips(
    k: float, sigma: float, t: float, is_call: bool
) -> None:
    s = sigma * np.sqrt(t)
    otm = black76.norm_price(k, s, k >= 0.0)
    assume(otm > 1e-9)  # below this the vol is not identified in double precision
    price = black76.norm_price(k, s, is_call)
    back = black76.implied_vol(price, 1.0, np.exp(k), t, is_call)
    tol = 1e-8 if is_call == (k >= 0.0) else 1e-6  # ITM prices lose digits to the intrinsic value
    assert back == pytest.approx(sigma, rel=tol, abs=tol)


def test_implied_vol__vectorised__matches_scalar_calls() -> None:
    rng = np.random.default_rng(7)
    k, s = rng.uniform(-1, 1, 400), rng.uniform(0.01, 1.5, 400)
    keep = black76.norm_price(k, s, k >= 0) > 1e-6  # identifiable after parity in double precision
    k, s = k[keep], s[keep]
    call = rng.random(k.size) < 0.5
    price = black76.norm_price(k, s, call)
    vec = black76.implied_total_std(price, k, call)
    one = np.array([black76.implied_total_std(p, kk, c) for p, kk, c in zip(price, k, call, strict=True)])
    np.testing.assert_allclose(vec, one, rtol=1e-12)
    np.testing.assert_allclose(vec, s, rtol=1e-6)


def test_implied_vol__price_outside_bounds__is_nan() -> None:
    assert np.isnan(black76.implied_total_std(0.0, 0.1, True))
    assert np.isnan(black76.implied_total_std(1.2, 0.1, True))  # above the forward
    assert np.isnan(black76.implied_total_std(0.05, -0.2, True))  # below the intrinsic 1 - e^k


def test_norm_price__put_call_parity__c_minus_p_is_one_minus_e_k() -> None:
    k, s = np.linspace(-1, 1, 21), 0.4
    np.testing.assert_allclose(
        black76.norm_price(k, s, True) - black76.norm_price(k, s, False), 1 - np.exp(k), atol=1e-15
    )


@pytest.mark.parametrize("is_call", [True, False])
def test_greeks__finite_differences__agree(is_call: bool) -> None:
    f, k, t, sig = 90_000.0, 80_000.0, 0.3, 0.55

    def price(ff: float = f, ss: float = sig) -> float:
        return float(black76.price(ff, k, t, ss, is_call))

    h, e = f * 1e-4, 1e-4
    assert black76.delta(f, k, t, sig, is_call) == pytest.approx(
        (price(f + h) - price(f - h)) / (2 * h), rel=1e-6
    )
    assert black76.gamma(f, k, t, sig) == pytest.approx(
        (price(f + h) - 2 * price() + price(f - h)) / h**2, rel=1e-4
    )
    assert black76.vega(f, k, t, sig) == pytest.approx(
        (price(ss=sig + e) - price(ss=sig - e)) / (2 * e), rel=1e-6
    )
    vanna_fd = (black76.delta(f, k, t, sig + e, is_call) - black76.delta(f, k, t, sig - e, is_call)) / (2 * e)
    assert black76.vanna(f, k, t, sig) == pytest.approx(vanna_fd, rel=1e-5)
    volga_fd = (black76.vega(f, k, t, sig + e) - black76.vega(f, k, t, sig - e)) / (2 * e)
    assert black76.volga(f, k, t, sig) == pytest.approx(volga_fd, rel=1e-5)
