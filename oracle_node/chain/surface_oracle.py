"""Wrapper of the VolSurfaceOracle (contracts/VolSurfaceOracle.sol): reports in, typed reads out.

Reports arrive as ABI tuples (`oracle_node.options.onchain.to_abi`), signatures as `Signature`s; values
come back in the contract's WAD units (`Smile`, `SurfaceShocks`). Reverts are decoded against this
contract's errors and the rest of the stack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from web3 import Web3

from oracle_node.chain.artifacts import ErrorDecoder, load_artifact
from oracle_node.chain.contracts import STACK, ContractWrapper, Sender, TxResult
from oracle_node.errors import ConfigError
from oracle_node.reports.eip712 import Signature, signatures_to_abi

BOUNDS_FIELDS = (
    "atm_vol_floor",
    "atm_vol_ceiling",
    "atm_vol_max_change",
    "price_move_floor",
    "price_move_ceiling",
    "vol_up_floor",
    "vol_up_ceiling",
    "vol_down_floor",
    "vol_down_ceiling",
    "min_interval",
    "spot_max_change",
)


@dataclass(frozen=True)
class SurfaceBounds:
    """DAO bounds of one underlying (bp; min_interval in seconds), IVolSurfaceOracle.SurfaceBounds;
    spot_max_change in bp of the stored spot."""

    atm_vol_floor: int
    atm_vol_ceiling: int
    atm_vol_max_change: int
    price_move_floor: int
    price_move_ceiling: int
    vol_up_floor: int
    vol_up_ceiling: int
    vol_down_floor: int
    vol_down_ceiling: int
    min_interval: int
    spot_max_change: int

    def to_abi(self) -> tuple[int, ...]:
        return tuple(getattr(self, f) for f in BOUNDS_FIELDS)

    @classmethod
    def from_abi(cls, raw: Sequence[int]) -> SurfaceBounds:
        return cls(*raw)


@dataclass(frozen=True)
class Smile:
    """IVolSurfaceOracle.Smile (WAD; expiry and observedAt unix seconds)."""

    a: int
    b: int
    rho: int
    m: int
    sigma: int
    forward: int
    expiry: int
    observed_at: int


@lru_cache(maxsize=8)
def _decoder(out_dir: Path | None) -> ErrorDecoder:
    abis = []
    for name in ("VolSurfaceOracle", *STACK):
        try:
            abis.append(load_artifact(name, out_dir).abi)
        except ConfigError:
            continue
    return ErrorDecoder(abis)


class VolSurfaceOracle(ContractWrapper):
    ARTIFACT = "VolSurfaceOracle"

    def __init__(self, w3: Web3, address: str, out_dir: Path | None = None) -> None:
        super().__init__(w3, address, out_dir)
        self.decoder = _decoder(out_dir)

    def submit(self, report: tuple[Any, ...], signatures: Sequence[Signature], sender: Sender) -> TxResult:
        return self._send("submitSurfaceReport", report, signatures_to_abi(signatures), sender=sender)

    def report_digest(self, report: tuple[Any, ...]) -> bytes:
        return bytes(self._call("surfaceReportDigest", report))

    def implied_vol(self, underlying: bytes, expiry: int, strike_wad: int) -> int:
        return int(self._call("impliedVol", underlying, expiry, strike_wad))

    def get_smile(self, underlying: bytes, expiry: int) -> Smile:
        return Smile(*self._call("getSmile", underlying, expiry))

    def get_smile_word(self, underlying: bytes, expiry: int) -> int:
        return int(self._call("getSmileWord", underlying, expiry))

    def get_state_word(self, underlying: bytes) -> int:
        return int(self._call("getStateWord", underlying))

    def expiries_of(self, underlying: bytes) -> list[int]:
        return [int(e) for e in self._call("expiriesOf", underlying)]

    def get_spot(self, underlying: bytes) -> tuple[int, int]:
        spot, observed = self._call("getSpot", underlying)
        return int(spot), int(observed)

    def get_shocks(self, underlying: bytes) -> tuple[int, int, int, int]:
        return tuple(int(v) for v in self._call("getShocks", underlying))  # type: ignore[return-value]

    def settlement_price(self, underlying: bytes, expiry: int) -> tuple[int, int]:
        price, observed = self._call("settlementPrice", underlying, expiry)
        return int(price), int(observed)

    def get_bounds(self, underlying: bytes) -> SurfaceBounds:
        return SurfaceBounds.from_abi(self._call("getSurfaceBounds", underlying))

    def underlyings(self) -> list[bytes]:
        return [bytes(u) for u in self._call("underlyings")]

    def max_report_age(self) -> int:
        return int(self._call("maxReportAge"))

    def risk_oracle(self) -> str:
        """The RiskOracle whose signers, models, roles and pause this oracle shares."""
        return str(self._call("riskOracle"))

    def pause(self, sender: Sender) -> TxResult:
        return self._send("pause", sender=sender)

    def sync_pause(self, sender: Sender) -> TxResult:
        return self._send("syncPause", sender=sender)

    def pause_underlying(self, underlying: bytes, sender: Sender) -> TxResult:
        return self._send("pauseUnderlying", underlying, sender=sender)
