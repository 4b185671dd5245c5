"""The aggregate price: a depth- or volume-weighted median of the accepted sources, weights capped.

Weights come from depth within ±1 % of mid when every accepted source reports it, else from volume
when every one reports it, else they are equal (mixing measured and missing weights would reward a
venue for reporting). No weight exceeds `max_weight_share`, so below one half no single venue can set
the median on its own.
"""

from __future__ import annotations

from collections.abc import Mapping

from oracle_node.guard.params import GuardParams
from oracle_node.guard.robust import capped_weights, weighted_median
from oracle_node.sources.tick import Tick


def raw_weights(ticks: Mapping[str, Tick]) -> list[float]:
    """Depth if all have it, else volume if all have it, else 1 each (in the mapping's order)."""
    depths = [tick.depth for tick in ticks.values()]
    if all(d is not None and d > 0 for d in depths):
        return [float(d) for d in depths if d is not None]
    volumes = [tick.volume for tick in ticks.values()]
    if all(v is not None and v > 0 for v in volumes):
        return [float(v) for v in volumes if v is not None]
    return [1.0] * len(ticks)


def aggregate_price(ticks: Mapping[str, Tick], params: GuardParams) -> tuple[float, dict[str, float]]:
    """Weighted median of the ticks' prices and the capped weight given to each source."""
    weights = capped_weights(raw_weights(ticks), params.max_weight_share)
    price = weighted_median([tick.price for tick in ticks.values()], weights)
    return price, dict(zip(ticks, weights, strict=True))
