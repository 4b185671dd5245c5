"""Where a running node's ticks come from: live venues, or a recorded tick file on a replay clock.

Both return `(data_time, ticks, errors)` for one market: `data_time` is the market-data clock the
guard judges staleness against (wall time for live venues; the replayed time for a replay).

A live feed also carries the cascade add-on's on-chain inputs (`CascadeFeed`) for markets with
`cascade.enabled` and `cascade.pool`: each round it polls the pool's LiquidationCall logs and, every
`refresh_s`, reads the pool's state, then hands the market's liquidations (event times, USD) and pool
summary to the pipeline. Inputs older than `max_stale_s` are withdrawn (the add-on then runs
price-only, flagged `cascade_no_liquidation_feed`; the record carries no pool part); a failed read is
logged and never fails the round.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from oracle_node.config import CascadePoolConfig, MarketConfig
from oracle_node.errors import SourceError
from oracle_node.logs import get_logger, register_secret_url
from oracle_node.sources.base import poll_all
from oracle_node.sources.exchanges import CcxtSource, VenueMarket
from oracle_node.sources.jsonrpc import hex_int
from oracle_node.sources.liquidations import AaveLiquidationSource, LiquidationEvent
from oracle_node.sources.pool_state import AavePoolReader, PoolSnapshot
from oracle_node.sources.pool_summary import PoolSummary, summarise
from oracle_node.sources.replay import TickReplay
from oracle_node.sources.tick import Tick

T = TypeVar("T")
log = get_logger(__name__)
KEEP_EVENTS_S = 2 * 86400.0  # the add-on reads the last 24 hours


@dataclass(frozen=True)
class Fetched:
    data_time: float
    ticks: list[Tick]
    errors: list[SourceError]


class TickFeed(Protocol):
    def fetch(self, market: str, wall_now: float) -> Fetched: ...

    def close(self) -> None: ...


class _LoopThread:
    """One asyncio loop on its own thread: ccxt's async clients must stay on the loop that made them."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="sources-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)


class LiveFeed:
    """ccxt venues per market, polled concurrently; a failing venue is an error entry, never a crash.
    With a `cascade_sink` (the pipeline), markets with `cascade.pool` also get their on-chain inputs."""

    def __init__(
        self,
        markets: tuple[MarketConfig, ...],
        build: Callable[..., CcxtSource] = CcxtSource,
        cascade_sink: CascadeSink | None = None,
        cascade_wait_s: float = 5.0,
    ) -> None:
        self._loop = _LoopThread()
        self.cascade = CascadeFeed(markets) if cascade_sink is not None else None
        self._sink, self._cascade_wait_s = cascade_sink, cascade_wait_s
        self._refresh: Future[None] | None = None
        self._sources: dict[str, list[CcxtSource]] = {}
        for m in markets:
            self._sources[m.id] = [
                build(
                    s.venue,
                    [VenueMarket(m.id, s.symbol)],
                    name=s.name,
                    timeout=s.timeout_s,
                    api_base=s.api_url,
                    pool=s.pool,
                )
                for s in m.sources
                if s.kind == "ccxt"
            ]
        self._timeout = max((s.timeout_s for m in markets for s in m.sources), default=5.0) + 2.0

    def fetch(self, market: str, wall_now: float) -> Fetched:
        outcome = self._loop.run(poll_all(self._sources.get(market, []), wall_now), self._timeout)
        if self.cascade is not None and self._sink is not None and market in self.cascade.markets:
            self._cascade_round(market, wall_now)
            inputs = self.cascade.inputs(market, wall_now)
            self._sink.feed_liquidations(market, *(inputs.liquidations or (None, None)))
            self._sink.feed_pool_state(market, inputs.pool)
        return Fetched(wall_now, outcome.ticks, outcome.errors)

    def _cascade_round(self, market: str, wall_now: float) -> None:
        """One on-chain refresh per round, started at the round's first cascade market (config order, as
        the observer fetches) unless the last one still runs, and awaited there at most `cascade_wait_s`:
        a slow RPC delays the inputs to a later round (the add-on meanwhile uses the last fresh ones, or
        runs price-only, flagged), never the round."""
        assert self.cascade is not None
        if market != next(iter(self.cascade.markets)):
            return
        if self._refresh is None or self._refresh.done():
            if self._refresh is not None and (exc := self._refresh.exception()) is not None:
                log.error("cascade_refresh_failed", error=f"{type(exc).__name__}: {exc}")
            self._refresh = asyncio.run_coroutine_threadsafe(self.cascade.refresh(wall_now), self._loop.loop)
        wait([self._refresh], timeout=self._cascade_wait_s)

    def close(self) -> None:
        for sources in self._sources.values():
            for s in sources:
                self._loop.run(s.close(), 5.0)
        if self.cascade is not None:
            if self._refresh is not None:
                wait([self._refresh], timeout=self._cascade_wait_s)
            self._loop.run(self.cascade.close(), 5.0)
        self._loop.stop()


class CascadeSink(Protocol):
    """Where the cascade inputs go (NodePipeline); None withdraws them."""

    def feed_liquidations(self, market: str, ts: Any, usd: Any) -> None: ...

    def feed_pool_state(self, market: str, summary: PoolSummary | None) -> None: ...


@dataclass(frozen=True)
class CascadeInputs:
    liquidations: tuple[np.ndarray, np.ndarray] | None  # (event unix times, USD); None: no fresh feed
    pool: PoolSummary | None  # None: no fresh pool state


class PoolWatch:
    """One lending pool's readers and what they last read (markets on the same pool share it)."""

    def __init__(self, cfg: CascadePoolConfig, collaterals: tuple[str, ...], name: str) -> None:
        self.cfg, self.collaterals, self.name, self.url = cfg, collaterals, name, cfg.url()
        register_secret_url(self.url)  # a provider's key in the URL never reaches a log line
        self.reader = AavePoolReader(
            self.url, cfg.lending_pool, name=f"{name}_state", price_oracle=cfg.price_oracle,
            base_unit=cfg.base_unit, usd_reference=cfg.usd_reference, borrowers=cfg.borrowers,
            discover=cfg.discover_borrowers, lookback_blocks=cfg.borrower_lookback_blocks,
            max_borrowers=cfg.max_borrowers, max_range=cfg.max_log_range, confirmations=cfg.confirmations,
            batch_size=cfg.batch_size, timeout=cfg.timeout_s,
        )  # fmt: skip
        self.liquidations: AaveLiquidationSource | None = None
        self.events: list[LiquidationEvent] = []
        self.snapshot: PoolSnapshot | None = None
        self.events_read_at: float | None = None
        self.pool_tried_at = float("-inf")

    async def refresh(self, now: float) -> None:
        """Poll the liquidation logs; read the pool state when it is `refresh_s` old. Failures are logged."""
        if now - self.pool_tried_at >= self.cfg.refresh_s:  # a failed read is retried after refresh_s too
            self.pool_tried_at = now
            try:
                self.snapshot = await self.reader.snapshot(self.collaterals, now)
                log.info("pool_state_read", pool=self.name, block=self.snapshot.block,
                         requests=self.snapshot.requests, borrowers=len(self.snapshot.accounts))  # fmt: skip
            except SourceError as exc:
                log.warning("pool_state_failed", pool=self.name, reason=exc.reason, detail=exc.detail)
        try:
            if self.liquidations is None:
                self.liquidations = await self._liquidation_source()
            new = await self.liquidations.poll_events()
            self.events = [e for e in self.events if e.ts is None or e.ts > now - KEEP_EVENTS_S] + new
            self.events_read_at = now
        except SourceError as exc:
            log.warning("liquidation_feed_failed", pool=self.name, reason=exc.reason, detail=exc.detail)

    async def _liquidation_source(self) -> AaveLiquidationSource:
        """Starts `liquidation_lookback_blocks` behind the confirmed head (24 h on mainnet by default)."""
        head = hex_int(self.name, await self.reader.rpc.call("eth_blockNumber", []), "eth_blockNumber")
        start = max(head - self.cfg.confirmations - self.cfg.liquidation_lookback_blocks, 0)
        c = self.cfg
        return AaveLiquidationSource(self.url, c.lending_pool, start, name=f"{self.name}_liquidations",
                                     confirmations=c.confirmations, max_range=c.max_log_range, timeout=c.timeout_s)  # fmt: skip

    def inputs(self, collateral: str, now: float) -> CascadeInputs:
        snap = self.snapshot
        fresh_snap = snap is not None and now - snap.read_at <= self.cfg.max_stale_s
        pool = summarise(snap, collateral) if snap is not None and fresh_snap else None
        fresh_events = self.events_read_at is not None and now - self.events_read_at <= self.cfg.max_stale_s
        if not (fresh_events and fresh_snap) or snap is None:
            return CascadeInputs(None, pool)  # no prices to value the events with, or stale events
        return CascadeInputs(self._valued(snap, collateral), pool)

    def _valued(self, snap: PoolSnapshot, collateral: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(times, USD repaid) of the events seizing `collateral`, at the snapshot's prices."""
        res = snap.reserve(collateral)
        if res is None:
            log.error("cascade_collateral_not_in_pool", pool=self.name, collateral=collateral)
            return None
        by_asset = {r.asset: r for r in snap.reserves}
        ts, usd = [], []
        for e in self.events:
            debt = by_asset.get(e.debt_asset)
            if e.collateral_asset != res.asset or e.ts is None or debt is None:
                continue
            ts.append(e.ts)
            usd.append(snap.usd(debt.value(e.debt_to_cover)))
        return np.array(ts, dtype=np.float64), np.array(usd, dtype=np.float64)

    async def close(self) -> None:
        await self.reader.close()
        if self.liquidations is not None:
            await self.liquidations.close()


class CascadeFeed:
    """The PoolWatch of every market with `cascade.enabled` and `cascade.pool`."""

    def __init__(self, markets: tuple[MarketConfig, ...]) -> None:
        self.watches: dict[tuple[str, str], PoolWatch] = {}
        self.markets: dict[str, tuple[PoolWatch, str]] = {}
        wanted = [m for m in markets if m.cascade.enabled and m.cascade.pool is not None]
        keys = {m.id: (m.cascade.pool.url(), m.cascade.pool.lending_pool.lower())
                for m in wanted if m.cascade.pool is not None}  # fmt: skip
        for m in wanted:
            assert m.cascade.pool is not None
            if keys[m.id] not in self.watches:
                collaterals = tuple(
                    sorted({w.cascade.asset(w.id) for w in wanted if keys[w.id] == keys[m.id]})
                )
                self.watches[keys[m.id]] = PoolWatch(m.cascade.pool, collaterals, f"pool{len(self.watches)}")
            self.markets[m.id] = (self.watches[keys[m.id]], m.cascade.asset(m.id))

    async def refresh(self, now: float) -> None:
        await asyncio.gather(*(w.refresh(now) for w in self.watches.values()))

    def inputs(self, market: str, now: float) -> CascadeInputs:
        watch, collateral = self.markets[market]
        return watch.inputs(collateral, now)

    async def close(self) -> None:
        await asyncio.gather(*(w.close() for w in self.watches.values()))


class ReplayFeed:
    """A tick file replayed at `speed` x real time from its first tick."""

    def __init__(self, path: Path, speed: float, wall_start: float) -> None:
        self.replay = TickReplay.from_file(path, lenient=True)
        self.speed, self.wall_start = speed, wall_start
        ticks = list(self.replay)
        self.start = ticks[0].ts if ticks else 0.0
        self.end = ticks[-1].ts if ticks else 0.0
        self._by_market: dict[str, list[Tick]] = {}
        for t in ticks:
            self._by_market.setdefault(t.market, []).append(t)
        self._cursor: dict[str, int] = dict.fromkeys(self._by_market, 0)

    def pin(self, data_time: float, wall_now: float) -> None:
        """Re-anchor the replay clock so that `wall_now` maps to `data_time` (step-by-step driving)."""
        self.wall_start = wall_now - (data_time - self.start) / self.speed

    def data_time(self, wall_now: float) -> float:
        return self.start + (wall_now - self.wall_start) * self.speed

    @property
    def markets(self) -> list[str]:
        return sorted(self._by_market)

    def finished(self, wall_now: float) -> bool:
        return self.data_time(wall_now) > self.end

    def fetch(self, market: str, wall_now: float) -> Fetched:
        """The ticks replayed since the last fetch; data_time is the newest one's ts (a recorded tick is
        judged at its own time, however fast the replay runs)."""
        now = min(self.data_time(wall_now), self.end)
        ticks, i = self._by_market.get(market, []), self._cursor.get(market, 0)
        j = i
        while j < len(ticks) and ticks[j].ts <= now:
            j += 1
        self._cursor[market] = j
        data_time = ticks[j - 1].ts if j > 0 else self.start
        return Fetched(data_time, ticks[i:j], [])

    def close(self) -> None:
        return None
