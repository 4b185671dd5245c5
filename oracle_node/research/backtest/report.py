"""The HTML backtest report: metadata, the metrics table and matplotlib charts inlined as PNG
(oracle_node/figures.py: no scripts, no CDN, no network).

Charts: the price over the test window (log scale), then per model the realised daily returns with
-VaR and -ES drawn under them and every breach (return < -VaR) marked by a red dot. When the
metrics carry a `risk_score` object, a calibration table and a reliability diagram (a panel per model). With
the `qgbm` model, its TreeSHAP attributions over the test days (research/backtest/attribution.py):
what drove its VaR up on the largest day-over-day increases, and each feature's contribution per day.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure

from oracle_node import figures
from oracle_node.research.backtest.attribution import AttributionSeries, biggest_increases

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
    ".green{background:#d8f5d8}.yellow{background:#fff3c4}.red{background:#ffd0d0}" + figures.CSS
)


def _dated(dates: Sequence[str], title: str, y_label: str) -> tuple[Figure, Any]:
    """A wide time chart over the test days: figure and its axes, titled and labelled."""
    fig, axes = figures.new(10.0, 3.0)
    ax = axes[0, 0]
    ax.set_title(title)
    ax.set_ylabel(y_label)
    figures.date_axis(ax, "test day (UTC)")
    return fig, ax


def price_figure(dates: Sequence[str], close: np.ndarray, asset: str) -> Figure:
    """The close over the test window on a log axis, ticks at round prices."""
    fig, ax = _dated(dates, f"{asset} close over the test window", "close, USD (log scale)")
    ax.plot(figures.days(dates), close, color="#1f4e9a", lw=1.2, label=f"{asset} daily close")
    ax.set_yscale("log")
    lo, hi = float(close.min()), float(close.max())
    if hi < 10 * lo:  # less than a decade: evenly spaced round prices
        ax.yaxis.set_major_locator(ticker.MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    else:
        ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ticker.StrMethodFormatter("{x:,.0f}"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    figures.legend_outside(ax)
    return fig


def var_figure(
    dates: Sequence[str], returns: np.ndarray, var: np.ndarray, es: np.ndarray, name: str
) -> Figure:
    """Daily returns with -VaR and -ES under them and every breach (return < -VaR) as a red dot."""
    hit = np.flatnonzero(returns < -var)
    fig, ax = _dated(dates, f"{name}: {hit.size} breaches in {returns.size} days", "1-day log return, %")
    t = np.array(figures.days(dates))
    ax.plot(t, returns, color="#999", lw=0.9, label="daily return")
    ax.plot(t, -var, color="#d11", lw=1.1, label="-VaR")
    ax.plot(t, -es, color="#e80", lw=1.1, ls="--", label="-ES")
    ax.plot(t[hit], returns[hit], "o", ms=4, color="#d11", label=f"breach ({hit.size})")
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(1.0, decimals=0))
    figures.legend_outside(ax)
    return fig


def var_chart(dates: Sequence[str], returns: np.ndarray, var: np.ndarray, es: np.ndarray, name: str) -> str:
    hit = int(np.count_nonzero(returns < -var))
    title = f"{name}: daily return, -VaR, -ES, {hit} breaches"
    return f"<h3>{html.escape(title)}</h3>" + figures.img(var_figure(dates, returns, var, es, name), title)


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


def reliability_figure(scored: dict[str, dict[str, Any]]) -> Figure:
    """One panel per model: mean score (x) against observed frequency (y) per bin, dot area ~ days;
    the diagonal is perfect calibration."""
    cols = min(len(scored), 4)
    rows = -(-len(scored) // cols)
    fig, axes = figures.new(2.9 * cols + 1.6, 3.0 * rows, rows, cols, layout="constrained")
    for ax, (name, c) in zip(axes.flat, scored.items(), strict=False):
        bins = [b for b in c["reliability"] if b["days"]]
        total = max(sum(b["days"] for b in bins), 1)
        ax.plot([0, 1], [0, 1], ls="--", color="#bbb", lw=1, label="perfect calibration")
        ax.scatter([b["mean_score"] for b in bins], [b["observed"] for b in bins],
                   s=[8 + 300 * b["days"] / total for b in bins], color="#1f4e9a", alpha=0.6,
                   label="score bin (area ~ days)")  # fmt: skip
        ax.set(
            xlim=(-0.03, 1.03),
            ylim=(-0.03, 1.03),
            title=name,
            xlabel="mean score (probability)",
            ylabel="observed frequency",
        )
        ax.set_aspect("equal")
    for ax in list(axes.flat)[len(scored) :]:
        ax.set_visible(False)
    figures.legend_outside(axes[0, -1])
    fig.suptitle("Risk score reliability (test days with a known outcome)")
    return fig


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
        + figures.img(reliability_figure(scored), f"reliability of the risk score: {', '.join(scored)}")
    )


def attribution_figure(series: AttributionSeries) -> Figure:
    """Each feature's contribution to the raw VaR per test day, one line per feature."""
    fig, ax = _dated(series.dates, f"{series.model}: contribution of each feature to the raw VaR",
                     "contribution to raw VaR, %")  # fmt: skip
    t = figures.days(series.dates)
    ax.axhline(0.0, color="#000", lw=0.8, ls=":")
    cycle = [f"C{k}" for k in range(10)] + ["#000"]
    for j, name in enumerate(series.features):
        ax.plot(t, series.contributions[:, j], lw=1.0, color=cycle[j % len(cycle)], label=name)
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(1.0, decimals=1))
    figures.legend_outside(ax)
    return fig


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
        + figures.img(attribution_figure(series), f"{series.model}: contribution to raw VaR per day")
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
    asset = str(meta.get("asset"))
    price = figures.img(price_figure(dates, close, asset), f"{asset} close (log scale)")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Backtest {html.escape(str(meta.get('asset')))}"
        f"</title><style>{CSS}</style></head><body><h1>VaR/ES walk-forward backtest</h1>"
        f"<p>Generated {stamp}. VaR and ES are 1-day log-return losses at alpha = {meta.get('alpha')}; "
        f"a breach is a day whose return is below -VaR.</p><table>{info}</table><h2>Metrics</h2>"
        f"{metrics_table(models)}{score_section(models)}<h2>Charts</h2>{price}{charts}"
        f"{attribution_section(attribution)}</body></html>"
    )
