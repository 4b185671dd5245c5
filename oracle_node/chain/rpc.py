"""Small JSON-RPC helpers for the transaction pipeline: a Web3 without hidden retries, which errors are
worth retrying and the retry loop itself, and decoding of revert data into the contract's custom error name and arguments."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractLogicError, ProviderConnectionError, Web3RPCError

from oracle_node.errors import SubmissionError
from oracle_node.logs import get_logger, redact_text

log = get_logger(__name__)
T = TypeVar("T")

_ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)
_PANIC = bytes.fromhex("4e487b71")  # Panic(uint256)
_TRANSIENT_RPC_CODES = frozenset({-32005, -32000 - 429, 429})  # limit exceeded / rate limited
_TRANSIENT_WORDS = ("rate limit", "too many requests", "timeout", "timed out", "temporarily unavailable")


def make_web3(url: str, timeout_s: float = 10.0) -> Web3:
    """A Web3 over HTTP whose only retries are the TxSender's (web3's own retry layer is off)."""
    provider = HTTPProvider(url, request_kwargs={"timeout": timeout_s}, exception_retry_configuration=None)
    return Web3(provider)


def is_transient(exc: BaseException) -> bool:
    """True for errors a retry may cure: connection refused/reset, timeouts, HTTP 429/5xx, rate limits."""
    if isinstance(exc, requests.HTTPError):
        code = exc.response.status_code if exc.response is not None else 0
        return code == 429 or code >= 500
    if isinstance(
        exc, requests.ConnectionError | requests.Timeout | ProviderConnectionError | ConnectionError
    ):
        return True
    if isinstance(exc, Web3RPCError):
        error = (exc.rpc_response or {}).get("error") if isinstance(exc.rpc_response, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        text = str(exc).lower()
        return code in _TRANSIENT_RPC_CODES or any(word in text for word in _TRANSIENT_WORDS)
    return False


def call_with_retries(
    method: str,
    fn: Callable[[], T],
    *,
    retries: int,
    backoff: tuple[float, float],
    sleep: Callable[[float], None],
    on_give_up: Callable[[], None] | None = None,
) -> T:
    """Call `fn`, retrying transient errors after base, 2 base, 4 base... seconds (at most backoff[1]);
    SubmissionError naming the method and the last error when the retries run out."""
    base, most = backoff
    for attempt in range(retries + 1):
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if attempt == retries:
                if on_give_up is not None:
                    on_give_up()
                raise SubmissionError(
                    f"rpc unavailable after {attempt + 1} attempts", None, f"{method}: {rpc_error_text(exc)}"
                ) from None
            delay = min(base * 2**attempt, most)
            log.warning(
                "rpc_retry", method=method, attempt=attempt + 1, delay_s=delay, error=rpc_error_text(exc)
            )
            sleep(delay)
    raise AssertionError("unreachable")


def rpc_error_text(exc: BaseException) -> str:
    """The node's error message, without the RPC URL (which may carry an API key)."""
    if isinstance(exc, Web3RPCError) and isinstance(exc.rpc_response, dict):
        error = exc.rpc_response.get("error")
        if isinstance(error, dict) and "message" in error:
            return redact_text(str(error["message"]))
    return redact_text(f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True, slots=True)
class DecodedRevert:
    name: str
    args: dict[str, Any]

    def detail(self) -> str:
        return ", ".join(f"{k}={_show(v)}" for k, v in self.args.items())


def revert_data(exc: ContractLogicError) -> bytes:
    data = exc.data
    if isinstance(data, bytes):
        return data
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return b""
    return b""


def revert_error(
    reason: str, exc: ContractLogicError, errors_abi: Sequence[Mapping[str, Any]]
) -> SubmissionError:
    """SubmissionError carrying the decoded error name and arguments, or the raw revert data."""
    data = revert_data(exc)
    decoded = decode_revert(data, errors_abi)
    if decoded is not None:
        return SubmissionError(reason, decoded.name, decoded.detail())
    return SubmissionError(reason, None, f"revert data 0x{data.hex()}" if data else rpc_error_text(exc))


def decode_revert(data: bytes, errors_abi: Sequence[Mapping[str, Any]] = ()) -> DecodedRevert | None:
    """Name and arguments of revert data: Error(string), Panic(uint256) or a custom error in `errors_abi`."""
    if len(data) < 4:
        return None
    selector, payload = data[:4], data[4:]
    if selector == _ERROR_STRING:
        return _decode("Error", ["message"], ["string"], payload)
    if selector == _PANIC:
        decoded = _decode("Panic", ["code"], ["uint256"], payload)
        return DecodedRevert("Panic", {"code": hex(decoded.args["code"])}) if decoded else None
    for entry in errors_abi:
        if entry.get("type") != "error":
            continue
        inputs = list(entry.get("inputs", []))
        types = [_abi_type(i) for i in inputs]
        if keccak(text=f"{entry['name']}({','.join(types)})")[:4] == selector:
            names = [i.get("name") or f"arg{n}" for n, i in enumerate(inputs)]
            return _decode(str(entry["name"]), names, types, payload)
    return None


def _decode(name: str, names: list[str], types: list[str], payload: bytes) -> DecodedRevert | None:
    try:
        values = abi_decode(types, payload)
    except (DecodingError, ValueError, TypeError):
        return None
    return DecodedRevert(name, dict(zip(names, values, strict=True)))


def _abi_type(entry: Mapping[str, Any]) -> str:
    kind = str(entry["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in entry.get("components", []))
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        text = value.rstrip(b"\x00")
        if text and all(32 <= b < 127 for b in text):
            return repr(text.decode("ascii"))
        return "0x" + value.hex()
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def checksum(address: str) -> str:
    return Web3.to_checksum_address(address)
