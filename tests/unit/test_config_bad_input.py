"""The config as a new operator gets it wrong: every problem one line naming where, never a secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oracle_node import cli
from oracle_node.config import load_config
from oracle_node.errors import ConfigError
from oracle_node.logs import REDACTED, safe_value, scrub_text

SECRET_URL = "https://user:hunter2@mainnet.example.io/v3/abcdef0123456789abcdef?token=QUERYSECRET"
SECRETS = ("hunter2", "abcdef0123456789abcdef", "QUERYSECRET")
PRIVATE_KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


@pytest.fixture(autouse=True)
def _no_oracle_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("ORACLE_"):
            monkeypatch.delenv(name)


def _error(path: Path, environ: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load_config(path, environ or {})
    return err.value


def _assert_no_secret(err: ConfigError) -> None:
    text = "\n".join(err.lines()) + str(err)
    for secret in (*SECRETS, PRIVATE_KEY[2:]):
        assert secret not in text, text


def test_load_config__mistyped_rpc_url_key__file_line_named_and_url_secrets_masked(tmp_path: Path) -> None:
    path = tmp_path / "node.yaml"
    path.write_text(f"node_name: a\nchain:\n  chain_id: 1\n  rpc-url: {SECRET_URL}\n")
    err = _error(path)
    _assert_no_secret(err)
    assert err.lines() == [
        f"{path}:4: chain.rpc-url = 'https://mainnet.example.io/***': Extra inputs are not permitted"
    ]


def test_load_config__mistyped_env_var_with_secret_url__env_var_named_not_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "node.yaml"
    path.write_text("node_name: a\n")
    monkeypatch.setenv("ORACLE_CHAIN__RPCURL", SECRET_URL)
    err = _error(path, {"ORACLE_CHAIN__RPCURL": SECRET_URL})
    _assert_no_secret(err)
    assert err.lines() == [
        "environment variable ORACLE_CHAIN__RPCURL: chain.rpcurl = 'https://mainnet.example.io/***': "
        "Extra inputs are not permitted"
    ]


def test_load_config__bad_source_entry_with_api_url__whole_entry_shown_masked(tmp_path: Path) -> None:
    path = tmp_path / "node.yaml"
    path.write_text(
        f"markets:\n  - id: BTC-USD\n    sources:\n      - {{name: x, venue: binance, api_url: '{SECRET_URL}'}}\n"
    )
    err = _error(path)
    _assert_no_secret(err)
    assert err.lines() == [
        f"{path}:4: markets.0.sources.0 = {{'name': 'x', 'venue': 'binance', 'api_url': "
        "'https://mainnet.example.io/***'}: Value error, a ccxt source needs both 'venue' and 'symbol'"
    ]


@pytest.mark.parametrize(
    ("yaml_text", "field"),
    [
        (f"signer:\n  private_key: '{PRIVATE_KEY}'\n", "signer.private_key"),
        ("signer:\n  password: hunter2\n", "signer.password"),
        (f"signer:\n  keystore_hint: {PRIVATE_KEY[2:]}\n", "signer.keystore_hint"),
        ("chain:\n  rpc_uri: user:hunter2@host:8545\n", "chain.rpc_uri"),
    ],
)
def test_load_config__secret_in_a_wrong_field__value_redacted(
    tmp_path: Path, yaml_text: str, field: str
) -> None:
    path = tmp_path / "node.yaml"
    path.write_text(yaml_text)
    err = _error(path)
    _assert_no_secret(err)
    assert err.problems == [f"{field} = {REDACTED!r}: Extra inputs are not permitted"]


def test_safe_value__nested_config__secrets_masked_plain_values_kept() -> None:
    value = {"name": "x", "api_url": SECRET_URL, "api_key": "k", "peers": [{"url": "http://10.0.0.1:9470"}]}
    assert safe_value(value) == {
        "name": "x",
        "api_url": "https://mainnet.example.io/***",
        "api_key": REDACTED,
        "peers": [{"url": "http://10.0.0.1:9470"}],
    }


@pytest.mark.parametrize("text", ["", "\n# only a comment\n", "{}\n"])
def test_load_config__empty_file__config_error_naming_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    err = _error(path)
    assert err.source == str(path) and "empty" in err.problems[0]


def test_load_config__not_utf8__line_and_bytes_named(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("node_name: a\nnode_name_x: caf\u00e9\n".encode("latin-1"))
    err = _error(path)
    assert err.lines() == [f"{path}:2: not UTF-8 text (bytes b'\\xe9\\n'); save the file as UTF-8"]


def test_load_config__utf8_bom__accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfnode_name: bom-node\n")
    assert load_config(path, {}).node_name == "bom-node"


def test_load_config__duplicate_key__key_and_both_lines_named(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("chain:\n  chain_id: 1\n  rpc_url: http://a:1\n  chain_id: 5\n")
    err = _error(path)
    assert err.lines() == [f"{path}:4: duplicate key 'chain_id', first given on line 2; keep one of them"]


def test_load_config__merge_key_then_override__not_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text(
        "market_defaults: &d\n  heartbeat_s: 60\n  deviation_bps: 50\n"
        "markets:\n  - <<: *d\n    id: BTC-USD\n    heartbeat_s: 120\n"
    )
    market = load_config(path, {}).markets[0]
    assert (market.heartbeat_s, market.deviation_bps) == (120, 50)


def test_load_config__unquoted_address__shown_in_hex_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "node.yaml"
    path.write_text("chain:\n  oracle_address: 0x00FbDB2315678afecb367f032d93F642f64180aa\n")
    (line,) = _error(path).lines()
    assert line.startswith(
        f"{path}:2: chain.oracle_address = 0x00fbdb2315678afecb367f032d93f642f64180aa: "
        "must be a quoted '0x...' string"
    )
    assert str(0x00FBDB2315678AFECB367F032D93F642F64180AA) not in line


def test_load_config__bad_value_from_env__env_var_blamed_not_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "node.yaml"
    path.write_text("chain:\n  chain_id: 1\nservice:\n  metrics_port: 9464\n")
    env = {"ORACLE_SERVICE__METRICS_PORT": "99999", "ORACLE_CHAIN": '{"chain_id": 0}'}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    err = _error(path, env)
    assert sorted(err.lines()) == [
        "environment variable ORACLE_CHAIN: chain.chain_id = 0: Input should be greater than or equal to 1",
        "environment variable ORACLE_SERVICE__METRICS_PORT: service.metrics_port = '99999': "
        "Input should be less than or equal to 65535",
    ]


def test_load_config__malformed_json_in_env__var_named_value_not_echoed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "node.yaml"
    path.write_text("node_name: a\n")
    env = {"ORACLE_CHAIN__RPC_URL": "http://127.0.0.1:8545", "ORACLE_CHAIN__TX": f'{{"x": "{SECRET_URL}",'}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    err = _error(path, env)
    _assert_no_secret(err)
    (line,) = err.lines()
    assert line.startswith("environment variable ORACLE_CHAIN__TX: chain: not valid JSON (")


def test_load_config__unreadable_file__config_error_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "node.yaml"
    path.write_text("node_name: a\n")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    assert _error(path).lines() == [f"{path}: cannot read the file (Permission denied)"]


def test_cli_register_secrets__venue_url_with_key_scrubbed_bare_proxy_kept(tmp_path: Path) -> None:
    path = tmp_path / "node.yaml"
    path.write_text(
        "markets:\n  - id: BTC-USD\n    sources:\n"
        "      - {name: a, venue: okx, symbol: BTC/USDT, api_url: 'https://okx.example/v5?apiKey=VENUEKEY77'}\n"
        "      - {name: b, venue: okx, symbol: BTC/USDT, api_url: 'http://10.9.8.7:8080'}\n"
    )
    cli._register_secrets(load_config(path, {}))
    assert "VENUEKEY77" not in scrub_text("venue said: bad request for /v5?apiKey=VENUEKEY77")
    assert scrub_text("proxy http://10.9.8.7:8080 refused") == "proxy http://10.9.8.7:8080 refused"
