"""The previous close's feature row on a partial day, and a per-market memo of it.

models.partial_day anchors a partial day on the model's output at the previous close, so every round
needs the feature row of the history without its partial day (previous_row). That row is the same in
every hourly round of a day: it changes only when a day closes, or when the days before the partial
day change (a corrected past close, a back-filled column). Rebuilding it in every round for every
market was 0.13-0.15 s of the 1,000-market round (make bench-node, session 8 profile).

PreviousRowCache keeps, per market, the row and the exact inputs it was computed from: the feature
names and the bytes of every column (ts, close and each optional column, or its absence) of the
history before its partial day, over the window latest_features reads. A lookup returns the stored
row only when all of these are byte-identical, and otherwise recomputes and replaces the entry; the
comparison is of the inputs themselves, not of a digest, so no collision can serve a wrong row. A
new day, a corrected past close, another market or another name tuple therefore always recompute,
and the row is bit for bit what previous_row returns (tests/unit/test_partial_day.py). The cache
only skips repeated work: the node's outputs stay a function of the history alone.

Bounded: one entry per market, at most max_markets markets (the oldest entry is dropped beyond that;
with more markets than that the cache misses and the node does the uncached work).
"""

from __future__ import annotations

import numpy as np

from oracle_node.features.build import LOOKBACK_DAYS, latest_features
from oracle_node.features.history import OPTIONAL_COLUMNS, MarketHistory

MAX_MARKETS = 4096

_Inputs = tuple[tuple[str, ...], tuple[bytes | None, ...]]


def previous_row(tail: MarketHistory, names: tuple[str, ...]) -> np.ndarray:
    """The feature row of `names` at the previous close: the history up to its second-to-last day."""
    return latest_features(tail.until(float(tail.ts[-2]))).last_row(names)


def _inputs(tail: MarketHistory, names: tuple[str, ...]) -> _Inputs:
    """Everything previous_row(tail, names) reads: every column of the days before the last one, over
    latest_features' window (timestamps are strictly increasing, so until(ts[-2]) drops the last day)."""
    window = slice(-(LOOKBACK_DAYS + 1), -1)
    cols = (tail.ts, tail.close, *(getattr(tail, name) for name in OPTIONAL_COLUMNS))
    return names, tuple(None if col is None else col[window].tobytes() for col in cols)


class PreviousRowCache:
    """previous_row, memoised per market on its exact inputs (module docstring)."""

    def __init__(self, max_markets: int = MAX_MARKETS) -> None:
        if max_markets < 1:
            raise ValueError(f"PreviousRowCache: max_markets = {max_markets!r} must be >= 1")
        self.max_markets = max_markets
        self._entries: dict[str, tuple[_Inputs, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def row(self, tail: MarketHistory, names: tuple[str, ...]) -> np.ndarray:
        """previous_row(tail, names), from the market's entry when its inputs are unchanged (read-only)."""
        inputs = _inputs(tail, names)
        entry = self._entries.get(tail.market)
        if entry is not None and entry[0] == inputs:
            return entry[1]
        row = previous_row(tail, names).copy()
        row.setflags(write=False)
        self._entries.pop(tail.market, None)
        while len(self._entries) >= self.max_markets:
            del self._entries[next(iter(self._entries))]
        self._entries[tail.market] = (inputs, row)
        return row
