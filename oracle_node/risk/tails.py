"""Tail multipliers of the unit-variance Student-t: how many sigmas the 99% VaR and ES sit out.

For X ~ t_nu scaled to unit variance (X = T * sqrt((nu - 2) / nu), nu > 2) and level a:
    q      = t_nu^{-1}(a)
    VaR_a  = q * sqrt((nu - 2) / nu)
    ES_a   = f_nu(q) / (1 - a) * (nu + q^2) / (nu - 1) * sqrt((nu - 2) / nu)
with f_nu the t density. As nu -> inf these tend to the normal's z_a and phi(z_a) / (1 - a)
(2.3263 and 2.6652 at 99%). Near nu = 2 the unit-variance t puts its variance in ever rarer, ever
larger moves and its 99% quantile *falls* (ES99 2.75 at nu = 2.1, 4.07 at nu = 2.5); a margin must
not shrink for that reason, so `es_multiplier` never returns less than the normal's value.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special


@lru_cache(maxsize=64)
def normal_es_multiplier(level: float) -> float:
    """phi(z_a) / (1 - a): the normal's ES at level a in sigmas."""
    z = float(special.ndtri(level))
    return float(np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi) / (1.0 - level))


def _t_tails(nu_arr: NDArray[np.float64], level: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    q = special.stdtrit(nu_arr, level)
    scale = np.sqrt((nu_arr - 2.0) / nu_arr)
    log_norm = special.gammaln((nu_arr + 1.0) / 2.0) - special.gammaln(nu_arr / 2.0)
    density = np.exp(log_norm) / np.sqrt(nu_arr * np.pi) * (1.0 + q * q / nu_arr) ** (-(nu_arr + 1.0) / 2.0)
    raw_es = density / (1.0 - level) * (nu_arr + q * q) / (nu_arr - 1.0)
    return np.asarray(q * scale, dtype=np.float64), np.asarray(raw_es * scale, dtype=np.float64)


def t_es_multiplier(nu: ArrayLike, level: float) -> NDArray[np.float64]:
    """Unit-variance Student-t ES at `level` in sigmas (nu > 2, vectorised)."""
    return _t_tails(np.asarray(nu, dtype=np.float64), level)[1]


def t_var_multiplier(nu: ArrayLike, level: float) -> NDArray[np.float64]:
    """Unit-variance Student-t quantile at `level` in sigmas (nu > 2, vectorised)."""
    return _t_tails(np.asarray(nu, dtype=np.float64), level)[0]


def t_tail_multipliers(nu: ArrayLike, level: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(VaR, ES) multipliers per element, NaN where nu is NaN (the inverse t CDF costs ~2 µs a value)."""
    nu_arr = np.asarray(nu, dtype=np.float64)
    var_out = np.full(nu_arr.shape, np.nan)
    es_out = np.full(nu_arr.shape, np.nan)
    finite = np.isfinite(nu_arr)
    if finite.any():
        var_out[finite], es_out[finite] = _t_tails(nu_arr[finite], level)
    return var_out, es_out


def es_multiplier(nu: ArrayLike, level: float) -> NDArray[np.float64]:
    """The scan-range multiplier: max(t ES, normal ES), so fat tails only ever widen the range (NaN nu: normal)."""
    return np.fmax(t_tail_multipliers(nu, level)[1], normal_es_multiplier(level))
