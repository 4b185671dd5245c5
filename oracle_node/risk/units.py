"""Fractions to the contract's uint16 basis points, rounded in the protective direction.

Protective quantities (volatility, VaR, ES, initial and maintenance margin, risk score) round UP:
publishing 1 bp too much margin is safe, 1 bp too little is not. The liquidation threshold and the
confidence round DOWN for the same reason. A value within ROUNDING_SLACK_BP of an integer is taken as
that integer, so float noise (0.07 * 10000 = 700.0000000000001) does not cost a basis point.

`require_uint16*`: a value the uint16 cannot hold (above 65535 bp = 655.35%, negative, NaN) raises
BoundsViolation. `cap_bp`: the publishing path's alternative for protective fields, where publishing
nothing in an extreme move would leave stale low margins on-chain: a value above its ceiling (or not
finite, which only an overflow of an extreme input produces) becomes the ceiling, and the caller
learns which were capped so it can flag and log them. Never silent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from oracle_node.errors import BoundsViolation
from oracle_node.types import BPS, UINT16_MAX

ROUNDING_SLACK_BP = 1e-7


def bp_up(fractions: ArrayLike) -> NDArray[np.float64]:
    """ceil(x * 10000), forgiving float noise; NaN stays NaN (caught by `require_uint16`)."""
    return np.ceil(np.asarray(fractions, dtype=np.float64) * BPS - ROUNDING_SLACK_BP)


def bp_down(fractions: ArrayLike) -> NDArray[np.float64]:
    """floor(x * 10000), forgiving float noise."""
    return np.floor(np.asarray(fractions, dtype=np.float64) * BPS + ROUNDING_SLACK_BP)


def require_uint16(markets: Sequence[str], field: str, fractions: ArrayLike, bps: ArrayLike) -> list[int]:
    """The rounded values as ints, or BoundsViolation naming the first market that does not fit."""
    return require_uint16_fields(markets, {field: (fractions, bps)})[field]


def require_uint16_fields(
    markets: Sequence[str], fields: Mapping[str, tuple[ArrayLike, ArrayLike]]
) -> dict[str, list[int]]:
    """Several fields at once (one check for all): field -> (fractions, rounded bp) per market."""
    names = list(fields)
    bps = np.array([np.asarray(fields[name][1], dtype=np.float64).reshape(-1) for name in names])
    bad = ~(np.isfinite(bps) & (bps >= 0.0) & (bps <= UINT16_MAX))
    if bad.any():
        row, col = (int(k) for k in np.argwhere(bad)[0])
        value = float(np.asarray(fields[names[row]][0], dtype=np.float64).reshape(-1)[col])
        why = f"{value * BPS:.2f} bp cannot be published as a uint16 (0..{UINT16_MAX} bp = 0..655.35%)"
        raise BoundsViolation(markets[col], names[row], value, why)
    ints = bps.astype(np.int64).tolist()
    return {name: ints[k] for k, name in enumerate(names)}


def cap_bp(
    markets: Sequence[str], field: str, fractions: ArrayLike, bps: ArrayLike, ceiling: int
) -> tuple[list[int], list[bool]]:
    """Rounded bp as ints with values above `ceiling` or not finite set to it, and which were capped.

    A negative value is not an extreme, it is a defect: BoundsViolation naming the market.
    """
    raw = np.asarray(bps, dtype=np.float64).reshape(-1)
    with np.errstate(invalid="ignore"):
        capped = ~np.isfinite(raw) | (raw > ceiling)
        negative = raw < 0.0
    if negative.any():
        col = int(np.argmax(negative))
        value = float(np.asarray(fractions, dtype=np.float64).reshape(-1)[col])
        raise BoundsViolation(markets[col], field, value, "a protective quantity cannot be negative")
    ints = np.where(capped, float(ceiling), raw).astype(np.int64).tolist()
    return ints, capped.tolist()


def to_bp_up(market: str, field: str, fraction: float) -> int:
    """One protective fraction to bp, rounded up."""
    return require_uint16([market], field, [fraction], bp_up([fraction]))[0]


def to_bp_down(market: str, field: str, fraction: float) -> int:
    """One permissive fraction (LT, confidence) to bp, rounded down."""
    return require_uint16([market], field, [fraction], bp_down([fraction]))[0]
