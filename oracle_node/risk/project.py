"""Fit a wanted parameter set into what the DAO's bounds let one update publish.

The contract rejects, it never clamps. The node therefore decides what to sign when its model wants
more than one update may carry (a crash: margins want to double in an hour, the profile allows +50 %
per update; or IM above the DAO's ceiling). Publishing nothing would leave the old, low margins
on-chain through the crash, the worst outcome. So the node publishes the furthest point towards its
target that the bounds allow, and reports which fields were held back (flag `bounded_by_dao`):

- every field is clipped to [floor, ceiling] and, when a value is stored, to the largest allowed
  change from it (relative: |d| * 10000 <= stored * maxChange, rounded inwards so the contract's
  integer check passes; absolute: |d| <= maxChange);
- then consistency is restored conservatively inside those ranges: ES >= VaR (raise ES, else lower
  VaR), IM >= MM (raise IM, else lower MM), LT <= 10000 - MM (lower LT, else raise MM less);
- confidence is never published above what the node computed: if the bounds would force that (a
  floor above it), the update is refused instead;
- if no consistent point exists inside the ranges, BoundsViolation: nothing is published and the
  last values age until the consumers' max age makes them fail closed.
The next rounds keep moving towards the target, one allowed step each.
"""

from __future__ import annotations

from dataclasses import dataclass

from oracle_node.errors import BoundsViolation
from oracle_node.risk.bounds import check_bounds
from oracle_node.types import BPS, RISK_FIELDS, OnchainBounds, RiskParamsBps

VAR, ES, IM, MM, LT, CONFIDENCE = 1, 2, 3, 4, 5, 7


@dataclass(frozen=True)
class Projection:
    params: RiskParamsBps
    held_back: tuple[str, ...]  # fields whose published value differs from the wanted one

    @property
    def bounded(self) -> bool:
        return bool(self.held_back)


def allowed_range(index: int, stored: int | None, bounds: OnchainBounds) -> tuple[int, int]:
    f = bounds.fields[index]
    lo, hi = f.floor, f.ceiling
    if stored is not None:
        # relative: floor division keeps |d| * 10000 <= stored * maxChange true for the contract
        step = stored * f.max_change // BPS if bounds.is_relative(index) else f.max_change
        lo, hi = max(lo, stored - step), min(hi, stored + step)
    return lo, hi


def project(
    market: str, wanted: RiskParamsBps, stored: RiskParamsBps | None, bounds: OnchainBounds
) -> Projection:
    prev = stored.as_tuple() if stored is not None else (None,) * len(RISK_FIELDS)
    ranges = [allowed_range(i, prev[i], bounds) for i in range(len(RISK_FIELDS))]
    for i, (lo, hi) in enumerate(ranges):
        if lo > hi:
            raise BoundsViolation(
                market, RISK_FIELDS[i], (lo, hi), "no value satisfies both range and max change"
            )
    v = [min(max(x, lo), hi) for x, (lo, hi) in zip(wanted.as_tuple(), ranges, strict=True)]
    if v[CONFIDENCE] > wanted.confidence:
        why = f"computed confidence {wanted.confidence} bp is below what the bounds allow ({ranges[CONFIDENCE][0]} bp)"
        raise BoundsViolation(market, "confidence", wanted.confidence, why)
    if not _raise_to(v, ES, v[VAR], ranges):
        _lower_to(v, VAR, v[ES], ranges)
    if not _raise_to(v, IM, v[MM], ranges):
        _lower_to(v, MM, v[IM], ranges)
    if not _lower_to(v, LT, BPS - v[MM], ranges):
        _lower_to(v, MM, BPS - v[LT], ranges)  # LT cannot fall that far in one update: MM rises less
    params = RiskParamsBps(*v)
    violation = check_bounds(params, stored, bounds, market=market)
    if violation is not None:
        raise violation
    held = tuple(name for name, a, b in zip(RISK_FIELDS, v, wanted.as_tuple(), strict=True) if a != b)
    return Projection(params, held)


def _raise_to(v: list[int], i: int, target: int, ranges: list[tuple[int, int]]) -> bool:
    """Raise v[i] to at least target if its range allows; True when v[i] >= target afterwards."""
    if v[i] < target:
        v[i] = min(target, ranges[i][1])
    return v[i] >= target


def _lower_to(v: list[int], i: int, target: int, ranges: list[tuple[int, int]]) -> bool:
    if v[i] > target:
        v[i] = max(target, ranges[i][0])
    return v[i] <= target
