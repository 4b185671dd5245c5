"""`make bench-node`: pipeline latency on replayed real data, chain I/O excluded.

Markets are built from the bundled real hourly BTC and ETH series: market i replays one of the two
series shifted by i days, with five venues each (the real Binance venue and four derived ones), so
every market has its own real history and its own GJR fit. For each of 1, 100 and 1,000 markets the
node's pipeline is warmed (histories seeded, GJR fits done as the daemon's refit job does) and then
timed over several hourly rounds: guard -> features -> inference -> params -> trigger, plus building
the EIP-712 report for all publishing markets and its digest. Signing one digest is timed apart.

Writes bench/node.json with per_market_ms, round_s_1, round_s_100, round_s_1000, sign_report_ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from eth_account import Account

from oracle_node.config import NodeConfig
from oracle_node.features.history import SECONDS_PER_DAY
from oracle_node.reports.eip712 import RiskReport, report_digest, sign_report
from oracle_node.service.heap import freeze_startup_heap
from oracle_node.service.wiring import build_pipeline, load_model
from oracle_node.sources.bundled import HOURLY_SPOT, resolve
from oracle_node.sources.history import load_history
from oracle_node.sources.ohlcv import read_cdd_ohlcv
from oracle_node.sources.synthetic import window_ticks
from oracle_node.sources.tick import Tick

ROUNDS = 6
START = 1_590_969_600.0  # 2020-06-01 00:00 UTC: every shifted window stays inside the bundled data


def _market_ticks(n: int) -> tuple[list[str], dict[str, list[Tick]], dict[str, tuple[str, float]]]:
    bars = {m: read_cdd_ohlcv(resolve(f"bundled:{spec}")).bars for m, spec in HOURLY_SPOT.items()}
    names, ticks, origin = [], {}, {}
    for i in range(n):
        base = ("BTC-USD", "ETH-USD")[i % 2]
        shift = (i // 2) * SECONDS_PER_DAY
        name = f"{base[:3]}{i:04d}-USD"
        start = START - shift
        shifted = window_ticks(base, bars[base], start, start + ROUNDS * 3600)
        ticks[name] = [Tick(t.ts + shift, name, t.source, t.price, volume=t.volume) for t in shifted]
        names.append(name)
        origin[name] = (base, start)
    return names, ticks, origin


def _build(n: int) -> tuple[object, list[str], dict[str, list[Tick]], float]:
    cfg = NodeConfig()
    names, ticks, origin = _market_ticks(n)
    model = load_model(cfg)
    pipeline = build_pipeline(cfg, [], None, model)
    full = {base: load_history(base, f"bundled:{spec}") for base, spec in HOURLY_SPOT.items()}
    for name in names:
        base, start = origin[name]
        h = full[base].until(start)
        shifted = type(h)(name, h.ts + (START - start), h.close, volume=h.volume)
        pipeline.book.seed(shifted)
    t0 = time.perf_counter()
    model.prefit([pipeline.book.snapshot(m) for m in names])
    return pipeline, names, ticks, time.perf_counter() - t0


def _round(pipeline, names: list[str], ticks: dict[str, list[Tick]], k: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    now = START + (k + 1) * 3600
    batch = [t for m in names for t in ticks[m] if t.ts == now]
    t0 = time.perf_counter()
    outcomes = pipeline.step(now, batch)
    publishing = {o.market: o.risk.params for o in outcomes if o.risk is not None}
    if publishing:
        report = RiskReport.build(
            epoch=1,
            round=k + 1,
            observed_at=int(now),
            deadline=int(now) + 300,
            model_hash=pipeline.model.model_hash,
            inputs_hash=b"\x00" * 32,
            updates=publishing,
        )
        report_digest(report, 31337, "0x" + "11" * 20)
    elapsed = time.perf_counter() - t0
    for o in outcomes:
        pipeline.settle(o, published=o.would_publish)
    return elapsed, len(publishing)


def measure(n: int) -> dict[str, float]:
    pipeline, names, ticks, prefit_s = _build(n)
    freeze_startup_heap()  # as the daemon does once it is built (service/heap.py)
    times = []
    for k in range(ROUNDS):
        elapsed, _ = _round(pipeline, names, ticks, k)
        times.append(elapsed)
    steady = times[1:]  # round 0 warms caches (first features, onnxruntime arena)
    print(
        f"{n:5d} markets: round median {statistics.median(steady):.3f} s (max {max(steady):.3f}), prefit {prefit_s:.1f} s"
    )
    return {"round_s": statistics.median(steady), "round_max_s": max(steady), "prefit_s": prefit_s}


def sign_ms() -> float:
    acct = Account.from_key("0x" + "42" * 32)
    digest = bytes(range(32))
    t0 = time.perf_counter()
    for _ in range(200):
        sign_report(digest, acct, 0)
    return (time.perf_counter() - t0) / 200 * 1000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", type=Path, default=Path("bench/node.json"))
    p.add_argument("--sizes", default="1,100,1000")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {n: measure(n) for n in sizes}
    one = results.get(1, next(iter(results.values())))
    out = {
        "per_market_ms": round(one["round_s"] * 1000, 3),
        **{f"round_s_{n}": round(r["round_s"], 4) for n, r in results.items()},
        "sign_report_ms": round(sign_ms(), 3),
        "detail": {str(n): {k: round(v, 4) for k, v in r.items()} for n, r in results.items()},
        "rounds_timed": ROUNDS - 1,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
