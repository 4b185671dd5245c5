"""Cross-section outlier test: robust median and scaled MAD of the independent sources' log prices.

The test is relative to the current cross-section only, never to the previous aggregate: when most
independent venues move together (a real crash), the median moves with them in the same tick and the
move passes, however large; a move on a minority leaves the median where it was and is rejected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from oracle_node.guard.params import GuardParams
from oracle_node.guard.result import Reason, Rejection
from oracle_node.guard.robust import median, scaled_mad


@dataclass(frozen=True, slots=True)
class CrossSection:
    """center: median price. scale: scaled MAD of log prices clipped to [floor, cap]. band: k * scale.
    deviations: each source's log(price / center)."""

    center: float
    scale: float
    band: float
    deviations: dict[str, float]


def cross_section(prices: Mapping[str, float], params: GuardParams) -> CrossSection:
    """Median and clipped scaled MAD of the log prices of the independent sources (at least one)."""
    logs = {name: math.log(price) for name, price in prices.items()}
    center = median(list(logs.values()))
    raw_scale = scaled_mad(list(logs.values()), center)
    scale = min(max(raw_scale, params.mad_floor_rel), params.mad_cap_rel)
    deviations = {name: value - center for name, value in logs.items()}
    return CrossSection(math.exp(center), scale, params.outlier_k * scale, deviations)


def find_outliers(section: CrossSection) -> list[Rejection]:
    """Sources whose log distance from the median exceeds the band."""
    rejected = []
    for name, deviation in section.deviations.items():
        if abs(deviation) > section.band:
            text = (
                f"{math.expm1(deviation):+.2%} from the median {section.center:.6g} of the independent "
                f"sources (band ±{section.band:.2%} in log price)"
            )
            rejected.append(Rejection(name, Reason.OUTLIER, text))
    return rejected


def peer_deviations(prices: Mapping[str, float], min_peers: int = 1) -> dict[str, float]:
    """Each source's log(price / median of the other sources); empty with fewer than min_peers peers."""
    if len(prices) < max(min_peers, 1) + 1:
        return {}
    deviations = {}
    for name, price in prices.items():
        others = [p for other, p in prices.items() if other != name]
        deviations[name] = math.log(price / median(others))
    return deviations
