"""JSON logs: one object per line with an event name and fields; secrets and RPC credentials redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any
from urllib.parse import urlsplit

# scheme://[user:pass@]host[:port][/path][?query]: credentials, path and query may carry API keys.
_URL = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?:[^/@\s]+@)?(?P<host>[^/\s?\"']+)(?P<rest>[^\s\"']*)"
)
_SECRET_NAMES = ("password", "secret", "private_key", "api_key", "apikey", "token", "key_file_password")
# Name parts (lower case, separators removed) of fields whose value is a secret wherever it appears.
_SECRET_NAME_PARTS = (
    "password", "passwd", "passphrase", "secret", "privatekey", "apikey", "accesskey", "token",
    "mnemonic", "credential", "authorization", "bearer", "cookie",
)  # fmt: skip
_URL_NAME_PARTS = ("url", "uri", "rpc", "endpoint", "dsn")
_PRIVATE_KEY = re.compile(r"\b(?:0x)?[0-9a-fA-F]{64}\b")
REDACTED = "<redacted>"


def _redact_url(match: re.Match[str]) -> str:
    rest = match.group("rest")
    return match.group("scheme") + match.group("host") + ("/***" if rest not in ("", "/") else rest)


def redact_text(text: str) -> str:
    """Keep only scheme://host:port of URLs (RPC providers put API keys in credentials, path or query)."""
    return _URL.sub(_redact_url, text)


_REGISTERED: set[str] = set()


def _url_secrets(url: str) -> set[str]:
    parts = urlsplit(url)
    found = {url, parts.username or "", parts.password or "", parts.query}
    if parts.path not in ("", "/"):
        found.add(parts.path)
    return {s for s in found if len(s) >= 4}


def register_secret_url(url: str) -> None:
    """Every later log line has this URL's secret-bearing pieces removed (the CLI registers the RPC URL)."""
    _REGISTERED.update(_url_secrets(url))


def scrub_url(text: str, url: str) -> str:
    """Remove every piece of `url` that can carry a secret (user, password, path, query) from `text`,
    e.g. an HTTP client's error message that quotes the request path without the host."""
    for secret in sorted(_url_secrets(url), key=len, reverse=True):
        text = text.replace(secret, "***")
    return redact_text(text)


def _scrub_registered(text: str) -> str:
    for secret in sorted(_REGISTERED, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def scrub_text(text: str) -> str:
    """Free text (an error message) made safe to print: registered secrets removed, URLs redacted."""
    return redact_text(_scrub_registered(text))


def _flat(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def is_secret_name(name: str) -> bool:
    """A field whose value is a secret (password, API key, token, private key...), by its name."""
    flat = _flat(name)
    return any(part in flat for part in _SECRET_NAME_PARTS)


def safe_value(value: Any, key: str = "") -> Any:
    """`value` (from a config file, the environment or a validation error) with every part that can hold
    a secret masked: fields named like secrets, URLs' credentials/path/query, 64-hex private keys.
    A string under a URL-like name that is not a URL (`user:pw@host`) is masked whole."""
    if is_secret_name(key):
        return REDACTED
    if isinstance(value, dict):
        return {k: safe_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [safe_value(v, key) for v in value]
    if isinstance(value, str):
        if any(part in _flat(key) for part in _URL_NAME_PARTS) and "://" not in value:
            return REDACTED
        return _PRIVATE_KEY.sub(REDACTED, scrub_text(value))
    return value


def redact(value: Any, key: str = "") -> Any:
    if any(name in key.lower() for name in _SECRET_NAMES):
        return "***"
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, key) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            payload.update(redact(fields))
        if record.exc_info and record.exc_info[1] is not None:
            payload["error"] = redact_text(f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}")
        return _scrub_registered(json.dumps(payload, default=str, separators=(",", ":")))


class EventLogger:
    """`log.info("cycle_done", market="BTC-USD", ms=3.1)`: the event is the message, fields ride along."""

    def __init__(self, name: str) -> None:
        self._log = logging.getLogger(name)

    def _emit(self, level: int, event: str, fields: dict[str, Any]) -> None:
        if self._log.isEnabledFor(level):
            self._log.log(level, event, extra={"fields": fields})

    def debug(self, event: str, **fields: Any) -> None:
        self._emit(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._emit(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit(logging.ERROR, event, fields)


def get_logger(name: str) -> EventLogger:
    return EventLogger(name)


def configure_logging(level: str = "INFO", stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.Formatter.converter = time.gmtime
