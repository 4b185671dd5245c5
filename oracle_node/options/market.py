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
from oracle_node.options.chain import OptionQuote
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


def _otm(q: OptionQuote, forward: float) -> bool:
    return q.is_call == (q.strike >= forward)


def build_smile(quotes: Sequence[OptionQuote], forward: ForwardEstimate) -> MarketSmile:
    """The OTM smile of one expiry's quotes (all of one underlying and expiry)."""
    f = forward.forward
    otm = sorted((q for q in quotes if _otm(q, f)), key=lambda q: q.strike)
    used = [q for q in otm if q.two_sided]
    t = quotes[0].t
    strike = np.array([q.strike for q in used], dtype=float)
    is_call = np.array([q.is_call for q in used], dtype=bool)
    bid = np.array([q.bid for q in used], dtype=float)
    ask = np.array([q.ask for q in used], dtype=float)
    k = np.log(strike / f)
    s_all = black76.implied_total_std(
        np.concatenate([bid, 0.5 * (bid + ask), ask]), np.tile(k, 3), np.tile(is_call, 3)
    )
    s_bid, s_mid, s_ask = np.split(s_all / np.sqrt(t), 3)
    ok = np.isfinite(s_bid) & np.isfinite(s_mid) & np.isfinite(s_ask)
    d1, _ = black76.d1_d2(k, s_mid * np.sqrt(t))
    return MarketSmile(
        expiry=quotes[0].expiry,
        t=t,
        forward=forward,
        strike=strike[ok],
        k=k[ok],
        is_call=is_call[ok],
        bid=bid[ok],
        ask=ask[ok],
        iv_bid=s_bid[ok],
        iv_mid=s_mid[ok],
        iv_ask=s_ask[ok],
        vega=(black76.pdf(d1) * np.sqrt(t))[ok],
        open_interest=np.array([q.open_interest for q in used], dtype=float)[ok],
        instruments=tuple(q.instrument for q, good in zip(used, ok, strict=True) if good),
        ignored=len(otm) - int(ok.sum()),
    )
