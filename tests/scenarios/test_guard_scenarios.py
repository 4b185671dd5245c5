"""The input guard on real Binance BTC/USDT hourly data plus venues derived from it (tests/scenarios/venues.py).

Spot/perp window (2020-08-02..2020-12-30, 3,594 aligned hours, 5 venues): spikes, drifts, freezes and
a shared pool. Crash day (2020-03-12, spot plus four derived venues): the real crash passes at once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from oracle_node.guard import Flag, GuardParams, GuardResult, Reason
from tests.scenarios.venues import (
    CRASH_DAY_END,
    CRASH_DAY_START,
    HOUR,
    VenuePaths,
    assert_margins_rise,
    drifting,
    frozen,
    guarded_crash_prices,
    mirrored,
    run_guard,
    spiked,
    spot_only_venues,
    spot_perp_venues,
)

pytestmark = [pytest.mark.scenario, pytest.mark.slow]

# Manipulations start at several points spread over the window, not one hand-picked hour. Each run
# covers WARMUP hours before the start and the hours after it, against an unmanipulated run of the same rows.
STARTS = (150, 700, 1300, 1900, 2500, 3100)
WARMUP = 48
AFTER = 120


def _window(venues: VenuePaths, start: int) -> list[GuardResult]:
    """Results for rows start - WARMUP .. start + AFTER; index WARMUP is the row `start`."""
    return list(run_guard(venues, rows=range(start - WARMUP, start + AFTER)))


@pytest.fixture(scope="module")
def venues(shared_data: Path) -> VenuePaths:
    return spot_perp_venues(shared_data)


@pytest.fixture(scope="module")
def clean(venues: VenuePaths) -> list[GuardResult]:
    return list(run_guard(venues))


@pytest.fixture(scope="module")
def clean_windows(venues: VenuePaths) -> dict[int, list[GuardResult]]:
    return {start: _window(venues, start) for start in STARTS}


@pytest.fixture(scope="module")
def crash_venues(shared_data: Path) -> VenuePaths:
    return spot_only_venues(shared_data, CRASH_DAY_START - 48 * HOUR, CRASH_DAY_END + 2 * HOUR)


def _max_gap(results: list[GuardResult], reference: list[GuardResult]) -> float:
    gaps = [
        abs(a.aggregate_price / b.aggregate_price - 1)
        for a, b in zip(results, reference, strict=True)
        if a.aggregate_price is not None and b.aggregate_price is not None
    ]
    assert len(gaps) == len(reference), "a manipulated run went degraded"
    return max(gaps)


def test_clean_run__five_honest_venues__publishes_every_hour_and_rarely_rejects(
    venues: VenuePaths, clean: list[GuardResult]
) -> None:
    assert len(clean) == 3594
    assert not [r.ts for r in clean if r.degraded]
    rejections = sum(len(r.rejected) for r in clean)
    assert rejections / (5 * len(clean)) < 0.005  # measured: 30 of 17,970 (0.17 %), basis episodes
    spot = venues.prices["binance_spot"]
    assert max(abs(r.aggregate_price / s - 1) for r, s in zip(clean, spot, strict=True)) < 0.01


@pytest.mark.parametrize("victim", ["venue_a", "binance_perp"])
def test_spike__one_venue_3x_for_3_ticks__rejected_and_aggregate_moves_under_half_percent(
    venues: VenuePaths, clean_windows: dict[int, list[GuardResult]], victim: str
) -> None:
    path = venues.prices[victim]
    for start in STARTS:
        results = _window(venues.with_price(victim, spiked(path, start, 3, 3.0)), start)
        for r in results[WARMUP : WARMUP + 3]:
            assert r.reason_of(victim) is Reason.OUTLIER
            assert Flag.SINGLE_SOURCE_MOVE_REJECTED in r.flags
        assert _max_gap(results, clean_windows[start]) < 0.005


def test_drift__venue_walks_half_percent_per_tick__rejected_within_10_ticks(
    venues: VenuePaths, clean_windows: dict[int, list[GuardResult]]
) -> None:
    path = venues.prices["venue_b"]
    for start in STARTS:
        results = _window(venues.with_price("venue_b", drifting(path, start, 0.005)), start)
        walk = results[WARMUP : WARMUP + 40]
        first = next(k for k, r in enumerate(walk) if "venue_b" not in r.accepted)
        assert first < 10
        assert all(r.reason_of("venue_b") in (Reason.OUTLIER, Reason.DRIFT) for r in walk[first:])
        assert _max_gap(results, clean_windows[start]) < 0.005


def _poisoned(path: list[float], start: int, hold: int) -> list[float]:
    """+0.1 % per tick up to +0.8 % (inside the ±1 % outlier band), held for `hold` ticks, then honest."""
    out = list(path)
    for k in range(hold):
        out[start + k] = path[start + k] * (1 + min(0.001 * (k + 1), 0.008))
    return out


def test_slow_poisoning__venue_creeps_inside_outlier_band__caught_by_drift_then_recovers(
    venues: VenuePaths, clean_windows: dict[int, list[GuardResult]]
) -> None:
    params = GuardParams()
    path = venues.prices["venue_a"]
    hold = 48
    for start in STARTS:
        results = _window(venues.with_price("venue_a", _poisoned(path, start, hold)), start)
        poisoned = results[WARMUP : WARMUP + hold]
        assert all(r.reason_of("venue_a") is not Reason.OUTLIER for r in poisoned)
        first = next(k for k, r in enumerate(poisoned) if r.reason_of("venue_a") is Reason.DRIFT)
        assert first < 10
        assert all("venue_a" not in r.accepted for r in poisoned[first:])
        after = results[WARMUP + hold :]
        back = next(k for k, r in enumerate(after) if "venue_a" in r.accepted)
        assert back >= params.drift_recover_obs - 1  # trust returns only after a run of in-line ticks
        assert _max_gap(results, clean_windows[start]) < 0.005


def test_frozen__venue_repeats_its_last_price__excluded(venues: VenuePaths) -> None:
    path = venues.prices["perp_lag"]
    for start in STARTS:
        results = _window(venues.with_price("perp_lag", frozen(path, start, 24)), start)
        frozen_part = results[WARMUP + 2 : WARMUP + 24]
        assert [r.reason_of("perp_lag") for r in frozen_part] == [Reason.FROZEN] * 22
        assert all(not r.degraded for r in results)


def test_duplicate_pool__two_real_venues_plus_a_mirror__not_a_quorum(venues: VenuePaths) -> None:
    base = venues.only(["binance_spot", "binance_perp"])
    mirror = mirrored(venues.prices["binance_spot"], seed=31)
    results = list(run_guard(base.with_price("spot_api2", mirror, pool="binance_spot")))
    assert all(r.aggregate_price is None and Flag.DEGRADED in r.flags for r in results)
    reasons = {tuple(sorted(r.reasons().items())) for r in results}
    assert reasons == {
        (
            ("binance_perp", "no_quorum"),
            ("binance_spot", "no_quorum"),
            ("spot_api2", "duplicate_pool"),
        )
    }
    # Control: the same third price from an independent pool does make a quorum of three.
    independent = list(run_guard(base.with_price("spot_api2", mirror)))
    assert sum(r.degraded for r in independent) / len(independent) < 0.01


@pytest.mark.parametrize("variant", ["volume_weighted", "equal_weights", "derived_venues_only"])
def test_crash__2020_03_12__real_crash_accepted_within_one_tick_every_hour(
    crash_venues: VenuePaths, variant: str
) -> None:
    spot = crash_venues.prices["binance_spot"]
    feed = {
        "volume_weighted": crash_venues,
        "equal_weights": crash_venues.without_volumes(),
        "derived_venues_only": crash_venues.only(["venue_a", "venue_b", "venue_c", "venue_d"]),
    }[variant]
    results = list(run_guard(feed))
    day = [(r, s) for r, s in zip(results, spot, strict=True) if CRASH_DAY_START < r.ts <= CRASH_DAY_END]
    assert len(day) == 24
    for result, close in day:
        assert result.rejected == ()
        assert result.aggregate_price is not None
        assert abs(result.aggregate_price / close - 1) < 0.005
    # The 10:00 bar closes 18 % lower and the 23:00 bar 17 % lower: both pass in their own tick.
    crash_hours = [r for r, s in day if Flag.FAST_MOVE_CONFIRMED in r.flags]
    assert {CRASH_DAY_START + 11 * HOUR, CRASH_DAY_END} <= {r.ts for r in crash_hours}
    assert day[-1][0].aggregate_price < 0.62 * day[0][0].aggregate_price


def test_crash__only_two_of_five_venues_crash__move_rejected(crash_venues: VenuePaths) -> None:
    i = crash_venues.close_ts.index(CRASH_DAY_START + 11 * HOUR)  # the -18 % bar
    feed = crash_venues
    for name in ("binance_spot", "venue_a", "venue_b"):  # the majority has not moved (yet)
        path = list(crash_venues.prices[name])
        path[i] = path[i - 1]
        feed = feed.with_price(name, path)
    result = list(run_guard(feed, rows=range(i + 1)))[-1]
    assert result.reason_of("venue_c") is Reason.OUTLIER
    assert result.reason_of("venue_d") is Reason.OUTLIER
    assert Flag.SINGLE_SOURCE_MOVE_REJECTED in result.flags
    assert abs(result.aggregate_price / crash_venues.prices["binance_spot"][i - 1] - 1) < 0.005


def test_guarded_crash_prices__helper__gives_every_hour_of_the_crash(shared_data: Path) -> None:
    prices = guarded_crash_prices(shared_data)
    assert [t for t, _ in prices] == [CRASH_DAY_START + k * HOUR for k in range(1, 25)]
    assert prices[0][1] == pytest.approx(7913.42, rel=0.005)
    assert prices[-1][1] == pytest.approx(4800.0, rel=0.005)


def test_assert_margins_rise__flat_margin__raises() -> None:
    rising = {1.0: 900.0, 2.0: 950.0, 3.0: 1400.0, 4.0: 1600.0}
    assert_margins_rise(rising, calm_until=2.0, stressed_from=3.0, min_ratio=1.2)
    with pytest.raises(AssertionError, match="did not rise"):
        assert_margins_rise({1.0: 900.0, 3.0: 900.0}, calm_until=1.0, stressed_from=3.0)
