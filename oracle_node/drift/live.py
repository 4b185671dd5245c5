"""The drift monitor on a running node's own history: is the model still fit for this market now?

Recipe validated in tests/unit/test_drift.py on real BTC: the reference is the two years of feature
rows ending a month before today; the monitored VaR is EWMA-normal at alpha (a model-free yardstick,
so a drifting production model cannot hide its own miscalibration). The verdict's `retrain` is the
node's retrain request: a new model must be trained (`oracle-node train`) and allow-listed by the DAO
before it can publish, so the node raises the request (log + metric) and keeps its current model.
"""

from __future__ import annotations

from oracle_node.drift.monitor import DriftConfig, DriftMonitor, DriftVerdict
from oracle_node.features.history import MarketHistory
from oracle_node.models.ml_features import ML_FEATURES, MlRows, ml_rows
from oracle_node.models.tails import normal_quantile

REFERENCE_DAYS = 730
REFERENCE_GAP_DAYS = 30


def latest_verdict(history: MarketHistory, cfg: DriftConfig | None = None) -> DriftVerdict | None:
    """The verdict for the newest day of `history`; None when the history is too short to judge."""
    cfg = cfg or DriftConfig()
    if len(history) < min_days(cfg):
        return None
    rows = ml_rows(history)
    return verdict_at(rows, len(rows.x) - 1, cfg)


def min_days(cfg: DriftConfig) -> int:
    """Days of history the recipe needs before its first verdict."""
    return REFERENCE_DAYS + REFERENCE_GAP_DAYS + cfg.window + cfg.persist_days + 32


def verdict_at(rows: MlRows, k: int, cfg: DriftConfig | None = None) -> DriftVerdict | None:
    """The verdict the node would raise on day k (row k), from rows before k only; None when
    fewer than `min_days` days precede it (the retrain-policy walk-forward calls this per day)."""
    cfg = cfg or DriftConfig()
    if k + 1 < min_days(cfg):
        return None
    monitor = DriftMonitor(
        rows.x[k - REFERENCE_DAYS - REFERENCE_GAP_DAYS : k - REFERENCE_GAP_DAYS], ML_FEATURES, cfg
    )
    var = -normal_quantile(cfg.alpha) * rows.scale
    return monitor.scan(rows.x, rows.returns, var, range(k - cfg.persist_days + 1, k + 1))[-1]


# Measured default of the drift retrain policy (docs/retrain-policy.md, `oracle-node retrain-policy`):
# a retrain request counts only when the model in service is at least this many days old; chosen
# on BTC 2017-2018 from {30, 90, 180} by FZ0, then compared with never / every-N-days on 2019-2026.
RETRAIN_MIN_GAP_DAYS = 90


def retrain_due(
    verdict: DriftVerdict | None, days_since_fit: int, min_gap: int = RETRAIN_MIN_GAP_DAYS
) -> bool:
    """Should a new model be trained now? The verdict asks for it and the model is >= min_gap days old."""
    return verdict is not None and verdict.retrain and days_since_fit >= min_gap
