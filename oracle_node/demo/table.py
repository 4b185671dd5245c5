"""The demo's live rich table: one row per round and market, from RoundRecords."""

from __future__ import annotations

import time

from rich.table import Table

from oracle_node.demo.session import USD, RoundRecord

COLUMNS = (
    "hour (UTC)", "round", "market", "price", "vol", "VaR99", "IM/MM", "conf", "rejected sources",
    "leader", "gas", "BTC 1M maint. tUSD",
)  # fmt: skip
LEFT = {"market", "rejected sources", "leader"}


def new_table(title: str) -> Table:
    table = Table(title=title)
    for col in COLUMNS:
        table.add_column(col, justify="left" if col in LEFT else "right")
    return table


def add_rows(table: Table, record: RoundRecord) -> None:
    hour = time.strftime("%m-%d %H:00", time.gmtime(record.data_time))
    for market in sorted({*record.onchain, *(m for n in record.nodes.values() for m in n.outcomes)}):
        p = record.onchain.get(market) if record.landed else None
        price = record.price(market)
        maint = record.maintenance if market == "BTC-USD" else None
        table.add_row(
            hour,
            str(record.round),
            market,
            f"{price:,.2f}" if price else "-",
            f"{p.volatility / 100:.0f}%" if p else "-",
            f"{p.var99 / 100:.1f}%" if p else "-",
            f"{p.initial_margin / 100:.1f}/{p.maintenance_margin / 100:.1f}%" if p else "-",
            f"{p.confidence / 10_000:.2f}" if p else "-",
            ", ".join(record.rejected(market)) or "-",
            f"{record.leader}#{record.attempt}" if record.landed else "[red]not landed[/red]",
            f"{record.gas_used:,}" if record.gas_used and market == "BTC-USD" else "",
            (f"{maint / USD:,.0f}" + (" (fallback)" if record.fallback else "")) if maint is not None else "",
        )
