"""The cascade-relevant summary of a pool snapshot for one market's collateral (docs/cascade.md).

- Health-factor distribution: the share of the read borrowers' debt (USD) whose health factor is
  < 1.00 (liquidatable now), 1.00-1.05, 1.05-1.10, 1.10-1.25 and >= 1.25 (borrowers without debt left out).
- Debt at risk after a fall of X (5, 10, 20, 30 %) of the market's collateral price: the debt (USD)
  of borrowers whose health factor would be below 1 if the collateral they hold in that reserve lost X
  of its value. A borrower's liquidation capacity is HF x debt = sum(collateral_i x LT_i); the fall
  removes X x collateral_c x LT_c. The debt is held constant (debt in the falling asset itself would
  shrink with it, so the figure slightly overstates: the conservative side). It includes the debt
  already below 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oracle_node.sources.pool_state import WAD, PoolSnapshot

HF_BUCKETS: tuple[tuple[str, float], ...] = (
    ("lt_1.00", 1.00),
    ("1.00_1.05", 1.05),
    ("1.05_1.10", 1.10),
    ("1.10_1.25", 1.25),
    ("ge_1.25", float("inf")),
)  # fmt: skip; (label, upper edge, exclusive)
DROPS: tuple[float, ...] = (0.05, 0.10, 0.20, 0.30)


def drop_label(drop: float) -> str:
    return f"{round(drop * 100):d}"


@dataclass(frozen=True)
class PoolSummary:
    """What the node records (attribution record, metrics) from one snapshot for one market."""

    pool: str
    block: int
    read_at: float
    collateral: str
    borrowers: int  # borrowers read with debt > 0
    debt_usd: float  # their total debt
    hf_debt_share: dict[str, float]  # bucket label -> share of debt_usd
    debt_at_risk_usd: dict[str, float]  # drop label (percent) -> USD
    reserve_supplied_usd: float  # the collateral reserve's totals (0 when the pool does not list it)
    reserve_borrowed_usd: float
    reserve_lt_bp: int
    pool_supplied_usd: float
    pool_borrowed_usd: float

    def record(self) -> dict[str, Any]:
        """Canonical form for the attribution record: integers and 9-digit strings, no JSON floats."""
        return {
            "pool": self.pool, "block": self.block, "read_at": _num(self.read_at), "collateral": self.collateral,
            "borrowers": self.borrowers, "debt_usd": _num(self.debt_usd),
            "hf_debt_share": {k: _num(v) for k, v in self.hf_debt_share.items()},
            "debt_at_risk_usd": {k: _num(v) for k, v in self.debt_at_risk_usd.items()},
            "reserve": {"supplied_usd": _num(self.reserve_supplied_usd), "borrowed_usd": _num(self.reserve_borrowed_usd),
                        "lt_bp": self.reserve_lt_bp},
            "pool_supplied_usd": _num(self.pool_supplied_usd), "pool_borrowed_usd": _num(self.pool_borrowed_usd),
        }  # fmt: skip


def _num(x: float) -> str:
    return f"{x:.8e}"


def summarise(snap: PoolSnapshot, collateral: str, drops: tuple[float, ...] = DROPS) -> PoolSummary:
    """The module docstring's figures for the reserve whose symbol is `collateral`."""
    res = snap.reserve(collateral)
    debt_usd, by_bucket = 0.0, dict.fromkeys((b for b, _ in HF_BUCKETS), 0.0)
    at_risk = dict.fromkeys((drop_label(d) for d in drops), 0.0)
    borrowers = 0
    for acc in snap.accounts:
        if acc.debt_base <= 0:
            continue
        borrowers += 1
        usd = snap.usd(acc.debt_base)
        debt_usd += usd
        hf = acc.health_factor / WAD
        by_bucket[next(b for b, edge in HF_BUCKETS if hf < edge)] += usd
        capacity = hf * acc.debt_base  # sum(collateral_i x LT_i) in base units
        held = (
            0.0
            if res is None
            else res.value(acc.collateral_raw.get(res.asset, 0)) * res.liquidation_threshold_bp / 1e4
        )
        for d in drops:
            if capacity - d * held < acc.debt_base:
                at_risk[drop_label(d)] += usd
    shares = {b: (v / debt_usd if debt_usd > 0 else 0.0) for b, v in by_bucket.items()}
    return PoolSummary(
        pool=snap.pool, block=snap.block, read_at=snap.read_at, collateral=collateral, borrowers=borrowers,
        debt_usd=debt_usd, hf_debt_share=shares, debt_at_risk_usd=at_risk,
        reserve_supplied_usd=0.0 if res is None else snap.usd(res.value(res.supplied)),
        reserve_borrowed_usd=0.0 if res is None else snap.usd(res.value(res.stable_debt + res.variable_debt)),
        reserve_lt_bp=0 if res is None else res.liquidation_threshold_bp,
        pool_supplied_usd=sum(snap.usd(r.value(r.supplied)) for r in snap.reserves),
        pool_borrowed_usd=sum(snap.usd(r.value(r.stable_debt + r.variable_debt)) for r in snap.reserves),
    )  # fmt: skip
