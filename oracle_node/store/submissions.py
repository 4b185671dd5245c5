"""Submitted transactions: recorded (with the signed raw bytes) before they are broadcast.

A restart finds every `pending` submission with its raw transaction, so the node can look up the
receipt or re-broadcast the exact same bytes instead of signing a new transaction for the round.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from oracle_node.store.errors import StoreError
from oracle_node.store.records import (
    SUBMISSION_TRANSITIONS,
    ReportStatus,
    SubmissionRecord,
    SubmissionStatus,
)
from oracle_node.store.rounds import get_report, set_report_status


@dataclass(frozen=True, slots=True)
class SignedTx:
    """A signed transaction about to be broadcast."""

    tx_hash: str
    nonce: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    gas_limit: int
    raw_tx: bytes


def record_submission(conn: sqlite3.Connection, round_: int, digest: str, tx: SignedTx, now: float) -> None:
    """Insert a pending submission (idempotent by tx hash) and mark its report submitted."""
    existing = get_submission(conn, tx.tx_hash)
    if existing is not None:
        if (existing.round, existing.digest) != (round_, digest):
            raise StoreError("submissions", tx.tx_hash, f"already recorded for round {existing.round}")
        return
    conn.execute(
        "INSERT INTO submissions (tx_hash, round, digest, nonce, max_fee_per_gas, max_priority_fee_per_gas, "
        "gas_limit, raw_tx, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
        (tx.tx_hash, round_, digest, tx.nonce, tx.max_fee_per_gas, tx.max_priority_fee_per_gas,
         tx.gas_limit, tx.raw_tx, now, now),
    )  # fmt: skip
    report = get_report(conn, digest)
    if report is not None and report.status != ReportStatus.SUBMITTED:
        set_report_status(conn, digest, ReportStatus.SUBMITTED, now)


def set_submission_status(
    conn: sqlite3.Connection,
    tx_hash: str,
    status: SubmissionStatus,
    *,
    now: float,
    block: int | None = None,
    error: str | None = None,
) -> SubmissionRecord:
    """Move a submission to `status` (idempotent); inclusion or final failure updates its report."""
    current = get_submission(conn, tx_hash)
    if current is None:
        raise StoreError("submissions", tx_hash, "no such submission")
    if current.status == status:
        return current
    if status not in SUBMISSION_TRANSITIONS[current.status]:
        raise StoreError("submissions", tx_hash, f"cannot go from {current.status} to {status}")
    conn.execute(
        "UPDATE submissions SET status = ?, block = coalesce(?, block), error = ?, updated_at = ? WHERE tx_hash = ?",
        (status, block, error, now, tx_hash),
    )
    _update_report(conn, current.digest, status, now, error)
    updated = get_submission(conn, tx_hash)
    assert updated is not None
    return updated


def _update_report(
    conn: sqlite3.Connection, digest: str, status: SubmissionStatus, now: float, error: str | None
) -> None:
    if get_report(conn, digest) is None:
        return
    if status == SubmissionStatus.INCLUDED:
        set_report_status(conn, digest, ReportStatus.INCLUDED, now)
        return
    if status in (SubmissionStatus.REVERTED, SubmissionStatus.FAILED, SubmissionStatus.DROPPED):
        live = conn.execute(
            "SELECT count(*) FROM submissions WHERE digest = ? AND status IN ('pending', 'included')",
            (digest,),
        ).fetchone()[0]
        report = get_report(conn, digest)
        if live == 0 and report is not None and report.status == ReportStatus.SUBMITTED:
            set_report_status(conn, digest, ReportStatus.FAILED, now, error=error or str(status))


def get_submission(conn: sqlite3.Connection, tx_hash: str) -> SubmissionRecord | None:
    row = conn.execute("SELECT * FROM submissions WHERE tx_hash = ?", (tx_hash,)).fetchone()
    return SubmissionRecord.from_row(row) if row else None


def pending_submissions(conn: sqlite3.Connection) -> list[SubmissionRecord]:
    rows = conn.execute(
        "SELECT * FROM submissions WHERE status = 'pending' ORDER BY nonce, created_at, tx_hash"
    ).fetchall()
    return [SubmissionRecord.from_row(r) for r in rows]


def submissions_for(conn: sqlite3.Connection, digest: str) -> list[SubmissionRecord]:
    rows = conn.execute(
        "SELECT * FROM submissions WHERE digest = ? ORDER BY created_at, nonce", (digest,)
    ).fetchall()
    return [SubmissionRecord.from_row(r) for r in rows]
