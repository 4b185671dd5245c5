"""Walk-forward, out of sample: every `refit_every` days the ML models and the Hawkes fits are
refitted on what is known at that close (rows whose 24-hour target ended by then; events up to
then); every day each market gets one forecast per model from that day's data only (the block's
ML forecasts are computed in one batch: the same numbers as day by day, since a row holds only
its own day's features).

Forecasts are rows (market, ts, model, p, e_usd, event, next_usd, thr); `event`, `next_usd` are
the outcomes, used only by the metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from oracle_node.research.cascade.data import LiquidationEvents
from oracle_node.research.cascade.features import MarketPanel
from oracle_node.research.cascade.models import (
    DAY,
    HawkesCalibration,
    HawkesModel,
    MlModel,
    climatology,
    hawkes_expected,
)

CLIMATOLOGY, HAWKES, HAWKES_CAL = "climatology", "hawkes", "hawkes_cal"


@dataclass(frozen=True)
class WalkSpan:
    start: float  # first forecast close (unix s)
    end: float  # last forecast close
    refit_every: int = 14
    ml_configs: tuple[str, ...] = ("logit_c0.1",)


@dataclass
class Forecasts:
    market: list[str] = field(default_factory=list)
    ts: list[float] = field(default_factory=list)
    model: list[str] = field(default_factory=list)
    p: list[float] = field(default_factory=list)
    e_usd: list[float] = field(default_factory=list)
    event: list[float] = field(default_factory=list)
    next_usd: list[float] = field(default_factory=list)
    thr: list[float] = field(default_factory=list)
    hawkes_fits: list[dict[str, float | str]] = field(default_factory=list)  # one per (refit, market)

    def add(self, panel: MarketPanel, i: int, model: str, p: float, e_usd: float) -> None:
        self.market.append(panel.market)
        self.ts.append(float(panel.ts[i]))
        self.model.append(model)
        self.p.append(float(p))
        self.e_usd.append(float(e_usd))
        self.event.append(float(panel.event[i]))
        self.next_usd.append(float(panel.daily.next_usd[i]))
        self.thr.append(float(panel.thr[i]))

    def arrays(self, model: str, market: str | None = None) -> dict[str, np.ndarray]:
        keep = [
            k for k, m in enumerate(self.model) if m == model and (market is None or self.market[k] == market)
        ]
        cols = ("ts", "p", "e_usd", "event", "next_usd", "thr")
        out = {c: np.array([getattr(self, c)[k] for k in keep], dtype=float) for c in cols}
        out["market"] = np.array([self.market[k] for k in keep])
        return out

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(self.model))


def design(panels: Sequence[MarketPanel], rows: Sequence[np.ndarray]) -> np.ndarray:
    """Pooled feature rows plus a one-hot market column for every market but the last."""
    blocks = []
    for k, (panel, idx) in enumerate(zip(panels, rows, strict=True)):
        onehot = np.zeros((idx.size, len(panels) - 1))
        if k < len(panels) - 1:
            onehot[:, k] = 1.0
        blocks.append(np.column_stack([panel.x[idx], onehot]))
    return np.vstack(blocks)


def _known(panel: MarketPanel, now: float) -> np.ndarray:
    """Rows whose target ended by `now` and whose event is defined."""
    return np.flatnonzero((panel.ts + DAY <= now) & np.isfinite(panel.event))


def _fit_ml(panels: Sequence[MarketPanel], now: float, config: str) -> MlModel:
    rows = [_known(p, now) for p in panels]
    x = design(panels, rows)
    event = np.concatenate([p.event[r] for p, r in zip(panels, rows, strict=True)])
    usd = np.concatenate([p.daily.next_usd[r] for p, r in zip(panels, rows, strict=True)])
    return MlModel.fit(config, x, event, usd)


def _block(
    panels: Sequence[MarketPanel], events: LiquidationEvents, span: WalkSpan, block: list[int], out: Forecasts
) -> None:
    """Refit at the block's first close, then forecast each of its days (ML in one batch per market)."""
    ts = panels[0].ts
    now = float(ts[block[0]])
    origin = float(events.ts[0])
    ml = {c: _fit_ml(panels, now, c) for c in span.ml_configs}
    idx = np.array(block)
    for k, panel in enumerate(panels):
        ev = events.market(panel.market)
        hawkes = HawkesModel.fit(ev.ts, ev.usd, origin, now)
        hp = hawkes.params
        out.hawkes_fits.append({"refit": now, "market": panel.market, "mu": hp.mu, "alpha": hp.alpha,
                                "beta": hp.beta, "branching": hp.branching, "events": int((ev.ts <= now).sum())})  # fmt: skip
        known = _known(panel, now)
        cal = HawkesCalibration.fit(
            hawkes_expected(hawkes, ev.ts, ts[known]), panel.thr[known], panel.event[known]
        )
        cal_p = cal.forecast(hawkes_expected(hawkes, ev.ts, ts[idx]), panel.thr[idx])
        rows = design(panels, [idx if q is panel else np.array([], int) for q in panels])
        ml_out = {c: m.forecast(rows) for c, m in ml.items()}
        for j, i in enumerate(block):
            day = float(ts[i])
            nxt = panel.daily.next_usd
            out.add(
                panel,
                i,
                CLIMATOLOGY,
                *climatology(nxt[(panel.ts + DAY <= day) & np.isfinite(nxt)], float(panel.thr[i])),
            )
            p, e_usd = hawkes.forecast(ev.ts, day, float(panel.thr[i]), int(day) * 8 + k)
            out.add(panel, i, HAWKES, p, e_usd)
            out.add(panel, i, HAWKES_CAL, float(cal_p[j]), e_usd)
            for c, (mp, me) in ml_out.items():
                out.add(panel, i, f"ml_{c}", float(mp[j]), float(me[j]))


def walk_forward(
    panels: Sequence[MarketPanel],
    events: LiquidationEvents,
    span: WalkSpan,
    progress: Callable[[int, int], None] | None = None,
) -> Forecasts:
    """Forecast every day in [span.start, span.end] whose outcome and threshold are defined."""
    ts = panels[0].ts
    days = [
        i
        for i in range(ts.size)
        if span.start <= ts[i] <= span.end and all(np.isfinite(p.event[i]) for p in panels)
    ]
    out = Forecasts()
    with threadpool_limits(limits=1):  # small fits: threads only contend (a shared machine)
        for b in range(0, len(days), span.refit_every):
            _block(panels, events, span, days[b : b + span.refit_every], out)
            if progress is not None:
                progress(min(b + span.refit_every, len(days)), len(days))
    return out
