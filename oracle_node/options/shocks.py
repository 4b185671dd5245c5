"""ML-sized implied-vol shocks for the options scenario grid (inference side: never imports training code).

Given the daily history up to day t (DVOL, BTC closes, funding; see `shock_features`), the served
model predicts the 99 % quantiles of the up- and down-move of the 30-day implied vol (DVOL, BTC only:
that is what the data covers) over the margin period (`horizon_days`, 1 by default) as log changes
q_up, q_down of DVOL, and returns them as fractions of the current vol:

    vol_up = e^q_up - 1,   vol_down = 1 - e^q_down      (0.12 = +12 %, 0.09 = -9 %)

The DAO's bounds still bound the shock: `predict` takes a `ShockBounds` (floor and ceiling per side)
and clips into it, saying which side was clipped. Inputs the model cannot judge (a feature unknown,
or outside the training range widened by `range_tolerance`) fall back to Deribit's fixed shocks
(+50 % / -25 %, the conservative baseline), clipped the same way, and say so.

The model is a JSON file of coefficients (`shock_model.json`) pinned by sha256 in `manifest.json`
under oracle_node/models/artifacts/shocks/, written by `oracle-node shock-train`. Two kinds:

* location_scale: mu = a0 + a.x_loc, ln sigma = b0 + b.x_scale (x standardised with the stored
  centre/scale), q_side = mu + sigma * z_side with z_side the empirical residual quantile;
* linear_quantile: q_side = c0_side + c_side.x (a linear quantile regression per side).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oracle_node.errors import ConfigError, DataError, ModelError
from oracle_node.options.shock_features import SECONDS_PER_DAY, ShockFrame, ShockInputs, build_features
from oracle_node.options.shock_params import ShockParams, read_artifact
from oracle_node.sources.bundled import BUNDLED_DIR
from oracle_node.sources.history import load_history
from oracle_node.sources.series import read_dvol, read_funding_daily

SHOCK_DIR = Path(__file__).resolve().parents[1] / "models" / "artifacts" / "shocks"
DVOL_FILE = "deribit_btc_dvol_daily_2022_2025.json.gz"
FUNDING_FILE = "btc_perp_funding_daily_2019_2026.csv.gz"
# Deribit's portfolio-margin vol shock at the 30-day point (DVOL is a 30-day index): the fallback.
FIXED_UP = 0.50
FIXED_DOWN = 0.25


@dataclass(frozen=True, slots=True)
class ShockBounds:
    """The DAO's bounds on each side's shock, as fractions of the current vol (0.1 = 10 %)."""

    up_floor: float = 0.0
    up_ceiling: float = 10.0
    down_floor: float = 0.0
    down_ceiling: float = 0.99

    def __post_init__(self) -> None:
        for side, lo, hi, top in (
            ("up", self.up_floor, self.up_ceiling, math.inf),
            ("down", self.down_floor, self.down_ceiling, 1.0),
        ):
            if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 <= lo <= hi < top):
                raise ConfigError(
                    f"shock bounds: {side}_floor = {lo!r}, {side}_ceiling = {hi!r} must satisfy "
                    f"0 <= floor <= ceiling < {top:g}"
                )


@dataclass(frozen=True, slots=True)
class VolShock:
    """The shocks for day `day` (UTC date, ISO) over `horizon_days`, clipped to the DAO bounds."""

    day: str
    horizon_days: int
    vol_up: float
    vol_down: float
    raw_up: float  # before clipping (the model's, or the fallback's)
    raw_down: float
    clipped: tuple[str, ...] = ()  # e.g. ("up_floor",)
    fallback: str | None = None  # why the fixed shocks were used, or None


def to_fractions(q_up: float, q_down: float) -> tuple[float, float]:
    """Log-change quantiles -> (up, down) shocks as fractions of the current vol, never below 0."""
    return max(math.expm1(q_up), 0.0), max(-math.expm1(q_down), 0.0)


def clip(up: float, down: float, bounds: ShockBounds) -> tuple[float, float, tuple[str, ...]]:
    """The shocks inside the DAO bounds, and which bound bit."""
    hit: list[str] = []
    if up < bounds.up_floor or up > bounds.up_ceiling:
        hit.append("up_floor" if up < bounds.up_floor else "up_ceiling")
    if down < bounds.down_floor or down > bounds.down_ceiling:
        hit.append("down_floor" if down < bounds.down_floor else "down_ceiling")
    up_c = min(max(up, bounds.up_floor), bounds.up_ceiling)
    down_c = min(max(down, bounds.down_floor), bounds.down_ceiling)
    return up_c, down_c, tuple(hit)


class ShockModel:
    """The served shock model: verified against its manifest, then `predict` per day."""

    def __init__(self, params: ShockParams, model_hash: str = "") -> None:
        self.params = params
        self.model_hash = model_hash

    @classmethod
    def load(cls, directory: Path = SHOCK_DIR) -> ShockModel:
        params, model_hash = read_artifact(Path(directory))
        return cls(params, model_hash)

    def predict_frame(self, frame: ShockFrame, bounds: ShockBounds, row: int = -1) -> VolShock:
        """The shock for one row of a feature table (default: its last day)."""
        if frame.horizon != self.params.horizon_days:
            raise ModelError(
                f"shock model: features built for horizon {frame.horizon} d, the model predicts "
                f"{self.params.horizon_days} d"
            )
        x = frame.x[row]
        day = _iso(int(frame.day[row]))
        why = self.params.out_of_range(x)
        if why is not None:
            up, down = FIXED_UP, FIXED_DOWN
        else:
            q_up, q_down = self.params.log_quantiles(x[None, :])
            up, down = to_fractions(float(q_up[0]), float(q_down[0]))
        up_c, down_c, hit = clip(up, down, bounds)
        return VolShock(day, self.params.horizon_days, up_c, down_c, up, down, hit, why)

    def predict(self, inputs: ShockInputs, bounds: ShockBounds) -> VolShock:
        """The shock for the last DVOL day of `inputs` (everything after it is ignored by construction)."""
        return self.predict_frame(build_features(inputs, self.params.horizon_days), bounds)


def _iso(day: int) -> str:
    return np.datetime64(day * SECONDS_PER_DAY, "s").astype("datetime64[D]").astype(str)


def bundled_inputs(
    dvol: Path | None = None, prices: str = "bundled:btc_usd_daily", funding: Path | None = None
) -> ShockInputs:
    """ShockInputs from the bundled real data (or the given files): DVOL JSON, daily closes, daily funding.
    Every problem is a DataError naming the file (and the entry or line, field and value)."""
    dvol_path = dvol if dvol is not None else BUNDLED_DIR / DVOL_FILE
    funding_path = funding if funding is not None else BUNDLED_DIR / FUNDING_FILE
    d = read_dvol(dvol_path)
    hist = load_history("BTC", prices if isinstance(prices, str) else str(prices))
    f = read_funding_daily(funding_path).mean
    dv = np.asarray(d.values)
    if (dv <= 0).any():
        i = int(np.argmax(dv <= 0))
        raise DataError(str(dvol_path), None, f"[{i}][1]", float(dv[i]) * 100, "DVOL must be > 0")
    return ShockInputs(
        _one_per_day(dvol_path, d.ts), dv,
        np.asarray(hist.ts) // SECONDS_PER_DAY - 1, np.asarray(hist.close),
        _one_per_day(funding_path, f.ts), np.asarray(f.values),
    )  # fmt: skip


def _one_per_day(path: Path, ts: tuple[float, ...]) -> np.ndarray:
    day = np.floor(np.asarray(ts) / SECONDS_PER_DAY)
    same = np.flatnonzero(np.diff(day) == 0)
    if same.size:
        i = int(same[0]) + 1
        why = f"a second value on {_iso(int(day[i]))}: expected one value per UTC day (a daily series)"
        raise DataError(str(path), None, "date", ts[i], why)
    return day
