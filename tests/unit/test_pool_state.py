"""Pool-state decoding and summary by hand (no sockets); the live reader is tested on loopback in
tests/integration/test_pool_state_live.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from eth_abi import encode
from pydantic import ValidationError

from oracle_node.config import CascadePoolConfig, load_config
from oracle_node.errors import ConfigError, SourceError
from oracle_node.sources.jsonrpc import RpcCall
from oracle_node.sources.pool_state import (
    WAD,
    AccountState,
    PoolSnapshot,
    ReserveState,
    calldata,
    decode,
    decode_symbol,
    reserve_config,
    selector,
)
from oracle_node.sources.pool_summary import HF_BUCKETS, summarise

USER = "0x00000000000000000000000000000000000000aa"
CALL = RpcCall("eth_call", (), f"getUserAccountData({USER})")
WETH = ReserveState("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "WETH", 2, 18, 8000, "0x" + "01" * 20,
                    1000 * WAD, 0, 500 * WAD, WAD)  # fmt: skip


@pytest.fixture(autouse=True)
def _no_oracle_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("ORACLE_"):
            monkeypatch.delenv(name)


def test_selectors__known_aave_and_erc20_values() -> None:
    assert selector("getUserAccountData(address)") == "0xbf92857c"
    assert selector("totalSupply()") == "0x18160ddd" and selector("balanceOf(address)") == "0x70a08231"
    assert calldata("balanceOf(address)", USER) == "0x70a08231" + "0" * 62 + "aa"


def test_reserve_config__aave_v2_bitmap__threshold_and_decimals() -> None:
    bitmap = 8000 | 8250 << 16 | 10500 << 32 | 18 << 48 | 1 << 56 | 1 << 58 | 1000 << 64
    assert reserve_config(bitmap) == (8250, 18)
    assert reserve_config(7000 | 7500 << 16 | 10650 << 32 | 8 << 48) == (7500, 8)


def test_decode__short_or_non_hex_result__malformed_names_call_and_value() -> None:
    for bad in ("0x1234", 17, "deadbeef", None):
        with pytest.raises(SourceError) as err:
            decode("pool", CALL, ["(uint256,uint256,uint256,uint256,uint256,uint256)"], bad)
        assert err.value.reason == "malformed" and f"getUserAccountData({USER})" in err.value.detail
        assert repr(bad)[:8] in err.value.detail


def test_decode_symbol__string_or_bytes32() -> None:
    assert decode_symbol("pool", CALL, "0x" + encode(["string"], ["WETH"]).hex()) == "WETH"
    assert decode_symbol("pool", CALL, "0x" + b"MKR".ljust(32, b"\0").hex()) == "MKR"


def _snapshot(*accounts: AccountState, usd_per_base: float = 2000.0 / WAD) -> PoolSnapshot:
    return PoolSnapshot("0xpool", 100, 1.0, WAD, usd_per_base, (WETH,), accounts, 3)


def _account(debt_eth: float, hf: float, weth: float | None, name: str = USER) -> AccountState:
    held = {} if weth is None else {WETH.asset: int(weth * WAD)}
    return AccountState(name, 0, int(debt_eth * WAD), 0, int(hf * WAD), held)


def test_summarise__bucket_edges_are_lower_inclusive() -> None:
    hfs = [0.999, 1.0, 1.05, 1.1, 1.25]
    snap = _snapshot(*(_account(1, hf, None, f"u{i}") for i, hf in enumerate(hfs)))
    s = summarise(snap, "WETH")
    assert s.hf_debt_share == pytest.approx({b: 0.2 for b, _ in HF_BUCKETS}) and s.debt_usd == pytest.approx(
        10_000
    )


def test_summarise__drop_removes_collateral_times_lt__by_hand() -> None:
    # capacity 1.2 x 100 = 120 ETH; 100 WETH at LT 0.80 = 80: below 1 once 80 d > 20, i.e. d > 25 %
    s = summarise(_snapshot(_account(100, 1.2, 100), _account(50, 0.9, None, "u2")), "WETH")
    assert s.debt_at_risk_usd == pytest.approx({"5": 100_000, "10": 100_000, "20": 100_000, "30": 300_000})
    assert s.borrowers == 2 and s.reserve_lt_bp == 8000
    assert s.reserve_supplied_usd == pytest.approx(2_000_000) and s.reserve_borrowed_usd == pytest.approx(
        1_000_000
    )


def test_summarise__no_debt_or_collateral_not_listed__zeros_not_errors() -> None:
    s = summarise(_snapshot(_account(0, 1e9, 10)), "WETH")
    assert s.borrowers == 0 and s.debt_usd == 0 and set(s.hf_debt_share.values()) == {0.0}
    t = summarise(_snapshot(_account(100, 1.2, 100)), "WBTC")  # the pool does not list it
    assert t.reserve_supplied_usd == 0 and t.reserve_lt_bp == 0 and t.debt_at_risk_usd["30"] == 0


def test_config__cascade_pool__default_absent__bad_address_one_line_naming_field(tmp_path: Path) -> None:
    ok = tmp_path / "ok.yaml"
    ok.write_text("markets:\n  - id: ETH-USD\n    cascade: {enabled: true}\n")
    assert load_config(ok, {}).market("ETH-USD").cascade.pool is None
    bad = tmp_path / "node.yaml"
    bad.write_text(
        "markets:\n  - id: ETH-USD\n    cascade:\n      enabled: true\n      pool:\n"
        "        rpc_url: https://user:hunter2@rpc.example/v3/KEY123\n        lending_pool: 0x7d27\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(bad, {})
    text = "\n".join(err.value.lines())
    assert "markets.0.cascade.pool.lending_pool" in text and "0x7d27" in text and "node.yaml:7" in text
    assert "hunter2" not in text and "KEY123" not in text


def test_config__cascade_pool_url__exactly_one_of_url_or_file__file_read_and_stripped(tmp_path: Path) -> None:
    key = tmp_path / "rpc.url"
    key.write_text("https://eth.example/v2/KEY123\n")
    pool = "0x7d2768dE32b0b80b7a3454c06BdAc94A69DDc7A9"
    cfg = CascadePoolConfig(rpc_url_file=key, lending_pool=pool)
    assert cfg.url() == "https://eth.example/v2/KEY123" and "KEY123" not in str(cfg.model_dump(mode="json"))
    for bad in ({}, {"rpc_url": "http://a:1", "rpc_url_file": key}, {"rpc_url_file": tmp_path / "none"}):
        with pytest.raises(ValidationError):
            CascadePoolConfig(lending_pool=pool, **bad)
    key.write_text(" \n")
    with pytest.raises(ConfigError, match=r"rpc_url_file = .*rpc\.url: empty"):
        cfg.url()
