"""What the ML model served a market, and the exact split of it into feature contributions.

The ensemble evaluates, per market, the rows of models.partial_day.row_set: a closed day's own row,
or on a partial day NODES completed closes at the current price ("now"), NODES at the previous
close's price ("anchor") and the previous close's row, combined into log-return quantiles
q = E_now x (q_previous / E_anchor) ** (1 - w) (combine_quantiles). This module evaluates the same rows
and writes the served q as

    q = factor x E_now,   E_now = mean over the now rows of scale_j x z_j,   factor = q / E_now

so with SHAP values phi_j of each now row (z_j = expected + sum_i phi_ij):

    q = factor x mean(scale_j) x expected  +  sum_i factor x mean_j(scale_j x phi_ij)

an exact additive split of the served quantile over the features, `factor` (1 on a closed day) being
the pull towards the previous close's output that keeps intraday parameters stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from oracle_node.features.history import MarketHistory
from oracle_node.models.partial_day import NODES, combine_quantiles, row_set
from oracle_node.models.quantile_onnx import OnnxQuantileModel


@dataclass(frozen=True)
class Served:
    """One market: its evaluated rows (features + scale), their outputs z (n, 2), the served
    log-return quantiles q (2,), how many leading rows are the attributed "now" rows, and w."""

    rows: np.ndarray
    z: np.ndarray
    q: np.ndarray
    head: int
    w: float

    @property
    def factor(self) -> np.ndarray:
        return self.q / self.now

    @property
    def now(self) -> np.ndarray:
        return (self.rows[: self.head, -1:] * self.z[: self.head]).mean(axis=0)

    def split(self, out: int, expected: float, phi: np.ndarray) -> tuple[float, np.ndarray]:
        """(expected, contributions) of served quantile `out` from the now rows' SHAP values (head, f)."""
        scales = self.rows[: self.head, -1]
        f = float(self.factor[out])
        return f * float(scales.mean()) * expected, f * (scales[:, None] * phi).mean(axis=0)


def evaluate(ml: OnnxQuantileModel, histories: Sequence[MarketHistory], observed: np.ndarray) -> list[Served]:
    """The rows the ensemble evaluates for each history (all in one onnxruntime run); observed: each
    history's own last row of (*features, scale_feature)."""
    names = (*ml.features, ml.scale_feature)
    sets = [row_set(h, names, row) for h, row in zip(histories, observed, strict=True)]
    if not sets:
        return []
    z = ml.predict(np.vstack([s.rows for s in sets])[:, :-1])
    out, at = [], 0
    for s in sets:
        zs, at = z[at : at + len(s.rows)], at + len(s.rows)
        q = np.array(combine_quantiles(s.rows[:, -1:] * zs, s.w))
        out.append(Served(s.rows, zs, q, 1 if len(s.rows) == 1 else NODES, s.w))
    return out
