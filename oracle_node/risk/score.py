"""Risk score and confidence, both 0..10000.

Risk score: the probability, in basis points, that the market moves further over the margin period
than it does in a typical margin period of its own recent history:

    score = 10000 * P(|R_h| > m)                                           (rounded up)

- R_h is the log return over h = margin_period_days under the published forecast: the unit-variance
  Student-t with the model's nu (settings.default_nu when the model has none) scaled by
  sigma_1d * sqrt(h). (The sum of h daily t returns is a little thinner-tailed than one t; the score
  is a statement about the body of the distribution, where this barely matters.)
- m, the reference move, is the median of |h-day log move| over the last REFERENCE_DAYS days of the
  market's own closes (overlapping windows, `reference_move`), passed in by the caller; when the
  caller has no history, settings.score_reference_move (an absolute move) stands in, and the result
  says which was used.

So 5000 means "as likely as not to move more than usual", 9000 "nine chances in ten of an unusually
large move". The event is observable two days later, so the score is calibrated out of sample in the
walk-forward backtest (reliability diagram and Brier score: research.backtest.score_calibration).
It rises with sigma and falls as the reference grows. Flags do not enter it (they lower confidence):
the score is a probability, not a penalty table.

Why not P(loss over h > the published maintenance margin): MM is sized from the same forecast
(MM >= VaR99, about 0.7 x the ES-based IM), so that probability is 0.2-1.2 % on every day, and it
falls as vol rises (t4..t8, sigma 1..8 %/day). It would say nothing a protocol could act on.

Confidence: the product of three fractions, each in 0..1:
    confidence = guard_confidence * model_agreement * data_sufficiency          (rounded down)
    data_sufficiency = product over the model's and the guard's flags of confidence_flag_factors[flag]
                       (unknown flags: confidence_unknown_flag_factor)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from oracle_node.risk.params import RiskSettings

REFERENCE_DAYS = 1461  # four years of daily closes: a full crypto cycle, identical on every node
MIN_REFERENCE_DAYS = 30  # fewer h-day moves than this and the median is noise: use the settings value


@dataclass(frozen=True, slots=True)
class ScoreParts:
    """What the score was computed from (fractions; nu is the tail used, inf for a normal)."""

    probability: float  # P(|R_h| > reference_move), 0..1
    sigma_h: float  # sigma_1d * sqrt(h)
    nu: float
    reference_move: float
    reference_source: str  # "history" or "settings"


@dataclass(frozen=True, slots=True)
class ConfidenceParts:
    """The three factors whose product is the confidence."""

    guard: float
    agreement: float
    data_sufficiency: float

    @property
    def value(self) -> float:
        return self.guard * self.agreement * self.data_sufficiency


def horizon_days(settings: RiskSettings) -> int:
    """The margin period in whole days (at least 1): the length of the reference moves."""
    return max(1, round(settings.margin_period_days))


def reference_move(close: ArrayLike, days: int, window: int = REFERENCE_DAYS) -> float | None:
    """Median |log(close[t] / close[t - days])| over the last `window` days of closes (overlapping
    windows); None when fewer than MIN_REFERENCE_DAYS such moves exist or the median is not > 0."""
    c = np.asarray(close, dtype=np.float64)[-(window + days) :]
    if c.size < days + MIN_REFERENCE_DAYS or not (np.isfinite(c).all() and (c > 0).all()):
        return None
    logs = np.log(c)
    moves = np.abs(logs[days:] - logs[:-days])
    value = float(np.median(moves))
    return value if value > 0.0 else None


def exceedance_probability(sigma_h: ArrayLike, nu: ArrayLike, threshold: ArrayLike) -> NDArray[np.float64]:
    """P(|X| > threshold) for X = sigma_h times a unit-variance Student-t(nu) (normal where nu is inf
    or NaN), vectorised. sigma_h <= 0 gives 0 (no move is possible)."""
    s, n, m = np.broadcast_arrays(
        np.asarray(sigma_h, dtype=np.float64),
        np.asarray(nu, dtype=np.float64),
        np.asarray(threshold, dtype=np.float64),
    )
    out = np.zeros(s.shape)
    live = s > 0.0
    normal = live & ~np.isfinite(n)
    t = live & np.isfinite(n)
    with np.errstate(divide="ignore", over="ignore"):  # a tiny sigma_h: -inf, probability 0
        out[normal] = 2.0 * special.ndtr(-m[normal] / s[normal])
        scale = np.sqrt((n[t] - 2.0) / n[t])
        out[t] = 2.0 * special.stdtr(n[t], -m[t] / (s[t] * scale))
    return np.clip(out, 0.0, 1.0)


def score_parts(
    sigma_1d: NDArray[np.float64],
    nu: NDArray[np.float64],
    references: list[float | None],
    settings: RiskSettings,
) -> list[ScoreParts]:
    """Per-market score and its inputs (vectorised over markets); NaN nu takes settings.default_nu."""
    h = settings.margin_period_days
    tails = np.where(np.isfinite(nu), nu, settings.default_nu)
    ref = np.array([settings.score_reference_move if r is None else r for r in references])
    sigma_h = sigma_1d * math.sqrt(h)
    prob = exceedance_probability(sigma_h, tails, ref)
    return [
        ScoreParts(p, s, n, r, "settings" if src is None else "history")
        for p, s, n, r, src in zip(
            prob.tolist(), sigma_h.tolist(), tails.tolist(), ref.tolist(), references, strict=True
        )
    ]


def score_fraction(parts: list[ScoreParts]) -> NDArray[np.float64]:
    """The probabilities, 0..1 per market."""
    return np.array([p.probability for p in parts], dtype=np.float64)


def flag_factor(flags: Iterable[str], factors: Mapping[str, float], unknown: float) -> float:
    return math.prod((factors.get(flag, unknown) for flag in flags), start=1.0)


def confidence_parts(
    guard: float, agreement: float, flags: Iterable[str], settings: RiskSettings
) -> ConfidenceParts:
    sufficiency = flag_factor(
        flags, settings.confidence_flag_factors, settings.confidence_unknown_flag_factor
    )
    return ConfidenceParts(guard, agreement, sufficiency)
