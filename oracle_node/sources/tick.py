"""The unit of market data every source produces and the guard consumes."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tick:
    """One observation of one market on one source at one time.

    ts is unix seconds (float, UTC). price is the source's reference price (last trade or mid) in quote
    units. Optional fields are None when the source does not provide them. depth_bid / depth_ask are the
    quote-currency amounts resting within ±1% of mid. funding_rate is per 8 hours as a fraction.
    `pool` names the liquidity pool the source prices from when two sources share one (e.g. two APIs
    fronting the same exchange book); None means the source is its own pool.
    """

    ts: float
    market: str
    source: str
    price: float
    bid: float | None = None
    ask: float | None = None
    volume: float | None = None
    depth_bid: float | None = None
    depth_ask: float | None = None
    funding_rate: float | None = None
    pool: str | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.ts) and self.ts > 0):
            raise ValueError(f"tick ts {self.ts!r} must be a positive finite unix time")
        if not (math.isfinite(self.price) and self.price > 0):
            raise ValueError(f"tick price {self.price!r} must be positive and finite")
        for name in ("bid", "ask", "volume", "depth_bid", "depth_ask", "funding_rate"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"tick {name} {value!r} must be finite or empty")

    @property
    def mid(self) -> float:
        if self.bid is not None and self.ask is not None and 0 < self.bid <= self.ask:
            return (self.bid + self.ask) / 2
        return self.price

    @property
    def depth(self) -> float | None:
        if self.depth_bid is None and self.depth_ask is None:
            return None
        return (self.depth_bid or 0.0) + (self.depth_ask or 0.0)
