from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oracle_node.errors import BoundsViolation
from oracle_node.risk.bounds import check_bounds
from oracle_node.risk.project import allowed_range, project
from oracle_node.types import FieldBounds, OnchainBounds, RiskParamsBps

# vol, VaR, ES, IM, MM relative (50 % per update); LT absolute 500 bp; score/confidence unlimited.
PROFILE = OnchainBounds(
    (
        FieldBounds(1000, 40000, 5000),
        FieldBounds(50, 5000, 5000),
        FieldBounds(60, 6000, 5000),
        FieldBounds(200, 10000, 5000),
        FieldBounds(100, 8000, 5000),
        FieldBounds(1000, 9500, 500),
        FieldBounds(0, 10000, 65535),
        FieldBounds(0, 10000, 65535),
    ),
    relative_mask=0b11111,
)
CALM = RiskParamsBps(6400, 850, 1480, 2180, 1525, 7975, 5000, 7000)


def test_project__within_bounds__unchanged() -> None:
    p = project("BTC-USD", CALM, None, PROFILE)
    assert (p.params, p.held_back) == (CALM, ())


def test_project__crash_wants_margins_to_double__steps_by_the_allowed_fifty_percent() -> None:
    wanted = RiskParamsBps(15280, 2500, 4200, 5565, 3896, 5600, 9700, 6000)
    p = project("BTC-USD", wanted, CALM, PROFILE)
    # 2180 * 5000 // 10000 = 1090 -> IM 3270; MM 1525 + 762 = 2287; LT 7975 - 500 = 7475.
    assert p.params.initial_margin == 3270
    assert p.params.maintenance_margin == 2287
    assert p.params.liquidation_threshold == 7475
    assert set(p.held_back) >= {"volatility", "initial_margin", "maintenance_margin", "liquidation_threshold"}
    assert check_bounds(p.params, CALM, PROFILE) is None


def test_project__im_above_ceiling__publishes_the_ceiling_and_keeps_mm_below_it() -> None:
    wanted = RiskParamsBps(30000, 4000, 5900, 10692, 7485, 40, 9800, 5000)
    p = project("ETH-USD", wanted, None, PROFILE)
    assert p.params.initial_margin == 10000
    assert p.params.maintenance_margin == 7485
    assert p.params.liquidation_threshold == 1000  # the DAO floor, lowest LT it lets through
    assert check_bounds(p.params, None, PROFILE) is None


def test_project__confidence_below_the_floor__refused_not_raised() -> None:
    floored = OnchainBounds((*PROFILE.fields[:7], FieldBounds(5000, 10000, 65535)), PROFILE.relative_mask)
    with pytest.raises(BoundsViolation, match="confidence"):
        project("BTC-USD", RiskParamsBps(6400, 850, 1480, 2180, 1525, 7975, 5000, 4000), None, floored)


def test_allowed_range__relative_step__rounds_inwards_for_the_contract_check() -> None:
    # stored 333, 50 %: 166.5 -> 166, so |d| * 10000 = 1_660_000 <= 333 * 5000 = 1_665_000.
    assert allowed_range(1, 333, PROFILE) == (333 - 166, 333 + 166)  # VaR: floor 50 does not bind


fields = st.integers(min_value=0, max_value=20000)


@given(wanted=st.tuples(*[fields] * 8), stored=st.one_of(st.none(), st.just(CALM)))
def test_project__any_wanted_set__result_passes_the_contract_checks_or_is_refused(wanted, stored) -> None:  # type: ignore[no-untyped-def]
    w = RiskParamsBps(*[min(x, 10000) if i >= 6 else x for i, x in enumerate(wanted)])
    try:
        p = project("M", w, stored, PROFILE)
    except BoundsViolation:
        return
    assert check_bounds(p.params, stored, PROFILE) is None
    assert p.params.confidence <= w.confidence


def test_project__lt_cannot_fall_as_far_as_mm_rises__mm_rises_only_as_far_as_lt_allows() -> None:
    stored = RiskParamsBps(9474, 1398, 2256, 3168, 2218, 7282, 9731, 4786)
    wanted = RiskParamsBps(15000, 2000, 3300, 4700, 3300, 6200, 9800, 5000)
    p = project("BTC-USD", wanted, stored, PROFILE)
    # LT may fall 500 bp (to 6782), so MM may be at most 10000 - 6782 = 3218 although it wanted 3300.
    assert (p.params.liquidation_threshold, p.params.maintenance_margin) == (6782, 3218)
    assert check_bounds(p.params, stored, PROFILE) is None
