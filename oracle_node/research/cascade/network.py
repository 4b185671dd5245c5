"""The exposure network the Aave V2 events support, and a DebtRank-style systemic score (issue 13, item 3).

Nodes are Aave V2 reserves (assets). The only exposure the data show is a liquidated position: an
event says "a loan of debt asset d, backed by collateral c, was this unhealthy at this time". So the
network is W[c, d] = USD of debt d repaid against collateral c over a window (data.py's USD); it is
a **flow of realised liquidations, not a stock of outstanding positions**: outstanding borrows per
collateral/debt pair need pool state (reserve snapshots, user positions) the shared data do not have,
and cross-protocol exposures (Compound, Maker, CEX margin) need other data entirely. The edges weigh
pairs by how much of them was liquidated, i.e. by exposures that already went bad, which over-weights
volatile collateral; they are a proxy for where the fragile debt sits, nothing more.

DebtRank (Battiston et al. 2012, the linear variant of Bardoscia et al. 2015):
- value of node i: v_i = (sum_d W[i, d] + sum_c W[c, i]) / (2 sum W), its share of the network;
- impact of i's distress on j: L[i, j] = W[i, j] / sum_c W[c, j] (the share of j's lent USD backed by
  collateral i; only collateral -> debt edges carry distress: a fall in the collateral's price impairs
  the loans against it);
- shock: h_c(0) = X (collateral c falls by X), everything else 0; a node distressed in step t passes
  its distress on in step t + 1 and never again (no reverberation, as in the original DebtRank):
  h_j(t+1) = min(1, h_j(t) + sum_{i distressed at t} L[i, j] h_i(t)), until no node is left to pass;
- score S_c(X) = sum_j v_j h_j(final): the share of the network's value lost, the initial shock
  included; `direct` is the same after one step (no second-round effects).
Second rounds exist only where an asset is both debt and collateral (WETH, WBTC, the stablecoins).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oracle_node.research.cascade.data import LiquidationEvents

SHOCKS = (0.1, 0.2, 0.3, 0.5)
MAX_STEPS = 100


@dataclass(frozen=True, eq=False)
class Network:
    assets: tuple[str, ...]
    w: np.ndarray  # (n, n) USD, row = collateral, column = debt

    @classmethod
    def from_events(cls, ev: LiquidationEvents) -> Network:
        assets = tuple(sorted(set(ev.collateral.tolist()) | set(ev.principal.tolist())))
        idx = {a: i for i, a in enumerate(assets)}
        w = np.zeros((len(assets), len(assets)))
        np.add.at(w, ([idx[a] for a in ev.collateral], [idx[a] for a in ev.principal]), ev.usd)
        return cls(assets, w)

    @property
    def value(self) -> np.ndarray:
        return (self.w.sum(axis=1) + self.w.sum(axis=0)) / (2.0 * self.w.sum())

    @property
    def impact(self) -> np.ndarray:
        lent = self.w.sum(axis=0)
        return np.divide(self.w, lent, out=np.zeros_like(self.w), where=lent > 0)

    def edges(self, top: int) -> list[dict[str, object]]:
        order = np.argsort(-self.w, axis=None)[:top]
        n = len(self.assets)
        return [
            {
                "collateral": self.assets[k // n],
                "debt": self.assets[k % n],
                "usd": round(float(self.w.flat[k]), 2),
            }
            for k in order.tolist()
            if self.w.flat[k] > 0
        ]


def debtrank(net: Network, asset: str, shock: float, steps: int = MAX_STEPS) -> float:
    """S_asset(shock): share of the network's value lost (module docstring); each node passes its
    distress on once, in the step after it became distressed (Battiston et al.: no reverberation)."""
    lam = net.impact
    h = np.zeros(len(net.assets))
    h[net.assets.index(asset)] = shock
    active = h > 0  # distressed this step: propagate now, then inactive
    spent = np.zeros_like(active)
    for _ in range(steps):
        if not active.any():
            break
        new = np.minimum(1.0, h + (h * active) @ lam)
        spent |= active
        active = (new > h) & ~spent
        h = new
    return float(net.value @ h)


def scores(
    net: Network, assets: tuple[str, ...], shocks: tuple[float, ...] = SHOCKS
) -> dict[str, dict[str, float]]:
    """{asset: {"10%": S, ..., "direct_<X>": one-step S}} for every collateral asset asked."""
    out: dict[str, dict[str, float]] = {}
    for a in assets:
        if a not in net.assets:
            continue
        row = {f"{round(x * 100)}%": round(debtrank(net, a, x), 6) for x in shocks}
        row |= {f"direct_{round(x * 100)}%": round(debtrank(net, a, x, steps=1), 6) for x in shocks}
        out[a] = row
    return out
