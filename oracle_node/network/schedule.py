"""Rounds as time slots and the rotating leader (pure arithmetic, same on every node).

slot_time(r) = genesis + r * period. Attempt a of round r starts at slot_time(r) + a * leader_timeout
and is led by the signer with on-chain index (r + a) mod n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RoundClock:
    genesis: float
    period_s: float
    leader_timeout_s: float

    def __post_init__(self) -> None:
        if not self.period_s > 0 or not self.leader_timeout_s > 0:
            raise ValueError(
                f"period_s {self.period_s} and leader_timeout_s {self.leader_timeout_s} must be > 0"
            )

    def slot_time(self, round_: int) -> float:
        return self.genesis + round_ * self.period_s

    def round_at(self, now: float) -> int:
        """The latest round whose slot has started at `now` (0 before genesis)."""
        return max(0, math.floor((now - self.genesis) / self.period_s))

    def attempt_start(self, round_: int, attempt: int) -> float:
        return self.slot_time(round_) + attempt * self.leader_timeout_s

    def attempt_at(self, round_: int, now: float) -> int:
        """The attempt running at `now` for `round_` (0 before the slot)."""
        return max(0, math.floor((now - self.slot_time(round_)) / self.leader_timeout_s))


def leader_index(round_: int, attempt: int, signers: int) -> int:
    """On-chain signer index leading `attempt` of `round_`."""
    if signers <= 0:
        raise ValueError(f"signer set of size {signers} has no leader")
    return (round_ + attempt) % signers


def my_attempts(round_: int, my_index: int, signers: int, max_attempts: int) -> list[int]:
    """The attempts of `round_` (below max_attempts) this signer leads."""
    return [a for a in range(max_attempts) if leader_index(round_, a, signers) == my_index]
