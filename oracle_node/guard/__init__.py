"""Input guard: decides per tick which sources to trust. Pure functions, no I/O.

Entry point: `evaluate(market, ticks, now, state, params) -> GuardResult`; pass `result.state` back in
on the next call for the same market. See oracle_node/guard/guard.py for the rules and the degraded
mode policy, params.py for every threshold and why.
"""

from oracle_node.guard.guard import evaluate
from oracle_node.guard.params import GuardParams
from oracle_node.guard.result import Flag, GuardResult, Reason, Rejection
from oracle_node.guard.state import GuardState, SourceState

__all__ = [
    "Flag",
    "GuardParams",
    "GuardResult",
    "GuardState",
    "Reason",
    "Rejection",
    "SourceState",
    "evaluate",
]
