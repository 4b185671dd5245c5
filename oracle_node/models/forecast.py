"""What every model returns: a one-day-ahead distributional forecast of the log return."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


class Flag:
    """Forecast flag names (strings, so they serialise as they read)."""

    FALLBACK_BASELINE = "fallback_baseline"  # the ML model was not used; the baseline was published
    OUT_OF_TRAINING_RANGE = "out_of_training_range"  # an ML input was NaN or beyond its training range
    ML_INVALID_OUTPUT = "ml_invalid_output"  # the ML quantiles were crossed or on the wrong side of 0
    MODEL_DISAGREEMENT = "model_disagreement"  # ML and baseline differed by more than the tolerance
    FALLBACK_EWMA = "fallback_ewma"  # GJR-GARCH unavailable; EWMA-normal used as the baseline
    GJR_FIT_FAILED = "gjr_fit_failed"  # the scheduled GJR-GARCH fit failed or did not converge
    INSUFFICIENT_HISTORY = "insufficient_history"  # too few returns for a GJR-GARCH fit


@dataclass(frozen=True, slots=True)
class Forecast:
    """One-day-ahead forecast of a market's log return.

    sigma_1d: standard deviation of the 1-day log return (fraction, e.g. 0.035).
    var99 / es99: 1-day 99% Value-at-Risk / Expected Shortfall of a long position, as positive loss
    fractions of notional (simple-return terms: 1 - exp(q) for a log-return quantile q).
    var99_short / es99_short: the same for a short position (right tail), so margins can be two-sided.
    nu: Student-t degrees of freedom where the model has them (None otherwise).
    flags: e.g. {"fallback_baseline", "out_of_training_range"}; empty when nothing unusual happened
    (the names are the constants of Flag below).
    agreement: 0..1, how closely the ML model and the baseline agreed (min/max ratio of their VaRs);
    1.0 when only one model was consulted. The risk layer folds it into confidence.
    """

    model: str
    sigma_1d: float
    var99: float
    es99: float
    var99_short: float
    es99_short: float
    nu: float | None = None
    flags: frozenset[str] = field(default_factory=frozenset)
    agreement: float = 1.0

    def __post_init__(self) -> None:
        for name in ("sigma_1d", "var99", "es99", "var99_short", "es99_short"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"forecast {self.model}: {name} = {value!r} must be finite and >= 0")
        if not 0.0 <= self.agreement <= 1.0:
            raise ValueError(f"forecast {self.model}: agreement = {self.agreement!r} must be in [0, 1]")
        if self.es99 < self.var99 or self.es99_short < self.var99_short:
            raise ValueError(f"forecast {self.model}: ES below VaR ({self.es99} < {self.var99})")

    @property
    def annualised_vol(self) -> float:
        """sigma_1d scaled by sqrt(365): crypto trades every day."""
        return self.sigma_1d * math.sqrt(365.0)
