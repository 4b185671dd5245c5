"""Server side of the peer protocol (aiohttp): authenticated requests in, signed answers out.

GET  /v1/observations/{round}  -> 200 this node's signed observation | 404 not available
POST /v1/cosign                -> 200 {digest, signature} | 400 malformed | 403 not the leader
                                  | 409 equivocation (another digest already signed) | 422 refused
POST /v1/surface/cosign        -> the same for a surface report (network.surface_round); 404 when
                                  this node publishes no surfaces, 503 without its own surface yet
Every answer, errors included, is signed for the requester (bound to its nonce); 401/403 when the
request's own authentication fails.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from oracle_node.errors import OracleNodeError
from oracle_node.logs import get_logger
from oracle_node.network.auth import NONCE, PeerAuthenticator
from oracle_node.network.errors import CosignRefused, ObservationUnavailable, PeerAuthError, PeerMessageError
from oracle_node.network.observation import SignedObservation
from oracle_node.network.surface_round import PATH as SURFACE_PATH
from oracle_node.network.surface_round import SurfaceCosignRequest
from oracle_node.network.surface_round import parse_cosign_request as parse_surface_request
from oracle_node.network.wire import CosignRequest, cosign_answer, dumps, loads, parse_cosign_request
from oracle_node.store import EquivocationError

log = get_logger(__name__)
MAX_REQUEST = 1 << 20
Handler = Callable[[web.Request, str, bytes], Awaitable[tuple[int, dict[str, Any]]]]


class PeerService(Protocol):
    """What the server asks of the node."""

    async def serve_observation(self, round_: int) -> SignedObservation: ...

    async def cosign(self, request: CosignRequest, sender: str) -> tuple[bytes, bytes]: ...

    async def cosign_surface(self, request: SurfaceCosignRequest, sender: str) -> tuple[bytes, bytes]: ...


class PeerServer:
    def __init__(self, service: PeerService, auth: PeerAuthenticator, host: str, port: int) -> None:
        self.service, self.auth, self.host, self.port = service, auth, host, port
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_REQUEST)
        app.router.add_get("/v1/observations/{round}", self._wrap(self._observation))
        app.router.add_post("/v1/cosign", self._wrap(self._cosign))
        app.router.add_post(SURFACE_PATH, self._wrap(self._cosign_surface))
        return app

    async def start(self) -> int:
        """Bind and serve; returns the bound port (useful with port 0)."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, shutdown_timeout=1.0)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1]) if sockets else self.port
        log.info("peer_server_started", host=self.host, port=self.port)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _wrap(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def endpoint(request: web.Request) -> web.Response:
            body = await request.read()
            nonce = request.headers.get(NONCE, "")
            try:
                sender = self.auth.verify_request(request.method, request.path, body, request.headers)
                status, payload = await handler(request, sender, body)
            except PeerAuthError as exc:
                log.warning(
                    "peer_request_refused",
                    path=request.path,
                    status=exc.status,
                    reason=exc.reason,
                    detail=exc.detail,
                )
                status, payload = exc.status, {"error": exc.reason, "detail": exc.detail}
            return self._answer(status, payload, nonce)

        return endpoint

    def _answer(self, status: int, payload: dict[str, Any], nonce: str) -> web.Response:
        raw = dumps(payload)
        headers = self.auth.sign_response(status, raw, nonce)
        return web.Response(status=status, body=raw, headers=headers, content_type="application/json")

    async def _observation(
        self, request: web.Request, sender: str, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        text = request.match_info["round"]
        if not text.isdigit() or len(text) > 20:
            return 400, {"error": "bad_round", "detail": f"round {text!r} is not a decimal integer"}
        try:
            obs = await self.service.serve_observation(int(text))
        except ObservationUnavailable as exc:
            return 404, {"error": "unavailable", "detail": exc.why}
        return 200, obs.to_json()

    async def _cosign(self, request: web.Request, sender: str, body: bytes) -> tuple[int, dict[str, Any]]:
        async def sign() -> tuple[bytes, bytes]:
            parsed = parse_cosign_request(loads(body, "cosign"), self.auth.domain)
            return await self.service.cosign(parsed, sender)

        return await self._answer_cosign(sign, sender)

    async def _cosign_surface(
        self, request: web.Request, sender: str, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        async def sign() -> tuple[bytes, bytes]:
            parsed = parse_surface_request(loads(body, "surface cosign"))
            return await self.service.cosign_surface(parsed, sender)

        return await self._answer_cosign(sign, sender)

    async def _answer_cosign(
        self, sign: Callable[[], Awaitable[tuple[bytes, bytes]]], sender: str
    ) -> tuple[int, dict[str, Any]]:
        try:
            digest, signature = await sign()
        except PeerMessageError as exc:
            log.warning("cosign_malformed", sender=sender, field=exc.field, why=exc.why)
            return 400, {"error": "malformed", "detail": str(exc)}
        except CosignRefused as exc:
            log.warning("cosign_refused", sender=sender, reason=exc.reason, detail=exc.detail)
            return exc.status, {"error": exc.reason, "detail": exc.detail}
        except EquivocationError as exc:
            log.warning("cosign_equivocation_refused", sender=sender, round=exc.round, existing=exc.existing)
            return 409, {"error": "equivocation", "detail": str(exc), "signed": exc.existing}
        except ObservationUnavailable as exc:
            return 503, {"error": "no_own_observation", "detail": exc.why}
        except OracleNodeError as exc:
            log.error("cosign_failed", sender=sender, error=str(exc))
            return 500, {"error": "internal", "detail": type(exc).__name__}
        return 200, cosign_answer(digest, signature)
