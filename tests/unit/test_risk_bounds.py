"""check_bounds mirrors the contract's report-path checks, one rule per test, first violation wins."""

from __future__ import annotations

from dataclasses import replace

import pytest

from oracle_node.errors import BoundsViolation
from oracle_node.risk.bounds import check_bounds, ensure_within_bounds
from oracle_node.types import RISK_FIELDS, FieldBounds, OnchainBounds, RiskParamsBps

PARAMS = RiskParamsBps(5000, 800, 1000, 1600, 1120, 8380, 6500, 8500)
OPEN = OnchainBounds.unbounded()


def _with_field(bounds: OnchainBounds, index: int, fb: FieldBounds, mask: int = 0) -> OnchainBounds:
    fields = list(bounds.fields)
    fields[index] = fb
    return OnchainBounds(tuple(fields), mask, bounds.min_interval)


def test_check_bounds__consistent_params_no_previous__none() -> None:
    assert check_bounds(PARAMS, None, OPEN, market="BTC-USD") is None


def test_check_bounds__below_floor__out_of_bounds_on_that_field() -> None:
    bounds = _with_field(OPEN, 3, FieldBounds(2000, 5000, 65535))
    violation = check_bounds(PARAMS, None, bounds, market="BTC-USD")
    assert violation is not None
    assert (violation.market, violation.field, violation.value) == ("BTC-USD", "initial_margin", 1600)
    assert violation.why.startswith("RiskOracleOutOfBounds: field 3 outside [2000, 5000]")


def test_check_bounds__on_floor_and_ceiling__accepted() -> None:
    bounds = _with_field(_with_field(OPEN, 3, FieldBounds(1600, 1600, 0)), 0, FieldBounds(0, 5000, 0))
    assert check_bounds(PARAMS, PARAMS, bounds) is None


def test_check_bounds__above_ceiling__out_of_bounds() -> None:
    bounds = _with_field(OPEN, 0, FieldBounds(0, 4999, 65535))
    violation = check_bounds(PARAMS, None, bounds)
    assert violation is not None and violation.field == "volatility"


def test_check_bounds__absolute_change__limit_inclusive() -> None:
    bounds = _with_field(OPEN, 3, FieldBounds(0, 65535, 100))
    assert check_bounds(replace(PARAMS, initial_margin=1700), PARAMS, bounds) is None
    violation = check_bounds(replace(PARAMS, initial_margin=1499), PARAMS, bounds)
    assert violation is not None and violation.field == "initial_margin"
    assert violation.why.startswith("RiskOracleChangeTooLarge: field 3 moved 101 bp from 1600")


def test_check_bounds__relative_change__bp_of_stored_value_exact() -> None:
    bounds = _with_field(OPEN, 3, FieldBounds(0, 65535, 1000), mask=1 << 3)  # 10% of the stored 1600 = 160
    assert check_bounds(replace(PARAMS, initial_margin=1760), PARAMS, bounds) is None
    assert check_bounds(replace(PARAMS, initial_margin=1440), PARAMS, bounds) is None
    violation = check_bounds(replace(PARAMS, initial_margin=1761), PARAMS, bounds)
    assert violation is not None and violation.field == "initial_margin"
    # 10% of 1605 is 160.5: a move of 160 passes, 161 does not (no rounding of the allowance).
    stored = replace(PARAMS, initial_margin=1605)
    assert check_bounds(replace(PARAMS, initial_margin=1765), stored, bounds) is None
    assert check_bounds(replace(PARAMS, initial_margin=1766), stored, bounds) is not None


def test_check_bounds__relative_change_from_zero__any_move_rejected() -> None:
    bounds = _with_field(OPEN, 6, FieldBounds(0, 10000, 5000), mask=1 << 6)
    stored = replace(PARAMS, risk_score=0)
    violation = check_bounds(PARAMS, stored, bounds)
    assert violation is not None and violation.field == "risk_score"


def test_check_bounds__no_previous__change_limit_not_applied() -> None:
    bounds = _with_field(OPEN, 3, FieldBounds(0, 65535, 0))
    assert check_bounds(PARAMS, None, bounds) is None
    assert check_bounds(PARAMS, replace(PARAMS, initial_margin=1601), bounds) is not None


def test_check_bounds__min_interval__earliest_is_previous_plus_interval() -> None:
    bounds = OnchainBounds(OPEN.fields, 0, 3600)
    kwargs = {"market": "ETH-USD", "previous_observed_at": 1_000_000}
    assert check_bounds(PARAMS, PARAMS, bounds, observed_at=1_003_600, **kwargs) is None
    violation = check_bounds(PARAMS, PARAMS, bounds, observed_at=1_003_599, **kwargs)
    assert violation is not None and violation.field == "observed_at"
    assert violation.why.startswith("RiskOracleUpdateTooSoon: earliest 1003600")


@pytest.mark.parametrize(
    ("changes", "reason", "field"),
    [
        ({"maintenance_margin": 1601}, 1, "maintenance_margin"),
        ({"var99": 1001}, 2, "var99"),
        ({"liquidation_threshold": 8881}, 3, "liquidation_threshold"),
        ({"risk_score": 10001}, 4, "risk_score"),
        ({"confidence": 10001}, 5, "confidence"),
    ],
)
def test_check_bounds__inconsistent__contract_reason_code(
    changes: dict[str, int], reason: int, field: str
) -> None:
    violation = check_bounds(replace(PARAMS, **changes), None, OPEN)
    assert violation is not None and violation.field == field
    assert violation.why.startswith(f"RiskOracleInconsistentParams reason {reason}:")


def test_check_bounds__consistency_edges__accepted() -> None:
    edge = replace(
        PARAMS,
        maintenance_margin=1600,
        var99=1000,
        liquidation_threshold=8400,
        risk_score=10000,
        confidence=10000,
    )
    assert check_bounds(edge, None, OPEN) is None


def test_check_bounds__two_violations__field_bounds_before_consistency_lowest_index_first() -> None:
    bad = replace(PARAMS, maintenance_margin=1700, var99=2000)
    bounds = _with_field(OPEN, 1, FieldBounds(0, 1500, 65535))
    violation = check_bounds(bad, None, bounds)
    assert violation is not None and violation.field == "var99"
    assert violation.why.startswith("RiskOracleOutOfBounds")


def test_check_bounds__change_on_field_1_and_range_on_field_5__range_reported_first() -> None:
    bounds = _with_field(_with_field(OPEN, 1, FieldBounds(0, 65535, 10)), 5, FieldBounds(0, 8000, 65535))
    violation = check_bounds(replace(PARAMS, var99=900), PARAMS, bounds)  # LT 8380 > 8000 and VaR +100
    assert violation is not None and violation.field == "liquidation_threshold"
    assert violation.why.startswith("RiskOracleOutOfBounds: field 5")


def test_check_bounds__too_soon_and_out_of_range__interval_reported_first() -> None:
    bounds = OnchainBounds(_with_field(OPEN, 0, FieldBounds(0, 10, 65535)).fields, 0, 60)
    violation = check_bounds(PARAMS, PARAMS, bounds, observed_at=100, previous_observed_at=50)
    assert violation is not None and violation.field == "observed_at"


def test_check_bounds__never_published__interval_not_applied() -> None:
    bounds = OnchainBounds(OPEN.fields, 0, 3600)
    assert check_bounds(PARAMS, None, bounds, observed_at=100, previous_observed_at=50) is None


def test_ensure_within_bounds__violation__raised() -> None:
    with pytest.raises(BoundsViolation, match="reason 1"):
        ensure_within_bounds(replace(PARAMS, maintenance_margin=1601), None, OPEN, market="BTC-USD")
    ensure_within_bounds(PARAMS, None, OPEN)


def test_onchain_bounds__abi_round_trip__identical() -> None:
    fields = tuple(FieldBounds(i, 1000 + i, 10 * i) for i in range(len(RISK_FIELDS)))
    bounds = OnchainBounds(fields, 0b1010_0001, 300)
    assert OnchainBounds.from_abi(bounds.to_abi()) == bounds
    assert bounds.is_relative(0) and not bounds.is_relative(1) and bounds.is_relative(7)


@pytest.mark.parametrize(
    "build",
    [
        lambda: FieldBounds(10, 9, 0),
        lambda: FieldBounds(0, 65536, 0),
        lambda: OnchainBounds(OPEN.fields[:7]),
        lambda: OnchainBounds(OPEN.fields, 256),
        lambda: OnchainBounds(OPEN.fields, 0, -1),
    ],
)
def test_onchain_bounds__invalid_profile__value_error(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]
