"""Cross-section outlier test and the peers' deviations the drift CUSUM reads."""

from __future__ import annotations

import math

import pytest

from oracle_node.guard import GuardParams, Reason
from oracle_node.guard.crosssection import cross_section, find_outliers, peer_deviations

P = GuardParams()


def _outliers(prices: dict[str, float], params: GuardParams = P) -> list[str]:
    return sorted(r.source for r in find_outliers(cross_section(prices, params)))


def test_cross_section__tight_venues__floor_keeps_normal_noise_in() -> None:
    # Venues agree to 1 bp, one is 0.6 % away: the raw MAD band would be ~±0.05 %, the floor makes it ±1 %.
    prices = {"a": 100.0, "b": 100.01, "c": 99.99, "d": 100.0, "e": 100.6}
    section = cross_section(prices, P)
    assert section.scale == pytest.approx(P.mad_floor_rel)
    assert section.band == pytest.approx(0.01)
    assert _outliers(prices) == []


def test_cross_section__spiked_venue__rejected_with_deviation_in_text() -> None:
    rejections = find_outliers(cross_section({"a": 100.0, "b": 100.1, "c": 99.9, "d": 300.0}, P))
    assert [(r.source, r.reason) for r in rejections] == [("d", Reason.OUTLIER)]
    assert "+199.85% from the median 100.05" in rejections[0].text and "band ±1.00%" in rejections[0].text


def test_cross_section__majority_crashed__the_unmoved_minority_is_the_outlier() -> None:
    prices = {"a": 61.0, "b": 60.8, "c": 61.2, "d": 100.0, "e": 99.9}
    section = cross_section(prices, P)
    assert section.center == pytest.approx(61.2)
    assert _outliers(prices) == ["d", "e"]


def test_cross_section__dispersed_but_honest__band_widens_with_the_mad() -> None:
    # A stressed market: venues 0.5..1.5 % apart. Scaled MAD ~1 % -> band ~±5 %: nothing is rejected.
    prices = {"a": 100.0, "b": 101.0, "c": 99.0, "d": 101.5, "e": 98.6}
    assert _outliers(prices) == []
    assert cross_section(prices, P).band > 0.03


def test_cross_section__two_camps__cap_stops_the_band_swallowing_both() -> None:
    prices = {"a": 100.0, "b": 100.1, "c": 70.0, "d": 70.1}
    assert _outliers(prices) == ["a", "b", "c", "d"]


def test_peer_deviations__log_distance_to_median_of_others() -> None:
    deviations = peer_deviations({"a": 100.0, "b": 101.0, "c": 103.0})
    assert deviations["a"] == pytest.approx(math.log(100.0 / 102.0))
    assert deviations["c"] == pytest.approx(math.log(103.0 / 100.5))


def test_peer_deviations__too_few_peers__empty() -> None:
    assert peer_deviations({"a": 100.0, "b": 101.0}, min_peers=2) == {}
    assert peer_deviations({"a": 100.0}) == {}
