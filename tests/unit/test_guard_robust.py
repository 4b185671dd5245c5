"""Robust statistics of the guard: median, scaled MAD, capped weights, weighted median."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oracle_node.guard.robust import MAD_TO_SIGMA, capped_weights, median, scaled_mad, weighted_median

prices = st.lists(st.floats(min_value=1.0, max_value=1e6, allow_nan=False), min_size=1, max_size=9)


def test_median__odd_and_even__middle_value_and_mean_of_middle_two() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5


def test_median__empty__raises() -> None:
    with pytest.raises(ValueError, match="empty"):
        median([])


def test_scaled_mad__known_values__scaled_by_normal_consistency_factor() -> None:
    assert scaled_mad([1.0, 2.0, 3.0, 4.0, 100.0], 3.0) == pytest.approx(MAD_TO_SIGMA * 1.0)


@given(prices)
def test_median__random__matches_statistics_median(values: list[float]) -> None:
    assert median(values) == pytest.approx(statistics.median(values))


def test_capped_weights__one_dominant_venue__capped_and_excess_shared_pro_rata() -> None:
    weights = capped_weights([90.0, 6.0, 3.0, 1.0], cap=0.4)
    assert weights[0] == pytest.approx(0.4)
    assert weights[1:] == pytest.approx([0.6 * 0.6, 0.6 * 0.3, 0.6 * 0.1])


def test_capped_weights__cascade__second_venue_capped_after_redistribution() -> None:
    weights = capped_weights([50.0, 40.0, 5.0, 5.0], cap=0.4)
    assert weights == pytest.approx([0.4, 0.4, 0.1, 0.1])


def test_capped_weights__cap_infeasible_or_all_zero__equal() -> None:
    assert capped_weights([10.0, 1.0], cap=0.4) == [0.5, 0.5]
    assert capped_weights([0.0, 0.0, 0.0], cap=0.4) == pytest.approx([1 / 3] * 3)
    assert capped_weights([], cap=0.4) == []


@given(st.lists(st.floats(min_value=0.0, max_value=1e9, allow_nan=False), min_size=3, max_size=8))
def test_capped_weights__random__sum_one_and_none_above_cap(raw: list[float]) -> None:
    weights = capped_weights(raw, cap=0.4)
    assert sum(weights) == pytest.approx(1.0)
    assert max(weights) <= 0.4 + 1e-9


def test_weighted_median__equal_weights__ordinary_median() -> None:
    assert weighted_median([5.0, 1.0, 3.0, 2.0], [1.0] * 4) == 2.5
    assert weighted_median([5.0, 1.0, 3.0], [1.0] * 3) == 3.0


def test_weighted_median__heavy_venue__decides_when_above_half() -> None:
    assert weighted_median([100.0, 101.0, 102.0], [0.1, 0.2, 0.7]) == 102.0
    assert weighted_median([100.0, 101.0, 102.0], [0.45, 0.1, 0.45]) == 101.0


def test_weighted_median__mismatched_inputs__raises() -> None:
    with pytest.raises(ValueError, match="equal"):
        weighted_median([1.0, 2.0], [1.0])


@given(prices, st.data())
def test_weighted_median__random__within_range_of_values(values: list[float], data: st.DataObject) -> None:
    weights = data.draw(st.lists(st.floats(0.01, 10.0), min_size=len(values), max_size=len(values)))
    assert min(values) <= weighted_median(values, weights) <= max(values)
