"""When to publish: a heartbeat, or a deviation with hysteresis. Pure; the daemon keeps the state.

A market publishes when
- nothing was published yet, or
- the heartbeat elapsed since the last publish, or
- a protective field (IM, MM, VaR, ES, volatility, LT) moved by at least `deviation_bps` relative to the
  last published value, and the trigger is armed.
After a deviation publish the trigger disarms; it re-arms once the fields have come back within
`deviation_bps - hysteresis_bps` of the last published values, or at the next heartbeat. This stops a
value oscillating around the threshold from publishing every tick (and paying gas each time). A
protective move (initial margin up by at least `deviation_bps`) publishes even when disarmed: margins
must follow a crash at once; only loosening is damped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from oracle_node.types import RISK_FIELDS, RiskParamsBps

_WATCHED = ("volatility", "var99", "es99", "initial_margin", "maintenance_margin", "liquidation_threshold")


@dataclass(frozen=True, slots=True)
class TriggerState:
    last_params: RiskParamsBps | None = None
    last_publish_ts: float | None = None
    armed: bool = True


@dataclass(frozen=True, slots=True)
class TriggerDecision:
    publish: bool
    reason: str  # "first", "heartbeat", "deviation", "none"
    max_deviation_bps: float


def max_relative_deviation_bps(new: RiskParamsBps, old: RiskParamsBps) -> float:
    worst = 0.0
    for name in _WATCHED:
        a, b = getattr(new, name), getattr(old, name)
        base = max(b, 1)
        worst = max(worst, abs(a - b) * 10_000 / base)
    return worst


def decide(
    state: TriggerState,
    *,
    params: RiskParamsBps,
    now: float,
    heartbeat_s: float,
    deviation_bps: float,
) -> TriggerDecision:
    if state.last_params is None or state.last_publish_ts is None:
        return TriggerDecision(True, "first", 0.0)
    dev = max_relative_deviation_bps(params, state.last_params)
    if now - state.last_publish_ts >= heartbeat_s:
        return TriggerDecision(True, "heartbeat", dev)
    protective = params.initial_margin > state.last_params.initial_margin
    if dev >= deviation_bps and (state.armed or protective):
        return TriggerDecision(True, "deviation", dev)
    return TriggerDecision(False, "none", dev)


def after_decision(
    state: TriggerState,
    *,
    decision: TriggerDecision,
    params: RiskParamsBps,
    now: float,
    deviation_bps: float,
    hysteresis_bps: float,
) -> TriggerState:
    """State once the decision was carried out (publish confirmed) or not."""
    if decision.publish:
        return TriggerState(last_params=params, last_publish_ts=now, armed=decision.reason != "deviation")
    if not state.armed and decision.max_deviation_bps <= deviation_bps - hysteresis_bps:
        return replace(state, armed=True)
    return state


assert set(_WATCHED) <= set(RISK_FIELDS)
