"""The drift monitor: one verdict per day from the features and the VaR breaches before it.

Day k (a row of `models.ml_features`, predicting returns[k]) is judged on the `window` days before it:
* feature drift: `tail_psi` of each watched feature (default the volatility level log_har_m and the
  shock ratio log_ewma_rel) against the training reference, at the reference's `level` quantile;
  flagged when the largest exceeds `psi_threshold`;
* coverage: breaches of the monitored VaR in the window against binomial(window, alpha); flagged when
  the p-value is below `coverage_p`.
`flag` is either; `retrain` fires on a coverage flag (the model is miscalibrated now) or on feature
drift that persisted `persist_days` days in a row (the inputs left the training distribution).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from oracle_node.drift.coverage import Coverage, breaches, rolling_coverage
from oracle_node.drift.psi import tail_psi
from oracle_node.errors import ConfigError

WATCHED: tuple[str, ...] = ("log_har_m", "log_ewma_rel")


@dataclass(frozen=True, slots=True)
class DriftConfig:
    alpha: float = 0.01
    window: int = 30
    level: float = 0.99
    psi_threshold: float = 0.5
    coverage_p: float = 0.01
    persist_days: int = 3
    features: tuple[str, ...] = WATCHED


@dataclass(frozen=True)
class DriftVerdict:
    day: int
    psi: dict[str, float]
    coverage: Coverage
    feature_drift: bool
    coverage_drift: bool
    retrain: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def flag(self) -> bool:
        return self.feature_drift or self.coverage_drift


class DriftMonitor:
    """Drift against a training reference: `reference` rows (n, len(names)) of the training features."""

    def __init__(self, reference: np.ndarray, names: Sequence[str], cfg: DriftConfig = DriftConfig()) -> None:
        missing = [f for f in cfg.features if f not in names]
        if missing or cfg.window < 5:
            raise ConfigError(
                f"drift monitor: features {missing} not in {list(names)} or window {cfg.window} < 5"
            )
        self.cfg = cfg
        self.cols = [list(names).index(f) for f in cfg.features]
        self.reference = np.asarray(reference, dtype=np.float64)[:, self.cols]
        self.streak = 0

    def judge(self, day: int, features: np.ndarray, hits: np.ndarray) -> DriftVerdict:
        """Verdict for `day` from the `window` feature rows and breach indicators before it."""
        cur = np.asarray(features, dtype=np.float64)[:, self.cols]
        psis = {
            f: tail_psi(self.reference[:, j], cur[:, j], self.cfg.level)
            for j, f in enumerate(self.cfg.features)
        }
        cov = rolling_coverage(hits, self.cfg.alpha)
        feat = max(psis.values()) > self.cfg.psi_threshold
        covd = cov.p_value < self.cfg.coverage_p
        self.streak = self.streak + 1 if feat else 0
        reasons = tuple(
            [f"psi {f} {v:.2f} > {self.cfg.psi_threshold}" for f, v in psis.items() if v > self.cfg.psi_threshold]
            + ([f"{cov.breaches} VaR breaches in {cov.days} days (p {cov.p_value:.4f})"] if covd else [])
        )  # fmt: skip
        retrain = covd or self.streak >= self.cfg.persist_days
        return DriftVerdict(day, psis, cov, feat, covd, retrain, reasons)

    def scan(self, x: np.ndarray, returns: np.ndarray, var: np.ndarray, days: range) -> list[DriftVerdict]:
        """Verdicts for each day in `days` (rows aligned: x[k] features, returns[k] and var[k] its
        realised return and VaR); day k reads rows k - window .. k - 1 only."""
        hits = breaches(returns, var)
        w = self.cfg.window
        if days.start < w:
            raise ConfigError(f"drift scan: first day {days.start} needs {w} days before it")
        return [self.judge(k, x[k - w : k], hits[k - w : k]) for k in days]
