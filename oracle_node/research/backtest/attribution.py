"""TreeSHAP attributions of the backtest's `qgbm` model over the test days, for the HTML report.

The walk-forward `qgbm` is an ONNX export of a scikit-learn quantile GBM predicting z_q, the alpha
quantile of r / har_m; its raw VaR is v = -har_m z_q, before the rolling conformal multiplier
(ml.py). Contributions are TreeSHAP values of z_q (the served model's method: oracle_node/explain)
times -har_m, so per day they add up to the raw VaR: expected + sum = v (up to the MIN_RAW floor,
which binds only on degenerate rows). Covers come from the asset's own rows before the calibration
block pushed through the exported trees (the GBM trained on a subsample of those plus any pooled
rows: a background close to, not identical with, its in-bag counts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from oracle_node.explain.trees import count_covers, read_ensembles
from oracle_node.explain.treeshap import TreeShap
from oracle_node.models.ml_features import ML_FEATURES, MlRows
from oracle_node.research.training.ml_train import MlBundle

MODEL = "qgbm"


@dataclass(frozen=True)
class AttributionSeries:
    """Per test day: raw VaR (n,), its expected value (n,) and per-feature contributions (n, f)."""

    model: str
    dates: tuple[str, ...]
    features: tuple[str, ...]
    var: np.ndarray
    expected: np.ndarray
    contributions: np.ndarray


def qgbm_attributions(
    bundle: MlBundle, rows: MlRows, dates: Sequence[str], test_days: int
) -> AttributionSeries | None:
    """Attributions of the test days' forecasts (return t is forecast from rows.x[t]); None without qgbm."""
    fitted = bundle.models.get(MODEL)
    if fitted is None:
        return None
    (output, ensemble), *_ = read_ensembles(fitted.onnx, MODEL).items()
    own = rows.x[: bundle.cal_start][rows.ok[: bundle.cal_start]]
    fit = own if bundle.fit_x is None else bundle.fit_x  # covers of the rows the trees were fitted on
    covers = {output: tuple(count_covers(t, fit) for t in ensemble.trees)}
    n = len(dates)
    days = np.arange(n - test_days, n)
    days = days[rows.ok[days]]
    x = rows.x[days]
    z = fitted.runtime.predict(x)
    att = TreeShap({output: ensemble}, covers).attribute(x, {output: z})
    scale = rows.scale[days]
    return AttributionSeries(
        MODEL,
        tuple(dates[i] for i in days),
        ML_FEATURES,
        -scale * z,
        -scale * att.expected[output],
        -scale[:, None] * att.contributions[output],
    )


def biggest_increases(series: AttributionSeries, count: int) -> list[int]:
    """Indices i (>= 1) of the `count` largest day-over-day raw VaR increases, largest first."""
    if series.var.size < 2:
        return []
    jump = np.diff(series.var)
    order = np.argsort(-jump, kind="stable")[:count]
    return [int(i) + 1 for i in order if jump[i] > 0]
