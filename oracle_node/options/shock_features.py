"""Features and targets of the implied-vol shock model (runtime side: the research code imports these).

Timing (checked on the data, see docs/vol-shocks.md): a Deribit DVOL value labelled day D is the
index at the END of day D (its change D-1 -> D correlates with |BTC return of D| at 0.32, the change
D -> D+1 at -0.04), a daily close labelled D is the price at the end of D, and the daily funding of D
is the mean of D's 8 h rates. Everything labelled D is therefore known at t = end of D, and row D of
the feature table uses data labelled <= D only. The target of row D over a horizon of h days is
y = ln(DVOL[D+h] / DVOL[D]); it is NaN when DVOL[D+h] is missing (one gap: 2025-11-11). For the
features only, a value missing for up to MAX_FILL_DAYS days carries the last one (a change over the
gap then shows on the day after it).

Columns (DVOL, RV as annualised fractions; one calendar day = one step):

* log_dvol             ln DVOL[D]
* dvol_chg_1d/_5d      ln(DVOL[D] / DVOL[D-1]), ln(DVOL[D] / DVOL[D-5])
* log_vov              ln sqrt(EWMA_0.9 of squared 1-day DVOL log changes up to D): recent vol-of-vol
* log_rv30             ln of the 30-day close-to-close realised vol of BTC, sqrt(365/30 sum r^2)
* log_iv_rv            ln(DVOL / RV30);  vrp = DVOL^2 - RV30^2 (the variance risk premium)
* ret_z, abs_ret_z     BTC log return of day D in units of the implied daily sd DVOL/sqrt(365)
* funding_bp           daily mean perpetual funding per 8 h, basis points; funding_chg_7d_bp its 7-day change
* wd_1 .. wd_6         weekday of D (Tuesday .. Sunday; Monday is the base): the target day is D+1
                       for h = 1 and DVOL moves by weekday (weekly expiries roll out on Fridays)

Daily OHLC would allow Parkinson / Garman-Klass range estimators; the shared data has no daily
high/low over the DVOL years (2022-11..2025-11), so the realised-vol features are close-to-close.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oracle_node.errors import DataError

SECONDS_PER_DAY = 86_400
DAYS_PER_YEAR = 365.0
RV_DAYS = 30
VOV_LAMBDA = 0.9
VOV_WARMUP = 20  # DVOL changes before log_vov counts as known
FUNDING_CHG_DAYS = 7
MAX_FILL_DAYS = 2  # a feature input missing for up to 2 days carries its last value (DVOL misses 2025-11-11)
BP = 1e4
WEEKDAYS = tuple(f"wd_{k}" for k in range(1, 7))
FEATURES: tuple[str, ...] = (
    "log_dvol",
    "dvol_chg_1d",
    "dvol_chg_5d",
    "log_vov",
    "log_rv30",
    "log_iv_rv",
    "vrp",
    "ret_z",
    "abs_ret_z",
    "funding_bp",
    "funding_chg_7d_bp",
    *WEEKDAYS,
)


def _days(values: object, name: str, where: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise DataError(where, None, name, f"shape {arr.shape}", "must be a non-empty 1-D series")
    if not np.isfinite(arr).all() or (arr != np.round(arr)).any():
        i = int(np.argmax(~np.isfinite(arr) | (arr != np.round(arr))))
        raise DataError(where, i, name, float(arr[i]), "must be a whole UTC day number")
    day = arr.astype(np.int64)
    if (np.diff(day) <= 0).any():
        i = int(np.argmax(np.diff(day) <= 0)) + 1
        raise DataError(where, i, name, int(day[i]), "days must be strictly increasing")
    return day


def _values(values: object, name: str, where: str, n: int, *, positive: bool) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (n,):
        raise DataError(where, None, name, f"shape {arr.shape}", f"expected {n} values (one per day)")
    bad = ~np.isfinite(arr) | ((arr <= 0) if positive else False)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(where, i, name, float(arr[i]), "must be finite" + (" and > 0" if positive else ""))
    return arr


@dataclass(frozen=True, eq=False)
class ShockInputs:
    """Daily history up to some day t: DVOL (fraction, 0.5676 = 56.76 vol points), BTC closes and funding.

    Days are UTC day numbers (unix seconds // 86400) of the day each value belongs to (see the
    module docstring for the timing). Validated here; the feature code trusts it."""

    dvol_day: np.ndarray
    dvol: np.ndarray
    price_day: np.ndarray
    close: np.ndarray
    funding_day: np.ndarray
    funding: np.ndarray  # fraction per 8 h

    def __post_init__(self) -> None:
        for day_name, val_name, positive in (
            ("dvol_day", "dvol", True),
            ("price_day", "close", True),
            ("funding_day", "funding", False),
        ):
            where = f"shock inputs ({val_name})"
            day = _days(getattr(self, day_name), day_name, where)
            val = _values(getattr(self, val_name), val_name, where, day.size, positive=positive)
            object.__setattr__(self, day_name, day)
            object.__setattr__(self, val_name, val)

    def until(self, day: int) -> ShockInputs:
        """Only what was known at the end of `day` (no look-ahead)."""

        def cut(d: np.ndarray) -> int:
            return int(np.searchsorted(d, day, side="right"))

        i, j, k = cut(self.dvol_day), cut(self.price_day), cut(self.funding_day)
        return ShockInputs(
            self.dvol_day[:i], self.dvol[:i], self.price_day[:j], self.close[:j],
            self.funding_day[:k], self.funding[:k],
        )  # fmt: skip


@dataclass(frozen=True, eq=False)
class ShockFrame:
    """One row per DVOL day: x[:, j] is FEATURES[j] (NaN until known); y the h-day log change of DVOL."""

    day: np.ndarray
    x: np.ndarray
    y: np.ndarray
    horizon: int

    @property
    def ok(self) -> np.ndarray:
        """Rows whose features are all known."""
        return np.isfinite(self.x).all(axis=1)

    def columns(self, names: tuple[str, ...]) -> np.ndarray:
        return self.x[:, [FEATURES.index(n) for n in names]]


def _on_grid(first: int, n: int, day: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.full(n, np.nan)
    keep = (day >= first) & (day < first + n)
    out[day[keep] - first] = values[keep]
    return out


def _ffill(a: np.ndarray, limit: int) -> np.ndarray:
    """Carry the last known value over at most `limit` missing days (features only, never targets)."""
    out = a.copy()
    last, age = np.nan, 0
    for i, v in enumerate(a):
        if np.isfinite(v):
            last, age = v, 0
        else:
            age += 1
            out[i] = last if age <= limit else np.nan
    return out


def _lag(a: np.ndarray, k: int) -> np.ndarray:
    return np.r_[np.full(k, np.nan), a[:-k]]


def _rolling_sum(a: np.ndarray, k: int) -> np.ndarray:
    """Sum of a[i-k+1..i]; NaN when any of them is NaN or i < k-1."""
    c = np.r_[0.0, np.cumsum(np.nan_to_num(a))]
    bad = np.r_[0, np.cumsum(np.isnan(a))]
    out = np.full(a.size, np.nan)
    if a.size >= k:
        s = c[k:] - c[:-k]
        nb = bad[k:] - bad[:-k]
        out[k - 1 :] = np.where(nb == 0, s, np.nan)
    return out


def _ewma_vov(chg: np.ndarray) -> np.ndarray:
    """sqrt of the EWMA of squared changes; a missing change keeps the last state; NaN in the warm-up."""
    out = np.full(chg.size, np.nan)
    state, seen = 0.0, 0
    for i, c in enumerate(chg):
        if np.isfinite(c):
            state = c * c if seen == 0 else VOV_LAMBDA * state + (1.0 - VOV_LAMBDA) * c * c
            seen += 1
        if seen >= VOV_WARMUP:
            out[i] = np.sqrt(state)
    return out


def build_features(inputs: ShockInputs, horizon: int = 1) -> ShockFrame:
    """The feature table on the DVOL days (row D uses data labelled <= D) and the h-day targets."""
    if not (isinstance(horizon, int) and 1 <= horizon <= 30):
        raise DataError("shock features", None, "horizon", horizon, "must be a whole number of days in 1..30")
    first = int(min(inputs.dvol_day[0], inputs.price_day[0], inputs.funding_day[0]))
    n = int(inputs.dvol_day[-1]) - first + 1
    raw = np.log(_on_grid(first, n, inputs.dvol_day, inputs.dvol))
    dv = _ffill(np.exp(raw), MAX_FILL_DAYS)
    px = _ffill(_on_grid(first, n, inputs.price_day, inputs.close), MAX_FILL_DAYS)
    fu = _ffill(_on_grid(first, n, inputs.funding_day, inputs.funding), MAX_FILL_DAYS)
    ldv = np.log(dv)
    chg1 = ldv - _lag(ldv, 1)
    r = np.log(px) - _lag(np.log(px), 1)
    rv30 = np.sqrt(_rolling_sum(r * r, RV_DAYS) * DAYS_PER_YEAR / RV_DAYS)
    daily_iv = dv / np.sqrt(DAYS_PER_YEAR)
    with np.errstate(divide="ignore", invalid="ignore"):
        cols = {
            "log_dvol": ldv,
            "dvol_chg_1d": chg1,
            "dvol_chg_5d": ldv - _lag(ldv, 5),
            "log_vov": np.log(_ewma_vov(chg1)),
            "log_rv30": np.log(rv30),
            "log_iv_rv": ldv - np.log(rv30),
            "vrp": dv * dv - rv30 * rv30,
            "ret_z": r / daily_iv,
            "abs_ret_z": np.abs(r) / daily_iv,
            "funding_bp": fu * BP,
            "funding_chg_7d_bp": (fu - _lag(fu, FUNDING_CHG_DAYS)) * BP,
        }
    weekday = (np.arange(first, first + n) + 3) % 7  # day 0 (1970-01-01) was a Thursday; Monday = 0
    for k in range(1, 7):
        cols[f"wd_{k}"] = (weekday == k).astype(np.float64)
    grid = np.column_stack([cols[name] for name in FEATURES])
    y = np.r_[raw[horizon:], np.full(horizon, np.nan)] - raw
    rows = inputs.dvol_day - first
    x = grid[rows]
    x[~np.isfinite(x)] = np.nan
    return ShockFrame(inputs.dvol_day.copy(), x, y[rows], horizon)
