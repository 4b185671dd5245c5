"""A per-underlying implied-volatility surface: fitted SVI slices, forwards, sigma(K, T) interpolation.

Between two fitted expiries the total variance is interpolated linearly in T at fixed log-moneyness
`k = ln(K/F(T))`, which keeps w non-decreasing in T wherever the slices are (no calendar arbitrage);
the forward is interpolated log-linearly in T (from the spot at T = 0). Before the first expiry
`w = w_1(k) T/T_1`; after the last one the last slice's implied vol is kept (`w = w_n(k) T/T_n`).
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import ArrayLike, NDArray

from oracle_node.errors import ModelError
from oracle_node.options import svi
from oracle_node.options.svi import SviParams

Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SurfaceSlice:
    expiry: datetime
    t: float
    forward: float
    params: SviParams


@dataclass(frozen=True, slots=True)
class Surface:
    """Fitted slices of one underlying, sorted by expiry."""

    underlying: str
    spot: float
    slices: tuple[SurfaceSlice, ...]

    def __post_init__(self) -> None:
        ts = [s.t for s in self.slices]
        if not ts or any(b <= a for a, b in itertools.pairwise(ts)) or ts[0] <= 0.0:
            raise ModelError(f"surface {self.underlying}: expiries must be positive and strictly increasing")

    def forward(self, t: float) -> float:
        ts = [0.0] + [s.t for s in self.slices]
        logs = [math.log(self.spot)] + [math.log(s.forward) for s in self.slices]
        if t >= ts[-1] and len(ts) > 2:
            slope = (logs[-1] - logs[-2]) / (ts[-1] - ts[-2])
            return math.exp(logs[-1] + slope * (t - ts[-1]))
        return math.exp(float(np.interp(t, ts, logs)))

    def _bracket(self, t: float) -> tuple[SurfaceSlice, SurfaceSlice | None, float]:
        """The slices around t and the weight on the first (second slice None outside the range)."""
        ts = [s.t for s in self.slices]
        i = bisect.bisect_left(ts, t)
        if i == 0:
            return self.slices[0], None, t / ts[0]
        if i == len(ts):
            return self.slices[-1], None, t / ts[-1]
        lo, hi = self.slices[i - 1], self.slices[i]
        return lo, hi, (hi.t - t) / (hi.t - lo.t)

    def w_derivatives(self, k: ArrayLike, t: float) -> tuple[Array, Array, Array]:
        """Total variance and its first two k-derivatives at time t."""
        first, second, weight = self._bracket(t)
        p = first.params
        w = np.array(svi.derivatives(p.a, p.b, p.rho, p.m, p.sigma, k))
        if second is None:
            out = w * weight
        else:
            q = second.params
            out = weight * w + (1.0 - weight) * np.array(svi.derivatives(q.a, q.b, q.rho, q.m, q.sigma, k))
        return out[0], out[1], out[2]

    def implied_vol(self, strike: ArrayLike, t: float) -> Array:
        k = np.log(np.asarray(strike, dtype=float) / self.forward(t))
        w, _, _ = self.w_derivatives(k, t)
        return np.sqrt(np.maximum(w, 0.0) / t)

    def atm_vol(self, t: float) -> float:
        return float(self.implied_vol(self.forward(t), t))
