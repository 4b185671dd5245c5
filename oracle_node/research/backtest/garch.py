"""GARCH(1,1)-t, GJR-GARCH(1,1) skew-t and filtered historical simulation, fitted with `arch`.

Fit on the last `window` returns in percent (returns x 100, as models.gjr does), constant mean:
    e[t] = y[t] - mu,  s2[t+1] = omega + (alpha + gamma 1{e[t] < 0}) e[t]^2 + beta s2[t]
(gamma = 0 for GARCH). Errors: standardised Student-t(nu) for GARCH-t; Hansen's skewed t (eta, lambda)
for GJR (arch's SkewStudent). VaR/ES are zero-mean, like the node's published numbers: the fitted
drift enters the residuals, not the quantile. VaR = -sigma q(alpha), ES = -sigma ES_z(alpha).

Filtered historical simulation (Barone-Adesi et al. 1999) uses the GJR fit: the empirical alpha-tail
of the last `window` standardised residuals z = e / s, scaled by the forecast sigma. Residuals of the
days after a fit are appended as they are filtered, so the sample stays `window` long.

Speed: each refit starts from the previous parameters (arch `starting_values`), which cuts SLSQP
from ~20 to ~8 iterations. (An earlier version also swapped arch's constraint builder for one with
exact Jacobians through unittest.mock, for about half of a GJR fit's time; production code patches no
library internals, so it is gone.) arch rejects a start that violates its constraints, and its
optimiser often ends a hair outside (persistence 1 + 1e-8 on crypto), so the start is nudged inside
first.
Between refits only the variance recursion runs. A refit that fails or does not converge is retried
from arch's own starting values; if that fails too the previous parameters stay in use (counted in
`refit_failures`). A failure of the very first fit raises ModelError.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from arch import arch_model
from arch.univariate.base import ARCHModelResult
from arch.utility.exceptions import StartingValueWarning

from oracle_node.errors import ModelError
from oracle_node.models.tails import std_t_es, std_t_quantile
from oracle_node.research.backtest.base import DayForecast, empirical_tail
from oracle_node.research.backtest.skewt import skewt_left_tail, skewt_ppf

SCALE = 100.0
MAX_ITER = 100  # SLSQP iterations per fit; warm starts need ~8, cold ones ~20
PERSISTENCE_CAP = 1.0 - 1e-7  # where a warm start is pulled back to
MAX_PERSISTENCE = 1.0 + 1e-6  # fits beyond this are explosive and rejected
SHAPE_BOUNDS = {"nu": (2.06, 299.0), "eta": (2.06, 299.0), "lambda": (-0.99, 0.99)}


@dataclass(frozen=True, slots=True)
class Spec:
    o: int  # asymmetry order: 0 GARCH, 1 GJR
    dist: str  # arch distribution name
    shape_names: tuple[str, ...]


GARCH_T = Spec(0, "t", ("nu",))
GJR_SKEWT = Spec(1, "skewt", ("eta", "lambda"))


@dataclass(frozen=True, slots=True)
class State:
    """Fitted parameters (percent units) and the filter state after `n_seen` returns."""

    params: np.ndarray  # arch order: mu, omega, alpha, [gamma], beta, shape...
    variance: float  # next-day variance, %^2
    n_seen: int


def split_params(spec: Spec, p: np.ndarray) -> tuple[float, float, float, float, float]:
    """(mu, omega, alpha, gamma, beta)."""
    if spec.o:
        return float(p[0]), float(p[1]), float(p[2]), float(p[3]), float(p[4])
    return float(p[0]), float(p[1]), float(p[2]), 0.0, float(p[3])


def feasible_start(spec: Spec, p: np.ndarray) -> np.ndarray:
    """The previous parameters nudged inside arch's constraints and bounds (a valid warm start)."""
    x = p.copy()
    i_beta = 3 + spec.o  # mu, omega, alpha, [gamma], beta, shape...
    x[1] = max(x[1], 1e-6)
    x[2] = max(x[2], 0.0)
    gamma = 0.0
    if spec.o:
        x[3] = gamma = max(x[3], -x[2])
    excess = x[2] + 0.5 * gamma + x[i_beta] - PERSISTENCE_CAP
    if excess > 0.0:
        x[i_beta] = max(0.0, x[i_beta] - excess - 1e-12)  # - 1e-12: rounding of the sum
    for j, name in enumerate(spec.shape_names, start=i_beta + 1):
        lo, hi = SHAPE_BOUNDS[name]
        x[j] = min(max(x[j], lo), hi)
    return x


def valid_params(spec: Spec, p: np.ndarray) -> bool:
    if not np.isfinite(p).all():
        return False
    _, omega, alpha, gamma, beta = split_params(spec, p)
    return omega > 0.0 and alpha + 0.5 * gamma + beta <= MAX_PERSISTENCE and p[-len(spec.shape_names)] > 2.0


def step_variance(spec: Spec, p: np.ndarray, v: float, e: float) -> float:
    _, omega, alpha, gamma, beta = split_params(spec, p)
    return omega + (alpha + (gamma if e < 0.0 else 0.0)) * e * e + beta * v


class ArchFamily:
    """GARCH-t, or GJR skew-t plus FHS, as a walk-forward model family."""

    def __init__(self, spec: Spec, alpha: float, window: int, sims: int = 0, fhs: bool = False) -> None:
        self.spec, self.alpha, self.window, self.sims, self.with_fhs = spec, alpha, window, sims, fhs
        base = "garch_t" if spec is GARCH_T else "gjr_skewt"
        self.names = (base, "fhs") if fhs else (base,)
        self.cost = 1.0 if spec is GARCH_T else 1.5
        self.state: State | None = None
        self.z: np.ndarray = np.empty(0)
        self.counts = {"fits": 0, "refit_failures": 0, "cold_starts": 0}

    @property
    def stats(self) -> dict[str, int]:
        return dict(self.counts)

    def forecast(self, past: np.ndarray, refit: bool, rng: np.random.Generator) -> tuple[DayForecast, ...]:
        if refit or self.state is None:
            self._refit(past)
        else:
            self._filter(past)
        assert self.state is not None
        sigma = math.sqrt(self.state.variance) / SCALE
        out = [self._parametric(sigma, rng)]
        if self.with_fhs:
            var, es = empirical_tail(self.z[-self.window :], self.alpha)
            draws = sigma * rng.choice(self.z[-self.window :], self.sims) if self.sims else None
            out.append(DayForecast(sigma * var, sigma * es, draws))
        return tuple(out)

    def _parametric(self, sigma: float, rng: np.random.Generator) -> DayForecast:
        shape = self.state.params[-len(self.spec.shape_names) :] if self.state else np.empty(0)
        draws = None
        if self.spec is GARCH_T:
            nu = float(shape[0])
            q, es = std_t_quantile(self.alpha, nu), std_t_es(self.alpha, nu)
            if self.sims:
                draws = sigma * rng.standard_t(nu, self.sims) * math.sqrt((nu - 2.0) / nu)
        else:
            eta, lam = float(shape[0]), float(shape[1])
            q, es = skewt_left_tail(self.alpha, eta, lam)
            if self.sims:
                draws = sigma * skewt_ppf(rng.random(self.sims), eta, lam)
        return DayForecast(-sigma * q, -sigma * es, draws)

    def _filter(self, past: np.ndarray) -> None:
        """Advance the variance recursion over the days since the last update (no optimisation)."""
        assert self.state is not None
        p, v = self.state.params, self.state.variance
        new_z = []
        for x in past[self.state.n_seen :].tolist():
            e = SCALE * x - float(p[0])
            new_z.append(e / math.sqrt(v))
            v = step_variance(self.spec, p, v, e)
        if self.with_fhs and new_z:
            self.z = np.concatenate([self.z[-self.window :], np.asarray(new_z)])
        self.state = State(p, v, past.size)

    def _refit(self, past: np.ndarray) -> None:
        y = SCALE * past[-self.window :]
        res = self._fit(y, None if self.state is None else feasible_start(self.spec, self.state.params))
        if res is None and self.state is not None:
            res = self._fit(y, None)
        if res is None:
            if self.state is None:
                raise ModelError(f"{self.names[0]}: the first fit on {y.size} returns failed")
            self.counts["refit_failures"] += 1
            self._filter(past)
            return
        params = np.asarray(res.params, dtype=np.float64)
        sigma2 = float(res.conditional_volatility[-1]) ** 2
        v = step_variance(self.spec, params, sigma2, float(y[-1] - params[0]))
        if self.with_fhs:
            self.z = np.asarray(res.std_resid, dtype=np.float64)
        self.state = State(params, v, past.size)

    def _fit(self, y: np.ndarray, start: np.ndarray | None) -> ARCHModelResult | None:
        am = arch_model(
            y, mean="Constant", vol="GARCH", p=1, o=self.spec.o, q=1, dist=self.spec.dist, rescale=False
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                res = am.fit(
                    disp="off", show_warning=False, starting_values=start, options={"maxiter": MAX_ITER}
                )
            except (ValueError, np.linalg.LinAlgError, ArithmeticError):
                return None
        self.counts["fits"] += 1
        if start is None or any(issubclass(w.category, StartingValueWarning) for w in caught):
            self.counts["cold_starts"] += 1
        ok = res.convergence_flag == 0 and valid_params(self.spec, np.asarray(res.params, dtype=np.float64))
        return res if ok else None
