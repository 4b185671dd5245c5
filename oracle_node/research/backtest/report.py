"""The HTML backtest report: metadata, the metrics table and inline SVG charts (no scripts, no CDN).

Charts: the price over the test window (log scale), then per model the realised daily returns with
-VaR and -ES drawn under them and every breach (return < -VaR) marked by a red dot. When the
metrics carry a `risk_score` object, a calibration table and a reliability diagram per model. With
the `qgbm` model, its TreeSHAP attributions over the test days (research/backtest/attribution.py):
what drove its VaR up on the largest day-over-day increases, and each feature's contribution per day.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from oracle_node.research.backtest.attribution import AttributionSeries, biggest_increases

WIDTH, HEIGHT, PAD_L, PAD_R, PAD_T, PAD_B = 900, 260, 60, 10, 12, 28
TABLE_KEYS = (
    ("violations", "{:d}"),
    ("expected", "{:.1f}"),
    ("rate", "{:.2%}"),
    ("kupiec_p", "{:.3f}"),
    ("christoffersen_ind_p", "{:.3f}"),
    ("christoffersen_cc_p", "{:.3f}"),
    ("traffic_light", "{}"),
    ("pinball", "{:.5f}"),
    ("fz0", "{:.4f}"),
    ("acerbi_szekely_z2", "{:.3f}"),
    ("acerbi_szekely_p", "{:.3f}"),
    ("mean_var", "{:.2%}"),
)
CSS = (
    "body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}"
    ".green{background:#d8f5d8}.yellow{background:#fff3c4}.red{background:#ffd0d0}svg{display:block}"
)


class Frame:
    """Maps data coordinates into the plot rectangle."""

    def __init__(self, x: np.ndarray, lo: float, hi: float) -> None:
        self.x0, self.x1 = float(x[0]), float(x[-1]) if x[-1] > x[0] else float(x[0]) + 1.0
        self.lo, self.hi = lo, hi if hi > lo else lo + 1.0

    def px(self, x: np.ndarray) -> np.ndarray:
        return PAD_L + (x - self.x0) / (self.x1 - self.x0) * (WIDTH - PAD_L - PAD_R)

    def py(self, y: np.ndarray) -> np.ndarray:
        return PAD_T + (self.hi - y) / (self.hi - self.lo) * (HEIGHT - PAD_T - PAD_B)


def _polyline(f: Frame, x: np.ndarray, y: np.ndarray, color: str, extra: str = "") -> str:
    pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(f.px(x), f.py(y), strict=True))
    return f'<polyline fill="none" stroke="{color}" stroke-width="1" {extra} points="{pts}"/>'


def _axes(f: Frame, dates: Sequence[str], ticks: Sequence[tuple[float, str]]) -> str:
    parts = [
        f'<rect x="{PAD_L}" y="{PAD_T}" width="{WIDTH - PAD_L - PAD_R}" '
        f'height="{HEIGHT - PAD_T - PAD_B}" fill="none" stroke="#999"/>'
    ]
    for value, label in ticks:
        y = float(f.py(np.array([value]))[0])
        parts.append(f'<line x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{PAD_L - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{label}</text>')
    for i in np.linspace(0, len(dates) - 1, 6).astype(int):
        x = float(f.px(np.array([float(i)]))[0])
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 8}" font-size="10" text-anchor="middle">{dates[i]}</text>'
        )
    return "".join(parts)


def _svg(body: str, title: str) -> str:
    return (
        f'<h3>{html.escape(title)}</h3><svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">{body}</svg>'
    )


def price_chart(dates: Sequence[str], close: np.ndarray, asset: str) -> str:
    x = np.arange(close.size, dtype=float)
    logp = np.log10(close)
    f = Frame(x, float(logp.min()), float(logp.max()))
    ticks = [(v, f"{10**v:,.0f}") for v in np.linspace(f.lo, f.hi, 5)]
    return _svg(_axes(f, dates, ticks) + _polyline(f, x, logp, "#1f4e9a"), f"{asset} close (log scale)")


def var_chart(dates: Sequence[str], returns: np.ndarray, var: np.ndarray, es: np.ndarray, name: str) -> str:
    x = np.arange(returns.size, dtype=float)
    lo = float(min(returns.min(), (-es).min()))
    f = Frame(x, lo * 1.05, float(returns.max()) * 1.05)
    ticks = [(v, f"{v:.0%}") for v in np.linspace(f.lo, f.hi, 5)]
    hit = np.flatnonzero(returns < -var)
    dots = "".join(
        f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="#d11"/>'
        for a, b in zip(f.px(x[hit]), f.py(returns[hit]), strict=True)
    )
    body = (
        _axes(f, dates, ticks)
        + _polyline(f, x, returns, "#999")
        + _polyline(f, x, -var, "#d11")
        + _polyline(f, x, -es, "#e80", 'stroke-dasharray="4 3"')
        + dots
    )
    return _svg(body, f"{name}: daily return (grey), -VaR (red), -ES (orange), {hit.size} breaches")


def metrics_table(models: dict[str, dict[str, Any]]) -> str:
    head = "".join(f"<th>{k}</th>" for k, _ in TABLE_KEYS)
    rows = []
    for name, m in models.items():
        cells = []
        for key, fmt in TABLE_KEYS:
            value = m.get(key)
            text = "-" if value is None else fmt.format(value)
            cls = f' class="{value}"' if key == "traffic_light" else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        rows.append(f"<tr><th>{html.escape(name)}</th>{''.join(cells)}</tr>")
    return f"<table><tr><th>model</th>{head}</tr>{''.join(rows)}</table>"


SCORE_KEYS = (
    ("days_with_outcome", "{:d}"),
    ("base_rate", "{:.3f}"),
    ("brier", "{:.4f}"),
    ("brier_climatology", "{:.4f}"),
    ("brier_skill", "{:+.3f}"),
    ("max_decile_share", "{:.1%}"),
    ("median_score_bp", "{:.0f}"),
    ("ordinary_median_bp", "{:.0f}"),
    ("ordinary_top_decile_share", "{:.1%}"),
)
SIDE = 220


def reliability_svg(name: str, bins: list[dict[str, Any]]) -> str:
    """Mean score (x) against observed frequency (y) per bin, dot area ~ days; the diagonal is perfect."""
    pad, size = 30, SIDE - 40
    parts = [
        f'<rect x="{pad}" y="10" width="{size}" height="{size}" fill="none" stroke="#999"/>',
        f'<line x1="{pad}" y1="{10 + size}" x2="{pad + size}" y2="10" stroke="#bbb" stroke-dasharray="3 3"/>',
        f'<text x="{pad + size / 2}" y="{SIDE - 4}" font-size="10" text-anchor="middle">score</text>',
        f'<text x="4" y="{10 + size / 2}" font-size="10">obs</text>',
    ]
    total = max(sum(b["days"] for b in bins), 1)
    for b in bins:
        if not b["days"]:
            continue
        x, y = pad + b["mean_score"] * size, 10 + (1.0 - b["observed"]) * size
        r = 2.0 + 10.0 * (b["days"] / total) ** 0.5
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="#1f4e9a" fill-opacity="0.6"/>')
    return (
        f'<figure style="display:inline-block;margin:4px"><svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{SIDE}" height="{SIDE}">{"".join(parts)}</svg><figcaption>{html.escape(name)}</figcaption></figure>'
    )


def score_section(models: dict[str, dict[str, Any]]) -> str:
    """The risk score's out-of-sample calibration (metrics' `risk_score` objects), if computed."""
    scored = {n: m["risk_score"] for n, m in models.items() if m.get("risk_score")}
    if not scored:
        return ""
    head = "".join(f"<th>{k}</th>" for k, _ in SCORE_KEYS)
    rows = []
    for name, c in scored.items():
        cells = "".join(
            f"<td>{'-' if c.get(k) is None else html.escape(fmt.format(c[k]))}</td>" for k, fmt in SCORE_KEYS
        )
        rows.append(f"<tr><th>{html.escape(name)}</th>{cells}</tr>")
    h = next(iter(scored.values()))["horizon_days"]
    return (
        f"<h2>Risk score calibration</h2><p>score = P(|log move over {h} days| &gt; the market's median "
        f"{h}-day move of its last four years, known before the day), from each model's VaR and ES "
        "(implied Student-t); event observed out of sample. Brier skill = 1 - Brier / climatology "
        "(the constant forecast at the observed base rate). Ordinary days: trailing 30-day realised vol "
        "inside its interquartile range.</p>"
        f"<table><tr><th>model</th>{head}</tr>{''.join(rows)}</table><h3>Reliability</h3>"
        + "".join(reliability_svg(n, c["reliability"]) for n, c in scored.items())
    )


PALETTE = ("#1f4e9a", "#d11", "#e80", "#2a2", "#80c", "#0aa", "#a60", "#777", "#c4a", "#4c8", "#468")


def attribution_chart(series: AttributionSeries) -> str:
    """Each feature's contribution to the raw VaR per test day (colour per feature, legend in the title)."""
    x = np.arange(series.var.size, dtype=float)
    c = series.contributions
    f = Frame(x, float(min(c.min(), 0.0)) * 1.05, float(max(c.max(), 0.0)) * 1.05)
    ticks = [(v, f"{v:+.1%}") for v in np.linspace(f.lo, f.hi, 5)]
    lines = "".join(_polyline(f, x, c[:, j], PALETTE[j % len(PALETTE)]) for j in range(c.shape[1]))
    zero = _polyline(f, x[[0, -1]], np.zeros(2), "#000", 'stroke-dasharray="2 2"')
    legend = ", ".join(f"{n} ({PALETTE[j % len(PALETTE)]})" for j, n in enumerate(series.features))
    return _svg(
        _axes(f, series.dates, ticks) + zero + lines,
        f"{series.model}: contribution to raw VaR per day: {legend}",
    )


def attribution_section(series: AttributionSeries | None, days: int = 8, top: int = 3) -> str:
    """The largest day-over-day raw VaR increases with the features whose contributions moved most."""
    if series is None or series.var.size < 2:
        return ""
    rows = []
    for i in biggest_increases(series, days):
        delta = series.contributions[i] - series.contributions[i - 1]
        order = np.argsort(-delta, kind="stable")[:top]
        drivers = "; ".join(f"{series.features[j]} {delta[j]:+.2%}" for j in order)
        rows.append(
            f"<tr><th>{html.escape(series.dates[i])}</th><td>{series.var[i - 1]:.2%}</td>"
            f"<td>{series.var[i]:.2%}</td><td>{series.var[i] - series.var[i - 1]:+.2%}</td>"
            f"<td style='text-align:left'>{html.escape(drivers)}</td></tr>"
        )
    return (
        f"<h2>Attributions ({html.escape(series.model)}, TreeSHAP)</h2><p>Raw VaR = -har_m x the model's "
        "1 % standardised quantile, before the conformal multiplier; per day expected value + the "
        "features' contributions = raw VaR. The largest day-over-day increases and the features whose "
        "contributions rose most:</p><table><tr><th>day forecast (features to the previous close)</th><th>raw VaR before</th><th>after</th>"
        f"<th>change</th><th>top drivers (change of contribution)</th></tr>{''.join(rows)}</table>"
        + attribution_chart(series)
    )


def render_report(
    meta: dict[str, Any],
    models: dict[str, dict[str, Any]],
    dates: Sequence[str],
    close: np.ndarray,
    returns: np.ndarray,
    paths: dict[str, tuple[np.ndarray, np.ndarray]],
    attribution: AttributionSeries | None = None,
) -> str:
    """The complete HTML page (close: prices at the test days' closes)."""
    info = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in meta.items()
    )
    charts = "".join(var_chart(dates, returns, var, es, name) for name, (var, es) in paths.items())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Backtest {html.escape(str(meta.get('asset')))}"
        f"</title><style>{CSS}</style></head><body><h1>VaR/ES walk-forward backtest</h1>"
        f"<p>Generated {stamp}. VaR and ES are 1-day log-return losses at alpha = {meta.get('alpha')}; "
        f"a breach is a day whose return is below -VaR.</p><table>{info}</table><h2>Metrics</h2>"
        f"{metrics_table(models)}{score_section(models)}<h2>Charts</h2>{price_chart(dates, close, str(meta.get('asset')))}{charts}"
        f"{attribution_section(attribution)}</body></html>"
    )
