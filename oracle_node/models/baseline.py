"""The baseline forecaster: GJR-GARCH-t refitted on a schedule, EWMA-normal as its fallback.

Refit schedule (deterministic across nodes and restarts): the fit for a market uses the last `window`
daily returns up to the *anchor*, the latest UTC midnight whose day number is a multiple of
`refit_every_days` and that is at least `fit_lag_days` before the history's last close. Every node
therefore fits the same data whenever it starts, and between anchors only the variance recursion runs
over the returns after the anchor (O(1) per day, no optimisation). The lag lets the service compute
the next anchor's fits off the round path (`prefit`, e.g. an hourly background job): a fit costs
~65 ms, so 1,000 markets refitting inside one round would take a minute. A round only fits inline on a
cold cache. Fits are cached per (market, anchor), keyed also by a digest of the fitted closes, so a
revised history refits and an unchanged one never does; the two latest anchors are kept per market.

When the fit fails or does not converge, the market falls back to EWMA until the next anchor, flagged
gjr_fit_failed + fallback_ewma; with fewer than `min_obs` returns before the anchor it is EWMA flagged
insufficient_history + fallback_ewma. EWMA uses the last `window` returns so its value, too, does not
depend on how much older history a node holds.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, replace

import numpy as np

from oracle_node.errors import ModelError
from oracle_node.features.history import SECONDS_PER_DAY, MarketHistory
from oracle_node.features.rolling import log_returns
from oracle_node.models.ewma import EwmaModel
from oracle_node.models.forecast import Flag, Forecast
from oracle_node.models.gjr import GjrGarchT, GjrResult


@dataclass(frozen=True, slots=True)
class _Fit:
    anchor_ts: float
    digest: bytes
    result: GjrResult | None  # None: the fit failed, use EWMA until the next anchor
    reason: str


def anchor_ts(last_ts: float, refit_every_days: int) -> float:
    day = int(last_ts // SECONDS_PER_DAY)
    return float((day // refit_every_days) * refit_every_days * SECONDS_PER_DAY)


class BaselineForecaster:
    """GJR-GARCH-t with a per-market fit cache; EWMA fallback with flags."""

    def __init__(
        self, gjr: GjrGarchT, ewma: EwmaModel, refit_every_days: int = 7, fit_lag_days: int = 1
    ) -> None:
        if refit_every_days < 1 or fit_lag_days < 0:
            raise ModelError(
                f"baseline: refit_every_days = {refit_every_days!r} must be >= 1 and "
                f"fit_lag_days = {fit_lag_days!r} >= 0"
            )
        self.gjr, self.ewma = gjr, ewma
        self.refit_every_days, self.fit_lag_days = refit_every_days, fit_lag_days
        self._fits: dict[str, dict[float, _Fit]] = {}
        self._lock = threading.Lock()
        self.fit_count = 0

    def forecast(self, history: MarketHistory) -> Forecast:
        if len(history) < 3:
            raise ModelError(f"baseline {history.market}: need at least 3 closes, got {len(history)}")
        anchor = anchor_ts(float(history.ts[-1]) - self.fit_lag_days * SECONDS_PER_DAY, self.refit_every_days)
        n_fit = int(np.searchsorted(history.ts, anchor, side="right"))  # closes up to the anchor
        if n_fit - 1 < self.gjr.min_obs:
            return self._ewma(history, frozenset({Flag.INSUFFICIENT_HISTORY}))
        fit = self._cached_fit(history, anchor, n_fit)
        if fit.result is None:
            return self._ewma(history, frozenset({Flag.GJR_FIT_FAILED}))
        newer = log_returns(history.close[n_fit - 1 :])[1:]
        return fit.result.update(newer).forecast()

    def prefit(self, history: MarketHistory) -> bool:
        """Fit (off the round path) for the newest anchor not after the last close; True if fitted."""
        anchor = anchor_ts(float(history.ts[-1]), self.refit_every_days)
        n_fit = int(np.searchsorted(history.ts, anchor, side="right"))
        if n_fit - 1 < self.gjr.min_obs:
            return False
        before = self.fit_count
        self._cached_fit(history, anchor, n_fit)
        return self.fit_count > before

    def _cached_fit(self, history: MarketHistory, anchor: float, n_fit: int) -> _Fit:
        closes = history.close[max(0, n_fit - self.gjr.window - 1) : n_fit]
        digest = hashlib.blake2b(closes.tobytes(), digest_size=16).digest()
        with self._lock:
            cached = self._fits.get(history.market, {}).get(anchor)
        if cached is not None and cached.digest == digest:
            return cached
        try:
            fit = _Fit(anchor, digest, self.gjr.fit(log_returns(closes)[1:]), "")
        except ModelError as exc:
            fit = _Fit(anchor, digest, None, str(exc))
        with self._lock:
            per_market = self._fits.setdefault(history.market, {})
            per_market[anchor] = fit
            for old in sorted(per_market)[:-2]:
                del per_market[old]
            self.fit_count += 1
        return fit

    def _ewma(self, history: MarketHistory, flags: frozenset[str]) -> Forecast:
        r = log_returns(history.close[-(self.gjr.window + 1) :])[1:]
        fc = self.ewma.fit(r).forecast()
        return replace(fc, flags=fc.flags | flags | {Flag.FALLBACK_EWMA})

    def fit_failure(self, market: str) -> str | None:
        """Why the cached fit of a market failed (None if it did not, or none is cached)."""
        fits = self._fits.get(market, {})
        fit = fits[max(fits)] if fits else None
        return None if fit is None or fit.result is not None else fit.reason
