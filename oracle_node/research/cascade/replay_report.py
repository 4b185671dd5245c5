"""report.html of `cascade replay`: per market, LT (dynamic, static) and p_cascade hour by hour above
the realised hourly liquidations (matplotlib, PNG inlined by oracle_node/figures.py), and the metrics
as a table."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

from matplotlib.figure import Figure

from oracle_node import figures
from oracle_node.research.cascade.replay import Hour


def replay_figure(rows: Sequence[Hour], market: str) -> Figure:
    """Top: LT static / published (left axis) and p_cascade (right axis); bottom: liquidations."""
    t = figures.utc(h.ts for h in rows)
    fig, axes = figures.new(11.0, 5.5, 2, 1, sharex=True, height_ratios=(2, 1))
    ax1, ax3 = axes[0, 0], axes[1, 0]
    ax1.step(t, [h.lt_static / 100 for h in rows], where="post", label="LT static (no add-on)", color="grey")
    ax1.step(
        t, [h.lt_dynamic / 100 for h in rows], where="post", label="LT published (with add-on)", color="C0"
    )
    ax1.set_ylabel("liquidation threshold, %")
    ax2 = ax1.twinx()
    ax2.grid(False)
    ax2.plot(t, [h.p_cascade for h in rows], color="C3", lw=1, label="p_cascade (right axis)")
    ax2.set_ylabel("p_cascade (probability)")
    ax2.set_ylim(0, 1)
    handles = ax1.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax1.legend(handles, [str(h.get_label()) for h in handles], loc="upper left", bbox_to_anchor=(1.08, 1.0),
               borderaxespad=0.0)  # fmt: skip
    ax1.set_title(f"{market}: published LT and cascade probability, hour by hour")
    ax3.bar(t, [h.liq_usd / 1e6 for h in rows], width=-1 / 24, align="edge", color="C1", label="liquidated")
    ax3.set_ylabel("liquidated, M$ / hour")
    ax3.set_title("Realised liquidations in the hour up to each round")
    figures.date_axis(ax3, "hour (UTC)")
    fig.subplots_adjust(hspace=0.35)
    return fig


def render(hours: Sequence[Hour], metrics: dict[str, object]) -> str:
    parts = [f"<!doctype html><meta charset='utf-8'><title>cascade replay</title><style>{figures.CSS}</style>",
             f"<h1>Cascade add-on replay</h1><p><code>{html.escape(str(metrics.get('command', '')))}</code></p>"]  # fmt: skip
    for market in sorted({h.market for h in hours}):
        rows = [h for h in hours if h.market == market]
        parts.append(figures.img(replay_figure(rows, market), f"{market}: LT, p_cascade and liquidations"))
    parts.append(f"<h2>metrics.json</h2><pre>{html.escape(json.dumps(metrics, indent=1))}</pre>")
    return "\n".join(parts)
