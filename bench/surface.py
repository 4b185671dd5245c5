"""`make bench-surface`: fit all shared Deribit snapshots; quality, no-arbitrage and timing per chain.

For each snapshot (both underlyings): median vega-weighted RMSE (vol points) over expiries >= 7 days,
share of two-sided OTM quotes whose fitted price is inside bid-ask, no-arbitrage violations on the
dense grid (k in [-1.5, 1.5] and the quoted range, step 0.001), and the chain fit time (parsed chain
to checked surfaces; median of REPEATS runs; CSV parsing timed apart). Targets are reported, not
asserted (timing is never checked in tests). Writes bench/surface.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from oracle_node.options.build import ChainFit, fit_chain
from oracle_node.options.chain import read_chain

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "options"
REPEATS = 3
SEVEN_DAYS = 7 / 365


def _per_underlying(fit: ChainFit) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for u in fit.underlyings:
        long = [e.quality.rmse_vol_pts for e in u.expiries if e.slice.t >= SEVEN_DAYS]
        out[u.surface.underlying] = {
            "expiries": len(u.expiries),
            "median_rmse_vol_pts_7d": statistics.median(long),
            "rmse_7d": long,
            "quotes": sum(e.quality.quotes for e in u.expiries),
            "inside": sum(e.quality.inside for e in u.expiries),
            "violations": u.violations,
            "forward_sources": sorted({e.smile.forward.source for e in u.expiries}),
        }
    return out


def _snapshot(path: Path) -> dict[str, object]:
    t0 = time.perf_counter()
    chain = read_chain(path)
    parse_ms = (time.perf_counter() - t0) * 1e3
    fits = [fit_chain(chain) for _ in range(REPEATS)]
    return {
        "file": path.name,
        "parse_ms": parse_ms,
        "fit_ms": statistics.median(f.fit_ms for f in fits),
        "underlyings": _per_underlying(fits[0]),
    }


def _summary(rows: list[dict[str, object]]) -> dict[str, object]:
    unds = [u for r in rows for u in r["underlyings"].items()]  # type: ignore[union-attr]
    by: dict[str, list[float]] = {}
    for name, u in unds:
        by.setdefault(name, []).extend(u["rmse_7d"])
    quotes = sum(u["quotes"] for _, u in unds)
    times = [float(r["fit_ms"]) for r in rows]  # type: ignore[arg-type]
    return {
        "median_rmse_vol_pts_7d": {k: statistics.median(v) for k, v in by.items()},
        "median_rmse_vol_pts_7d_all": statistics.median([x for v in by.values() for x in v]),
        "inside_spread_share": sum(u["inside"] for _, u in unds) / quotes,
        "violations": sum(sum(u["violations"].values()) for _, u in unds),
        "chain_fit_ms_median": statistics.median(times),
        "chain_fit_ms_max": max(times),
        "targets": {"rmse_7d": 0.25, "inside_spread": 0.93, "violations": 0, "chain_fit_ms": 100},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=Path("bench/surface.json"))
    args = ap.parse_args()
    rows = [_snapshot(p) for p in sorted(args.data.glob("deribit_options_snapshot_*.csv"))]
    for r in rows:
        parts = [
            f"{n} rmse7d={u['median_rmse_vol_pts_7d']:.3f} inside={u['inside'] / u['quotes']:.1%} viol={sum(u['violations'].values())}"
            for n, u in r["underlyings"].items()
        ]  # type: ignore[union-attr]
        print(f"{r['file']}: {'; '.join(parts)}; fit {r['fit_ms']:.1f} ms (parse {r['parse_ms']:.1f} ms)")
    summary = _summary(rows)
    print(json.dumps(summary, indent=1))
    args.out.write_text(json.dumps({"summary": summary, "snapshots": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
