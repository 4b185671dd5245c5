"""Candidate shock models: each fits (features, h-day DVOL log changes) and predicts the `level` quantile of
the up-move and the (1 - level) quantile of the down-move.

* location-scale (`ls`): y = mu(x) + sigma(x) z, mu linear, ln sigma linear, fitted jointly by Gaussian
  quasi-maximum likelihood with a ridge penalty; the quantile of z per side is the empirical
  (split-conformal rank) quantile of the standardised training residuals. One scale for both sides:
  the up and down shocks share the learned vol-of-vol, only the residual quantiles differ. A few
  parameters (2-20) against ~11 tail points per 1,000 days: the tails come from the data, the model
  only learns when they are wide.
* linear quantile regression (`qr`, scikit-learn QuantileRegressor, L1 penalty), one per side.
* gradient-boosted quantile trees (`gbm`, HistGradientBoostingRegressor, depth 2, large leaves),
  one per side; a research comparison (not JSON-servable, so never served).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from scipy.optimize import minimize
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import QuantileRegressor

from oracle_node.errors import ModelError
from oracle_node.options.shock_features import FEATURES, WEEKDAYS
from oracle_node.options.shock_params import ShockParams

SERVABLE = ("ls", "qr")


@dataclass(frozen=True)
class Candidate:
    """One model family with its hyper-parameters (all fixed before any data is seen)."""

    name: str
    family: str  # "ls" | "qr" | "gbm"
    features: tuple[str, ...]  # qr/gbm: inputs; ls: the scale's inputs
    loc_features: tuple[str, ...] = ()  # ls only
    penalty: float = 0.0  # ls: ridge on the standardised coefficients; qr: sklearn alpha (L1)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def used(self) -> tuple[str, ...]:
        return tuple(f for f in FEATURES if f in set(self.features) | set(self.loc_features))


class Predictor(Protocol):
    def log_quantiles(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


def _standardise(x: np.ndarray, names: tuple[str, ...]) -> tuple[dict[str, float], dict[str, float]]:
    cols = x[:, [FEATURES.index(n) for n in names]]
    mean, sd = cols.mean(axis=0), cols.std(axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)  # a constant column (e.g. a weekday absent from a short window)
    return dict(zip(names, mean.tolist(), strict=True)), dict(zip(names, sd.tolist(), strict=True))


def conformal_quantile(z: np.ndarray, level: float, upper: bool) -> float:
    """Split-conformal rank: the ceil((n+1) level)-th smallest (upper) or floor((n+1)(1-level))-th."""
    s = np.sort(z)
    n = s.size
    k = min(n, math.ceil((n + 1) * level)) if upper else max(1, math.floor((n + 1) * (1.0 - level)))
    return float(s[k - 1])


def _ls_objective(theta: np.ndarray, xl: np.ndarray, xs: np.ndarray, y: np.ndarray, lam: float):
    pl = xl.shape[1]
    a0, a, b0, b = theta[0], theta[1 : 1 + pl], theta[1 + pl], theta[2 + pl :]
    mu = a0 + xl @ a
    log_s = np.clip(b0 + xs @ b, -30.0, 30.0)
    e = (y - mu) * np.exp(-log_s)
    n = y.size
    f = float(np.mean(log_s + 0.5 * e * e) + 0.5 * lam * (a @ a + b @ b))
    g_mu = -e * np.exp(-log_s) / n
    g_ls = (1.0 - e * e) / n
    grad = np.concatenate([[g_mu.sum()], xl.T @ g_mu + lam * a, [g_ls.sum()], xs.T @ g_ls + lam * b])
    return f, grad


def fit_ls(c: Candidate, x: np.ndarray, y: np.ndarray, level: float, horizon: int) -> ShockParams:
    center, scale = _standardise(x, c.used)

    def std(names: tuple[str, ...]) -> np.ndarray:
        cols = x[:, [FEATURES.index(n) for n in names]]
        return (cols - np.array([center[n] for n in names])) / np.array([scale[n] for n in names])

    xl, xs = std(c.loc_features), std(c.features)
    theta0 = np.concatenate([[y.mean()], np.zeros(xl.shape[1]), [math.log(y.std())], np.zeros(xs.shape[1])])
    res = minimize(_ls_objective, theta0, args=(xl, xs, y, c.penalty), jac=True, method="L-BFGS-B")
    if not np.isfinite(res.x).all():
        raise ModelError(f"shock model {c.name}: the quasi-likelihood fit did not converge ({res.message})")
    pl = xl.shape[1]
    a0, a, b0, b = res.x[0], res.x[1 : 1 + pl], res.x[1 + pl], res.x[2 + pl :]
    z = (y - a0 - xl @ a) / np.exp(b0 + xs @ b)
    parts = {
        "location": {"features": list(c.loc_features), "coef": a.tolist(), "intercept": float(a0)},
        "log_scale": {"features": list(c.features), "coef": b.tolist(), "intercept": float(b0)},
        "z_up": conformal_quantile(z, level, upper=True),
        "z_down": conformal_quantile(z, level, upper=False),
    }
    return _params("location_scale", c, x, center, scale, parts, level, horizon)


def _params(kind: str, c: Candidate, x: np.ndarray, center, scale, parts, level: float, horizon: int):
    cols = x[:, [FEATURES.index(n) for n in c.used]]
    low = dict(zip(c.used, cols.min(axis=0).tolist(), strict=True))
    high = dict(zip(c.used, cols.max(axis=0).tolist(), strict=True))
    return ShockParams(kind, horizon, level, center, scale, parts, low, high, meta={"candidate": c.name})


def fit_qr(c: Candidate, x: np.ndarray, y: np.ndarray, level: float, horizon: int) -> ShockParams:
    center, scale = _standardise(x, c.used)
    cols = x[:, [FEATURES.index(n) for n in c.used]]
    xs = (cols - np.array([center[n] for n in c.used])) / np.array([scale[n] for n in c.used])
    parts = {}
    for side, q in (("up", level), ("down", 1.0 - level)):
        m = QuantileRegressor(quantile=q, alpha=c.penalty, solver="highs").fit(xs, y)
        parts[side] = {"features": list(c.used), "coef": m.coef_.tolist(), "intercept": float(m.intercept_)}
    return _params("linear_quantile", c, x, center, scale, parts, level, horizon)


@dataclass
class GbmPredictor:
    up: HistGradientBoostingRegressor
    down: HistGradientBoostingRegressor
    cols: list[int]

    def log_quantiles(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.up.predict(x[:, self.cols]), self.down.predict(x[:, self.cols])


def fit_gbm(c: Candidate, x: np.ndarray, y: np.ndarray, level: float) -> GbmPredictor:
    cols = [FEATURES.index(n) for n in c.used]
    models = []
    for q in (level, 1.0 - level):
        m = HistGradientBoostingRegressor(
            loss="quantile", quantile=q, max_depth=2, learning_rate=0.05, max_iter=c.options.get("iters", 100),
            min_samples_leaf=c.options.get("leaf", 50), l2_regularization=1.0, early_stopping=False,
            random_state=0,
        )  # fmt: skip
        models.append(m.fit(x[:, cols], y))
    return GbmPredictor(models[0], models[1], cols)


def fit(c: Candidate, x: np.ndarray, y: np.ndarray, level: float, horizon: int) -> Predictor:
    """Fit candidate `c` on training rows (x: all FEATURES columns, y: h-day log changes)."""
    if c.family == "ls":
        return fit_ls(c, x, y, level, horizon)
    if c.family == "qr":
        return fit_qr(c, x, y, level, horizon)
    return fit_gbm(c, x, y, level)


SCALE_CORE = ("log_vov", "log_dvol", "abs_ret_z")
LOC_CORE = ("dvol_chg_1d", "log_iv_rv")
ALL_NUMERIC = tuple(f for f in FEATURES if f not in WEEKDAYS)


def candidates() -> list[Candidate]:
    """The candidate list, written down before looking at the validation results."""
    out: list[Candidate] = []
    specs = {
        "vov": (("log_vov",), ()),
        "vov_wd": (("log_vov", *WEEKDAYS), WEEKDAYS),
        "core": ((*SCALE_CORE, *WEEKDAYS), (*LOC_CORE, *WEEKDAYS)),
        "full": ((*ALL_NUMERIC, *WEEKDAYS), (*LOC_CORE, "dvol_chg_5d", "ret_z", "funding_bp", *WEEKDAYS)),
    }
    for key, (scale, loc) in specs.items():
        for lam in (0.001, 0.01, 0.1):
            out.append(Candidate(f"ls_{key}_l{lam:g}", "ls", scale, loc, lam))
    for key, feats in (("core", (*SCALE_CORE, *WEEKDAYS)), ("full", (*ALL_NUMERIC, *WEEKDAYS))):
        for alpha in (1e-4, 1e-3):
            out.append(Candidate(f"qr_{key}_a{alpha:g}", "qr", feats, (), alpha))
    for leaf in (40, 80):
        out.append(
            Candidate(f"gbm_full_leaf{leaf}", "gbm", (*ALL_NUMERIC, *WEEKDAYS), options={"leaf": leaf})
        )
    return out
