"""Hansen's (1994) skewed Student-t, parameterised as arch's `SkewStudent` (eta, lambda).

Unit variance, zero mean; eta > 2 degrees of freedom, -1 < lambda < 1 (lambda < 0: fatter left tail).
With c = Gamma((eta+1)/2) / (sqrt(pi (eta-2)) Gamma(eta/2)), a = 4 lambda c (eta-2)/(eta-1) and
b = sqrt(1 + 3 lambda^2 - a^2), the density left of -a/b is b h((b z + a)/(1 - lambda)) and right of it
b h((b z + a)/(1 + lambda)), h the unit-variance Student-t density with eta degrees of freedom.

So the left part is an affine image of the unit-variance t, Z = ((1 - lambda) X - a) / b, holding
probability (1 - lambda)/2. For a tail probability alpha < (1 - lambda)/2, with p = alpha / (1 - lambda):
    q(alpha)  = ((1 - lambda) q_t(p) - a) / b,
    ES(alpha) = E[Z | Z <= q] = ((1 - lambda) es_t(p) - a) / b,
q_t and es_t the unit-variance t quantile and tail mean (closed forms in models.tails). The right
part maps the same way with 1 + lambda, which gives the quantile function used to sample.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from scipy.special import gammaln

from oracle_node.errors import ModelError
from oracle_node.models.tails import std_t_es, std_t_quantile


def _check(eta: float, lam: float) -> None:
    if not (math.isfinite(eta) and eta > 2.0 and math.isfinite(lam) and -1.0 < lam < 1.0):
        raise ModelError(f"skew-t: eta = {eta!r} must be > 2 and lambda = {lam!r} in (-1, 1)")


def skewt_ab(eta: float, lam: float) -> tuple[float, float]:
    """Hansen's constants a and b."""
    _check(eta, lam)
    log_c = gammaln((eta + 1.0) / 2.0) - gammaln(eta / 2.0) - 0.5 * math.log(math.pi * (eta - 2.0))
    a = 4.0 * lam * math.exp(log_c) * (eta - 2.0) / (eta - 1.0)
    return a, math.sqrt(1.0 + 3.0 * lam * lam - a * a)


def skewt_ppf(u: object, eta: float, lam: float) -> np.ndarray:
    """Quantile function (vectorised over u in (0, 1))."""
    a, b = skewt_ab(eta, lam)
    uu = np.asarray(u, dtype=np.float64)
    split = (1.0 - lam) / 2.0
    left = uu < split
    p = np.where(left, uu / (1.0 - lam), 0.5 + (uu - split) / (1.0 + lam))
    x = stats.t.ppf(p, eta) * math.sqrt((eta - 2.0) / eta)
    return (np.where(left, 1.0 - lam, 1.0 + lam) * x - a) / b


def skewt_left_tail(alpha: float, eta: float, lam: float) -> tuple[float, float]:
    """(quantile, expected shortfall) at tail probability alpha, both negative numbers."""
    a, b = skewt_ab(eta, lam)
    p = alpha / (1.0 - lam)
    if not 0.0 < p < 0.5:
        raise ModelError(
            f"skew-t: alpha = {alpha!r} is beyond the left part's mass (1 - lambda)/2 = {(1 - lam) / 2:.4g}"
        )
    q = ((1.0 - lam) * std_t_quantile(p, eta) - a) / b
    es = ((1.0 - lam) * std_t_es(p, eta) - a) / b
    return q, es
