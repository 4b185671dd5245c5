"""The demo report's options section: published smiles per snapshot and the books' margin path
(matplotlib, PNG inlined as base64, so the page needs no network), plus the summary lines."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from oracle_node.demo.options import BOOKS, SnapshotRecord


def _day(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def summary_lines(records: Sequence[SnapshotRecord]) -> list[str]:
    landed = [r for r in records if r.landed]
    lines = [f"options phase: {len(landed)} of {len(records)} Deribit chains published as BTC/ETH surfaces "
             "through the 3-node network (data time, k = 2)"]  # fmt: skip
    for name in BOOKS:
        pairs = [r.margins[name] for r in landed if name in r.margins]
        if pairs:
            im = [p[0] for p in pairs]
            ratio = [p[0] / p[2] for p in pairs if p[2] > 0]
            extra = f", smile / single-vol IM {min(ratio):.2f}..{max(ratio):.2f}" if ratio else ""
            lines.append(f"  {name}: IM {min(im):,.0f}..{max(im):,.0f} USD per 1 BTC{extra}")
    return lines


def _smiles_figure(records: Sequence[SnapshotRecord]) -> str:
    shown = [r for r in records if r.landed and r.smiles]
    cols = 4
    rows = max(1, -(-len(shown) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False, sharey=True)
    for ax, r in zip(axes.flat, shown, strict=False):
        for days, ks, vols in r.smiles:
            ax.plot(ks, [100 * v for v in vols], label=f"{days:.0f} d")
        ax.set_title(f"BTC {_day(r.observed_at)}", fontsize=9)
        ax.set_xlabel("log-moneyness k", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="upper center", frameon=False)
    for ax in axes[:, 0]:
        ax.set_ylabel("implied vol, %", fontsize=8)
    for ax in list(axes.flat)[len(shown) :]:
        ax.axis("off")
    fig.suptitle("Published BTC smiles (read back from the VolSurfaceOracle)", fontsize=10)
    return _png(fig)


def _margin_figure(records: Sequence[SnapshotRecord]) -> str:
    landed = [r for r in records if r.landed and r.margins]
    days = [datetime.fromtimestamp(r.observed_at, UTC) for r in landed]
    fig, ax = plt.subplots(figsize=(9, 3.6))
    for i, name in enumerate(BOOKS):
        color = f"C{i}"
        ax.plot(
            days, [r.margins[name][0] for r in landed], marker="o", color=color, label=f"{name}: IM (smile)"
        )
        ax.plot(
            days, [r.margins[name][2] for r in landed], ls="--", color=color, label=f"{name}: IM (single vol)"
        )
    ax.set_ylabel("USD per 1 BTC of each book")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.autofmt_xdate()
    ax.set_title("Initial margin on the oracle's surfaces vs a single-volatility model", fontsize=10)
    return _png(fig)


def _table(records: Sequence[SnapshotRecord]) -> str:
    head = "".join(f"<th>{html.escape(n)} IM / MM / single-vol IM</th>" for n in BOOKS)
    rows = []
    for r in records:
        if not r.landed:
            rows.append(
                f"<tr><td>{_day(r.observed_at)}</td><td colspan='{4 + len(BOOKS)}'>not published</td></tr>"
            )
            continue
        s = r.shocks
        shocks = (
            f"{s.price_move / 100:.1f} % / +{s.vol_up / 100:.0f} % / -{s.vol_down / 100:.0f} %" if s else ""
        )
        cells = "".join(
            f"<td>{r.margins[n][0]:,.0f} / {r.margins[n][1]:,.0f} / {r.margins[n][2]:,.0f}</td>"
            for n in BOOKS
        )
        rows.append(
            f"<tr><td>{_day(r.observed_at)}</td><td>{r.round} ({html.escape(r.leader or '')})</td>"
            f"<td>{r.gas_used:,}</td><td>{r.spot:,.0f}</td><td>{_day(r.expiry)}: {100 * r.atm_vol:.1f} %</td>"
            f"<td>{shocks}</td>{cells}</tr>"
        )
    return (
        "<table border='1' cellpadding='3' style='border-collapse:collapse;font-size:12px'><tr><th>snapshot</th>"
        "<th>round (leader)</th><th>gas</th><th>BTC spot</th><th>books' expiry: ATM vol</th>"
        f"<th>shocks: price / vol up / vol down</th>{head}</tr>{''.join(rows)}</table>"
    )


def options_section(records: Sequence[SnapshotRecord]) -> str:
    if not records:
        return ""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in summary_lines(records))
    return (
        "<h2>Options: surfaces through the network, books margined on-chain</h2>"
        "<p>Each bundled Deribit chain, in date order on a chain whose clock follows the snapshots: the "
        "three nodes fit it, the leader proposes, the followers co-sign within tolerance, the "
        "VolSurfaceOracle stores one smile per expiry; the OptionsPortfolioMarginEngine then margins three "
        "1-BTC books at the expiry nearest 30 days (<code>marginFor</code>), beside the same grid with "
        "every option at that expiry's ATM vol.</p>"
        f"<ul>{items}</ul>{_table(records)}"
        f"<img alt='smiles' src='data:image/png;base64,{_smiles_figure(records)}'>"
        f"<img alt='margin path' src='data:image/png;base64,{_margin_figure(records)}'>"
    )
