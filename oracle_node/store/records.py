"""What the store holds: typed records and the legal status changes of reports and submissions."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from oracle_node.types import RiskParamsBps


class ReportStatus(StrEnum):
    BUILT = "built"
    SIGNED = "signed"
    SUBMITTED = "submitted"
    INCLUDED = "included"
    FAILED = "failed"
    SUPERSEDED = "superseded"


class SubmissionStatus(StrEnum):
    PENDING = "pending"
    INCLUDED = "included"
    REVERTED = "reverted"
    REPLACED = "replaced"
    DROPPED = "dropped"
    FAILED = "failed"


_R = ReportStatus
# Setting the current status again is always allowed (idempotent) and is not listed here.
# The chain is the truth: a report we gave up on (failed, superseded) may still turn out included.
REPORT_TRANSITIONS: dict[ReportStatus, frozenset[ReportStatus]] = {
    _R.BUILT: frozenset({_R.SIGNED, _R.SUBMITTED, _R.INCLUDED, _R.FAILED, _R.SUPERSEDED}),
    _R.SIGNED: frozenset({_R.SUBMITTED, _R.INCLUDED, _R.FAILED, _R.SUPERSEDED}),
    _R.SUBMITTED: frozenset({_R.INCLUDED, _R.FAILED, _R.SUPERSEDED}),
    _R.FAILED: frozenset({_R.SUBMITTED, _R.INCLUDED, _R.SUPERSEDED}),
    _R.SUPERSEDED: frozenset({_R.INCLUDED}),
    _R.INCLUDED: frozenset(),
}
# Statuses that mean the report's round has been used (a signature may have left the process).
COMMITTING_STATUSES = frozenset({_R.SIGNED, _R.SUBMITTED, _R.INCLUDED})

_S = SubmissionStatus
SUBMISSION_TRANSITIONS: dict[SubmissionStatus, frozenset[SubmissionStatus]] = {
    _S.PENDING: frozenset({_S.INCLUDED, _S.REVERTED, _S.REPLACED, _S.DROPPED, _S.FAILED}),
    _S.REPLACED: frozenset({_S.INCLUDED, _S.REVERTED}),  # the original can still win the race
    _S.DROPPED: frozenset({_S.INCLUDED, _S.REVERTED}),
    _S.FAILED: frozenset({_S.INCLUDED, _S.REVERTED}),
    _S.INCLUDED: frozenset(),
    _S.REVERTED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class TickDecision:
    """The guard's verdict on one source's tick."""

    ts: float
    market: str
    source: str
    accepted: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Observation:
    """This node's parameter set for one market and round, with what it was computed from."""

    market: str
    round: int
    observed_at: int
    params: RiskParamsBps
    model_hash: str
    inputs_hash: str
    confidence: float
    flags: tuple[str, ...] = ()

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Observation:
        return cls(
            market=row["market"],
            round=row["round"],
            observed_at=row["observed_at"],
            params=RiskParamsBps.unpack(int(row["params"], 16)),
            model_hash=row["model_hash"],
            inputs_hash=row["inputs_hash"],
            confidence=row["confidence"],
            flags=tuple(json.loads(row["flags"])),
        )


@dataclass(frozen=True, slots=True)
class ReportRecord:
    round: int
    digest: str
    body: dict[str, Any]
    status: ReportStatus
    error: str | None
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ReportRecord:
        return cls(
            round=row["round"],
            digest=row["digest"],
            body=json.loads(row["body"]),
            status=ReportStatus(row["status"]),
            error=row["error"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


@dataclass(frozen=True, slots=True)
class SignatureRecord:
    purpose: str
    round: int
    signer: str
    digest: str
    signature: bytes | None  # None: intent recorded, signature not yet made (or lost in a crash)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> SignatureRecord:
        sig = row["signature"]
        return cls(row["purpose"], row["round"], row["signer"], row["digest"], bytes(sig) if sig else None)


@dataclass(frozen=True, slots=True)
class SubmissionRecord:
    tx_hash: str
    round: int
    digest: str
    nonce: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    gas_limit: int
    raw_tx: bytes = field(repr=False)
    status: SubmissionStatus
    block: int | None
    error: str | None
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> SubmissionRecord:
        values = {k: row[k] for k in row.keys()}  # noqa: SIM118 (sqlite3.Row has no __iter__ of keys)
        values["raw_tx"] = bytes(values["raw_tx"])
        values["status"] = SubmissionStatus(values["status"])
        return cls(**values)


def canonical_json(body: Any) -> str:
    """Stable text for a report body: sorted keys, no spaces, bytes as 0x-hex, big ints exact."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, tuple | frozenset | set):
        return list(value)
    raise TypeError(f"report body value {value!r} of type {type(value).__name__} is not JSON-serialisable")


def hex32(value: bytes | str, name: str) -> str:
    """Normalise a 32-byte digest/hash to lowercase 0x-hex; ValueError names the field otherwise."""
    raw = value if isinstance(value, bytes) else _unhex(value, name)
    if len(raw) != 32:
        raise ValueError(f"{name} must be 32 bytes, got {len(raw)}")
    return "0x" + raw.hex()


def _unhex(text: str, name: str) -> bytes:
    try:
        return bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise ValueError(f"{name} {text!r} is not hex") from None


@dataclass(frozen=True, slots=True)
class BoundInputs:
    """What a signed observation's inputsHash commits to: the canonical inputs document and each
    market's attribution record (canonical bytes, hashed as stored)."""

    document: bytes
    attributions: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AttributionRow:
    """A stored attribution record, the observation digest it is bound to and its keccak256."""

    round: int
    market: str
    digest: str
    record: str
    record_hash: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> AttributionRow:
        return cls(row["round"], row["market"], row["digest"], row["record"], row["record_hash"])


@dataclass(frozen=True, slots=True)
class InputsRow:
    """A stored inputs document (keccak256 = inputs_hash) and the observation digest it is bound to."""

    round: int
    digest: str
    document: str
    inputs_hash: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> InputsRow:
        return cls(row["round"], row["digest"], row["document"], row["inputs_hash"])
