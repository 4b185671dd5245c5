"""Units and small value types shared by every layer (no I/O, no heavy imports)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NewType

MarketId = NewType("MarketId", str)  # e.g. "BTC-USD"; on-chain as ASCII left-aligned bytes32
Bps = NewType("Bps", int)  # basis points, 1 bp = 0.01 %

BPS = 10_000
UINT8_MAX = 0xFF
UINT16_MAX = 0xFFFF
UINT32_MAX = 0xFFFF_FFFF

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


@dataclass(frozen=True, slots=True)
class FieldBounds:
    """IRiskOracle.FieldBounds: floor, ceiling and the largest change per update, bp."""

    floor: int
    ceiling: int
    max_change: int

    def __post_init__(self) -> None:
        for name in ("floor", "ceiling", "max_change"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= UINT16_MAX:
                raise ValueError(f"FieldBounds.{name} = {value!r} is not a uint16")
        if self.floor > self.ceiling:
            raise ValueError(f"FieldBounds: floor {self.floor} above ceiling {self.ceiling}")


UNBOUNDED = FieldBounds(0, UINT16_MAX, UINT16_MAX)


@dataclass(frozen=True, slots=True)
class OnchainBounds:
    """IRiskOracle.Bounds: one profile. `fields` follows RISK_FIELDS order."""

    fields: tuple[FieldBounds, ...]
    relative_mask: int = 0
    min_interval: int = 0

    def __post_init__(self) -> None:
        if len(self.fields) != len(RISK_FIELDS):
            raise ValueError(f"OnchainBounds needs {len(RISK_FIELDS)} field bounds, got {len(self.fields)}")
        if not 0 <= self.relative_mask <= UINT8_MAX:
            raise ValueError(f"OnchainBounds.relative_mask = {self.relative_mask} is not a uint8")
        if not 0 <= self.min_interval <= UINT32_MAX:
            raise ValueError(f"OnchainBounds.min_interval = {self.min_interval} is not a uint32")

    @classmethod
    def unbounded(cls) -> OnchainBounds:
        """Every value accepted by the per-field checks (consistency still applies)."""
        return cls(tuple(UNBOUNDED for _ in RISK_FIELDS))

    @classmethod
    def from_abi(cls, value: Sequence[object]) -> OnchainBounds:
        """From the ABI-decoded `getBounds` tuple: ([(floor, ceiling, maxChange)] * 8, relativeMask, minInterval)."""
        fields, mask, interval = value
        triples = [tuple(f) for f in fields]  # type: ignore[attr-defined]
        return cls(tuple(FieldBounds(*t) for t in triples), int(mask), int(interval))  # type: ignore[call-overload]

    def to_abi(self) -> tuple[list[tuple[int, int, int]], int, int]:
        """The `setBounds` / `tightenBounds` argument."""
        fields = [(f.floor, f.ceiling, f.max_change) for f in self.fields]
        return fields, self.relative_mask, self.min_interval

    def is_relative(self, index: int) -> bool:
        return bool(self.relative_mask >> index & 1)

    def field(self, name: str) -> FieldBounds:
        return self.fields[RISK_FIELDS.index(name)]


@dataclass(frozen=True, slots=True)
class MarketState:
    """A market word (IRiskOracle's one-slot layout) decoded: the only place Python knows the bits.

    params 0..127 | observedAt 128..159 | round 160..223 | profile 224..231 | listed 232 |
    market paused 233 | oracle paused 234 | acceptance lag 235..255 (acceptedAt = observedAt + lag).
    """

    params: RiskParamsBps | None  # None while nothing was published (round 0)
    observed_at: int
    round: int
    profile: int
    listed: bool
    market_paused: bool
    oracle_paused: bool
    accepted_at: int

    @classmethod
    def decode(cls, word: int) -> MarketState:
        if not 0 <= word < 1 << 256:
            raise ValueError(f"market word {word:#x} does not fit in 256 bits")
        round_ = (word >> 160) & ((1 << 64) - 1)
        observed_at = (word >> 128) & UINT32_MAX
        return cls(
            params=RiskParamsBps.unpack(word & ((1 << 128) - 1)) if round_ else None,
            observed_at=observed_at,
            round=round_,
            profile=(word >> 224) & UINT8_MAX,
            listed=bool(word >> 232 & 1),
            market_paused=bool(word >> 233 & 1),
            oracle_paused=bool(word >> 234 & 1),
            accepted_at=observed_at + (word >> 235),
        )

    @property
    def paused(self) -> bool:
        return self.market_paused or self.oracle_paused

    def earliest_update(self, min_interval: int) -> tuple[int, int]:
        """(earliest observedAt, earliest block time) of the next accepted update (0, 0 if none yet)."""
        if self.round == 0:
            return 0, 0
        return self.observed_at + min_interval, self.accepted_at + min_interval
