"""Fit every expiry of one underlying without static arbitrage: independent fits, then repairs.

1. All slices are fitted at once, each with the butterfly penalty only (fit.fit_slices).
2. Calendar repair, longest to shortest: when w_{i+1}(k) < w_i(k) somewhere on the dense check grid,
   two refits are tried in one batch: slice i capped by w_{i+1} (its pair with i-1 is checked next,
   so a cap can cascade to shorter expiries), or slice i+1 bounded by [w_i, w_{i+2}] (keeps the
   already checked pair i+1, i+2 valid). The refit that passes the dense checks with the smaller rise
   in vega-weighted RMSE wins: usually the slice whose violating wing is extrapolated, not quoted.
   If neither passes, both are retried on a 10x denser penalty grid.
3. Butterfly verification: a slice with g < 0 anywhere on the dense grid is refitted within its
   calendar bounds on the denser penalty grid.
What remains after that is reported by the checks, never hidden.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from oracle_node.options import arbitrage
from oracle_node.options.fit import FitConfig, SliceFit, SliceProblem, fit_slices
from oracle_node.options.market import MarketSmile
from oracle_node.options.metrics import quality
from oracle_node.options.svi import SviParams

DENSE_FACTOR = 10


def _params(fits: Sequence[SliceFit], i: int) -> SviParams | None:
    return fits[i].params if 0 <= i < len(fits) else None


def _problem(smiles: Sequence[MarketSmile], fits: Sequence[SliceFit], i: int, below: bool) -> SliceProblem:
    lower = _params(fits, i - 1) if below else None
    k_range = _k_range(smiles)
    return SliceProblem(
        smiles[i], lower=lower, upper=_params(fits, i + 1), start=fits[i].params, k_range=k_range
    )


def _k_range(smiles: Sequence[MarketSmile]) -> tuple[float, float]:
    return min(float(s.k.min()) for s in smiles), max(float(s.k.max()) for s in smiles)


def _clean(
    fits: list[SliceFit], smiles: Sequence[MarketSmile], i: int, below: bool, grid: arbitrage.Array
) -> bool:
    """Slice i passes the dense butterfly/parameter checks and its calendar checks (with i-1 if `below`)."""
    p = fits[i].params
    if not arbitrage.check_slice(p, smiles[i].t, grid).ok:
        return False
    left = i == 0 or not below or arbitrage.check_calendar(fits[i - 1].params, p, grid).ok
    return left and (i == len(fits) - 1 or arbitrage.check_calendar(p, fits[i + 1].params, grid).ok)


Option = tuple[int, bool]  # (slice to refit, keep its lower calendar bound)


def _try(
    smiles: Sequence[MarketSmile],
    fits: list[SliceFit],
    options: Sequence[Option],
    cfg: FitConfig,
    grid: arbitrage.Array,
) -> list[SliceFit] | None:
    """Refit each option's slice within its bounds; keep the clean one with the smallest RMSE rise."""
    refits = fit_slices([_problem(smiles, fits, i, below) for i, below in options], cfg)
    best: tuple[float, list[SliceFit]] | None = None
    for (i, below), raw in zip(options, refits, strict=True):
        refit = dataclasses.replace(raw, fit_ms=raw.fit_ms + fits[i].fit_ms)
        trial = [*fits[:i], refit, *fits[i + 1 :]]
        if not _clean(trial, smiles, i, below, grid):
            continue
        rise = quality(smiles[i], refit.params).rmse_vol_pts - quality(smiles[i], fits[i].params).rmse_vol_pts
        if best is None or rise < best[0]:
            best = (rise, trial)
    return None if best is None else best[1]


def _repair(
    smiles: Sequence[MarketSmile],
    fits: list[SliceFit],
    options: Sequence[Option],
    cfg: FitConfig,
    grid: arbitrage.Array,
) -> list[SliceFit]:
    light = dataclasses.replace(cfg, m_points=5, s_points=5, zoom_points=3, zoom_rounds=5)
    dense = dataclasses.replace(cfg, penalty_points=cfg.penalty_points * DENSE_FACTOR)
    for config in (light, cfg, dense):
        repaired = _try(smiles, fits, options, config, grid)
        if repaired is not None:
            return repaired
    return fits


def fit_expiries(smiles: Sequence[MarketSmile], cfg: FitConfig) -> list[SliceFit]:
    """Fit slices sorted by expiry; returns one SliceFit per smile, in the same order."""
    k_range = _k_range(smiles)
    fits = fit_slices([SliceProblem(s, k_range=k_range) for s in smiles], cfg)
    grid = arbitrage.check_grid(*k_range)
    for i in reversed(range(len(fits) - 1)):
        if not arbitrage.check_calendar(fits[i].params, fits[i + 1].params, grid).ok:
            fits = _repair(smiles, fits, ((i, False), (i + 1, True)), cfg, grid)
    for i in range(len(fits)):
        if not arbitrage.check_slice(fits[i].params, smiles[i].t, grid).ok:
            fits = _repair(smiles, fits, ((i, True),), cfg, grid)
    return fits
