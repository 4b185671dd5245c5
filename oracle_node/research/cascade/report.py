"""report.html: one self-contained page: the tables, a reliability diagram and each market's daily
forecasts (matplotlib, PNG inlined by oracle_node/figures.py)."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from oracle_node import figures
from oracle_node.research.cascade.walkforward import Forecasts

DAY = timedelta(days=1)
COLOURS = ("#555", "#d62728", "#ff7f0e", "#1f77b4", "#2ca02c")


def _fmt(x: object, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return html.escape(str(x))


def reliability_figure(test: dict[str, Any]) -> Figure:
    """Reliability diagram: observed frequency against mean forecast per bin, dot area ~ count."""
    fig, axes = figures.new(5.6, 4.2)
    ax = axes[0, 0]
    ax.plot([0, 1], [0, 1], ls="--", color="#bbb", lw=1, label="perfect calibration")
    for k, (model, row) in enumerate(test.items()):
        c, bins = COLOURS[k % len(COLOURS)], row["reliability"]
        x, y = [b["mean_p"] for b in bins], [b["observed"] for b in bins]
        ax.plot(x, y, color=c, lw=1, label=model)
        ax.scatter(x, y, s=[min(2 + b["n"] ** 0.5 / 3, 9) ** 2 for b in bins], color=c)
    ax.set(xlim=(-0.03, 1.03), ylim=(-0.03, 1.03), xlabel="forecast probability", ylabel="observed frequency")
    ax.set_aspect("equal")
    ax.set_title("Reliability on the test span\n(dot area ~ days x markets in the bin)")
    figures.legend_outside(ax)
    return fig


def series_figure(fc: Forecasts, market: str) -> Figure | None:
    """Daily forecast probabilities of each model, with the event days shaded."""
    base = fc.arrays(fc.models[0], market)
    if base["ts"].size < 2:
        return None
    fig, axes = figures.new(10.0, 3.0)
    ax = axes[0, 0]
    for t in figures.utc(base["ts"][base["event"] == 1]):
        ax.axvspan(t, t + DAY, color="#ddd", lw=0)
    for k, model in enumerate(fc.models):
        a = fc.arrays(model, market)
        ax.plot(figures.utc(a["ts"]), a["p"], color=COLOURS[k % len(COLOURS)], lw=1, label=model)
    event = Patch(color="#ddd", label=f"event day ({int(base['event'].sum())})")
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    ax.set_title(f"{market}: P(liquidations over the next 24 h above the threshold)")
    figures.date_axis(ax, "forecast day (UTC)")
    figures.legend_outside(ax, [*ax.get_legend_handles_labels()[0], event])
    return fig


def _series(fc: Forecasts, market: str) -> str:
    fig = series_figure(fc, market)
    return "" if fig is None else figures.img(fig, f"{market} daily forecast probabilities")


def _table(head: list[str], rows: list[list[object]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def render(result: dict[str, Any], fc: Forecasts, command: str) -> str:
    test = result["test"]
    summary = [[m, r["n"], r["events"], f"{r['brier']:.4f}", r["bss"], f'{r["bss_90ci"][0]:.3f} .. {r["bss_90ci"][1]:.3f}',
                r["alerts"]["level"], r["alerts"]["precision"], r["alerts"]["recall"], r["usd"]["rmse_musd"],
                r["usd"]["spearman"]] for m, r in test.items()]  # fmt: skip
    leads = [[m, mk, w, lv["lead_days"], lv["hours_to_crossing"], lv["p_at_wave"]]
             for m, r in test.items() for mk, pm in r["per_market"].items() for w, lv in pm["lead"].items()]  # fmt: skip
    per_market = [[m, mk, pm["events"], pm["bss"], pm["alerts"]["precision"], pm["alerts"]["recall"]]
                  for m, r in test.items() for mk, pm in r["per_market"].items()]  # fmt: skip
    v = result["validation"]
    return "\n".join([
        "<!doctype html><html><head><meta charset='utf-8'><title>Cascade backtest</title>",
        f"<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 8px;border-bottom:1px solid #ddd}}{figures.CSS}</style></head><body>",
        "<h1>Liquidation-cascade forecasts: walk-forward backtest</h1>",
        f"<p><code>{html.escape(command)}</code></p>",
        f"<p>Threshold: {html.escape(result['threshold'])}. Test {result['spans']['test'][0]} .. {result['spans']['test'][1]}, "
        f"validation {result['spans']['validation'][0]} .. {result['spans']['validation'][1]}; refit every "
        f"{result['spans']['refit_every_days']} days. ML chosen on validation: {html.escape(v['ml_chosen'])} "
        f"(validation Brier {', '.join(f'{k} {x:.4f}' for k, x in v['ml_brier'].items())}).</p>",
        "<h2>Test span, pooled over markets</h2>",
        _table(["model", "days x markets", "events", "Brier", "BSS vs climatology", "BSS 90% CI", "alert level",
                "precision", "recall", "E[USD] RMSE (M$)", "E[USD] Spearman"], summary),
        "<h2>Reliability (test)</h2>", figures.img(reliability_figure(test), "reliability diagram (test)"),
        "<h2>Per market</h2>", _table(["model", "market", "events", "BSS", "precision", "recall"], per_market),
        "<h2>Lead time before the waves</h2>",
        _table(["model", "market", "wave", "lead days", "hours to crossing", "p at wave"], leads),
        "<h2>Forecasts</h2>", *(_series(fc, m) for m in dict.fromkeys(fc.market)),
        f"<p>wall time {result['wall_seconds']:.1f} s</p></body></html>",
    ])  # fmt: skip
