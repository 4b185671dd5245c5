"""`oracle-node cascade replay`: the node's LT with the cascade add-on, hour by hour (issue 13, item 4).

Drives the node's own pipeline (`service.wiring.build_pipeline`, as `stability` and `replay` do):
daily warm-up history of each hourly price file up to --from, then one round per hour with the ticks
a demo node sees (the real venue plus the derived venues of `sources.synthetic`), the bundled
RiskModel, the risk layer and the add-on (markets[].cascade.enabled). Before each round the
pipeline's liquidation feed gets the events of the market's collateral at or before the round's time
(`LiquidationEvents.until`): no look-ahead. Each round's wanted parameters are fitted into the DAO's
bounds of deploy/local.yaml (BOUNDS below: LT floor 5000, ceiling 9500 / 9000, max change 500 bp per
update) with `risk.project`, stored = the previous round's published set (hourly heartbeat: one
update per hour). The same projection runs for the static LT (the add-on put back), so both paths
obey the same max-change rule.

Static vs dynamic (what the event data support): the events give each liquidation's time and size,
not the borrowers' health factors, so no position can be re-simulated under another LT. The estimate
is the USD of liquidations that happened while the published dynamic LT had already been below the
static LT by at least GAP_BP for at least LEAD_HOURS hours: the part a protocol using the dynamic LT
would have reached earlier (those positions crossed the lower threshold first; margin calls or
smaller partial liquidations could have pre-empted them). It is an upper bound on "pre-empted", not
an estimate of losses avoided (that needs positions and depth).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from oracle_node.config import NodeConfig
from oracle_node.research.cascade.data import LiquidationEvents
from oracle_node.risk.project import project
from oracle_node.service.wiring import build_pipeline
from oracle_node.sources.ohlcv import read_cdd_ohlcv
from oracle_node.sources.synthetic import window_ticks
from oracle_node.types import FieldBounds, OnchainBounds, RiskParamsBps

HOUR = 3600.0
GAP_BP = 100
LEAD_HOURS = 6
MARKETS = {"ETH-USD": "ETH", "BTC-USD": "BTC"}  # node market -> research market (collateral set)
_RELATIVE = 0b11111  # volatility, var99, es99, IM, MM: max_change relative (deploy/local.yaml)


def _bounds(
    vol: tuple[int, int],
    var: tuple[int, int],
    es: tuple[int, int],
    im: int,
    mm: int,
    lt_ceiling: int,
    min_interval: int,
) -> OnchainBounds:
    f = FieldBounds
    return OnchainBounds((f(*vol, 5000), f(*var, 5000), f(*es, 5000), f(im, 10000, 5000), f(mm, 8000, 5000),
                          f(5000, lt_ceiling, 500), f(0, 10000, 3000), f(0, 10000, 65535)), _RELATIVE, min_interval)  # fmt: skip


BOUNDS = {  # deploy/local.yaml profiles 0 (BTC-USD) and 1 (ETH-USD)
    "BTC-USD": _bounds((1000, 40000), (50, 5000), (60, 6000), 200, 100, 9500, 1),
    "ETH-USD": _bounds((1500, 45000), (75, 6000), (90, 7000), 300, 150, 9000, 60),
}


@dataclass(frozen=True)
class Hour:
    market: str
    ts: float
    price: float
    p_cascade: float
    addon_bp: int
    lt_wanted: int  # dynamic, before bounds
    lt_dynamic: int  # published (after bounds)
    lt_static: int  # the same without the add-on, after bounds
    liq_usd: float  # liquidated in (ts - 1 h, ts]
    model: str


def _config(prices: dict[str, Path]) -> NodeConfig:
    markets = [{"id": m, "history": str(p), "cascade": {"enabled": True}} for m, p in prices.items()]
    return NodeConfig(
        node_name="cascade-replay", markets=markets, service={"store_path": Path("unused.sqlite")}
    )


def replay_hours(
    prices: dict[str, Path], events: LiquidationEvents, start: float, end: float, feed: bool = True
) -> list[Hour]:
    """One Hour per market and round with a bar in [start, end) (module docstring)."""
    cfg = _config(prices)
    pipeline = build_pipeline(cfg, list(prices), start)
    ticks = sorted(
        (t for m, p in prices.items() for t in window_ticks(m, read_cdd_ohlcv(p).bars, start - HOUR, end)),
        key=lambda t: t.ts,
    )
    own = {m: events.market(MARKETS[m]) for m in prices}
    stored: dict[str, tuple[RiskParamsBps | None, RiskParamsBps | None]] = dict.fromkeys(prices, (None, None))
    out: list[Hour] = []
    i = 0
    while i < len(ticks):
        ts, j = ticks[i].ts, i
        while j < len(ticks) and ticks[j].ts == ts:
            j += 1
        for m, ev in own.items():
            if feed:
                known = ev.until(ts)
                pipeline.feed_liquidations(m, known.ts, known.usd)
        for o in pipeline.step(ts, ticks[i:j]):
            if o.risk is not None and o.cascade is not None:
                out.append(_hour(o, stored, own[o.market]))
            pipeline.settle(o, published=o.would_publish)
        i = j
    return out


def _hour(o, stored, ev: LiquidationEvents) -> Hour:
    wanted = o.risk.params
    static_wanted = replace(wanted, liquidation_threshold=min(wanted.liquidation_threshold + o.cascade.addon_bp, 10000 - wanted.maintenance_margin))  # fmt: skip
    prev_dyn, prev_static = stored[o.market]
    dyn = project(o.market, wanted, prev_dyn, BOUNDS[o.market]).params
    sta = project(o.market, static_wanted, prev_static, BOUNDS[o.market]).params
    stored[o.market] = (dyn, sta)
    hour = (ev.ts > o.ts - HOUR) & (ev.ts <= o.ts)
    return Hour(o.market, o.ts, float(o.guard.aggregate_price), o.cascade.p_cascade, o.cascade.addon_bp,
                wanted.liquidation_threshold, dyn.liquidation_threshold, sta.liquidation_threshold,
                float(ev.usd[hour].sum()), o.cascade.model)  # fmt: skip


def pre_empted(
    hours: list[Hour],
    events: LiquidationEvents,
    market: str,
    gap_bp: int = GAP_BP,
    lead_hours: int = LEAD_HOURS,
) -> dict[str, float]:
    """USD liquidated in the window, and the part that came while static - dynamic LT >= gap_bp had held
    for >= lead_hours consecutive rounds (module docstring)."""
    rows = [h for h in hours if h.market == market]
    run, lowered = 0, []
    for h in rows:
        run = run + 1 if h.lt_static - h.lt_dynamic >= gap_bp else 0
        lowered.append(run >= lead_hours)
    total = sum(h.liq_usd for h in rows)
    hit = sum(h.liq_usd for h, flag in zip(rows, lowered, strict=True) if flag)
    return {"usd_total": round(total, 2), "usd_pre_empted": round(hit, 2),
            "share": round(hit / total, 4) if total else None, "hours_lowered": int(sum(lowered)),
            "gap_bp": gap_bp, "lead_hours": lead_hours}  # fmt: skip


def summary(hours: list[Hour], events: LiquidationEvents, started: float) -> dict[str, object]:
    out: dict[str, object] = {}
    for m in sorted({h.market for h in hours}):
        rows = [h for h in hours if h.market == m]
        p = np.array([h.p_cascade for h in rows])
        out[m] = {
            "rounds": len(rows),
            "p_cascade": {
                "min": round(float(p.min()), 4),
                "max": round(float(p.max()), 4),
                "mean": round(float(p.mean()), 4),
            },
            "addon_bp_max": max(h.addon_bp for h in rows),
            "lt_dynamic": {"min": min(h.lt_dynamic for h in rows), "max": max(h.lt_dynamic for h in rows)},
            "lt_static": {"min": min(h.lt_static for h in rows), "max": max(h.lt_static for h in rows)},
            "max_gap_bp": max(h.lt_static - h.lt_dynamic for h in rows),
            "bounded_rounds": sum(h.lt_dynamic != h.lt_wanted for h in rows),
            "models": sorted({h.model for h in rows}),
            "estimate": pre_empted(hours, events, m),
            "sensitivity": [pre_empted(hours, events, m, g, n) for g in (50, 100, 200) for n in (1, 6, 12)],
        }
    out["wall_seconds"] = round(time.perf_counter() - started, 1)
    return out
