"""Many tiny convex QPs at once: min 1/2 p'Ap - b'p subject to C p >= h, p in R^3, a handful of rows.

Used by the SVI fitter: for each candidate (m, sigma) of a grid the quasi-explicit parameters
(a, d, c) solve such a problem (Zeliade 2009). A strictly convex QP's optimum is the equality-
constrained optimum of exactly one active set that is primal feasible with non-negative
multipliers (KKT), so with q rows we enumerate every active set of up to three rows, solve each with
closed-form 1x1/2x2/3x3 inverses, vectorised over all candidates, and keep the best KKT point.
`solve_reference` is the plain loop over the same enumeration (for tests).
"""

from __future__ import annotations

from functools import cache
from itertools import combinations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
_TOL = 1e-11
_SINGULAR = 1e-10


@cache
def _sets_cached(rows: tuple[tuple[float, ...], ...], size: int) -> NDArray[np.intp]:
    c = np.array(rows)
    keep = [s for s in combinations(range(len(rows)), size) if np.linalg.matrix_rank(c[list(s)]) == size]
    return np.array(keep, dtype=np.intp).reshape(-1, size)


def _active_sets(c: Array, size: int) -> NDArray[np.intp]:
    """Row subsets of `size`; for shared rows only linearly independent ones (others have no KKT point)."""
    if c.ndim == 3:
        return np.array(list(combinations(range(c.shape[1]), size)), dtype=np.intp).reshape(-1, size)
    return _sets_cached(tuple(map(tuple, c.tolist())), size)


def _guard(det: Array, diag_product: Array) -> Array:
    """NaN where a Gram determinant is negligible against its diagonal product (dependent rows)."""
    return np.where(np.abs(det) > _SINGULAR * np.abs(diag_product), det, np.nan)


def _inv_small(m: Array) -> Array:
    """Inverse of (..., r, r) symmetric matrices, r in 1..3, by adjugates (inf/nan where singular)."""
    r = m.shape[-1]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if r == 1:
            return 1.0 / np.where(m > _SINGULAR * np.abs(m).max(initial=0.0), m, np.nan)
        if r == 2:
            m00, m01, m11 = m[..., 0, 0], m[..., 0, 1], m[..., 1, 1]
            det = _guard(m00 * m11 - m01 * m01, m00 * m11)
            return np.stack([np.stack([m11, -m01], -1), np.stack([-m01, m00], -1)], -2) / det[..., None, None]
        m00, m01, m02, m11, m12, m22 = (
            m[..., i, j] for i, j in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))
        )
        c00, c01, c02 = m11 * m22 - m12 * m12, m02 * m12 - m01 * m22, m01 * m12 - m02 * m11
        c11, c12, c22 = m00 * m22 - m02 * m02, m01 * m02 - m00 * m12, m00 * m11 - m01 * m01
        det = _guard(m00 * c00 + m01 * c01 + m02 * c02, m00 * m11 * m22)
        rows = (np.stack([c00, c01, c02], -1), np.stack([c01, c11, c12], -1), np.stack([c02, c12, c22], -1))
        return np.stack(rows, -2) / det[..., None, None]


def _best_of_size(c: Array, m: Array, r0: Array, size: int) -> tuple[Array, Array, Array]:
    """For every candidate: best KKT point among active sets of `size` rows.

    Returns the objective increase over the unconstrained optimum (inf if none), the chosen set's
    index and its multipliers. With p = p0 + A^-1 C_S' lam and M = C A^-1 C': lam = M_SS^-1 r0_S,
    slack = M[S, :]' lam - r0 and the objective rises by lam . r0_S / 2. Slacks are computed only for
    the (candidate, set) pairs whose multipliers are all non-negative (few of them).
    """
    g = m.shape[0]
    sets = _active_sets(c, size)
    r0s = r0[:, sets]  # (G, S, r)
    inv = _inv_small(m[:, sets[:, :, None], sets[:, None, :]])
    lam = np.einsum("gsij,gsj->gsi", inv, r0s)  # (G, S, r)
    with np.errstate(invalid="ignore"):
        gi, si = np.nonzero(np.all(lam >= -_TOL, axis=-1))  # NaN (singular) compares False
    lam_c = lam[gi, si]  # (P, r)
    rows_c = m[gi[:, None], sets[si]]  # (P, r, q): M is symmetric
    slack = np.einsum("pr,prq->pq", lam_c, rows_c) - r0[gi]
    # relative to the terms summed (large multipliers of a nearly dependent set lose digits)
    scale = 1.0 + np.abs(r0[gi]) + np.einsum("pr,prq->pq", np.abs(lam_c), np.abs(rows_c))
    ok = np.all(slack >= -_TOL * scale, axis=-1)
    rise = np.full(lam.shape[:2], np.inf)
    rise[gi[ok], si[ok]] = 0.5 * np.sum(lam_c[ok] * r0s[gi[ok], si[ok]], axis=-1)
    j = np.argmin(rise, axis=1)
    rows = np.arange(g)
    return rise[rows, j], j, lam[rows, j]


def _constrained(c: Array, pc: Array, m: Array, r0: Array) -> tuple[Array, Array]:
    """The KKT point over active sets of one to three rows: objective rise (G,) and step (G,3).

    A strictly convex QP has exactly one KKT point, so a problem whose KKT point is found among the
    sets of one size is not searched among larger sets (most problems stop at one or two rows).
    """
    g = m.shape[0]
    best_rise, best_step = np.full(g, np.inf), np.zeros((g, pc.shape[1]))
    todo = np.arange(g)
    for size in range(1, min(3, c.shape[-2]) + 1):
        rows_c = c if c.ndim == 2 else c[todo]
        rise, j, lam = _best_of_size(rows_c, m[todo], r0[todo], size)
        sets = _active_sets(rows_c, size)[j]  # (G', r)
        step = np.einsum("gir,gr->gi", np.take_along_axis(pc[todo], sets[:, None, :], axis=2), lam)
        found = np.isfinite(rise)
        best_rise[todo[found]], best_step[todo[found]] = rise[found], step[found]
        todo = todo[~found]
        if todo.size == 0:
            break
    return best_rise, best_step


def solve_batch(a: Array, b: Array, c: Array, h: Array) -> tuple[Array, Array]:
    """Solve G problems: a (G,3,3) SPD, b (G,3), c (q,3) shared rows or (G,q,3) per problem, h (G,q).

    Returns p (G,3) and the objective 1/2 p'Ap - b'p (G,).
    """
    a_inv = _inv_small(a)
    p0 = np.einsum("gij,gj->gi", a_inv, b)
    f = -0.5 * np.einsum("gi,gi->g", p0, b)
    rows = c if c.ndim == 3 else np.broadcast_to(c, (a.shape[0], *c.shape))
    r0 = h - np.einsum("gqi,gi->gq", rows, p0)  # violation of each row at the unconstrained optimum
    todo = np.flatnonzero(np.any(r0 > _TOL, axis=-1))
    if todo.size == 0:
        return p0, f
    pc = np.einsum("gij,gqj->giq", a_inv[todo], rows[todo])  # A^-1 C'
    m = np.einsum("gqi,gir->gqr", rows[todo], pc)  # C A^-1 C'
    rise, step = _constrained(c if c.ndim == 2 else rows[todo], pc, m, r0[todo])
    p = p0.copy()
    p[todo] += step
    f[todo] += rise
    return p, f


def solve_reference(a: Array, b: Array, c: Array, h: Array) -> tuple[Array, float]:
    """One problem by a plain loop over active sets (reference for the vectorised solver)."""
    best, best_f = np.zeros(3), np.inf
    for size in range(min(4, c.shape[0] + 1)):
        for rows in combinations(range(c.shape[0]), size):
            cs = c[list(rows)]
            kkt = np.block([[a, -cs.T], [cs, np.zeros((size, size))]])
            try:
                sol = np.linalg.solve(kkt, np.concatenate([b, h[list(rows)]]))
            except np.linalg.LinAlgError:
                continue
            p, lam = sol[:3], sol[3:]
            if np.all(c @ p - h >= -_TOL * (1 + np.abs(h))) and np.all(lam >= -_TOL):
                f = 0.5 * p @ a @ p - b @ p
                if f < best_f:
                    best, best_f = p, f
    return best, best_f
