"""The input guard: which sources to trust for one market at one time, and the price they agree on.

`evaluate(market, ticks, now, state, params)` is pure: no I/O, no clock (time is `now`), and the same
inputs give the same result. It applies, in order:

1. staleness: older than max_age_s (or dated in the future beyond the clock skew) -> "stale"/"future";
2. frozen: the price repeated while the peers moved, or the source showed no sign of life (same
   price, no new volume, same book) for too long -> "frozen"; a flat market whose venues all hold
   one price while their volumes and books move is live, not frozen;
3. thin: depth within ±1 % below the absolute floor or a small share of the deepest peer's -> "thin";
4. de-duplication: sources pricing from one liquidity pool count once (the deepest) -> "duplicate_pool";
5. cross-section: robust median and clipped scaled MAD of the independent sources -> "outlier";
6. drift: two-sided CUSUM of each source's deviation from its peers' median -> "drift" until it has
   been back in line for a while;
7. quorum: the remaining sources must number at least min_sources AND be a strict majority of the
   independent live sources; then the aggregate is their capped depth/volume-weighted median.

Degraded mode (quorum or majority not met): `aggregate_price` is None, the flag "degraded" is set, the
sources that would have been accepted are rejected with "no_quorum", confidence is capped at
degraded_confidence_cap, and the state keeps the last good aggregate. Nothing is published for the
market in that round: the on-chain value ages and consumers reading it with a max age fail closed.
The guard never falls back to averaging two (possibly disagreeing) sources, and a market split into
two camps widens the MAD band only up to its cap, so the camps reject each other instead of averaging.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from oracle_node.errors import DataError
from oracle_node.guard.aggregate import aggregate_price
from oracle_node.guard.checks import (
    check_frozen,
    check_staleness,
    check_thin,
    dedupe_pools,
    latest_per_source,
    observe,
    peer_median,
)
from oracle_node.guard.confidence import confidence, dispersion
from oracle_node.guard.crosssection import CrossSection, cross_section, find_outliers, peer_deviations
from oracle_node.guard.drift import check_drift, update_drift
from oracle_node.guard.params import GuardParams
from oracle_node.guard.result import Flag, GuardResult, Reason, Rejection
from oracle_node.guard.state import GuardState, SourceState
from oracle_node.sources.tick import Tick


@dataclass(frozen=True, slots=True)
class _Screen:
    """Outcome of the per-source rules: the independent live sources and the updated observations."""

    independent: dict[str, Tick]
    observed: dict[str, SourceState]
    new_obs: set[str]
    rejected: list[Rejection]


@dataclass(frozen=True, slots=True)
class _Verdict:
    """Outcome of the cross-section and drift stages over the independent sources."""

    eligible: dict[str, Tick]
    states: dict[str, SourceState]
    rejected: list[Rejection]
    section: CrossSection | None


def evaluate(
    market: str, ticks: Sequence[Tick], now: float, state: GuardState | None, params: GuardParams
) -> GuardResult:
    """Decide which of `ticks` (latest per source; older duplicates are ignored) to trust at `now`."""
    if not math.isfinite(now) or now <= 0:
        raise DataError(f"guard input for {market}", None, "now", now, "must be a positive finite unix time")
    prev = state or GuardState()
    latest = latest_per_source(market, ticks)
    screen = _screen(latest, prev, now, params)
    verdict = _judge(screen.independent, screen.observed, screen.new_obs, params)
    return _finish(
        market=market,
        now=now,
        prev=prev,
        independent=screen.independent,
        verdict=verdict,
        rejected=screen.rejected + verdict.rejected,
        pools=len({params.pool_of(name, tick.pool) for name, tick in latest.items()}),
        params=params,
    )


def _screen(latest: Mapping[str, Tick], prev: GuardState, now: float, params: GuardParams) -> _Screen:
    """Rules 1-4: staleness, frozen, thin, de-duplication; folds new observations into the state."""
    rejected: list[Rejection] = []
    fresh = _keep(latest, [check_staleness(t, now, params) for t in latest.values()], rejected)
    new_obs = {name for name, tick in fresh.items() if _is_new(prev.source(name), tick)}
    observed = _observe_all(fresh, prev, params)
    live = _keep(fresh, [check_frozen(observed[name], params) for name in fresh], rejected)
    deepest = max((t.depth for t in live.values() if t.depth is not None), default=None)
    live = _keep(live, [check_thin(t, deepest, params) for t in live.values()], rejected)
    independent, duplicates = dedupe_pools(live, params)
    return _Screen(independent, observed, new_obs, rejected + duplicates)


def _keep(
    ticks: Mapping[str, Tick], verdicts: list[Rejection | None], sink: list[Rejection]
) -> dict[str, Tick]:
    """The ticks whose verdict is None; the rejections go to `sink`."""
    kept = {}
    for (name, tick), verdict in zip(ticks.items(), verdicts, strict=True):
        if verdict is None:
            kept[name] = tick
        else:
            sink.append(verdict)
    return kept


def _is_new(entry: SourceState | None, tick: Tick) -> bool:
    return entry is None or tick.ts > entry.last_ts


def _observe_all(fresh: Mapping[str, Tick], prev: GuardState, params: GuardParams) -> dict[str, SourceState]:
    prices = {name: tick.price for name, tick in fresh.items()}
    return {
        name: observe(prev.source(name), tick, peer_median(prices, name), params)
        for name, tick in fresh.items()
    }


def _judge(
    independent: Mapping[str, Tick],
    observed: Mapping[str, SourceState],
    new_obs: set[str],
    params: GuardParams,
) -> _Verdict:
    """Outlier test on the cross-section, then the drift CUSUM (updated on new observations only)."""
    states = dict(observed)
    if not independent:
        return _Verdict({}, states, [], None)
    prices = {name: tick.price for name, tick in independent.items()}
    section = cross_section(prices, params)
    rejected = find_outliers(section)
    for name, deviation in peer_deviations(prices, params.drift_min_peers).items():
        if name in new_obs:
            states[name] = update_drift(states[name], deviation, params)
    outlying = {r.source for r in rejected}
    for name in independent:
        drift = None if name in outlying else check_drift(states[name], params)
        if drift is not None:
            rejected.append(drift)
    refused = {r.source for r in rejected}
    eligible = {name: tick for name, tick in independent.items() if name not in refused}
    return _Verdict(eligible, states, rejected, section)


def _quorum_problem(eligible: int, live: int, params: GuardParams) -> tuple[str, frozenset[str]] | None:
    """Why the eligible sources may not form a price (text, extra flags), or None when they may."""
    if eligible < params.min_sources:
        return f"{eligible} trusted independent sources < min_sources {params.min_sources}", frozenset()
    if 2 * eligible <= live:
        text = f"{eligible} trusted of {live} live independent sources is not a strict majority"
        return text, frozenset({Flag.NO_MAJORITY})
    return None


def _move_flags(
    aggregate: float | None,
    verdict: _Verdict,
    independent: Mapping[str, Tick],
    prev: GuardState,
    params: GuardParams,
) -> set[str]:
    """fast_move_confirmed when the majority carried a large move; single_source_move_rejected when an
    outlier showed one against the previous aggregate (or the current median before any aggregate)."""
    flags: set[str] = set()
    reference = prev.last_aggregate
    if (
        aggregate is not None
        and reference is not None
        and abs(math.log(aggregate / reference)) > params.fast_move_rel
    ):
        flags.add(Flag.FAST_MOVE_CONFIRMED)
    if reference is None and verdict.section is not None:
        reference = verdict.section.center
    for rejection in verdict.rejected:
        price = independent[rejection.source].price
        if (
            rejection.reason is Reason.OUTLIER
            and reference
            and abs(math.log(price / reference)) > params.fast_move_rel
        ):
            flags.add(Flag.SINGLE_SOURCE_MOVE_REJECTED)
    return flags


def _finish(
    *,
    market: str,
    now: float,
    prev: GuardState,
    independent: Mapping[str, Tick],
    verdict: _Verdict,
    rejected: list[Rejection],
    pools: int,
    params: GuardParams,
) -> GuardResult:
    eligible = verdict.eligible
    problem = _quorum_problem(len(eligible), len(independent), params)
    flags: set[str] = set()
    aggregate, weights = None, {}
    if problem is None:
        aggregate, weights = aggregate_price(eligible, params)
    else:
        flags |= {Flag.DEGRADED, *problem[1]}
        rejected = rejected + [Rejection(name, Reason.NO_QUORUM, problem[0]) for name in eligible]
    flags |= _move_flags(aggregate, verdict, independent, prev, params)
    return GuardResult(
        market=market,
        ts=now,
        aggregate_price=aggregate,
        accepted=tuple(sorted(eligible)) if problem is None else (),
        rejected=tuple(sorted(rejected, key=lambda r: r.source)),
        flags=frozenset(str(f) for f in flags),
        confidence=confidence(eligible, pools, now, problem is not None, params),
        state=prev.updated(verdict.states, now, aggregate),
        independent_sources=len(independent),
        dispersion=dispersion({name: tick.price for name, tick in eligible.items()}),
        weights=tuple(sorted(weights.items())),
        degraded_reason=None if problem is None else problem[0],
    )
