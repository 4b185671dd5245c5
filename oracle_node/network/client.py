"""Client side of the peer protocol: signed requests, verified answers, a timeout on every wait.

Every answer must be signed by the peer that was called and bound to our request's nonce; anything
else (bad JSON, bad signature, wrong round, oversize body) raises a NetworkError subclass that the
leader logs and ignores.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from oracle_node.network.auth import NONCE, PeerAuthenticator
from oracle_node.network.errors import PeerMessageError, PeerRefused, PeerUnavailable
from oracle_node.network.observation import Domain, SignedObservation, parse_observation
from oracle_node.network.settings import PeerConfig
from oracle_node.network.wire import CosignRequest, dumps, loads, parse_cosign_answer

MAX_BODY = 1 << 20


class PeerClient:
    def __init__(
        self, session: aiohttp.ClientSession, auth: PeerAuthenticator, domain: Domain, timeout_s: float
    ) -> None:
        self.session, self.auth, self.domain, self.timeout_s = session, auth, domain, timeout_s

    async def call(
        self, peer: PeerConfig, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """One authenticated exchange: (status, JSON body) of a verified answer."""
        raw = dumps(body) if body is not None else b""
        headers = self.auth.sign_request(method, path, raw)
        headers["Content-Type"] = "application/json"
        try:
            async with asyncio.timeout(self.timeout_s):
                async with self.session.request(method, peer.url + path, data=raw, headers=headers) as resp:
                    status, payload, answer_headers = resp.status, await _read_body(resp), resp.headers
        except TimeoutError:
            raise PeerUnavailable(
                peer.address, f"{method} {path}: no answer within {self.timeout_s}s"
            ) from None
        except aiohttp.ClientError as exc:
            raise PeerUnavailable(peer.address, f"{method} {path}: {type(exc).__name__}: {exc}") from None
        self.auth.verify_response(status, payload, answer_headers, headers[NONCE], peer.address)
        return status, loads(payload, f"{peer.address} {path}")

    async def fetch_observation(self, peer: PeerConfig, round_: int) -> SignedObservation:
        path = f"/v1/observations/{round_}"
        status, body = await self.call(peer, "GET", path)
        _raise_for_status(peer, status, body)
        obs = parse_observation(body, self.domain, f"{peer.address} {path}")
        if obs.round != round_:
            raise PeerMessageError(f"{peer.address} {path}", "round", obs.round, f"asked for round {round_}")
        if obs.signer != peer.address:
            raise PeerMessageError(
                f"{peer.address} {path}", "signer", obs.signer, "not the peer's own observation"
            )
        return obs

    async def request_cosign(self, peer: PeerConfig, request: CosignRequest) -> tuple[bytes, bytes]:
        """(digest, 65-byte signature) the peer returned; the caller checks both."""
        status, body = await self.call(peer, "POST", "/v1/cosign", request.to_json())
        _raise_for_status(peer, status, body)
        return parse_cosign_answer(body, f"{peer.address} /v1/cosign")


async def _read_body(resp: aiohttp.ClientResponse) -> bytes:
    chunks, size = [], 0
    async for chunk in resp.content.iter_chunked(65536):
        size += len(chunk)
        if size > MAX_BODY:
            raise aiohttp.ClientPayloadError(f"answer larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _raise_for_status(peer: PeerConfig, status: int, body: dict[str, Any]) -> None:
    if status != 200:
        raise PeerRefused(peer.address, status, str(body.get("error", "")), str(body.get("detail", "")))
