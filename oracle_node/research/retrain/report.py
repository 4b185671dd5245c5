"""Outputs of the retrain-policy study: metrics.json (every candidate, every span), report.md
(the tables of docs/retrain-policy.md), forecasts.csv (the three chosen policies) and the
recommendation line the command prints."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from oracle_node import atomic
from oracle_node.errors import DataError
from oracle_node.research.retrain.run import Study

RULE = (
    "schedule N and drift gap: lowest mean FZ0 on the validation span (ties: fewer retrains); drift "
    "thresholds: the monitor's defaults (not tuned); default policy: lowest mean FZ0 of never / chosen "
    "schedule / chosen drift on the evaluation span"
)


def _safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


def study_doc(study: Study, run: dict[str, Any]) -> dict[str, Any]:
    policies = {
        m: {
            "policy": {k: v for k, v in asdict(p.policy).items() if k != "drift"} | {"drift": asdict(p.policy.drift)},
            "fit_days": [study.dates[k] for k in p.fit_rows],
            "fit_seconds": round(p.fit_seconds, 3),
            "validation": study.validation[m],
            "evaluation": study.evaluation[m],
            "yearly": study.yearly.get(m),
        }
        for m, p in study.paths.items()
    }  # fmt: skip
    run = run | {"config": asdict(study.cfg), "wall_seconds": round(study.wall_seconds, 3)}
    rec = {"policy": study.recommended, "evaluation": study.evaluation[study.recommended], "rule": RULE,
           "dm_vs_other_chosen": study.head_to_head}  # fmt: skip
    return _safe({"run": run, "chosen": study.chosen, "recommendation": rec, "policies": policies})


def _dm(s: dict[str, Any]) -> str:
    dm = s.get("dm_vs_never")
    return "-" if dm is None else f"{dm['statistic']:+.2f} (p {dm['p_value']:.3f})"


def _row(name: str, s: dict[str, Any]) -> str:
    return (
        f"| {name} | {s['breaches']} / {s['expected']:.1f} | {s['kupiec_p']:.3f} | {s['christoffersen_ind_p']:.3f} "
        f"| {s['christoffersen_cc_p']:.3f} | {s['fz0']:.4f} | {s['mean_var']:.4f} | {s['retrains']} | {_dm(s)} |"
    )


HEAD = (
    "| {0} | breaches / expected | Kupiec p | Chr. ind p | Chr. cc p | FZ0 | mean VaR | retrains | DM vs never (p) |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def render_markdown(study: Study) -> str:
    cfg, (lo, hi) = study.cfg, study.eval_span
    out = [
        f"## Validation span {cfg.start} .. {cfg.valid_end} (choices read only this)",
        "",
        HEAD.format("candidate"),
    ]
    out += [_row(m, study.validation[m]) for m in study.paths]
    out += ["", f"Chosen: {study.chosen['schedule']}, {study.chosen['drift']}.", ""]
    out += [f"## Evaluation span {lo} .. {hi}", "", HEAD.format("policy")]
    out += [_row(m, study.evaluation[m]) for m in study.chosen.values()]
    out += ["", "Sensitivity (not chosen; never used to choose):", "", HEAD.format("candidate")]
    out += [_row(m, study.evaluation[m]) for m in study.paths if m not in study.chosen.values()]
    for m in study.chosen.values():
        out += ["", f"### {m} per calendar year", "", HEAD.format("year")]
        out += [_row(y, s) for y, s in study.yearly[m].items()]
    out += ["", recommendation(study), ""]
    return "\n".join(out)


def recommendation(study: Study) -> str:
    m = study.recommended
    s = study.evaluation[m]
    lo, hi = study.eval_span
    versus = "; ".join(
        f"vs {o} {d['statistic']:+.2f} (p {d['p_value']:.3f})" for o, d in study.head_to_head.items()
    )
    return (
        f"Recommended default retrain policy: {m} (FZ0 {s['fz0']:.4f} on {lo} .. {hi}, "
        f"{s['breaches']} breaches / {s['expected']:.1f} expected, {s['retrains']} retrains; "
        f"DM FZ0 {versus})"
    )


def write_study(out: Path, study: Study, run: dict[str, Any]) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        doc = study_doc(study, run)
        atomic.write_text(out / "metrics.json", json.dumps(doc, indent=2, allow_nan=False) + "\n")
        atomic.write_text(out / "report.md", render_markdown(study))
        _write_forecasts(out / "forecasts.csv", study)
    except OSError as exc:
        raise DataError(
            str(out), None, None, exc.strerror, "cannot write the retrain-policy outputs"
        ) from exc


def _write_forecasts(path: Path, study: Study) -> None:
    chosen = [study.paths[m] for m in study.chosen.values()]
    first = chosen[0].first
    with atomic.atomic_write(path, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "return", *(f"{c}_{p.policy.label}" for p in chosen for c in ("var", "es"))])
        for i in range(chosen[0].var.size):
            cells = [f"{v:.8f}" for p in chosen for v in (p.var[i], p.es[i])]
            w.writerow([study.dates[first + i], f"{chosen[0].returns[i]:.8f}", *cells])
