"""surface.html: one self-contained page (PNG figures inlined by oracle_node/figures.py) per fitted chain.

Per underlying: one panel per expiry with the market mid IVs and their bid-ask bars against the
fitted SVI smile (x = log-moneyness), then the term structure (ATM vol against T). Legends sit
outside the data area; matplotlib runs headless (Agg).
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure

from oracle_node import figures
from oracle_node.options.build import ChainFit, ExpiryResult, UnderlyingFit
from oracle_node.options.jsonio import write_atomic

COLUMNS = 4


def _smile_panel(ax: Any, e: ExpiryResult) -> None:
    sm = e.smile
    lo, hi = float(sm.k.min()), float(sm.k.max())
    pad = 0.15 * (hi - lo) + 1e-3
    k = np.linspace(lo - pad, hi + pad, 200)
    mid, bid, ask = sm.iv_mid * 100, sm.iv_bid * 100, sm.iv_ask * 100
    ax.errorbar(
        sm.k,
        mid,
        yerr=[mid - bid, ask - mid],
        fmt="o",
        ms=2.5,
        lw=0.8,
        color="tab:blue",
        label="market mid, bid-ask",
    )
    ax.plot(k, e.slice.params.implied_vol(k, sm.t) * 100, color="tab:red", lw=1.2, label="SVI fit")
    ax.set_title(
        f"{e.slice.expiry:%Y-%m-%d} T={sm.t:.3f}y  RMSE {e.quality.rmse_vol_pts:.2f} vp, "
        f"in spread {e.quality.inside_spread:.0%}",
        fontsize=8,
    )
    ax.set_xlabel("log-moneyness k = ln(K/F)", fontsize=7)
    ax.set_ylabel("implied vol (%)", fontsize=7)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)


def _smiles_figure(u: UnderlyingFit) -> Figure:
    n = len(u.expiries)
    rows = math.ceil(n / COLUMNS)
    fig, axes = figures.new(4.2 * COLUMNS, 3.0 * rows, rows, COLUMNS)
    for ax, e in zip(axes.flat, u.expiries, strict=False):
        _smile_panel(ax, e)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=2, bbox_to_anchor=(0.5, 1.0), fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


def _term_figure(u: UnderlyingFit) -> Figure:
    ts = np.array([e.slice.t for e in u.expiries])
    atm_fit = np.array([float(e.slice.params.implied_vol(0.0, e.slice.t)) for e in u.expiries]) * 100
    grid = np.geomspace(ts[0], ts[-1], 100)
    fig, axes = figures.new(8.0, 3.6)
    ax = axes[0, 0]
    ax.plot(
        grid,
        [u.surface.atm_vol(t) * 100 for t in grid],
        color="tab:red",
        lw=1.2,
        label="surface ATM vol (interpolated)",
    )
    ax.plot(ts, atm_fit, "o", color="tab:blue", ms=4, label="fitted expiries")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(ticker.StrMethodFormatter("{x:g}"))
    ax.set_xlabel("time to expiry T (years, log scale)")
    ax.set_ylabel("ATM implied vol (%)")
    ax.set_title(f"{u.surface.underlying} term structure")
    ax.grid(alpha=0.3)
    figures.legend_outside(ax)
    return fig


def _table(u: UnderlyingFit) -> str:
    rows = "".join(
        f"<tr><td>{e.slice.expiry:%Y-%m-%d}</td><td>{e.slice.t:.4f}</td><td>{e.slice.forward:,.2f}</td>"
        f"<td>{e.smile.forward.source}</td><td>{e.quality.quotes}</td><td>{e.quality.rmse_vol_pts:.3f}</td>"
        f"<td>{e.quality.inside_spread:.1%}</td><td>{e.check.min_g:.3g}</td><td>{e.fit_ms:.1f}</td></tr>"
        for e in u.expiries
    )
    head = "<tr><th>expiry</th><th>T</th><th>forward</th><th>source</th><th>quotes</th><th>RMSE (vol pts)</th><th>inside spread</th><th>min g</th><th>fit ms</th></tr>"
    return f"<table>{head}{rows}</table>"


def _section(u: UnderlyingFit) -> str:
    v = u.violations
    name = html.escape(u.surface.underlying)
    return (
        f"<h2>{name} (spot {u.surface.spot:,.2f})</h2>"
        f"<p>fit {u.fit_ms:.1f} ms; no-arbitrage check on k in [{u.k_range[0]:.2f}, {u.k_range[1]:.2f}] "
        f"(step 0.001): butterfly {v['butterfly']}, calendar {v['calendar']}, parameter {v['parameters']} violations</p>"
        f"{_table(u)}{figures.img(_smiles_figure(u), f'{u.surface.underlying} smiles')}"
        f"{figures.img(_term_figure(u), f'{u.surface.underlying} term structure')}"
    )


def render_html(fit: ChainFit) -> str:
    style = (
        "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        + figures.CSS
    )
    body = "".join(_section(u) for u in fit.underlyings)
    title = f"Implied-vol surfaces {html.escape(Path(fit.path).name)} at {fit.observed_at.isoformat()}"
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{style}</style></head><body><h1>{title}</h1>{body}</body></html>\n"


def write_html(fit: ChainFit, path: Path) -> None:
    write_atomic(path, render_html(fit))
