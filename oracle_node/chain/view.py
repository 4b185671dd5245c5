"""ChainView: the one component that knows what the node knows of the chain.

Every consumer in the node (the observation provider's bounds projection, the leader, the follower's
checks, `check`) reads one immutable ChainSnapshot, taken at the start of each round by `refresh()`:
the signer set, threshold and epoch, the model allow-list, the global pause, and per market its
decoded word (MarketState: params, observedAt, round, pauses, acceptance time) and its bounds profile
(floors, ceilings, maxChange, minInterval).

A refresh is one batched JSON-RPC request of 4 + N calls for N markets (latest block,
configSnapshot, getSigners, paused, getMarketWord each);
the signer list, allow-list and bounds live in the oracle's config snapshot, whose address changes with
every governance change (setSigners, setBounds, tightenBounds, setModelAllowed), so they are re-read
only when it moved. A guardian's tightening or pause is therefore seen by the next round, not at the
next restart. Measured cost: `make bench-network` (refresh_ms in bench/network.json).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from oracle_node.chain.contracts import RiskOracle
from oracle_node.logs import get_logger
from oracle_node.types import MarketState, OnchainBounds

log = get_logger(__name__)


@dataclass(frozen=True)
class ChainSnapshot:
    """What the chain said at `read_at`; never mutated (a refresh builds a new one)."""

    signers: tuple[str, ...]
    threshold: int
    epoch: int
    oracle_paused: bool
    allowed_models: frozenset[bytes]
    markets: Mapping[str, MarketState]
    bounds: Mapping[str, OnchainBounds]
    config_address: str
    read_at: float
    block_time: int  # timestamp of the latest block when read: the chain's clock, not ours

    def usable(self, market: str) -> bool:
        """Listed and paused neither by itself nor with the whole oracle: a report may name it."""
        state = self.markets.get(market)
        return state is not None and state.listed and not state.paused and not self.oracle_paused

    def why_unusable(self, market: str) -> str:
        state = self.markets.get(market)
        if state is None or not state.listed:
            return "not listed on the oracle"
        if self.oracle_paused or state.oracle_paused:
            return "oracle paused"
        return "market paused" if state.market_paused else ""

    def stored_round(self, markets: Sequence[str]) -> int:
        """The highest round stored for any of `markets` (0 when none was ever published)."""
        return max((self.markets[m].round for m in markets if m in self.markets), default=0)

    def index_of(self, address: str) -> int | None:
        lowered = [s.lower() for s in self.signers]
        return lowered.index(address.lower()) if address.lower() in lowered else None


@dataclass
class ChainView:
    """Reads the oracle for `markets`; `latest` is the last snapshot (refreshed once per round)."""

    oracle: RiskOracle
    markets: tuple[str, ...]
    clock: Callable[[], float] = time.time
    _latest: ChainSnapshot | None = field(default=None, repr=False)

    @property
    def latest(self) -> ChainSnapshot:
        return self._latest if self._latest is not None else self.refresh()

    def refresh_if_older(self, max_age_s: float) -> ChainSnapshot:
        """The latest snapshot if it was read less than `max_age_s` ago, else a new one: the round's
        observer and its leader share one read at the slot start."""
        snap = self._latest
        if snap is not None and self.clock() - snap.read_at < max_age_s:
            return snap
        return self.refresh()

    def refresh(self) -> ChainSnapshot:
        """Read the chain now (blocking web3 calls: run it in a worker thread from async code)."""
        o, prev = self.oracle, self._latest
        block_time, address, signer_set, paused, states = o.read_round_state(self.markets)
        governance_moved = prev is None or prev.config_address != address or _profiles_moved(prev, states)
        if governance_moved:
            models = frozenset(o.allowed_models())
            bounds = {m: o.get_bounds(s.profile) for m, s in states.items() if s.listed}
        else:
            assert prev is not None
            models, bounds = prev.allowed_models, prev.bounds
        snap = ChainSnapshot(
            signers=signer_set.signers,
            threshold=signer_set.threshold,
            epoch=signer_set.epoch,
            oracle_paused=paused,
            allowed_models=models,
            markets=states,
            bounds=bounds,
            config_address=address,
            read_at=self.clock(),
            block_time=block_time,
        )
        if prev is not None:
            _log_changes(prev, snap)
        self._latest = snap
        return snap


def _profiles_moved(prev: ChainSnapshot, states: Mapping[str, MarketState]) -> bool:
    """A relisting moves a market to another profile without a new config snapshot."""
    return any(prev.markets.get(m) is None or prev.markets[m].profile != s.profile for m, s in states.items())


def _log_changes(prev: ChainSnapshot, now: ChainSnapshot) -> None:
    if now.epoch != prev.epoch:
        log.warning("chain_epoch_changed", epoch=now.epoch, previous=prev.epoch, threshold=now.threshold)
    if now.oracle_paused != prev.oracle_paused:
        log.warning("chain_oracle_pause_changed", paused=now.oracle_paused)
    for market, state in now.markets.items():
        before = prev.markets.get(market)
        if before is not None and before.market_paused != state.market_paused:
            log.warning("chain_market_pause_changed", market=market, paused=state.market_paused)
        if prev.bounds.get(market) != now.bounds.get(market):
            log.warning("chain_bounds_changed", market=market)
