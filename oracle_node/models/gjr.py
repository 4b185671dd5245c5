"""GJR-GARCH(1,1) with Student-t errors (Glosten, Jagannathan & Runkle 1993), fitted with `arch`.

Fit on daily log returns in percent (returns x 100): the optimiser is well conditioned at that scale
(omega ~ 0.1 instead of 1e-5), as arch's documentation recommends; results are scaled back to
fractions. Model, with y[t] = 100 r[t] and e[t] = y[t] - mu:
    s2[t+1] = omega + (alpha + gamma * 1{e[t] < 0}) * e[t]^2 + beta * s2[t],  e[t] = s[t] z[t],
    z ~ standardised Student-t(nu).
The fit keeps only the last `window` returns. The result holds the next-day variance s2[T+1]; update()
runs the recursion over newer returns with the fitted parameters (what a node does every round
between scheduled refits: a few floating-point operations, no optimisation).

VaR/ES are zero-mean (the fitted drift mu is used for the residuals but not credited to a position):
q = s * q_t(alpha, nu) and es = s * es_t(alpha, nu), symmetric in the two tails.
A failed or non-converged fit, or explosive / non-finite parameters, raise ModelError; the
RiskModel then falls back to EWMA and flags it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace

import numpy as np
from arch import arch_model

from oracle_node.errors import ModelError
from oracle_node.models.ewma import check_returns
from oracle_node.models.forecast import Forecast
from oracle_node.models.tails import ALPHA_99, loss_fractions, std_t_es, std_t_quantile

SCALE = 100.0  # fit on percent returns
# arch constrains alpha + gamma/2 + beta <= 1 and on crypto often lands on the boundary (integrated
# GARCH, like EWMA); the one-day forecast is well defined there, so only an explosive fit is rejected.
MAX_PERSISTENCE = 1.0 + 1e-6


@dataclass(frozen=True, slots=True)
class GjrParams:
    """Fitted parameters in percent-return units (mu in %, omega in %^2)."""

    mu: float
    omega: float
    alpha: float
    gamma: float
    beta: float
    nu: float

    @property
    def persistence(self) -> float:
        """alpha + gamma / 2 + beta (symmetric innovations): < 1 stationary, = 1 integrated."""
        return self.alpha + 0.5 * self.gamma + self.beta


@dataclass(frozen=True, slots=True)
class GjrResult:
    """A fitted GJR-GARCH-t; `variance` is the next-day variance in %^2 after n_obs returns."""

    params: GjrParams
    variance: float
    n_obs: int
    loglik: float

    def forecast(self, alpha: float = ALPHA_99) -> Forecast:
        sigma = math.sqrt(self.variance) / SCALE
        q = sigma * std_t_quantile(alpha, self.params.nu)
        es = sigma * std_t_es(alpha, self.params.nu)
        var_l, es_l, var_s, es_s = loss_fractions(q, es, -q, -es)
        return Forecast(GjrGarchT.name, sigma, var_l, es_l, var_s, es_s, nu=self.params.nu)

    def update(self, returns: object) -> GjrResult:
        """Advance the variance recursion by new log returns (fractions)."""
        r = check_returns(returns, GjrGarchT.name, min_obs=0)
        p, v = self.params, self.variance
        for x in r.tolist():
            e = SCALE * x - p.mu
            v = p.omega + (p.alpha + (p.gamma if e < 0.0 else 0.0)) * e * e + p.beta * v
        return replace(self, variance=v, n_obs=self.n_obs + r.size)


class GjrGarchT:
    """GJR-GARCH(1,1)-t: fit() returns a GjrResult whose forecast() is a Forecast."""

    name = "gjr_garch_t"

    def __init__(self, window: int = 1000, min_obs: int = 250) -> None:
        self.window, self.min_obs = window, min_obs

    def fit(self, returns: object) -> GjrResult:
        r = check_returns(returns, self.name, min_obs=self.min_obs)[-self.window :]
        y = SCALE * r
        am = arch_model(y, mean="Constant", vol="GARCH", p=1, o=1, q=1, dist="t", rescale=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = am.fit(disp="off", show_warning=False)
            except (ValueError, np.linalg.LinAlgError, ArithmeticError) as exc:
                raise ModelError(f"{self.name}: fit on {r.size} returns failed: {exc}") from exc
        if res.convergence_flag != 0:
            raise ModelError(
                f"{self.name}: optimiser did not converge on {r.size} returns (flag {res.convergence_flag})"
            )
        p = GjrParams(
            *(float(res.params[k]) for k in ("mu", "omega", "alpha[1]", "gamma[1]", "beta[1]", "nu"))
        )
        _check_params(self.name, p)
        e = float(y[-1] - p.mu)
        s2 = float(res.conditional_volatility[-1]) ** 2
        v = p.omega + (p.alpha + (p.gamma if e < 0.0 else 0.0)) * e * e + p.beta * s2
        return GjrResult(p, v, int(r.size), float(res.loglikelihood))


def _check_params(model: str, p: GjrParams) -> None:
    values = (p.mu, p.omega, p.alpha, p.gamma, p.beta, p.nu)
    if not all(math.isfinite(x) for x in values):
        raise ModelError(f"{model}: non-finite parameters {p}")
    if p.omega <= 0 or p.persistence > MAX_PERSISTENCE or p.nu <= 2.0:
        raise ModelError(
            f"{model}: parameters outside the stationary region (omega {p.omega:.4g}, "
            f"persistence {p.persistence:.4f}, nu {p.nu:.3g})"
        )
