"""One market's daily panel: features at each close, the threshold, the 24-hour target.

Row i is the forecast issued at the daily close ts[i] (00:00 UTC) for (ts[i], ts[i] + 1 day].
Features use data up to ts[i] only. Price features come from the BTC daily file for every market
(BTC drives the crypto-wide moves; the shared hourly ETH file ends 2021-06, before most of the test
span), funding from the BTC perpetual daily file, liquidation features from the market's own events:

- ret_1d_rel, ret_7d_rel, har_w_rel, log_har_m (features.build: returns over the 30-day RMS);
- drawdown_30d: log(close / highest close of the last 30 days) (the price shock so far);
- log_ewma_rel: log of the RiskMetrics (lambda 0.94) one-day-ahead vol forecast over har_m;
- funding_level_bp, funding_chg_1d_bp (features.external);
- liq_log_1d, liq_log_7d, liq_z_30d (features.external: the market's event counts);
- usd_rel_1d, usd_rel_7d: log1p(USD liquidated in the last 1 / 7 days) - log1p(threshold [x 7]).
No depth: the shared data have no order-book depth for 2020-12..2022-04.

Threshold thr[i]: the 90th percentile of the market's daily liquidated USD over every day whose
24 hours ended at or before ts[i] (expanding, at least MIN_DAYS days; NaN before). Event:
next_usd[i] > thr[i] (a top-decile day by the history known at the forecast).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oracle_node.features.external import ExternalInputs, Stamped
from oracle_node.features.history import MarketHistory
from oracle_node.features.rolling import rolling_sum
from oracle_node.features.table import feature_table
from oracle_node.research.cascade.data import DailyLiquidations, LiquidationEvents, daily_totals

QUANTILE = 0.90
MIN_DAYS = 30
EWMA_LAMBDA = 0.94
TABLE_COLUMNS = ("ret_1d_rel", "ret_7d_rel", "har_w_rel", "log_har_m", "funding_level_bp",
                 "funding_chg_1d_bp", "liq_log_1d", "liq_log_7d", "liq_z_30d")  # fmt: skip
OWN_COLUMNS = ("drawdown_30d", "log_ewma_rel", "usd_rel_1d", "usd_rel_7d")
FEATURES: tuple[str, ...] = (*TABLE_COLUMNS, *OWN_COLUMNS)


@dataclass(frozen=True, eq=False)
class MarketPanel:
    market: str
    ts: np.ndarray
    x: np.ndarray  # (days, FEATURES)
    thr: np.ndarray
    daily: DailyLiquidations

    @property
    def event(self) -> np.ndarray:
        """1.0 / 0.0 where the target and threshold are known, else NaN."""
        ok = np.isfinite(self.daily.next_usd) & np.isfinite(self.thr)
        return np.where(ok, (self.daily.next_usd > self.thr).astype(float), np.nan)


def expanding_threshold(next_usd: np.ndarray) -> np.ndarray:
    """thr[i] = QUANTILE of next_usd[:i] (finite values; days whose 24 h ended by ts[i])."""
    thr = np.full(next_usd.size, np.nan)
    for i in range(next_usd.size):
        past = next_usd[:i][np.isfinite(next_usd[:i])]
        if past.size >= MIN_DAYS:
            thr[i] = np.quantile(past, QUANTILE)
    return thr


def _ewma_vol(r: np.ndarray) -> np.ndarray:
    out = np.full(r.size, np.nan)
    var = np.nan
    for i, x in enumerate(r):
        if np.isfinite(x):
            var = x * x if not np.isfinite(var) else EWMA_LAMBDA * var + (1 - EWMA_LAMBDA) * x * x
        out[i] = np.sqrt(var)
    return out


def _own(h: MarketHistory, d: DailyLiquidations, thr: np.ndarray, har_m: np.ndarray) -> np.ndarray:
    close = h.close
    peak = np.array([close[max(0, i - 29) : i + 1].max() for i in range(close.size)])
    r = np.r_[np.nan, np.diff(np.log(close))]
    with np.errstate(divide="ignore", invalid="ignore"):
        cols = (
            np.log(close / peak),
            np.log(_ewma_vol(r) / har_m),
            np.log1p(d.usd) - np.log1p(thr),
            np.log1p(rolling_sum(d.usd, 7)) - np.log1p(7 * thr),
        )
    return np.column_stack(cols)


def market_panel(history: MarketHistory, events: LiquidationEvents, market: str) -> MarketPanel:
    """The panel of one market on the history's closes (events: the whole file, all markets)."""
    span = (float(events.ts[0]), float(events.ts[-1]))
    own = events.market(market)
    ext = ExternalInputs(liquidations=Stamped.of(own.ts), liquidations_span=span)
    table = feature_table(history, ext)
    daily = daily_totals(events, market, history.ts, span)
    thr = expanding_threshold(daily.next_usd)
    har_m = np.exp(table.select(["log_har_m"])[:, 0])
    x = np.column_stack([table.select(list(TABLE_COLUMNS)), _own(history, daily, thr, har_m)])
    return MarketPanel(market, history.ts.copy(), x, thr, daily)
