"""Robustness of the surface fit on chains it has not seen: perturbed copies of the shared snapshots.

Each snapshot is refitted `--per-snapshot` times per seed with a random 0 to `--max-drop` share of its
quotes dropped and each two-sided quote's bid and ask scaled by 1 + N(0, `--noise`): one common factor
(the spread keeps its relative width), or with `--independent` one factor each (spreads shrink, grow
or invert, then bid/ask are re-ordered); `--no-futures` is the chance that a chain loses all its
futures prices (every forward then comes from parity). Reports how many published surfaces have any
no-arbitrage violation on the dense grid, and the CPU time per chain.

    python -m bench.surface_stress --seeds 1 2 3                      # mild: documented in surfaces.md
    python -m bench.surface_stress --seeds 5 6 --per-snapshot 4 --max-drop 0.8 --noise 0.03 \\
        --independent --no-futures 0.3                                # harsh
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import numpy as np

from bench.surface import run, snapshot_paths
from oracle_node.options.build import fit_chain
from oracle_node.options.chain import OptionChain, OptionQuote, quote_columns, read_chain

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "options"


@dataclasses.dataclass(frozen=True)
class Perturbation:
    max_drop: float = 0.4
    noise: float = 0.02
    independent: bool = False
    no_futures: float = 0.0


def perturbed(chain: OptionChain, rng: np.random.Generator, how: Perturbation) -> OptionChain:
    keep = rng.random(len(chain.quotes)) > rng.uniform(0.0, how.max_drop)
    drop_futures = how.no_futures > 0.0 and rng.random() < how.no_futures
    quotes: list[OptionQuote] = []
    for quote, kept in zip(chain.quotes, keep, strict=True):
        if not kept:
            continue
        q = quote
        if q.bid is not None and q.ask is not None:
            if how.independent:
                f = 1.0 + rng.normal(0.0, how.noise, 2)
                bid, ask = sorted((q.bid * f[0], q.ask * f[1]))
            else:
                f = 1.0 + rng.normal(0.0, how.noise)
                bid, ask = q.bid * f, max(q.ask * f, q.bid * f)
            q = dataclasses.replace(q, bid=bid, ask=ask)
        if drop_futures:
            q = dataclasses.replace(q, futures_price=None)
        quotes.append(q)
    return OptionChain(chain.path, chain.observed_at, tuple(quotes), quote_columns(quotes))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--per-snapshot", type=int, default=6)
    ap.add_argument("--max-drop", type=float, default=0.4)
    ap.add_argument("--noise", type=float, default=0.02)
    ap.add_argument("--independent", action="store_true")
    ap.add_argument("--no-futures", type=float, default=0.0)
    args = ap.parse_args()
    how = Perturbation(args.max_drop, args.noise, args.independent, args.no_futures)
    chains = [read_chain(p) for p in snapshot_paths(args.data)]
    bad, cpu = [], []
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        for chain in chains:
            for rep in range(args.per_snapshot):
                trial = perturbed(chain, rng, how)
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
    run(main)
