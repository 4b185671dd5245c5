"""`oracle-node cascade backtest`: validation (choose the ML config and each model's alert level),
then the out-of-sample test span, then metrics.json, forecasts.csv and report.html.

Validation and test are separate walk-forwards with the same rules; the test span is run once, with
what validation chose. Nothing of the test span enters a choice.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.cascade import metrics as mt
from oracle_node.research.cascade.data import MARKETS, LiquidationEvents, read_liquidation_usd
from oracle_node.research.cascade.features import FEATURES, QUANTILE, market_panel
from oracle_node.research.cascade.models import ML_CONFIGS
from oracle_node.research.cascade.walkforward import (
    CLIMATOLOGY,
    HAWKES,
    HAWKES_CAL,
    Forecasts,
    WalkSpan,
    walk_forward,
)
from oracle_node.research.training.ml_data import with_funding

WAVES = ("2021-05-19", "2022-01-21")
OUTPUTS = ("metrics.json", "forecasts.csv", "report.html")


@dataclass(frozen=True)
class CascadeOptions:
    val_start: str = "2021-03-15"
    test_start: str = "2021-05-01"
    end: str | None = None  # last forecast day; default: the last day whose 24 h the file covers
    refit_every: int = 14


def day_ts(day: str) -> float:
    return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def summarise(fc: Forecasts, levels: dict[str, float], events: LiquidationEvents) -> dict[str, Any]:
    clim = fc.arrays(CLIMATOLOGY)
    out: dict[str, Any] = {}
    for model in fc.models:
        a = fc.arrays(model)
        y = a["event"]
        row: dict[str, Any] = {"n": int(y.size), "events": int(y.sum()), "brier": mt.brier(a["p"], y),
                               "bss": mt.brier_skill(a["p"], clim["p"], y),
                               "bss_90ci": mt.bss_interval(a["p"], clim["p"], y, a["ts"]),
                               "reliability": mt.reliability(a["p"], y),
                               "alerts": mt.precision_recall(a["p"], y, levels[model]),
                               "usd": mt.usd_scores(a["e_usd"], a["next_usd"])}  # fmt: skip
        row["per_market"] = {}
        for m in MARKETS:
            b, c = fc.arrays(model, m), fc.arrays(CLIMATOLOGY, m)
            row["per_market"][m] = {
                "brier": mt.brier(b["p"], b["event"]), "bss": mt.brier_skill(b["p"], c["p"], b["event"]),
                "events": int(b["event"].sum()), "alerts": mt.precision_recall(b["p"], b["event"], levels[model]),
                "lead": {w: _lead(b, levels[model], w, events.market(m)) for w in WAVES},
            }  # fmt: skip
        out[model] = row
    return out


def _lead(a: dict[str, np.ndarray], level: float, wave: str, ev: LiquidationEvents) -> dict[str, Any]:
    w = day_ts(wave)
    at = np.flatnonzero(a["ts"] == w)
    if at.size == 0:
        return {"lead_days": None, "hours_to_crossing": None, "p_at_wave": None, "note": "not in the span"}
    res = mt.lead_time(a["ts"], a["p"], level, w, float(a["thr"][at[0]]), ev.ts, ev.usd)
    return res | {"event": bool(a["event"][at[0]])}


def _choose(val: Forecasts) -> tuple[str, dict[str, float], dict[str, float]]:
    brier = {}
    for c in ML_CONFIGS:
        a = val.arrays(f"ml_{c}")
        brier[c] = mt.brier(a["p"], a["event"])
    best = min(brier, key=brier.__getitem__)
    levels = {m: mt.choose_level(val.arrays(m)["p"], val.arrays(m)["event"]) for m in val.models}
    return best, brier, levels


def write_forecasts(fc: Forecasts, path: Path) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "market", "model", "p", "e_usd", "event", "next_usd", "thr"])
        for k in range(len(fc.ts)):
            w.writerow([iso(fc.ts[k]), fc.market[k], fc.model[k], f"{fc.p[k]:.6f}", f"{fc.e_usd[k]:.2f}",
                        int(fc.event[k]), f"{fc.next_usd[k]:.2f}", f"{fc.thr[k]:.2f}"])  # fmt: skip


def run_cascade(
    liquidations: Path, prices: Path, funding: Path | None, opts: CascadeOptions,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[dict[str, Any], Forecasts]:  # fmt: skip
    t0 = time.monotonic()
    events = read_liquidation_usd(liquidations)
    history = with_funding(load_prices(prices, "BTC-USD"), funding)
    panels = [market_panel(history, events, m) for m in MARKETS]
    last_day = float(np.max(panels[0].ts[np.isfinite(panels[0].daily.next_usd)]))
    end = last_day if opts.end is None else min(day_ts(opts.end), last_day)
    test0 = day_ts(opts.test_start)

    def step(name: str) -> Callable[[int, int], None] | None:
        return None if progress is None else (lambda done, total: progress(name, done, total))

    val = walk_forward(panels, events, WalkSpan(day_ts(opts.val_start), test0 - 86400.0, opts.refit_every,
                                                tuple(ML_CONFIGS)), step("validation"))  # fmt: skip
    best, val_brier, levels = _choose(val)
    test = walk_forward(panels, events, WalkSpan(test0, end, opts.refit_every, (best,)), step("test"))
    levels = {m: levels[m] for m in (CLIMATOLOGY, HAWKES, HAWKES_CAL, f"ml_{best}")}
    result = {
        "data": {"liquidations": str(liquidations), "events": int(events.ts.size), "usd_total": float(events.usd.sum()),
                 "first_event": iso(events.ts[0]), "last_event": iso(events.ts[-1]), "prices": str(prices),
                 "funding": None if funding is None else str(funding)},
        "threshold": f"expanding {QUANTILE:.0%} quantile of the market's daily liquidated USD (debt repaid)",
        "features": list(FEATURES),
        "spans": {"validation": [opts.val_start, iso(test0 - 86400.0)], "test": [opts.test_start, iso(end)],
                  "refit_every_days": opts.refit_every},
        "validation": {"ml_brier": val_brier, "ml_chosen": best, "alert_levels": levels,
                       "summary": summarise(val, {f"ml_{c}": 0.5 for c in ML_CONFIGS} | levels, events)},
        "test": summarise(test, levels, events),
        "hawkes_fits": [f | {"refit": iso(float(f["refit"]))} for f in test.hawkes_fits],
    }  # fmt: skip
    result["wall_seconds"] = time.monotonic() - t0
    return result, test
