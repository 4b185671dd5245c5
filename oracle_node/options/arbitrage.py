"""Static no-arbitrage checks of published SVI slices (they check; fit.py and calendar.py enforce).

- Butterfly: Gatheral-Jacquier g(k) >= 0 on a dense grid (step 0.001) over the quoted range and at
  least k in [-1.5, 1.5], plus 201 points within +-10 sigma of m (where a narrow smile bends).
- Calendar: total variance non-decreasing in T at every k of that grid, between consecutive expiries.
- Parameters (what the contracts will check): b >= 0, |rho| < 1, sigma > 0,
  a + b sigma sqrt(1 - rho^2) >= 0 and Lee's wing bound b (1 + |rho|) <= 4/T.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from oracle_node.options.svi import SviParams

Array = NDArray[np.float64]
K_WIDE = 1.5
STEP = 0.001


def check_grid(k_lo: float = -K_WIDE, k_hi: float = K_WIDE) -> Array:
    """Dense uniform grid covering [k_lo, k_hi] and at least [-1.5, 1.5]."""
    lo, hi = min(-K_WIDE, k_lo), max(K_WIDE, k_hi)
    return np.linspace(lo, hi, round((hi - lo) / STEP) + 1)


def butterfly_points(params: SviParams, grid: Array) -> Array:
    local = params.m + params.sigma * np.linspace(-10.0, 10.0, 201)
    return np.concatenate([grid, local[(local > grid[0]) & (local < grid[-1])]])


@dataclass(frozen=True, slots=True)
class SliceCheck:
    """Violations of one slice: grid points with g < 0, the smallest g, and parameter problems."""

    butterfly_points: int
    min_g: float
    parameter_problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.butterfly_points == 0 and not self.parameter_problems


def parameter_problems(p: SviParams, t: float) -> tuple[str, ...]:
    problems = []
    if not p.b >= 0.0:
        problems.append(f"b = {p.b} < 0")
    if not abs(p.rho) < 1.0:
        problems.append(f"|rho| = {abs(p.rho)} >= 1")
    if not p.sigma > 0.0:
        problems.append(f"sigma = {p.sigma} <= 0")
    if not p.min_total_variance >= 0.0:
        problems.append(f"min total variance {p.min_total_variance} < 0")
    if not p.wing_slope <= 4.0 / t:
        problems.append(f"b(1+|rho|) = {p.wing_slope} > 4/T = {4.0 / t}")
    if not all(math.isfinite(x) for x in (p.a, p.b, p.rho, p.m, p.sigma)):
        problems.append("non-finite parameter")
    return tuple(problems)


def check_slice(p: SviParams, t: float, grid: Array) -> SliceCheck:
    g = p.g(butterfly_points(p, grid))
    return SliceCheck(int(np.sum(~(g >= 0.0))), float(np.min(g)), parameter_problems(p, t))


@dataclass(frozen=True, slots=True)
class CalendarCheck:
    """Grid points where the longer expiry's total variance is below the shorter one's."""

    points: int
    min_gap: float  # min over k of w_long(k) - w_short(k)

    @property
    def ok(self) -> bool:
        return self.points == 0


def check_calendar(short: SviParams, long: SviParams, grid: Array) -> CalendarCheck:
    gap = long.total_variance(grid) - short.total_variance(grid)
    return CalendarCheck(int(np.sum(~(gap >= 0.0))), float(np.min(gap)))


def count_violations(params: Sequence[SviParams], ts: Sequence[float], grid: Array) -> int:
    """Total butterfly points, calendar points and parameter problems over a sorted list of slices."""
    total = sum(
        c.butterfly_points + len(c.parameter_problems) for c in map(check_slice, params, ts, [grid] * len(ts))
    )
    return total + sum(check_calendar(a, b, grid).points for a, b in itertools.pairwise(params))
