"""A per-market circuit breaker: N consecutive failures open it; one half-open try after a cooldown."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Breaker:
    """Opens after `limit` consecutive failures; half-opens (one try) after `cooldown_s`."""

    limit: int
    cooldown_s: float
    failures: int = 0
    opened_at: float | None = None

    def allows(self, now: float) -> bool:
        return self.opened_at is None or now - self.opened_at >= self.cooldown_s

    def record(self, ok: bool, now: float) -> bool:
        """Returns True when this failure opened the breaker."""
        if ok:
            self.failures, self.opened_at = 0, None
            return False
        self.failures += 1
        if self.failures >= self.limit and self.opened_at is None:
            self.opened_at = now
            return True
        if self.opened_at is not None:
            self.opened_at = now  # a failed half-open try keeps it open for another cooldown
        return False
