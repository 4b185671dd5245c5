"""The contract's per-market bounds, mirrored, so the node never signs what the chain would reject.

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

from collections.abc import Sequence
from dataclasses import dataclass

from oracle_node.errors import BoundsViolation
from oracle_node.types import BPS, RISK_FIELDS, UINT16_MAX, RiskParamsBps

UINT8_MAX = 0xFF
UINT32_MAX = 0xFFFF_FFFF


@dataclass(frozen=True, slots=True)
class FieldBounds:
    """IRiskOracle.FieldBounds: floor, ceiling and the largest change per update, bp."""

    floor: int
    ceiling: int
    max_change: int

    def __post_init__(self) -> None:
        for name in ("floor", "ceiling", "max_change"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= UINT16_MAX:
                raise ValueError(f"FieldBounds.{name} = {value!r} is not a uint16")
        if self.floor > self.ceiling:
            raise ValueError(f"FieldBounds: floor {self.floor} above ceiling {self.ceiling}")


UNBOUNDED = FieldBounds(0, UINT16_MAX, UINT16_MAX)


@dataclass(frozen=True, slots=True)
class OnchainBounds:
    """IRiskOracle.Bounds: one profile. `fields` follows RISK_FIELDS order."""

    fields: tuple[FieldBounds, ...]
    relative_mask: int = 0
    min_interval: int = 0

    def __post_init__(self) -> None:
        if len(self.fields) != len(RISK_FIELDS):
            raise ValueError(f"OnchainBounds needs {len(RISK_FIELDS)} field bounds, got {len(self.fields)}")
        if not 0 <= self.relative_mask <= UINT8_MAX:
            raise ValueError(f"OnchainBounds.relative_mask = {self.relative_mask} is not a uint8")
        if not 0 <= self.min_interval <= UINT32_MAX:
            raise ValueError(f"OnchainBounds.min_interval = {self.min_interval} is not a uint32")

    @classmethod
    def unbounded(cls) -> OnchainBounds:
        """Every value accepted by the per-field checks (consistency still applies)."""
        return cls(tuple(UNBOUNDED for _ in RISK_FIELDS))

    @classmethod
    def from_abi(cls, value: Sequence[object]) -> OnchainBounds:
        """From the ABI-decoded `getBounds` tuple: ([(floor, ceiling, maxChange)] * 8, relativeMask, minInterval)."""
        fields, mask, interval = value
        triples = [tuple(f) for f in fields]  # type: ignore[attr-defined]
        return cls(tuple(FieldBounds(*t) for t in triples), int(mask), int(interval))  # type: ignore[call-overload]

    def as_abi(self) -> tuple[list[tuple[int, int, int]], int, int]:
        """The `setBounds` / `tightenBounds` argument."""
        fields = [(f.floor, f.ceiling, f.max_change) for f in self.fields]
        return fields, self.relative_mask, self.min_interval

    def is_relative(self, index: int) -> bool:
        return bool(self.relative_mask >> index & 1)


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
) -> BoundsViolation | None:
    """The first check the contract would fail for this market's update, or None if it would pass.

    `previous` is the stored params (None for a market never published: no change limit applies).
    """
    if previous is not None and observed_at is not None and previous_observed_at is not None:
        earliest = previous_observed_at + bounds.min_interval
        if observed_at < earliest:
            why = f"RiskOracleUpdateTooSoon: earliest {earliest} (previous {previous_observed_at} + {bounds.min_interval} s)"
            return BoundsViolation(market, "observed_at", observed_at, why)
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
