"""Signed risk reports: the EIP-712 encoding the contract verifies, shared by the node and the tests."""

from oracle_node.reports.eip712 import (
    RiskReport,
    Signature,
    co_sign,
    compact_from_bytes,
    report_digest,
    sign_report,
    to_abi,
    typed_data,
)

__all__ = [
    "RiskReport",
    "Signature",
    "co_sign",
    "compact_from_bytes",
    "report_digest",
    "sign_report",
    "to_abi",
    "typed_data",
]
