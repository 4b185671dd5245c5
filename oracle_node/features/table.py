"""The research feature table: every feature of one market as one FeatureFrame, and its coverage.

TABLE_FEATURES = features.build's FEATURE_NAMES (returns, HAR, volume, funding from the history),
then features.realised (range and intraday measures), then features.external (implied vol and VRP,
funding extras, liquidations, cross-asset). Row i holds the features of the day that closes at
ts[i], from data known at that close only; each module's docstring has the definitions.

`ml_extra(frame, names)` gives the columns to append to models.ml_features.MlRows.x (row k of MlRows
is day k of the history, so the table lines up row for row); `coverage(frame)` says, per feature,
which days have a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from oracle_node.features.build import FEATURE_NAMES, build_features
from oracle_node.features.external import EXTERNAL_FEATURES, ExternalInputs, external_features
from oracle_node.features.frame import FeatureFrame
from oracle_node.features.history import MarketHistory
from oracle_node.features.realised import REALISED_FEATURES, realised_features

_OWN = tuple(n for n in FEATURE_NAMES if n not in EXTERNAL_FEATURES)
TABLE_FEATURES: tuple[str, ...] = (*_OWN, *REALISED_FEATURES, *EXTERNAL_FEATURES)


def feature_table(history: MarketHistory, ext: ExternalInputs | None = None) -> FeatureFrame:
    """Every TABLE_FEATURES column for every day of the history."""
    base = build_features(history)
    cols = {n: base.column(n) for n in _OWN}
    cols |= realised_features(history)
    cols |= external_features(history, ext or ExternalInputs())
    values = np.column_stack([cols[n] for n in TABLE_FEATURES])
    return FeatureFrame(history.market, history.ts.copy(), TABLE_FEATURES, values)


def ml_extra(frame: FeatureFrame, names: Sequence[str]) -> np.ndarray:
    """The named columns, row k = day k (MlRows' row order)."""
    return frame.select(names)


def _date(close_ts: float) -> str:
    return datetime.fromtimestamp(close_ts - 1.0, UTC).strftime("%Y-%m-%d")


def coverage(frame: FeatureFrame) -> list[dict[str, object]]:
    """Per feature: first and last day with a finite value and the number of such days."""
    out: list[dict[str, object]] = []
    for j, name in enumerate(frame.names):
        ok = np.flatnonzero(np.isfinite(frame.values[:, j]))
        first = _date(frame.ts[ok[0]]) if ok.size else None
        last = _date(frame.ts[ok[-1]]) if ok.size else None
        out.append({"feature": name, "first": first, "last": last, "days": int(ok.size)})
    return out
