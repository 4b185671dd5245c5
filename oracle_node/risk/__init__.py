"""Risk parameters in the contract's units: VaR/ES, scenario-grid margins, liquidation threshold, score.

Pure maths, no I/O. Entry points: `compute_many` / `compute_params` (forecast -> RiskParamsBps plus a
RiskExplanation), `check_bounds` (the contract's report-path checks, mirrored), `RiskSettings`.
Formulas live in the module docstrings: grid (scenarios), margin (IM, MM, LT), score (score,
confidence), units (rounding), bounds (on-chain checks), black_scholes (option revaluation).
"""

from oracle_node.risk.bounds import check_bounds, ensure_within_bounds
from oracle_node.risk.compute import (
    CappedField,
    RiskExplanation,
    RiskInput,
    RiskResult,
    compute_many,
    compute_params,
)
from oracle_node.risk.params import RiskSettings
from oracle_node.types import FieldBounds, OnchainBounds

__all__ = [
    "CappedField",
    "FieldBounds",
    "OnchainBounds",
    "RiskExplanation",
    "RiskInput",
    "RiskResult",
    "RiskSettings",
    "check_bounds",
    "compute_many",
    "compute_params",
    "ensure_within_bounds",
]
