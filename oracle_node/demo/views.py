"""What each demo node's venues show it: the bundled real Binance hours plus four derived venues.

Honest nodes see the real venue and the derived ones (node i drops one derived venue so honest views
differ slightly, as separate operators' connections would). The manipulated node's view has a majority
of its venues spiked in the stress window (a compromised feed only it sees): its guard cannot tell, so
its observations are poisoned, and only the network's median protects the published values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from oracle_node.sources.bundled import HOURLY_SPOT, resolve
from oracle_node.sources.ohlcv import read_cdd_ohlcv
from oracle_node.sources.synthetic import DEFAULT_VENUES, Manipulation, window_ticks
from oracle_node.sources.tick import Tick

HOUR = 3600


def utc(text: str) -> float:
    """'2020-03-12T06' or '2020-03-12' (UTC) -> unix seconds."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class Attack:
    """A majority of one node's venues multiplied by `factor` between start and end (unix seconds)."""

    sources: tuple[str, ...] = ("binance_spot", "venue_a", "venue_b")
    factor: float = 1.25
    start: float = utc("2020-03-12T08")
    end: float = utc("2020-03-12T14")

    def manipulations(self) -> list[Manipulation]:
        return [Manipulation(s, "spike", self.start, self.end, factor=self.factor) for s in self.sources]

    def describe(self) -> str:
        when = f"{_iso(self.start)}..{_iso(self.end)}"
        return f"{', '.join(self.sources)} x{self.factor:g} during {when} UTC"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%m-%d %H:%M")


def node_ticks(
    node: int, markets: Sequence[str], start: float, end: float, attack: Attack | None = None
) -> dict[str, list[Tick]]:
    """market -> time-ordered ticks node `node` sees for bars opening in [start - 1 h, end)."""
    dropped = DEFAULT_VENUES[node % len(DEFAULT_VENUES)].name if node > 0 else None
    venues = [v for v in DEFAULT_VENUES if v.name != dropped]
    attacks = attack.manipulations() if attack is not None else []
    out = {}
    for market in markets:
        bars = read_cdd_ohlcv(resolve(f"bundled:{HOURLY_SPOT[market]}")).bars
        out[market] = window_ticks(market, bars, start - HOUR, end, venues=venues, attacks=attacks)
    return out


def closes(market: str, start: float, end: float) -> list[tuple[float, float]]:
    """(close time, real Binance close) of the hourly bars closing in [start, end]: realised returns."""
    bars = read_cdd_ohlcv(resolve(f"bundled:{HOURLY_SPOT[market]}")).bars
    return [(b.ts + HOUR, b.close) for b in bars if start <= b.ts + HOUR <= end]
