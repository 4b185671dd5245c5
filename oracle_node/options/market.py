"""One expiry's market smile: the out-of-the-money two-sided quotes as arrays, with implied vols.

Primary quotes are OTM options (puts below the forward, calls at or above it). A quote with no bid is
ignored, and so is a bid without an ask (no mid). Bid, mid and ask implied vols come from inverting
Black-76 on the forward (coin price = normalised price; discount factor 1).

Fit weights (choice documented in docs/surfaces.md): a quote's weight in vol space is a liquidity
factor `1 + ln(1 + open interest)` over the squared half-spread in vol (floored at 0.2 vol points),
so the fit stays inside tight spreads and leans less on wide ones; a vega power is available but
defaults to 0 (on the four tuning snapshots vega weighting made both targets worse: tight spreads
already sit near the money, where vega is large).
In total-variance space the weight is divided by `(2 sigma_mid T)^2` (dw = 2 sigma T dsigma).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from oracle_node.options import black76
from oracle_node.options.chain import OptionQuote, QuoteColumns, quote_columns
from oracle_node.options.forward import ForwardEstimate

Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class WeightConfig:
    """Vol-space weight = vega^vega_power * (1 + ln(1+OI))^liquidity / max(half-spread, floor)^2."""

    vega_power: float = 0.0
    liquidity: float = 1.0
    spread_power: float = 2.0
    spread_floor_vol: float = 0.002


@dataclass(frozen=True, slots=True)
class MarketSmile:
    """OTM two-sided quotes of one expiry, sorted by strike. Prices in the coin."""

    expiry: datetime
    t: float
    forward: ForwardEstimate
    strike: Array
    k: Array
    is_call: NDArray[np.bool_]
    bid: Array
    ask: Array
    iv_bid: Array
    iv_mid: Array
    iv_ask: Array
    vega: Array  # normalised Black vega dc/dsigma at the mid vol (coin per unit sigma)
    open_interest: Array
    instruments: tuple[str, ...]
    ignored: int  # OTM quotes dropped: no bid, no ask, or no implied vol

    @property
    def size(self) -> int:
        return int(self.k.size)

    @property
    def w_mid(self) -> Array:
        return self.iv_mid * self.iv_mid * self.t

    def vol_weights(self, cfg: WeightConfig) -> Array:
        half = np.maximum(0.5 * (self.iv_ask - self.iv_bid), cfg.spread_floor_vol)
        liq = (1.0 + np.log1p(self.open_interest)) ** cfg.liquidity
        return self.vega**cfg.vega_power * liq / half**cfg.spread_power

    def w_weights(self, cfg: WeightConfig) -> Array:
        """Weights for squared total-variance residuals, normalised to sum to one."""
        raw = self.vol_weights(cfg) / (2.0 * self.iv_mid * self.t) ** 2
        return raw / raw.sum()


@dataclass(frozen=True, slots=True)
class _Selected:
    """One expiry's usable OTM quotes before the implied-vol inversion."""

    cols: QuoteColumns  # the usable quotes, sorted by strike
    forward: ForwardEstimate
    otm: int  # OTM quotes before dropping one-sided ones
    k: Array
    t: float
    expiry: datetime


def _select(cols: QuoteColumns, forward: ForwardEstimate) -> _Selected:
    f = forward.forward
    otm = np.flatnonzero(cols.is_call == (cols.strike >= f))
    otm = otm[np.argsort(cols.strike[otm], kind="stable")]
    used = cols.take(otm[cols.two_sided[otm]])
    expiry = cols.expiries[int(cols.expiry[0])]
    return _Selected(used, forward, int(otm.size), np.log(used.strike / f), float(cols.t[0]), expiry)


def _smile(sel: _Selected, s_bid: Array, s_mid: Array, s_ask: Array) -> MarketSmile:
    c, t = sel.cols, sel.t
    root_t = np.sqrt(t)
    s_bid, s_mid, s_ask = s_bid / root_t, s_mid / root_t, s_ask / root_t
    ok = np.isfinite(s_bid) & np.isfinite(s_mid) & np.isfinite(s_ask)
    d1, _ = black76.d1_d2(sel.k, s_mid * root_t)
    return MarketSmile(
        expiry=sel.expiry,
        t=t,
        forward=sel.forward,
        strike=c.strike[ok],
        k=sel.k[ok],
        is_call=c.is_call[ok],
        bid=c.bid[ok],
        ask=c.ask[ok],
        iv_bid=s_bid[ok],
        iv_mid=s_mid[ok],
        iv_ask=s_ask[ok],
        vega=(black76.pdf(d1) * root_t)[ok],
        open_interest=c.open_interest[ok],
        instruments=tuple(c.instrument[ok].tolist()),
        ignored=sel.otm - int(ok.sum()),
    )


def build_smiles(expiries: Sequence[tuple[QuoteColumns, ForwardEstimate]]) -> list[MarketSmile]:
    """The OTM smiles of many expiries (each: its quotes as columns, all of one underlying and expiry,
    and its forward).

    One vectorised implied-vol inversion covers the bid, mid and ask of every expiry's quotes.
    """
    selected = [_select(cols, fwd) for cols, fwd in expiries]
    k = np.concatenate([np.zeros(0), *(s.k for s in selected)])
    call = np.concatenate([np.zeros(0, dtype=bool), *(s.cols.is_call for s in selected)])
    bid = np.concatenate([np.zeros(0), *(s.cols.bid for s in selected)])
    ask = np.concatenate([np.zeros(0), *(s.cols.ask for s in selected)])
    prices = np.concatenate([bid, 0.5 * (bid + ask), ask])
    s_bid, s_mid, s_ask = np.split(black76.implied_total_std(prices, np.tile(k, 3), np.tile(call, 3)), 3)
    smiles, at = [], 0
    for sel in selected:
        part = slice(at, at + sel.k.size)
        smiles.append(_smile(sel, s_bid[part], s_mid[part], s_ask[part]))
        at += sel.k.size
    return smiles


def build_smile(quotes: Sequence[OptionQuote], forward: ForwardEstimate) -> MarketSmile:
    """The OTM smile of one expiry's quotes (all of one underlying and expiry)."""
    return build_smiles([(quote_columns(quotes), forward)])[0]
