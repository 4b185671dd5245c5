"""The dashboard's HTTP surface on a real loopback socket: read-only (every other method 405), the
page and its static files from the package, state.json, a taken port named as dashboard.port."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from types import SimpleNamespace
from typing import Any

import pytest

from oracle_node.errors import ConfigError, DataError
from oracle_node.service.dashboard import Dashboard


class _Builder:
    def __init__(self) -> None:
        self.src = SimpleNamespace(name="node-under-test")
        self.builds = 0
        self.fail = False

    def build(self) -> dict[str, Any]:
        if self.fail:
            raise DataError("chain", None, "rpc", "down", "unreachable")
        self.builds += 1
        return {"node": {"name": self.src.name}, "ratio": float("nan"), "builds": self.builds}


def _call(url: str, method: str = "GET") -> tuple[int, str, dict[str, str]]:
    data = b"x" if method in ("POST", "PUT", "PATCH") else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method), timeout=5) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def test_dashboard_http__methods_pages_state_and_taken_port() -> None:
    builder = _Builder()

    async def scenario() -> None:
        dash = Dashboard(builder, "127.0.0.1", 0, refresh_s=3)  # type: ignore[arg-type]
        url = await dash.start()
        try:
            base = url.removesuffix("/dashboard/")
            status, body, _ = await asyncio.to_thread(_call, url)
            assert status == 200 and "node-under-test" in body and 'data-refresh-ms="3000"' in body
            status, body, headers = await asyncio.to_thread(_call, url + "state.json")
            assert status == 200 and headers["Content-Type"].startswith("application/json")
            assert json.loads(body) == {"node": {"name": "node-under-test"}, "ratio": None, "builds": 1}
            for name in ("dashboard.js", "dashboard.css"):
                status, body, _ = await asyncio.to_thread(_call, f"{url}static/{name}")
                assert status == 200 and len(body) > 500
            assert (await asyncio.to_thread(_call, f"{url}static/..%2Fserver.py"))[0] == 404
            for method in ("POST", "PUT", "DELETE", "PATCH"):
                status, _, headers = await asyncio.to_thread(_call, url + "state.json", method)
                assert status == 405 and "GET" in headers["Allow"], method
            assert (await asyncio.to_thread(_call, base + "/"))[0] == 200  # / redirects to the page
            with pytest.raises(ConfigError, match=rf"dashboard.port: cannot serve .*127.0.0.1:{dash.port}"):
                await Dashboard(builder, "127.0.0.1", dash.port).start()  # type: ignore[arg-type]
            await asyncio.sleep(0.6)  # past the cache: the next read builds again, and fails
            builder.fail = True
            status, body, _ = await asyncio.to_thread(_call, url + "state.json")
            assert status == 503 and "unreachable" in json.loads(body)["error"]
        finally:
            await dash.stop()

    asyncio.run(scenario())
