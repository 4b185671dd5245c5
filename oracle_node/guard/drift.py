"""Cumulative drift: a two-sided CUSUM of each source's log-deviation from its peers' median.

A venue walking away slowly (each step small enough to pass the outlier test) accumulates its excess
deviation over the slack and trips the alarm; a constant basis inside the slack never accumulates.
Each observation adds at most `drift_step_cap_rel`, so one bad print alone does not raise the alarm.
Once raised, the source stays distrusted until `drift_recover_obs` consecutive observations fall back
inside the slack; then both sums restart from zero.
"""

from __future__ import annotations

from oracle_node.guard.params import GuardParams
from oracle_node.guard.result import Reason, Rejection
from oracle_node.guard.state import SourceState


def update_drift(entry: SourceState, deviation: float, params: GuardParams) -> SourceState:
    """Fold one observation's deviation from the peers' median into the source's CUSUM and trust."""
    cap, slack = params.drift_step_cap_rel, params.drift_slack_rel
    step = min(max(deviation, -cap), cap)
    pos = max(0.0, entry.cusum_pos + step - slack)
    neg = max(0.0, entry.cusum_neg - step - slack)
    if entry.distrusted:
        clean = entry.clean_obs + 1 if abs(deviation) <= slack else 0
        if clean >= params.drift_recover_obs:
            return entry.evolve(cusum_pos=0.0, cusum_neg=0.0, distrusted=False, clean_obs=0)
        return entry.evolve(cusum_pos=pos, cusum_neg=neg, clean_obs=clean)
    alarm = max(pos, neg) > params.drift_limit_rel
    return entry.evolve(cusum_pos=pos, cusum_neg=neg, distrusted=alarm, clean_obs=0)


def check_drift(entry: SourceState, params: GuardParams) -> Rejection | None:
    if not entry.distrusted:
        return None
    side = "above" if entry.cusum_pos >= entry.cusum_neg else "below"
    text = (
        f"cumulative drift {side} the peers' median (CUSUM {max(entry.cusum_pos, entry.cusum_neg):.2%} "
        f"> drift_limit_rel {params.drift_limit_rel:.2%}); in line {entry.clean_obs}/"
        f"{params.drift_recover_obs} observations towards recovery"
    )
    return Rejection(entry.source, Reason.DRIFT, text)
