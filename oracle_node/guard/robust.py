"""Robust statistics for small cross-sections (a handful of venues): plain Python, no NumPy.

For n <= 10 values, sorting a Python list is several times faster than a NumPy round trip, and the
guard runs per market per tick.
"""

from __future__ import annotations

from collections.abc import Sequence

# 1 / Phi^-1(3/4): scales the MAD to a standard deviation under normality.
MAD_TO_SIGMA = 1.482602218505602
_TIE_EPS = 1e-12


def median(values: Sequence[float]) -> float:
    """The median; the mean of the two middle values for an even count. Requires a value."""
    if not values:
        raise ValueError("median of an empty sequence")
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def scaled_mad(values: Sequence[float], center: float) -> float:
    """Median absolute deviation from `center`, scaled to a normal standard deviation."""
    return MAD_TO_SIGMA * median([abs(v - center) for v in values])


def capped_weights(raw: Sequence[float], cap: float) -> list[float]:
    """Normalise weights to sum 1 with no weight above `cap`, redistributing the excess pro rata.

    Non-positive raw weights count as zero. If the cap cannot be met (cap * n < 1) or all weights are
    zero, every value gets the same weight: equal is the closest feasible answer.
    """
    n = len(raw)
    positive = [max(w, 0.0) for w in raw]
    total = sum(positive)
    if n == 0 or total <= 0 or cap * n < 1:
        return [1.0 / n] * n if n else []
    weights = [w / total for w in positive]
    capped: set[int] = set()
    while True:
        over = [i for i, w in enumerate(weights) if i not in capped and w > cap + _TIE_EPS]
        if not over:
            return weights
        capped.update(over)
        free = [i for i in range(n) if i not in capped]
        free_mass = sum(positive[i] for i in free)
        left = 1.0 - cap * len(capped)
        for i in capped:
            weights[i] = cap
        for i in free:
            weights[i] = left * (positive[i] / free_mass) if free_mass > 0 else left / len(free)


def weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    """The value where the cumulative weight (sorted by value) first reaches half the total.

    When it lands exactly on one half, the two neighbouring values are averaged (the usual convention,
    so equal weights give the ordinary median).
    """
    if not values or len(values) != len(weights):
        raise ValueError(f"weighted median needs equal, non-empty inputs ({len(values)}, {len(weights)})")
    pairs = sorted(zip(values, weights, strict=True))
    half = sum(weights) / 2
    cumulative = 0.0
    for i, (value, weight) in enumerate(pairs):
        cumulative += weight
        if abs(cumulative - half) <= _TIE_EPS * max(1.0, half) and i + 1 < len(pairs):
            return (value + pairs[i + 1][0]) / 2
        if cumulative > half:
            return value
    return pairs[-1][0]
