"""One round of the node's computation for every market: guard -> history -> model -> risk -> trigger.

Pure of I/O: ticks come in, outcomes go out. `run`, `once`, `replay` and the benchmark all call
`NodePipeline.step`, so what the replay shows is what the daemon would publish.

A market's outcome is one of
- published candidate: params computed and the trigger says publish (`would_publish`);
- quiet: params computed, no trigger;
- degraded: the guard had no quorum, nothing is computed or published (never an average of two
  disagreeing sources); the last published values stay on-chain and age, and consumers fail closed
  on their max age;
- error: the model could not forecast, or the risk layer refused an invalid input (named in `error`).

A market the guard priced and the model forecast always gets params: when the model wants a value no
field can carry (an extreme move), the risk layer publishes the most conservative representable set
instead, flags it `capped_unrepresentable` (in `flags`, with a reduced confidence) and this module
logs `params_capped` with each capped field's wanted and published values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from oracle_node.config import NodeConfig
from oracle_node.errors import BoundsViolation, DataError, ModelError
from oracle_node.explain.attribute import Attributor
from oracle_node.explain.record import encode, parse, with_cascade
from oracle_node.features.history import MarketHistory
from oracle_node.guard import GuardResult, GuardState, evaluate
from oracle_node.logs import get_logger
from oracle_node.models.ensemble import RiskModel
from oracle_node.models.forecast import Forecast
from oracle_node.risk import RiskInput, RiskResult, compute_many
from oracle_node.risk.cascade_addon import CascadeAddon, bundled_model, cascade_addon
from oracle_node.risk.score import horizon_days, reference_move
from oracle_node.service.histories import HistoryBook
from oracle_node.service.triggers import TriggerDecision, TriggerState, after_decision, decide
from oracle_node.sources.pool_summary import PoolSummary
from oracle_node.sources.tick import Tick
from oracle_node.types import RISK_FIELDS, RiskParamsBps

MIN_HISTORY_DAYS = 3

log = get_logger(__name__)


@dataclass(frozen=True)
class MarketOutcome:
    market: str
    ts: float
    guard: GuardResult
    forecast: Forecast | None = None
    risk: RiskResult | None = None
    decision: TriggerDecision | None = None
    error: str | None = None
    cascade: CascadeAddon | None = None  # the LT add-on when the market's cascade block is enabled

    @property
    def would_publish(self) -> bool:
        return self.risk is not None and self.decision is not None and self.decision.publish

    @property
    def flags(self) -> frozenset[str]:
        """Every flag of the round: the guard's, the model's and the risk layer's."""
        model = self.forecast.flags if self.forecast else frozenset()
        risk = self.risk.flags if self.risk else frozenset()
        cascade = self.cascade.flags if self.cascade else frozenset()
        return frozenset(self.guard.flags) | model | risk | cascade

    def to_json_dict(self) -> dict[str, Any]:
        g = self.guard
        params = None
        if self.risk is not None:
            params = dict(zip(RISK_FIELDS, self.risk.params.as_tuple(), strict=True))
        out = {
            "ts": self.ts,
            "market": self.market,
            "aggregate_price": g.aggregate_price,
            "accepted_sources": sorted(g.accepted),
            "rejected": g.reasons(),
            "flags": sorted(self.flags),
            "capped": _capped_json(self.risk),
            "confidence": (self.risk.params.confidence / 10_000) if self.risk else round(g.confidence, 4),
            "params": params,
            "would_publish": self.would_publish,
            "trigger": self.decision.reason if self.decision else None,
            "model": self.forecast.model if self.forecast else None,
            "error": self.error,
        }
        if self.cascade is not None:
            c = self.cascade
            out["cascade"] = {"addon_bp": c.addon_bp, "p_cascade": round(c.p_cascade, 6), "p_ref": c.p_ref,
                              "systemic": c.systemic, "model": c.model}  # fmt: skip
        return out


@dataclass
class _MarketState:
    guard: GuardState | None = None
    trigger: TriggerState = field(default_factory=TriggerState)
    latest: dict[str, Tick] = field(default_factory=dict)
    # Each source's tick volumes since the last round: a round that catches up over several ticks (a
    # node joining a replay late, or one that skipped a round) counts all of them, so the day's volume
    # does not depend on which rounds a node happened to observe.
    new_volume: dict[str, float] = field(default_factory=dict)


class NodePipeline:
    """Holds per-market state between rounds; `step` runs one round for all markets seen so far."""

    def __init__(self, cfg: NodeConfig, model: RiskModel, book: HistoryBook) -> None:
        self.cfg = cfg
        self.model = model
        self.book = book
        self.attributor = Attributor(model)  # shap's import (~2 s) at start-up, not in a round
        self._state: dict[str, _MarketState] = {}
        self._liquidations: dict[str, tuple[Any, Any]] = {}  # market -> (event ts, USD): a configured feed
        self._addons: dict[str, CascadeAddon] = {}  # this round's cascade add-ons
        self._histories: dict[str, MarketHistory] = {}  # this round's snapshots (model, add-on, score)
        self._pools: dict[str, PoolSummary] = {}  # market -> the latest fresh pool-state summary

    def feed_liquidations(self, market: str, ts: Any, usd: Any) -> None:
        """The liquidations of the market's collateral known now (a liquidation feed); without a call, or
        after a call with ts None (the live feed went stale), the cascade add-on runs price-only and says
        so (flag cascade_no_liquidation_feed)."""
        if ts is None:
            self._liquidations.pop(market, None)
        else:
            self._liquidations[market] = (ts, usd)

    def feed_pool_state(self, market: str, summary: PoolSummary | None) -> None:
        """The lending pool's summary for the market's collateral (None: no fresh read). The add-on's
        model does not use it; the attribution record's cascade part carries it (bound into inputsHash)."""
        if summary is None:
            self._pools.pop(market, None)
        else:
            self._pools[market] = summary

    def pool_state(self, market: str) -> PoolSummary | None:
        return self._pools.get(market)

    def markets(self) -> list[str]:
        return sorted(self._state)

    def step(
        self, now: float, ticks: Iterable[Tick], only: Iterable[str] | None = None
    ) -> list[MarketOutcome]:
        """One round at time `now` with the new ticks; `only` limits it to some markets (per-market jobs)."""
        for tick in ticks:
            st = self._state.setdefault(tick.market, _MarketState())
            st.latest[tick.source] = tick
            if tick.volume is not None and math.isfinite(tick.volume):
                st.new_volume[tick.source] = st.new_volume.get(tick.source, 0.0) + tick.volume
        wanted = sorted(self._state) if only is None else sorted(set(only) & set(self._state))
        guarded = {m: self._guard(m, now) for m in wanted}
        priced = [m for m, g in guarded.items() if not g.degraded]
        # One snapshot per market and round: the book does not change again before the next step.
        self._histories = {m: h for m in priced if (h := self.book.snapshot(m)) is not None}
        forecasts, errors = self._forecast(priced)
        self._addons = {m: a for m in forecasts if (a := self._cascade(m, now)) is not None}
        risks = self._risk(forecasts, guarded, errors)
        return [
            self._outcome(m, now, g, forecasts.get(m), risks.get(m), errors.get(m))
            for m, g in guarded.items()
        ]

    def _cascade(self, market: str, now: float) -> CascadeAddon | None:
        c = self.cfg.market(market).cascade
        h = self._histories.get(market) if c.enabled else None
        if h is None:
            return None
        addon = cascade_addon(
            bundled_model(), h.close, c.asset(market), c.max_addon_bp, self._liquidations.get(market), now
        )
        log.info("cascade_addon", market=market, addon_bp=addon.addon_bp, p_cascade=round(addon.p_cascade, 4),
                 model=addon.model, flags=sorted(addon.flags))  # fmt: skip
        return addon

    def attributions(self, outcomes: Iterable[MarketOutcome]) -> dict[str, bytes]:
        """Attribution records (explain/record.py) of these outcomes' forecasts, from the histories of
        the round just stepped (call before the next `step`)."""
        outcomes = list(outcomes)
        published = {o.market: o.forecast for o in outcomes if o.forecast is not None}
        histories = [h for h in (self.book.snapshot(m) for m in sorted(published)) if h is not None]
        records = self.attributor.records(histories, published)
        cascades = {o.market: o.cascade for o in outcomes if o.cascade is not None}
        return {m: self._with_cascade(m, r, cascades[m]) if m in cascades else r for m, r in records.items()}

    def _with_cascade(self, market: str, record: bytes, addon: CascadeAddon) -> bytes:
        """The record's cascade part, with the pool summary ("pool") when a fresh one was fed."""
        record = with_cascade(record, addon)
        if market not in self._pools:
            return record
        doc = parse(record)
        doc["cascade"]["pool"] = self._pools[market].record()
        return encode(doc)

    def settle(self, outcome: MarketOutcome, *, published: bool, params: RiskParamsBps | None = None) -> None:
        """Advance the trigger after a round: published means the market's report landed, with `params`
        when what landed differs from what the model wanted (held back by the DAO's bounds; the next
        rounds then keep stepping towards the target).

        A wanted publish that did not land leaves the trigger as it was, so the next round retries.
        """
        st, mcfg = self._state[outcome.market], self.cfg.market(outcome.market)
        if outcome.risk is None or outcome.decision is None or (outcome.decision.publish and not published):
            return
        st.trigger = after_decision(
            st.trigger,
            decision=outcome.decision,
            params=params or outcome.risk.params,
            now=outcome.ts,
            deviation_bps=mcfg.deviation_bps,
            hysteresis_bps=mcfg.hysteresis_bps,
        )

    def _guard(self, market: str, now: float) -> GuardResult:
        st = self._state[market]
        result = evaluate(market, list(st.latest.values()), now, st.guard, self.cfg.guard)
        st.guard = result.state
        volumes = [st.new_volume[s] for s in result.accepted if s in st.new_volume]
        st.new_volume = {}
        if result.aggregate_price is not None:
            vol = median(volumes) if volumes else None  # a representative venue, not the sum of venues
            self.book.observe(market, now, result.aggregate_price, vol)
        return result

    def _forecast(self, markets: list[str]) -> tuple[dict[str, Forecast], dict[str, str]]:
        histories, errors = [], {}
        for m in markets:
            h = self._histories.get(m)
            if h is None or len(h) < MIN_HISTORY_DAYS:
                errors[m] = f"model: need {MIN_HISTORY_DAYS} daily closes, have {0 if h is None else len(h)}"
            else:
                histories.append(h)
        try:
            return self.model.forecast_many(histories), errors
        except (ModelError, DataError) as exc:
            out: dict[str, Forecast] = {}
            for h in histories:  # isolate the failing market, keep the others
                try:
                    out[h.market] = self.model.forecast(h)
                except (ModelError, DataError) as one:
                    errors[h.market] = f"model: {one}"
            if not out and not errors:
                errors.update({h.market: f"model: {exc}" for h in histories})
            return out, errors

    def _reference_move(self, market: str) -> float | None:
        """The market's typical |move| over the margin period: the risk score's threshold."""
        h = self._histories.get(market)
        return None if h is None else reference_move(h.close, horizon_days(self.cfg.risk))

    def _risk(
        self, forecasts: dict[str, Forecast], guarded: dict[str, GuardResult], errors: dict[str, str]
    ) -> dict[str, RiskResult]:
        items = [
            RiskInput(
                m,
                f,
                guard_confidence=guarded[m].confidence,
                guard_flags=frozenset(guarded[m].flags),
                model_agreement=f.agreement,
                reference_move=self._reference_move(m),
                cascade_addon_bp=self._addons[m].addon_bp if m in self._addons else 0,
            )
            for m, f in forecasts.items()
        ]
        try:
            results = compute_many(items, self.cfg.risk)
        except BoundsViolation:  # an invalid input: isolate the market, keep the others
            results = []
            for item in items:
                try:
                    results += compute_many([item], self.cfg.risk)
                except BoundsViolation as exc:
                    errors[item.market] = f"risk: {exc}"
        for r in results:
            if r.capped:
                log.warning("params_capped", market=r.market, **_capped_json(r))
        return {r.market: r for r in results}

    def _outcome(
        self,
        market: str,
        now: float,
        guard: GuardResult,
        forecast: Forecast | None,
        risk: RiskResult | None,
        error: str | None,
    ) -> MarketOutcome:
        if guard.degraded:
            return MarketOutcome(market, now, guard, error=f"degraded: {guard.degraded_reason}")
        if risk is None:
            return MarketOutcome(market, now, guard, forecast, error=error or "risk: not computed")
        mcfg = self.cfg.market(market)
        decision = decide(
            self._state[market].trigger,
            params=risk.params,
            now=now,
            heartbeat_s=mcfg.heartbeat_s,
            deviation_bps=mcfg.deviation_bps,
        )
        return MarketOutcome(market, now, guard, forecast, risk, decision, cascade=self._addons.get(market))


def _capped_json(risk: RiskResult | None) -> dict[str, Any] | None:
    """{"fields": [...], "wanted_bp": {...}, "published_bp": {...}} of a capped set, else None."""
    if risk is None or not risk.capped:
        return None
    return {
        "fields": [c.field for c in risk.capped],
        "wanted_bp": {
            c.field: round(c.wanted_bp, 2) if math.isfinite(c.wanted_bp) else str(c.wanted_bp)
            for c in risk.capped
        },
        "published_bp": {c.field: c.published_bp for c in risk.capped},
    }
