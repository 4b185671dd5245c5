"""Authentication of every peer message (request and response) with the sender's operator key.

Headers: X-Oracle-Signer (address), X-Oracle-Timestamp (unix ms), X-Oracle-Nonce (16 random bytes,
0x-hex), X-Oracle-Signature (65 bytes, 0x-hex). The signature is EIP-191 (personal_sign) over

    keccak256("MLRA-PEER-V1" \n chainId \n oracle \n kind \n line \n timestamp \n nonce \n keccak256(body))

where kind is "request" (line = "METHOD /path") or "response" (line = "STATUS <request nonce>", which
binds an answer to the one request it answers). A receiver refuses (PeerAuthError):
- 403 unknown_peer: the signer is not a configured peer;
- 401 malformed_auth / bad_signature: headers missing or ill-formed, signature not by the named signer;
- 401 stale: timestamp more than `max_age_s` from the receiver's clock (either direction);
- 401 replayed: a (signer, nonce) pair already accepted within the window. Nonces are remembered for
  the window in memory; after a restart the timestamp window still bounds replays, and both endpoints
  are idempotent (a replayed GET or co-sign request yields the same bytes).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping

from eth_utils import keccak, to_checksum_address

from oracle_node.network.errors import PeerAuthError, PeerMessageError
from oracle_node.network.observation import Domain
from oracle_node.network.signing import OperatorSigner, parse_hex, personal_digest, recover65, sign65

SIGNER, TIMESTAMP, NONCE, SIGNATURE = (
    "X-Oracle-Signer",
    "X-Oracle-Timestamp",
    "X-Oracle-Nonce",
    "X-Oracle-Signature",
)
AUTH_HEADERS = (SIGNER, TIMESTAMP, NONCE, SIGNATURE)
PROTOCOL = "MLRA-PEER-V1"


class ReplayGuard:
    """Remembers (signer, nonce) pairs until they are too old to pass the timestamp check anyway."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._seen: dict[tuple[str, str], float] = {}

    def accept(self, signer: str, nonce: str, now: float) -> bool:
        if len(self._seen) > 1024:
            self._seen = {k: t for k, t in self._seen.items() if t > now}
        key = (signer.lower(), nonce.lower())
        expiry = self._seen.get(key)
        if expiry is not None and expiry > now:
            return False
        self._seen[key] = now + 2 * self.window_s
        return True


class PeerAuthenticator:
    def __init__(
        self,
        domain: Domain,
        signer: OperatorSigner,
        peers: Iterable[str],
        max_age_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.domain, self.signer, self.max_age_s, self.clock = domain, signer, max_age_s, clock
        self.peers = frozenset(to_checksum_address(p) for p in peers)
        self.replays = ReplayGuard(max_age_s)

    def _hash(self, kind: str, line: str, ts: int, nonce: str, body: bytes) -> bytes:
        parts = (PROTOCOL, str(self.domain.chain_id), self.domain.oracle.lower(), kind, line, str(ts), nonce)
        return keccak(text="\n".join(parts) + "\n" + "0x" + keccak(body).hex())

    def _headers(self, kind: str, line: str, body: bytes) -> dict[str, str]:
        ts, nonce = int(self.clock() * 1000), "0x" + os.urandom(16).hex()
        digest = personal_digest(self._hash(kind, line, ts, nonce, body))
        signature = "0x" + sign65(self.signer, digest).hex()
        return {SIGNER: self.signer.address, TIMESTAMP: str(ts), NONCE: nonce, SIGNATURE: signature}

    def sign_request(self, method: str, path: str, body: bytes) -> dict[str, str]:
        return self._headers("request", f"{method.upper()} {path}", body)

    def sign_response(self, status: int, body: bytes, request_nonce: str) -> dict[str, str]:
        return self._headers("response", f"{status} {request_nonce.lower()}", body)

    def verify_request(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> str:
        """The authenticated signer of a request, or PeerAuthError."""
        return self._verify("request", f"{method.upper()} {path}", body, headers, expected=None)

    def verify_response(
        self, status: int, body: bytes, headers: Mapping[str, str], request_nonce: str, expected: str
    ) -> None:
        self._verify("response", f"{status} {request_nonce.lower()}", body, headers, expected=expected)

    def _verify(
        self, kind: str, line: str, body: bytes, headers: Mapping[str, str], expected: str | None
    ) -> str:
        claimed, ts, nonce, signature = _read_headers(headers)
        if claimed not in self.peers:
            raise PeerAuthError(403, "unknown_peer", f"signer {claimed} is not a configured peer")
        if expected is not None and claimed.lower() != expected.lower():
            raise PeerAuthError(403, "unexpected_peer", f"answer signed by {claimed}, expected {expected}")
        now = self.clock()
        if abs(now - ts / 1000) > self.max_age_s:
            raise PeerAuthError(401, "stale", f"timestamp {ts} ms is {now - ts / 1000:+.1f}s from now")
        try:
            recovered = recover65(personal_digest(self._hash(kind, line, ts, nonce, body)), signature, kind)
        except PeerMessageError as exc:
            raise PeerAuthError(401, "bad_signature", str(exc)) from None
        if recovered != claimed:
            raise PeerAuthError(401, "bad_signature", f"signature by {recovered}, header names {claimed}")
        if not self.replays.accept(claimed, nonce, now):
            raise PeerAuthError(401, "replayed", f"nonce {nonce} of {claimed} already seen")
        return claimed


def _read_headers(headers: Mapping[str, str]) -> tuple[str, int, str, bytes]:
    missing = [h for h in AUTH_HEADERS if h not in headers]
    if missing:
        raise PeerAuthError(401, "malformed_auth", f"missing headers {missing}")
    try:
        claimed = to_checksum_address(headers[SIGNER])
        ts = int(headers[TIMESTAMP])
        parse_hex(headers[NONCE], "auth", NONCE, 16)
        signature = parse_hex(headers[SIGNATURE], "auth", SIGNATURE, 65)
    except (ValueError, PeerMessageError) as exc:
        raise PeerAuthError(401, "malformed_auth", str(exc)) from None
    return claimed, ts, headers[NONCE].lower(), signature
