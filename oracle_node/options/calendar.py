"""Fit every expiry of every underlying without static arbitrage: one joint fit, then batched repairs.

1. All slices of all underlyings are fitted in one batch (fit.fit_slices), butterfly penalty only.
2. Repair passes. On the dense check grid, every consecutive pair (i, i+1) of an underlying with
   w_{i+1}(k) < w_i(k) somewhere proposes refits of both slices, and every slice with g < 0 (or a
   broken parameter rule) a refit of itself, on a 10x denser penalty grid (the coarse grid of the
   first fit missed that dip). Refits are warm-started from the current fit and carry their
   neighbours' w(k) as calendar bounds inside the QP: rows at both grid ends and at the k where the
   current fit, or an earlier rejected refit, crossed most (a crossing near the money); other
   interior crossings are left to the penalty. The shorter slice is capped by w_{i+1} (with and
   without the floor w_{i-1}), the longer one bounded by [w_i, w_{i+2}]; a proposal whose floor lies
   above its cap somewhere is skipped (no clean refit exists). All proposals of all underlyings are
   solved in one batch per search level.
3. Then, longest pair first, a violating pair takes the refit that passes the dense checks at the
   least cost: its rise in vega-weighted RMSE, plus CASCADE_COST (0.1 vol points) if it breaks the
   pair below (a cap may cascade to shorter expiries; the next pass repairs them). A refit must fix
   its pair, keep its butterfly clean and keep its longer neighbour's pair clean. (A strict
   preference for refits that break nothing once flattened a quoted slice by +3.5 vol points to
   spare a cheap cascade.)
4. Each underlying repeats passes on a light search while they take refits; a pass that takes none
   moves it to the full search, then to the denser penalty grid; at most MAX_PASSES passes.
What remains after the last pass is reported by the checks, never hidden.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from oracle_node.options import arbitrage, svi
from oracle_node.options.fit import FitConfig, SliceFit, SliceProblem, fit_slices
from oracle_node.options.market import MarketSmile
from oracle_node.options.metrics import rmse_vol_pts
from oracle_node.options.svi import SviParams

DENSE_POINTS = 610  # 10x the default penalty grid
MAX_PASSES = 10
MAX_BOUND_POINTS = 3  # crossing points per slice that enter its repair QP as calendar rows
CASCADE_COST = 0.1  # vol points of RMSE rise that a refit breaking the pair below must save to win


@dataclass(frozen=True, slots=True)
class _Proposal:
    group: int
    slice: int
    floor: bool  # bounded below by the shorter neighbour
    cap: bool  # bounded above by the longer neighbour
    dense: bool = False  # butterfly repair: the coarse penalty grid missed it, so search on a denser one


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A fit with its total variance on the check grid and whether it passes the slice checks."""

    fit: SliceFit
    w: NDArray[np.float64]  # (n,) on the underlying's check grid
    ok: bool  # butterfly g >= 0 on the dense points and every parameter rule


class _Surfaces:
    """Current fits of every underlying, with their total variance on the check grids (cached)."""

    def __init__(self, groups: Sequence[Sequence[MarketSmile]], fits: list[list[SliceFit]]) -> None:
        self.groups = groups
        self.k_ranges = [k_range(g) for g in groups]
        self.grids = [arbitrage.check_grid(*kr) for kr in self.k_ranges]
        self.current = [self.candidates(g, list(range(len(f))), f) for g, f in enumerate(fits)]
        self.crossings: dict[tuple[int, int], list[float]] = {}

    def candidates(self, g: int, slices: Sequence[int], fits: Sequence[SliceFit]) -> list[_Candidate]:
        """Grid total variance and slice checks of fits for group g's slices, in one vectorised pass."""
        if not fits:
            return []
        rows = arbitrage.param_rows([f.params for f in fits])
        bad, _ = arbitrage.butterfly_counts(rows, self.grids[g])
        w = svi.total_variance(*(rows[:, j, None] for j in range(5)), self.grids[g][None, :])
        return [
            _Candidate(
                f, w[j], bad[j] == 0 and not arbitrage.parameter_problems(f.params, self.groups[g][i].t)
            )
            for j, (i, f) in enumerate(zip(slices, fits, strict=True))
        ]

    def params(self, g: int, i: int) -> SviParams | None:
        return self.current[g][i].fit.params if 0 <= i < len(self.current[g]) else None

    def w(self, g: int, i: int) -> NDArray[np.float64] | None:
        return self.current[g][i].w if 0 <= i < len(self.current[g]) else None

    def bad_pairs(self, g: int) -> list[int]:
        return [
            i for i in range(len(self.current[g]) - 1) if not self.pair_ok(self.w(g, i), self.w(g, i + 1))
        ]

    def bad_slices(self, g: int) -> list[int]:
        return [i for i, c in enumerate(self.current[g]) if not c.ok]

    @staticmethod
    def pair_ok(short: NDArray[np.float64] | None, long: NDArray[np.float64] | None) -> bool:
        """w_long(k) >= w_short(k) at every grid point (as arbitrage.check_calendar)."""
        return short is None or long is None or bool(np.all(long - short >= 0.0))

    def bounds_consistent(self, p: _Proposal) -> bool:
        """A floor above the cap anywhere on the grid leaves no clean refit: not worth a QP."""
        if not (p.floor and p.cap):
            return True
        return self.pair_ok(self.w(p.group, p.slice - 1), self.w(p.group, p.slice + 1))

    def worst_crossing(self, p: _Proposal, w: NDArray[np.float64]) -> float | None:
        """The grid k where total variance w crosses the proposal's bounds most (None if nowhere)."""
        g, i = p.group, p.slice
        gap = np.full(w.shape, np.inf)
        if p.cap and (up := self.w(g, i + 1)) is not None:
            gap = np.minimum(gap, up - w)
        if p.floor and (lo := self.w(g, i - 1)) is not None:
            gap = np.minimum(gap, w - lo)
        j = int(np.argmin(gap))
        return float(self.grids[g][j]) if gap[j] < 0.0 else None

    def remember(self, p: _Proposal, cand: _Candidate) -> None:
        """Keep where a rejected refit crossed its bounds: the next pass's QP gets a row there."""
        k = self.worst_crossing(p, cand.w)
        seen = self.crossings.setdefault((p.group, p.slice), [])
        if k is not None and k not in seen:
            seen.append(k)
            del seen[:-MAX_BOUND_POINTS]

    def problem(self, p: _Proposal) -> SliceProblem:
        g, i = p.group, p.slice
        return SliceProblem(
            self.groups[g][i],
            lower=self.params(g, i - 1) if p.floor else None,
            upper=self.params(g, i + 1) if p.cap else None,
            start=self.current[g][i].fit.params,
            k_range=self.k_ranges[g],
            k_bounds=self.bound_points(p),
        )

    def bound_points(self, p: _Proposal) -> tuple[float, ...]:
        w = self.w(p.group, p.slice)
        assert w is not None
        now = self.worst_crossing(p, w)
        seen = self.crossings.get((p.group, p.slice), [])
        points = [*seen, *([] if now is None or now in seen else [now])]
        return tuple(points[-MAX_BOUND_POINTS:])


def k_range(smiles: Sequence[MarketSmile]) -> tuple[float, float]:
    """The quoted range of all expiries of one underlying (the checks cover at least [-1.5, 1.5])."""
    return min(float(s.k.min()) for s in smiles), max(float(s.k.max()) for s in smiles)


def _proposals(state: _Surfaces) -> tuple[list[_Proposal], dict[int, list[int]], dict[int, list[int]]]:
    props: set[_Proposal] = set()
    pairs, slices = {}, {}
    for g in range(len(state.current)):
        pairs[g], slices[g] = state.bad_pairs(g), state.bad_slices(g)
        bad = set(pairs[g])
        for i in pairs[g]:
            props.add(_Proposal(g, i + 1, floor=True, cap=True))
            props.add(_Proposal(g, i, floor=False, cap=True))
            if i > 0 and i - 1 not in bad:
                props.add(_Proposal(g, i, floor=True, cap=True))
        props.update(_Proposal(g, i, floor=True, cap=True, dense=True) for i in slices[g])
    feasible = [p for p in props if state.bounds_consistent(p)]
    return sorted(feasible, key=lambda p: (p.group, p.slice, p.floor, p.cap, p.dense)), pairs, slices


def _verdict(state: _Surfaces, prop: _Proposal, cand: _Candidate, pair: int | None) -> int | None:
    """0 = clean and breaks nothing, 1 = clean but breaks the pair below, None = rejected."""
    g, i = prop.group, prop.slice
    if not cand.ok:
        return None
    w_lo, w_now, w_hi = state.w(g, i - 1), state.w(g, i), state.w(g, i + 1)
    below_was, above_was = state.pair_ok(w_lo, w_now), state.pair_ok(w_now, w_hi)
    below, above = state.pair_ok(w_lo, cand.w), state.pair_ok(cand.w, w_hi)
    if (pair == i and not above) or (pair == i - 1 and not below) or (above_was and not above):
        return None
    if pair is None and below_was and not below:
        return None
    return 0 if below or not below_was else 1


def _accept(
    state: _Surfaces, refits: dict[_Proposal, _Candidate], g: int, pair: int | None, slice_i: int
) -> bool:
    """Replace one slice of group g by its best acceptable refit (pair: the violating pair, or None)."""
    targets = (pair, pair + 1) if pair is not None else (slice_i,)
    best: tuple[float, int, _Proposal, _Candidate] | None = None
    for prop, cand in refits.items():
        if prop.group != g or prop.slice not in targets:
            continue
        verdict = _verdict(state, prop, cand, pair)
        if verdict is None:
            state.remember(prop, cand)
            continue
        smile = state.groups[g][prop.slice]
        now = state.current[g][prop.slice].fit.params
        rise = rmse_vol_pts(smile, cand.fit.params) - rmse_vol_pts(smile, now)
        cost = rise + CASCADE_COST * verdict
        if best is None or (cost, verdict) < best[:2]:
            best = (cost, verdict, prop, cand)
    if best is None:
        return False
    state.current[g][best[2].slice] = best[3]
    return True


def _refit(
    state: _Surfaces, props: list[_Proposal], configs: Sequence[FitConfig]
) -> dict[_Proposal, _Candidate]:
    """Refit every proposal with its group's search (butterfly repairs on the denser penalty grid)."""
    batches: dict[FitConfig, list[_Proposal]] = {}
    for p in props:
        cfg = configs[p.group]
        if p.dense:
            cfg = dataclasses.replace(cfg, penalty_points=max(cfg.penalty_points, DENSE_POINTS))
        batches.setdefault(cfg, []).append(p)
    fits: dict[_Proposal, SliceFit] = {}
    for cfg, batch in batches.items():
        fits.update(zip(batch, fit_slices([state.problem(p) for p in batch], cfg), strict=True))
    out: dict[_Proposal, _Candidate] = {}
    for g in range(len(state.current)):
        mine = [p for p in fits if p.group == g]
        out.update(
            zip(mine, state.candidates(g, [p.slice for p in mine], [fits[p] for p in mine]), strict=True)
        )
    return out


def _pass(state: _Surfaces, configs: Sequence[FitConfig], active: Sequence[bool]) -> list[str]:
    """One repair pass over the active groups; per group "clean" (nothing to repair), "progress"
    (a refit was taken) or "stuck"."""
    props, pairs, slices = _proposals(state)
    refits = _refit(state, [p for p in props if active[p.group]], configs)
    outcomes = []
    for g in range(len(state.current)):
        if not pairs[g] and not slices[g]:
            outcomes.append("clean")
            continue
        taken = False
        for i in reversed(pairs[g]):
            if active[g] and not state.pair_ok(state.w(g, i), state.w(g, i + 1)):
                taken = _accept(state, refits, g, i, i) or taken
        for i in slices[g]:
            if active[g] and not state.current[g][i].ok:
                taken = _accept(state, refits, g, None, i) or taken
        outcomes.append("progress" if taken else "stuck")
    return outcomes


def _levels(cfg: FitConfig) -> list[FitConfig]:
    """Repair searches, cheapest first: a light grid, the full grid, the full grid on a 10x denser
    penalty grid."""
    light = dataclasses.replace(cfg, m_points=5, s_points=5, zoom_points=3, zoom_rounds=5)
    dense = dataclasses.replace(cfg, penalty_points=max(cfg.penalty_points, DENSE_POINTS))
    return [light, cfg, dense]


def _repair(state: _Surfaces, cfg: FitConfig) -> None:
    """Repair passes until clean, each underlying on its own: a pass that takes no refit moves it to
    the next, costlier search; at most MAX_PASSES passes (one batch per pass for all underlyings)."""
    levels = _levels(cfg)
    level = [0] * len(state.current)
    active = [True] * len(state.current)
    for _ in range(MAX_PASSES):
        outcomes = _pass(state, [levels[x] for x in level], active)
        for g, outcome in enumerate(outcomes):
            if outcome == "clean" or (outcome == "stuck" and level[g] == len(levels) - 1):
                active[g] = False
            elif outcome == "stuck":
                level[g] += 1
        if not any(active):
            return


def fit_surfaces(groups: Sequence[Sequence[MarketSmile]], cfg: FitConfig) -> list[list[SliceFit]]:
    """Fit every group's slices (each group one underlying, sorted by expiry); one SliceFit per smile."""
    started = time.perf_counter()
    problems = [SliceProblem(s, k_range=k_range(g)) for g in groups for s in g]
    flat = fit_slices(problems, cfg)
    fits, at = [], 0
    for g in groups:
        fits.append(flat[at : at + len(g)])
        at += len(g)
    state = _Surfaces(groups, fits)
    _repair(state, cfg)
    share = (time.perf_counter() - started) * 1e3 / max(len(problems), 1)
    return [[dataclasses.replace(c.fit, fit_ms=share) for c in g] for g in state.current]


def fit_expiries(smiles: Sequence[MarketSmile], cfg: FitConfig) -> list[SliceFit]:
    """Fit the slices of one underlying sorted by expiry; one SliceFit per smile, in the same order."""
    return fit_surfaces([smiles], cfg)[0]
