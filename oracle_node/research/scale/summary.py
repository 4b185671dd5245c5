"""summary.json of a multi-market backtest, and the small table the CLI prints.

summary.json  {"markets_file", "executor": {kind, cores, address, startup_seconds}, "tasks", "failed",
               "wall_seconds", "load_seconds", "shared_objects", "per_task_seconds": {n, mean, p50,
               p95, min, max, sum}, "per_task_cpu_seconds" (the same for CPU time), "results": [{market, alpha, status, error, seconds, worker, out,
               test_start, test_end, best_model, models: {name: {violations, expected, kupiec_p,
               christoffersen_cc_p, traffic_light, fz0, mean_var}}}]}
best_model is the model with the lowest mean FZ0 loss on the test days (the joint VaR/ES score).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oracle_node import atomic
from oracle_node.research.scale.backtests import TaskResult, per_task_stats
from oracle_node.research.scale.executor import Executor
from oracle_node.research.scale.markets import MarketsPlan

SUMMARY_FILE = "summary.json"
KEPT = ("violations", "expected", "kupiec_p", "christoffersen_cc_p", "traffic_light", "fz0", "mean_var")


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def result_row(res: TaskResult) -> dict[str, Any]:
    row: dict[str, Any] = {
        "market": res.market,
        "alpha": res.alpha,
        "status": "error" if res.error else "ok",
        "error": res.error,
        "seconds": round(res.seconds, 3),
        "cpu_seconds": round(res.cpu_seconds, 3),
        "worker": res.worker,
        "out": f"{res.market}/alpha_{res.alpha:g}",
    }
    if res.error:
        return row
    models = {m: {k: _finite(v.get(k)) for k in KEPT} for m, v in res.metrics.items()}
    scored = {m: v["fz0"] for m, v in models.items() if v["fz0"] is not None}
    row.update(
        test_start=res.run.get("test_start"),
        test_end=res.run.get("test_end"),
        best_model=min(scored, key=scored.__getitem__) if scored else None,
        models=models,
    )
    return row


def executor_doc(executor: Executor) -> dict[str, Any]:
    return {
        "kind": executor.kind,
        "cores": executor.cores,
        "address": getattr(executor, "address", None),
        "startup_seconds": round(executor.startup_seconds, 3),
    }


def summary_doc(
    plan: MarketsPlan, executor: Executor, run: Any, row: Callable[[Any], dict[str, Any]] | None = None
) -> dict[str, Any]:
    """summary.json of a --markets run (ScaleRun; a TrainRun with its own `row` per result)."""
    rows = [(row or result_row)(r) for r in run.results]
    return {
        "markets_file": str(plan.source),
        "executor": executor_doc(executor),
        "tasks": len(rows),
        "failed": sum(r["status"] == "error" for r in rows),
        "wall_seconds": round(run.wall_seconds, 3),
        "load_seconds": round(run.load_seconds, 3),
        "shared_objects": run.puts,
        "per_task_seconds": per_task_stats(run.results),
        "per_task_cpu_seconds": per_task_stats(run.results, cpu=True),
        "results": rows,
    }


def write_summary(out: Path, doc: dict[str, Any]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / SUMMARY_FILE
    atomic.write_text(path, json.dumps(doc, indent=2, allow_nan=False) + "\n")
    return path


def format_table(doc: dict[str, Any]) -> str:
    """market, level, test period, best model by FZ0 with its breaches, light and FZ0, seconds."""
    head = f"{'market':20s} {'alpha':>6s}  {'test period':23s} {'best (fz0)':12s} {'breaches':>10s} {'light':6s} {'fz0':>8s} {'s':>6s}"
    lines = [head]
    for r in doc["results"]:
        if r["status"] == "error":
            lines.append(f"{r['market']:20s} {r['alpha']:6g}  error: {r['error']}")
            continue
        best = r["models"].get(r["best_model"], {}) if r["best_model"] else {}
        period = f"{r['test_start']}..{r['test_end']}"
        breaches = f"{best.get('violations', 0)}/{best.get('expected', 0.0):.1f}"
        fz0 = best.get("fz0")
        lines.append(
            f"{r['market']:20s} {r['alpha']:6g}  {period:23s} {r['best_model'] or '-':12s} {breaches:>10s} "
            f"{best.get('traffic_light', '-'):6s} {fz0 if fz0 is None else round(fz0, 4)!s:>8s} {r['seconds']:6.1f}"
        )
    return "\n".join(lines)
