"""Rolling-window primitives (pure NumPy) that give the same bytes whatever the series' length.

Every window is reduced on its own (a row of a window matrix, reduced along its axis), never by
differencing a running cumulative sum: the value for day t then depends only on the window's inputs,
so two nodes holding histories of different lengths compute identical features, and the last-row
fast path (`last_only=True`, what the node runs each round) equals the full computation bit for bit.
Positions without a full window are NaN. With last_only the result has one element: the last day.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def log_returns(close: np.ndarray) -> np.ndarray:
    """r[t] = log(close[t] / close[t-1]); r[0] = NaN. Same length as close."""
    out = np.empty(close.shape, dtype=np.float64)
    out[:1] = np.nan
    logs = np.log(close)
    np.subtract(logs[1:], logs[:-1], out=out[1:])
    return out


def _window_matrix(x: np.ndarray, k: int, last_only: bool) -> np.ndarray | None:
    """Windows as rows (None when x is shorter than k)."""
    if k <= 0:
        raise ValueError(f"window {k} must be >= 1")
    if x.size < k:
        return None
    if last_only:
        return x[-k:].reshape(1, k)
    return sliding_window_view(x, k)


def _place(x: np.ndarray, k: int, last_only: bool, values: np.ndarray | None) -> np.ndarray:
    out = np.full(1 if last_only else x.size, np.nan)
    if values is not None:
        out[out.size - values.size :] = values
    return out


def last_or_all(x: np.ndarray, last_only: bool) -> np.ndarray:
    return x[-1:] if last_only else x


def rolling_mean(x: np.ndarray, k: int, last_only: bool = False) -> np.ndarray:
    """Mean of x[t-k+1 .. t]; NaN if the window is short or holds a NaN."""
    win = _window_matrix(x, k, last_only)
    return _place(x, k, last_only, None if win is None else win.mean(axis=1))


def rolling_sum(x: np.ndarray, k: int, last_only: bool = False) -> np.ndarray:
    win = _window_matrix(x, k, last_only)
    return _place(x, k, last_only, None if win is None else win.sum(axis=1))


def rolling_rms(r: np.ndarray, k: int, last_only: bool = False) -> np.ndarray:
    """Zero-mean realised volatility sqrt(mean(r^2)) over the last k returns, in per-period units."""
    return np.sqrt(rolling_mean(r * r, k, last_only))


def rolling_zscore(x: np.ndarray, k: int, last_only: bool = False) -> np.ndarray:
    """(x[t] - mean) / std over the window x[t-k+1 .. t] (population std); NaN when std is 0."""
    win = _window_matrix(x, k, last_only)
    if win is None:
        return _place(x, k, last_only, None)
    std = win.std(axis=1)
    z = ratio(win[:, -1] - win.mean(axis=1), std)
    return _place(x, k, last_only, z)


def lagged_diff(x: np.ndarray, k: int, last_only: bool = False) -> np.ndarray:
    """x[t] - x[t-k]; NaN for the first k positions."""
    out = np.full(x.shape, np.nan, dtype=np.float64)
    if x.size > k:
        out[k:] = x[k:] - x[:-k]
    return last_or_all(out, last_only)


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den where den > 0, NaN elsewhere (NaN propagates)."""
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def safe_log(x: np.ndarray) -> np.ndarray:
    """log(x) for x > 0, NaN otherwise (a zero volume is unknown, not -inf)."""
    out = np.full(x.shape, np.nan)
    np.log(x, out=out, where=x > 0)
    return out
