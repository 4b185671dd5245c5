"""Fit the cascade add-on's artifact on data before a cut (default 2021-05-01): two pooled logits,
the add-on constants and the DebtRank scores (risk/cascade_addon.py, docs/cascade.md).

Rows: every hour t of the ETH and BTC markets (Binance hourly closes; collateral sets of data.MARKETS)
with features computed exactly as the node computes them at run time (`price_features` of the UTC
daily closes before t plus the price at t, i.e. the node's partial day; `liquidation_features` of
the market's events in (t - 24 h, t]). Target: the market's liquidated USD in (t, t + 24 h] exceeds
the 90th percentile of its completed UTC days before t (at least 30 days). Only rows whose 24 hours
end at or before the cut are used: nothing after the cut is read for fitting.

Choices, on data before the cut only:
1. fit on [first row, val_start), predict [val_start, cut - 24 h]: Brier against the training base rate;
2. p_ref = the training rows' base rate (rounded to 0.01): LT is lowered only when the forecast is
   above the unconditional rate. (The best-F1 level over 0.05..0.60, the backtest's rule, is reported
   but not used: on these rows it is 0.05, "always on", which would make the add-on a constant.)
   a_bp = max_addon_bp / (p99 - p_ref), p99 = the 99th percentile of the validation forecasts, so
   the add-on reaches its cap only on the most extreme 1 % of validation hours;
3. refit on every row before the cut; the constants stay.
b_bp (the systemic term) cannot be validated: the score is one number per collateral asset for the
whole window, so no out-of-sample variation exists to choose it on. It is set by judgement so that
the most systemic asset (WETH, S = 0.30 at a 30 % fall) carries a standing 30 bp, 6 % of the cap.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from oracle_node.errors import DataError
from oracle_node.research.cascade.data import MARKETS, LiquidationEvents
from oracle_node.research.cascade.network import Network, debtrank, scores
from oracle_node.risk.cascade_addon import (
    LIQ_FEATURES,
    MIN_CLOSES,
    PRICE_FEATURES,
    liquidation_features,
    price_features,
)
from oracle_node.sources.ohlcv import read_cdd_ohlcv

HOUR, DAY = 3600.0, 86400.0
C = 0.1  # the regularisation the daily backtest chose on its validation span (docs/cascade.md)
LEVELS = tuple(round(0.05 * k, 2) for k in range(1, 13))
MAX_ADDON_BP = 500
SYSTEMIC_SHOCK = 0.30
B_BP = 100.0
COLLATERAL = {"ETH": "WETH", "BTC": "WBTC"}


def utc(day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()


@dataclass(frozen=True, eq=False)
class Rows:
    market: np.ndarray
    ts: np.ndarray
    x: dict[str, np.ndarray]
    y: np.ndarray  # 1/0, NaN where unknown

    def take(self, keep: np.ndarray) -> Rows:
        return Rows(self.market[keep], self.ts[keep], {k: v[keep] for k, v in self.x.items()}, self.y[keep])

    def matrix(self, features: tuple[str, ...]) -> np.ndarray:
        return np.column_stack([self.x[f] for f in features])


def hourly_prices(path: Path) -> tuple[np.ndarray, np.ndarray]:
    bars = read_cdd_ohlcv(path).bars
    return np.array([b.ts for b in bars]), np.array([b.close for b in bars])


def day_usd(ev: LiquidationEvents, first_day: float, last_day: float) -> tuple[np.ndarray, np.ndarray]:
    """UTC days [first_day, last_day) and the USD liquidated in each [D, D + 1 day)."""
    days = np.arange(first_day, last_day, DAY)
    idx = np.searchsorted(days, ev.ts, side="right") - 1
    ok = (idx >= 0) & (ev.ts < last_day)
    return days, np.bincount(idx[ok], weights=ev.usd[ok], minlength=days.size)


def market_rows(
    market: str, pts: np.ndarray, px: np.ndarray, ev: LiquidationEvents, start: float, end: float
) -> Rows:
    """One market's hourly rows t in [start, end] (module docstring); target NaN past the events file."""
    own = ev.market(market)
    first_day = np.floor(ev.ts[0] / DAY) * DAY + DAY  # the first full day the file covers
    days, usd = day_usd(own, first_day, np.floor(ev.ts[-1] / DAY) * DAY)
    hours = pts[(pts >= start) & (pts <= end)]
    cum = np.r_[0.0, np.cumsum(own.usd)]
    xs: dict[str, list[float]] = {f: [] for f in (*PRICE_FEATURES, *LIQ_FEATURES)}
    y, kept = [], []
    for t in hours.tolist():
        partial = bool(t % DAY)
        mid = pts[(pts <= t) & (pts % DAY == 0)][-(MIN_CLOSES - int(partial)) :]
        close = px[np.searchsorted(pts, mid)]
        close = np.r_[close, px[np.searchsorted(pts, t)]] if partial else close
        past = usd[days + DAY <= t]
        if close.size < MIN_CLOSES or past.size < 30 or t <= first_day:
            continue
        x = price_features(close) | liquidation_features(own.ts, own.usd, t)
        for f, v in x.items():
            xs[f].append(v)
        lo, hi = np.searchsorted(own.ts, t, side="right"), np.searchsorted(own.ts, t + DAY, side="right")
        known = t + DAY <= ev.ts[-1]
        y.append(float(cum[hi] - cum[lo] > np.quantile(past, 0.9)) if known else np.nan)
        kept.append(t)
    n = len(kept)
    return Rows(np.full(n, market), np.array(kept), {f: np.array(v) for f, v in xs.items()}, np.array(y))


def all_rows(prices: dict[str, Path], ev: LiquidationEvents, start: float, end: float) -> Rows:
    parts = [market_rows(m, *hourly_prices(p), ev, start, end) for m, p in prices.items()]
    return Rows(
        np.concatenate([r.market for r in parts]),
        np.concatenate([r.ts for r in parts]),
        {f: np.concatenate([r.x[f] for r in parts]) for f in parts[0].x},
        np.concatenate([r.y for r in parts]),
    )


def fit_logit(rows: Rows, features: tuple[str, ...]) -> dict[str, object]:
    x = rows.matrix(features)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    clf = LogisticRegression(C=C, max_iter=1000).fit((x - mean) / scale, rows.y.astype(int))
    return {"features": list(features), "mean": mean.tolist(), "scale": scale.tolist(),
            "coef": clf.coef_[0].tolist(), "intercept": float(clf.intercept_[0])}  # fmt: skip


def predict(model: dict, rows: Rows) -> np.ndarray:
    x = (rows.matrix(tuple(model["features"])) - np.array(model["mean"])) / np.array(model["scale"])
    return 1.0 / (1.0 + np.exp(-(x @ np.array(model["coef"]) + model["intercept"])))


def f1(p: np.ndarray, y: np.ndarray, level: float) -> float:
    alert = p >= level
    tp = float((alert & (y == 1)).sum())
    return 0.0 if tp == 0 else 2 * tp / (alert.sum() + (y == 1).sum())


def choose(model: dict, val: Rows, base_rate: float) -> dict[str, float]:
    p = predict(model, val)
    best = max(LEVELS, key=lambda lv: (f1(p, val.y, lv), -lv))
    p_ref, p99 = round(base_rate, 2), float(np.quantile(p, 0.99))
    return {"brier": float(np.mean((p - val.y) ** 2)), "brier_climatology": float(np.mean((base_rate - val.y) ** 2)),
            "best_f1_level": best, "f1_at_best": f1(p, val.y, best), "f1_at_p_ref": f1(p, val.y, p_ref),
            "share_above_p_ref": float(np.mean(p > p_ref)), "p_ref": p_ref, "p99": p99,
            "a_bp": MAX_ADDON_BP / max(p99 - p_ref, 0.05)}  # fmt: skip


def fit_artifact(
    prices: dict[str, Path], ev: LiquidationEvents, val_start: str, cut: str
) -> tuple[dict, dict]:
    """(artifact document, fit report): module docstring."""
    t_val, t_cut = utc(val_start), utc(cut)
    before = ev.until(t_cut - 1e-6)
    if before.ts.size == 0:
        raise DataError(ev.path, None, "--cut", cut, "no liquidation event before the cut")
    rows = all_rows(prices, before, float(before.ts[0]), t_cut - DAY)
    rows = rows.take(np.isfinite(rows.y) & (rows.ts + DAY <= t_cut))
    train, val = rows.take(rows.ts < t_val), rows.take(rows.ts >= t_val)
    for span, part in (("training", train), ("validation", val)):
        if part.y.size == 0 or part.y.min() == part.y.max():
            why = f"the {span} span has {part.y.size} rows and needs both outcomes (prices and events must cover it)"
            raise DataError(ev.path, None, "--val-start", val_start, why)
    sets = {"full": (*PRICE_FEATURES, *LIQ_FEATURES), "price_only": PRICE_FEATURES}
    report: dict[str, object] = {"rows": {"train": int(train.y.size), "validation": int(val.y.size),
                                          "train_events": int(train.y.sum()), "validation_events": int(val.y.sum())}}  # fmt: skip
    models, addon = {}, {}
    for name, feats in sets.items():
        chosen = choose(fit_logit(train, feats), val, float(train.y.mean()))
        report[name] = chosen
        models[name] = fit_logit(rows, feats)
        addon[name] = {"p_ref": chosen["p_ref"], "a_bp": round(chosen["a_bp"], 3)}
    net = Network.from_events(before)
    systemic = {COLLATERAL[m]: round(debtrank(net, COLLATERAL[m], SYSTEMIC_SHOCK), 6) for m in COLLATERAL}
    report["network"] = {"assets": len(net.assets), "usd": round(float(net.w.sum()), 2), "top_edges": net.edges(12),
                         "scores": scores(net, tuple(a for a in net.assets if net.w[net.assets.index(a)].sum() > 0))}  # fmt: skip
    doc = {"schema": "mlra.cascade_addon/1", "fitted_before": cut, "validation_start": val_start,
           "rows": int(rows.y.size), "C": C, "models": models,
           "addon": {"by_model": addon, "b_bp": B_BP, "max_addon_bp": MAX_ADDON_BP},
           "systemic": {"shock": SYSTEMIC_SHOCK, "scores": systemic, "markets": {m: list(MARKETS[m] or ()) for m in COLLATERAL}}}  # fmt: skip
    return doc, report


def write_artifact(doc: dict, out: Path) -> str:
    raw = (json.dumps(doc, sort_keys=True, indent=1) + "\n").encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(raw)
    return hashlib.sha256(raw).hexdigest()
