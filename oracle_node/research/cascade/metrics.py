"""Scores of the cascade forecasts: Brier, Brier skill against climatology (with a moving-block
bootstrap interval over days), reliability bins, precision/recall at an alert level, lead time
before a named wave, and descriptive scores of the expected USD.

Lead time before a wave starting on day W (forecast for W issued at 00:00 UTC of W): the alert run
is the unbroken run of daily forecasts with p >= level that ends with W's forecast, looking back at
most LOOKBACK_DAYS; lead_days = days from the run's first issue to 00:00 of W (0: alerted only at
W's own issue; LOOKBACK_DAYS: alerting all week, which says little; None: W's forecast is no
alert). hours_to_crossing = hours from that first issue to the moment the liquidated USD
accumulated since 00:00 of W first exceeded W's threshold.
"""

from __future__ import annotations

import math

import numpy as np

DAY = 86400.0
LEVELS = tuple(round(0.05 * k, 2) for k in range(1, 13))  # 0.05 .. 0.60: alert levels tried on validation
BLOCK_DAYS = 10
LOOKBACK_DAYS = 7
N_BOOT = 1000


def brier(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((p - y) ** 2))


def brier_skill(p: np.ndarray, ref: np.ndarray, y: np.ndarray) -> float:
    return 1.0 - brier(p, y) / brier(ref, y)


def bss_interval(
    p: np.ndarray, ref: np.ndarray, y: np.ndarray, day: np.ndarray, seed: int = 0
) -> tuple[float, float]:
    """90 % moving-block bootstrap interval of the BSS; blocks of BLOCK_DAYS forecast days (all
    markets of a day stay together)."""
    days = np.unique(day)
    idx = [np.flatnonzero(day == d) for d in days]
    rng = np.random.default_rng(seed)
    n_blocks = math.ceil(days.size / BLOCK_DAYS)
    out = []
    for _ in range(N_BOOT):
        starts = rng.integers(0, max(days.size - BLOCK_DAYS, 0) + 1, n_blocks)
        pick = np.concatenate([idx[j] for s in starts for j in range(s, min(s + BLOCK_DAYS, days.size))])
        den = brier(ref[pick], y[pick])
        if den > 0:
            out.append(1.0 - brier(p[pick], y[pick]) / den)
    lo, hi = np.quantile(out, [0.05, 0.95])
    return float(lo), float(hi)


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Per probability bin [k/bins, (k+1)/bins): count, mean forecast, observed frequency."""
    k = np.minimum((p * bins).astype(int), bins - 1)
    return [
        {"lo": b / bins, "hi": (b + 1) / bins, "n": int((k == b).sum()),
         "mean_p": float(p[k == b].mean()), "observed": float(y[k == b].mean())}
        for b in range(bins) if (k == b).any()
    ]  # fmt: skip


def precision_recall(p: np.ndarray, y: np.ndarray, level: float) -> dict[str, float | int | None]:
    alert = p >= level
    tp = int((alert & (y == 1)).sum())
    precision = tp / int(alert.sum()) if alert.any() else None
    recall = tp / int((y == 1).sum()) if (y == 1).any() else None
    f1 = None if not precision or not recall else 2 * precision * recall / (precision + recall)
    return {"level": level, "alerts": int(alert.sum()), "events": int((y == 1).sum()), "hits": tp,
            "precision": precision, "recall": recall, "f1": f1}  # fmt: skip


def choose_level(p: np.ndarray, y: np.ndarray) -> float:
    """The alert level of LEVELS with the best F1 (ties: the higher level); 0.5 without any hit."""
    scored = [(precision_recall(p, y, lv)["f1"] or 0.0, lv) for lv in LEVELS]
    best = max(scored)
    return best[1] if best[0] > 0 else 0.5


def lead_time(
    ts: np.ndarray,
    p: np.ndarray,
    level: float,
    wave: float,
    thr: float,
    ev_ts: np.ndarray,
    ev_usd: np.ndarray,
) -> dict[str, float | None]:
    """Lead of the alert run ending with the forecast issued at `wave` (module docstring)."""
    at = np.flatnonzero(ts == wave)
    if at.size == 0 or p[at[0]] < level:
        return {
            "lead_days": None,
            "hours_to_crossing": None,
            "p_at_wave": None if at.size == 0 else float(p[at[0]]),
        }
    i = at[0]
    while (
        i > 0 and p[i - 1] >= level and ts[i] - ts[i - 1] == DAY and wave - ts[i - 1] <= LOOKBACK_DAYS * DAY
    ):
        i -= 1
    day = (ev_ts > wave) & (ev_ts <= wave + DAY)
    cum = np.cumsum(ev_usd[day])
    cross = ev_ts[day][np.argmax(cum > thr)] if (cum > thr).any() else None
    hours = None if cross is None else (float(cross) - float(ts[i])) / 3600.0
    return {
        "lead_days": (wave - float(ts[i])) / DAY,
        "hours_to_crossing": hours,
        "p_at_wave": float(p[at[0]]),
    }


def usd_scores(e_usd: np.ndarray, y_usd: np.ndarray) -> dict[str, float]:
    """MAE of log10(1 + USD), Spearman rank correlation, RMSE in USD millions."""
    ranks = [np.argsort(np.argsort(v)) for v in (e_usd, y_usd)]
    return {
        "mae_log10": float(np.mean(np.abs(np.log10(1 + e_usd) - np.log10(1 + y_usd)))),
        "spearman": float(np.corrcoef(ranks[0], ranks[1])[0, 1]),
        "rmse_musd": float(np.sqrt(np.mean((e_usd - y_usd) ** 2)) / 1e6),
    }
