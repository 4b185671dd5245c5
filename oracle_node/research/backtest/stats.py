"""The standard VaR/ES backtest statistics (none of them ship with `arch`).

Sign convention (all functions): `returns` are realised daily log returns; `var` and `es` are the
forecast Value-at-Risk and Expected Shortfall at tail probability `alpha` as POSITIVE losses, so the
forecast alpha-quantile of the return is -var and day t is a breach (hit) when returns[t] < -var[t].
Patton, Ziegel & Chen (2019) write VaR and ES as the (negative) return quantile and tail mean:
v = -var and e = -es here, and `fz0_loss` maps them so.

* Kupiec (1995) proportion of failures: LR_pof = -2 ln[(1-a)^(n-x) a^x / ((1-x/n)^(n-x) (x/n)^x)]
  ~ chi2(1).
* Christoffersen (1998): with n_ij the number of days in state j after a day in state i (1 = hit),
  pi01 = n01/(n00+n01), pi11 = n11/(n10+n11), pi = (n01+n11)/(n00+n01+n10+n11),
  LR_ind = -2 ln[(1-pi)^(n00+n10) pi^(n01+n11) / ((1-pi01)^n00 pi01^n01 (1-pi11)^n10 pi11^n11)]
  ~ chi2(1), LR_cc = LR_pof + LR_ind ~ chi2(2). Zero counts use 0 * ln 0 = 0 (scipy's xlogy).
* Basel traffic light: with x exceptions in the last 250 days, P = BinomCDF(x; 250, alpha): green
  when P < 95 %, red when P >= 99.99 %, yellow in between (at alpha 1 %: 0-4 green, 5-9 yellow, 10+ red).
* Pinball (quantile) loss of the quantile q = -var: (alpha - 1{r < q}) (r - q), averaged.
* FZ0 (Patton, Ziegel & Chen 2019, eq. (14), the zero-homogeneous member of the FZ family):
  L(r, v, e) = -1{r <= v} (v - r) / (alpha e) + v / e + ln(-e) - 1, with v = -var, e = -es < 0.
* Acerbi & Szekely (2014) Z2 = sum_t r_t I_t / (T alpha ES_t) + 1 (E[Z2] = 0 under a correct model,
  negative when ES is underestimated); its p-value by simulation under the model: the fraction of
  simulated Z2 values at or below the observed one.
* Diebold & Mariano (1995) on the loss differential d = loss_a - loss_b with a Newey-West (Bartlett)
  long-run variance and the Harvey, Leybourne & Newbold (1997) small-sample correction,
  DM* = DM sqrt((T + 1 - 2h + h(h-1)/T) / T), compared with Student-t(T-1). Negative: a is better.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.special import xlogy

from oracle_node.errors import ModelError

BASEL_DAYS = 250
GREEN_BELOW = 0.95
RED_FROM = 0.9999


def check_alpha(alpha: float) -> float:
    if not (isinstance(alpha, float | int) and 0.0 < alpha < 0.5):
        raise ModelError(f"backtest: alpha = {alpha!r} must be in (0, 0.5)")
    return float(alpha)


def as_path(values: object, name: str, n: int | None = None) -> np.ndarray:
    """A finite 1-D float64 array (of length n when given), or ModelError naming the argument."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ModelError(f"backtest: {name} must be a non-empty 1-D series, got shape {arr.shape}")
    if n is not None and arr.size != n:
        raise ModelError(f"backtest: {name} has length {arr.size}, expected {n}")
    if not np.isfinite(arr).all():
        i = int(np.argmax(~np.isfinite(arr)))
        raise ModelError(f"backtest: {name}[{i}] = {arr[i]!r} is not finite")
    return arr


def hits(returns: object, var: object) -> np.ndarray:
    """Boolean breach indicator: returns[t] < -var[t]."""
    r = as_path(returns, "returns")
    return r < -as_path(var, "var", r.size)


@dataclass(frozen=True, slots=True)
class LrTest:
    """A likelihood-ratio test: statistic, degrees of freedom and chi-square p-value."""

    statistic: float
    df: int
    p_value: float


def _lr(statistic: float, df: int) -> LrTest:
    stat = max(0.0, statistic)  # rounding can leave -1e-13 when the two likelihoods are equal
    return LrTest(stat, df, float(stats.chi2.sf(stat, df)))


def kupiec_pof(violations: int, n: int, alpha: float) -> LrTest:
    """Kupiec's proportion-of-failures test of `violations` breaches in `n` days."""
    a = check_alpha(alpha)
    if not (0 <= violations <= n and n > 0):
        raise ModelError(f"kupiec: violations = {violations!r} must be in [0, n = {n!r}] with n > 0")
    x, m = float(violations), float(n)
    log_null = xlogy(m - x, 1.0 - a) + xlogy(x, a)
    log_alt = xlogy(m - x, 1.0 - x / m) + xlogy(x, x / m)
    return _lr(-2.0 * float(log_null - log_alt), 1)


@dataclass(frozen=True, slots=True)
class Christoffersen:
    """Transition counts n_ij (from state i to j, 1 = breach) and the two LR tests."""

    n00: int
    n01: int
    n10: int
    n11: int
    independence: LrTest
    conditional_coverage: LrTest


def transition_counts(hit: np.ndarray) -> tuple[int, int, int, int]:
    prev, cur = hit[:-1].astype(bool), hit[1:].astype(bool)
    return (
        int(np.sum(~prev & ~cur)),
        int(np.sum(~prev & cur)),
        int(np.sum(prev & ~cur)),
        int(np.sum(prev & cur)),
    )


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def christoffersen(hit: object, alpha: float) -> Christoffersen:
    """Christoffersen's independence and conditional-coverage tests of a breach sequence."""
    h = np.asarray(hit, dtype=bool)
    if h.ndim != 1 or h.size < 2:
        raise ModelError(f"christoffersen: need a 1-D breach sequence of >= 2 days, got shape {h.shape}")
    n00, n01, n10, n11 = transition_counts(h)
    pi01, pi11 = _ratio(n01, n00 + n01), _ratio(n11, n10 + n11)
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    log_null = xlogy(n00 + n10, 1.0 - pi) + xlogy(n01 + n11, pi)
    log_alt = xlogy(n00, 1.0 - pi01) + xlogy(n01, pi01) + xlogy(n10, 1.0 - pi11) + xlogy(n11, pi11)
    ind = _lr(-2.0 * float(log_null - log_alt), 1)
    pof = kupiec_pof(int(h.sum()), int(h.size), alpha)
    return Christoffersen(n00, n01, n10, n11, ind, _lr(pof.statistic + ind.statistic, 2))


@dataclass(frozen=True, slots=True)
class TrafficLight:
    zone: str  # "green" | "yellow" | "red"
    exceptions: int
    days: int
    cumulative_probability: float  # P(X <= exceptions) under Binomial(days, alpha)


def traffic_light(hit: object, alpha: float = 0.01, days: int = BASEL_DAYS) -> TrafficLight:
    """Basel zone for the exceptions in the last `days` days (all of them if fewer)."""
    a = check_alpha(alpha)
    h = np.asarray(hit, dtype=bool)[-days:]
    if h.size == 0:
        raise ModelError("traffic light: the breach sequence is empty")
    x = int(h.sum())
    p = float(stats.binom.cdf(x, h.size, a))
    zone = "green" if p < GREEN_BELOW else ("red" if p >= RED_FROM else "yellow")
    return TrafficLight(zone, x, int(h.size), p)


def pinball_losses(returns: object, var: object, alpha: float) -> np.ndarray:
    """Per-day quantile loss of the return quantile q = -var."""
    a = check_alpha(alpha)
    r = as_path(returns, "returns")
    q = -as_path(var, "var", r.size)
    return (a - (r < q)) * (r - q)


def fz0_losses(returns: object, var: object, es: object, alpha: float) -> np.ndarray:
    """Per-day FZ0 loss (Patton, Ziegel & Chen 2019) with v = -var, e = -es; needs es > 0."""
    a = check_alpha(alpha)
    r = as_path(returns, "returns")
    v = -as_path(var, "var", r.size)
    e = -as_path(es, "es", r.size)
    if (e >= 0).any():
        i = int(np.argmax(e >= 0))
        raise ModelError(f"fz0: es[{i}] = {-e[i]!r} must be > 0 (a loss)")
    return -((r <= v) * (v - r)) / (a * e) + v / e + np.log(-e) - 1.0


def acerbi_szekely_z2(returns: object, var: object, es: object, alpha: float) -> float:
    """Acerbi-Szekely Z2 = sum r_t I_t / (T alpha ES_t) + 1 (0 expected, < 0: ES too small)."""
    a = check_alpha(alpha)
    r = as_path(returns, "returns")
    v = as_path(var, "var", r.size)
    e = as_path(es, "es", r.size)
    hit = r < -v
    return float(np.sum(r * hit / e) / (r.size * a) + 1.0)


def z2_p_value(observed: float, simulated: np.ndarray, var: object, es: object, alpha: float) -> float:
    """P(Z2 <= observed) under the model, from simulated return paths (rows: paths, columns: days)."""
    a = check_alpha(alpha)
    sims = np.asarray(simulated, dtype=np.float64)
    v = as_path(var, "var", sims.shape[1] if sims.ndim == 2 else None)
    e = as_path(es, "es", v.size)
    if sims.ndim != 2 or sims.shape[0] == 0:
        raise ModelError(f"z2 p-value: simulated paths must be (paths, days), got shape {sims.shape}")
    z2 = np.sum(sims * (sims < -v) / e, axis=1) / (v.size * a) + 1.0
    return float(np.mean(z2 <= observed))


@dataclass(frozen=True, slots=True)
class DieboldMariano:
    mean_differential: float  # mean of loss_a - loss_b (negative: a has lower loss)
    statistic: float  # HLN-corrected DM statistic
    p_value: float  # two-sided, Student-t(T-1)
    lags: int


def newey_west_lags(n: int) -> int:
    """Newey-West (1994) rule of thumb floor(4 (T/100)^(2/9))."""
    return math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0))


def long_run_variance(d: np.ndarray, lags: int) -> float:
    """gamma_0 + 2 sum_{k=1..lags} (1 - k/(lags+1)) gamma_k, gamma_k = sum (d_t - m)(d_{t-k} - m) / T."""
    x = d - d.mean()
    n = x.size
    lrv = float(x @ x) / n
    for k in range(1, lags + 1):
        lrv += 2.0 * (1.0 - k / (lags + 1.0)) * float(x[k:] @ x[:-k]) / n
    return lrv


def diebold_mariano(loss_a: object, loss_b: object, h: int = 1, lags: int | None = None) -> DieboldMariano:
    """DM test of equal expected loss; `lags` defaults to the Newey-West rule for T days."""
    la = as_path(loss_a, "loss_a")
    d = la - as_path(loss_b, "loss_b", la.size)
    n = d.size
    if n < 3 or h < 1:
        raise ModelError(f"diebold-mariano: need >= 3 loss pairs and h >= 1, got {n} and h = {h!r}")
    q = newey_west_lags(n) if lags is None else int(lags)
    lrv = long_run_variance(d, min(q, n - 1))
    mean = float(d.mean())
    if lrv <= 0.0:
        stat = 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
    else:
        stat = mean / math.sqrt(lrv / n) * math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    return DieboldMariano(mean, stat, float(2.0 * stats.t.sf(abs(stat), n - 1)), q)
