"""report.html of `cascade replay`: per market, LT (dynamic, static) and p_cascade hour by hour above
the realised hourly liquidations (matplotlib, embedded as SVG), and the metrics as a table."""

from __future__ import annotations

import html
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from oracle_node.research.cascade.replay import Hour


def _figure(rows: Sequence[Hour], market: str) -> str:
    t = [datetime.fromtimestamp(h.ts, UTC) for h in rows]
    fig, (ax1, ax3) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True, height_ratios=(2, 1))
    ax1.step(
        t, [h.lt_static / 100 for h in rows], where="post", label="LT static (no add-on), %", color="grey"
    )
    ax1.step(
        t, [h.lt_dynamic / 100 for h in rows], where="post", label="LT published (with add-on), %", color="C0"
    )
    ax1.set_ylabel("LT, %")
    ax2 = ax1.twinx()
    ax2.plot(t, [h.p_cascade for h in rows], color="C3", lw=1, label="p_cascade")
    ax2.set_ylabel("p_cascade")
    ax2.set_ylim(0, 1)
    lines = ax1.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax1.legend(lines, [str(x.get_label()) for x in lines], loc="lower left", fontsize=8)
    ax1.set_title(f"{market}: published LT and cascade probability, hour by hour")
    ax3.bar(t, [h.liq_usd / 1e6 for h in rows], width=1 / 24, color="C1")
    ax3.set_ylabel("liquidated, M$ / hour")
    fig.autofmt_xdate()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def render(hours: Sequence[Hour], metrics: dict[str, object]) -> str:
    parts = ["<!doctype html><meta charset='utf-8'><title>cascade replay</title>",
             f"<h1>Cascade add-on replay</h1><p><code>{html.escape(str(metrics.get('command', '')))}</code></p>"]  # fmt: skip
    for market in sorted({h.market for h in hours}):
        parts.append(_figure([h for h in hours if h.market == market], market))
    parts.append(f"<h2>metrics.json</h2><pre>{html.escape(json.dumps(metrics, indent=1))}</pre>")
    return "\n".join(parts)
