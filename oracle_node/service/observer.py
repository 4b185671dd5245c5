"""The node's ObservationProvider: its NodePipeline run once per network round.

Round r observes the data time `schedule.data_time(r)` (a replay hour, or the slot time when live):
the node's ticks up to that time go through guard -> history -> model -> risk, and each market's
wanted params are fitted into the DAO's bounds against what the chain stores now (ChainView, read at
the start of the observation: a guardian's tightening is respected from the next round on, a paused
or unlisted market is left out), so the median of the nodes' observations is a report the contract
accepts. observedAt is the round's slot time (the chain judges freshness on its own clock);
inputsHash commits to the accepted quotes of every market.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from eth_utils import keccak

from oracle_node.chain.view import ChainView
from oracle_node.errors import BoundsViolation, DataError, ModelError
from oracle_node.logs import get_logger
from oracle_node.network.errors import NothingDue
from oracle_node.network.observation import LocalObservation
from oracle_node.reports.inputs import MarketInputs, canonical_inputs
from oracle_node.risk.project import project
from oracle_node.service.breaker import Breaker
from oracle_node.service.feeds import LiveFeed
from oracle_node.service.pipeline import MarketOutcome, NodePipeline
from oracle_node.sources.tick import Tick
from oracle_node.store import BoundInputs
from oracle_node.types import RiskParamsBps

log = get_logger(__name__)


@dataclass(frozen=True)
class ReplaySchedule:
    """Round r replays data time start + (r - first_round) * step_s; nothing after `end`."""

    first_round: int
    start: float
    end: float
    step_s: float = 3600.0

    def data_time(self, round_: int) -> float:
        return self.start + (round_ - self.first_round) * self.step_s

    def last_round(self) -> int:
        return self.first_round + int((self.end - self.start) // self.step_s)


@dataclass(frozen=True)
class NodeRound:
    """What one node computed for one round: the pipeline's outcomes and the params it signed."""

    round: int
    data_time: float
    outcomes: dict[str, MarketOutcome]
    signed: dict[str, RiskParamsBps]


class ChainBounds:
    """Fits wanted params into what the chain allows now: the stored params and the market's bounds
    profile from the node's ChainView (None for a market the chain will not take: paused, unlisted)."""

    def __init__(self, view: ChainView, max_age_s: float = 0.5) -> None:
        self.view, self.max_age_s = view, max_age_s

    def refresh(self) -> None:
        """At most one chain read per round: a snapshot read this instant (by the round) is reused."""
        self.view.refresh_if_older(self.max_age_s)

    def fit(self, market: str, wanted: RiskParamsBps, observed_at: int | None = None) -> RiskParamsBps | None:
        """`wanted` moved as far as the bounds allow; None when the chain would refuse any update now
        (paused, unlisted, or sooner than the profile's minInterval after the stored update)."""
        snap = self.view.latest
        if not snap.usable(market):
            log.warning("market_not_publishable", market=market, why=snap.why_unusable(market))
            return None
        state, bounds = snap.markets[market], snap.bounds[market]
        if observed_at is not None:
            earliest_observed, earliest_block = state.earliest_update(bounds.min_interval)
            # The including block is no earlier than the latest block, nor than now.
            if observed_at < earliest_observed or max(snap.block_time, snap.read_at) < earliest_block:
                log.info("update_too_soon", market=market, earliest=max(earliest_observed, earliest_block))
                return None
        fitted = project(market, wanted, state.params, bounds)
        if fitted.bounded:
            log.info("bounded_by_dao", market=market, fields=list(fitted.held_back))
        return fitted.params


class RoundOverlap(DataError):
    """The previous round's computation is still running: this round is skipped, never run beside it."""


class NothingToPublish(DataError, NothingDue):
    """Every market was computed, none is due (trigger quiet, breaker open, paused or refused)."""


@dataclass
class PipelineObserver:
    """Runs the pipeline once per round and returns this node's observation of the due markets.

    - A market is observed when its trigger says publish (first, heartbeat, deviation) and the chain
      will take it; the trigger learns what landed from the chain itself (the stored round moved), so
      every operator of a network settles it the same way.
    - Each market has a breaker: `breaker_failures` consecutive rounds without params open it for
      `breaker_cooldown_s` (one half-open try after that).
    - Rounds never overlap: a round that starts while the previous one still computes is skipped
      (RoundOverlap), so a slow round's late result can never be mixed with the next one's.
    """

    name: str
    pipeline: NodePipeline
    ticks: dict[str, list[Tick]]
    schedule: ReplaySchedule
    bounds: ChainBounds
    model_hash: bytes
    breaker_failures: int = 5
    breaker_cooldown_s: float = 300.0
    clock: Callable[[], float] = time.time
    rounds: dict[int, NodeRound] = field(default_factory=dict)
    breakers: dict[str, Breaker] = field(default_factory=dict)
    _cursor: dict[str, int] = field(default_factory=dict)
    _last_time: float = float("-inf")
    _busy: threading.Lock = field(default_factory=threading.Lock)
    _due: dict[str, MarketOutcome] = field(default_factory=dict)
    _chain_rounds: dict[str, int] = field(default_factory=dict)

    async def __call__(self, round_: int, slot_time: int) -> LocalObservation:
        return await asyncio.to_thread(self.observe, round_, slot_time)

    def observe(self, round_: int, slot_time: int) -> LocalObservation:
        data_time = self.schedule.data_time(round_)
        if not self._busy.acquire(blocking=False):
            log.error("round_overlap_skipped", node=self.name, round=round_)
            raise RoundOverlap(self.name, None, "round", round_, "the previous round is still computing")
        try:
            if not self._last_time < data_time <= self.schedule.end:
                raise DataError(
                    self.name, None, "round", round_, f"observes {data_time:.0f}, outside the schedule"
                )
            self._last_time = data_time
            self.bounds.refresh()
            self._settle_from_chain()
            outcomes = self.pipeline.step(data_time, self._new_ticks(data_time))
            signed = self._fit(outcomes, slot_time)
            self._due = {o.market: o for o in outcomes if o.market in signed}
            records = self._attributions([o for o in outcomes if o.market in signed], round_)
        finally:
            self._busy.release()
        self.rounds[round_] = NodeRound(round_, data_time, {o.market: o for o in outcomes}, signed)
        if not signed:
            raise NothingToPublish(self.name, None, "round", round_, "no market is due this round")
        inputs = [_inputs(o, records.get(o.market)) for o in outcomes if o.market in signed]
        document = canonical_inputs(inputs)
        bound = BoundInputs(document, records)
        return LocalObservation(round_, slot_time, self.model_hash, keccak(document), signed, bound)

    def _attributions(self, outcomes: Sequence[MarketOutcome], round_: int) -> dict[str, bytes]:
        """Each signed market's attribution record; none (the entry then has no "attribution" hash)
        when it cannot be made: an explanation never holds back a publication."""
        if not outcomes:
            return {}
        try:
            return self.pipeline.attributions(outcomes)
        except (ModelError, DataError) as exc:
            log.error("attribution_failed", node=self.name, round=round_, error=str(exc))
            return {}

    def _settle_from_chain(self) -> None:
        """Tell each trigger whether last round's candidate landed: the chain's stored round moved."""
        snap = self.bounds.view.latest
        for market, state in snap.markets.items():
            landed = state.round > self._chain_rounds.get(market, state.round)
            self._chain_rounds[market] = state.round
            due = self._due.pop(market, None)
            if due is not None:
                self.pipeline.settle(due, published=landed, params=state.params if landed else None)

    def _new_ticks(self, until: float) -> list[Tick]:
        out: list[Tick] = []
        for market, ticks in self.ticks.items():
            i = j = self._cursor.get(market, 0)
            while j < len(ticks) and ticks[j].ts <= until:
                j += 1
            out += ticks[i:j]
            self._cursor[market] = j
        return out

    def _fit(self, outcomes: Sequence[MarketOutcome], observed_at: int) -> dict[str, RiskParamsBps]:
        signed, now = {}, self.clock()
        for o in outcomes:
            breaker = self.breakers.setdefault(
                o.market, Breaker(self.breaker_failures, self.breaker_cooldown_s)
            )
            if not breaker.allows(now):
                continue
            if breaker.record(o.risk is not None or o.guard.degraded, now):
                log.error("breaker_opened", market=o.market, failures=breaker.failures)
            if o.risk is None:
                log.warning("market_not_observed", node=self.name, market=o.market, error=o.error)
                continue
            if not o.would_publish:
                self.pipeline.settle(o, published=False)  # a quiet round may re-arm the trigger
                continue
            try:
                fitted = self.bounds.fit(o.market, o.risk.params, observed_at)
            except BoundsViolation as exc:
                log.warning("bounds_refused", node=self.name, market=o.market, why=exc.why)
                continue
            if fitted is not None:
                signed[o.market] = fitted
        return signed


class LiveObserver(PipelineObserver):
    """A PipelineObserver on live venues: round r observes at its slot time what the venues quote now."""

    feed: LiveFeed | None = None
    live_markets: tuple[str, ...] = ()

    def _new_ticks(self, until: float) -> list[Tick]:
        assert self.feed is not None, "set the LiveFeed first"
        out: list[Tick] = []
        for market in self.live_markets:
            fetched = self.feed.fetch(market, time.time())
            for err in fetched.errors:
                log.warning("source_failed", market=market, error=str(err))
            out += fetched.ticks
        return out


def _inputs(o: MarketOutcome, record: bytes | None = None) -> MarketInputs:
    quotes = []
    for name in sorted(o.guard.accepted):
        st = o.guard.state.source(name)
        if st is not None:
            quotes.append((name, st.last_ts, st.last_price))
    attribution = None if record is None else keccak(record)
    return MarketInputs(o.market, o.guard.require_price(), tuple(quotes), attribution)
