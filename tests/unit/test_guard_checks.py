"""Per-source checks: staleness, frozen prices, thin books, shared pools, input hygiene."""

from __future__ import annotations

import pytest

from oracle_node.errors import DataError
from oracle_node.guard import GuardParams, Reason
from oracle_node.guard.checks import (
    check_frozen,
    check_staleness,
    check_thin,
    dedupe_pools,
    latest_per_source,
    observe,
    peer_median,
)
from oracle_node.guard.state import SourceState
from oracle_node.sources.tick import Tick

P = GuardParams()
T0 = 1_600_000_000.0


def tick(source: str, price: float, ts: float = T0, **extra: object) -> Tick:
    return Tick(ts, "BTC-USD", source, price, **extra)  # type: ignore[arg-type]


def test_latest_per_source__older_duplicates__newest_kept_and_sorted() -> None:
    latest = latest_per_source("BTC-USD", [tick("b", 2.0), tick("a", 1.0, T0 + 5), tick("a", 9.0, T0)])
    assert list(latest) == ["a", "b"]
    assert latest["a"].price == 1.0


def test_latest_per_source__tick_of_another_market__data_error_names_field() -> None:
    with pytest.raises(DataError, match=r"'market'.*'ETH-USD'"):
        latest_per_source("BTC-USD", [Tick(T0, "ETH-USD", "a", 1.0)])


def test_check_staleness__older_than_max_age__stale_with_age_in_text() -> None:
    rejection = check_staleness(tick("a", 1.0, T0 - 91), T0, P)
    assert rejection is not None and rejection.reason is Reason.STALE
    assert "91.0 s" in rejection.text


def test_check_staleness__within_max_age__accepted() -> None:
    assert check_staleness(tick("a", 1.0, T0 - 90), T0, P) is None


def test_check_staleness__dated_in_the_future__future() -> None:
    rejection = check_staleness(tick("a", 1.0, T0 + 6), T0, P)
    assert rejection is not None and rejection.reason is Reason.FUTURE
    assert check_staleness(tick("a", 1.0, T0 + 5), T0, P) is None


def test_peer_median__excludes_self() -> None:
    assert peer_median({"a": 1.0, "b": 2.0, "c": 100.0}, "c") == 1.5
    assert peer_median({"a": 1.0}, "a") is None


def _repeat(prices: list[float], peers: list[float]) -> SourceState:
    entry = None
    for k, (price, peer) in enumerate(zip(prices, peers, strict=True)):
        entry = observe(entry, tick("a", price, T0 + k), peer, P)
    assert entry is not None
    return entry


def test_observe__repeated_while_peers_move__frozen_after_three() -> None:
    entry = _repeat([100.0] * 3, [100.0, 100.5, 101.0])
    assert (entry.repeats, entry.frozen_moves) == (2, 2)
    assert check_frozen(entry, P) is None
    entry = _repeat([100.0] * 4, [100.0, 100.5, 101.0, 100.2])
    rejection = check_frozen(entry, P)
    assert rejection is not None and rejection.reason is Reason.FROZEN
    assert "while peers moved 3 times" in rejection.text


def test_observe__price_only_source_repeats_while_peers_quiet__frozen_after_max_repeats() -> None:
    n = P.max_repeats
    assert check_frozen(_repeat([100.0] * n, [100.0] * n), P) is None
    rejection = check_frozen(_repeat([100.0] * (n + 1), [100.0] * (n + 1)), P)
    assert rejection is not None and f"book for {n} observations (max_repeats {n})" in rejection.text


def _repeat_with(extras: list[dict[str, float]], peers_move: bool = False) -> SourceState:
    """Price 1.0 repeated at every observation, with the given volume/book fields per observation."""
    entry = None
    for k, extra in enumerate(extras):
        peer = 1.0 + 0.001 * k if peers_move else 1.0
        entry = observe(entry, tick("a", 1.0, T0 + k, **extra), peer, P)
    assert entry is not None
    return entry


def test_observe__pinned_price_volume_and_book_moving__never_frozen() -> None:
    extras = [
        {"volume": 5e6 + 1_000.0 * k, "bid": 0.9999, "ask": 1.0, "depth_bid": 2e6 + k, "depth_ask": 2e6}
        for k in range(10 * P.max_repeats)
    ]
    entry = _repeat_with(extras)
    assert (entry.repeats, entry.idle) == (10 * P.max_repeats - 1, 0)
    assert check_frozen(entry, P) is None


def test_observe__price_volume_and_book_all_repeat__frozen_after_max_repeats() -> None:
    same = {"volume": 5e6, "bid": 0.9999, "ask": 1.0, "depth_bid": 2e6, "depth_ask": 2e6}
    assert check_frozen(_repeat_with([same] * P.max_repeats), P) is None
    rejection = check_frozen(_repeat_with([same] * (P.max_repeats + 1)), P)
    assert rejection is not None and rejection.reason is Reason.FROZEN
    assert "no new volume and an unchanged book" in rejection.text


def test_observe__halted_venue_rolling_volume_falls_book_still__frozen_after_max_repeats() -> None:
    book = {"bid": 0.9999, "ask": 1.0, "depth_bid": 2e6, "depth_ask": 2e6}
    halted = [{"volume": 5e6 - 1_000.0 * k, **book} for k in range(P.max_repeats + 1)]
    assert check_frozen(_repeat_with(halted[:-1]), P) is None
    assert check_frozen(_repeat_with(halted), P) is not None


@pytest.mark.parametrize(
    "extra",
    [
        lambda k: {"volume": 5e6 + 1_000.0 * k, "bid": 0.9999, "ask": 1.0},  # book still, volume grows
        lambda k: {
            "volume": 5e6 - 1_000.0 * k,
            "depth_bid": 2e6 + 10.0 * (k % 2),
        },  # volume falls, book moves
    ],
)
def test_observe__pinned_price_with_one_sign_of_life__never_idle(extra: object) -> None:
    entry = _repeat_with([extra(k) for k in range(3 * P.max_repeats)])  # type: ignore[operator]
    assert entry.idle == 0 and check_frozen(entry, P) is None


def test_observe__pinned_price_while_peers_move__frozen_even_with_moving_volume() -> None:
    extras = [{"volume": 5e6 + 1_000.0 * k} for k in range(P.frozen_after_moves + 1)]
    entry = _repeat_with(extras, peers_move=True)
    assert entry.idle == 0 and entry.frozen_moves == P.frozen_after_moves
    rejection = check_frozen(entry, P)
    assert rejection is not None and "while peers moved" in rejection.text


def test_observe__price_changes__counters_reset() -> None:
    entry = _repeat([100.0, 100.0, 100.0, 100.01], [100.0, 100.5, 101.0, 101.2])
    assert (entry.repeats, entry.frozen_moves) == (0, 0)


def test_observe__same_tick_seen_again__not_a_new_observation() -> None:
    first = observe(None, tick("a", 100.0), 100.0, P)
    assert observe(first, tick("a", 100.0), 105.0, P) is first


def test_check_thin__below_share_of_deepest__thin() -> None:
    thin = tick("a", 1.0, depth_bid=4_000.0, depth_ask=5_000.0)
    rejection = check_thin(thin, 1_000_000.0, P)
    assert rejection is not None and rejection.reason is Reason.THIN
    assert check_thin(tick("b", 1.0, depth_bid=6_000.0, depth_ask=5_000.0), 1_000_000.0, P) is None


def test_check_thin__absolute_floor_and_unknown_depth() -> None:
    params = GuardParams(min_depth=50_000.0)
    assert check_thin(tick("a", 1.0, depth_bid=10.0), None, params) is not None
    assert check_thin(tick("a", 1.0), 1e9, params) is None


def test_dedupe_pools__two_apis_on_one_book__deepest_kept() -> None:
    ticks = {
        "api1": tick("api1", 100.0, depth_bid=1e6, pool="binance"),
        "api2": tick("api2", 100.1, depth_bid=2e6, pool="binance"),
        "kraken": tick("kraken", 100.2),
    }
    kept, rejected = dedupe_pools(ticks, P)
    assert list(kept) == ["api2", "kraken"]
    assert [(r.source, r.reason) for r in rejected] == [("api1", Reason.DUPLICATE_POOL)]


def test_dedupe_pools__pool_map_in_params__overrides_missing_tick_pool() -> None:
    params = GuardParams(pools={"b": "a"})
    kept, rejected = dedupe_pools({"a": tick("a", 1.0), "b": tick("b", 1.0)}, params)
    assert list(kept) == ["a"] and rejected[0].source == "b"
