"""Smile-aware Greeks from a fitted surface (Black-76 on the forward, USD, discount factor 1).

The option is priced at its surface vol: V(F) = Black76(F, K, T, sigma(k)), k = ln(K/F).

- Sticky-strike: sigma stays at sigma(K) when F moves: delta = N(d1) (call), gamma = Black's.
- Smile-adjusted (sticky-moneyness): the smile moves with F, sigma = sigma(ln K - ln F), so
  dsigma/dF = -sigma_k/F = -(K/F) dsigma/dK and d2sigma/dF2 = (sigma_kk + sigma_k)/F^2;
  delta_smile = delta + vega dsigma/dF,
  gamma_smile = gamma + 2 vanna dsigma/dF + volga (dsigma/dF)^2 + vega d2sigma/dF2.
- vega, vanna, volga: Black-76 at the surface vol (parallel shift of the smile).
- Coin (premium-adjusted) delta of a Deribit inverse option: its coin price is V/F, so
  F d(V/F)/dF = delta - V/F: `delta_coin = delta - price_coin` (the premium is itself coin exposure).
sigma_k = w'/(2 sigma T), sigma_kk = (w''/(2T) - sigma_k^2)/sigma, from the surface's w(k, T).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oracle_node.options import black76
from oracle_node.options.surface import Surface


@dataclass(frozen=True, slots=True)
class Greeks:
    strike: float
    t: float
    is_call: bool
    forward: float
    sigma: float
    price_usd: float
    price_coin: float
    delta: float  # sticky-strike, dV/dF at fixed sigma
    delta_smile: float  # sticky-moneyness, includes the dsigma/dK term
    delta_coin: float  # premium-adjusted (coin) delta: delta - price_coin
    gamma: float
    gamma_smile: float
    vega: float  # USD per unit sigma
    vanna: float
    volga: float
    dsigma_dk: float  # dsigma/dK (per USD of strike)


def smile_derivatives(surface: Surface, strike: float, t: float) -> tuple[float, float, float, float]:
    """(F, sigma, sigma_k, sigma_kk) at strike K and time t, k = ln(K/F)."""
    f = surface.forward(t)
    w, w1, w2 = (float(x) for x in surface.w_derivatives(np.log(strike / f), t))
    sigma = float(np.sqrt(w / t))
    s_k = w1 / (2.0 * sigma * t)
    return f, sigma, s_k, (w2 / (2.0 * t) - s_k * s_k) / sigma


def greeks(surface: Surface, strike: float, t: float, is_call: bool) -> Greeks:
    f, sigma, s_k, s_kk = smile_derivatives(surface, strike, t)
    price = float(black76.price(f, strike, t, sigma, is_call))
    delta = float(black76.delta(f, strike, t, sigma, is_call))
    gamma = float(black76.gamma(f, strike, t, sigma))
    vega = float(black76.vega(f, strike, t, sigma))
    vanna = float(black76.vanna(f, strike, t, sigma))
    volga = float(black76.volga(f, strike, t, sigma))
    ds_df = -s_k / f
    d2s_df2 = (s_kk + s_k) / (f * f)
    return Greeks(
        strike=strike,
        t=t,
        is_call=is_call,
        forward=f,
        sigma=sigma,
        price_usd=price,
        price_coin=price / f,
        delta=delta,
        delta_smile=delta + vega * ds_df,
        delta_coin=delta - price / f,
        gamma=gamma,
        gamma_smile=gamma + 2.0 * vanna * ds_df + volga * ds_df**2 + vega * d2s_df2,
        vega=vega,
        vanna=vanna,
        volga=volga,
        dsigma_dk=s_k / strike,
    )
