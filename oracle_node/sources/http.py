"""A small JSON-over-HTTP client (aiohttp) whose every failure is a `SourceError` with a machine reason.

Used by the Deribit and on-chain connectors (the ccxt connector maps ccxt's own errors the same way).
It honours HTTP 429 `Retry-After`: after a 429 the client refuses to call the host again until the
given time has passed (raising `rate_limited` at once, without a request), so a rate-limited venue is
not hammered by the next cycle.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from oracle_node.errors import SourceError

DEFAULT_RETRY_AFTER = 1.0  # seconds, when a 429 carries no usable Retry-After
MAX_DETAIL = 200


def parse_retry_after(value: str | None, now: float | None = None) -> float:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; default when absent."""
    if not value:
        return DEFAULT_RETRY_AFTER
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    return max(0.0, when - (time.time() if now is None else now))


class RateGate:
    """Remembers a venue's Retry-After and refuses calls until it has passed (monotonic clock)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._until = 0.0

    def check(self) -> None:
        left = self._until - time.monotonic()
        if left > 0:
            raise SourceError(self.source, "rate_limited", f"retry_after={left:.1f}s; not called")

    def block(self, seconds: float) -> SourceError:
        self._until = max(self._until, time.monotonic() + seconds)
        return SourceError(self.source, "rate_limited", f"retry_after={seconds:g}s")


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL] + "..."


class JsonHttp:
    """GET/POST JSON against one base URL with a total timeout per request."""

    def __init__(self, source: str, base_url: str, timeout: float = 5.0) -> None:
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.gate = RateGate(source)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return await self._request("GET", path, params=params)

    async def post(self, path: str, payload: object) -> Any:
        return await self._request("POST", path, payload=payload)

    async def _request(
        self, method: str, path: str, params: Mapping[str, str] | None = None, payload: object = None
    ) -> Any:
        self.gate.check()
        url = self.base_url + path
        try:
            async with self._client().request(method, url, params=params, json=payload) as resp:
                body = await resp.text()
                status, headers = resp.status, resp.headers
        except TimeoutError:
            raise SourceError(self.source, "timeout", f"{method} {path} after {self.timeout:g}s") from None
        except aiohttp.ClientPayloadError as exc:
            raise SourceError(self.source, "malformed", f"{method} {path}: truncated body ({exc})") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise SourceError(self.source, "unreachable", f"{method} {path}: {type(exc).__name__}") from None
        if status == 429:
            raise self.gate.block(parse_retry_after(headers.get("Retry-After")))
        if status >= 400:
            raise SourceError(self.source, f"http_{status}", f"{method} {path}: {_short(body)}")
        return self._decode(path, body)

    def _decode(self, path: str, body: str) -> Any:
        try:
            return json.loads(body, parse_constant=_reject_constant)
        except ValueError as exc:
            raise SourceError(self.source, "malformed", f"{path}: not JSON ({exc}): {_short(body)}") from None


def _reject_constant(name: str) -> float:
    """json.loads would accept NaN/Infinity literals: a venue sending them sent garbage."""
    raise ValueError(f"non-standard JSON constant {name}")
