"""Population stability index: how far a feature's current distribution moved from the reference.

PSI = sum_i (q_i - p_i) ln(q_i / p_i) over bins whose edges are the reference's quantiles (p_i = 1 /
bins for continuous data), q_i the current window's share of bin i; shares are floored at EPS so an
empty bin costs a finite amount. Usual reading: < 0.1 stable, 0.1-0.25 moderate, > 0.25 significant.

`tail_psi` is the PSI of the two-bin partition at the reference's `level` quantile, counted only when
the current window has MORE mass in the upper tail than the reference (one-sided): a month of calm
markets whose volatility features sit in the reference's body is no drift for a risk model, a month
beyond the training data's 99th percentile is. Autocorrelated features (volatility levels) make the
full-binned PSI of a 30-day window large in every period; the tail form does not have that problem.
"""

from __future__ import annotations

import numpy as np

from oracle_node.errors import ModelError

EPS = 1e-4


def _finite(x: np.ndarray, what: str, min_n: int) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    a = a[np.isfinite(a)]
    if a.size < min_n:
        raise ModelError(f"psi: {what} has {a.size} finite values, at least {min_n} needed")
    return a


def psi_from_shares(p: np.ndarray, q: np.ndarray) -> float:
    p, q = np.maximum(p, EPS), np.maximum(q, EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """PSI of `current` against `reference` with `bins` reference-quantile bins."""
    ref, cur = _finite(reference, "reference", 2 * bins), _finite(current, "current", 1)
    edges = np.quantile(ref, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    p = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=bins) / ref.size
    q = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=bins) / cur.size
    return psi_from_shares(p, q)


def tail_psi(reference: np.ndarray, current: np.ndarray, level: float = 0.99) -> float:
    """One-sided two-bin PSI at the reference's `level` quantile (0 when the tail share did not grow)."""
    ref, cur = _finite(reference, "reference", 100), _finite(current, "current", 1)
    edge = float(np.quantile(ref, level))
    p, q = float(np.mean(ref > edge)), float(np.mean(cur > edge))
    if q <= p:
        return 0.0
    return psi_from_shares(np.array([1.0 - p, p]), np.array([1.0 - q, q]))
