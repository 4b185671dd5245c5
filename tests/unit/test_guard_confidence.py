"""Confidence formula and the weights behind the aggregate."""

from __future__ import annotations

import math

import pytest

from oracle_node.guard import GuardParams
from oracle_node.guard.aggregate import aggregate_price, raw_weights
from oracle_node.guard.confidence import confidence, depth_factor, dispersion, freshness_factor
from oracle_node.sources.tick import Tick

P = GuardParams()
T0 = 1_600_000_000.0


def book(prices: list[float], ts: float = T0, **extra: object) -> dict[str, Tick]:
    return {f"v{i}": Tick(ts, "BTC-USD", f"v{i}", p, **extra) for i, p in enumerate(prices)}  # type: ignore[arg-type]


def test_confidence__perfect_inputs__one() -> None:
    ticks = book([100.0, 100.0, 100.0], depth_bid=1e6)
    assert confidence(ticks, pools=3, now=T0, degraded=False, params=P) == pytest.approx(1.0)


def test_confidence__each_factor__multiplies_as_documented() -> None:
    ticks = book([100.0, 100.5, 99.5], ts=T0 - 45)  # unknown depth, half max age, one of five pools stale
    spread = dispersion({n: t.price for n, t in ticks.items()})
    expected = (3 / 5) * (1 / (1 + (spread / 0.005) ** 2)) * 0.8 * (1 - 0.5 * 0.5)
    assert confidence(ticks, pools=5, now=T0, degraded=False, params=P) == pytest.approx(expected)
    assert spread == pytest.approx(1.482602218505602 * math.log(100.5 / 100.0), rel=1e-3)


def test_confidence__degraded__capped_low_and_zero_without_sources() -> None:
    ticks = book([100.0, 100.0], depth_bid=1e6)
    assert confidence(ticks, pools=2, now=T0, degraded=True, params=P) == P.degraded_confidence_cap
    assert confidence({}, pools=2, now=T0, degraded=True, params=P) == 0.0


def test_depth_factor__partial_depth__proportional_to_reference() -> None:
    assert depth_factor(book([1.0, 1.0], depth_bid=2e5, depth_ask=5e4), P) == pytest.approx(0.5)


def test_freshness_factor__tick_at_max_age__floor_score() -> None:
    assert freshness_factor(book([1.0], ts=T0 - 90), T0, P) == pytest.approx(P.stale_floor_score)


def test_raw_weights__depth_then_volume_then_equal() -> None:
    with_depth = {
        **book([1.0], depth_bid=3.0, volume=100.0),
        **{"x": Tick(T0, "BTC-USD", "x", 1.0, depth_ask=1.0)},
    }
    assert raw_weights(with_depth) == [3.0, 1.0]
    mixed = {**book([1.0], depth_bid=3.0, volume=100.0), **{"x": Tick(T0, "BTC-USD", "x", 1.0, volume=50.0)}}
    assert raw_weights(mixed) == [100.0, 50.0]
    assert raw_weights({**book([1.0], depth_bid=3.0), **{"x": Tick(T0, "BTC-USD", "x", 1.0)}}) == [1.0, 1.0]


def test_aggregate_price__volume_weighted_median__follows_heavier_venues() -> None:
    ticks = {
        "big1": Tick(T0, "BTC-USD", "big1", 100.2, volume=1e9),
        "big2": Tick(T0, "BTC-USD", "big2", 100.3, volume=1e9),
        "small1": Tick(T0, "BTC-USD", "small1", 100.0, volume=1e7),
        "small2": Tick(T0, "BTC-USD", "small2", 100.1, volume=1e7),
    }
    price, weights = aggregate_price(ticks, P)
    assert price == 100.2
    assert weights["big1"] == pytest.approx(0.4) and weights["small1"] == pytest.approx(0.1)
