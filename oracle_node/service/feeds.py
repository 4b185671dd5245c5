"""Where a running node's ticks come from: live venues, or a recorded tick file on a replay clock.

Both return `(data_time, ticks, errors)` for one market: `data_time` is the market-data clock the
guard judges staleness against (wall time for live venues; the replayed time for a replay).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from oracle_node.config import MarketConfig
from oracle_node.errors import SourceError
from oracle_node.sources.base import poll_all
from oracle_node.sources.exchanges import CcxtSource, VenueMarket
from oracle_node.sources.replay import TickReplay
from oracle_node.sources.tick import Tick

T = TypeVar("T")


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
    """ccxt venues per market, polled concurrently; a failing venue is an error entry, never a crash."""

    def __init__(
        self, markets: tuple[MarketConfig, ...], build: Callable[..., CcxtSource] = CcxtSource
    ) -> None:
        self._loop = _LoopThread()
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
        return Fetched(wall_now, outcome.ticks, outcome.errors)

    def close(self) -> None:
        for sources in self._sources.values():
            for s in sources:
                self._loop.run(s.close(), 5.0)
        self._loop.stop()


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
