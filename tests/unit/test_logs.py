from __future__ import annotations

import io
import json
import logging

from oracle_node.logs import (
    configure_logging,
    get_logger,
    redact,
    redact_text,
    register_secret_url,
    scrub_url,
)

URL = "https://user:pa55word@eth-mainnet.example.com/v2/KEY0123456789abcdef?token=QUERYSECRET"


def test_redact_text__rpc_url__keeps_scheme_and_host_only() -> None:
    assert redact_text(f"rpc {URL} down") == "rpc https://eth-mainnet.example.com/*** down"
    assert redact_text("http://127.0.0.1:8545") == "http://127.0.0.1:8545"


def test_redact__secret_named_fields__masked_at_any_depth() -> None:
    out = redact({"password_file": "/x", "nested": {"api_key": "k", "ok": 1}, "list": [{"token": "t"}]})
    assert out == {"password_file": "***", "nested": {"api_key": "***", "ok": 1}, "list": [{"token": "***"}]}


def test_scrub_url__client_error_quoting_the_path__path_and_query_removed() -> None:
    text = "Max retries exceeded with url: /v2/KEY0123456789abcdef?token=QUERYSECRET (refused)"
    cleaned = scrub_url(text, URL)
    assert "KEY0123456789abcdef" not in cleaned and "QUERYSECRET" not in cleaned


def test_json_logs__registered_rpc_url__never_appears_in_any_field() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream)
    register_secret_url(URL)
    get_logger("t").warning("rpc_error", detail="GET /v2/KEY0123456789abcdef failed", user="user:pa55word")
    line = json.loads(stream.getvalue())
    assert line["event"] == "rpc_error" and line["level"] == "warning"
    assert "KEY0123456789abcdef" not in stream.getvalue() and "pa55word" not in stream.getvalue()
    logging.getLogger().handlers.clear()
