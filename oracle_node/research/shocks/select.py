"""Choosing on the validation period only: every candidate and every empirical window is walked forward
over the validation period (models refitted on the schedule, on data before each refit day) and
scored by the pooled pinball loss (mean of the up and down sides). The lowest wins; the test period
is not looked at. The served model is the best JSON-servable candidate (location-scale or linear
quantile regression); the best tree model is kept as a comparison."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from oracle_node.options.shock_features import ShockFrame
from oracle_node.research.shocks import baselines
from oracle_node.research.shocks.metrics import pooled_pinball
from oracle_node.research.shocks.models import SERVABLE, Candidate, candidates
from oracle_node.research.shocks.walkforward import candidate_fitter, walk_forward


@dataclass(frozen=True)
class ShockOptions:
    horizon: int = 1
    level: float = 0.99
    val_days: int = 365
    test_days: int = 365
    refit_every: int = 30
    windows: tuple[int, ...] = (90, 180, 365, 730)


@dataclass(frozen=True)
class Selection:
    served: Candidate
    trees: Candidate | None
    window: int
    scores: dict[str, float]  # validation pooled pinball per candidate and per "empirical_w<window>"

    @property
    def served_beats_empirical(self) -> bool:
        """Whether the served candidate beat the best empirical window on validation (else: do not ship it)."""
        return self.scores[self.served.name] < self.scores[f"empirical_w{self.window}"]

    def to_json(self) -> dict[str, Any]:
        return {
            "served": self.served.name,
            "served_beats_empirical_on_validation": self.served_beats_empirical,
            "trees": self.trees.name if self.trees else None,
            "empirical_window": self.window,
            "criterion": "lowest pooled pinball loss (mean of up and down) on the validation period",
            "validation_pooled_pinball": dict(sorted(self.scores.items(), key=lambda kv: kv[1])),
        }


def select(
    frame: ShockFrame, val_rows: np.ndarray, opts: ShockOptions, pool: list[Candidate] | None = None
) -> Selection:
    y = frame.y[val_rows]
    scores: dict[str, float] = {}
    pool = candidates() if pool is None else pool
    for c in pool:
        up, down = walk_forward(
            frame, val_rows, candidate_fitter(c, opts.level, opts.horizon), opts.refit_every
        )
        scores[c.name] = pooled_pinball(y, up, down, opts.level)
    for w in opts.windows:
        up, down = baselines.empirical(frame.day, frame.y, val_rows, opts.horizon, w, opts.level)
        scores[f"empirical_w{w}"] = pooled_pinball(y, up, down, opts.level)
    served = min((c for c in pool if c.family in SERVABLE), key=lambda c: scores[c.name])
    trees = [c for c in pool if c.family not in SERVABLE]
    best_tree = min(trees, key=lambda c: scores[c.name]) if trees else None
    window = min(opts.windows, key=lambda w: scores[f"empirical_w{w}"])
    return Selection(served, best_tree, window, scores)
