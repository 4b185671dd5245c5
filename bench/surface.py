"""`make bench-surface`: fit all shared Deribit snapshots; quality, no-arbitrage and timing per chain.

For each snapshot (both underlyings): median vega-weighted RMSE (vol points) over expiries >= 7 days,
share of two-sided OTM quotes whose fitted price is inside bid-ask, no-arbitrage violations on the
dense grid (k in [-1.5, 1.5] and the quoted range, step 0.001), and the chain fit time (parsed chain
to checked surfaces, both underlyings; CSV parsing timed apart). Time is the median of REPEATS runs,
as wall time (the target) and as this process's CPU time (what the fit costs when other jobs share
the cores; the load average is recorded); the fastest of the REPEATS wall times is kept too (the
least disturbed run, closest to an idle machine). As a reference, the same two quality measures are
computed for Deribit's own marks on the same quotes (`mark_price` inverted on our forward; marks are
not SVI and carry no no-arbitrage guarantee). Summaries: all 12 snapshots, the first 6 by date (where
fit choices were made) and the last 6 (held out). Targets are reported, not asserted (timing is
never checked in tests). Writes bench/surface.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from oracle_node.errors import OracleNodeError
from oracle_node.options import black76
from oracle_node.options.build import ChainFit, ExpiryResult, fit_chain
from oracle_node.options.chain import OptionChain, read_chain

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "options"
REPEATS = 5
VALIDATION = 6  # fit choices were made on the first 6 snapshots by date; the last 6 are held out
SEVEN_DAYS = 7 / 365
TARGETS = {"rmse_7d": 0.25, "inside_spread": 0.93, "violations": 0, "chain_fit_ms": 100}


def run(main: Callable[[], object]) -> None:
    """Run a surface bench's main: bad data is one line and a non-zero exit, not a traceback."""
    try:
        main()
    except OracleNodeError as exc:
        raise SystemExit(f"error: {exc}") from None


def snapshot_paths(data: Path) -> list[Path]:
    """The Deribit snapshot CSVs in `data`, by date; exits 2 with one line when there are none."""
    paths = sorted(data.glob("deribit_options_snapshot_*.csv"))
    if not paths:
        raise SystemExit(f"error: --data {data}: no deribit_options_snapshot_*.csv files")
    return paths


def _mark_quality(e: ExpiryResult, marks: dict[str, float]) -> tuple[float, int]:
    """Deribit's marks on the expiry's fitted quotes: vega-weighted RMSE (vol points) against the mid
    IVs, and how many marks lie within [bid, ask]."""
    sm = e.smile
    mark = np.array([marks[i] for i in sm.instruments])
    iv = black76.implied_total_std(mark, sm.k, sm.is_call) / np.sqrt(sm.t)
    ok = np.isfinite(iv)
    rmse = float(np.sqrt(np.sum(sm.vega[ok] * (iv[ok] - sm.iv_mid[ok]) ** 2) / np.sum(sm.vega[ok]))) * 100.0
    return rmse, int(np.sum((mark >= sm.bid) & (mark <= sm.ask)))


def _per_underlying(fit: ChainFit, chain: OptionChain) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    marks = {q.instrument: q.mark for q in chain.quotes}
    for u in fit.underlyings:
        long = [e.quality.rmse_vol_pts for e in u.expiries if e.slice.t >= SEVEN_DAYS]
        ref = [(e, *_mark_quality(e, marks)) for e in u.expiries]
        out[u.surface.underlying] = {
            "expiries": len(u.expiries),
            "median_rmse_vol_pts_7d": statistics.median(long),
            "rmse_7d": long,
            "quotes": sum(e.quality.quotes for e in u.expiries),
            "inside": sum(e.quality.inside for e in u.expiries),
            "violations": u.violations,
            "forward_sources": sorted({e.smile.forward.source for e in u.expiries}),
            "deribit_mark": {
                "median_rmse_vol_pts_7d": statistics.median(r for e, r, _ in ref if e.slice.t >= SEVEN_DAYS),
                "rmse_7d": [r for e, r, _ in ref if e.slice.t >= SEVEN_DAYS],
                "inside": sum(n for _, _, n in ref),
            },
        }
    return out


def _timed(chain: OptionChain) -> tuple[ChainFit, float]:
    cpu = time.process_time()
    fit = fit_chain(chain)
    return fit, (time.process_time() - cpu) * 1e3


def _snapshot(path: Path) -> dict[str, object]:
    t0 = time.perf_counter()
    chain = read_chain(path)
    parse_ms = (time.perf_counter() - t0) * 1e3
    runs = [_timed(chain) for _ in range(REPEATS)]
    return {
        "file": path.name,
        "parse_ms": parse_ms,
        "fit_ms": statistics.median(f.fit_ms for f, _ in runs),
        "fit_ms_min": min(f.fit_ms for f, _ in runs),
        "fit_cpu_ms": statistics.median(cpu for _, cpu in runs),
        "underlyings": _per_underlying(runs[0][0], chain),
    }


def _misses(unds: list[tuple[str, dict[str, Any]]]) -> dict[str, dict[str, int]]:
    """Per underlying: snapshots whose median RMSE (>= 7 d) or inside-spread share misses its target."""
    out: dict[str, dict[str, int]] = {}
    for name, u in unds:
        m = out.setdefault(name, {"rmse_7d": 0, "inside_spread": 0})
        m["rmse_7d"] += u["median_rmse_vol_pts_7d"] > TARGETS["rmse_7d"]
        m["inside_spread"] += u["inside"] / u["quotes"] < TARGETS["inside_spread"]
    return out


def _mark_summary(unds: list[tuple[str, dict[str, Any]]]) -> dict[str, object]:
    """The same pooled measures for Deribit's marks (reference, not a target)."""
    names = sorted({n for n, _ in unds})
    rmse = {
        n: statistics.median([x for m, u in unds if m == n for x in u["deribit_mark"]["rmse_7d"]])
        for n in names
    }
    inside = {
        n: sum(u["deribit_mark"]["inside"] for m, u in unds if m == n)
        / sum(u["quotes"] for m, u in unds if m == n)
        for n in names
    }
    below = {
        n: sum(
            u["deribit_mark"]["inside"] / u["quotes"] < TARGETS["inside_spread"] for m, u in unds if m == n
        )
        for n in names
    }
    return {
        "median_rmse_vol_pts_7d": rmse,
        "inside_spread_share_by": inside,
        "snapshots_below_inside_target": below,
    }


def _summary(rows: list[dict[str, Any]]) -> dict[str, object]:
    unds = [u for r in rows for u in r["underlyings"].items()]
    by: dict[str, list[float]] = {}
    inside: dict[str, list[int]] = {}
    for name, u in unds:
        by.setdefault(name, []).extend(u["rmse_7d"])
        tally = inside.setdefault(name, [0, 0])
        tally[0] += u["inside"]
        tally[1] += u["quotes"]
    quotes = sum(u["quotes"] for _, u in unds)
    times = [float(r["fit_ms"]) for r in rows]
    cpu = [float(r["fit_cpu_ms"]) for r in rows]
    fastest = [float(r["fit_ms_min"]) for r in rows]
    return {
        "snapshots": len(rows),
        "median_rmse_vol_pts_7d": {k: statistics.median(v) for k, v in by.items()},
        "median_rmse_vol_pts_7d_all": statistics.median([x for v in by.values() for x in v]),
        "inside_spread_share": sum(u["inside"] for _, u in unds) / quotes,
        "inside_spread_share_by": {k: v[0] / v[1] for k, v in inside.items()},
        "snapshots_missing": _misses(unds),
        "violations": sum(sum(u["violations"].values()) for _, u in unds),
        "chain_fit_ms_median": statistics.median(times),
        "chain_fit_ms_max": max(times),
        "chain_fit_ms_min_of_repeats_median": statistics.median(fastest),
        "chain_fit_ms_min_of_repeats_max": max(fastest),
        "chain_fit_cpu_ms_median": statistics.median(cpu),
        "chain_fit_cpu_ms_max": max(cpu),
        "deribit_mark_reference": _mark_summary(unds),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=Path("bench/surface.json"))
    args = ap.parse_args()
    rows = [_snapshot(p) for p in snapshot_paths(args.data)]
    for r in rows:
        parts = [
            f"{n} rmse7d={u['median_rmse_vol_pts_7d']:.3f} inside={u['inside'] / u['quotes']:.1%} "
            f"viol={sum(u['violations'].values())} (Deribit marks: rmse7d="
            f"{u['deribit_mark']['median_rmse_vol_pts_7d']:.3f} inside={u['deribit_mark']['inside'] / u['quotes']:.1%})"
            for n, u in r["underlyings"].items()
        ]  # type: ignore[union-attr]
        print(
            f"{r['file']}: {'; '.join(parts)}; fit {r['fit_ms']:.1f} ms wall, {r['fit_cpu_ms']:.1f} ms CPU "
            f"(parse {r['parse_ms']:.1f} ms)"
        )
    summary = {
        **_summary(rows),
        "first_6": _summary(rows[:VALIDATION]),
        "last_6": _summary(rows[VALIDATION:]),
        "load_average": os.getloadavg(),
        "repeats": REPEATS,
        "targets": TARGETS,
    }
    print(json.dumps(summary, indent=1))
    args.out.write_text(json.dumps({"summary": summary, "snapshots": rows}, indent=1) + "\n")


if __name__ == "__main__":
    run(main)
