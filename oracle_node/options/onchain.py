"""Surfaces on-chain: the VolSurfaceOracle's words, its EIP-712 SurfaceReport, and report building.

Layouts (exactly as contracts/interfaces/IVolSurfaceOracle.sol documents them):

smile word (one per expiry; stored as is, bits 254/255 are the contract's pause mirrors, zero here)
    bits   0..33  a       int34   1e-9        bits 130..162 sigma   uint33  1e-9
    bits  34..65  b       uint32  1e-9        bits 163..210 forward uint48  1e-6 quote units
    bits  66..96  rho     int31   1e-9        bits 211..237 tau     uint27  expiry - observedAt, s
    bits  97..129 m       int33   1e-9        bits 238..253 atmVol  uint16  bp, derived (see pack)
underlying word (one per underlying in a report)
    bits 0..63 spot (uint64, 1e-8) | 64..79 priceMove | 80..95 volUp | 96..111 volDown (uint16 bp)
    | 112..116 number of this underlying's smiles that follow in `smiles`

`t` on-chain is tau / 365 days. A fit made on another year basis (Deribit's time_to_maturity counts
365.25-day years) is carried over by scaling a and b by t_onchain / t_fit, which keeps every implied
vol sqrt(w(k)/t) of the fit unchanged (k = ln(K/F) does not depend on t).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from oracle_node.errors import DataError
from oracle_node.options import onchain_math as om
from oracle_node.options.surface import Surface
from oracle_node.reports.eip712 import DOMAIN_FIELDS, Signature, domain_separator_of, sign_report

DOMAIN_NAME = "MLRA Vol Surface Oracle"
DOMAIN_VERSION = "1"
REPORT_TYPE = (
    "SurfaceReport(uint32 epoch,uint64 round,uint64 observedAt,uint64 deadline,bytes32 modelHash,"
    "bytes32 inputsHash,bytes32[] underlyings,uint256[] underlyingWords,uint256[] smiles)"
)
REPORT_TYPEHASH = keccak(text=REPORT_TYPE)
MAX_EXPIRIES = 16
MAX_TAU = (1 << 27) - 1
BP = 10_000

# name -> (bit offset, bits, signed)
SMILE_FIELDS: dict[str, tuple[int, int, bool]] = {
    "a": (0, 34, True),
    "b": (34, 32, False),
    "rho": (66, 31, True),
    "m": (97, 33, True),
    "sigma": (130, 33, False),
    "forward": (163, 48, False),
    "tau": (211, 27, False),
}
ATM_SHIFT = 238
SHOCK_FIELDS = ("price_move", "vol_up", "vol_down")

TYPED_DATA_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": DOMAIN_FIELDS,
    "SurfaceReport": [
        {"name": "epoch", "type": "uint32"},
        {"name": "round", "type": "uint64"},
        {"name": "observedAt", "type": "uint64"},
        {"name": "deadline", "type": "uint64"},
        {"name": "modelHash", "type": "bytes32"},
        {"name": "inputsHash", "type": "bytes32"},
        {"name": "underlyings", "type": "bytes32[]"},
        {"name": "underlyingWords", "type": "uint256[]"},
        {"name": "smiles", "type": "uint256[]"},
    ],
}


def _bad(where: str, field: str, value: object, why: str) -> DataError:
    return DataError(where, None, field, value, why)


def _fits(where: str, field: str, value: int, bits: int, signed: bool) -> int:
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        kind = f"int{bits}" if signed else f"uint{bits}"
        raise _bad(where, field, value, f"must be an integer in {lo}..{hi} ({kind})")
    return value


def underlying_id(symbol: str) -> bytes:
    """The bytes32 id of an underlying: ASCII symbol, left-aligned, zero padded ("BTC")."""
    raw = symbol.encode("ascii", errors="strict") if symbol.isascii() else b""
    if not raw or len(raw) > 32 or b"\x00" in raw:
        raise _bad("SurfaceReport", "underlying", symbol, "must be 1-32 ASCII characters")
    return raw.ljust(32, b"\x00")


def underlying_symbol(raw: bytes) -> str:
    return raw.rstrip(b"\x00").decode("ascii")


# ------------------------------------------------------------------------------------------------
# Words
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SmileWord:
    """One expiry's smile in contract units: SVI parameters in 1e-9, forward in 1e-6, tau in seconds."""

    a: int
    b: int
    rho: int
    m: int
    sigma: int
    forward: int
    tau: int

    def __post_init__(self) -> None:
        for name, (_, bits, signed) in SMILE_FIELDS.items():
            _fits("SmileWord", name, getattr(self, name), bits, signed)

    def pack(self) -> int:
        """The word, with the atmVol field the contract checks (0 when tau is 0: such a word is refused
        anyway); DataError if the ATM vol does not fit 16 bits of bp."""
        atm = self.atm_vol_bp() if self.tau > 0 else 0
        if atm > 0xFFFF:
            raise _bad("SmileWord", "atm_vol", atm, "ATM vol above 65535 bp (655%) does not fit the word")
        return self.pack_fields() | atm << ATM_SHIFT

    def pack_fields(self) -> int:
        """The seven fields alone (atmVol field 0)."""
        word = 0
        for name, (shift, bits, _) in SMILE_FIELDS.items():
            word |= (getattr(self, name) & ((1 << bits) - 1)) << shift
        return word

    def atm_vol_bp(self) -> int:
        return om.atm_vol_bp(*self.params, self.tau)

    @classmethod
    def unpack(cls, word: int) -> SmileWord:
        """The fields of a word (the derived atmVol field and the pause bits 254/255 ignored)."""
        values = {}
        for name, (shift, bits, signed) in SMILE_FIELDS.items():
            v = (word >> shift) & ((1 << bits) - 1)
            values[name] = v - (1 << bits) if signed and v >> (bits - 1) else v
        return cls(**values)

    @property
    def params(self) -> tuple[int, int, int, int, int]:
        return self.a, self.b, self.rho, self.m, self.sigma

    def check(self) -> int:
        """The contract's sanity-check reason code (0 = passes), see IVolSurfaceOracle.VolSurfaceInvalidSmile."""
        return om.check(self.a, self.b, self.rho, self.sigma, self.forward, self.tau)

    def implied_vol_wad(self, strike_wad: int) -> int:
        """sigma(K, T) in WAD exactly as the contract computes it."""
        return om.implied_vol(*self.params, self.forward, self.tau, strike_wad)

    def implied_vol(self, strike: float) -> float:
        return self.implied_vol_wad(round(strike * om.WAD)) / om.WAD

    def atm_variance_wad(self) -> int:
        return om.atm_variance(*self.params, self.tau)


@dataclass(frozen=True, slots=True)
class Shocks:
    """Scenario shock sizes in bp: price move (1600 = 16%), vol up / vol down (relative, at 30 days)."""

    price_move: int
    vol_up: int
    vol_down: int

    def __post_init__(self) -> None:
        for name in SHOCK_FIELDS:
            _fits("Shocks", name, getattr(self, name), 16, False)

    @classmethod
    def from_fractions(cls, price_move: float, vol_up: float, vol_down: float) -> Shocks:
        """From fractions (0.16, 0.5, 0.25), rounded up to whole bp (a shock never shrinks)."""
        return cls(*(math.ceil(round(x * BP, 6)) for x in (price_move, vol_up, vol_down)))


def pack_underlying_word(spot_units: int, shocks: Shocks, n: int) -> int:
    _fits("underlying word", "spot", spot_units, 64, False)
    if not 1 <= n <= MAX_EXPIRIES:
        raise _bad("underlying word", "n", n, f"must be 1..{MAX_EXPIRIES} smiles")
    return spot_units | shocks.price_move << 64 | shocks.vol_up << 80 | shocks.vol_down << 96 | n << 112


def unpack_underlying_word(word: int) -> tuple[int, Shocks, int]:
    """(spot in 1e-8 units, shocks, smile count) of a report's underlying word."""
    shocks = Shocks((word >> 64) & 0xFFFF, (word >> 80) & 0xFFFF, (word >> 96) & 0xFFFF)
    return word & ((1 << 64) - 1), shocks, (word >> 112) & 31


def to_units(value: float, unit: float, where: str, field: str) -> int:
    if not math.isfinite(value):
        raise _bad(where, field, value, "must be finite")
    return round(value / unit)


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SurfaceReport:
    """The signed body of a surface report (the contract's SurfaceReport struct)."""

    epoch: int
    round: int
    observed_at: int
    deadline: int
    model_hash: bytes
    inputs_hash: bytes
    underlyings: tuple[bytes, ...]
    underlying_words: tuple[int, ...]
    smiles: tuple[int, ...]

    def __post_init__(self) -> None:
        for name, bits in (("epoch", 32), ("round", 64), ("observed_at", 64), ("deadline", 64)):
            _fits("SurfaceReport", name, getattr(self, name), bits, False)
        for name in ("model_hash", "inputs_hash"):
            if not isinstance(getattr(self, name), bytes) or len(getattr(self, name)) != 32:
                raise _bad("SurfaceReport", name, getattr(self, name), "must be exactly 32 bytes")
        if not self.underlyings or len(self.underlyings) != len(self.underlying_words):
            n, w = len(self.underlyings), len(self.underlying_words)
            raise _bad(
                "SurfaceReport", "underlyings", n, f"needs 1+ underlyings and as many words (got {n}, {w})"
            )
        counts = sum(unpack_underlying_word(w)[2] for w in self.underlying_words)
        if counts != len(self.smiles):
            raise _bad("SurfaceReport", "smiles", len(self.smiles), f"the words announce {counts} smiles")

    def surfaces(self) -> dict[str, list[SmileWord]]:
        """Smile words per underlying symbol, in report order."""
        out, at = {}, 0
        for u, w in zip(self.underlyings, self.underlying_words, strict=True):
            n = unpack_underlying_word(w)[2]
            out[underlying_symbol(u)] = [SmileWord.unpack(s) for s in self.smiles[at : at + n]]
            at += n
        return out


def smile_word(surface_slice: Any, observed_at: int, where: str) -> SmileWord:
    """A fitted slice (oracle_node.options.surface.SurfaceSlice) as a smile word observed at `observed_at`."""
    tau = int(surface_slice.expiry.timestamp()) - observed_at
    if not 1 <= tau <= MAX_TAU:
        raise _bad(where, "tau", tau, f"expiry must lie 1..{MAX_TAU} s after observedAt")
    scale = (tau / om.YEAR) / surface_slice.t  # t_onchain / t_fit: keeps sigma(K) of the fit
    p = surface_slice.params
    word = SmileWord(
        a=to_units(p.a * scale, 1e-9, where, "a"),
        b=to_units(p.b * scale, 1e-9, where, "b"),
        rho=to_units(p.rho, 1e-9, where, "rho"),
        m=to_units(p.m, 1e-9, where, "m"),
        sigma=to_units(p.sigma, 1e-9, where, "sigma"),
        forward=to_units(surface_slice.forward, 1e-6, where, "forward"),
        tau=tau,
    )
    if (reason := word.check()) != 0:
        raise _bad(where, "smile", word, f"fails the contract's sanity check (reason {reason})")
    return word


def build_report(
    surfaces: Sequence[Surface],
    shocks: Mapping[str, Shocks],
    *,
    epoch: int,
    round: int,
    observed_at: datetime | int,
    deadline: int,
    model_hash: bytes,
    inputs_hash: bytes,
) -> SurfaceReport:
    """A SurfaceReport from fitted surfaces plus each underlying's shocks. Expiries at or before
    observedAt are dropped (the contract settles them); more than MAX_EXPIRIES is a DataError."""
    observed = int(observed_at.timestamp()) if isinstance(observed_at, datetime) else observed_at
    ids, words, smiles = [], [], []
    for s in surfaces:
        where = f"surface {s.underlying}"
        if s.underlying not in shocks:
            raise _bad(where, "shocks", s.underlying, "no shocks given for this underlying")
        live = [sl for sl in s.slices if int(sl.expiry.timestamp()) > observed]
        if not 1 <= len(live) <= MAX_EXPIRIES:
            raise _bad(where, "expiries", len(live), f"must be 1..{MAX_EXPIRIES} unexpired expiries")
        ids.append(underlying_id(s.underlying))
        words.append(
            pack_underlying_word(to_units(s.spot, 1e-8, where, "spot"), shocks[s.underlying], len(live))
        )
        smiles += [smile_word(sl, observed, f"{where} {sl.expiry.isoformat()}").pack() for sl in live]
    return SurfaceReport(
        epoch, round, observed, deadline, model_hash, inputs_hash, tuple(ids), tuple(words), tuple(smiles)
    )


# ------------------------------------------------------------------------------------------------
# EIP-712
# ------------------------------------------------------------------------------------------------


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def domain_separator(chain_id: int, oracle: str) -> bytes:
    """The VolSurfaceOracle's domain separator (the shared EIP-712 domain shape, its own name)."""
    return domain_separator_of(DOMAIN_NAME, DOMAIN_VERSION, chain_id, oracle)


def hash_struct(r: SurfaceReport) -> bytes:
    return keccak(
        REPORT_TYPEHASH
        + b"".join(_word(v) for v in (r.epoch, r.round, r.observed_at, r.deadline))
        + r.model_hash
        + r.inputs_hash
        + keccak(b"".join(r.underlyings))
        + keccak(b"".join(_word(w) for w in r.underlying_words))
        + keccak(b"".join(_word(w) for w in r.smiles))
    )


def report_digest(report: SurfaceReport, chain_id: int, oracle: str) -> bytes:
    """keccak256(0x1901 ‖ domainSeparator ‖ hashStruct): what every co-signer signs."""
    return keccak(b"\x19\x01" + domain_separator(chain_id, oracle) + hash_struct(report))


def typed_data(report: SurfaceReport, chain_id: int, oracle: str) -> dict[str, Any]:
    """The eth_signTypedData_v4 JSON (big integers as decimal strings)."""
    return {
        "types": TYPED_DATA_TYPES,
        "primaryType": "SurfaceReport",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(oracle),
        },
        "message": {
            "epoch": report.epoch,
            "round": str(report.round),
            "observedAt": str(report.observed_at),
            "deadline": str(report.deadline),
            "modelHash": "0x" + report.model_hash.hex(),
            "inputsHash": "0x" + report.inputs_hash.hex(),
            "underlyings": ["0x" + u.hex() for u in report.underlyings],
            "underlyingWords": [str(w) for w in report.underlying_words],
            "smiles": [str(w) for w in report.smiles],
        },
    }


def co_sign(
    report: SurfaceReport, chain_id: int, oracle: str, signers: Mapping[int, LocalAccount | str]
) -> list[Signature]:
    """EIP-2098 signatures of several co-signers ({RiskOracle signer index: key}), by index."""
    digest = report_digest(report, chain_id, oracle)
    return [sign_report(digest, signers[i], i) for i in sorted(signers)]


def to_abi(report: SurfaceReport) -> tuple[Any, ...]:
    return (
        report.epoch,
        report.round,
        report.observed_at,
        report.deadline,
        report.model_hash,
        report.inputs_hash,
        list(report.underlyings),
        list(report.underlying_words),
        list(report.smiles),
    )
