"""Cumulative drift: two-sided CUSUM of the deviation from the peers' median, alarm and recovery."""

from __future__ import annotations

from collections.abc import Iterable

from oracle_node.guard import GuardParams, Reason
from oracle_node.guard.drift import check_drift, update_drift
from oracle_node.guard.state import SourceState

P = GuardParams()


def _feed(deviations: Iterable[float], entry: SourceState | None = None) -> list[SourceState]:
    state = entry or SourceState(source="x", last_ts=1.0, last_price=1.0)
    out = []
    for deviation in deviations:
        state = update_drift(state, deviation, P)
        out.append(state)
    return out


def _first_alarm(states: list[SourceState]) -> int | None:
    return next((k for k, s in enumerate(states) if s.distrusted), None)


def test_update_drift__constant_basis_inside_slack__never_alarms() -> None:
    states = _feed([0.0024] * 500 + [-0.0024] * 500)
    assert _first_alarm(states) is None
    assert states[-1].cusum_pos == 0.0 and states[-1].cusum_neg == 0.0


def test_update_drift__walk_half_percent_per_tick__alarms_within_three_ticks() -> None:
    assert _first_alarm(_feed(0.005 * k for k in range(1, 11))) == 2


def test_update_drift__slow_walk_to_0_8_percent_inside_outlier_band__alarms_within_ten() -> None:
    first = _first_alarm(_feed(min(0.001 * k, 0.008) for k in range(1, 31)))
    assert first is not None and first < 10


def test_update_drift__downward_walk__alarms_on_the_negative_side() -> None:
    states = _feed(-0.003 * k for k in range(1, 11))
    first = _first_alarm(states)
    assert first is not None and states[first].cusum_neg > P.drift_limit_rel
    rejection = check_drift(states[first], P)
    assert rejection is not None and rejection.reason is Reason.DRIFT and "below" in rejection.text


def test_update_drift__single_bad_print__capped_and_does_not_alarm_alone() -> None:
    states = _feed([0.0, 1.1, 0.0, 0.0])
    assert _first_alarm(states) is None
    assert states[1].cusum_pos == P.drift_step_cap_rel - P.drift_slack_rel


def test_update_drift__back_in_line__trusted_only_after_recover_obs() -> None:
    alarmed = _feed([0.01, 0.01, 0.01])[-1]
    assert alarmed.distrusted
    states = _feed([0.0] * P.drift_recover_obs, alarmed)
    assert [s.distrusted for s in states] == [True] * (P.drift_recover_obs - 1) + [False]
    assert states[-1].cusum_pos == 0.0 and states[-1].clean_obs == 0


def test_update_drift__relapse_during_recovery__count_restarts() -> None:
    alarmed = _feed([0.01, 0.01, 0.01])[-1]
    states = _feed([0.0] * 8 + [0.004] + [0.0] * 8, alarmed)
    assert all(s.distrusted for s in states)
    assert states[-1].clean_obs == 8


def test_check_drift__trusted__none() -> None:
    assert check_drift(SourceState(source="x", last_ts=1.0, last_price=1.0), P) is None
