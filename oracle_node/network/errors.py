"""Errors of the peer network; part of the node's one exception tree (subclasses of OracleNodeError)."""

from __future__ import annotations

from oracle_node.errors import OracleNodeError


class NetworkError(OracleNodeError):
    """Base of every peer-network failure."""


class PeerMessageError(NetworkError):
    """A peer's message is malformed: bad JSON, a missing or ill-typed field, a bad signature."""

    def __init__(self, where: str, field: str, value: object, why: str) -> None:
        self.where, self.field, self.value, self.why = where, field, value, why
        shown = repr(value)
        shown = shown if len(shown) <= 120 else shown[:117] + "..."
        super().__init__(f"{where}: field {field!r} = {shown}: {why}")


class PeerAuthError(NetworkError):
    """A message failed authentication: unknown signer (403), bad signature, stale or replayed (401)."""

    def __init__(self, status: int, reason: str, detail: str = "") -> None:
        self.status, self.reason, self.detail = status, reason, detail
        super().__init__(f"peer auth {status} {reason}" + (f": {detail}" if detail else ""))


class CosignRefused(NetworkError):
    """A follower refuses to co-sign a report; `reason` is a stable code, `status` the HTTP status."""

    def __init__(self, reason: str, detail: str, status: int = 422) -> None:
        self.reason, self.detail, self.status = reason, detail, status
        super().__init__(f"cosign refused [{reason}]: {detail}")


class AggregationError(NetworkError):
    """The observations at hand cannot form a report (too few, mixed rounds or models, duplicate signers)."""

    def __init__(self, round_: int, reason: str, detail: str) -> None:
        self.round, self.reason, self.detail = round_, reason, detail
        super().__init__(f"round {round_}: cannot aggregate [{reason}]: {detail}")


class PeerUnavailable(NetworkError):
    """A peer did not answer in time, refused the connection or broke it."""

    def __init__(self, peer: str, why: str) -> None:
        self.peer, self.why = peer, why
        super().__init__(f"peer {peer} unavailable: {why}")


class PeerRefused(NetworkError):
    """A peer answered with an error status (e.g. 404 no observation yet, 409 equivocation, 422 refused)."""

    def __init__(self, peer: str, status: int, reason: str, detail: str = "") -> None:
        self.peer, self.status, self.reason, self.detail = peer, status, reason, detail
        super().__init__(f"peer {peer} answered {status} [{reason}]" + (f": {detail}" if detail else ""))


class ObservationUnavailable(NetworkError):
    """This node has no observation for the round (not yet observed, too old, or the provider failed)."""

    def __init__(self, round_: int, why: str, *, nothing_due: bool = False) -> None:
        self.round, self.why, self.nothing_due = round_, why, nothing_due
        super().__init__(f"no observation for round {round_}: {why}")


class NothingDue(OracleNodeError):
    """Raised by an observation provider when no market is due this round (triggers quiet): an
    ordinary round with nothing to publish, not a failure."""
