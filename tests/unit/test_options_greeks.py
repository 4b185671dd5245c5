"""Smile-aware Greeks against finite differences of the surface price (sticky-strike and sticky-moneyness)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from oracle_node.options import black76
from oracle_node.options.greeks import greeks
from oracle_node.options.surface import Surface, SurfaceSlice
from oracle_node.options.svi import SviParams

SLICES = (
    SurfaceSlice(datetime(2026, 2, 1, tzinfo=UTC), 0.1, 90_500.0, SviParams(0.02, 0.04, -0.35, 0.02, 0.15)),
    SurfaceSlice(datetime(2026, 6, 1, tzinfo=UTC), 0.45, 92_000.0, SviParams(0.08, 0.12, -0.3, 0.05, 0.3)),
)
SURFACE = Surface("BTC", 90_000.0, SLICES)


def _shifted(scale: float) -> Surface:
    """The same smiles in log-moneyness with every forward (and the spot) scaled: the smile moves with F."""
    return Surface(
        "BTC", SURFACE.spot * scale, tuple(dataclasses.replace(s, forward=s.forward * scale) for s in SLICES)
    )


def _price(strike: float, t: float, is_call: bool, scale: float, sigma: float | None = None) -> float:
    surface = _shifted(scale)
    vol = float(surface.implied_vol(strike, t)) if sigma is None else sigma
    return float(black76.price(surface.forward(t), strike, t, vol, is_call))


@pytest.mark.parametrize("t", [0.1, 0.3])  # on a slice and interpolated between slices
@pytest.mark.parametrize(("ratio", "is_call"), [(0.8, False), (1.0, True), (1.25, True)])
def test_greeks__finite_differences_of_surface_price__agree(t: float, ratio: float, is_call: bool) -> None:
    f = SURFACE.forward(t)
    strike = f * ratio
    g = greeks(SURFACE, strike, t, is_call)
    h = 1e-4
    up, mid, down = (_price(strike, t, is_call, 1 + x) for x in (h, 0.0, -h))
    assert g.delta_smile == pytest.approx((up - down) / (2 * h * f), rel=1e-5, abs=1e-8)
    assert g.gamma_smile == pytest.approx((up - 2 * mid + down) / (h * f) ** 2, rel=1e-3)
    fixed = [_price(strike, t, is_call, 1 + x, sigma=g.sigma) for x in (h, 0.0, -h)]
    assert g.delta == pytest.approx((fixed[0] - fixed[2]) / (2 * h * f), rel=1e-5, abs=1e-8)
    assert g.gamma == pytest.approx((fixed[0] - 2 * fixed[1] + fixed[2]) / (h * f) ** 2, rel=1e-3)
    e = 1e-4
    vol_up, vol_down = (float(black76.price(f, strike, t, g.sigma + x, is_call)) for x in (e, -e))
    assert g.vega == pytest.approx((vol_up - vol_down) / (2 * e), rel=1e-6)
    dk = strike * 1e-5
    sig_up, sig_down = (float(SURFACE.implied_vol(strike + x, t)) for x in (dk, -dk))
    assert g.dsigma_dk == pytest.approx((sig_up - sig_down) / (2 * dk), rel=1e-4, abs=1e-12)


def test_greeks__smile_delta__adds_vega_times_dsigma_dF() -> None:
    g = greeks(SURFACE, 80_000.0, 0.45, False)
    assert g.delta_smile - g.delta == pytest.approx(g.vega * -(g.strike / g.forward) * g.dsigma_dk, rel=1e-10)
    assert g.delta_smile > g.delta  # negative skew: a put's vol falls as F rises


def test_greeks__coin_delta__is_forward_times_derivative_of_coin_price() -> None:
    t, strike, h = 0.45, 95_000.0, 1e-4
    g = greeks(SURFACE, strike, t, True)
    f = SURFACE.forward(t)

    def coin(scale: float) -> float:
        return float(black76.price(f * scale, strike, t, g.sigma, True)) / (f * scale)

    assert g.delta_coin == pytest.approx(f * (coin(1 + h) - coin(1 - h)) / (2 * h * f), rel=1e-6)
    assert g.delta_coin == pytest.approx(g.delta - g.price_coin, rel=1e-12)
