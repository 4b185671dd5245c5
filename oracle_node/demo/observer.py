"""The ObservationProvider of a demo node: its real NodePipeline run once per network round.

Round r replays the data hour `schedule.data_time(r)`: the node's own ticks up to that time go through
guard -> history -> model -> risk, and each market's wanted params are fitted into the DAO's bounds
against what the chain stores now (`oracle_node.risk.project`), exactly as the single-node publisher
does, so the median of the nodes' observations is a report the contract accepts. observedAt is the
round's slot time (the chain judges freshness on its own clock); inputsHash commits to the accepted
quotes of every market.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from oracle_node.chain.contracts import RiskOracle
from oracle_node.errors import BoundsViolation, DataError
from oracle_node.logs import get_logger
from oracle_node.network.observation import LocalObservation
from oracle_node.reports.inputs import MarketInputs, inputs_hash
from oracle_node.risk.project import project
from oracle_node.service.pipeline import MarketOutcome, NodePipeline
from oracle_node.sources.tick import Tick
from oracle_node.types import OnchainBounds, RiskParamsBps

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
    """The stored params and the DAO's bounds of a market, read from the node's own RPC."""

    def __init__(self, oracle: RiskOracle) -> None:
        self.oracle = oracle
        self._bounds: dict[str, OnchainBounds] = {}

    def fit(self, market: str, wanted: RiskParamsBps) -> RiskParamsBps:
        stored = self.oracle.get_market_state(market).params
        if market not in self._bounds:
            raw = self.oracle.get_market_bounds(market).to_abi()
            self._bounds[market] = OnchainBounds.from_abi(raw)
        return project(market, wanted, stored, self._bounds[market]).params


@dataclass
class PipelineObserver:
    name: str
    pipeline: NodePipeline
    ticks: dict[str, list[Tick]]
    schedule: ReplaySchedule
    bounds: ChainBounds
    model_hash: bytes
    rounds: dict[int, NodeRound] = field(default_factory=dict)
    _cursor: dict[str, int] = field(default_factory=dict)
    _last_time: float = float("-inf")
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, round_: int, slot_time: int) -> LocalObservation:
        return await asyncio.to_thread(self.observe, round_, slot_time)

    def observe(self, round_: int, slot_time: int) -> LocalObservation:
        data_time = self.schedule.data_time(round_)
        with self._lock:
            if not self._last_time < data_time <= self.schedule.end:
                raise DataError(
                    self.name, None, "round", round_, f"replays {data_time:.0f}, outside the replay"
                )
            self._last_time = data_time
            outcomes = self.pipeline.step(data_time, self._new_ticks(data_time))
        signed = self._fit(outcomes)
        self.rounds[round_] = NodeRound(round_, data_time, {o.market: o for o in outcomes}, signed)
        if not signed:
            raise DataError(self.name, None, "round", round_, "no market produced params")
        inputs = [_inputs(o) for o in outcomes if o.market in signed]
        return LocalObservation(round_, slot_time, self.model_hash, inputs_hash(inputs), signed)

    def _new_ticks(self, until: float) -> list[Tick]:
        out: list[Tick] = []
        for market, ticks in self.ticks.items():
            i = j = self._cursor.get(market, 0)
            while j < len(ticks) and ticks[j].ts <= until:
                j += 1
            out += ticks[i:j]
            self._cursor[market] = j
        return out

    def _fit(self, outcomes: Sequence[MarketOutcome]) -> dict[str, RiskParamsBps]:
        signed = {}
        for o in outcomes:
            if o.risk is None:
                log.warning("market_not_observed", node=self.name, market=o.market, error=o.error)
                continue
            try:
                signed[o.market] = self.bounds.fit(o.market, o.risk.params)
            except BoundsViolation as exc:
                log.warning("demo_bounds_refused", node=self.name, market=o.market, why=exc.why)
        return signed


def _inputs(o: MarketOutcome) -> MarketInputs:
    quotes = []
    for name in sorted(o.guard.accepted):
        st = o.guard.state.source(name)
        if st is not None:
            quotes.append((name, st.last_ts, st.last_price))
    return MarketInputs(o.market, o.guard.require_price(), tuple(quotes))
