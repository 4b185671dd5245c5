"""`python -m oracle_node.research.cascade.simcheck`: fit the Hawkes MLE to paths simulated with
known parameters and print true vs fitted (the figures in docs/cascade.md)."""

from __future__ import annotations

import time

import numpy as np

from oracle_node.research.cascade.hawkes import HawkesParams, fit_hawkes, simulate

CASES = (HawkesParams(0.5, 0.8, 1.2), HawkesParams(2.0, 6.0, 12.0), HawkesParams(5.0, 45.0, 50.0))
HORIZON = 1500.0  # days
SEEDS = (11, 12, 13)


def main() -> None:
    for true in CASES:
        for seed in SEEDS:
            t0 = time.monotonic()
            t = simulate(np.random.default_rng(seed), true, HORIZON)
            fit = fit_hawkes(t, HORIZON)
            print(
                f"true mu {true.mu:5.2f} alpha {true.alpha:6.2f} beta {true.beta:6.2f} n {true.branching:.3f} | "
                f"seed {seed} events {t.size:6d} | fit mu {fit.mu:5.2f} alpha {fit.alpha:6.2f} beta {fit.beta:6.2f} "
                f"n {fit.branching:.3f} ({time.monotonic() - t0:.1f} s)"
            )


if __name__ == "__main__":
    main()
