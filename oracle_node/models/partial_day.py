"""The ML model on a partial day: smooth in the price, continuous across midnight, no lag.

The ML model was trained on complete days (features of day t from the close of day t). The node's
history ends with a *partial day* (the latest guarded price treated as the close, so an intraday
crash reaches the models at once). Read as a close, the partial day moves the features with every
hourly tick, and the model is a sum of depth-2 trees, a step function of its inputs: on 2020-03-11 a
0.003 move of log_har_m (the partial day's return entering the 30-day RMS) crossed a split and moved
the 1 % quantile from -3.2 to -4.9 standardised units, so the published IM jumped by 25-40 % from one
hour to the next on price moves of 0.2-0.5 %.

On a partial day (elapsed fraction w of the UTC day, 0 < w < 1) the ML log-return quantiles are

    q = E_now x (q_previous / E_anchor) ** (1 - w)        (per quantile, lower and upper)

- E_now: the mean of the model's quantiles over the day's possible closes, close = price now x exp(e)
  at NODES equal-probability quantiles of e ~ N(0, (1 - w) sigma^2), sigma the RMS of the last 30
  closed-day returns: the conditional expectation of the forecast the model will make at the close.
  A smooth function of the price (a split crossing moves it by 1 / NODES of the step), centred on the
  observed move, so a crash reaches it in the same round however early in the day.
- q_previous: the model's own output at the last close (what the 00:00 round published);
  E_anchor: E_now evaluated as if the price were still at that close. Their ratio carries the
  previous close's value into the new day and fades linearly: at w -> 0 with the price unchanged,
  q = q_previous (no jump at midnight); at w -> 1, q = E_now -> the model at the new close.
- A closed day (w = 1: the 00:00 round, training, walk-forward backtests) is evaluated as it is,
  bit for bit, so the manifest's metrics still describe the served model at every close.
- Stateless and deterministic: a function of the history only, identical on every node. The previous
  close's row is the same all day; callers that run every round memoise it (models.previous_row),
  which returns the same bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from oracle_node.features.build import LOOKBACK_DAYS, MONTH, WEEK, har_terms, latest_features
from oracle_node.features.history import SECONDS_PER_DAY, MarketHistory
from oracle_node.features.rolling import log_returns
from oracle_node.models.previous_row import PreviousRowCache, previous_row

NODES = 16  # equal-probability nodes: a split crossing moves the average by 1/16 of its step
SIGMA_DAYS = 30  # the closed days whose RMS return scales the rest of the day (har_m's window)
# Standard-normal quantiles at (k + 0.5) / NODES: equal weights, symmetric, sum zero.
UNIT_NODES = np.sqrt(2.0) * special.erfinv(2.0 * (np.arange(NODES) + 0.5) / NODES - 1.0)


def elapsed_fraction(history: MarketHistory) -> float:
    """Elapsed fraction of the last day: (ts[-1] - ts[-2]) / 1 day, at most 1 (1 for a closed day)."""
    if len(history) < 2:
        return 1.0
    return float(min(1.0, max(0.0, (history.ts[-1] - history.ts[-2]) / SECONDS_PER_DAY)))


def rest_of_day_sigma(history: MarketHistory) -> float:
    """sqrt(1 - w) x the RMS of the last SIGMA_DAYS closed-day log returns (0 on a closed day)."""
    w = elapsed_fraction(history)
    if w >= 1.0 or len(history) < 3:
        return 0.0
    closed = history.close[-(SIGMA_DAYS + 2) : -1]
    r = np.diff(np.log(closed))
    return float(np.sqrt((1.0 - w) * np.mean(r * r)))


@dataclass(frozen=True)
class RowSet:
    """The feature rows the ML model evaluates for one market.

    rows: (n, features + scale): a closed day's own row (n = 1), or on a partial day the NODES rows of
    its completed closes at the current price, the NODES rows at the previous close's price (the
    anchor) and the previous close's own row (n = 2 NODES + 1); w: the elapsed fraction of the day."""

    rows: np.ndarray
    w: float


def return_features(prior: np.ndarray, last: np.ndarray) -> dict[str, np.ndarray]:
    """features.build's return features of the last day for many candidate last returns at once
    (vectorised: the node evaluates 2 NODES candidates per market and round). prior: the returns
    before the last day (at least MONTH - 1); last: the candidates. The same reductions as
    features.build on the same windows, so each value equals latest_features' bit for bit
    (tests/unit/test_partial_day.py)."""
    month = np.hstack([np.tile(prior[-(MONTH - 1) :], (last.size, 1)), last[:, None]])
    week = month[:, -WEEK:]
    har_m = np.sqrt((month * month).mean(axis=1))
    har_w = np.sqrt((week * week).mean(axis=1))
    return har_terms(last, week.sum(axis=1), har_w, har_m)


def _completed(
    base: np.ndarray, tail: MarketHistory, prices: np.ndarray, sigma: float, names: tuple[str, ...]
) -> np.ndarray:
    """NODES copies of the observed row `base` per price p, with the return features of the closes
    p x exp(sigma e): (len(prices) x NODES) rows, one block per price, in one vectorised pass (each
    row is reduced on its own, so a block equals the single-price call bit for bit)."""
    closes = (prices[:, None] * np.exp(sigma * UNIT_NODES)[None, :]).ravel()
    last = np.log(closes) - np.log(tail.close[-2])
    prior = log_returns(tail.close[:-1])[1:]
    feats = return_features(prior, last)
    out = np.tile(base, (closes.size, 1))
    for j, name in enumerate(names):
        if name in feats:
            out[:, j] = feats[name]
    return out


def row_set(
    history: MarketHistory,
    names: tuple[str, ...],
    observed: np.ndarray | None = None,
    previous: PreviousRowCache | None = None,
) -> RowSet:
    """The rows of `history` (see RowSet); a closed day is evaluated as it is. observed: the history's
    own last row of `names` when the caller has it (latest_features(history).last_row(names));
    previous: a memo of the previous close's row across rounds (models.previous_row; same rows)."""
    tail = history.tail(LOOKBACK_DAYS + 1)
    observed = latest_features(tail).last_row(names) if observed is None else observed
    sigma = rest_of_day_sigma(history)
    if sigma == 0.0 or len(tail) < LOOKBACK_DAYS + 1:
        return RowSet(observed[None, :], 1.0)
    now_and_anchor = _completed(
        observed, tail, tail.close[-1:-3:-1], sigma, names
    )  # prices now, previous close
    prev = previous_row(tail, names) if previous is None else previous.row(tail, names)
    return RowSet(np.vstack([now_and_anchor, prev[None, :]]), elapsed_fraction(history))


def combine_quantiles(q: np.ndarray, w: float) -> tuple[float, float]:
    """(q_lo, q_hi) from the log-return quantiles (n, 2) of a RowSet's rows (module docstring):
    E_now x (q_previous / E_anchor) ** (1 - w), E the mean over a block's NODES rows."""
    if len(q) == 1:
        return float(q[0, 0]), float(q[0, 1])
    now, anchor, previous = q[:NODES].mean(axis=0), q[NODES : 2 * NODES].mean(axis=0), q[-1]
    out = now * (previous / anchor) ** (1.0 - w)
    return float(out[0]), float(out[1])
