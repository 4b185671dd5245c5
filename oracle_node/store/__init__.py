"""Durable record of every decision, observation, report and submission (SQLite)."""

from oracle_node.store.errors import EquivocationError, StoreError
from oracle_node.store.node_store import NodeStore, SubmissionJournal
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
)
from oracle_node.store.submissions import SignedTx

__all__ = [
    "AttributionRow",
    "BoundInputs",
    "EquivocationError",
    "InputsRow",
    "NodeStore",
    "Observation",
    "ReportRecord",
    "ReportStatus",
    "SignatureRecord",
    "SignedTx",
    "StoreError",
    "SubmissionJournal",
    "SubmissionRecord",
    "SubmissionStatus",
    "TickDecision",
]
