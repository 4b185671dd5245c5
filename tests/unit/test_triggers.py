from __future__ import annotations

from oracle_node.service.triggers import TriggerState, after_decision, decide
from oracle_node.types import RiskParamsBps

KW = {"heartbeat_s": 3600.0, "deviation_bps": 100.0}


def params(im: int) -> RiskParamsBps:
    return RiskParamsBps(8000, 900, 1200, im, im * 2 // 3, 10_000 - im, 3000, 9000)


def step(state: TriggerState, p: RiskParamsBps, now: float) -> tuple[TriggerState, str | None]:
    d = decide(state, params=p, now=now, **KW)
    return after_decision(
        state, decision=d, params=p, now=now, hysteresis_bps=40.0, **{"deviation_bps": 100.0}
    ), (d.reason if d.publish else None)


def test_decide__nothing_published__publishes_first() -> None:
    assert decide(TriggerState(), params=params(2000), now=0.0, **KW).reason == "first"


def test_decide__heartbeat_elapsed__publishes_even_without_change() -> None:
    s = TriggerState(last_params=params(2000), last_publish_ts=0.0)
    assert decide(s, params=params(2000), now=3599.0, **KW).publish is False
    assert decide(s, params=params(2000), now=3600.0, **KW).reason == "heartbeat"


def test_decide__small_move__no_publish_and_deviation_reported() -> None:
    s = TriggerState(last_params=params(2000), last_publish_ts=0.0)
    d = decide(s, params=params(2019), now=10.0, **KW)
    # IM 2000->2019 is 95 bp, MM 1333->1346 is 97.5 bp: the worst watched field counts.
    assert (d.publish, round(d.max_deviation_bps)) == (False, 98)


def test_hysteresis__loosening_oscillation__publishes_once_until_rearmed() -> None:
    s, why = step(TriggerState(), params(2000), 0.0)
    assert why == "first"
    s, why = step(s, params(1970), 1.0)  # IM down 150 bp rel: publish, disarm
    assert (why, s.armed) == ("deviation", False)
    s, why = step(s, params(1950), 2.0)  # down again 101 bp rel to 1970, disarmed, loosening: damped
    assert why is None
    s, why = step(s, params(1965), 3.0)  # back within 60 bp of the published 1970: re-armed
    assert (why, s.armed) == (None, True)
    s, why = step(s, params(1945), 4.0)
    assert why == "deviation"


def test_hysteresis__protective_move_while_disarmed__publishes_at_once() -> None:
    s, _ = step(TriggerState(), params(2000), 0.0)
    s, why = step(s, params(1970), 1.0)
    assert s.armed is False
    s, why = step(s, params(2100), 2.0)  # margins up: never damped
    assert why == "deviation"
