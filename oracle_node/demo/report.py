"""The demo's HTML report: a summary and matplotlib charts inlined as PNG (price; forecast volatility;
VaR against realised 24 h returns with breaches marked; IM/MM over time; gas per round), see
oracle_node/figures.py. Self-contained, no network.

Realised returns come from the bundled real Binance closes: for a VaR published at data time t, the
realised loss is -ln(P(t + 24 h) / P(t)); a breach is a loss above the published 1-day VaR99.
"""

from __future__ import annotations

import functools
import html
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.figure import Figure

from oracle_node import atomic, figures
from oracle_node.demo.session import MARKETS, DemoResult, RoundRecord
from oracle_node.demo.views import HOUR, closes

DAY = 24 * HOUR
_closes = functools.cache(closes)  # the charts and the summary read the same window (one parse each)


@dataclass
class Series:
    """One line (or, with `markers`, one dot per point) of (unix seconds, value) points."""

    label: str
    points: Sequence[tuple[float, float]]
    dashed: bool = False
    markers: bool = False  # draw each point as a dot (breaches)
    color: str | None = None


@dataclass
class Chart:
    """A time chart: `title`, the y axis label with its unit, the series; x is data time (UTC)."""

    title: str
    y_label: str
    series: list[Series] = field(default_factory=list)

    def figure(self) -> Figure:
        fig, axes = figures.new(9.0, 2.8)
        ax = axes[0, 0]
        for i, s in enumerate(self.series):
            t, y = figures.utc(p[0] for p in s.points), [p[1] for p in s.points]
            color = s.color or f"C{i}"
            if s.markers:
                ax.plot(t, y, "o", ms=4, color=color, label=f"{s.label} ({len(y)})")
            else:
                ax.plot(t, y, ls="--" if s.dashed else "-", lw=1.3, color=color, label=s.label)
        if not any(s.points for s in self.series):
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center")
        ax.set_title(self.title)
        ax.set_ylabel(self.y_label)
        figures.date_axis(ax, "data time (UTC)")
        figures.legend_outside(ax)
        return fig

    def render(self) -> str:
        return figures.img(self.figure(), self.title)


def _landed(records: Sequence[RoundRecord]) -> list[RoundRecord]:
    return [r for r in records if r.landed]


def _field(records: Sequence[RoundRecord], market: str, name: str) -> list[tuple[float, float]]:
    return [
        (r.data_time, getattr(r.onchain[market], name) / 100) for r in _landed(records) if market in r.onchain
    ]


def var_backtest(records: Sequence[RoundRecord], market: str) -> tuple[list, list, list]:
    """(VaR %, realised loss %, breaches) series over the rounds whose 24 h outcome is known."""
    var = _field(records, market, "var99")
    if not var:
        return [], [], []
    price = dict(_closes(market, var[0][0], var[-1][0] + DAY))
    realised, breaches = [], []
    for t, v in var:
        if t in price and t + DAY in price:
            loss = -math.log(price[t + DAY] / price[t]) * 100
            realised.append((t, loss))
            if loss > v:
                breaches.append((t, loss))
    return var, realised, breaches


def breach_summary(realised: Sequence[tuple[float, float]], breaches: Sequence[tuple[float, float]]) -> str:
    """Breaches of hourly 24 h windows overlap (one bad day breaches up to 24 windows in a row), so
    they are also counted as episodes (runs of consecutive hours) and over non-overlapping daily
    windows (those starting at the first window's hour)."""
    times = sorted(t for t, _ in breaches)
    episodes = sum(1 for i, t in enumerate(times) if i == 0 or t - times[i - 1] > HOUR)
    if not realised:
        return "no window with a known 24 h outcome"
    start = realised[0][0]
    daily = [t for t, _ in realised if (t - start) % DAY == 0]
    hit = {t for t, _ in breaches}
    return (
        f"{len(breaches)} of {len(realised)} overlapping hourly 24 h windows, {episodes} episode(s); "
        f"non-overlapping daily windows: {sum(t in hit for t in daily)} of {len(daily)}"
    )


def charts(result: DemoResult) -> list[Chart]:
    recs, bad = result.records, result.manipulated
    out = []
    for m in MARKETS:
        honest = [(r.data_time, p) for r in recs if (p := r.price(m))]
        poisoned = [(r.data_time, p) for r in recs if (p := r.price(m, bad))]
        out.append(
            Chart(
                f"{m} price",
                "price, USD",
                [Series("honest node0", honest), Series(f"{bad} (manipulated)", poisoned, dashed=True)],
            )
        )
    vol = [Series(f"{m} on-chain", _field(recs, m, "volatility")) for m in MARKETS]
    vol.append(
        Series(
            f"BTC {bad} own",
            [
                (r.data_time, r.nodes[bad].signed["BTC-USD"].volatility / 100)
                for r in recs
                if bad in r.nodes and "BTC-USD" in r.nodes[bad].signed
            ],
            dashed=True,
        )
    )
    out.append(Chart("Forecast volatility (annualised)", "volatility, % per year", vol))
    for m in MARKETS:
        var, realised, breaches = var_backtest(recs, m)
        out.append(Chart(f"{m} 1-day VaR99 vs realised 24 h loss ({len(breaches)} breached hourly windows)", "loss over 24 h, % of price", [
            Series("VaR99 on-chain", var), Series("realised loss", realised, dashed=True),
            Series("breach", breaches, markers=True, color="#d62728"),
        ]))  # fmt: skip
    margins = [
        Series(f"{m} {f}", _field(recs, m, name), dashed=f == "MM", color=f"C{k}")
        for k, m in enumerate(MARKETS)
        for f, name in (("IM", "initial_margin"), ("MM", "maintenance_margin"))
    ]
    out.append(Chart("Initial / maintenance margin", "margin, % of notional", margins))
    gas = [(r.data_time, float(r.gas_used)) for r in recs if r.gas_used]
    out.append(Chart("Gas per round (2 markets, 2 signatures)", "gas per report", [Series("gasUsed", gas)]))
    return out


def summary_lines(result: DemoResult) -> list[str]:
    recs = result.records
    landed = _landed(recs)
    gas = [r.gas_used for r in landed if r.gas_used]
    leaders: dict[str, int] = {}
    for r in landed:
        leaders[f"{r.leader}#{r.attempt}"] = leaders.get(f"{r.leader}#{r.attempt}", 0) + 1
    lines = [
        f"rounds: {len(recs)}, landed: {len(landed)} (leader#attempt: {dict(sorted(leaders.items()))})",
        f"gas per report: median {statistics.median(gas):,.0f}, max {max(gas):,}" if gas else "gas: none",
        f"manipulated node: {result.manipulated}",
        f"wall time: {result.wall_s:.1f} s",
    ]
    for m in MARKETS:
        _, realised, breaches = var_backtest(recs, m)
        lines.append(f"{m}: 24 h loss above the published VaR99 in {breach_summary(realised, breaches)}")
    maint = [(r.data_time, r.maintenance) for r in recs if r.maintenance is not None]
    if maint:
        lo, hi = min(v for _, v in maint), max(v for _, v in maint)
        lines.append(f"BTC 1M tUSD position maintenance requirement: {lo / 1e6:,.0f} .. {hi / 1e6:,.0f} tUSD")
    return lines


def write_report(result: DemoResult, path: Path, extra: Sequence[str] = (), section: str = "") -> Path:
    """The page; `section` is appended HTML (the options phase's, already escaped)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    items = "".join(f"<li>{html.escape(line)}</li>" for line in [*summary_lines(result), *extra])
    plots = "".join(f'<div class="chart">{c.render()}</div>' for c in charts(result))
    atomic.write_text(
        path,
        "<!doctype html><html><head><meta charset='utf-8'><title>MLRA oracle network demo</title>"
        f"<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}{figures.CSS}"
        ".chart{margin:1.2em 0}</style></head><body>"
        "<h1>MLRA risk oracle network: 3 nodes, k = 2, through 2020-03-12</h1>"
        f"<p>Oracle {html.escape(result.deployment.oracle)} on chain {result.deployment.chain_id}; "
        f"signers {html.escape(', '.join(result.deployment.signers))}.</p><ul>{items}</ul>{plots}{section}</body></html>",
    )
    return path
