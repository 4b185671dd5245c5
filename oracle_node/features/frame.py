"""A named feature matrix: the exact names and column order a model's manifest pins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from oracle_node.errors import ModelError


@dataclass(frozen=True, eq=False)
class FeatureFrame:
    """values[i, j] is feature names[j] on the day ending at ts[i] (data up to and including ts[i])."""

    market: str
    ts: np.ndarray
    names: tuple[str, ...]
    values: np.ndarray

    def __post_init__(self) -> None:
        if self.values.shape != (self.ts.size, len(self.names)):
            raise ValueError(
                f"feature frame {self.market}: values shape {self.values.shape} "
                f"!= ({self.ts.size}, {len(self.names)})"
            )
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"feature frame {self.market}: duplicate feature names {self.names}")

    def column(self, name: str) -> np.ndarray:
        try:
            return self.values[:, self.names.index(name)]
        except ValueError:
            raise ModelError(f"feature {name!r} not computed for {self.market}; have {self.names}") from None

    def select(self, names: Sequence[str]) -> np.ndarray:
        """Columns in the given order (what a model manifest pins); ModelError names a missing one."""
        missing = [n for n in names if n not in self.names]
        if missing:
            raise ModelError(f"features {missing} not computed for {self.market}; have {list(self.names)}")
        idx = [self.names.index(n) for n in names]
        return self.values[:, idx]

    def last_row(self, names: Sequence[str]) -> np.ndarray:
        return self.select(names)[-1]
