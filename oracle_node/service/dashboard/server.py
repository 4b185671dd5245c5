"""The dashboard's HTTP server: a read-only page on its own port, in the node's event loop (aiohttp).

GET /                         redirects to /dashboard/
GET /dashboard/               the page (server-rendered skeleton; its script fills the panels)
GET /dashboard/state.json     the node's state now (collect.StateBuilder), cached for CACHE_S
GET /dashboard/static/<file>  the page's script and style, served from the package (no CDN)
Any other method is refused with 405 (Allow: GET, HEAD); nothing on this server changes the node.
"""

from __future__ import annotations

import asyncio
import html
import json
import math
import socket
import time
from importlib import resources
from typing import Any

from aiohttp import web

from oracle_node.errors import ConfigError, OracleNodeError
from oracle_node.logs import get_logger
from oracle_node.service.dashboard.collect import StateBuilder

log = get_logger(__name__)
CACHE_S = 0.5  # several open tabs share one build
STATIC = ("dashboard.js", "dashboard.css")
READ_ONLY = ("GET", "HEAD")


@web.middleware
async def read_only(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.method not in READ_ONLY:
        raise web.HTTPMethodNotAllowed(request.method, list(READ_ONLY), text="read-only dashboard\n")
    return await handler(request)


class Dashboard:
    """Serve the page until stop(); `state()` is also what the tests read."""

    def __init__(self, builder: StateBuilder, host: str, port: int, refresh_s: float = 2.0) -> None:
        self.builder, self.host, self.port, self.refresh_s = builder, host, port, refresh_s
        self._runner: web.AppRunner | None = None
        self._cached: tuple[float, bytes] | None = None
        self._lock = asyncio.Lock()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/dashboard/"

    def app(self) -> web.Application:
        app = web.Application(middlewares=[read_only])
        app.router.add_get("/", self._root)
        app.router.add_get("/dashboard/", self._page)
        app.router.add_get("/dashboard/state.json", self._state)
        app.router.add_get("/dashboard/static/{name}", self._static)
        return app

    async def start(self) -> str:
        """Bind and serve; returns the page's URL. ConfigError naming dashboard.port when it is taken."""
        sock = _listen(self.host, self.port)
        self.port = int(sock.getsockname()[1])  # the bound port when 0 was asked for
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        log.info("dashboard_serving", url=self.url)
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def state(self) -> bytes:
        async with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > CACHE_S:
                body = await asyncio.to_thread(self.builder.build)
                self._cached = (now, json.dumps(finite(body), allow_nan=False).encode())
            return self._cached[1]

    async def _root(self, _request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/dashboard/")

    async def _page(self, _request: web.Request) -> web.StreamResponse:
        return web.Response(text=page(self.builder.src.name, self.refresh_s), content_type="text/html")

    async def _state(self, _request: web.Request) -> web.StreamResponse:
        try:
            body = await self.state()
        except OracleNodeError as exc:  # the chain unreachable at start, say: the page shows it
            log.warning("dashboard_state_failed", error=str(exc))
            return web.json_response({"error": str(exc)}, status=503)
        return web.Response(body=body, content_type="application/json", headers={"Cache-Control": "no-store"})

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound()
        data = resources.files("oracle_node.service.dashboard").joinpath("static", name).read_bytes()
        ctype = "text/javascript" if name.endswith(".js") else "text/css"
        return web.Response(body=data, content_type=ctype)


def _listen(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(
            f"dashboard.host: cannot serve the dashboard on {host}: {exc.strerror or exc}"
        ) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"dashboard.port: cannot serve the dashboard on {host}:{port}: {exc.strerror or exc}"
        ) from None
    sock.setblocking(False)
    return sock


def finite(value: Any) -> Any:
    """The state with every NaN or infinity as null (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


PANELS = (
    ("markets", "Markets: on-chain, wanted, signed, DAO bounds"),
    ("rounds", "Rounds"),
    ("peers", "Peers"),
    ("model", "Model and attribution"),
    ("drift", "Drift"),
    ("smiles", "Fitted smiles"),
)


def page(name: str, refresh_s: float) -> str:
    """The page: header and one empty section per panel; dashboard.js polls state.json and fills them."""
    sections = "\n".join(
        f'<section id="{pid}"><h2>{html.escape(title)}</h2><div class="body">loading…</div></section>'
        for pid, title in PANELS
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(name)}: MLRA oracle node</title>
<link rel="stylesheet" href="/dashboard/static/dashboard.css">
</head><body data-refresh-ms="{int(refresh_s * 1000)}">
<header><h1>{html.escape(name)}</h1><span id="status">connecting…</span></header>
<main>
{sections}
</main>
<script src="/dashboard/static/dashboard.js"></script>
</body></html>
"""
