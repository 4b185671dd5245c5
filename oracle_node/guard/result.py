"""What the guard decides for one market at one time: the aggregate, who was trusted and why not."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from oracle_node.errors import GuardRejection
from oracle_node.guard.state import GuardState


class Reason(StrEnum):
    """Why a source did not contribute to the aggregate."""

    STALE = "stale"  # tick older than max_age_s
    FUTURE = "future"  # tick dated more than max_future_s after now
    FROZEN = "frozen"  # price pinned while peers moved, or no sign of life (volume, book) for too long
    THIN = "thin"  # depth within ±1 % too small to be costly to move
    DUPLICATE_POOL = "duplicate_pool"  # prices from a pool another (deeper) source already represents
    OUTLIER = "outlier"  # too far from the median of the independent sources right now
    DRIFT = "drift"  # cumulative deviation from the peers' median (slow walk away), not yet recovered
    NO_QUORUM = "no_quorum"  # would have been accepted, but too few trusted sources agree to publish


class Flag(StrEnum):
    DEGRADED = "degraded"  # no aggregate: do not publish
    NO_MAJORITY = "no_majority"  # the trusted sources are not a strict majority of the live ones
    FAST_MOVE_CONFIRMED = "fast_move_confirmed"  # a large move carried by the majority passed
    SINGLE_SOURCE_MOVE_REJECTED = "single_source_move_rejected"  # a large move on a minority was refused


@dataclass(frozen=True, slots=True)
class Rejection:
    source: str
    reason: Reason
    text: str


@dataclass(frozen=True, slots=True)
class GuardResult:
    """The guard's decision. `aggregate_price` is None in degraded mode (nothing may be published).

    accepted: sources whose price formed the aggregate, sorted by name. rejected: every other source
    given in the call, with a reason code and a human-readable text. dispersion: robust relative
    dispersion (scaled MAD of log prices) of the accepted sources. `state` goes into the next call.
    """

    market: str
    ts: float
    aggregate_price: float | None
    accepted: tuple[str, ...]
    rejected: tuple[Rejection, ...]
    flags: frozenset[str]
    confidence: float
    state: GuardState
    independent_sources: int = 0
    dispersion: float = 0.0
    weights: tuple[tuple[str, float], ...] = field(default=())
    degraded_reason: str | None = None

    def require_price(self) -> float:
        """The aggregate, or GuardRejection naming why the market is degraded."""
        if self.aggregate_price is None:
            raise GuardRejection(self.market, self.degraded_reason or "degraded")
        return self.aggregate_price

    @property
    def degraded(self) -> bool:
        return self.aggregate_price is None

    def reasons(self) -> dict[str, str]:
        """source -> reason code, for logs and the replay output."""
        return {r.source: str(r.reason) for r in self.rejected}

    def reason_of(self, source: str) -> Reason | None:
        for rejection in self.rejected:
            if rejection.source == source:
                return rejection.reason
        return None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "market": self.market,
            "aggregate_price": self.aggregate_price,
            "accepted_sources": list(self.accepted),
            "rejected": self.reasons(),
            "rejected_text": {r.source: r.text for r in self.rejected},
            "flags": sorted(self.flags),
            "confidence": self.confidence,
            "independent_sources": self.independent_sources,
            "dispersion": self.dispersion,
            "degraded_reason": self.degraded_reason,
        }
