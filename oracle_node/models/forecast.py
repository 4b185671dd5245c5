"""What every model returns: a one-day-ahead distributional forecast of the log return."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Forecast:
    """One-day-ahead forecast of a market's log return.

    sigma_1d: standard deviation of the 1-day log return (fraction, e.g. 0.035).
    var99 / es99: 1-day 99% Value-at-Risk / Expected Shortfall of a long position, as positive loss
    fractions of notional (simple-return terms: 1 - exp(q) for a log-return quantile q).
    var99_short / es99_short: the same for a short position (right tail), so margins can be two-sided.
    nu: Student-t degrees of freedom where the model has them (None otherwise).
    flags: e.g. {"fallback_baseline", "out_of_training_range"}; empty when nothing unusual happened.
    """

    model: str
    sigma_1d: float
    var99: float
    es99: float
    var99_short: float
    es99_short: float
    nu: float | None = None
    flags: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        for name in ("sigma_1d", "var99", "es99", "var99_short", "es99_short"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"forecast {self.model}: {name} = {value!r} must be finite and >= 0")
        if self.es99 < self.var99 or self.es99_short < self.var99_short:
            raise ValueError(f"forecast {self.model}: ES below VaR ({self.es99} < {self.var99})")

    @property
    def annualised_vol(self) -> float:
        """sigma_1d scaled by sqrt(365): crypto trades every day."""
        return self.sigma_1d * math.sqrt(365.0)
