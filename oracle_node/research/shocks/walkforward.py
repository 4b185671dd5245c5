"""Walk-forward out of sample: refit on a calendar schedule with an expanding window, forecast daily.

A forecast for row t (made at the end of day t) comes from a model fitted on the refit day r <= t
with the rows s whose target was already observed then (day[s] + h <= day[r]) and whose features
are known; features of row t use data labelled <= t (shock_features). Nothing after day t can reach
the forecast for t (tests/unit/test_shocks_walkforward.py poisons the future to check it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from oracle_node.errors import ModelError
from oracle_node.options.shock_features import ShockFrame
from oracle_node.research.shocks.models import Candidate, Predictor, fit

MIN_TRAIN_ROWS = 200
MIN_PERIOD_ROWS = 30


@dataclass(frozen=True)
class Split:
    """Row indices of the validation and test periods (evaluable rows: features and target known)."""

    val: np.ndarray
    test: np.ndarray

    def describe(self, day: np.ndarray) -> dict[str, object]:
        iso = lambda i: str(np.datetime64(int(day[i]), "D"))  # noqa: E731
        return {
            "validation": [iso(self.val[0]), iso(self.val[-1]), int(self.val.size)],
            "test": [iso(self.test[0]), iso(self.test[-1]), int(self.test.size)],
        }


def split(frame: ShockFrame, val_days: int, test_days: int) -> Split:
    """The last `test_days` calendar days with a known target are the test; the `val_days` before, validation."""
    usable = frame.ok & np.isfinite(frame.y)
    if not usable.any():
        raise ModelError(
            "shock split: no day has both its features and its target known (too little history?)"
        )
    last = int(frame.day[usable][-1])
    test_start, val_start = last - test_days + 1, last - test_days - val_days + 1
    rows = np.arange(frame.day.size)
    val = rows[usable & (frame.day >= val_start) & (frame.day < test_start)]
    test = rows[usable & (frame.day >= test_start)]
    first = str(np.datetime64(int(frame.day[usable][0]), "D"))
    for name, part in (("validation", val), ("test", test)):
        if part.size < MIN_PERIOD_ROWS:
            raise ModelError(
                f"shock split: the {name} period has {part.size} usable days (need {MIN_PERIOD_ROWS}); "
                f"the data's usable days start on {first}: shorten --val-days/--test-days"
            )
    return Split(val, test)


def train_rows(frame: ShockFrame, refit_day: int) -> np.ndarray:
    return np.flatnonzero(frame.ok & np.isfinite(frame.y) & (frame.day + frame.horizon <= refit_day))


def walk_forward(
    frame: ShockFrame,
    rows: np.ndarray,
    fitter: Callable[[np.ndarray, np.ndarray], Predictor],
    refit_every: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(q_up, q_down) for each row in `rows` (ascending), refitting every `refit_every` days from rows[0]."""
    up, down = np.full(rows.size, np.nan), np.full(rows.size, np.nan)
    start = int(frame.day[rows[0]])
    refit_day = start + (frame.day[rows] - start) // refit_every * refit_every
    for r in np.unique(refit_day):
        train = train_rows(frame, int(r))
        if train.size < MIN_TRAIN_ROWS:
            raise ModelError(
                f"shock walk-forward: only {train.size} training rows before {np.datetime64(int(r), 'D')} "
                f"(need {MIN_TRAIN_ROWS}); shorten the validation/test periods or add history"
            )
        model = fitter(frame.x[train], frame.y[train])
        block = refit_day == r
        up[block], down[block] = model.log_quantiles(frame.x[rows[block]])
    return up, down


def candidate_fitter(
    c: Candidate, level: float, horizon: int
) -> Callable[[np.ndarray, np.ndarray], Predictor]:
    return lambda x, y: fit(c, x, y, level, horizon)
