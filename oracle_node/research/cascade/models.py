"""The three forecasters of the next 24 hours' liquidations: climatology, Hawkes, ML.

Each `fit(...)` uses data known at the refit time only; each forecast returns (probability that the
day's liquidated USD exceeds the threshold, expected liquidated USD).

- Climatology: the fraction of past days above today's threshold; the mean past daily USD.
- Hawkes: exponential-kernel Hawkes fitted (MLE) to the market's event times before the refit;
  from the residual excitation at the forecast time, N_PATHS simulated 24-hour continuations, each
  event's USD drawn from the market's past event sizes (bootstrap): P = share of paths whose sum
  exceeds the threshold; E[USD] = E[N] (closed form) x mean past event size.
- Hawkes, calibrated (`hawkes_cal`): the same fit's closed-form E[N] for the next 24 hours,
  mapped to a probability by a logistic regression on (log E[N], log1p threshold) fitted on the
  days known at the refit (their E[N] from the refit's parameters and their own past events).
- ML: a classifier for the event and a Poisson GLM (log link) of USD (in millions) on the panel's
  features plus the market (one-hot), pooled over markets; median imputation of missing features;
  E[USD] = the GLM's mean. ML_CONFIGS lists the candidates; one is chosen on the validation span
  by Brier score (run.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, PoissonRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from oracle_node.research.cascade.hawkes import (
    HawkesParams,
    expected_count,
    fit_hawkes,
    simulate_paths,
    state_at,
)

DAY = 86400.0
N_PATHS = 2000


def climatology(next_usd_past: np.ndarray, thr: float) -> tuple[float, float]:
    past = next_usd_past[np.isfinite(next_usd_past)]
    return float(np.mean(past > thr)), float(np.mean(past))


@dataclass(frozen=True, eq=False)
class HawkesModel:
    params: HawkesParams
    origin: float  # unix seconds of time 0 (days are counted from here)
    marks: np.ndarray  # past event sizes in USD

    @classmethod
    def fit(cls, ts: np.ndarray, usd: np.ndarray, origin: float, now: float) -> HawkesModel:
        days = (ts[ts <= now] - origin) / DAY
        return cls(fit_hawkes(days, (now - origin) / DAY), origin, usd[ts <= now])

    def forecast(self, ts: np.ndarray, now: float, thr: float, seed: int) -> tuple[float, float]:
        days = (ts[ts <= now] - self.origin) / DAY
        s = state_at(days, (now - self.origin) / DAY, self.params)
        rng = np.random.default_rng(seed)
        _, path = simulate_paths(rng, self.params, s, 1.0, N_PATHS)
        sizes = self.marks[rng.integers(0, self.marks.size, path.size)]
        total = np.bincount(path, weights=sizes, minlength=N_PATHS)
        e_usd = expected_count(self.params, s, 1.0) * float(self.marks.mean())
        return float(np.mean(total > thr)), e_usd


def _logit(c: float) -> Callable[[], tuple[Pipeline, Pipeline]]:
    def make() -> tuple[Pipeline, Pipeline]:
        clf = make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=c, max_iter=500),
        )
        reg = make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            StandardScaler(),
            PoissonRegressor(alpha=1.0 / c, max_iter=500),
        )
        return clf, reg

    return make


def _gbm() -> tuple[Pipeline, Pipeline]:
    kw = {
        "max_depth": 2,
        "learning_rate": 0.05,
        "max_iter": 150,
        "min_samples_leaf": 20,
        "l2_regularization": 1.0,
    }
    return (
        make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            HistGradientBoostingClassifier(random_state=0, **kw),
        ),
        make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            HistGradientBoostingRegressor(loss="poisson", random_state=0, **kw),
        ),
    )


ML_CONFIGS: dict[str, Callable[[], tuple[Pipeline, Pipeline]]] = {
    "logit_c0.1": _logit(0.1),
    "logit_c1": _logit(1.0),
    "gbm_d2": _gbm,
}


MUSD = 1e6


@dataclass(frozen=True, eq=False)
class MlModel:
    clf: Pipeline | None  # None: one class only in training (then p = that class's share, 0 or 1)
    reg: Pipeline
    base_rate: float

    @classmethod
    def fit(cls, config: str, x: np.ndarray, event: np.ndarray, next_usd: np.ndarray) -> MlModel:
        clf, reg = ML_CONFIGS[config]()
        reg.fit(x, next_usd / MUSD)
        rate = float(event.mean())
        if 0.0 < rate < 1.0:
            clf.fit(x, event.astype(int))
            return cls(clf, reg, rate)
        return cls(None, reg, rate)

    def forecast(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = np.full(x.shape[0], self.base_rate) if self.clf is None else self.clf.predict_proba(x)[:, 1]
        return p, np.maximum(self.reg.predict(x), 0.0) * MUSD


def hawkes_expected(model: HawkesModel, ts: np.ndarray, at: np.ndarray) -> np.ndarray:
    """E[N] over the 24 hours after each time in `at` (events up to each time), closed form."""
    days = (ts - model.origin) / DAY
    out = np.empty(at.size)
    for k, now in enumerate((at - model.origin) / DAY):
        out[k] = expected_count(model.params, state_at(days, now, model.params), 1.0)
    return out


@dataclass(frozen=True, eq=False)
class HawkesCalibration:
    """P(event) = logistic(a + b log E[N] + c log1p thr), fitted on past days."""

    clf: LogisticRegression | None
    base_rate: float

    @staticmethod
    def design(expected: np.ndarray, thr: np.ndarray) -> np.ndarray:
        return np.column_stack([np.log(np.maximum(expected, 1e-6)), np.log1p(thr)])

    @classmethod
    def fit(cls, expected: np.ndarray, thr: np.ndarray, event: np.ndarray) -> HawkesCalibration:
        rate = float(event.mean())
        if not 0.0 < rate < 1.0:
            return cls(None, rate)
        return cls(
            LogisticRegression(C=1.0, max_iter=500).fit(cls.design(expected, thr), event.astype(int)), rate
        )

    def forecast(self, expected: np.ndarray, thr: np.ndarray) -> np.ndarray:
        if self.clf is None:
            return np.full(expected.size, self.base_rate)
        return self.clf.predict_proba(self.design(expected, thr))[:, 1]
