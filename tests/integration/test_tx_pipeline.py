"""TxSender against a real anvil: transfer, simulated revert with decoded error, on-chain revert,
stuck-transaction replacement, nonce resync, fee clamping and caps, RPC down, dry-run, restart resume."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak
from web3 import Web3

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil, free_port
from oracle_node.chain.rpc import make_web3
from oracle_node.chain.tx import GWEI, PreparedTx, TxPolicy, TxSender
from oracle_node.errors import SubmissionError
from oracle_node.store import NodeStore, ReportStatus, SubmissionStatus

RECIPIENT = "0x000000000000000000000000000000000000dEaD"
REVERTER = Web3.to_checksum_address("0x00000000000000000000000000000000000000aa")
ONCE = Web3.to_checksum_address("0x00000000000000000000000000000000000000bb")
STALE_ERROR_ABI = [
    {
        "type": "error",
        "name": "RiskOracleStaleReport",
        "inputs": [{"name": "observedAt", "type": "uint64"}, {"name": "maxAge", "type": "uint64"}],
    }
]
# SLOAD(0) != 0 -> revert; else SSTORE(0, 1): succeeds once, then reverts.
ONCE_CODE = "0x600054600c576001600055005b600080fd"
FAST = TxPolicy(poll_interval_s=0.05, receipt_timeout_s=20, backoff_base_s=0.01, stuck_after_s=30)


def _reverting_code(error_sig: str, *args: int) -> str:
    """Runtime bytecode that always reverts with `error_sig(args)` (written to memory word by word)."""
    data = keccak(text=error_sig)[:4] + b"".join(a.to_bytes(32, "big") for a in args)
    buf = data.ljust(-(-len(data) // 32) * 32, b"\x00")
    code = b""
    for i in range(len(buf) // 32):
        code += b"\x7f" + buf[32 * i : 32 * i + 32] + b"\x60" + bytes([32 * i]) + b"\x52"
    code += b"\x60" + bytes([len(data)]) + b"\x60\x00\xfd"
    return "0x" + code.hex()


@pytest.fixture
def w3(anvil: Anvil) -> Iterator[Web3]:
    w3 = make_web3(anvil.url)
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    yield w3
    _rpc(w3, "evm_setAutomine", [True])
    _rpc(w3, "evm_revert", [snapshot])


def _rpc(w3: Web3, method: str, params: list[Any]) -> Any:
    response = w3.provider.make_request(method, params)  # type: ignore[arg-type]
    assert "error" not in response, response
    return response["result"]


def _sender(w3: Web3, key_index: int = 0, policy: TxPolicy = FAST, **kw: Any) -> TxSender:
    return TxSender(
        w3, Account.from_key(ANVIL_KEYS[key_index]), policy, sleep=kw.pop("sleep", time.sleep), **kw
    )


def _mine_later(w3: Web3, delay_s: float) -> threading.Thread:
    def mine() -> None:
        time.sleep(delay_s)
        _rpc(w3, "evm_mine", [])

    thread = threading.Thread(target=mine, daemon=True)
    thread.start()
    return thread


def test_send__plain_transfer__included_with_value_and_counted(w3: Web3) -> None:
    sender = _sender(w3)
    before = w3.eth.get_balance(RECIPIENT)
    outcome = sender.send(PreparedTx(RECIPIENT, b"", 12345))
    assert outcome.status == "included"
    assert w3.eth.get_balance(RECIPIENT) - before == 12345
    receipt = w3.eth.get_transaction_receipt(outcome.tx_hash)  # type: ignore[arg-type]
    assert receipt["status"] == 1 and receipt["blockNumber"] == outcome.block_number
    assert outcome.gas_estimate == 21_000 and outcome.gas_used == 21_000
    assert outcome.gas_limit == 25_200  # 20 % buffer
    assert sender.counts["included"] == 1 and sum(sender.counts.values()) == 1


def test_send__consecutive__local_nonce_increments(w3: Web3) -> None:
    sender = _sender(w3, 1)
    start = w3.eth.get_transaction_count(sender.from_address)  # type: ignore[arg-type]
    nonces = [sender.send({"to": RECIPIENT, "value": 1}).nonce for _ in range(3)]
    assert nonces == [start, start + 1, start + 2]


def test_send__custom_error_revert__caught_at_simulation_and_decoded(w3: Web3) -> None:
    _rpc(w3, "anvil_setCode", [REVERTER, _reverting_code("RiskOracleStaleReport(uint64,uint64)", 5, 60)])
    sender = _sender(w3)
    nonce_before = w3.eth.get_transaction_count(sender.from_address)  # type: ignore[arg-type]
    with pytest.raises(SubmissionError) as err:
        sender.send(PreparedTx(REVERTER, b"\x01"), errors_abi=STALE_ERROR_ABI)
    assert err.value.reason == "simulation reverted"
    assert err.value.error_name == "RiskOracleStaleReport"
    assert err.value.detail == "observedAt=5, maxAge=60"
    assert w3.eth.get_transaction_count(sender.from_address) == nonce_before  # type: ignore[arg-type]
    assert sender.counts["simulation_failed"] == 1


def test_send__revert_string_without_abi__decoded_as_error(w3: Web3) -> None:
    # Error("no") = 0x08c379a0 + offset 0x20 + length 2 + "no"
    code = _reverting_code("Error(string)", 0x20, 2, int.from_bytes(b"no".ljust(32, b"\x00"), "big"))
    _rpc(w3, "anvil_setCode", [REVERTER, code])
    with pytest.raises(SubmissionError) as err:
        _sender(w3).send(PreparedTx(REVERTER))
    assert (err.value.error_name, err.value.detail) == ("Error", "message='no'")


def test_send__unknown_custom_error__raw_revert_data_in_detail(w3: Web3) -> None:
    _rpc(w3, "anvil_setCode", [REVERTER, _reverting_code("Nope(uint256)", 7)])
    with pytest.raises(SubmissionError) as err:
        _sender(w3).send(PreparedTx(REVERTER), errors_abi=STALE_ERROR_ABI)
    assert err.value.error_name is None
    assert err.value.detail == "revert data 0x" + keccak(text="Nope(uint256)")[:4].hex() + f"{7:064x}"


def test_send__front_run_between_simulation_and_mining__reverted_on_chain(w3: Web3) -> None:
    _rpc(w3, "anvil_setCode", [ONCE, ONCE_CODE])
    _rpc(w3, "evm_setAutomine", [False])
    other = w3.eth.accounts[2]
    w3.eth.send_transaction(
        {
            "from": other,
            "to": ONCE,
            "gas": 100_000,
            "maxPriorityFeePerGas": 50 * GWEI,
            "maxFeePerGas": 100 * GWEI,
        }
    )
    sender = _sender(w3, 3, TxPolicy(poll_interval_s=0.05, max_priority_fee_gwei=1, stuck_after_s=30))
    _mine_later(w3, 0.5)
    with pytest.raises(SubmissionError) as err:
        sender.send(PreparedTx(ONCE))
    assert err.value.reason == "transaction reverted on chain"
    assert sender.counts["reverted"] == 1 and sender.counts["included"] == 0


def test_send__stuck_transaction__replaced_with_same_nonce_and_bumped_fees(w3: Web3) -> None:
    _rpc(w3, "evm_setAutomine", [False])
    policy = TxPolicy(poll_interval_s=0.05, stuck_after_s=0.3, receipt_timeout_s=20, max_priority_fee_gwei=2)
    sender = _sender(w3, 4, policy)
    original: dict[str, Any] = {}

    def mine_after_replacement() -> None:
        deadline = time.monotonic() + 10
        while sender.counts["replaced"] < 1 and time.monotonic() < deadline:
            pending = _rpc(w3, "txpool_content", [])["pending"]
            for txs in pending.values():
                original.setdefault("tx", next(iter(txs.values())))
            time.sleep(0.05)
        _rpc(w3, "evm_mine", [])

    thread = threading.Thread(target=mine_after_replacement, daemon=True)
    thread.start()
    outcome = sender.send(PreparedTx(RECIPIENT, b"", 1))
    thread.join(5)
    assert outcome.status == "included" and outcome.replacements >= 1
    mined = w3.eth.get_transaction(outcome.tx_hash)  # type: ignore[arg-type]
    first = original["tx"]
    assert mined["nonce"] == int(first["nonce"], 16) == outcome.nonce
    assert mined["hash"].hex() != first["hash"].removeprefix("0x")
    assert mined["maxPriorityFeePerGas"] >= int(first["maxPriorityFeePerGas"], 16) * 1.125
    assert mined["maxFeePerGas"] >= int(first["maxFeePerGas"], 16) * 1.125
    assert sender.counts["replaced"] == outcome.replacements and sender.counts["included"] == 1


def test_send__nonce_taken_out_of_band__resyncs_and_succeeds(w3: Web3) -> None:
    sender = _sender(w3, 5)
    first = sender.send(PreparedTx(RECIPIENT, b"", 1))
    account = Account.from_key(ANVIL_KEYS[5])
    w3.eth.send_transaction({"from": account.address, "to": RECIPIENT, "value": 1})  # unlocked on anvil
    second = sender.send(PreparedTx(RECIPIENT, b"", 1))
    assert first.nonce is not None and second.nonce == first.nonce + 2


def test_send__node_tip_above_cap__tip_and_max_fee_clamped(w3: Web3) -> None:
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    assert w3.eth.max_priority_fee > GWEI // 4
    cap_gwei = (2 * base + GWEI // 4) / GWEI - 0.1  # below 2 x base + tip: the max-fee cap binds too
    policy = TxPolicy(poll_interval_s=0.05, max_priority_fee_gwei=0.25, max_fee_per_gas_gwei=cap_gwei)
    outcome = _sender(w3, 6, policy).send(PreparedTx(RECIPIENT, b"", 1))
    mined = w3.eth.get_transaction(outcome.tx_hash)  # type: ignore[arg-type]
    assert mined["maxPriorityFeePerGas"] == GWEI // 4
    assert mined["maxFeePerGas"] == int(cap_gwei * GWEI)
    assert outcome.fees is not None and outcome.fees.max_fee_per_gas == int(cap_gwei * GWEI)


def test_send__base_fee_above_cap__refused_without_sending(w3: Web3) -> None:
    sender = _sender(w3, 7, TxPolicy(max_fee_per_gas_gwei=20, max_priority_fee_gwei=1))
    nonce_before = w3.eth.get_transaction_count(sender.from_address)  # type: ignore[arg-type]
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    _rpc(w3, "anvil_setNextBlockBaseFeePerGas", [hex(50 * GWEI)])  # the next block's, not the latest's
    try:
        with pytest.raises(SubmissionError) as err:
            sender.send(PreparedTx(RECIPIENT, b"", 1))
    finally:
        _rpc(w3, "anvil_setNextBlockBaseFeePerGas", [hex(base)])  # evm_revert does not restore it
    assert err.value.reason == "base fee at or above max fee cap"
    assert w3.eth.get_transaction_count(sender.from_address, "pending") == nonce_before  # type: ignore[arg-type]
    assert sender.counts["refused"] == 1


def test_send__gas_estimate_above_cap__refused(w3: Web3) -> None:
    sender = _sender(w3, 7, TxPolicy(gas_cap=21_000, gas_buffer_pct=50))
    assert sender.send(PreparedTx(RECIPIENT, b"", 1)).gas_limit == 21_000  # buffer capped
    _rpc(w3, "anvil_setCode", [ONCE, ONCE_CODE])
    with pytest.raises(SubmissionError) as err:
        sender.send(PreparedTx(ONCE))
    assert err.value.reason == "gas estimate above cap"


def test_send__rpc_down__retries_with_backoff_then_submission_error() -> None:
    w3 = make_web3(f"http://127.0.0.1:{free_port()}", timeout_s=1)
    sleeps: list[float] = []
    policy = TxPolicy(retries=3, backoff_base_s=0.1, backoff_max_s=0.3)
    sender = TxSender(w3, Account.from_key(ANVIL_KEYS[0]), policy, sleep=sleeps.append)
    with pytest.raises(SubmissionError) as err:
        sender.send(PreparedTx(RECIPIENT, b"", 1))
    assert err.value.reason == "rpc unavailable after 4 attempts"
    assert err.value.detail.startswith("eth_call: ConnectionError")
    assert sleeps == [0.1, 0.2, 0.3]
    assert sender.counts["rpc_error"] == 1


def test_send__dry_run__simulates_only_and_says_so(w3: Web3) -> None:
    sender = TxSender(w3, None, FAST, from_address=w3.eth.accounts[8])
    block = w3.eth.block_number
    outcome = sender.send(PreparedTx(RECIPIENT, b"", 1))
    assert (outcome.status, outcome.tx_hash, outcome.gas_estimate) == ("dry_run", None, 21_000)
    assert "dry-run" in outcome.note and w3.eth.block_number == block
    assert sender.counts["dry_run"] == 1
    _rpc(w3, "anvil_setCode", [REVERTER, _reverting_code("RiskOracleStaleReport(uint64,uint64)", 1, 2)])
    with pytest.raises(SubmissionError) as err:
        sender.send(PreparedTx(REVERTER), errors_abi=STALE_ERROR_ABI)
    assert err.value.error_name == "RiskOracleStaleReport"


def test_send__with_store_journal__submission_and_report_marked_included(w3: Web3, tmp_path: Any) -> None:
    store = NodeStore.open(tmp_path / "node.sqlite")
    digest = b"\x11" * 32
    store.save_report(7, digest, {"round": 7})
    store.sign_once(7, digest, "0xabc", lambda d: b"\x01" * 65)
    outcome = _sender(w3, 8).send(PreparedTx(RECIPIENT, b"", 1), journal=store.journal(7, digest))
    (record,) = store.submissions_for(digest)
    assert (record.tx_hash, record.status, record.block) == (
        outcome.tx_hash,
        "included",
        outcome.block_number,
    )
    assert store.report(digest).status == ReportStatus.INCLUDED  # type: ignore[union-attr]
    assert store.pending_submissions() == []


def test_resume__after_restart_with_lost_mempool__rebroadcasts_same_bytes(w3: Web3, tmp_path: Any) -> None:
    store = NodeStore.open(tmp_path / "node.sqlite")
    digest = b"\x22" * 32
    store.save_report(9, digest, {"round": 9})
    _rpc(w3, "evm_setAutomine", [False])
    sender = _sender(w3, 9, TxPolicy(receipt_timeout_s=0.3, poll_interval_s=0.05, stuck_after_s=30))
    with pytest.raises(SubmissionError, match="no receipt before timeout"):
        sender.send(PreparedTx(RECIPIENT, b"", 1), journal=store.journal(9, digest))
    (pending,) = store.pending_submissions()
    _rpc(w3, "anvil_dropTransaction", [pending.tx_hash])  # the node restarted and forgot the tx
    _rpc(w3, "evm_setAutomine", [True])
    restarted = _sender(w3, 9)
    outcome = restarted.resume(pending.tx_hash, pending.raw_tx, journal=store.journal(9, digest))
    assert (outcome.status, outcome.tx_hash, outcome.nonce) == ("included", pending.tx_hash, pending.nonce)
    assert store.submissions_for(digest)[0].status == SubmissionStatus.INCLUDED
