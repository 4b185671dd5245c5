"""Raw-digest signatures for the network: 65-byte r ‖ s ‖ v made by the operator key, and recovery.

The operator key is the node's on-chain signer key (`reports.keystore.KeystoreSigner` or any object
with `address` and `sign_digest(digest) -> (v, r, s)`); one key signs observations, reports and peer
messages, each over a domain-separated digest so no signature can be replayed as another kind.
"""

from __future__ import annotations

from typing import Protocol

from eth_keys import keys
from eth_keys.exceptions import BadSignature, ValidationError
from eth_utils import keccak, to_checksum_address

from oracle_node.network.errors import PeerMessageError

SECP256K1_HALF_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 // 2


class OperatorSigner(Protocol):
    @property
    def address(self) -> str: ...

    def sign_digest(self, digest: bytes) -> tuple[int, int, int]: ...


class LocalKeySigner:
    """An operator signer from a raw private key (tests, benches, dev keys); never logs the key."""

    def __init__(self, private_key: str | bytes) -> None:
        raw = bytes.fromhex(private_key.removeprefix("0x")) if isinstance(private_key, str) else private_key
        self._key = keys.PrivateKey(raw)
        self._address = self._key.public_key.to_checksum_address()

    @property
    def address(self) -> str:
        return self._address

    def sign_digest(self, digest: bytes) -> tuple[int, int, int]:
        sig = self._key.sign_msg_hash(digest)
        return sig.v + 27, sig.r, sig.s

    def __repr__(self) -> str:
        return f"LocalKeySigner(address={self._address}, key=***)"


def sign65(signer: OperatorSigner, digest: bytes) -> bytes:
    """r ‖ s ‖ v (v = 27/28) over the digest itself."""
    v, r, s = signer.sign_digest(digest)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])


def recover65(digest: bytes, signature: bytes, where: str) -> str:
    """The checksum address that made `signature` over `digest`; PeerMessageError if it is no signature."""
    if len(signature) != 65:
        raise PeerMessageError(where, "signature", signature.hex(), "must be 65 bytes r||s||v")
    r, s, v = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big"), signature[64]
    if v not in (27, 28) or not 0 < s <= SECP256K1_HALF_N or not r > 0:
        raise PeerMessageError(
            where, "signature", signature.hex(), "v must be 27/28, r and s non-zero, s low"
        )
    try:
        public = keys.Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest)
    except (BadSignature, ValidationError) as exc:
        raise PeerMessageError(where, "signature", signature.hex(), f"does not recover ({exc})") from None
    return to_checksum_address(public.to_canonical_address())


def personal_digest(message_hash: bytes) -> bytes:
    """EIP-191 version 0x45 digest of a 32-byte hash (what `eth_sign`/personal_sign sign)."""
    return keccak(b"\x19Ethereum Signed Message:\n32" + message_hash)


def parse_hex(value: object, where: str, field: str, length: int | None = None) -> bytes:
    """0x-hex text to bytes, checking the length; PeerMessageError naming the field otherwise."""
    if not isinstance(value, str) or not value.startswith("0x"):
        raise PeerMessageError(where, field, value, "must be 0x-prefixed hex text")
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError:
        raise PeerMessageError(where, field, value, "is not hex") from None
    if length is not None and len(raw) != length:
        raise PeerMessageError(where, field, value, f"must be {length} bytes, got {len(raw)}")
    return raw
