"""Errors of the durable store; part of the node's one exception tree (subclasses of OracleNodeError)."""

from __future__ import annotations

from oracle_node.errors import OracleNodeError


class StoreError(OracleNodeError):
    """A store operation was refused: an illegal status change, an unknown record, a conflicting write."""

    def __init__(self, table: str, key: str, why: str) -> None:
        self.table, self.key, self.why = table, key, why
        super().__init__(f"store {table} {key}: {why}")


class EquivocationError(StoreError):
    """A signer was asked to sign a second, different digest for a round it already signed."""

    def __init__(self, purpose: str, round_: int, signer: str, existing: str, requested: str) -> None:
        self.purpose, self.round, self.signer = purpose, round_, signer
        self.existing, self.requested = existing, requested
        super().__init__(
            "signatures",
            f"{purpose} round {round_} signer {signer}",
            f"already signed digest {existing}, refusing to sign a different digest {requested}",
        )
