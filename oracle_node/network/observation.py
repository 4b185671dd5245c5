"""A node's observation for one round, its EIP-712 digest, signature and wire form.

Typed data `RiskObservation(uint64 round,uint64 observedAt,bytes32 modelHash,bytes32 inputsHash,
bytes32[] marketIds,uint128[] params)` under the same domain as reports (name "MLRA Risk Oracle",
version "1", chainId, verifyingContract = the oracle), so an observation signature is bound to one
deployment and can never pass for a report signature (different type hash). Markets are sorted by
symbol; params are the packed uint128 words of `RiskParamsBps`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak, to_checksum_address

from oracle_node.network.errors import PeerMessageError
from oracle_node.network.signing import OperatorSigner, parse_hex, recover65, sign65
from oracle_node.reports.eip712 import domain_separator
from oracle_node.store import BoundInputs
from oracle_node.types import RiskParamsBps, market_id_bytes32

OBSERVATION_TYPE = (
    "RiskObservation(uint64 round,uint64 observedAt,bytes32 modelHash,bytes32 inputsHash,"
    "bytes32[] marketIds,uint128[] params)"
)
OBSERVATION_TYPEHASH = keccak(text=OBSERVATION_TYPE)
_U64 = 1 << 64


@dataclass(frozen=True, slots=True)
class Domain:
    """The EIP-712 domain every node signs under: one chain, one oracle contract."""

    chain_id: int
    oracle: str

    @property
    def separator(self) -> bytes:
        return domain_separator(self.chain_id, self.oracle)


@dataclass(frozen=True, slots=True)
class LocalObservation:
    """What the node's pipeline hands the network for a round (the ObservationProvider's answer)."""

    round: int
    observed_at: int
    model_hash: bytes
    inputs_hash: bytes
    params: Mapping[str, RiskParamsBps]
    bound: BoundInputs | None = None  # what inputs_hash commits to; stored with the signature intent


@dataclass(frozen=True, slots=True)
class SignedObservation:
    """A verified observation: `signer` is the address the signature recovers to."""

    round: int
    observed_at: int
    model_hash: bytes
    inputs_hash: bytes
    markets: tuple[str, ...]
    params: tuple[int, ...]
    signer: str
    signature: bytes
    digest: bytes

    def risk_params(self) -> dict[str, RiskParamsBps]:
        return {m: RiskParamsBps.unpack(w) for m, w in zip(self.markets, self.params, strict=True)}

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "observedAt": self.observed_at,
            "modelHash": "0x" + self.model_hash.hex(),
            "inputsHash": "0x" + self.inputs_hash.hex(),
            "markets": list(self.markets),
            "params": [str(p) for p in self.params],
            "signer": self.signer,
            "signature": "0x" + self.signature.hex(),
        }


def observation_digest(
    domain: Domain,
    round_: int,
    observed_at: int,
    model_hash: bytes,
    inputs_hash: bytes,
    markets: tuple[str, ...],
    params: tuple[int, ...],
) -> bytes:
    """keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(RiskObservation))."""
    ids = b"".join(market_id_bytes32(m) for m in markets)
    words = b"".join(p.to_bytes(32, "big") for p in params)
    struct = keccak(
        OBSERVATION_TYPEHASH
        + round_.to_bytes(32, "big")
        + observed_at.to_bytes(32, "big")
        + model_hash
        + inputs_hash
        + keccak(ids)
        + keccak(words)
    )
    return keccak(b"\x19\x01" + domain.separator + struct)


def prepare_observation(local: LocalObservation, domain: Domain, signer: str) -> SignedObservation:
    """Canonicalise (markets sorted) and digest, not yet signed (empty signature): the caller first
    records the signature intent in the store, then signs (`NodeStore.sign_once`)."""
    markets = tuple(sorted(local.params))
    params = tuple(local.params[m].pack() for m in markets)
    _check_body(local.round, local.observed_at, local.model_hash, local.inputs_hash, markets, "observation")
    digest = observation_digest(
        domain, local.round, local.observed_at, local.model_hash, local.inputs_hash, markets, params
    )
    return SignedObservation(
        local.round, local.observed_at, local.model_hash, local.inputs_hash, markets, params,
        to_checksum_address(signer), b"", digest,
    )  # fmt: skip


def sign_observation(local: LocalObservation, domain: Domain, signer: OperatorSigner) -> SignedObservation:
    """Prepare and sign at once, without the store (tests, tools)."""
    prepared = prepare_observation(local, domain, signer.address)
    return with_signature(prepared, sign65(signer, prepared.digest))


def with_signature(unsigned: SignedObservation, signature: bytes) -> SignedObservation:
    """The same observation carrying `signature` (e.g. the bytes the store already holds)."""
    return SignedObservation(
        unsigned.round, unsigned.observed_at, unsigned.model_hash, unsigned.inputs_hash, unsigned.markets,
        unsigned.params, unsigned.signer, signature, unsigned.digest,
    )  # fmt: skip


def _check_body(
    round_: int, observed_at: int, model_hash: bytes, inputs_hash: bytes, markets: tuple[str, ...], where: str
) -> None:
    for name, value in (("round", round_), ("observedAt", observed_at)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _U64:
            raise PeerMessageError(where, name, value, "must be a uint64 integer")
    for name, raw in (("modelHash", model_hash), ("inputsHash", inputs_hash)):
        if not isinstance(raw, bytes) or len(raw) != 32:
            raise PeerMessageError(where, name, raw, "must be 32 bytes")
    if not markets:
        raise PeerMessageError(where, "markets", markets, "an observation needs at least one market")
    if list(markets) != sorted(set(markets)):
        raise PeerMessageError(where, "markets", markets, "must be sorted and distinct")


def _parse_markets(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
        raise PeerMessageError(where, "markets", value, "must be a list of market symbols")
    for m in value:
        try:
            market_id_bytes32(m)
        except ValueError as exc:
            raise PeerMessageError(where, "markets", m, str(exc)) from None
    return tuple(value)


def _parse_params(value: object, count: int, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) != count:
        raise PeerMessageError(where, "params", value, f"must be a list of {count} decimal strings")
    out = []
    for i, word in enumerate(value):
        if not isinstance(word, str) or not word.isdigit():
            raise PeerMessageError(where, f"params[{i}]", word, "must be a decimal string")
        try:
            RiskParamsBps.unpack(int(word))
        except ValueError as exc:
            raise PeerMessageError(where, f"params[{i}]", word, str(exc)) from None
        out.append(int(word))
    return tuple(out)


def parse_observation(obj: object, domain: Domain, where: str = "observation") -> SignedObservation:
    """Parse and verify a wire observation: well-formed, and its signature recovers to `signer`."""
    if not isinstance(obj, dict):
        raise PeerMessageError(where, "(body)", obj, "must be a JSON object")
    round_, observed_at = obj.get("round"), obj.get("observedAt")
    model_hash = parse_hex(obj.get("modelHash"), where, "modelHash", 32)
    inputs_hash = parse_hex(obj.get("inputsHash"), where, "inputsHash", 32)
    markets = _parse_markets(obj.get("markets"), where)
    _check_body(round_, observed_at, model_hash, inputs_hash, markets, where)  # type: ignore[arg-type]
    params = _parse_params(obj.get("params"), len(markets), where)
    signature = parse_hex(obj.get("signature"), where, "signature", 65)
    claimed = obj.get("signer")
    if not isinstance(claimed, str):
        raise PeerMessageError(where, "signer", claimed, "must be an address")
    digest = observation_digest(domain, round_, observed_at, model_hash, inputs_hash, markets, params)  # type: ignore[arg-type]
    recovered = recover65(digest, signature, where)
    if recovered.lower() != claimed.lower():
        raise PeerMessageError(
            where,
            "signature",
            "0x" + signature.hex(),
            f"recovers to {recovered}, not the claimed signer {claimed}",
        )
    return SignedObservation(
        round_,
        observed_at,
        model_hash,
        inputs_hash,
        markets,
        params,
        recovered,
        signature,
        digest,  # type: ignore[arg-type]
    )
