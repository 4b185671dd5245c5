"""Ethereum JSON-RPC over `JsonHttp`, single calls and batches, every failure a `SourceError`.

No web3 here (house rule: only `oracle_node/chain` imports it). A batch is one HTTP POST carrying a
JSON array of calls (JSON-RPC 2.0 batch; Geth, Erigon, Alchemy, Infura and anvil accept it), split into
requests of at most `batch_size` calls because providers cap the array length. Answers are matched to
calls by id, so a provider that answers out of order is fine. An error object names the method and,
for `eth_call`, the contract and the 4-byte selector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from oracle_node.errors import SourceError
from oracle_node.sources.base import as_list, as_mapping
from oracle_node.sources.http import JsonHttp

RATE_LIMIT_RPC_CODES = frozenset({-32005, 429})


@dataclass(frozen=True, slots=True)
class RpcCall:
    method: str
    params: tuple[Any, ...]
    label: str = ""  # what the call reads, for error messages (e.g. "getReserveData(WETH)")

    def where(self) -> str:
        return f"{self.method} {self.label}".strip()


class JsonRpc:
    """One endpoint; `requests` counts HTTP requests sent (the docs quote it per read)."""

    def __init__(self, source: str, url: str, timeout: float = 10.0, batch_size: int = 100) -> None:
        self.source, self.batch_size = source, batch_size
        self.http = JsonHttp(source, url, timeout)
        self.requests = 0
        self._next_id = 0

    async def call(self, method: str, params: Sequence[Any], label: str = "") -> Any:
        (result,) = await self.batch([RpcCall(method, tuple(params), label)])
        return result

    async def batch(self, calls: Sequence[RpcCall]) -> list[Any]:
        """The results of `calls`, in order; SourceError on the first failed call (naming it)."""
        out: list[Any] = []
        for i in range(0, len(calls), self.batch_size):
            out += await self._send(calls[i : i + self.batch_size])
        return out

    async def _send(self, calls: Sequence[RpcCall]) -> list[Any]:
        ids = list(range(self._next_id + 1, self._next_id + 1 + len(calls)))
        self._next_id = ids[-1]
        body = [
            {"jsonrpc": "2.0", "id": i, "method": c.method, "params": list(c.params)}
            for i, c in zip(ids, calls, strict=True)
        ]
        self.requests += 1
        reply = await self.http.post("", body[0] if len(body) == 1 else body)
        if len(body) > 1 and isinstance(reply, dict) and reply.get("error") is not None:  # the batch refused
            return [
                self._result(reply, RpcCall("batch", (), f"of {len(calls)} calls ({calls[0].where()}, ...)"))
            ]
        replies = [reply] if len(body) == 1 and isinstance(reply, dict) else reply
        by_id: dict[Any, Any] = {}
        for item in as_list(self.source, replies, f"batch of {len(calls)} calls"):
            entry = as_mapping(self.source, item, "batch entry")
            by_id[entry.get("id")] = entry
        return [self._result(by_id.get(i), c) for i, c in zip(ids, calls, strict=True)]

    def _result(self, reply: Any, call: RpcCall) -> Any:
        if reply is None:
            raise SourceError(self.source, "malformed", f"{call.where()}: no answer with this call's id")
        if reply.get("error") is not None:
            err = as_mapping(self.source, reply["error"], f"{call.where()} error")
            reason = "rate_limited" if err.get("code") in RATE_LIMIT_RPC_CODES else "api_error"
            raise SourceError(
                self.source, reason, f"{call.where()}: code {err.get('code')}: {err.get('message')}"
            )
        if "result" not in reply:
            raise SourceError(self.source, "malformed", f"{call.where()}: reply has neither result nor error")
        return reply["result"]

    async def close(self) -> None:
        await self.http.close()


def hex_int(source: str, value: object, name: str) -> int:
    """A JSON-RPC hex quantity (\"0x1a\") as int; SourceError naming `name` and the value otherwise."""
    if not isinstance(value, str) or not value.startswith("0x"):
        raise SourceError(source, "malformed", f"{name} = {value!r} is not a hex quantity")
    try:
        return int(value, 16)
    except ValueError:
        raise SourceError(source, "malformed", f"{name} = {value!r} is not a hex quantity") from None
