"""How much of BTC's inside-spread miss can a raw-SVI slice recover at all?

For every expiry of every shared snapshot, refit the shipped slice with no no-arbitrage constraint and
a loss aimed at the inside-spread measure itself: zero while the fitted vol is within TAU half-spreads
of the mid, quadratic beyond, plus a small EPS x (residual / half-spread)^2 so the problem stays
identified (scipy least_squares on the five raw parameters, started from the shipped fit). Dropping
the constraints and fitting the measure directly makes this an optimistic figure for what any SVI
weighting could reach, not a fitter to ship (it is ~100x slower and may break calendar or butterfly
no-arbitrage). Prints the inside share per snapshot and underlying, shipped vs this refit, and the
pooled shares for the first 6 snapshots (where fit choices were made), the last 6 and all 12.

    .venv/bin/python -m bench.surface_bound [--data DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from bench.surface import DATA, VALIDATION, run, snapshot_paths
from oracle_node.options import metrics
from oracle_node.options.build import ExpiryResult, fit_chain
from oracle_node.options.chain import read_chain
from oracle_node.options.svi import SviParams

TAU = 0.9  # dead zone, in half-spreads
EPS = 0.05  # weight of the plain standardised residual
_LOWER = [-np.inf, 0.0, -0.999, -np.inf, 1e-4]
_UPPER = [np.inf, np.inf, 0.999, np.inf, np.inf]


def _refit_inside(e: ExpiryResult) -> int:
    sm, p = e.smile, e.slice.params
    half = np.maximum(0.5 * (sm.iv_ask - sm.iv_bid), 1e-4)

    def residuals(x: np.ndarray) -> np.ndarray:
        z = (SviParams(*x).implied_vol(sm.k, sm.t) - sm.iv_mid) / half
        return np.concatenate([np.maximum(0.0, np.abs(z) - TAU), EPS * z])

    x0 = [p.a, p.b, p.rho, p.m, p.sigma]
    fit = least_squares(residuals, x0, bounds=(_LOWER, _UPPER), max_nfev=400)
    return max(metrics.quality(sm, SviParams(*fit.x)).inside, 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args()
    tally: dict[tuple[str, str], list[int]] = {}
    for i, path in enumerate(snapshot_paths(args.data)):
        part = "first_6" if i < VALIDATION else "last_6"
        for u in fit_chain(read_chain(path)).underlyings:
            shipped = sum(e.quality.inside for e in u.expiries)
            bound = sum(_refit_inside(e) for e in u.expiries)
            quotes = sum(e.quality.quotes for e in u.expiries)
            name = u.surface.underlying
            print(
                f"{path.name} {name}: shipped {shipped / quotes:.1%}, unconstrained dead-zone refit {bound / quotes:.1%}"
            )
            for key in ((part, name), ("all_12", name)):
                t = tally.setdefault(key, [0, 0, 0])
                t[0] += shipped
                t[1] += bound
                t[2] += quotes
    for (part, name), (shipped, bound, quotes) in sorted(tally.items()):
        print(
            f"{part} {name}: shipped {shipped / quotes:.1%}, unconstrained dead-zone refit {bound / quotes:.1%}"
        )


if __name__ == "__main__":
    run(main)
