"""Extra venues derived from one real venue's bars, and the manipulations an attacker would try.

The bundled real data has one venue per market for most windows (Binance spot), but the guard needs
several independent venues. A derived venue follows the real close with its own small basis and its
own noise: Gaussian in log price with sigma = 2 bp + 1 % of the bar's log range ln(high/low), so
venues agree to a few bp in a calm hour and spread out in a violent one, as cross-venue dispersion
does. Every draw comes from numpy's seeded generator: the same spec gives the same ticks.

Manipulations act on one source's ticks inside a time window and leave everything else untouched:
`spike` (price x factor), `drift` (x (1 + step)^k at the k-th tick), `freeze` (repeat the last
price from before the window).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from oracle_node.sources.ohlcv import OhlcvBar
from oracle_node.sources.tick import Tick

BAR_SECONDS = 3600.0


@dataclass(frozen=True)
class VenueSpec:
    """A venue derived from the real bars: basis in bp, share of the real volume, its own seed."""

    name: str
    basis_bps: float = 0.0
    volume_share: float = 1.0
    seed: int = 0
    pool: str | None = None


@dataclass(frozen=True)
class Manipulation:
    """What an attacker does to one source between start and end (unix seconds, inclusive)."""

    source: str
    kind: Literal["spike", "drift", "freeze"]
    start: float
    end: float
    factor: float = 3.0  # spike multiplier
    step: float = 0.005  # drift per tick


def real_ticks(bars: Sequence[OhlcvBar], market: str, source: str, pool: str | None = None) -> list[Tick]:
    """The real venue itself: one tick per bar at its close time, volume in quote units."""
    return [
        Tick(b.ts + BAR_SECONDS, market, source, b.close, volume=b.volume_quote, pool=pool)
        for b in bars
        if b.volume_quote is None or b.volume_quote > 0
    ]


def derived_ticks(bars: Sequence[OhlcvBar], market: str, spec: VenueSpec) -> list[Tick]:
    ranges = np.array([math.log(b.high / b.low) if b.low > 0 else 0.0 for b in bars])
    noise = np.random.default_rng(spec.seed).standard_normal(len(bars)) * (0.0002 + 0.01 * ranges)
    prices = np.array([b.close for b in bars]) * np.exp(spec.basis_bps / 10_000 + noise)
    return [
        Tick(
            b.ts + BAR_SECONDS,
            market,
            spec.name,
            float(p),
            volume=None if b.volume_quote is None else b.volume_quote * spec.volume_share,
            pool=spec.pool,
        )
        for b, p in zip(bars, prices, strict=True)
        if b.volume_quote is None or b.volume_quote > 0
    ]


def manipulate(ticks: Iterable[Tick], attack: Manipulation) -> list[Tick]:
    """Apply one manipulation; ticks must be in time order."""
    out: list[Tick] = []
    last_clean: float | None = None
    k = 0
    for t in ticks:
        if t.source != attack.source or not attack.start <= t.ts <= attack.end:
            if t.source == attack.source and t.ts < attack.start:
                last_clean = t.price
            out.append(t)
            continue
        k += 1
        if attack.kind == "spike":
            price = t.price * attack.factor
        elif attack.kind == "drift":
            price = t.price * (1 + attack.step) ** k
        else:
            price = last_clean if last_clean is not None else t.price
        out.append(replace(t, price=price))
    return out


DEFAULT_VENUES = (
    VenueSpec("venue_a", basis_bps=5, volume_share=0.3, seed=21),
    VenueSpec("venue_b", basis_bps=-3, volume_share=0.2, seed=22),
    VenueSpec("venue_c", basis_bps=0, volume_share=0.1, seed=23),
    VenueSpec("venue_d", basis_bps=2, volume_share=0.15, seed=24),
)


def window_ticks(
    market: str,
    bars: Sequence[OhlcvBar],
    start: float,
    end: float,
    real_source: str = "binance_spot",
    venues: Sequence[VenueSpec] = DEFAULT_VENUES,
    attacks: Sequence[Manipulation] = (),
) -> list[Tick]:
    """The real venue plus derived venues for bars opening in [start, end), attacks applied."""
    window = [b for b in bars if start <= b.ts < end]
    ticks = real_ticks(window, market, real_source)
    for i, spec in enumerate(venues):
        seeded = replace(spec, seed=spec.seed + 1000 * (sum(market.encode()) % 97) + i)
        ticks += derived_ticks(window, market, seeded)
    ticks.sort(key=lambda t: (t.ts, t.source))
    for attack in attacks:
        ticks = manipulate(ticks, attack)
    return ticks
