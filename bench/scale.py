"""`make bench-scale`: the multi-market backtest run serially and as Ray tasks on this machine.

8 markets x 2 levels (alpha 1 % and 2.5 %) = 16 walk-forward backtests, from bench/scale_markets.yaml:
real bundled prices only (BTC-USD daily, Binance BTC/USDT and ETH/USDT hourly), each market a
different 120-day test period of its series (there are not 8 distinct real assets; see the file).
Each executor runs the same plan from the same loaded histories; the per-market metrics must agree
exactly (checked, recorded as identical_results).

Before each run the bench waits (up to --max-wait s) for the cores to be idle and measures what the
machine can give right now: the speed-up of `cores` processes over one on a pure-Python loop
(machine_speedup_before; on a shared machine other work takes cores and both numbers drop).

Recorded: cores, idle cores and load average around each run, per-task
wall and CPU seconds (mean, p50, p95), peak memory of a task's process, the shared objects and their
size, Ray's start-up (ray.init) and shutdown, each executor's wall time, and the speed-up of Ray over
serial with and without Ray's start-up.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from oracle_node.research.scale.backtests import ScaleRun, load_histories, per_task_stats, run_markets
from oracle_node.research.scale.executor import make_executor
from oracle_node.research.scale.markets import MarketsPlan, load_markets

MARKETS = Path(__file__).resolve().parent / "scale_markets.yaml"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _cpu_times() -> tuple[int, int]:
    """(idle + iowait, total) jiffies of all CPUs since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return fields[3] + fields[4], sum(fields)


def idle_cores(seconds: float = 2.0) -> float:
    """Cores left idle by everything else on the machine over the next `seconds`."""
    idle0, total0 = _cpu_times()
    time.sleep(seconds)
    idle1, total1 = _cpu_times()
    return round((idle1 - idle0) / max(1, total1 - total0) * (os.cpu_count() or 1), 2)


def wait_idle(cores: int, max_wait: float) -> tuple[float, float]:
    """Wait (up to `max_wait` s) until `cores` cores are idle: other work on a shared machine would
    slow one run and not the other. -> (idle cores at the start, seconds waited)."""
    started = time.monotonic()
    while (idle := idle_cores()) < cores - 0.25 and time.monotonic() - started < max_wait:
        time.sleep(3.0)
    return idle, round(time.monotonic() - started, 1)


def _burn(n: int) -> float:
    t, s = time.perf_counter(), 0
    for i in range(n):
        s += i
    return time.perf_counter() - t


def machine_speedup(cores: int, n: int = 20_000_000) -> float:
    """Speed-up of `cores` processes over one on a pure-Python loop: what the machine can give now."""
    started = time.perf_counter()
    for _ in range(cores):
        _burn(n)
    serial = time.perf_counter() - started
    started = time.perf_counter()
    with mp.get_context("fork").Pool(cores) as pool:
        pool.map(_burn, [n] * cores)
    return round(serial / (time.perf_counter() - started), 3)


def _measure(
    kind: str, plan: MarketsPlan, cores: int, out: Path, max_wait: float
) -> tuple[dict[str, Any], ScaleRun]:
    idle, waited = wait_idle(cores, max_wait)
    calibration = machine_speedup(cores)
    load_before = _load()
    started = time.perf_counter()
    executor = make_executor(kind, cores)
    try:
        run = run_markets(plan, executor, out / kind)
    finally:
        closing = time.perf_counter()
        executor.close()
        closed = time.perf_counter()
    failed = [f"{r.market} {r.alpha}: {r.error}" for r in run.results if r.error]
    if failed:
        raise SystemExit(f"bench-scale: {kind}: tasks failed: {failed}")
    doc = {
        "cores": executor.cores,
        "startup_seconds": round(executor.startup_seconds, 3),
        "shutdown_seconds": round(closed - closing, 3),
        "load_seconds": round(run.load_seconds, 3),
        "wall_seconds": round(run.wall_seconds, 3),
        "total_seconds": round(closed - started, 3),
        "per_task_seconds": per_task_stats(run.results),
        "per_task_cpu_seconds": per_task_stats(run.results, cpu=True),
        "max_task_process_rss_mb": round(max(r.max_rss_mb for r in run.results), 1),
        "workers": len({r.worker for r in run.results}),
        "idle_cores_before": idle,
        "waited_for_idle_seconds": waited,
        "machine_speedup_before": calibration,
        "load_average_before": load_before,
        "load_average_after": _load(),
    }
    return doc, run


def _plan_doc(plan: MarketsPlan, run: ScaleRun) -> dict[str, Any]:
    first = {r.market: r.run for r in run.results}
    s = plan.markets[0].settings
    return {
        "markets_file": str(MARKETS.relative_to(MARKETS.parents[1])),
        "tasks": plan.n_tasks,
        "levels": list(s.levels),
        "settings": {
            "window": s.window,
            "test_days": s.test_days,
            "refit_every": s.refit_every,
            "sims": s.sims,
            "ml": s.ml,
            "ml_retrain_every": s.ml_retrain_every,
            "hybrid": s.hybrid,
            "combo": s.combo is not None,
            "models": sorted(run.results[0].metrics),
            "workers_inside_a_task": 1,
        },
        "markets": [
            {
                "name": m.name,
                "asset": m.asset,
                "prices": m.prices.name,
                "test": f"{first[m.name]['test_start']}..{first[m.name]['test_end']}",
            }
            for m in plan.markets
        ],
        "data_note": "real bundled prices only: 3 series of 2 assets (BTC-USD daily, Binance BTC/USDT "
        "and ETH/USDT hourly aggregated to days), cut at different end days so every market scores a "
        "different, non-overlapping 120-day test period of its series; no synthetic prices",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench/scale.json"))
    ap.add_argument("--markets", type=Path, default=MARKETS)
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--executors", default="serial,ray", help="comma-separated, measured in this order")
    ap.add_argument("--max-wait", type=float, default=180.0, help="seconds to wait for idle cores per run")
    args = ap.parse_args()
    plan = load_markets(args.markets)
    histories = load_histories(plan)  # also warms the imports, so no executor pays them in its wall time
    shared = {p.name: len(pickle.dumps(h, protocol=5)) for (p, _), h in histories.items()}
    runs: dict[str, dict[str, Any]] = {}
    results: dict[str, ScaleRun] = {}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        for kind in args.executors.split(","):
            runs[kind], results[kind] = _measure(kind, plan, args.cores, Path(tmp), args.max_wait)
            print(f"{kind:7s} wall {runs[kind]['wall_seconds']:7.1f} s  start-up {runs[kind]['startup_seconds']:5.1f} s  "
                  f"per task mean {runs[kind]['per_task_seconds']['mean']:5.1f} s")  # fmt: skip
    base = next(iter(results.values()))
    identical = all(
        [r.metrics for r in run.results] == [r.metrics for r in base.results] for run in results.values()
    )
    doc: dict[str, Any] = {
        "machine": {"cores": os.cpu_count(), "executor_cores": args.cores},
        "plan": _plan_doc(plan, base),
        "shared_objects": {"count": len(shared), "bytes": shared},
        "task_output_bytes_mean": round(
            sum(sum(map(len, r.files.values())) for r in base.results) / len(base.results)
        ),
        "executors": runs,
        "identical_results": identical,
    }
    if "serial" in runs and "ray" in runs:
        serial, ray = runs["serial"]["wall_seconds"], runs["ray"]["wall_seconds"]
        doc["speedup_ray_vs_serial"] = round(serial / ray, 3)
        doc["speedup_ray_vs_serial_with_startup"] = round(serial / (ray + runs["ray"]["startup_seconds"]), 3)
        doc["target_speedup"] = 1.7
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(yaml.safe_dump({k: v for k, v in doc.items() if k.startswith(("speedup", "identical"))}).strip())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
