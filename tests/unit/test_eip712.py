"""The EIP-712 report encoder against eth_account's typed-data encoder and eth_abi, for random reports."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from eth_abi import encode
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle_node.chain.anvil import ANVIL_KEYS
from oracle_node.errors import DataError
from oracle_node.reports.eip712 import (
    REPORT_TYPE,
    SECP256K1_N,
    TYPED_DATA_TYPES,
    RiskReport,
    co_sign,
    compact_from_bytes,
    domain_separator,
    from_abi,
    report_digest,
    sign_report,
    to_abi,
    typed_data,
)
from oracle_node.types import RiskParamsBps

ORACLE = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
TYPED_DATA_DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"

_symbol = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/_.", min_size=1, max_size=32)


@st.composite
def reports(draw: st.DrawFn) -> RiskReport:
    markets = draw(st.lists(_symbol, min_size=1, max_size=12, unique=True))
    params = draw(st.lists(st.integers(0, 2**128 - 1), min_size=len(markets), max_size=len(markets)))
    return RiskReport(
        epoch=draw(st.integers(0, 2**32 - 1)),
        round=draw(st.integers(0, 2**64 - 1)),
        observed_at=draw(st.integers(0, 2**64 - 1)),
        deadline=draw(st.integers(0, 2**64 - 1)),
        model_hash=draw(st.binary(min_size=32, max_size=32)),
        inputs_hash=draw(st.binary(min_size=32, max_size=32)),
        markets=tuple(markets),
        params=tuple(params),
    )


def _sample(**changes: object) -> RiskReport:
    base = RiskReport.build(
        epoch=1,
        round=7,
        observed_at=1_700_000_000,
        deadline=1_700_000_300,
        model_hash=b"\x11" * 32,
        inputs_hash=b"\x22" * 32,
        updates={
            "BTC-USD": RiskParamsBps(5500, 480, 620, 1000, 600, 8500, 4200, 9100),
            "ETH-USD": RiskParamsBps(7000, 610, 790, 1300, 800, 8000, 5100, 8800),
        },
    )
    return replace(base, **changes)


def _abi_digest(report: RiskReport, chain_id: int, oracle: str) -> bytes:
    """A third derivation: abi.encode of the EIP-712 words through eth_abi, as Solidity writes it."""
    domain = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                keccak(text=TYPED_DATA_DOMAIN_TYPE),
                keccak(text="MLRA Risk Oracle"),
                keccak(text="1"),
                chain_id,
                oracle,
            ],
        )
    )
    struct = keccak(
        encode(
            ["bytes32", "uint32", "uint64", "uint64", "uint64", "bytes32", "bytes32", "bytes32", "bytes32"],
            [
                keccak(text=REPORT_TYPE),
                report.epoch,
                report.round,
                report.observed_at,
                report.deadline,
                report.model_hash,
                report.inputs_hash,
                keccak(encode(["bytes32[]"], [list(report.market_ids)])[64:]),
                keccak(encode(["uint128[]"], [list(report.params)])[64:]),
            ],
        )
    )
    return keccak(b"\x19\x01" + domain + struct)


@settings(max_examples=200, deadline=None)
@given(report=reports(), chain_id=st.integers(1, 2**64), oracle=st.binary(min_size=20, max_size=20))
def test_report_digest__random_reports__equals_eth_account_typed_data_hash(
    report: RiskReport, chain_id: int, oracle: bytes
) -> None:
    address = "0x" + oracle.hex()
    ours = report_digest(report, chain_id, address)
    theirs = _hash_eip191_message(encode_typed_data(full_message=typed_data(report, chain_id, address)))
    assert ours == theirs
    assert ours == _abi_digest(report, chain_id, address)


def test_report_type__typed_data_fields__render_the_primary_type_string() -> None:
    fields = ",".join(f"{f['type']} {f['name']}" for f in TYPED_DATA_TYPES["RiskReport"])
    assert f"RiskReport({fields})" == REPORT_TYPE
    assert REPORT_TYPE == (
        "RiskReport(uint32 epoch,uint64 round,uint64 observedAt,uint64 deadline,bytes32 modelHash,"
        "bytes32 inputsHash,bytes32[] marketIds,uint128[] params)"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"epoch": 2},
        {"round": 8},
        {"observed_at": 1_700_000_001},
        {"deadline": 1_700_000_301},
        {"model_hash": b"\x12" * 32},
        {"inputs_hash": b"\x23" * 32},
        {"markets": ("ETH-USD", "BTC-USD")},
        {"params": (1, 2)},
    ],
)
def test_report_digest__one_field_changed__digest_changes(change: dict[str, object]) -> None:
    assert report_digest(_sample(**change), 31337, ORACLE) != report_digest(_sample(), 31337, ORACLE)


def test_domain_separator__other_chain_or_oracle__differs() -> None:
    base = domain_separator(31337, ORACLE)
    assert domain_separator(1, ORACLE) != base
    assert domain_separator(31337, "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512") != base
    assert len(base) == 32


@settings(max_examples=50, deadline=None)
@given(report=reports(), key_index=st.integers(0, len(ANVIL_KEYS) - 1), signer=st.integers(0, 30))
def test_sign_report__random_report__compact_signature_recovers_the_key(
    report: RiskReport, key_index: int, signer: int
) -> None:
    account = Account.from_key(ANVIL_KEYS[key_index])
    digest = report_digest(report, 31337, ORACLE)
    sig = sign_report(digest, ANVIL_KEYS[key_index], signer)
    vs = int.from_bytes(sig.vs, "big")
    parity, s = vs >> 255, vs & ((1 << 255) - 1)
    assert sig.signer == signer
    assert 0 < s <= SECP256K1_N // 2
    recovered = Account._recover_hash(digest, vrs=(27 + parity, int.from_bytes(sig.r, "big"), s))
    assert recovered == account.address


def test_compact_from_bytes__65_byte_signature__equals_sign_report() -> None:
    digest = report_digest(_sample(), 31337, ORACLE)
    signed = Account.from_key(ANVIL_KEYS[3]).unsafe_sign_hash(digest)
    assert compact_from_bytes(3, bytes(signed.signature)) == sign_report(digest, ANVIL_KEYS[3], 3)


def test_co_sign__three_keys__ordered_by_signer_index() -> None:
    sigs = co_sign(_sample(), 31337, ORACLE, {4: ANVIL_KEYS[4], 0: ANVIL_KEYS[0], 2: ANVIL_KEYS[2]})
    assert [s.signer for s in sigs] == [0, 2, 4]
    assert len({s.r for s in sigs}) == 3


@settings(max_examples=100, deadline=None)
@given(report=reports())
def test_from_abi__to_abi_of_random_report__round_trips(report: RiskReport) -> None:
    assert from_abi(to_abi(report)) == report


def test_typed_data__large_uints__json_serialisable_as_decimal_strings() -> None:
    report = _sample(round=2**64 - 1, params=(2**128 - 1, 0))
    doc = json.loads(json.dumps(typed_data(report, 31337, ORACLE)))
    assert doc["message"]["round"] == str(2**64 - 1)
    assert doc["message"]["params"] == [str(2**128 - 1), "0"]
    assert doc["message"]["marketIds"][0] == "0x" + b"BTC-USD".ljust(32, b"\x00").hex()
    assert doc["domain"]["verifyingContract"] == ORACLE


def test_build__params_from_risk_params__packs_in_field_order() -> None:
    report = _sample()
    assert report.params[0] == RiskParamsBps(5500, 480, 620, 1000, 600, 8500, 4200, 9100).pack()
    assert report.risk_params()["ETH-USD"].initial_margin == 1300


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"epoch": 2**32}, "epoch"),
        ({"round": -1}, "round"),
        ({"round": 2**64}, "round"),
        ({"observed_at": True}, "observed_at"),
        ({"deadline": 1.5}, "deadline"),
        ({"model_hash": b"\x00" * 31}, "model_hash"),
        ({"inputs_hash": "0x" + "00" * 32}, "inputs_hash"),
        ({"params": (1,)}, "params"),
        ({"markets": (), "params": ()}, "params"),
        ({"markets": ("BTC-USD", "BTC-USD")}, "markets"),
        ({"markets": ("X" * 33, "ETH-USD")}, "markets[0]"),
        ({"markets": ("BTC-USD", "")}, "markets[1]"),
        ({"params": (2**128, 0)}, "params[0]"),
        ({"params": (0, -1)}, "params[1]"),
    ],
)
def test_risk_report__invalid_field__data_error_names_the_field(
    change: dict[str, object], field: str
) -> None:
    with pytest.raises(DataError) as info:
        _sample(**change)
    assert info.value.field == field
    assert info.value.path == "RiskReport"
    assert field in str(info.value)


def test_sign_report__bad_inputs__clear_errors() -> None:
    digest = report_digest(_sample(), 31337, ORACLE)
    with pytest.raises(DataError, match="signer"):
        sign_report(digest, ANVIL_KEYS[0], 31)
    with pytest.raises(DataError, match="digest"):
        sign_report(digest[:31], ANVIL_KEYS[0], 0)
    with pytest.raises(DataError, match="65 bytes"):
        compact_from_bytes(0, b"\x01" * 64)
    with pytest.raises(DataError, match="verifyingContract"):
        report_digest(_sample(), 31337, "0x1234")
