"""Robustness of the surface fit on chains it has not seen: perturbed copies of the shared snapshots.

Each snapshot is refitted `--per-snapshot` times per seed with a random 0-40% of its quotes dropped
and each two-sided quote's bid and ask scaled by one common factor 1 + N(0, 2%) (the spread keeps its
relative width). Reports how many published surfaces have any no-arbitrage violation on the dense
grid, and the CPU time per chain. Usage: `python -m bench.surface_stress --seeds 1 2 3`.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import numpy as np

from oracle_node.options.build import fit_chain
from oracle_node.options.chain import OptionChain, OptionQuote, quote_columns, read_chain

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "options"


def perturbed(chain: OptionChain, rng: np.random.Generator) -> OptionChain:
    keep = rng.random(len(chain.quotes)) > rng.uniform(0.0, 0.4)
    quotes: list[OptionQuote] = []
    for quote, kept in zip(chain.quotes, keep, strict=True):
        if not kept:
            continue
        q = quote
        if q.bid is not None and q.ask is not None:
            f = 1.0 + rng.normal(0.0, 0.02)
            q = dataclasses.replace(q, bid=q.bid * f, ask=max(q.ask * f, q.bid * f))
        quotes.append(q)
    return OptionChain(chain.path, chain.observed_at, tuple(quotes), quote_columns(quotes))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--per-snapshot", type=int, default=6)
    args = ap.parse_args()
    chains = [read_chain(p) for p in sorted(args.data.glob("deribit_options_snapshot_*.csv"))]
    bad, cpu = [], []
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        for chain in chains:
            for rep in range(args.per_snapshot):
                trial = perturbed(chain, rng)
                start = time.process_time()
                fit = fit_chain(trial)
                cpu.append((time.process_time() - start) * 1e3)
                for u in fit.underlyings:
                    if sum(u.violations.values()):
                        bad.append(
                            f"seed {seed} {Path(chain.path).name} #{rep} {u.surface.underlying} {u.violations}"
                        )
    print("\n".join(bad))
    print(
        f"{len(cpu)} perturbed chains, {len(bad)} surfaces with violations; "
        f"CPU per chain median {statistics.median(cpu):.1f} ms, max {max(cpu):.1f} ms"
    )


if __name__ == "__main__":
    main()
