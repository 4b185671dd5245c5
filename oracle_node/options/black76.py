"""Black-76 on the forward, undiscounted (discount factor 1), vectorised with NumPy.

Deribit options are inverse: the premium is quoted in the coin, and the coin price is the USD price
divided by the forward, so the coin price *is* the forward-normalised Black price
`c(k, s) = N(d1) - e^k N(d2)` (call) with `k = ln(K/F)`, total standard deviation `s = sigma*sqrt(T)`,
`d1 = -k/s + s/2`, `d2 = d1 - s`. Discounting is left out (factor 1): Deribit settles in the coin at
expiry and its own marks use the forward with no discounting; with one-year USD rates of a few percent
the effect on implied vols is far below the bid-ask spread.

Implied vol: safeguarded Newton on `ln c(s)` (concave in `s`) from the inflection point
`s = sqrt(2|k|)`, kept inside a shrinking bracket with bisection fallback; in-the-money prices are
first turned into the out-of-the-money option's price by put-call parity (`c - p = 1 - e^k`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

Array = NDArray[np.float64]
_INV_SQRT_2PI = 0.3989422804014327
_S_MIN, _S_MAX = 1e-8, 20.0
_MAX_ITER = 40
_C_MIN = 1e-200  # below this a normalised price carries no usable vol information


def pdf(x: Array) -> Array:
    return _INV_SQRT_2PI * np.exp(-0.5 * x * x)


def d1_d2(k: ArrayLike, s: ArrayLike) -> tuple[Array, Array]:
    k, s = np.asarray(k, dtype=float), np.asarray(s, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = -k / s + 0.5 * s
    return d1, d1 - s


def norm_price(k: ArrayLike, s: ArrayLike, is_call: ArrayLike) -> Array:
    """Forward-normalised undiscounted price (= the coin price of a Deribit inverse option)."""
    d1, d2 = d1_d2(k, s)
    ek = np.exp(np.asarray(k, dtype=float))
    call = ndtr(d1) - ek * ndtr(d2)
    put = ek * ndtr(-d2) - ndtr(-d1)
    return np.where(np.asarray(is_call, dtype=bool), call, put)


def price(forward: ArrayLike, strike: ArrayLike, t: ArrayLike, sigma: ArrayLike, is_call: ArrayLike) -> Array:
    """Black-76 price in the quote currency (USD): forward times the normalised price."""
    f = np.asarray(forward, dtype=float)
    k = np.log(np.asarray(strike, dtype=float) / f)
    s = np.asarray(sigma, dtype=float) * np.sqrt(np.asarray(t, dtype=float))
    return f * norm_price(k, s, is_call)


def _otm_price(c: Array, k: Array, is_call: NDArray[np.bool_]) -> tuple[Array, NDArray[np.bool_]]:
    """Turn any price into the OTM option's normalised price (call for k >= 0, put below)."""
    otm_call = k >= 0.0
    parity = 1.0 - np.exp(k)  # c - p
    as_otm = np.where(is_call == otm_call, c, np.where(is_call, c - parity, c + parity))
    return as_otm, otm_call


def implied_total_std(c: ArrayLike, k: ArrayLike, is_call: ArrayLike) -> Array:
    """Total standard deviation s = sigma*sqrt(T) that reproduces the normalised price c (NaN if none)."""
    c, k = np.broadcast_arrays(np.asarray(c, dtype=float), np.asarray(k, dtype=float))
    target, otm_call = _otm_price(c, k, np.broadcast_to(np.asarray(is_call, dtype=bool), c.shape))
    upper = np.where(otm_call, 1.0, np.exp(k))  # price as s -> infinity
    ok = np.isfinite(target) & (target > _C_MIN) & (target < upper)
    tgt = np.where(ok, target, 0.5 * upper)
    s_inf = np.sqrt(2.0 * np.abs(k))  # inflection point of s -> c(k, s)
    lower = tgt < norm_price(k, s_inf, otm_call)
    log_tgt = np.log(tgt)
    s = np.where(lower, np.abs(k) / np.sqrt(-2.0 * log_tgt), np.maximum(s_inf, 2.5066282746310002 * tgt))
    lo, hi = np.where(lower, _S_MIN, s_inf), np.where(lower, s_inf, _S_MAX)
    s = np.clip(s, lo, hi)
    for _ in range(_MAX_ITER):
        s, lo, hi, step = _newton_step(s, lo, hi, k, otm_call, tgt, log_tgt, lower)
        if np.all(np.abs(step) <= 1e-11 * s):
            break
    return np.where(ok, s, np.nan)


def _newton_step(
    s: Array,
    lo: Array,
    hi: Array,
    k: Array,
    otm_call: NDArray[np.bool_],
    tgt: Array,
    log_tgt: Array,
    lower: NDArray[np.bool_],
) -> tuple[Array, Array, Array, Array]:
    """One safeguarded step: Newton on c (upper branch) or on 1/ln c (lower branch, Jaeckel 2006)."""
    p = np.maximum(norm_price(k, s, otm_call), 1e-300)
    d1, _ = d1_d2(k, s)
    v = np.maximum(pdf(d1), 1e-300)
    below = p < tgt
    lo, hi = np.where(below, s, lo), np.where(below, hi, s)
    lp = np.log(p)
    step = np.where(lower, (1.0 / lp - 1.0 / log_tgt) * (-(p * lp * lp) / v), (p - tgt) / v)
    nxt = s - step
    bad = ~np.isfinite(nxt) | (nxt < lo) | (nxt > hi)
    nxt = np.where(bad, 0.5 * (lo + hi), nxt)
    return nxt, lo, hi, nxt - s


def implied_vol(
    coin_price: ArrayLike, forward: ArrayLike, strike: ArrayLike, t: ArrayLike, is_call: ArrayLike
) -> Array:
    """Implied vol from a coin (forward-normalised) price; USD price = coin price x forward."""
    k = np.log(np.asarray(strike, dtype=float) / np.asarray(forward, dtype=float))
    return implied_total_std(coin_price, k, is_call) / np.sqrt(np.asarray(t, dtype=float))


def delta(forward: ArrayLike, strike: ArrayLike, t: ArrayLike, sigma: ArrayLike, is_call: ArrayLike) -> Array:
    """dV/dF at fixed sigma (coins of underlying per option): N(d1) for calls, N(d1) - 1 for puts."""
    d1, _ = _d(forward, strike, t, sigma)
    return np.where(np.asarray(is_call, dtype=bool), ndtr(d1), ndtr(d1) - 1.0)


def gamma(forward: ArrayLike, strike: ArrayLike, t: ArrayLike, sigma: ArrayLike) -> Array:
    d1, _ = _d(forward, strike, t, sigma)
    return pdf(d1) / (np.asarray(forward, dtype=float) * np.asarray(sigma) * np.sqrt(np.asarray(t)))


def vega(forward: ArrayLike, strike: ArrayLike, t: ArrayLike, sigma: ArrayLike) -> Array:
    """dV/dsigma in USD per unit of sigma (divide by 100 for one vol point)."""
    d1, _ = _d(forward, strike, t, sigma)
    return np.asarray(forward, dtype=float) * pdf(d1) * np.sqrt(np.asarray(t, dtype=float))


def vanna(forward: ArrayLike, strike: ArrayLike, t: ArrayLike, sigma: ArrayLike) -> Array:
    """d2V/dF dsigma."""
    d1, d2 = _d(forward, strike, t, sigma)
    return -pdf(d1) * d2 / np.asarray(sigma, dtype=float)


def volga(forward: ArrayLike, strike: ArrayLike, t: ArrayLike, sigma: ArrayLike) -> Array:
    """d2V/dsigma2."""
    d1, d2 = _d(forward, strike, t, sigma)
    return vega(forward, strike, t, sigma) * d1 * d2 / np.asarray(sigma, dtype=float)


def _d(forward: ArrayLike, strike: ArrayLike, t: ArrayLike, sigma: ArrayLike) -> tuple[Array, Array]:
    k = np.log(np.asarray(strike, dtype=float) / np.asarray(forward, dtype=float))
    return d1_d2(k, np.asarray(sigma, dtype=float) * np.sqrt(np.asarray(t, dtype=float)))
