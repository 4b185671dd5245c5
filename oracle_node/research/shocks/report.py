"""The shock backtest's files: metrics.json, forecasts.csv, report.md (tables) and shocks.png (test period)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure

from oracle_node import atomic, figures
from oracle_node.research.shocks.metrics import SIDES
from oracle_node.research.shocks.run import BacktestResult

OUTPUTS = ("metrics.json", "forecasts.csv", "report.md", "shocks.png")
LABELS = {
    "ml": "ML (served)",
    "trees": "GBM trees (comparison)",
    "fixed": "fixed +50%/-25%",
    "empirical": "empirical",
}


def _table(scores: dict[str, Any], window: int) -> list[str]:
    rows = [
        "| method | side | exceed. / expected | Kupiec p | Chr. ind p | pinball (x1e3) | mean shock | DM p vs fixed | DM p vs empirical |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, sides in scores.items():
        label = LABELS[name] + (f" ({window} d)" if name == "empirical" else "")
        for s in SIDES:
            m = sides[s]
            dm = [f"{m[k]['p_value']:.3f}" if k in m else "" for k in ("dm_vs_fixed", "dm_vs_empirical")]
            rows.append(
                f"| {label} | {s} | {m['exceedances']} / {m['expected']:.1f} | {m['kupiec_p']:.3f} | "
                f"{m['christoffersen_ind_p']:.3f} | {m['pinball'] * 1e3:.3f} | {m['mean_shock']:.1%} | {dm[0]} | {dm[1]} |"
            )
    return rows


def markdown(result: BacktestResult, command: str) -> str:
    m = result.metrics
    sel = m["selection"]
    lines = [
        "# ML vol shocks: walk-forward backtest",
        "",
        f"Command: `{command}`  ",
        f"Target: {m['target']}.  ",
        f"Periods: validation {m['periods']['validation']}, test {m['periods']['test']} (first, last, days); "
        f"refit every {m['options']['refit_every']} days, expanding window.  ",
        f"Chosen on validation: served `{sel['served']}`, trees `{sel['trees']}`, empirical window "
        f"{sel['empirical_window']} days ({sel['criterion']}).",
        "",
    ]
    notes = {
        "test": " (out of sample: the result)",
        "validation": " (where the configurations were chosen: optimistic)",
        "validation+test": " (both years, 2x the exceedances; the validation half was used for the choice)",
    }
    for period, note in notes.items():
        lines += [f"## {period}{note}", "", *_table(m["scores"][period], sel["empirical_window"]), ""]
    lines += ["## Targets on the test period", ""]
    lines += [
        f"- {k}: {v if not isinstance(v, float) else f'{v:.1%}'}" for k, v in m["targets_on_test"].items()
    ]
    return "\n".join(lines + _robustness(m, sel)) + "\n"


def _robustness(m: dict[str, Any], sel: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Robustness: every candidate on the test period (used for no choice)",
        "",
        "| candidate | validation pooled pinball (x1e3) | test pooled pinball (x1e3) | test exceed. up / down |",
        "|---|---|---|---|",
    ]
    val = sel["validation_pooled_pinball"]
    for name, r in sorted(
        m["robustness_test_all_candidates"].items(), key=lambda kv: kv[1]["pooled_pinball"]
    ):
        lines.append(
            f"| {name} | {val[name] * 1e3:.3f} | {r['pooled_pinball'] * 1e3:.3f} | "
            f"{r['exceedances_up']} / {r['exceedances_down']} |"
        )
    emp = m["scores"]["test"]["empirical"]
    test_emp = 0.5 * (emp["up"]["pinball"] + emp["down"]["pinball"])
    lines.append(
        f"| empirical_w{sel['empirical_window']} (baseline) | {val['empirical_w' + str(sel['empirical_window'])] * 1e3:.3f} "
        f"| {test_emp * 1e3:.3f} | {emp['up']['exceedances']} / {emp['down']['exceedances']} |"
    )
    return lines


def write_forecasts(path: Path, result: BacktestResult) -> None:
    fr = result.frame
    with atomic.atomic_write(path, newline="") as fh:
        w = csv.writer(fh)
        names = list(result.forecasts["test"])
        w.writerow(["period", "day", "y", *(f"{n}_{s}" for n in names for s in ("q_up", "q_down"))])
        for period, rows in (("validation", result.split.val), ("test", result.split.test)):
            fc = result.forecasts[period]
            for k, i in enumerate(rows):
                vals = [f"{fc[n][j][k]:.6f}" for n in names for j in (0, 1)]
                w.writerow([period, str(np.datetime64(int(fr.day[i]), "D")), f"{fr.y[i]:.6f}", *vals])


def shocks_figure(result: BacktestResult) -> Figure:
    """The realised DVOL change over the horizon and each model's up / down shock, test period."""
    rows = result.split.test
    days = result.frame.day[rows].astype("datetime64[D]").astype(object)
    y = result.frame.y[rows]
    fc = result.forecasts["test"]
    fig, axes = figures.new(11.0, 4.0)
    ax = axes[0, 0]
    h, level = result.frame.horizon, result.metrics["options"]["level"]
    ax.plot(days, np.expm1(y), color="0.3", lw=0.7, label=f"DVOL {h}-day change")
    for name, color in (("ml", "C0"), ("empirical", "C1"), ("fixed", "C3")):
        up, down = fc[name]
        ax.plot(days, np.expm1(up), color=color, lw=1.0, label=f"{LABELS[name]} up / down")
        ax.plot(days, np.expm1(down), color=color, lw=1.0)
    ax.set_ylabel(f"relative change of DVOL over {h} day(s), %")
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(1.0, decimals=0))
    ax.set_title(f"{level:.1%} vol shocks over {h} day(s), test period (out of sample)")
    figures.date_axis(ax, "day (UTC)")
    figures.legend_outside(ax)
    return fig


def plot(path: Path, result: BacktestResult) -> None:
    atomic.write_bytes(path, figures.png(shocks_figure(result)))


def write_report(out: Path, result: BacktestResult, command: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out / "metrics.json", json.dumps(result.metrics, indent=1, sort_keys=True) + "\n")
    atomic.write_text(out / "report.md", markdown(result, command))
    write_forecasts(out / "forecasts.csv", result)
    plot(out / "shocks.png", result)
