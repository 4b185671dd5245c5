"""The demo report's options section: published smiles per snapshot and the books' margin path
(matplotlib, PNG inlined by oracle_node/figures.py, so the page needs no network), plus the summary
lines."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime

from matplotlib import colormaps, ticker
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from oracle_node import figures
from oracle_node.demo.options import BOOKS, SnapshotRecord

CMAP = colormaps["viridis"]


def _day(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")


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


def smiles_figure(records: Sequence[SnapshotRecord]) -> Figure:
    """One panel per published snapshot, a smile per expiry coloured by its days to expiry."""
    shown = [r for r in records if r.landed and r.smiles]
    cols = 4
    rows = max(1, -(-len(shown) // cols))
    fig, axes = figures.new(2.7 * cols + 1.0, 2.3 * rows, rows, cols, layout="constrained", sharey=True)
    norm = LogNorm(1.0, 400.0)
    for ax, r in zip(axes.flat, shown, strict=False):
        for days, ks, vols in r.smiles:
            ax.plot(ks, [100 * v for v in vols], color=CMAP(norm(max(days, 1.0))), lw=1.2)
        ax.set_title(f"BTC {_day(r.observed_at)}")
        ax.set_xlabel("log-moneyness k")
        ax.set_ylabel("implied vol, %")
    for ax in list(axes.flat)[len(shown) :]:
        ax.set_visible(False)
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=CMAP), ax=axes, shrink=0.6)
    bar.set_label("days to expiry (log scale)")
    bar.ax.yaxis.set_major_formatter(ticker.StrMethodFormatter("{x:,.0f}"))
    fig.suptitle("Published BTC smiles (read back from the VolSurfaceOracle)")
    return fig


def margin_figure(records: Sequence[SnapshotRecord]) -> Figure:
    landed = [r for r in records if r.landed and r.margins]
    days = figures.utc(r.observed_at for r in landed)
    fig, axes = figures.new(9.0, 3.4)
    ax = axes[0, 0]
    for i, name in enumerate(BOOKS):
        color = f"C{i}"
        ax.plot(
            days, [r.margins[name][0] for r in landed], marker="o", color=color, label=f"{name}: IM (smile)"
        )
        ax.plot(
            days, [r.margins[name][2] for r in landed], ls="--", color=color, label=f"{name}: IM (single vol)"
        )
    ax.set_ylabel("initial margin, USD per 1 BTC book")
    ax.yaxis.set_major_formatter(ticker.StrMethodFormatter("{x:,.0f}"))
    figures.date_axis(ax, "snapshot (UTC)")
    figures.legend_outside(ax)
    ax.set_title("Initial margin on the oracle's surfaces vs a single-volatility model")
    return fig


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
        f"{figures.img(smiles_figure(records), 'published BTC smiles')}"
        f"{figures.img(margin_figure(records), 'margin path')}"
    )
