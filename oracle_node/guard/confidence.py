"""Confidence of one guard decision, in 0..1.

    confidence = share x dispersion x depth x freshness

- share: accepted independent sources / independent pools among all sources given (stale, frozen,
  thin, outlying and drifting sources all lower it);
- dispersion: 1 / (1 + (d / dispersion_ref_rel)^2), d the scaled MAD of the accepted log prices:
  flat while venues agree to a few bp, one half at dispersion_ref_rel;
- depth: min(1, summed depth within ±1 % of the accepted sources / depth_ref), or
  unknown_depth_score when none of them reports depth;
- freshness: mean over accepted sources of 1 - (1 - stale_floor_score) * age / max_age_s.

In degraded mode the value is capped at degraded_confidence_cap (0 when nothing passed the checks).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from oracle_node.guard.params import GuardParams
from oracle_node.guard.robust import median, scaled_mad
from oracle_node.sources.tick import Tick


def dispersion(prices: Mapping[str, float]) -> float:
    """Scaled MAD of the log prices (relative dispersion); 0 for fewer than two prices."""
    if len(prices) < 2:
        return 0.0
    logs = [math.log(p) for p in prices.values()]
    return scaled_mad(logs, median(logs))


def depth_factor(ticks: Mapping[str, Tick], params: GuardParams) -> float:
    depths = [tick.depth for tick in ticks.values() if tick.depth is not None]
    if not depths:
        return params.unknown_depth_score
    return min(1.0, sum(depths) / params.depth_ref)


def freshness_factor(ticks: Mapping[str, Tick], now: float, params: GuardParams) -> float:
    penalty = 1.0 - params.stale_floor_score
    scores = [1.0 - penalty * min(1.0, max(0.0, now - t.ts) / params.max_age_s) for t in ticks.values()]
    return sum(scores) / len(scores)


def confidence(
    accepted: Mapping[str, Tick], pools: int, now: float, degraded: bool, params: GuardParams
) -> float:
    """The documented product of the four factors, capped in degraded mode."""
    if not accepted or pools == 0:
        return 0.0
    share = len(accepted) / pools
    spread = dispersion({name: tick.price for name, tick in accepted.items()})
    disp = 1.0 / (1.0 + (spread / params.dispersion_ref_rel) ** 2)
    value = share * disp * depth_factor(accepted, params) * freshness_factor(accepted, now, params)
    value = min(1.0, max(0.0, value))
    return min(value, params.degraded_confidence_cap) if degraded else value
