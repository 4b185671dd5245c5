"""EIP-712 risk reports exactly as `RiskOracle.sol` verifies them: body, digest, signatures.

The digest is computed by this module's own `hashStruct` (no typed-data library on the hot path); unit
tests cross-check it against `eth_account.messages.encode_typed_data` for random reports, and the
integration tests against the contract's `reportDigest` and signature checks.

Domain: {name "MLRA Risk Oracle", version "1", chainId, verifyingContract = the oracle}.
Signatures are EIP-2098 compact (r, vs) and name the signer's index in the on-chain signer set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from oracle_node.errors import DataError
from oracle_node.types import RiskParamsBps, market_from_bytes32, market_id_bytes32

DOMAIN_NAME = "MLRA Risk Oracle"
DOMAIN_VERSION = "1"
DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
REPORT_TYPE = (
    "RiskReport(uint32 epoch,uint64 round,uint64 observedAt,uint64 deadline,bytes32 modelHash,"
    "bytes32 inputsHash,bytes32[] marketIds,uint128[] params)"
)
DOMAIN_TYPEHASH = keccak(text=DOMAIN_TYPE)
REPORT_TYPEHASH = keccak(text=REPORT_TYPE)

MAX_SIGNERS = 31
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_UINT_FIELDS = (("epoch", 32), ("round", 64), ("observed_at", 64), ("deadline", 64))
_WHERE = "RiskReport"

# The domain's fields for eth_signTypedData (every report type of the project signs under this shape).
DOMAIN_FIELDS: list[dict[str, str]] = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]

TYPED_DATA_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": DOMAIN_FIELDS,
    "RiskReport": [
        {"name": "epoch", "type": "uint32"},
        {"name": "round", "type": "uint64"},
        {"name": "observedAt", "type": "uint64"},
        {"name": "deadline", "type": "uint64"},
        {"name": "modelHash", "type": "bytes32"},
        {"name": "inputsHash", "type": "bytes32"},
        {"name": "marketIds", "type": "bytes32[]"},
        {"name": "params", "type": "uint128[]"},
    ],
}


def _bad(field: str, value: object, why: str) -> DataError:
    return DataError(_WHERE, None, field, value, why)


def _check_uint(field: str, value: object, bits: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise _bad(field, value, f"must be an integer in 0..2**{bits}-1 (uint{bits})")


def _check_bytes32(field: str, value: object) -> None:
    if not isinstance(value, bytes) or len(value) != 32:
        raise _bad(field, value, "must be exactly 32 bytes")


@dataclass(frozen=True, slots=True)
class RiskReport:
    """The signed body of a report; `markets` are symbols ("BTC-USD"), `params` packed uint128 words."""

    epoch: int
    round: int
    observed_at: int
    deadline: int
    model_hash: bytes
    inputs_hash: bytes
    markets: tuple[str, ...]
    params: tuple[int, ...]

    def __post_init__(self) -> None:
        for name, bits in _UINT_FIELDS:
            _check_uint(name, getattr(self, name), bits)
        _check_bytes32("model_hash", self.model_hash)
        _check_bytes32("inputs_hash", self.inputs_hash)
        if not isinstance(self.markets, tuple) or not isinstance(self.params, tuple):
            raise _bad("markets", self.markets, "markets and params must be tuples")
        if not self.markets or len(self.markets) != len(self.params):
            why = f"needs 1+ markets and as many params (got {len(self.markets)} and {len(self.params)})"
            raise _bad("params", len(self.params), why)
        for i, market in enumerate(self.markets):
            try:
                market_id_bytes32(market)
            except (ValueError, AttributeError) as exc:
                raise _bad(f"markets[{i}]", market, str(exc)) from exc
        if len(set(self.markets)) != len(self.markets):
            dupes = sorted({m for m in self.markets if self.markets.count(m) > 1})
            raise _bad("markets", dupes, "each market may appear once per report")
        for i, word in enumerate(self.params):
            _check_uint(f"params[{i}]", word, 128)

    @classmethod
    def build(
        cls,
        *,
        epoch: int,
        round: int,
        observed_at: int,
        deadline: int,
        model_hash: bytes,
        inputs_hash: bytes,
        updates: Mapping[str, RiskParamsBps],
    ) -> RiskReport:
        """A report from per-market parameter sets (insertion order is the on-chain order)."""
        return cls(
            epoch=epoch,
            round=round,
            observed_at=observed_at,
            deadline=deadline,
            model_hash=model_hash,
            inputs_hash=inputs_hash,
            markets=tuple(updates),
            params=tuple(p.pack() for p in updates.values()),
        )

    @property
    def market_ids(self) -> tuple[bytes, ...]:
        return tuple(market_id_bytes32(m) for m in self.markets)

    def risk_params(self) -> dict[str, RiskParamsBps]:
        return {m: RiskParamsBps.unpack(w) for m, w in zip(self.markets, self.params, strict=True)}


@dataclass(frozen=True, slots=True)
class Signature:
    """One co-signer's EIP-2098 compact signature (the contract's `Signature` struct)."""

    signer: int
    r: bytes
    vs: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.signer, int) or not 0 <= self.signer < MAX_SIGNERS:
            raise DataError("Signature", None, "signer", self.signer, f"index must be 0..{MAX_SIGNERS - 1}")
        for name in ("r", "vs"):
            if not isinstance(getattr(self, name), bytes) or len(getattr(self, name)) != 32:
                raise DataError("Signature", None, name, getattr(self, name), "must be exactly 32 bytes")

    def to_abi(self) -> tuple[int, bytes, bytes]:
        return (self.signer, self.r, self.vs)


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _address_word(address: str) -> bytes:
    try:
        raw = bytes.fromhex(to_checksum_address(address)[2:])
    except (ValueError, TypeError) as exc:
        raise DataError("EIP712Domain", None, "verifyingContract", address, "not an address") from exc
    return raw.rjust(32, b"\x00")


def domain_separator_of(name: str, version: str, chain_id: int, contract: str) -> bytes:
    """keccak256(abi.encode(DOMAIN_TYPEHASH, name, version, chainId, verifyingContract)) for any
    contract of the project (the RiskOracle's below; the VolSurfaceOracle's in options.onchain)."""
    _check_uint("chain_id", chain_id, 256)
    return keccak(
        DOMAIN_TYPEHASH + keccak(text=name) + keccak(text=version) + _word(chain_id) + _address_word(contract)
    )


def domain_separator(chain_id: int, oracle: str) -> bytes:
    """The RiskOracle's domain separator."""
    return domain_separator_of(DOMAIN_NAME, DOMAIN_VERSION, chain_id, oracle)


def hash_struct(report: RiskReport) -> bytes:
    """EIP-712 hashStruct(RiskReport): arrays are keccak256 of their concatenated 32-byte elements."""
    return keccak(
        REPORT_TYPEHASH
        + _word(report.epoch)
        + _word(report.round)
        + _word(report.observed_at)
        + _word(report.deadline)
        + report.model_hash
        + report.inputs_hash
        + keccak(b"".join(report.market_ids))
        + keccak(b"".join(_word(p) for p in report.params))
    )


def report_digest(report: RiskReport, chain_id: int, oracle: str) -> bytes:
    """The 32-byte digest every co-signer signs: keccak256(0x1901 ‖ domainSeparator ‖ hashStruct)."""
    return keccak(b"\x19\x01" + domain_separator(chain_id, oracle) + hash_struct(report))


def typed_data(report: RiskReport, chain_id: int, oracle: str) -> dict[str, Any]:
    """The eth_signTypedData_v4 JSON (wallets, RPC signers, eth_account's encode_typed_data).

    uint64/uint128 values are decimal strings so no JSON reader loses precision above 2**53.
    """
    return {
        "types": TYPED_DATA_TYPES,
        "primaryType": "RiskReport",
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
            "marketIds": ["0x" + m.hex() for m in report.market_ids],
            "params": [str(p) for p in report.params],
        },
    }


def compact(signer: int, v: int, r: int, s: int) -> Signature:
    """EIP-2098 compact form of a (v, r, s) signature: vs = yParity << 255 | s (s must be low)."""
    if v not in (0, 1, 27, 28):
        raise DataError("Signature", None, "v", v, "must be 27/28 (or 0/1)")
    if not 0 < s <= SECP256K1_N // 2:
        raise DataError("Signature", None, "s", hex(s), "must be non-zero and in the lower half order")
    parity = v - 27 if v >= 27 else v
    return Signature(signer, _word(r), _word((parity << 255) | s))


def compact_from_bytes(signer: int, signature: bytes) -> Signature:
    """Compact form of a 65-byte r ‖ s ‖ v signature (e.g. the answer of eth_signTypedData_v4)."""
    if len(signature) != 65:
        raise DataError("Signature", None, "signature", signature.hex(), "must be 65 bytes r||s||v")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big")
    return compact(signer, signature[64], r, s)


def sign_report(digest: bytes, account: LocalAccount | str, signer_index: int) -> Signature:
    """Sign a report digest with a local key; `signer_index` is the key's slot in the signer set."""
    _check_bytes32("digest", digest)
    acct: LocalAccount = account if isinstance(account, LocalAccount) else Account.from_key(account)
    signed = acct.unsafe_sign_hash(digest)
    return compact(signer_index, signed.v, signed.r, signed.s)


def co_sign(
    report: RiskReport, chain_id: int, oracle: str, signers: Mapping[int, LocalAccount | str]
) -> list[Signature]:
    """Signatures of several co-signers ({index: key}) over one report, ordered by signer index."""
    digest = report_digest(report, chain_id, oracle)
    return [sign_report(digest, signers[i], i) for i in sorted(signers)]


def to_abi(report: RiskReport) -> tuple[Any, ...]:
    """The `RiskReport` struct as the tuple web3/eth_abi encode."""
    return (
        report.epoch,
        report.round,
        report.observed_at,
        report.deadline,
        report.model_hash,
        report.inputs_hash,
        list(report.market_ids),
        list(report.params),
    )


def from_abi(value: Sequence[Any]) -> RiskReport:
    """Inverse of `to_abi` (decoded calldata, event arguments)."""
    epoch, rnd, observed, deadline, model, inputs, ids, params = value
    return RiskReport(
        epoch=epoch,
        round=rnd,
        observed_at=observed,
        deadline=deadline,
        model_hash=bytes(model),
        inputs_hash=bytes(inputs),
        markets=tuple(market_from_bytes32(bytes(m)) for m in ids),
        params=tuple(params),
    )


def signatures_to_abi(signatures: Iterable[Signature]) -> list[tuple[int, bytes, bytes]]:
    return [s.to_abi() for s in signatures]
