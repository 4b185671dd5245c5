"""Per-source checks that need no cross-section: staleness, frozen prices, thin books, shared pools."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from oracle_node.errors import DataError
from oracle_node.guard.params import GuardParams
from oracle_node.guard.result import Reason, Rejection
from oracle_node.guard.robust import median
from oracle_node.guard.state import SourceState
from oracle_node.sources.tick import Tick


def latest_per_source(market: str, ticks: Sequence[Tick]) -> dict[str, Tick]:
    """The newest tick of each source (ties: the later one in the input), sorted by source name."""
    latest: dict[str, Tick] = {}
    for tick in ticks:
        if tick.market != market:
            raise DataError(
                f"guard input for {market}", None, "market", tick.market, "tick for another market"
            )
        held = latest.get(tick.source)
        if held is None or tick.ts >= held.ts:
            latest[tick.source] = tick
    return {name: latest[name] for name in sorted(latest)}


def check_staleness(tick: Tick, now: float, params: GuardParams) -> Rejection | None:
    """Stale when older than max_age_s; 'future' when dated beyond the allowed clock skew."""
    age = now - tick.ts
    if age > params.max_age_s:
        text = f"tick age {age:.1f} s > max_age_s {params.max_age_s:g} s"
        return Rejection(tick.source, Reason.STALE, text)
    if -age > params.max_future_s:
        text = f"tick dated {-age:.1f} s after now > max_future_s {params.max_future_s:g} s"
        return Rejection(tick.source, Reason.FUTURE, text)
    return None


def peer_median(prices: Mapping[str, float], source: str) -> float | None:
    """Median price of every source but `source`; None when it has no peers."""
    others = [price for name, price in prices.items() if name != source]
    return median(others) if others else None


def activity_of(tick: Tick) -> tuple[float | None, ...]:
    """What a tick says about its venue besides the price: volume, best bid/ask and depth."""
    return (tick.volume, tick.bid, tick.ask, tick.depth_bid, tick.depth_ask)


def shows_life(before: tuple[float | None, ...], now: tuple[float | None, ...]) -> bool:
    """True when the venue's book (bid, ask, depth) changed or its volume grew since `before`.

    A live venue's book or traded volume moves between polls even when its price is pinned (a
    stablecoin at its peg, a price on its tick); a feed that stopped updating repeats all of it. A
    falling volume alone is no sign of life: a halted venue's rolling 24 h volume falls as old trades
    leave the window. A state stored before activity was kept (empty `before`) counts as alive.
    """
    if len(before) != len(now):
        return True
    (vol_0, *book_0), (vol_1, *book_1) = before, now
    return book_0 != book_1 or (vol_0 is not None and vol_1 is not None and vol_1 > vol_0)


def observe(prev: SourceState | None, tick: Tick, peers: float | None, params: GuardParams) -> SourceState:
    """Fold a tick into the source's repeat counters. A tick not newer than the last one changes nothing.

    repeats counts observations with the previous price; frozen_moves those of them in which the
    peers' median moved; idle those in which the source showed no other sign of life either
    (`shows_life`). A source that reports nothing but a price is idle whenever its price repeats.
    """
    activity = activity_of(tick)
    if prev is None:
        return SourceState(
            source=tick.source, last_ts=tick.ts, last_price=tick.price, peer_ref=peers, activity=activity
        )
    if tick.ts <= prev.last_ts:
        return prev
    repeated = abs(tick.price / prev.last_price - 1.0) <= params.unchanged_rel
    peers_moved = (
        peers is not None
        and prev.peer_ref is not None
        and abs(peers / prev.peer_ref - 1.0) > params.peer_move_rel
    )
    idle = repeated and not shows_life(prev.activity, activity)
    return prev.evolve(
        last_ts=tick.ts,
        last_price=tick.price,
        peer_ref=peers if peers is not None else prev.peer_ref,
        repeats=prev.repeats + 1 if repeated else 0,
        frozen_moves=prev.frozen_moves + int(peers_moved) if repeated else 0,
        activity=activity,
        idle=prev.idle + 1 if idle else 0,
    )


def check_frozen(entry: SourceState, params: GuardParams) -> Rejection | None:
    """Frozen when the price repeated while the peers kept moving, or when the source showed no sign
    of life (same price, no new volume, same book) for too long. A price that repeats while the
    venue's volume or book moves and its peers hold still is a flat market, not a frozen feed: kept."""
    if entry.frozen_moves >= params.frozen_after_moves:
        text = (
            f"price {entry.last_price!r} repeated {entry.repeats} times while peers moved "
            f"{entry.frozen_moves} times (frozen_after_moves {params.frozen_after_moves})"
        )
        return Rejection(entry.source, Reason.FROZEN, text)
    if entry.idle >= params.max_repeats:
        text = (
            f"price {entry.last_price!r} repeated with no new volume and an unchanged book for "
            f"{entry.idle} observations (max_repeats {params.max_repeats})"
        )
        return Rejection(entry.source, Reason.FROZEN, text)
    return None


def check_thin(tick: Tick, deepest: float | None, params: GuardParams) -> Rejection | None:
    """Thin when its known depth is below the absolute floor or a small share of the deepest peer's."""
    depth = tick.depth
    if depth is None:
        return None
    if depth < params.min_depth:
        text = f"depth {depth:g} within ±1% < min_depth {params.min_depth:g}"
        return Rejection(tick.source, Reason.THIN, text)
    if deepest is not None and deepest > 0 and depth < params.min_depth_share * deepest:
        text = f"depth {depth:g} < {params.min_depth_share:g} x deepest peer's {deepest:g}"
        return Rejection(tick.source, Reason.THIN, text)
    return None


def _depth_rank(tick: Tick) -> tuple[float, float, str]:
    # Deepest first, then largest volume; the name breaks ties so the choice is deterministic.
    return (-(tick.depth or 0.0), -(tick.volume or 0.0), tick.source)


def dedupe_pools(ticks: Mapping[str, Tick], params: GuardParams) -> tuple[dict[str, Tick], list[Rejection]]:
    """Keep one source per liquidity pool (the deepest); the others are 'duplicate_pool'."""
    pools: dict[str, list[Tick]] = {}
    for name, tick in ticks.items():
        pools.setdefault(params.pool_of(name, tick.pool), []).append(tick)
    kept: dict[str, Tick] = {}
    rejected: list[Rejection] = []
    for pool, members in pools.items():
        best = min(members, key=_depth_rank)
        kept[best.source] = best
        for tick in members:
            if tick is not best:
                text = f"shares pool {pool!r} with {best.source!r}, which is kept (deeper or first by name)"
                rejected.append(Rejection(tick.source, Reason.DUPLICATE_POOL, text))
    return {name: kept[name] for name in sorted(kept)}, rejected
