"""Risk score and confidence, both 0..10000.

Risk score: a logistic map of a weighted sum, monotone non-decreasing in each input:
    logit = w_vol * ln(vol_annual / vol_ref)
          + w_tail * (tail_ratio - R_normal)
          + sum of the penalties of the model's flags (e.g. fallback_baseline 0.75)
    score = 10000 / (1 + e^-logit)                                        (rounded up)
tail_ratio is the heavier of the forecast's own ES99/VaR99 (the worse side) and, when the model has a
Student-t nu, the t's ES99/VaR99, capped at 5; R_normal = 1.1456, the normal's ratio at 99%. With the
defaults a market at 60%/yr with normal tails and no flags scores 5000, at 120%/yr 8000, and a t4
tail (ratio 1.39) adds 1.0 to the logit.

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
from numpy.typing import NDArray
from scipy import special

from oracle_node.risk.margin import ForecastArrays
from oracle_node.risk.params import RiskSettings
from oracle_node.risk.tails import normal_es_multiplier, t_tail_multipliers

SCAN_LEVEL_99 = 0.99
NORMAL_TAIL_RATIO = normal_es_multiplier(SCAN_LEVEL_99) / float(special.ndtri(SCAN_LEVEL_99))
MIN_VAR_FOR_RATIO = 1e-6  # 0.01 bp
MAX_TAIL_RATIO = 5.0  # w_tail * (5 - 1.15) = 15 on the logit: the score is 10000 already


@dataclass(frozen=True, slots=True)
class ScoreParts:
    """The score's logit and its three terms."""

    vol_term: float
    tail_term: float
    flag_term: float

    @property
    def logit(self) -> float:
        return self.vol_term + self.tail_term + self.flag_term


@dataclass(frozen=True, slots=True)
class ConfidenceParts:
    """The three factors whose product is the confidence."""

    guard: float
    agreement: float
    data_sufficiency: float

    @property
    def value(self) -> float:
        return self.guard * self.agreement * self.data_sufficiency


def tail_ratio(f: ForecastArrays) -> NDArray[np.float64]:
    """Heavier of the forecast's ES/VaR (worse side) and the t's (NaN nu = no t); normal if undefined.

    A side's own ratio counts only where its VaR is at least MIN_VAR_FOR_RATIO (a VaR of 1e-300 says
    nothing about tails), and the ratio is capped at MAX_TAIL_RATIO, where the logistic is saturated.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        own_long = np.where(f.var_long >= MIN_VAR_FOR_RATIO, f.es_long / f.var_long, np.nan)
        own_short = np.where(f.var_short >= MIN_VAR_FOR_RATIO, f.es_short / f.var_short, np.nan)
        var_mult, es_mult = t_tail_multipliers(f.nu, SCAN_LEVEL_99)
        model = es_mult / var_mult
    ratio = np.fmax(np.fmax(own_long, own_short), np.where(np.isfinite(f.nu), model, np.nan))
    return np.minimum(np.where(np.isfinite(ratio), ratio, NORMAL_TAIL_RATIO), MAX_TAIL_RATIO)


def flag_penalty(flags: Iterable[str], penalties: Mapping[str, float], unknown: float) -> float:
    return float(sum(penalties.get(flag, unknown) for flag in flags))


def flag_factor(flags: Iterable[str], factors: Mapping[str, float], unknown: float) -> float:
    return math.prod((factors.get(flag, unknown) for flag in flags), start=1.0)


def score_parts(
    vol_annual: NDArray[np.float64],
    ratio: NDArray[np.float64],
    model_flags: list[frozenset[str]],
    settings: RiskSettings,
) -> list[ScoreParts]:
    """Per-market score terms (vectorised over markets, flags looked up per market)."""
    with np.errstate(divide="ignore"):
        vol_terms = settings.score_vol_weight * np.log(np.maximum(vol_annual, 1e-12) / settings.score_vol_ref)
    tail_terms = settings.score_tail_weight * (ratio - NORMAL_TAIL_RATIO)
    return [
        ScoreParts(
            float(v),
            float(t),
            flag_penalty(flags, settings.score_flag_penalties, settings.score_unknown_flag_penalty),
        )
        for v, t, flags in zip(vol_terms.tolist(), tail_terms.tolist(), model_flags, strict=True)
    ]


def score_fraction(parts: list[ScoreParts]) -> NDArray[np.float64]:
    """The logistic map, 0..1 per market."""
    logits = np.array([p.logit for p in parts], dtype=np.float64)
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * logits)), dtype=np.float64)


def confidence_parts(
    guard: float, agreement: float, flags: Iterable[str], settings: RiskSettings
) -> ConfidenceParts:
    sufficiency = flag_factor(
        flags, settings.confidence_flag_factors, settings.confidence_unknown_flag_factor
    )
    return ConfidenceParts(guard, agreement, sufficiency)
