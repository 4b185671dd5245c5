"""report.html: one self-contained page (tables + inline SVG). The plotting is the two `_svg_*`
functions only, so a later switch to matplotlib replaces them and nothing else."""

from __future__ import annotations

import html
from typing import Any

from oracle_node.research.cascade.walkforward import Forecasts

COLOURS = ("#555", "#d62728", "#ff7f0e", "#1f77b4", "#2ca02c")
W, H, PAD = 360, 360, 40


def _fmt(x: object, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return html.escape(str(x))


def _svg_reliability(test: dict[str, Any]) -> str:
    """Reliability diagram: observed frequency against mean forecast per bin, dot area ~ count."""
    scale = W - 2 * PAD
    parts = [f'<svg width="{W}" height="{H}" xmlns="http://www.w3.org/2000/svg">',
             f'<rect x="{PAD}" y="{PAD}" width="{scale}" height="{scale}" fill="none" stroke="#999"/>',
             f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{PAD}" stroke="#bbb" stroke-dasharray="4"/>',
             f'<text x="{W / 2}" y="{H - 8}" text-anchor="middle" font-size="12">forecast probability</text>',
             f'<text x="12" y="{H / 2}" font-size="12" transform="rotate(-90 12 {H / 2})" text-anchor="middle">observed frequency</text>']  # fmt: skip
    for k, (model, row) in enumerate(test.items()):
        c = COLOURS[k % len(COLOURS)]
        pts = [
            (PAD + b["mean_p"] * scale, H - PAD - b["observed"] * scale, b["n"]) for b in row["reliability"]
        ]
        parts.append(
            f'<polyline fill="none" stroke="{c}" points="{" ".join(f"{x:.1f},{y:.1f}" for x, y, _ in pts)}"/>'
        )
        parts += [
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{min(2 + n**0.5 / 3, 9):.1f}" fill="{c}"/>'
            for x, y, n in pts
        ]
        parts.append(
            f'<text x="{PAD + 6}" y="{PAD + 14 + 14 * k}" font-size="11" fill="{c}">{html.escape(model)}</text>'
        )
    return "\n".join([*parts, "</svg>"])


def _svg_series(fc: Forecasts, market: str) -> str:
    """Daily forecast probabilities of each model, with the event days marked."""
    w, h = 900, 220
    models = fc.models
    base = fc.arrays(models[0], market)
    ts, ev = base["ts"], base["event"]
    if ts.size < 2:
        return ""
    t0, span = ts[0], ts[-1] - ts[0]

    def x(t: float) -> float:
        return PAD + (t - t0) / span * (w - 2 * PAD)

    parts = [f'<svg width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">']
    parts += [
        f'<line x1="{x(t):.1f}" y1="{PAD / 2}" x2="{x(t):.1f}" y2="{h - PAD}" stroke="#eee"/>'
        for t, e in zip(ts, ev, strict=True)
        if e == 1
    ]
    for k, model in enumerate(models):
        a = fc.arrays(model, market)
        pts = " ".join(
            f"{x(t):.1f},{h - PAD - p * (h - 1.5 * PAD):.1f}" for t, p in zip(a["ts"], a["p"], strict=True)
        )
        parts.append(
            f'<polyline fill="none" stroke="{COLOURS[k % len(COLOURS)]}" stroke-width="1" points="{pts}"/>'
        )
    parts.append(
        f'<text x="{PAD}" y="{h - 10}" font-size="11">{html.escape(market)}: P(next 24 h above threshold); grey = event days</text>'
    )
    return "\n".join([*parts, "</svg>"])


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
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;border-bottom:1px solid #ddd}</style></head><body>",
        "<h1>Liquidation-cascade forecasts: walk-forward backtest</h1>",
        f"<p><code>{html.escape(command)}</code></p>",
        f"<p>Threshold: {html.escape(result['threshold'])}. Test {result['spans']['test'][0]} .. {result['spans']['test'][1]}, "
        f"validation {result['spans']['validation'][0]} .. {result['spans']['validation'][1]}; refit every "
        f"{result['spans']['refit_every_days']} days. ML chosen on validation: {html.escape(v['ml_chosen'])} "
        f"(validation Brier {', '.join(f'{k} {x:.4f}' for k, x in v['ml_brier'].items())}).</p>",
        "<h2>Test span, pooled over markets</h2>",
        _table(["model", "days x markets", "events", "Brier", "BSS vs climatology", "BSS 90% CI", "alert level",
                "precision", "recall", "E[USD] RMSE (M$)", "E[USD] Spearman"], summary),
        "<h2>Reliability (test)</h2>", _svg_reliability(test),
        "<h2>Per market</h2>", _table(["model", "market", "events", "BSS", "precision", "recall"], per_market),
        "<h2>Lead time before the waves</h2>",
        _table(["model", "market", "wave", "lead days", "hours to crossing", "p at wave"], leads),
        "<h2>Forecasts</h2>", *(_svg_series(fc, m) for m in dict.fromkeys(fc.market)),
        f"<p>wall time {result['wall_seconds']:.1f} s</p></body></html>",
    ])  # fmt: skip
