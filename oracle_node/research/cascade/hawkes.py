"""Univariate Hawkes process with an exponential kernel: MLE, simulation, 24-hour forecast.

Intensity lambda(t) = mu + alpha * sum_{t_i < t} exp(-beta (t - t_i)), time in days; branching
ratio n = alpha / beta (< 1: stationary). Log-likelihood on [0, T] (Ozaki 1979):

    sum_i log(mu + alpha A_i) - mu T - (alpha / beta) sum_i (1 - exp(-beta (T - t_i))),
    A_i = sum_{j < i} exp(-beta (t_i - t_j)) = exp(-beta (t_i - t_{i-1})) (1 + A_{i-1}).

`excitation_sums` computes A in blocks (within a block of beta * width <= 300, A_i is a
cumulative sum of exp(beta (t_j - s)) scaled back), checked against the plain recursion
(`excitation_sums_loop`) in the tests. No maintained library is used: `tick` 0.8.0.2 has a cp311
wheel but is a large C++ package for three parameters; `hawkeslib` has no wheel (docs/cascade.md).
The fit is checked by recovering known parameters from `simulate` (tests).

Simulation uses the branching (cluster) representation, vectorised over paths: immigrants at rate
mu; every event has Poisson(n) children at Exp(beta) delays; the history's residual excitation S
(= alpha A at the forecast time) has Poisson(S / beta) children at Exp(beta) delays; events after
the horizon are dropped (Poisson thinning keeps the law exact).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from oracle_node.errors import ModelError

BLOCK_SPAN = 300.0  # beta * (t - block start) stays below this inside a block: exp() never overflows


@dataclass(frozen=True)
class HawkesParams:
    mu: float  # immigrants per day
    alpha: float  # jump of the intensity per event (per day)
    beta: float  # decay rate per day

    @property
    def branching(self) -> float:
        return self.alpha / self.beta


def excitation_sums_loop(t: np.ndarray, beta: float) -> np.ndarray:
    """A_i by the plain recursion (the reference)."""
    out = np.zeros(t.size)
    for i in range(1, t.size):
        out[i] = math.exp(-beta * (t[i] - t[i - 1])) * (1.0 + out[i - 1])
    return out


def excitation_sums(t: np.ndarray, beta: float) -> np.ndarray:
    """A_i = sum_{j<i} exp(-beta (t_i - t_j)), vectorised in blocks."""
    out = np.zeros(t.size)
    carry, last, start = 0.0, None, 0  # carry = A just after the previous block's last event
    while start < t.size:
        s = t[start]
        end = int(np.searchsorted(t, s + BLOCK_SPAN / beta, side="right"))
        end = max(end, start + 1)
        x = beta * (t[start:end] - s)
        w = np.exp(x)
        before = np.r_[0.0, np.cumsum(w)[:-1]]  # sum over earlier events of this block
        inherited = 0.0 if last is None else carry * math.exp(-beta * (s - last))
        out[start:end] = np.exp(-x) * before + inherited * np.exp(-x)
        carry = out[end - 1] + 1.0
        last = t[end - 1]
        start = end
    return out


def log_likelihood(t: np.ndarray, horizon: float, p: HawkesParams) -> float:
    a = excitation_sums(t, p.beta)
    lam = p.mu + p.alpha * a
    comp = p.mu * horizon + p.branching * float(np.sum(1.0 - np.exp(-p.beta * (horizon - t))))
    return float(np.sum(np.log(lam)) - comp)


def _unpack(z: np.ndarray) -> HawkesParams:
    mu, beta = math.exp(z[0]), math.exp(z[2])
    n = 1.0 / (1.0 + math.exp(-z[1]))
    return HawkesParams(mu, n * beta, beta)


def fit_hawkes(t: np.ndarray, horizon: float) -> HawkesParams:
    """MLE on event times t (days, ascending, in [0, horizon]); n constrained to (0, 1)."""
    if t.size < 10:
        raise ModelError(f"Hawkes fit needs at least 10 events, got {t.size}")
    rate = t.size / horizon

    def nll(z: np.ndarray) -> float:
        value = -log_likelihood(t, horizon, _unpack(z))
        return value if math.isfinite(value) else 1e300

    best = None
    with threadpool_limits(limits=1):  # a 3-parameter fit: BLAS threads only contend
        for n0, beta0 in ((0.5, 1.0), (0.8, 10.0)):  # two starts: slow and fast decay
            z0 = np.array([math.log(rate * (1 - n0)), math.log(n0 / (1 - n0)), math.log(beta0)])
            res = minimize(nll, z0, method="L-BFGS-B", bounds=[(-12, 12), (-8, 8), (-6, 7)])
            if best is None or res.fun < best.fun:
                best = res
    assert best is not None
    return _unpack(best.x)


def state_at(t: np.ndarray, now: float, p: HawkesParams) -> float:
    """Residual excitation S = alpha * sum_{t_i <= now} exp(-beta (now - t_i))."""
    past = t[t <= now]
    return p.alpha * float(np.sum(np.exp(-p.beta * (now - past))))


def expected_count(p: HawkesParams, excitation: float, horizon: float) -> float:
    """E[N(now, now + horizon)] given the residual excitation (closed form; needs n < 1)."""
    k = p.beta - p.alpha
    lam_inf = p.mu * p.beta / k
    lam0 = p.mu + excitation
    return lam_inf * horizon + (lam0 - lam_inf) * (1.0 - math.exp(-k * horizon)) / k


def _descendants(
    rng: np.random.Generator, times: np.ndarray, paths: np.ndarray, p: HawkesParams, horizon: float
):
    all_t, all_p = [times], [paths]
    while times.size:
        kids = rng.poisson(p.branching, times.size)
        times = np.repeat(times, kids) + rng.exponential(1.0 / p.beta, int(kids.sum()))
        paths = np.repeat(paths, kids)
        keep = times <= horizon
        times, paths = times[keep], paths[keep]
        all_t.append(times)
        all_p.append(paths)
    return np.concatenate(all_t), np.concatenate(all_p)


def simulate_paths(
    rng: np.random.Generator, p: HawkesParams, excitation: float, horizon: float, n_paths: int
) -> tuple[np.ndarray, np.ndarray]:
    """(event times in [0, horizon], path index) of n_paths continuations from a residual excitation."""
    n_imm = rng.poisson(p.mu * horizon, n_paths)
    imm_t = rng.uniform(0.0, horizon, int(n_imm.sum()))
    n_old = rng.poisson(excitation / p.beta, n_paths)
    old_t = rng.exponential(1.0 / p.beta, int(n_old.sum()))
    times = np.r_[imm_t, old_t]
    paths = np.r_[np.repeat(np.arange(n_paths), n_imm), np.repeat(np.arange(n_paths), n_old)]
    keep = times <= horizon
    return _descendants(rng, times[keep], paths[keep], p, horizon)


def simulate(rng: np.random.Generator, p: HawkesParams, horizon: float) -> np.ndarray:
    """One stationary-start path on [0, horizon] (empty history), sorted."""
    times, _ = simulate_paths(rng, p, 0.0, horizon, 1)
    return np.sort(times)
