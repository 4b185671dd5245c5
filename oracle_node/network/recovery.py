"""Start-up recovery: a transaction this node broadcast before a crash is followed to its end.

The leader records every signed transaction in the store's journal before broadcasting it. After a
restart, each one still pending is resumed (TxSender.resume: the same bytes, awaited; a dropped one
rebroadcast with the same nonce), so the report lands exactly once, and the store learns its fate.
"""

from __future__ import annotations

from dataclasses import dataclass

from oracle_node.errors import SubmissionError
from oracle_node.logs import get_logger
from oracle_node.network.chain_view import ContractChain
from oracle_node.store import NodeStore, ReportStatus

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Recovered:
    round: int
    digest: str
    status: str  # included | failed
    tx_hash: str
    detail: str = ""


def resume_pending(store: NodeStore, chain: ContractChain) -> list[Recovered]:
    """Follow every pending submission in the store to inclusion or failure."""
    out = []
    for sub in store.pending_submissions():
        try:
            tx = chain.sender.resume(sub.tx_hash, sub.raw_tx, journal=store.journal(sub.round, sub.digest))
        except SubmissionError as exc:
            store.set_report_status(sub.digest, ReportStatus.FAILED, error=str(exc))
            log.warning("report_recovery_failed", round=sub.round, tx=sub.tx_hash, error=str(exc))
            out.append(Recovered(sub.round, sub.digest, "failed", sub.tx_hash, str(exc)))
            continue
        store.set_report_status(sub.digest, ReportStatus.INCLUDED)
        store.observe_chain_round(sub.round)
        log.info("report_recovered", round=sub.round, tx=tx.tx_hash)
        out.append(Recovered(sub.round, sub.digest, "included", tx.tx_hash))
    return out
