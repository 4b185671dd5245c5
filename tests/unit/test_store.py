"""NodeStore: schema, rounds (no skip, no reuse), no-equivocation signatures, idempotent status changes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oracle_node.errors import ConfigError
from oracle_node.store import (
    EquivocationError,
    NodeStore,
    Observation,
    ReportStatus,
    SignedTx,
    StoreError,
    SubmissionStatus,
    TickDecision,
)
from oracle_node.store.db import Database
from oracle_node.types import RiskParamsBps

ME = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
PEER = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"
D1, D2, D3 = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32


def _sig(digest: bytes) -> bytes:
    return digest[:32] + digest[::-1][:32] + b"\x1b"


def _tx(n: int, nonce: int = 0) -> SignedTx:
    return SignedTx(f"0x{n:064x}", nonce, 30 * 10**9, 10**9, 60_000, bytes([n]) * 10)


@pytest.fixture
def store(tmp_path: Path) -> NodeStore:
    return NodeStore.open(tmp_path / "var" / "node.sqlite")


def test_open__new_file__wal_mode_schema_version_2_and_reopen_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "node.sqlite"
    with NodeStore.open(path) as store:
        assert store.db.schema_version() == 2
        assert store.db.query("PRAGMA journal_mode")[0][0] == "wal"
    with NodeStore.open(path) as store:
        rows = store.db.query("SELECT version FROM schema_migrations")
        assert [r[0] for r in rows] == [1, 2]


def test_open__not_a_database__config_error_names_path(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError) as err:
        NodeStore.open(path)
    assert str(err.value).startswith(f"store {path}: not a usable SQLite database")


def test_open__schema_newer_than_code__config_error(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite"
    NodeStore.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_migrations VALUES (99, 'future', 0)")
    conn.commit()
    conn.close()
    with pytest.raises(ConfigError, match="schema version 99 is newer than this node understands"):
        NodeStore.open(path)


def test_next_round__fresh__1_and_unsigned_built_report_does_not_consume_it(store: NodeStore) -> None:
    assert store.next_round() == 1
    store.save_report(1, D1, {"round": 1})
    assert store.next_round() == 1  # allocated but never signed: handed out again, not skipped
    assert store.next_round(at_least=5) == 5


def test_next_round__after_signing__moves_past_signed_round(store: NodeStore) -> None:
    store.save_report(3, D1, {"round": 3})
    store.sign_once(3, D1, ME, _sig)
    assert store.report(D1).status == ReportStatus.SIGNED  # type: ignore[union-attr]
    assert store.next_round() == 4
    store.observe_chain_round(10)
    assert store.next_round() == 11
    store.observe_chain_round(7)  # lower: never moves back
    assert store.next_round() == 11


def test_sign_once__same_digest_twice__same_bytes_and_signs_once(store: NodeStore) -> None:
    calls: list[bytes] = []

    def sign(digest: bytes) -> bytes:
        calls.append(digest)
        return _sig(digest)

    first = store.sign_once(1, D1, ME, sign)
    again = store.sign_once(1, "0x" + D1.hex(), ME.lower(), sign)
    assert first == again == _sig(D1)
    assert calls == [D1]


def test_sign_once__different_digest_same_round__equivocation_refused_and_not_signed(
    store: NodeStore,
) -> None:
    store.sign_once(1, D1, ME, _sig)
    signed: list[bytes] = []
    with pytest.raises(EquivocationError) as err:
        store.sign_once(1, D2, ME, lambda d: signed.append(d) or _sig(d))  # type: ignore[func-returns-value]
    assert signed == []
    assert err.value.existing == "0x" + D1.hex() and err.value.requested == "0x" + D2.hex()
    assert "round 1" in str(err.value)


def test_record_signature_intent__purposes_and_signers_are_independent(store: NodeStore) -> None:
    assert store.record_signature_intent(1, D1, ME) is None
    assert store.record_signature_intent(1, D2, ME, purpose="observation") is None
    assert store.record_signature_intent(1, D2, PEER) is None
    with pytest.raises(EquivocationError):
        store.record_signature_intent(1, D3, ME, purpose="observation")


def test_record_signature_intent__after_crash_before_signature__returns_none_then_stored_bytes(
    store: NodeStore,
) -> None:
    assert store.record_signature_intent(2, D1, ME) is None
    assert store.record_signature_intent(2, D1, ME) is None  # intent only: sign again (deterministic)
    assert store.record_signature(2, D1, ME, _sig(D1)) == _sig(D1)
    assert store.record_signature_intent(2, D1, ME) == _sig(D1)
    assert store.record_signature(2, D1, ME, b"\x00" * 65) == _sig(D1)  # first stored stays canonical


def test_signatures__leader_collects_peers__only_matching_digest_listed(store: NodeStore) -> None:
    store.record_signature(4, D1, ME, _sig(D1))
    store.record_signature(4, D1, PEER, _sig(D1)[::-1])
    store.record_signature_intent(4, D2, "0x0000000000000000000000000000000000000001")
    listed = store.signatures(4, D1)
    assert [s.signer for s in listed] == sorted([ME.lower(), PEER.lower()])
    with pytest.raises(EquivocationError):
        store.record_signature(4, D2, PEER, _sig(D2))


def test_save_report__same_digest_idempotent_other_body_refused_and_older_built_superseded(
    store: NodeStore,
) -> None:
    first = store.save_report(5, D1, {"round": 5, "params": [1, 2]})
    assert store.save_report(5, D1, {"params": [1, 2], "round": 5}) == first
    with pytest.raises(StoreError, match="another body"):
        store.save_report(5, D1, {"round": 5, "params": [9]})
    store.save_report(5, D2, {"round": 5, "params": [3]})
    assert store.report(D1).status == ReportStatus.SUPERSEDED  # type: ignore[union-attr]
    assert store.report(D2).status == ReportStatus.BUILT  # type: ignore[union-attr]


def test_set_report_status__repeat_is_noop_illegal_move_refused(store: NodeStore) -> None:
    store.save_report(1, D1, {})
    signed = store.set_report_status(D1, "signed")
    assert store.set_report_status(D1, ReportStatus.SIGNED).updated_at == signed.updated_at
    store.set_report_status(D1, "included")
    with pytest.raises(StoreError, match="cannot go from included to failed"):
        store.set_report_status(D1, "failed")
    with pytest.raises(StoreError, match="no such report"):
        store.set_report_status(D3, "signed")


def test_set_report_status__included__supersedes_lower_unfinished_reports(store: NodeStore) -> None:
    store.save_report(1, D1, {})
    store.set_report_status(D1, "signed")
    store.save_report(2, D2, {})
    store.set_report_status(D2, "included")
    assert store.report(D1).status == ReportStatus.SUPERSEDED  # type: ignore[union-attr]
    assert store.next_round() == 3


def test_submissions__pending_then_included__report_included_and_nothing_pending(store: NodeStore) -> None:
    store.save_report(1, D1, {})
    store.sign_once(1, D1, ME, _sig)
    journal = store.journal(1, D1)
    tx = _tx(1, nonce=7)
    journal.tx_signed(
        tx_hash=tx.tx_hash, nonce=tx.nonce, max_fee_per_gas=tx.max_fee_per_gas,
        max_priority_fee_per_gas=tx.max_priority_fee_per_gas, gas_limit=tx.gas_limit, raw_tx=tx.raw_tx,
    )  # fmt: skip
    assert store.report(D1).status == ReportStatus.SUBMITTED  # type: ignore[union-attr]
    (pending,) = store.pending_submissions()
    assert (pending.nonce, pending.raw_tx, pending.status) == (7, tx.raw_tx, SubmissionStatus.PENDING)
    journal.tx_settled(tx_hash=tx.tx_hash, status="included", block=42)
    journal.tx_settled(tx_hash=tx.tx_hash, status="included", block=42)  # idempotent
    assert store.pending_submissions() == []
    assert store.submissions_for(D1)[0].block == 42
    assert store.report(D1).status == ReportStatus.INCLUDED  # type: ignore[union-attr]


def test_submissions__replaced_then_replacement_reverted__report_failed(store: NodeStore) -> None:
    store.save_report(1, D1, {})
    store.record_submission(1, D1, _tx(1))
    store.record_submission(1, D1, _tx(2))
    store.set_submission_status(_tx(1).tx_hash, "replaced")
    assert store.report(D1).status == ReportStatus.SUBMITTED  # type: ignore[union-attr]
    store.set_submission_status(_tx(2).tx_hash, "reverted", block=9, error="status 0")
    report = store.report(D1)
    assert report is not None and (report.status, report.error) == (ReportStatus.FAILED, "status 0")
    with pytest.raises(StoreError, match="cannot go from reverted to included"):
        store.set_submission_status(_tx(2).tx_hash, "included")


def test_record_submission__same_hash_other_round__refused(store: NodeStore) -> None:
    store.record_submission(1, D1, _tx(1))
    store.record_submission(1, D1, _tx(1))  # idempotent
    with pytest.raises(StoreError, match="already recorded for round 1"):
        store.record_submission(2, D2, _tx(1))
    assert len(store.pending_submissions()) == 1


def test_tick_decisions_and_observations__round_trip(store: NodeStore) -> None:
    decisions = [
        TickDecision(100.0, "BTC-USD", "binance", True),
        TickDecision(100.0, "BTC-USD", "thin", False, "outlier: 3.1 MAD"),
        TickDecision(100.0, "ETH-USD", "binance", True),
    ]
    assert store.record_tick_decisions(decisions) == 3
    assert store.tick_decisions("BTC-USD") == decisions[:2]
    params = RiskParamsBps(6500, 720, 910, 1500, 1000, 8500, 4200, 9100)
    obs = Observation(
        "BTC-USD", 3, 1_700_000_000, params, "0x" + "ab" * 32, "0x" + "cd" * 32, 0.91, ("fallback",)
    )
    store.record_observation(obs)
    assert store.observation("BTC-USD", 3) == obs
    assert store.observation("BTC-USD", 4) is None


def test_write__exception_mid_transaction__nothing_persisted(store: NodeStore) -> None:
    with pytest.raises(RuntimeError), store.db.write() as conn:
        conn.execute("INSERT INTO tick_decisions (ts, market, source, accepted) VALUES (1, 'A', 's', 1)")
        conn.execute("UPDATE round_state SET committed_round = 99")
        raise RuntimeError("interrupted between steps")
    assert store.tick_decisions("A") == []
    assert store.next_round() == 1


def test_database__two_connections__second_sees_first_commits(tmp_path: Path) -> None:
    a, b = NodeStore.open(tmp_path / "n.sqlite"), NodeStore(Database(tmp_path / "n.sqlite"))
    a.sign_once(8, D1, ME, _sig)
    assert b.next_round() == 9
    with pytest.raises(EquivocationError):
        b.sign_once(8, D2, ME, _sig)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.tuples(st.integers(1, 6), st.sampled_from([D1, D2, D3])), max_size=25))
def test_sign_once__any_sequence__one_digest_per_round_and_next_round_above_all(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[int, bytes]]
) -> None:
    store = NodeStore.open(tmp_path_factory.mktemp("h") / "n.sqlite")
    first: dict[int, bytes] = {}
    for round_, digest in ops:
        try:
            assert store.sign_once(round_, digest, ME, _sig) == _sig(first.setdefault(round_, digest))
        except EquivocationError:
            assert first[round_] != digest
    assert store.next_round() == max(first, default=0) + 1
    store.close()
