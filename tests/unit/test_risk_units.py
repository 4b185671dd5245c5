"""Conversion to uint16 bp: protective fields round up, LT and confidence down; require_* refuses what a
uint16 cannot hold, cap_bp caps it and says which it capped."""

from __future__ import annotations

import math

import pytest

from oracle_node.errors import BoundsViolation
from oracle_node.risk.units import (
    bp_down,
    bp_up,
    cap_bp,
    require_uint16,
    require_uint16_fields,
    to_bp_down,
    to_bp_up,
)


def test_to_bp_up__fraction_between_bps__next_bp_up() -> None:
    assert to_bp_up("BTC-USD", "initial_margin", 0.12341) == 1235
    assert to_bp_up("BTC-USD", "initial_margin", 0.123400001) == 1235


def test_to_bp_down__fraction_between_bps__bp_below() -> None:
    assert to_bp_down("BTC-USD", "liquidation_threshold", 0.87659) == 8765


def test_rounding__float_noise_on_exact_bp__costs_no_bp() -> None:
    assert 0.07 * 10_000 > 700  # 700.0000000000001
    assert to_bp_up("X", "var99", 0.07) == 700
    assert 0.57 * 10_000 < 5700  # 5699.999999999999
    assert to_bp_down("X", "confidence", 0.57) == 5700


def test_to_bp_up__vol_above_655_35pct__bounds_violation_names_market_and_field() -> None:
    assert to_bp_up("PEPE-USD", "volatility", 6.5535) == 65535
    with pytest.raises(BoundsViolation) as info:
        to_bp_up("PEPE-USD", "volatility", 6.5536)
    assert (info.value.market, info.value.field, info.value.value) == ("PEPE-USD", "volatility", 6.5536)
    assert "65536.00 bp cannot be published" in str(info.value)


@pytest.mark.parametrize("bad", [-0.0001, math.nan, math.inf])
def test_to_bp_up__negative_or_not_finite__bounds_violation(bad: float) -> None:
    with pytest.raises(BoundsViolation):
        to_bp_up("X", "es99", bad)


def test_require_uint16__second_market_overflows__names_second_market() -> None:
    fractions = [0.5, 7.0, 9.0]
    with pytest.raises(BoundsViolation) as info:
        require_uint16(["A", "B", "C"], "initial_margin", fractions, bp_up(fractions))
    assert info.value.market == "B"
    assert require_uint16(["A"], "x", [0.5], bp_down([0.5])) == [5000]


def test_require_uint16_fields__two_fields_overflow__first_field_in_order_named() -> None:
    fields = {"var99": ([7.0], bp_up([7.0])), "initial_margin": ([9.0], bp_up([9.0]))}
    with pytest.raises(BoundsViolation) as info:
        require_uint16_fields(["BTC-USD"], fields)
    assert (info.value.field, info.value.value) == ("var99", 7.0)
    ok = require_uint16_fields(["A", "B"], {"es99": ([0.1, 0.2], bp_up([0.1, 0.2]))})
    assert ok == {"es99": [1000, 2000]}


def test_cap_bp__above_ceiling_or_not_finite__ceiling_and_marked() -> None:
    fractions = [0.5, 7.0, math.inf, math.nan]
    ints, capped = cap_bp(["a", "b", "c", "d"], "initial_margin", fractions, bp_up(fractions), 65_535)
    assert ints == [5_000, 65_535, 65_535, 65_535]
    assert capped == [False, True, True, True]


def test_cap_bp__negative__bounds_violation_names_market() -> None:
    with pytest.raises(BoundsViolation) as info:
        cap_bp(["a", "b"], "var99", [0.1, -0.2], bp_up([0.1, -0.2]), 65_535)
    assert (info.value.market, info.value.field) == ("b", "var99")
