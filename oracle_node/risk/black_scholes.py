"""Black-Scholes prices of European options: a scalar reference and a vectorised NumPy version.

    d1 = (ln(S / K) + (r + sigma^2 / 2) T) / (sigma sqrt(T)),   d2 = d1 - sigma sqrt(T)
    call = S N(d1) - K e^{-rT} N(d2),   put = K e^{-rT} N(-d2) - S N(-d1)

At expiry (T = 0) or with zero volatility the option is worth its intrinsic value on the discounted
strike, max(S - K e^{-rT}, 0) for a call (the sigma -> 0 limit), so the scenario grid can revalue a
book at and past the margin horizon. Prices are per unit of the underlying, in the spot's currency.
The vectorised version broadcasts every argument and is tested against the scalar one.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special


def _norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def bs_price(
    is_call: bool, spot: float, strike: float, t_years: float, vol: float, *, rate: float = 0.0
) -> float:
    """Scalar Black-Scholes price (the reference the vectorised version is tested against)."""
    if spot <= 0.0 or strike <= 0.0 or t_years < 0.0 or vol < 0.0:
        raise ValueError(
            f"bs_price: needs spot, strike > 0 and t, vol >= 0 (got {spot}, {strike}, {t_years}, {vol})"
        )
    discount = math.exp(-rate * t_years)
    if t_years == 0.0 or vol == 0.0:
        intrinsic = spot - strike * discount
        return max(intrinsic, 0.0) if is_call else max(-intrinsic, 0.0)
    sd = vol * math.sqrt(t_years)
    d1 = (math.log(spot / strike) + (rate + 0.5 * vol * vol) * t_years) / sd
    d2 = d1 - sd
    if is_call:
        return spot * _norm_cdf(d1) - strike * discount * _norm_cdf(d2)
    return strike * discount * _norm_cdf(-d2) - spot * _norm_cdf(-d1)


def bs_price_np(
    is_call: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t_years: ArrayLike,
    vol: ArrayLike,
    *,
    rate: ArrayLike = 0.0,
) -> NDArray[np.float64]:
    """Vectorised Black-Scholes price; every argument broadcasts against the others."""
    call, s, k, t, v, r = np.broadcast_arrays(
        np.asarray(is_call, dtype=bool),
        *(np.asarray(a, dtype=np.float64) for a in (spot, strike, t_years, vol, rate)),
    )
    if np.any(s <= 0.0) or np.any(k <= 0.0) or np.any(t < 0.0) or np.any(v < 0.0):
        raise ValueError("bs_price_np: needs spot, strike > 0 and t, vol >= 0")
    discounted_strike = k * np.exp(-r * t)
    degenerate = (t == 0.0) | (v == 0.0)
    sd = np.where(degenerate, 1.0, v * np.sqrt(t))
    d1 = (np.log(s / k) + (r + 0.5 * v * v) * t) / sd
    d2 = d1 - sd
    call_price = s * special.ndtr(d1) - discounted_strike * special.ndtr(d2)
    put_price = discounted_strike * special.ndtr(-d2) - s * special.ndtr(-d1)
    intrinsic = s - discounted_strike
    call_price = np.where(degenerate, np.maximum(intrinsic, 0.0), call_price)
    put_price = np.where(degenerate, np.maximum(-intrinsic, 0.0), put_price)
    return np.asarray(np.where(call, call_price, put_price), dtype=np.float64)
