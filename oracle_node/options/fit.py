"""Fit raw SVI to expiries: quasi-explicit inner QP for (a, d, c), grid + zoom search for (m, sigma).

For fixed (m, sigma) the total variance `w = a + d y + c sqrt(y^2+1)` is linear in p = (a, d, c)
(Zeliade 2009), so the weighted least squares on the quotes' total variance is a 3-variable convex
QP. Its linear constraints keep the parameters inside what the contracts will check:

- |rho| <= 1 - 1e-3:                 (1-eps) c -+ d >= 0  (so c = b sigma >= 0 and b >= 0)
- wing slopes b(1 +- rho) <= lambda:  lambda sigma - c -+ d >= 0, lambda = min(2, 4/T): Lee's moment
  bound on total variance (slope <= 2), which implies the on-chain check b(1+|rho|) <= 4/T
- min total variance > 0:            a + c -+ d >= eps_w, a linear sufficient condition since
  sqrt(c^2 - d^2) >= c - |d| when |d| <= c.

The (m, sigma) search scores every candidate of a grid, then zooms around each slice's best one.
No-arbitrage enters the score lexicographically: a candidate with g(k) < margin (butterfly) or w(k)
outside its calendar bounds (the neighbouring expiries' w(k)) on the penalty grid loses to any
candidate without violations; among violators the smaller squared violation wins. Everything is
vectorised over slices x candidates, so a whole chain is one NumPy pass per search round.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from oracle_node.options import qp, svi
from oracle_node.options.market import MarketSmile, WeightConfig
from oracle_node.options.svi import SviParams

Array = NDArray[np.float64]
RHO_EPS = 1e-3
W_EPS = 1e-10
G_MARGIN = 1e-4  # butterfly: require g >= this on the penalty grid
CAL_MARGIN = 1e-6  # calendar: require lower (1 + this) <= w <= (1 - this) upper on the penalty grid
K_WIDE = 1.5  # no-arbitrage is enforced at least on k in [-1.5, 1.5]
_Y_LOCAL = np.linspace(-6.0, 6.0, 49)  # extra penalty points around m, in units of sigma
_C = np.array(
    [
        [0.0, -1.0, 1.0 - RHO_EPS],
        [0.0, 1.0, 1.0 - RHO_EPS],
        [0.0, -1.0, -1.0],
        [0.0, 1.0, -1.0],
        [1.0, -1.0, 1.0],
        [1.0, 1.0, 1.0],
    ]
)


@dataclass(frozen=True, slots=True)
class FitConfig:
    weights: WeightConfig = field(default_factory=WeightConfig)
    m_points: int = 9
    s_points: int = 9
    s_range: tuple[float, float] = (0.05, 4.0)  # sigma grid, in units of sqrt(median total variance)
    m_range: float = 1.5  # m grid half-width, same units
    zoom_rounds: int = 4
    zoom_points: int = 5
    penalty_points: int = 61
    screen: int = 8  # candidates per slice and round whose no-arbitrage penalty is computed
    ridge: float = 1e-10


@dataclass(frozen=True, slots=True)
class SliceProblem:
    """One expiry to fit, with its calendar bounds (None = unbounded) and an optional warm start."""

    smile: MarketSmile
    lower: SviParams | None = None
    upper: SviParams | None = None
    start: SviParams | None = None
    k_range: tuple[float, float] = (-1.5, 1.5)  # no-arbitrage range (widened to the quotes)
    k_bounds: tuple[float, ...] = ()  # more k where calendar bounds enter the QP (known crossings)


@dataclass(frozen=True, slots=True)
class SliceFit:
    params: SviParams
    sse: float  # weighted mean squared total-variance residual
    penalty: float  # squared no-arbitrage violation on the penalty grid (0 when clean)
    candidates: int
    fit_ms: float = 0.0  # share of its batch's wall time (fit_surfaces: of the joint fit)


def lee_slope(t: Array) -> Array:
    return np.minimum(2.0, 4.0 / t)


@dataclass(frozen=True, slots=True)
class _Batch:
    """Padded per-slice arrays (S slices, n quotes; padding has weight 0)."""

    k: Array
    w: Array
    wt: Array
    t: Array
    scale: Array
    k_grid: Array
    lower: Array  # (S, 5) SVI parameters, NaN = none
    upper: Array
    bound_k: Array  # (S, 2 + E) where calendar bounds are QP rows: both grid ends and k_bounds (NaN pads)

    @classmethod
    def build(cls, problems: Sequence[SliceProblem], cfg: FitConfig) -> _Batch:
        n = max(p.smile.size for p in problems)
        shape = (len(problems), n)
        k, w, wt = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        for i, p in enumerate(problems):
            sm = p.smile
            k[i, : sm.size], w[i, : sm.size], wt[i, : sm.size] = sm.k, sm.w_mid, sm.w_weights(cfg.weights)
        return cls(
            k=k,
            w=w,
            wt=wt,
            t=np.array([p.smile.t for p in problems]),
            scale=np.array([np.sqrt(np.median(p.smile.w_mid)) for p in problems]),
            k_grid=(
                grid := np.stack([penalty_grid(p.smile, cfg.penalty_points, p.k_range) for p in problems])
            ),
            lower=_param_rows([p.lower for p in problems]),
            upper=_param_rows([p.upper for p in problems]),
            bound_k=_bound_points(grid, problems),
        )


def _bound_points(grid: Array, problems: Sequence[SliceProblem]) -> Array:
    extra = max(len(p.k_bounds) for p in problems)
    pts = np.full((len(problems), 2 + extra), np.nan)
    pts[:, 0], pts[:, 1] = grid[:, 0], grid[:, -1]
    for i, p in enumerate(problems):
        pts[i, 2 : 2 + len(p.k_bounds)] = p.k_bounds
    return pts


def _param_rows(params: Sequence[SviParams | None]) -> Array:
    nan = (np.nan,) * 5
    return np.array([nan if p is None else (p.a, p.b, p.rho, p.m, p.sigma) for p in params], dtype=float)


def penalty_grid(smile: MarketSmile, points: int, k_range: tuple[float, float] = (-K_WIDE, K_WIDE)) -> Array:
    lo = min(-K_WIDE, k_range[0], float(smile.k.min()))
    hi = max(K_WIDE, k_range[1], float(smile.k.max()))
    return np.linspace(lo, hi, points)


def _normal_equations(b: _Batch, m: Array, s: Array, ridge: float) -> tuple[Array, Array]:
    """Weighted normal equations of w ~ a + d y + c r for every candidate: (S, G, 3, 3), (S, G, 3)."""
    y, r = svi.quasi_basis(b.k[:, None, :], m[..., None], s[..., None])  # (S, G, n)
    n_s, n_g = m.shape
    feats = np.concatenate([y, r, y * y, y * r], axis=1)  # (S, 4G, n)
    sums = feats @ np.stack([b.wt, b.wt * b.w], axis=-1)  # (S, 4G, 2)
    sy, sr, syy, syr = (sums[:, i * n_g : (i + 1) * n_g, 0] for i in range(4))
    by, br = sums[:, :n_g, 1], sums[:, n_g : 2 * n_g, 1]
    s1 = np.broadcast_to(b.wt.sum(axis=1)[:, None], (n_s, n_g))
    sw = np.broadcast_to((b.wt * b.w).sum(axis=1)[:, None], (n_s, n_g))
    row0, row1, row2 = (np.stack(x, axis=-1) for x in ((s1, sy, sr), (sy, syy, syr), (sr, syr, syy + s1)))
    a = np.stack([row0, row1, row2], axis=-2) + ridge * np.eye(3)
    return a, np.stack([sw, by, br], axis=-1)


def _calendar_rows(b: _Batch, m: Array, s: Array) -> tuple[Array, Array]:
    """Calendar bounds at each slice's bound points as QP rows (S, G, q, 3) and h (S, G, q).

    Upper: -w(k_e) >= -(1 - margin) w_up(k_e); lower: w(k_e) >= (1 + margin) w_lo(k_e). A slice without
    a bound (or a point) gets zero rows with h = -1 (always slack). The wings are linear, so a crossing
    between two slices is widest at the grid ends; the other points are where a repair's start or an
    earlier refit crossed its bound most (near the money, where the ends say nothing); other interior
    crossings are left to the penalty.
    """
    pts = b.bound_k  # (S, P)
    y, r = svi.quasi_basis(pts[:, None, :], m[..., None], s[..., None])  # (S, G, P)
    basis = np.stack([np.ones_like(y), y, r], axis=-1)  # (S, G, P, 3)
    with np.errstate(invalid="ignore"):
        up, lo = _bound_w(b.upper, pts[:, None, :])[:, 0], _bound_w(b.lower, pts[:, None, :])[:, 0]  # (S, P)
    has_up, has_lo = np.isfinite(up), np.isfinite(lo)
    rows = np.concatenate(
        [np.where(has_up[:, None, :, None], -basis, 0.0), np.where(has_lo[:, None, :, None], basis, 0.0)],
        axis=2,
    )
    h_up = np.where(has_up, -(1.0 - CAL_MARGIN) * up, -1.0)
    h_lo = np.where(has_lo, (1.0 + CAL_MARGIN) * lo, -1.0)
    h = np.broadcast_to(np.concatenate([h_up, h_lo], axis=1)[:, None, :], (*m.shape, h_up.shape[1] * 2))
    used = np.concatenate([has_up.any(axis=0), has_lo.any(axis=0)])  # drop all-slack rows
    return rows[:, :, used], h[..., used]


def _solve_inner(b: _Batch, m: Array, s: Array, ridge: float) -> tuple[Array, Array]:
    """Best (a, d, c) and weighted SSE for candidates m, s of shape (S, G)."""
    a, rhs = _normal_equations(b, m, s, ridge)
    lam_s = lee_slope(b.t)[:, None] * s
    zero = np.zeros_like(s)
    h = np.stack([zero, zero, -lam_s, -lam_s, zero + W_EPS, zero + W_EPS], axis=-1)
    c = _C
    if not (np.all(np.isnan(b.upper)) and np.all(np.isnan(b.lower))):
        rows, h_cal = _calendar_rows(b, m, s)
        c = np.concatenate([np.broadcast_to(_C, (*m.shape, *_C.shape)), rows], axis=2).reshape(
            -1, 6 + rows.shape[2], 3
        )
        h = np.concatenate([h, h_cal], axis=-1)
    p, f = qp.solve_batch(a.reshape(-1, 3, 3), rhs.reshape(-1, 3), c, h.reshape(-1, c.shape[-2]))
    sse = 2.0 * f.reshape(m.shape) + np.sum(b.wt * b.w * b.w, axis=1)[:, None]
    return p.reshape(*m.shape, 3), sse


def _bound_w(rows: Array, k: Array) -> Array:
    a, bb, rho, m, sig = (rows[:, i, None, None] for i in range(5))
    return svi.total_variance(a, bb, rho, m, sig, k)


def _penalty(b: _Batch, p: Array, m: Array, s: Array) -> Array:
    """Squared butterfly and calendar violations of each candidate (S, G)."""
    grid = np.broadcast_to(b.k_grid[:, None, :], (*m.shape, b.k_grid.shape[1]))
    k = np.concatenate([grid, m[..., None] + s[..., None] * _Y_LOCAL], axis=-1)  # (S, G, nk)
    a, d, c = (p[..., i, None] for i in range(3))
    w, w1, w2 = svi.quasi_derivatives(a, d, c, m[..., None], s[..., None], k)
    g = svi.g_from_w(k, w, w1, w2)
    bad = np.sum(np.minimum(np.maximum(G_MARGIN - g, 0.0), 1e6) ** 2, axis=-1)
    with np.errstate(invalid="ignore"):
        if not np.all(np.isnan(b.upper)):
            up = _bound_w(b.upper, k)
            bad += np.sum(np.nan_to_num(np.maximum(w - (1.0 - CAL_MARGIN) * up, 0.0) / up) ** 2, axis=-1)
        if not np.all(np.isnan(b.lower)):
            lo = _bound_w(b.lower, k)
            bad += np.sum(
                np.nan_to_num(np.maximum((1.0 + CAL_MARGIN) * lo - w, 0.0) / np.abs(lo)) ** 2, axis=-1
            )
    return bad


def _score(sse: Array, pen: Array) -> Array:
    return np.where(pen > 0.0, 1e30 + pen, sse)


def _initial(problems: Sequence[SliceProblem], b: _Batch, cfg: FitConfig) -> tuple[Array, Array]:
    """The (m, sigma) grid of each slice plus its warm start and its calendar bounds' own (m, sigma)
    (with the bound's m and sigma, a scaled copy of the bound always satisfies it)."""
    unit_m = np.linspace(-cfg.m_range, cfg.m_range, cfg.m_points)
    unit_s = np.geomspace(*cfg.s_range, cfg.s_points)
    um, us = (x.ravel() for x in np.meshgrid(unit_m, unit_s))
    m, s = b.scale[:, None] * um, b.scale[:, None] * us
    extra_m, extra_s = [], []
    for pick in (lambda p: p.start, lambda p: p.upper, lambda p: p.lower):
        chosen = [pick(p) for p in problems]
        extra_m.append([m[i, 0] if c is None else c.m for i, c in enumerate(chosen)])
        extra_s.append([s[i, 0] if c is None else c.sigma for i, c in enumerate(chosen)])
    return np.concatenate([m, np.array(extra_m).T], 1), np.concatenate([s, np.array(extra_s).T], 1)


def _screened(
    b: _Batch, m: Array, s: Array, ridge: float, keep: int
) -> tuple[Array, Array, Array, Array, Array]:
    """Solve every candidate, then score no-arbitrage only for each slice's `keep` lowest SSEs."""
    p, sse = _solve_inner(b, m, s, ridge)
    idx = np.argsort(sse, axis=1)[:, :keep]
    m, s, sse = (np.take_along_axis(x, idx, axis=1) for x in (m, s, sse))
    p = np.take_along_axis(p, idx[..., None], axis=1)
    return m, s, p, sse, _penalty(b, p, m, s)


class _Best:
    """Each slice's best candidate so far."""

    def __init__(self, size: int) -> None:
        self.m, self.s = np.zeros(size), np.ones(size)
        self.p, self.sse = np.zeros((size, 3)), np.full(size, np.inf)
        self.pen, self.score = np.full(size, np.inf), np.full(size, np.inf)

    def update(self, m: Array, s: Array, p: Array, sse: Array, pen: Array) -> None:
        score = _score(sse, pen)
        j = np.argmin(score, axis=1)
        rows = np.arange(m.shape[0])
        better = score[rows, j] < self.score
        for name, value in (("m", m), ("s", s), ("sse", sse), ("pen", pen), ("score", score)):
            setattr(self, name, np.where(better, value[rows, j], getattr(self, name)))
        self.p = np.where(better[:, None], p[rows, j], self.p)


def fit_slices(problems: Sequence[SliceProblem], cfg: FitConfig) -> list[SliceFit]:
    """Fit every problem's slice (vectorised over slices); no dependency between them."""
    started = time.perf_counter()
    b = _Batch.build(problems, cfg)
    best = _Best(len(problems))
    m, s = _initial(problems, b, cfg)
    count = m.shape[1]
    best.update(*_screened(b, m, s, cfg.ridge, cfg.screen))
    dm = b.scale * 2.0 * cfg.m_range / (cfg.m_points - 1)
    dls = np.log(cfg.s_range[1] / cfg.s_range[0]) / (cfg.s_points - 1)
    offsets = np.linspace(-1.0, 1.0, cfg.zoom_points)
    om, os_ = (x.ravel() for x in np.meshgrid(offsets, offsets))
    for _ in range(cfg.zoom_rounds):
        m = best.m[:, None] + dm[:, None] * om
        s = best.s[:, None] * np.exp(dls * os_)[None, :]
        best.update(*_screened(b, m, s, cfg.ridge, cfg.screen))
        count += m.shape[1]
        dm, dls = dm / 2.0, dls / 2.0
    share = (time.perf_counter() - started) * 1e3 / len(problems)
    return [
        SliceFit(
            SviParams.from_quasi(*best.p[i], best.m[i], best.s[i]),
            float(best.sse[i]),
            float(best.pen[i]),
            count,
            share,
        )
        for i in range(len(problems))
    ]
