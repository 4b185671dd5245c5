"""`hybrid_gjr`: GJR-GARCH skew-t volatility times an ML quantile of the GJR-standardised residual.

    VaR_t = c_t sigma_t q_t,   ES_t = c'_t sigma_t q_t

* sigma_t: GJR-GARCH(1,1) skew-t refit on the last `window` returns every `refit_every` days, exactly
  as the `gjr_skewt` baseline (an own `ArchFamily` instance inside this family).
* q_t: a quantile GBM (the `qgbm` hyper-parameters, ONNX inference) of the `quantile`-quantile of the
  residual z_k = r_k / s_k, where s is a GJR filter whose parameters were fitted ONCE on the returns
  before the calibration block (fixed parameters make the filter causal: s_k reads returns[:k]).
  Features of row k: the 11 ML features (models.ml_features) and four of the filter's own:
  `z_lag1` (z_{k-1}), `absz_5` and `absz_20` (mean |z| of the last 5 / 20 days), `log_gjr_rel`
  (log s_k / ewma_sigma_k). Pooled markets (BTC for ETH) add rows with their own GJR filter.
* c_t, c'_t: rolling conformal multipliers (research.training.conformal) of the scores
  -r_k / (sigma_k q_k) of the last `cal_window` days before t: the held-out calibration block (with
  s_k for sigma_k), then each walked day (the walk's own sigma), realised returns read from `past`.

Split: rows before the calibration block fit the GBM (and the filter); the block is the last
`cal_window` rows (at most a third) before the first walked day; nothing at or after it is read.
With `retrain_every = N > 0` (the backtest's `--ml-retrain-every`) the filter and the GBM are trained
again on the first walked day at least N days after the current cut, with that day as the new cut
(the same split, all of it before the day forecast), and the conformal window restarts from the new
held-out block; the daily GJR sigma_t walk is unaffected.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oracle_node.errors import ModelError
from oracle_node.features.history import MarketHistory
from oracle_node.models.ml_features import MlRows, ml_rows
from oracle_node.research.backtest.base import DayForecast
from oracle_node.research.backtest.engine import WalkForwardConfig, register_family
from oracle_node.research.backtest.garch import GJR_SKEWT, SCALE, ArchFamily, step_variance
from oracle_node.research.training.conformal import calibrate, scores
from oracle_node.research.training.ml_fit import FittedModel, fit_and_export
from oracle_node.research.training.ml_train import CAL_DAYS, MIN_FIT_ROWS, day

FAMILY = "hybrid"
MODEL = "hybrid_gjr"
FILTER_FIT_DAYS = 2000  # the fixed filter is fitted on at most this many returns before the block
Z_FEATURES = ("z_lag1", "absz_5", "absz_20", "log_gjr_rel")


@dataclass(frozen=True)
class HybridOptions:
    """quantile: the level the GBM fits (None: the backtest's alpha); cal_window: conformal days;
    name: the model's name (`hybrid_gjr`; `variant(q)` names a second one, e.g. hybrid_gjr_q10)."""

    quantile: float | None = None
    cal_window: int = CAL_DAYS
    name: str = MODEL

    @staticmethod
    def variant(quantile: float, cal_window: int = CAL_DAYS) -> HybridOptions:
        return HybridOptions(quantile, cal_window, f"{MODEL}_q{round(quantile * 100)}")


def fixed_gjr_sigma(returns: np.ndarray, fit_end: int) -> tuple[np.ndarray, np.ndarray]:
    """(s, params): s[k] = GJR skew-t volatility forecast for returns[k] from returns[:k] (k = 0..n),
    parameters fitted once on returns[max(0, fit_end - FILTER_FIT_DAYS):fit_end]."""
    fam = ArchFamily(GJR_SKEWT, 0.01, FILTER_FIT_DAYS)
    fam.forecast(returns[:fit_end], True, np.random.default_rng(0))
    assert fam.state is not None
    p = fam.state.params
    v = float(np.var(SCALE * returns[:fit_end]))
    s = np.empty(returns.size + 1)
    for k, x in enumerate(returns.tolist()):
        s[k] = math.sqrt(v)
        v = step_variance(GJR_SKEWT, p, v, SCALE * x - float(p[0]))
    s[-1] = math.sqrt(v)
    return s / SCALE, p


def hybrid_features(rows: MlRows, s: np.ndarray) -> np.ndarray:
    """The ML features plus the filter's four (row k reads returns[:k] only)."""
    r = rows.returns[:-1]
    z = np.append(r / s[:-1], np.nan)  # z[k] = r_k / s_k, known after day k
    lag = np.concatenate([[np.nan], z[:-1]])  # row k: z_{k-1}
    a = np.abs(lag)
    csum = np.concatenate([[0.0], np.cumsum(np.nan_to_num(a))])
    n = a.size
    idx = np.arange(n)

    def trailing_mean(w: int) -> np.ndarray:
        out = (csum[idx + 1] - csum[np.maximum(idx + 1 - w, 0)]) / w
        out[idx < w] = np.nan  # row k needs z_{k-w} .. z_{k-1}, z_0 being the first
        return out

    extra = np.column_stack([lag, trailing_mean(5), trailing_mean(20), np.log(s / rows.scale)])
    return np.column_stack([rows.x, extra])


@dataclass(frozen=True)
class HybridModel:
    """The trained residual-quantile model of one backtest; row indices refer to the asset's rows."""

    alpha: float
    cut: int  # first walked row
    cal_start: int
    q: np.ndarray  # standardised raw VaR (positive) of every row, NaN where features are missing
    s: np.ndarray  # the fixed filter's sigma per row
    fitted: FittedModel
    split: dict[str, Any] = field(default_factory=dict)


def _market_set(rows: MlRows, fit_end: int, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, z targets, s) of a market; training rows are `keep` & finite."""
    s, _ = fixed_gjr_sigma(rows.returns[:-1], fit_end)
    x = hybrid_features(rows, s)
    z = rows.returns / s
    sel = keep & rows.ok & np.isfinite(x).all(axis=1) & np.isfinite(z)
    return x[sel], z[sel], s


def train_hybrid(
    rows: MlRows, cut: int, alpha: float, pool: Sequence[MlRows] = (), opts: HybridOptions = HybridOptions()
) -> HybridModel:
    """Fit the residual-quantile GBM on rows before the calibration block that precedes `cut`."""
    n_cal = min(opts.cal_window, int(rows.ok[:cut].sum()) // 3)
    cal_start = cut - n_cal
    own = np.arange(rows.x.shape[0]) < cal_start
    x0, z0, s = _market_set(rows, cal_start, own)
    xs, zs = [x0], [z0]
    first_cal_ts = rows.target_ts[cal_start]
    for p in pool:
        known = p.target_ts < first_cal_ts
        x1, z1, _ = _market_set(p, int(np.count_nonzero(known)), known)
        xs.append(x1)
        zs.append(z1)
    x, z = np.vstack(xs), np.concatenate(zs)
    if x.shape[0] < MIN_FIT_ROWS or n_cal < 100:
        raise ModelError(f"{rows.market} hybrid: {x.shape[0]} fit rows (>= {MIN_FIT_ROWS}) and {n_cal} "
                         f"calibration rows (>= 100) needed")  # fmt: skip
    level = opts.quantile or alpha
    fitted = fit_and_export("qgbm", x, z, level)
    feats = hybrid_features(rows, s)
    ok = rows.ok & np.isfinite(feats).all(axis=1)
    q = np.full(rows.x.shape[0], np.nan)
    q[ok] = fitted.runtime.raw(feats[ok])
    split = {"fit": f"targets up to {day(rows.target_ts[cal_start - 1])} (pooled: {[p.market for p in pool]})",
             "calibration": f"{day(rows.target_ts[cal_start])} .. {day(rows.target_ts[cut - 1])}",
             "fit_rows": int(x.shape[0]), "calibration_rows": int(n_cal), "fitted_quantile": level,
             "features": [*("ml features",), *Z_FEATURES]}  # fmt: skip
    return HybridModel(alpha, cut, cal_start, q, s, fitted, split)


class HybridFamily:
    names = (MODEL,)
    cost = 1.6  # one GJR fit per refit day, like gjr_skewt

    def __init__(
        self,
        model: HybridModel,
        window: int,
        sims: int = 0,
        cal_window: int = CAL_DAYS,
        name: str = MODEL,
        retrain: Callable[[int], HybridModel] | None = None,
        retrain_every: int = 0,
    ) -> None:
        self.sims, self.cal_window, self.names = sims, cal_window, (name,)
        self.retrain, self.retrain_every = retrain, retrain_every if retrain is not None else 0
        self.gjr = ArchFamily(GJR_SKEWT, model.alpha, window)
        self._use(model)
        self.model_fits = 1

    def _use(self, model: HybridModel) -> None:
        self.m = model
        self.v = (model.s * model.q)[model.cal_start :].copy()  # raw VaR per row from the block on
        self.v[model.cut - model.cal_start :] = np.nan  # walked days: filled with the walk's sigma

    @property
    def stats(self) -> dict[str, int]:
        return {**self.gjr.stats, "model_fits": self.model_fits, "fit_rows": self.m.split["fit_rows"],
                "calibration_rows": self.m.split["calibration_rows"]}  # fmt: skip

    def forecast(self, past: np.ndarray, refit: bool, rng: np.random.Generator) -> tuple[DayForecast, ...]:
        t = past.size
        if self.retrain_every and t - self.m.cut >= self.retrain_every:
            assert self.retrain is not None
            self._use(self.retrain(t))  # filter and GBM trained on rows before day t only
            self.model_fits += 1
        m = self.m
        if t < m.cut:
            raise ModelError(f"hybrid family: day {t} precedes the training cut {m.cut}")
        self.gjr.forecast(past, refit, rng)
        assert self.gjr.state is not None
        sigma = math.sqrt(self.gjr.state.variance) / SCALE
        i = t - m.cal_start
        v = sigma * float(m.q[t])
        if not np.isfinite(v):
            raise ModelError(f"hybrid family: no features for day {t}")
        self.v[i] = v
        lo = max(0, i - self.cal_window)
        window = scores(past[m.cal_start + lo :], self.v[lo:i])  # realised returns from `past` only
        cal = calibrate(window, m.alpha)
        draws = -v * rng.choice(window[np.isfinite(window)], self.sims) if self.sims else None
        return (DayForecast(cal.multiplier * v, cal.es_multiplier * v, draws),)


def prepare_hybrid(
    history: MarketHistory,
    n_returns: int,
    cfg: WalkForwardConfig,
    pool: Sequence[MarketHistory] = (),
    opts: HybridOptions = HybridOptions(),
    retrain_every: int = 0,
) -> HybridModel:
    """Train the residual model before the walk (lead + test days) and register the `hybrid` family
    (a variant with another name is registered as a family of that name); retrained every
    `retrain_every` walked days when > 0."""
    rows = ml_rows(history)
    if rows.x.shape[0] != n_returns + 1:
        raise ModelError(
            f"hybrid: {rows.x.shape[0]} feature rows for {n_returns} returns (expected one more)"
        )
    if retrain_every < 0:
        raise ModelError(f"hybrid: retrain_every = {retrain_every} days (0 = never, or > 0)")
    pooled = [ml_rows(h) for h in pool]
    model = train_hybrid(rows, n_returns - cfg.walk_days, cfg.alpha, pooled, opts)

    def retrain(t: int) -> HybridModel:
        return train_hybrid(rows, t, cfg.alpha, pooled, opts)

    def factory(c: WalkForwardConfig) -> HybridFamily:
        return HybridFamily(model, c.window, c.sims, opts.cal_window, opts.name, retrain, retrain_every)

    register_family(FAMILY if opts.name == MODEL else opts.name, factory, (opts.name,), replace=True)
    return model
