"""NodeStore: the one object the service uses to make every decision durable (SQLite, one file per node).

store = NodeStore.open(config.service.store_path)
round_ = store.next_round(at_least=chain_round + 1)
store.save_report(round_, digest, body)
sig = store.sign_once(round_, digest, signer.address, sign)   # durable before it is returned
sender.send(tx, journal=store.journal(round_, digest))         # raw tx stored before broadcast
...after a restart: store.pending_submissions(), store.reports_with_status("signed")
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from oracle_node.store import explanations, rounds, submissions
from oracle_node.store.db import BUSY_TIMEOUT_S, Database
from oracle_node.store.records import (
    AttributionRow,
    BoundInputs,
    InputsRow,
    Observation,
    ReportRecord,
    ReportStatus,
    SignatureRecord,
    SubmissionRecord,
    SubmissionStatus,
    TickDecision,
    hex32,
)
from oracle_node.store.submissions import SignedTx

REPORT = "report"


class NodeStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    def open(cls, path: str | Path, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> NodeStore:
        """Open or create the store file and bring its schema up to date (ConfigError if unusable or
        locked by another process for longer than `busy_timeout_s`)."""
        return cls(Database(path, busy_timeout_s=busy_timeout_s))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> NodeStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- guard decisions and observations ------------------------------------------------------

    def record_tick_decisions(self, decisions: Iterable[TickDecision]) -> int:
        rows = [(d.ts, d.market, d.source, int(d.accepted), d.reason) for d in decisions]
        with self.db.write() as conn:
            conn.executemany(
                "INSERT INTO tick_decisions (ts, market, source, accepted, reason) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def tick_decisions(self, market: str, since: float = float("-inf")) -> list[TickDecision]:
        rows = self.db.query(
            "SELECT ts, market, source, accepted, reason FROM tick_decisions WHERE market = ? AND ts >= ? "
            "ORDER BY ts, id",
            (market, since),
        )
        return [
            TickDecision(r["ts"], r["market"], r["source"], bool(r["accepted"]), r["reason"]) for r in rows
        ]

    def record_observation(self, obs: Observation) -> None:
        """Record (or, recomputed for a round not yet signed, replace) this node's observation."""
        values = (
            obs.market, obs.round, obs.observed_at, f"{obs.params.pack():#x}", hex32(obs.model_hash, "model_hash"),
            hex32(obs.inputs_hash, "inputs_hash"), obs.confidence, json.dumps(list(obs.flags)), self.db.clock(),
        )  # fmt: skip
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO observations (market, round, observed_at, params, model_hash, inputs_hash, "
                "confidence, flags, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )

    def observation(self, market: str, round_: int) -> Observation | None:
        rows = self.db.query("SELECT * FROM observations WHERE market = ? AND round = ?", (market, round_))
        return Observation.from_row(rows[0]) if rows else None

    # -- rounds and reports --------------------------------------------------------------------

    def next_round(self, at_least: int = 1) -> int:
        """The round to build next: one above every round this node signed, submitted or saw included."""
        with self.db.write() as conn:
            return rounds.next_round(conn, at_least)

    def observe_chain_round(self, round_: int) -> None:
        """The chain stored `round_` (ours or another leader's): never build at or below it again."""
        with self.db.write() as conn:
            rounds.raise_committed_round(conn, round_)

    def save_report(self, round_: int, digest: bytes | str, body: Mapping[str, Any]) -> ReportRecord:
        with self.db.write() as conn:
            return rounds.save_report(conn, round_, hex32(digest, "digest"), body, self.db.clock())

    def set_report_status(
        self, digest: bytes | str, status: ReportStatus | str, error: str | None = None
    ) -> ReportRecord:
        with self.db.write() as conn:
            return rounds.set_report_status(
                conn, hex32(digest, "digest"), ReportStatus(status), self.db.clock(), error
            )

    def report(self, digest: bytes | str) -> ReportRecord | None:
        with self.db.write() as conn:
            return rounds.get_report(conn, hex32(digest, "digest"))

    def reports_with_status(self, *statuses: ReportStatus | str) -> list[ReportRecord]:
        wanted = [ReportStatus(s).value for s in statuses]
        marks = ", ".join("?" for _ in wanted)
        rows = self.db.query(
            f"SELECT * FROM reports WHERE status IN ({marks}) ORDER BY round, created_at", wanted
        )
        return [ReportRecord.from_row(r) for r in rows]

    # -- signatures (no equivocation) ----------------------------------------------------------

    def record_signature_intent(
        self,
        round_: int,
        digest: bytes | str,
        signer: str,
        purpose: str = REPORT,
        bound: BoundInputs | None = None,
    ) -> bytes | None:
        """Commit `signer` to `digest` for the round before signing, with `bound` (what the digest's
        inputsHash commits to) in the same transaction. Returns the signature already made for this
        same digest (re-send those bytes), None if none yet; EquivocationError for another digest."""
        key = hex32(digest, "digest")
        with self.db.write() as conn:
            record = rounds.record_intent(
                conn, purpose, round_, key, signer=signer.lower(), now=self.db.clock()
            )
            if bound is not None:
                explanations.save_bound(conn, round_, key, bound, self.db.clock())
        return record.signature

    def record_signature(
        self, round_: int, digest: bytes | str, signer: str, signature: bytes, purpose: str = REPORT
    ) -> bytes:
        """Store a signature (ours or a peer's); returns the canonical (first stored) bytes."""
        with self.db.write() as conn:
            return rounds.attach_signature(
                conn,
                purpose,
                round_,
                hex32(digest, "digest"),
                signer=signer.lower(),
                signature=signature,
                now=self.db.clock(),
            )

    def sign_once(
        self,
        round_: int,
        digest: bytes | str,
        signer: str,
        sign: Callable[[bytes], bytes],
        purpose: str = REPORT,
        bound: BoundInputs | None = None,
    ) -> bytes:
        """Sign `digest` at most once per (purpose, round, signer), durably before returning the bytes;
        `bound` (inputs document, attribution records) is stored with the intent, before signing."""
        key = hex32(digest, "digest")
        existing = self.record_signature_intent(round_, key, signer, purpose, bound)
        if existing is not None:
            return existing
        signature = self.record_signature(round_, key, signer, sign(bytes.fromhex(key[2:])), purpose)
        if purpose == REPORT:
            self._mark_signed(key)
        return signature

    def _mark_signed(self, digest: str) -> None:
        with self.db.write() as conn:
            report = rounds.get_report(conn, digest)
            if report is not None and report.status == ReportStatus.BUILT:
                rounds.set_report_status(conn, digest, ReportStatus.SIGNED, self.db.clock())

    def signature(self, round_: int, signer: str, purpose: str = REPORT) -> SignatureRecord | None:
        with self.db.write() as conn:
            return rounds.get_signature(conn, purpose, round_, signer.lower())

    def signatures(self, round_: int, digest: bytes | str, purpose: str = REPORT) -> list[SignatureRecord]:
        with self.db.write() as conn:
            return rounds.signatures_for(conn, purpose, round_, hex32(digest, "digest"))

    # -- inputs documents and attribution records (bound to signed observations) ----------------

    def bound_inputs(self, round_: int) -> InputsRow | None:
        """The inputs document this node's observation of `round_` committed to (None: none stored)."""
        with self.db.write() as conn:
            return explanations.inputs_row(conn, round_)

    def attribution(self, round_: int, market: str) -> AttributionRow | None:
        with self.db.write() as conn:
            return explanations.attribution_row(conn, round_, market)

    def attribution_rounds(self, market: str) -> list[int]:
        """Rounds with an attribution record for `market`, oldest first."""
        with self.db.write() as conn:
            return explanations.attribution_rounds(conn, market)

    # -- submissions ---------------------------------------------------------------------------

    def record_submission(self, round_: int, digest: bytes | str, tx: SignedTx) -> None:
        with self.db.write() as conn:
            submissions.record_submission(conn, round_, hex32(digest, "digest"), tx, self.db.clock())

    def set_submission_status(
        self, tx_hash: str, status: SubmissionStatus | str, block: int | None = None, error: str | None = None
    ) -> SubmissionRecord:
        with self.db.write() as conn:
            return submissions.set_submission_status(
                conn, tx_hash.lower(), SubmissionStatus(status), now=self.db.clock(), block=block, error=error
            )

    def pending_submissions(self) -> list[SubmissionRecord]:
        with self.db.write() as conn:
            return submissions.pending_submissions(conn)

    def submissions_for(self, digest: bytes | str) -> list[SubmissionRecord]:
        with self.db.write() as conn:
            return submissions.submissions_for(conn, hex32(digest, "digest"))

    def journal(self, round_: int, digest: bytes | str) -> SubmissionJournal:
        """A journal for TxSender.send: records each signed tx before broadcast and its outcome."""
        return SubmissionJournal(self, round_, hex32(digest, "digest"))


class SubmissionJournal:
    """Binds a report's round and digest to the transactions the TxSender makes for it."""

    def __init__(self, store: NodeStore, round_: int, digest: str) -> None:
        self.store, self.round, self.digest = store, round_, digest

    def tx_signed(
        self,
        *,
        tx_hash: str,
        nonce: int,
        max_fee_per_gas: int,
        max_priority_fee_per_gas: int,
        gas_limit: int,
        raw_tx: bytes,
    ) -> None:
        tx = SignedTx(tx_hash.lower(), nonce, max_fee_per_gas, max_priority_fee_per_gas, gas_limit, raw_tx)
        self.store.record_submission(self.round, self.digest, tx)

    def tx_settled(
        self, tx_hash: str, status: str, block: int | None = None, error: str | None = None
    ) -> None:
        self.store.set_submission_status(tx_hash, status, block, error)
