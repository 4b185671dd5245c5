"""Rounds, reports and signatures: the no-republish, no-skip, no-equivocation rules.

All functions take an open write transaction (from `Database.write()`), so every check and the
write it guards commit together.

- The round high-water mark (`round_state.committed_round`) is the highest round this node has
  used: it rises in the same transaction that records a signature intent or moves a report to
  signed/submitted/included, or when the chain shows a higher round. `next_round` is that mark + 1,
  so a round whose signature may have left the process is never reused, and a round that was only
  allocated (crash before signing) is handed out again rather than skipped.
- A signer has at most one digest per (purpose, round). The intent is written before the signature
  is made; the signature is written before it is returned. A restart re-sends the same bytes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from oracle_node.store.errors import EquivocationError, StoreError
from oracle_node.store.records import (
    COMMITTING_STATUSES,
    REPORT_TRANSITIONS,
    ReportRecord,
    ReportStatus,
    SignatureRecord,
    canonical_json,
)


def committed_round(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT committed_round FROM round_state WHERE id = 1").fetchone()[0])


def raise_committed_round(conn: sqlite3.Connection, round_: int) -> None:
    conn.execute("UPDATE round_state SET committed_round = max(committed_round, ?) WHERE id = 1", (round_,))


def next_round(conn: sqlite3.Connection, at_least: int = 1) -> int:
    return max(committed_round(conn) + 1, at_least)


def save_report(
    conn: sqlite3.Connection, round_: int, digest: str, body: Mapping[str, Any], now: float
) -> ReportRecord:
    """Insert a built report (idempotent by digest); older unsigned reports of the round are superseded."""
    text = canonical_json(dict(body))
    existing = get_report(conn, digest)
    if existing is not None:
        if existing.round != round_ or canonical_json(existing.body) != text:
            raise StoreError(
                "reports", digest, f"digest already stored for round {existing.round} with another body"
            )
        return existing
    conn.execute(
        "UPDATE reports SET status = 'superseded', updated_at = ? WHERE round = ? AND status = 'built'",
        (now, round_),
    )
    conn.execute(
        "INSERT INTO reports (digest, round, body, status, created_at, updated_at) VALUES (?, ?, ?, 'built', ?, ?)",
        (digest, round_, text, now, now),
    )
    return _require_report(conn, digest)


def set_report_status(
    conn: sqlite3.Connection, digest: str, status: ReportStatus, now: float, error: str | None = None
) -> ReportRecord:
    """Move a report to `status`; setting the current status again is a no-op."""
    current = _require_report(conn, digest)
    if current.status == status:
        return current
    if status not in REPORT_TRANSITIONS[current.status]:
        raise StoreError(
            "reports", f"{digest} round {current.round}", f"cannot go from {current.status} to {status}"
        )
    conn.execute(
        "UPDATE reports SET status = ?, error = ?, updated_at = ? WHERE digest = ?",
        (status, error, now, digest),
    )
    if status in COMMITTING_STATUSES:
        raise_committed_round(conn, current.round)
    if status == ReportStatus.INCLUDED:
        conn.execute(
            "UPDATE reports SET status = 'superseded', updated_at = ? "
            "WHERE round <= ? AND digest != ? AND status IN ('built', 'signed', 'failed')",
            (now, current.round, digest),
        )
    return _require_report(conn, digest)


def get_report(conn: sqlite3.Connection, digest: str) -> ReportRecord | None:
    row = conn.execute("SELECT * FROM reports WHERE digest = ?", (digest,)).fetchone()
    return ReportRecord.from_row(row) if row else None


def _require_report(conn: sqlite3.Connection, digest: str) -> ReportRecord:
    record = get_report(conn, digest)
    if record is None:
        raise StoreError("reports", digest, "no such report")
    return record


def get_signature(conn: sqlite3.Connection, purpose: str, round_: int, signer: str) -> SignatureRecord | None:
    row = conn.execute(
        "SELECT * FROM signatures WHERE purpose = ? AND round = ? AND signer = ?", (purpose, round_, signer)
    ).fetchone()
    return SignatureRecord.from_row(row) if row else None


def record_intent(
    conn: sqlite3.Connection, purpose: str, round_: int, digest: str, *, signer: str, now: float
) -> SignatureRecord:
    """Commit the signer to `digest` for the round, or refuse a different digest (EquivocationError)."""
    existing = get_signature(conn, purpose, round_, signer)
    if existing is not None:
        if existing.digest != digest:
            raise EquivocationError(purpose, round_, signer, existing.digest, digest)
        return existing
    conn.execute(
        "INSERT INTO signatures (purpose, round, signer, digest, signature, created_at) VALUES (?, ?, ?, ?, NULL, ?)",
        (purpose, round_, signer, digest, now),
    )
    raise_committed_round(conn, round_)
    return SignatureRecord(purpose, round_, signer, digest, None)


def attach_signature(
    conn: sqlite3.Connection,
    purpose: str,
    round_: int,
    digest: str,
    *,
    signer: str,
    signature: bytes,
    now: float,
) -> bytes:
    """Store the signature for a recorded (or new) intent; the first stored signature stays canonical."""
    intent = record_intent(conn, purpose, round_, digest, signer=signer, now=now)
    if intent.signature is not None:
        return intent.signature
    conn.execute(
        "UPDATE signatures SET signature = ? WHERE purpose = ? AND round = ? AND signer = ?",
        (signature, purpose, round_, signer),
    )
    return signature


def signatures_for(conn: sqlite3.Connection, purpose: str, round_: int, digest: str) -> list[SignatureRecord]:
    rows = conn.execute(
        "SELECT * FROM signatures WHERE purpose = ? AND round = ? AND digest = ? AND signature IS NOT NULL "
        "ORDER BY signer",
        (purpose, round_, digest),
    ).fetchall()
    return [SignatureRecord.from_row(r) for r in rows]
