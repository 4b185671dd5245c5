"""A flat but live market is not frozen: a stablecoin held at 1.0000 on five venues whose volumes and
books move keeps its quorum; a venue that stops updating, or holds its price while the others move,
is still refused."""

from __future__ import annotations

import json
from collections.abc import Callable

from oracle_node.guard import GuardParams, GuardResult, GuardState, Reason, evaluate
from oracle_node.sources.tick import Tick

P = GuardParams()
T0 = 1_600_000_000.0
POLL_S = 30.0
NAMES = ("a", "b", "c", "d", "e")
ROUNDS = 4 * P.max_repeats  # two hours of 30 s polls at one price: four times the old frozen limit


def _tick(name: str, k: int, price: float = 1.0, *, ts: float | None = None, live: bool = True) -> Tick:
    """Venue `name` at poll k: volume and bid depth move with k while `live`, else stay as at k = 0."""
    step = k if live else 0
    return Tick(
        T0 + POLL_S * k if ts is None else ts,
        "USDC-USD",
        name,
        price,
        bid=price - 0.0001,
        ask=price,
        volume=40e6 + 2_500.0 * step + NAMES.index(name),
        depth_bid=1.5e6 + 10.0 * step,
        depth_ask=1.5e6,
    )


def _run(make: Callable[[int], list[Tick]], rounds: int = ROUNDS) -> list[GuardResult]:
    state, out = None, []
    for k in range(rounds):
        result = evaluate("USDC-USD", make(k), T0 + POLL_S * k, state, P)
        state = result.state
        out.append(result)
    return out


def test_evaluate__stablecoin_pinned_on_every_venue_books_moving__published_every_round() -> None:
    results = _run(lambda k: [_tick(n, k) for n in NAMES])
    assert all(r.aggregate_price == 1.0 and r.accepted == NAMES for r in results)
    assert all(r.rejected == () and not r.degraded for r in results)


def test_evaluate__one_venue_stops_updating_in_a_flat_market__that_venue_frozen_rest_publish() -> None:
    results = _run(lambda k: [_tick(n, k, live=n != "e") for n in NAMES])
    reasons = [r.reason_of("e") for r in results]
    assert reasons[: P.max_repeats] == [None] * P.max_repeats
    assert reasons[P.max_repeats :] == [Reason.FROZEN] * (ROUNDS - P.max_repeats)
    assert all(r.aggregate_price == 1.0 and not r.degraded for r in results)


def test_evaluate__every_venue_stops_updating__all_frozen_and_degraded() -> None:
    results = _run(lambda k: [_tick(n, k, live=False) for n in NAMES])
    assert not any(r.degraded for r in results[: P.max_repeats])
    assert all(r.degraded for r in results[P.max_repeats :])
    assert set(results[-1].reasons().values()) == {"frozen"}


def test_evaluate__venue_timestamps_stop__stale_after_max_age() -> None:
    results = _run(lambda k: [_tick(n, k, ts=T0 if n == "e" else None) for n in NAMES], rounds=10)
    stale_from = int(P.max_age_s // POLL_S) + 1  # first poll at which the frozen clock is too old
    assert [r.reason_of("e") for r in results] == [None] * stale_from + [Reason.STALE] * (10 - stale_from)
    assert all(not r.degraded for r in results)


def test_evaluate__one_venue_holds_the_peg_while_the_others_depeg__frozen() -> None:
    def depeg(k: int) -> list[Tick]:
        price = 1.0 - 0.0005 * max(0, k - 5)  # from poll 6 on the market slides 5 bp per poll
        return [_tick(n, k, 1.0 if n == "e" else price) for n in NAMES]

    results = _run(depeg, rounds=5 + P.frozen_after_moves + 3)
    first = next(k for k, r in enumerate(results) if r.reason_of("e") is Reason.FROZEN)
    assert first == 5 + P.frozen_after_moves  # refused at the third move it failed to follow
    assert all(r.reason_of("e") is Reason.FROZEN for r in results[first:])
    assert results[-1].aggregate_price < 0.998


def test_evaluate__state_with_activity_through_json__same_decisions() -> None:
    k = P.max_repeats  # the poll at which e's unchanged book makes it frozen
    state = _run(lambda k: [_tick(n, k, live=n != "e") for n in NAMES], rounds=k)[-1].state
    restored = GuardState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert restored == state and restored.source("e").activity
    ticks = [_tick(n, k, live=n != "e") for n in NAMES]
    a = evaluate("USDC-USD", ticks, T0 + POLL_S * k, state, P)
    b = evaluate("USDC-USD", ticks, T0 + POLL_S * k, restored, P)
    assert a.reason_of("e") is b.reason_of("e") is Reason.FROZEN
    assert a.state == b.state
