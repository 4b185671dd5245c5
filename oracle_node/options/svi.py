"""Raw SVI total implied variance, its k-derivatives and the Gatheral-Jacquier density factor g(k).

`w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2))` with `w = sigma_BS^2 T` the total implied
variance at log-moneyness `k = ln(K/F)`. With `y = (k - m)/sigma` the quasi-explicit form of
Zeliade (2009) is `w = a + d y + c sqrt(y^2 + 1)`, `c = b sigma`, `d = rho b sigma`: linear in
`(a, d, c)` for fixed `(m, sigma)`.

`g(k) = (1 - k w'/(2w))^2 - w'^2/4 (1/w + 1/4) + w''/2`; the risk-neutral density is
`g(k)/sqrt(2 pi w) exp(-d2^2/2)`, so `g >= 0` everywhere is no butterfly arbitrage
(Gatheral and Jacquier 2014, "Arbitrage-free SVI volatility surfaces").

The array functions broadcast: parameters may be arrays of candidates (shape (G, 1)) against a row of
strikes (shape (1, n) or (G, n)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SviParams:
    """Raw SVI parameters of one expiry's total implied variance."""

    a: float
    b: float
    rho: float
    m: float
    sigma: float

    def total_variance(self, k: ArrayLike) -> Array:
        return total_variance(self.a, self.b, self.rho, self.m, self.sigma, k)

    def implied_vol(self, k: ArrayLike, t: float) -> Array:
        return np.sqrt(np.maximum(self.total_variance(k), 0.0) / t)

    def g(self, k: ArrayLike) -> Array:
        return density_factor(self.a, self.b, self.rho, self.m, self.sigma, k)

    @property
    def min_total_variance(self) -> float:
        """a + b sigma sqrt(1 - rho^2), the minimum of w over k."""
        return self.a + self.b * self.sigma * math.sqrt(max(1.0 - self.rho * self.rho, 0.0))

    @property
    def wing_slope(self) -> float:
        """b (1 + |rho|): the steeper asymptotic slope of w in |k|."""
        return self.b * (1.0 + abs(self.rho))

    @classmethod
    def from_quasi(cls, a: float, d: float, c: float, m: float, sigma: float) -> SviParams:
        rho = d / c if c > 0.0 else 0.0
        return cls(a=a, b=c / sigma, rho=rho, m=m, sigma=sigma)

    def as_dict(self) -> dict[str, float]:
        return {"a": self.a, "b": self.b, "rho": self.rho, "m": self.m, "sigma": self.sigma}


def total_variance(
    a: ArrayLike, b: ArrayLike, rho: ArrayLike, m: ArrayLike, sigma: ArrayLike, k: ArrayLike
) -> Array:
    x = np.asarray(k, dtype=float) - m
    return a + b * (rho * x + np.sqrt(x * x + np.asarray(sigma) ** 2))


def derivatives(
    a: ArrayLike, b: ArrayLike, rho: ArrayLike, m: ArrayLike, sigma: ArrayLike, k: ArrayLike
) -> tuple[Array, Array, Array]:
    """w, dw/dk, d2w/dk2."""
    x = np.asarray(k, dtype=float) - m
    sig2 = np.asarray(sigma, dtype=float) ** 2
    r = np.sqrt(x * x + sig2)
    w = a + b * (rho * x + r)
    return w, b * (rho + x / r), b * sig2 / (r * r * r)


def g_from_w(k: ArrayLike, w: Array, w1: Array, w2: Array) -> Array:
    """Gatheral-Jacquier g(k) from w and its first two k-derivatives (-inf where w <= 0)."""
    k = np.asarray(k, dtype=float)
    safe = np.where(w > 0.0, w, 1.0)
    g = (1.0 - k * w1 / (2.0 * safe)) ** 2 - 0.25 * w1 * w1 * (1.0 / safe + 0.25) + 0.5 * w2
    return np.where(w > 0.0, g, -np.inf)


def density_factor(
    a: ArrayLike, b: ArrayLike, rho: ArrayLike, m: ArrayLike, sigma: ArrayLike, k: ArrayLike
) -> Array:
    w, w1, w2 = derivatives(a, b, rho, m, sigma, k)
    return g_from_w(k, w, w1, w2)


def quasi_basis(k: ArrayLike, m: ArrayLike, sigma: ArrayLike) -> tuple[Array, Array]:
    """(y, sqrt(y^2 + 1)) with y = (k - m)/sigma: w = a + d y + c sqrt(y^2+1)."""
    y = (np.asarray(k, dtype=float) - m) / sigma
    return y, np.sqrt(y * y + 1.0)


def quasi_derivatives(
    a: ArrayLike, d: ArrayLike, c: ArrayLike, m: ArrayLike, sigma: ArrayLike, k: ArrayLike
) -> tuple[Array, Array, Array]:
    """w, dw/dk, d2w/dk2 in the quasi-explicit parameters (no division by c: works for c = 0)."""
    y, r = quasi_basis(k, m, sigma)
    w = a + d * y + c * r
    return w, (d + c * y / r) / sigma, c / (sigma * sigma * r * r * r)
