"""Tail maths shared by every model: quantiles and expected shortfall of the standardised
distributions, and the map from log-return quantiles to the loss fractions a Forecast carries.

Conventions. alpha is the tail probability (0.01 for 99 % VaR). For a unit-variance distribution Z:
q(alpha) is the alpha-quantile (negative) and es(alpha) = E[Z | Z <= q(alpha)] (more negative).
Standardised Student-t with nu > 2 degrees of freedom: Z = T * sqrt((nu - 2) / nu), T ~ t(nu), so
    q(alpha) = t_ppf(alpha) * s,   es(alpha) = -s * (nu + x^2) / (nu - 1) * t_pdf(x) / alpha,
with x = t_ppf(alpha, nu) and s = sqrt((nu - 2) / nu) (closed form, e.g. McNeil, Frey & Embrechts,
Quantitative Risk Management, 2015, ex. 2.20). Normal: q = Phi^-1(alpha), es = -phi(q) / alpha.

Loss fractions. For log-return quantiles q_lo < 0 < q_hi, a long position's VaR is 1 - exp(q_lo) and
a short position's is exp(q_hi) - 1: exact, since quantiles commute with the monotone map. ES is mapped
the same way from the log-return ES (1 - exp(E[r | tail])). For the long side this is an upper bound of
E[1 - exp(r) | tail] (Jensen), i.e. conservative; for the short side the exact simple-return ES of a
t tail is infinite (t has no moment generating function), so the mapped value is the practical one.
"""

from __future__ import annotations

import math
from functools import lru_cache

from scipy import stats

from oracle_node.errors import ModelError

ALPHA_99 = 0.01


def _check(alpha: float, nu: float | None = None) -> None:
    if not 0.0 < alpha < 0.5:
        raise ModelError(f"tail probability alpha = {alpha!r} must be in (0, 0.5)")
    if nu is not None and not (math.isfinite(nu) and nu > 2.0):
        raise ModelError(f"Student-t degrees of freedom nu = {nu!r} must be finite and > 2")


@lru_cache(maxsize=4096)
def std_t_quantile(alpha: float, nu: float) -> float:
    """alpha-quantile of the unit-variance Student-t (negative for alpha < 0.5)."""
    _check(alpha, nu)
    return float(stats.t.ppf(alpha, nu) * math.sqrt((nu - 2.0) / nu))


@lru_cache(maxsize=4096)
def std_t_es(alpha: float, nu: float) -> float:
    """E[Z | Z <= q(alpha)] of the unit-variance Student-t (closed form; negative)."""
    _check(alpha, nu)
    x = float(stats.t.ppf(alpha, nu))
    scale = math.sqrt((nu - 2.0) / nu)
    return -scale * (nu + x * x) / (nu - 1.0) * float(stats.t.pdf(x, nu)) / alpha


@lru_cache(maxsize=64)
def normal_quantile(alpha: float) -> float:
    _check(alpha)
    return float(stats.norm.ppf(alpha))


@lru_cache(maxsize=64)
def normal_es(alpha: float) -> float:
    """E[Z | Z <= q(alpha)] of the standard normal: -phi(q) / alpha."""
    _check(alpha)
    return -float(stats.norm.pdf(stats.norm.ppf(alpha))) / alpha


def std_t_es_ratio(alpha: float, nu: float) -> float:
    """ES / VaR of the standardised Student-t at alpha (> 1; the normal limit as nu -> inf)."""
    return std_t_es(alpha, nu) / std_t_quantile(alpha, nu)


def loss_fractions(q_lo: float, es_lo: float, q_hi: float, es_hi: float) -> tuple[float, float, float, float]:
    """(var_long, es_long, var_short, es_short) as non-negative loss fractions of notional from the
    log-return quantiles and tail expectations (lo: left tail, hi: right tail)."""
    var_long = max(0.0, -math.expm1(q_lo))
    es_long = max(var_long, -math.expm1(es_lo))
    var_short = max(0.0, math.expm1(q_hi))
    es_short = max(var_short, math.expm1(es_hi))
    return var_long, es_long, var_short, es_short
