"""Units and small value types shared by every layer (no I/O, no heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NewType

MarketId = NewType("MarketId", str)  # e.g. "BTC-USD"; on-chain as ASCII left-aligned bytes32
Bps = NewType("Bps", int)  # basis points, 1 bp = 0.01 %

BPS = 10_000
UINT16_MAX = 0xFFFF

# Field order of the on-chain params word (field i at bits [16 i, 16 i + 16)).
RISK_FIELDS: tuple[str, ...] = (
    "volatility",
    "var99",
    "es99",
    "initial_margin",
    "maintenance_margin",
    "liquidation_threshold",
    "risk_score",
    "confidence",
)


def market_id_bytes32(market: str) -> bytes:
    """ASCII symbol, left-aligned and zero padded to 32 bytes (the contract's market id)."""
    raw = market.encode("ascii")
    if not raw or len(raw) > 32 or b"\x00" in raw:
        raise ValueError(f"market id {market!r} must be 1..32 printable ASCII characters")
    return raw.ljust(32, b"\x00")


def market_from_bytes32(raw: bytes) -> MarketId:
    return MarketId(raw.rstrip(b"\x00").decode("ascii"))


@dataclass(frozen=True, slots=True)
class RiskParamsBps:
    """The eight published fields, in the contract's units (uint16 bp each)."""

    volatility: int
    var99: int
    es99: int
    initial_margin: int
    maintenance_margin: int
    liquidation_threshold: int
    risk_score: int
    confidence: int

    def __post_init__(self) -> None:
        for name in RISK_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= UINT16_MAX:
                raise ValueError(f"field {name} = {value!r} is not a uint16 bp value")

    def as_tuple(self) -> tuple[int, ...]:
        return tuple(getattr(self, name) for name in RISK_FIELDS)

    def pack(self) -> int:
        """The uint128 params word."""
        word = 0
        for i, value in enumerate(self.as_tuple()):
            word |= value << (16 * i)
        return word

    @classmethod
    def unpack(cls, word: int) -> RiskParamsBps:
        if not 0 <= word < 1 << 128:
            raise ValueError(f"params word {word:#x} does not fit in 128 bits")
        return cls(*((word >> (16 * i)) & UINT16_MAX for i in range(len(RISK_FIELDS))))
