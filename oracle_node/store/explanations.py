"""Inputs documents and attribution records bound to a signed observation (schema version 2).

`save_bound` runs inside the transaction that records the signature intent (NodeStore.sign_once), so a
signature can never exist without what its inputsHash commits to. A retried round with the same digest
writes the same bytes again; a different digest never gets here (the intent refuses it first).
"""

from __future__ import annotations

import sqlite3

from eth_utils import keccak

from oracle_node.store.records import AttributionRow, BoundInputs, InputsRow


def save_bound(conn: sqlite3.Connection, round_: int, digest: str, bound: BoundInputs, now: float) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO bound_inputs (round, digest, document, inputs_hash, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (round_, digest, bound.document.decode(), "0x" + keccak(bound.document).hex(), now),
    )
    conn.execute("DELETE FROM attributions WHERE round = ?", (round_,))
    conn.executemany(
        "INSERT INTO attributions (round, market, digest, record, record_hash, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            (round_, market, digest, record.decode(), "0x" + keccak(record).hex(), now)
            for market, record in sorted(bound.attributions.items())
        ],
    )


def inputs_row(conn: sqlite3.Connection, round_: int) -> InputsRow | None:
    row = conn.execute("SELECT * FROM bound_inputs WHERE round = ?", (round_,)).fetchone()
    return InputsRow.from_row(row) if row else None


def attribution_row(conn: sqlite3.Connection, round_: int, market: str) -> AttributionRow | None:
    row = conn.execute(
        "SELECT * FROM attributions WHERE round = ? AND market = ?", (round_, market)
    ).fetchone()
    return AttributionRow.from_row(row) if row else None


def attribution_rounds(conn: sqlite3.Connection, market: str) -> list[int]:
    rows = conn.execute("SELECT round FROM attributions WHERE market = ? ORDER BY round", (market,))
    return [int(r[0]) for r in rows]
