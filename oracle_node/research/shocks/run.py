"""`oracle-node shock-backtest`: choose on validation, then walk forward over the test period and score.

Methods scored on each period: `ml` (the served candidate), `trees` (the best gradient-boosted
candidate, comparison only), `fixed` (Deribit +50 %/-25 %) and `empirical` (rolling window chosen on
validation). The validation figures are those of the chosen configurations, so they are optimistic
by construction; the test figures are the out-of-sample result.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from oracle_node.models.manifest import sha256_file
from oracle_node.options.shock_features import FEATURES, ShockFrame, ShockInputs, build_features
from oracle_node.options.shocks import BUNDLED_DIR, DVOL_FILE, FIXED_UP, FUNDING_FILE, bundled_inputs
from oracle_node.research.shocks import baselines
from oracle_node.research.shocks.metrics import SIDES, dm_test, pooled_pinball, side_metrics
from oracle_node.research.shocks.models import candidates
from oracle_node.research.shocks.select import Selection, ShockOptions, select
from oracle_node.research.shocks.walkforward import Split, candidate_fitter, split, walk_forward

UP_SHOCK_CUT = 0.30  # target: the mean up-shock at least 30 % below the fixed one
KUPIEC_P = 0.05
BASELINES = ("fixed", "empirical")


@dataclass(frozen=True)
class DataFiles:
    dvol: Path | None = None
    prices: Path | None = None
    funding: Path | None = None

    def load(self) -> ShockInputs:
        return bundled_inputs(
            self.dvol, str(self.prices) if self.prices else "bundled:btc_usd_daily", self.funding
        )

    def describe(self) -> dict[str, str]:
        files = {
            "dvol": self.dvol or BUNDLED_DIR / DVOL_FILE,
            "prices": self.prices or BUNDLED_DIR / "btc_usd_daily_2015_2026.csv.gz",
            "funding": self.funding or BUNDLED_DIR / FUNDING_FILE,
        }
        return {k: f"{Path(p).name} sha256 {sha256_file(Path(p))}" for k, p in files.items()}


def forecasts(frame: ShockFrame, rows: np.ndarray, sel: Selection, opts: ShockOptions) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    models = {"ml": sel.served, "trees": sel.trees}
    for name, c in models.items():
        if c is not None:
            out[name] = walk_forward(
                frame, rows, candidate_fitter(c, opts.level, opts.horizon), opts.refit_every
            )
    out["fixed"] = baselines.fixed(rows.size)
    out["empirical"] = baselines.empirical(frame.day, frame.y, rows, opts.horizon, sel.window, opts.level)
    return out


def score(y: np.ndarray, fc: dict[str, tuple], opts: ShockOptions) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (up, down) in fc.items():
        out[name] = {s: side_metrics(y, q, s, opts.level) for s, q in zip(SIDES, (up, down), strict=True)}
    for name in ("ml", "trees"):
        if name in fc:
            for b in BASELINES:
                for k, s in enumerate(SIDES):
                    dm = dm_test(y, fc[name][k], fc[b][k], s, opts.level, opts.horizon)
                    out[name][s][f"dm_vs_{b}"] = dm
    return out


def targets(m: dict[str, Any]) -> dict[str, Any]:
    ml, fixed = m["ml"], m["fixed"]
    out: dict[str, Any] = {}
    for s in SIDES:
        out[f"kupiec_passes_{s}"] = ml[s]["kupiec_p"] >= KUPIEC_P
        for b in BASELINES:
            out[f"pinball_beats_{b}_{s}"] = ml[s]["pinball"] < m[b][s]["pinball"]
    cut = 1.0 - ml["up"]["mean_shock"] / FIXED_UP
    out["mean_up_shock_cut_vs_fixed"] = cut
    out["mean_up_shock_30pct_smaller"] = cut >= UP_SHOCK_CUT
    out["coverage_note"] = (
        f"up exceedances: ml {ml['up']['exceedances']} vs fixed {fixed['up']['exceedances']} "
        f"(expected {ml['up']['expected']}); the fixed shock over-covers (Kupiec p {fixed['up']['kupiec_p']:.3g})"
    )
    return out


def timing_check(frame: ShockFrame) -> dict[str, float]:
    """corr(|BTC return of D|, DVOL change D-1 -> D) and (.., D -> D+1): DVOL labelled D is end-of-day."""
    a, c1 = frame.columns(("abs_ret_z",))[:, 0], frame.columns(("dvol_chg_1d",))[:, 0]
    nxt = np.r_[c1[1:], np.nan]
    ok1, ok2 = np.isfinite(a) & np.isfinite(c1), np.isfinite(a) & np.isfinite(nxt)
    return {
        "corr_absret_same_day_dvol_change": float(np.corrcoef(a[ok1], c1[ok1])[0, 1]),
        "corr_absret_next_day_dvol_change": float(np.corrcoef(a[ok2], nxt[ok2])[0, 1]),
    }


def robustness(frame: ShockFrame, rows: np.ndarray, opts: ShockOptions) -> dict[str, Any]:
    """Every candidate on the test period: how lucky was the validation choice? (Used for no choice.)"""
    y = frame.y[rows]
    out: dict[str, Any] = {}
    for c in candidates():
        up, down = walk_forward(frame, rows, candidate_fitter(c, opts.level, opts.horizon), opts.refit_every)
        out[c.name] = {
            "pooled_pinball": pooled_pinball(y, up, down, opts.level),
            "exceedances_up": int(np.sum(y > up)),
            "exceedances_down": int(np.sum(y < down)),
        }
    return dict(sorted(out.items(), key=lambda kv: kv[1]["pooled_pinball"]))


@dataclass(frozen=True)
class BacktestResult:
    metrics: dict[str, Any]
    frame: ShockFrame
    split: Split
    forecasts: dict[str, dict[str, tuple]]


def run_backtest(data: DataFiles, opts: ShockOptions) -> BacktestResult:
    t0 = time.perf_counter()
    frame = build_features(data.load(), opts.horizon)
    sp = split(frame, opts.val_days, opts.test_days)
    sel = select(frame, sp.val, opts)
    periods = {"validation": sp.val, "test": sp.test}
    fcs = {name: forecasts(frame, rows, sel, opts) for name, rows in periods.items()}
    scores = {name: score(frame.y[rows], fcs[name], opts) for name, rows in periods.items()}
    both = np.r_[sp.val, sp.test]
    joined = {
        m: tuple(np.r_[fcs["validation"][m][k], fcs["test"][m][k]] for k in (0, 1)) for m in fcs["test"]
    }
    scores["validation+test"] = score(frame.y[both], joined, opts)
    metrics = {
        "target": f"ln(DVOL[t+h]/DVOL[t]), h = {opts.horizon} day(s); quantiles {opts.level} (up) and "
        f"{1 - opts.level:.2g} (down); BTC only (DVOL data)",
        "options": asdict(opts),
        "data": data.describe(),
        "features": list(FEATURES),
        "timing_check": timing_check(frame),
        "periods": sp.describe(frame.day),
        "selection": sel.to_json(),
        "scores": scores,
        "targets_on_test": targets(scores["test"]),
        "robustness_test_all_candidates": robustness(frame, sp.test, opts),
        "wall_seconds": round(time.perf_counter() - t0, 1),
    }
    return BacktestResult(metrics, frame, sp, fcs)
