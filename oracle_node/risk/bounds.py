"""The contract's report-path checks, mirrored, so the node never signs what the chain would reject.

`OnchainBounds` mirrors IRiskOracle.Bounds (fields[8] of floor/ceiling/maxChange, relativeMask,
minInterval). `check_bounds` applies the contract's report-path checks to one market's params, in
this order, and returns the first violation (None when the chain would accept):

1. minInterval (when a previous value is stored and both observation times are given): observedAt >=
   previousObservedAt + minInterval, else RiskOracleUpdateTooSoon.
2. range, fields i = 0..7 (RISK_FIELDS order): floor <= value <= ceiling, else RiskOracleOutOfBounds.
3. change, only when a previous value is stored, fields 0..7: |value - stored| <= maxChange (absolute
   bp) or, with bit i of relativeMask set, |value - stored| * 10000 <= stored * maxChange, else
   RiskOracleChangeTooLarge (a relative bound on a stored 0 allows no change, as on-chain).
4. consistency, RiskOracleInconsistentParams reason 1 MM > IM, 2 VaR > ES, 3 LT + MM > 10000,
   4 score > 10000, 5 confidence > 10000.
This is the order of RiskOracle._applyMarket (checkRange over all fields, then checkChange, then
checkConsistency), so the violation names the field the revert would. Its `why` starts with the
contract error's name, so logs match the revert a submission would have produced.
"""

from __future__ import annotations

from oracle_node.errors import BoundsViolation
from oracle_node.types import BPS, RISK_FIELDS, OnchainBounds, RiskParamsBps


def _range_violation(market: str, index: int, value: int, bounds: OnchainBounds) -> BoundsViolation | None:
    fb = bounds.fields[index]
    if fb.floor <= value <= fb.ceiling:
        return None
    why = f"RiskOracleOutOfBounds: field {index} outside [{fb.floor}, {fb.ceiling}]"
    return BoundsViolation(market, RISK_FIELDS[index], value, why)


def _change_violation(
    market: str, index: int, value: int, stored: int, bounds: OnchainBounds
) -> BoundsViolation | None:
    limit, delta = bounds.fields[index].max_change, abs(value - stored)
    if bounds.is_relative(index):
        if delta * BPS <= stored * limit:
            return None
        allowed = f"{limit} bp of it"
    elif delta <= limit:
        return None
    else:
        allowed = f"{limit} bp"
    why = f"RiskOracleChangeTooLarge: field {index} moved {delta} bp from {stored}, above {allowed}"
    return BoundsViolation(market, RISK_FIELDS[index], value, why)


def consistency_violation(market: str, p: RiskParamsBps) -> BoundsViolation | None:
    """The contract's RiskOracleInconsistentParams rules, reasons 1..5 in order."""
    rules = (
        (
            1,
            "maintenance_margin",
            p.maintenance_margin > p.initial_margin,
            f"MM {p.maintenance_margin} > IM {p.initial_margin}",
        ),
        (2, "var99", p.var99 > p.es99, f"VaR {p.var99} > ES {p.es99}"),
        (
            3,
            "liquidation_threshold",
            p.liquidation_threshold + p.maintenance_margin > BPS,
            f"LT {p.liquidation_threshold} + MM {p.maintenance_margin} > {BPS}",
        ),
        (4, "risk_score", p.risk_score > BPS, f"score {p.risk_score} > {BPS}"),
        (5, "confidence", p.confidence > BPS, f"confidence {p.confidence} > {BPS}"),
    )
    for reason, field, broken, text in rules:
        if broken:
            value = getattr(p, field)
            return BoundsViolation(
                market, field, value, f"RiskOracleInconsistentParams reason {reason}: {text}"
            )
    return None


def check_bounds(
    params: RiskParamsBps,
    previous: RiskParamsBps | None,
    bounds: OnchainBounds,
    *,
    market: str = "?",
    observed_at: int | None = None,
    previous_observed_at: int | None = None,
    block_time: int | None = None,
    previous_accepted_at: int | None = None,
) -> BoundsViolation | None:
    """The first check the contract would fail for this market's update, or None if it would pass.

    `previous` is the stored params (None for a market never published: no change limit applies).
    The interval rules apply to observedAt and, when `block_time` is given, to the block time of
    acceptance (the stored update's `previous_accepted_at`, see MarketState.accepted_at).
    """
    if previous is not None and observed_at is not None and previous_observed_at is not None:
        earliest = previous_observed_at + bounds.min_interval
        if observed_at < earliest:
            why = f"RiskOracleUpdateTooSoon: earliest {earliest} (previous {previous_observed_at} + {bounds.min_interval} s)"
            return BoundsViolation(market, "observed_at", observed_at, why)
    if previous is not None and block_time is not None and previous_accepted_at is not None:
        earliest = previous_accepted_at + bounds.min_interval
        if block_time < earliest:
            why = f"RiskOracleUpdateTooFrequent: earliest block time {earliest} (accepted {previous_accepted_at} + {bounds.min_interval} s)"
            return BoundsViolation(market, "block_time", block_time, why)
    values = params.as_tuple()
    for index, value in enumerate(values):
        violation = _range_violation(market, index, value, bounds)
        if violation is not None:
            return violation
    if previous is not None:
        for index, (value, stored) in enumerate(zip(values, previous.as_tuple(), strict=True)):
            violation = _change_violation(market, index, value, stored, bounds)
            if violation is not None:
                return violation
    return consistency_violation(market, params)


def ensure_within_bounds(
    params: RiskParamsBps,
    previous: RiskParamsBps | None,
    bounds: OnchainBounds,
    *,
    market: str = "?",
    observed_at: int | None = None,
    previous_observed_at: int | None = None,
) -> None:
    """`check_bounds`, raising its BoundsViolation."""
    violation = check_bounds(
        params,
        previous,
        bounds,
        market=market,
        observed_at=observed_at,
        previous_observed_at=previous_observed_at,
    )
    if violation is not None:
        raise violation
