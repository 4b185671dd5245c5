"""Static no-arbitrage checks of published SVI slices (they check; fit.py and calendar.py enforce).

- Butterfly: Gatheral-Jacquier g(k) >= 0 on a dense grid (step 0.001) over the quoted range and at
  least k in [-1.5, 1.5], plus 201 points within +-10 sigma of m (where a narrow smile bends).
- Calendar: total variance non-decreasing in T at every k of that grid, between consecutive expiries.
- Parameters (what the contracts will check): b >= 0, |rho| < 1, sigma > 0,
  a + b sigma sqrt(1 - rho^2) >= 0 and Lee's wing bound b (1 + |rho|) <= 4/T.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from oracle_node.options import svi
from oracle_node.options.svi import SviParams

Array = NDArray[np.float64]
K_WIDE = 1.5
STEP = 0.001


@functools.lru_cache(maxsize=64)
def check_grid(k_lo: float = -K_WIDE, k_hi: float = K_WIDE) -> Array:
    """Dense uniform grid covering [k_lo, k_hi] and at least [-1.5, 1.5] (cached, read-only)."""
    lo, hi = min(-K_WIDE, k_lo), max(K_WIDE, k_hi)
    grid = np.linspace(lo, hi, round((hi - lo) / STEP) + 1)
    grid.flags.writeable = False
    return grid


_LOCAL = np.linspace(-10.0, 10.0, 201)


def butterfly_points(params: SviParams, grid: Array) -> Array:
    local = params.m + params.sigma * _LOCAL
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


def param_rows(params: Sequence[SviParams]) -> Array:
    """(S, 5) array of (a, b, rho, m, sigma)."""
    return np.array([(p.a, p.b, p.rho, p.m, p.sigma) for p in params], dtype=float).reshape(-1, 5)


def _columns(rows: Array) -> tuple[Array, ...]:
    return tuple(rows[:, i, None] for i in range(5))


def butterfly_counts(rows: Array, grid: Array) -> tuple[Array, Array]:
    """Vectorised `check_slice` butterfly part for S slices: (violating points, min g), each (S,)."""
    a, b, rho, m, sig = _columns(rows)
    local = m + sig * _LOCAL  # (S, 201); points outside the grid do not count (as in butterfly_points)
    g_grid = svi.density_factor(a, b, rho, m, sig, grid[None, :])
    g_local = svi.density_factor(a, b, rho, m, sig, local)
    inside = (local > grid[0]) & (local < grid[-1])
    bad = np.sum(~(g_grid >= 0.0), axis=1) + np.sum(inside & ~(g_local >= 0.0), axis=1)
    low = np.minimum(np.min(g_grid, axis=1), np.min(np.where(inside, g_local, np.inf), axis=1))
    return bad, low


def calendar_gaps(short: Array, long: Array, grid: Array) -> Array:
    """w_long(k) - w_short(k) on the grid for rows of slice pairs: (P, n)."""
    return svi.total_variance(*_columns(long), grid[None, :]) - svi.total_variance(
        *_columns(short), grid[None, :]
    )


def check_slices(params: Sequence[SviParams], ts: Sequence[float], grid: Array) -> list[SliceCheck]:
    """`check_slice` for many slices at once (same results)."""
    bad, low = butterfly_counts(param_rows(params), grid)
    return [
        SliceCheck(int(n), float(g), parameter_problems(p, t))
        for n, g, p, t in zip(bad, low, params, ts, strict=True)
    ]


def check_calendars(params: Sequence[SviParams], grid: Array) -> list[CalendarCheck]:
    """`check_calendar` for every consecutive pair of a sorted list of slices (same results)."""
    if len(params) < 2:
        return []
    rows = param_rows(params)
    gap = calendar_gaps(rows[:-1], rows[1:], grid)
    return [
        CalendarCheck(int(n), float(g))
        for n, g in zip(np.sum(~(gap >= 0.0), axis=1), np.min(gap, axis=1), strict=True)
    ]


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
