"""Print the README's walk-forward tables from `oracle-node backtest` output directories.

    .venv/bin/python -m scripts.model_tables var/model-quality/issue12/btc_a0.01 [--extra DIR ...]

One markdown table per run directory (its metrics.json): every model's breaches, Kupiec and
Christoffersen p-values, traffic light, pinball, FZ0, Acerbi-Szekely Z2, mean VaR and margin ratio,
then the Diebold-Mariano line of the best ML model against the best baseline. `--extra DIR` adds the
ML rows of another run over the same test days (e.g. the `--lstm` or `--served` run), checked to share
the baselines' FZ0 within 1e-5 (GARCH fits warm-start from the previous day, so a run that starts its
walk earlier lands on the same optima up to the optimiser's tolerance), so its rows are comparable.
When an extra row has a lower FZ0 than the run's best ML model, the Diebold-Mariano line is computed
again from the two runs' forecasts.csv (values to 8 decimals), with that row as the best ML model.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from oracle_node.research.backtest.metrics import dm_group_best

BASELINES = ("hs", "ewma_normal", "garch_t", "gjr_skewt", "fhs")
HEADER = (
    "| model | breaches / expected | Kupiec p | Chr. ind p | Chr. cc p | traffic light | pinball | FZ0 "
    "| AS Z2 (p) | mean VaR | margin ratio |\n|---|---|---|---|---|---|---|---|---|---|---|"
)


def load(directory: Path) -> dict[str, Any]:
    path = directory / "metrics.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: {path}: {exc}") from None


def row(name: str, m: dict[str, Any]) -> str:
    eff = m["margin_efficiency"]
    p = m["acerbi_szekely_p"]  # None for a model without simulated draws (the combination)
    z2 = f"{m['acerbi_szekely_z2']:.3f} ({'-' if p is None else f'{p:.2f}'})"
    return (
        f"| {name} | {m['violations']} / {m['expected']:.1f} | {m['kupiec_p']:.3f} "
        f"| {m['christoffersen_ind_p']:.3f} | {m['christoffersen_cc_p']:.3f} | {m['traffic_light']} "
        f"| {m['pinball'] * 1e3:.3f}e-3 | {m['fz0']:.4f} "
        f"| {z2} | {m['mean_var']:.4f} "
        f"| {eff['ratio']:.3f} ({eff['model_mean_margin']:.3f} vs {eff['fixed_margin']:.3f}) |"
    )


def extra_rows(main: dict[str, Any], extra: dict[str, Any], where: Path) -> dict[str, dict[str, Any]]:
    for b in BASELINES:
        a, e = main["models"].get(b), extra["models"].get(b)
        if a is not None and e is not None and abs(a["fz0"] - e["fz0"]) > 1e-5:
            raise SystemExit(
                f"error: {where}: baseline {b} differs from the main run (not the same test days)"
            )
    return {n: m for n, m in extra["models"].items() if n not in BASELINES and n not in main["models"]}


def forecasts(directory: Path) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """(returns, {model: (VaR, ES)}) from a run's forecasts.csv."""
    path = directory / "forecasts.csv"
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise SystemExit(f"error: {path}: {exc}") from None
    col = {k: np.array([float(r[k]) for r in rows]) for k in (rows[0] if rows else {}) if k != "date"}
    names = [k[4:] for k in col if k.startswith("var_")]
    return col.get("return", np.empty(0)), {n: (col[f"var_{n}"], col[f"es_{n}"]) for n in names}


def dm_with_extras(run: dict[str, Any], directory: Path, best: tuple[str, Path]) -> dict[str, Any] | None:
    """The best-ML-vs-best-baseline DM test with `best` (model, its run directory) among the ML models."""
    r, paths = forecasts(directory)
    r_extra, extra = forecasts(best[1])
    if r.shape != r_extra.shape or np.max(np.abs(r - r_extra), initial=0.0) > 1e-8:
        raise SystemExit(f"error: {best[1]}: forecasts.csv returns differ from {directory}")
    paths[best[0]] = extra[best[0]]
    return dm_group_best(r, paths, run["alpha"], [*run.get("ml_models", []), best[0]])


def table(directory: Path, extras: list[Path]) -> str:
    data = load(directory)
    run = data["run"]
    models = dict(data["models"])
    origin: dict[str, Path] = {}
    for e in extras:
        rows = extra_rows(data, load(e), e)
        models.update(rows)
        origin.update(dict.fromkeys(rows, e))
    title = (
        f"#### {run['asset']} alpha {run['alpha']}: test {run['test_start']} .. {run['test_end']} "
        f"({run['test_days']} days), wall {run['wall_seconds']:.0f} s"
    )
    lines = [title, "", HEADER, *(row(n, m) for n, m in models.items())]
    dm = run.get("dm_fz0_best_ml_vs_best_baseline")
    better = [n for n in origin if dm and models[n]["fz0"] < dm["fz0_ml"]]
    if better:
        best = min(better, key=lambda n: models[n]["fz0"])
        dm = dm_with_extras(run, directory, (best, origin[best]))
    if dm:
        lines += [
            "",
            f"Diebold-Mariano, FZ0 loss, best ML `{dm['ml']}` ({dm['fz0_ml']:.4f}) vs best baseline "
            f"`{dm['baseline']}` ({dm['fz0_baseline']:.4f}): mean differential {dm['mean_differential']:+.4f}, "
            f"statistic {dm['statistic']:+.3f}, p = {dm['p_value']:.3f} (HAC, {dm['lags']} lags).",
        ]
    return "\n".join(lines)


def _same_test(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a[k] == b[k] for k in ("asset", "alpha", "test_start", "test_end"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", nargs="+", type=Path, help="backtest output directories")
    parser.add_argument(
        "--extra", type=Path, action="append", default=[], help="a run whose ML rows join every table"
    )
    args = parser.parse_args(argv)
    for r in args.runs:
        print(table(r, [e for e in args.extra if _same_test(load(e)["run"], load(r)["run"])]), end="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
