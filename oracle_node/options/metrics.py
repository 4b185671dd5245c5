"""Fit quality of one slice against its market quotes.

- `rmse_vol_pts`: vega-weighted RMSE of the fitted implied vol against the mid implied vol, in vol
  points (1 vol point = 0.01 of sigma); the vega is Black's at the mid vol.
- `inside_spread`: share of the two-sided OTM quotes whose fitted (coin) price is within [bid, ask].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oracle_node.options import black76
from oracle_node.options.market import MarketSmile
from oracle_node.options.svi import SviParams


@dataclass(frozen=True, slots=True)
class SliceQuality:
    rmse_vol_pts: float
    inside_spread: float
    quotes: int
    inside: int


def rmse_vol_pts(smile: MarketSmile, params: SviParams) -> float:
    iv = params.implied_vol(smile.k, smile.t)
    return float(np.sqrt(np.sum(smile.vega * (iv - smile.iv_mid) ** 2) / np.sum(smile.vega))) * 100.0


def quality(smile: MarketSmile, params: SviParams) -> SliceQuality:
    iv = params.implied_vol(smile.k, smile.t)
    rmse = float(np.sqrt(np.sum(smile.vega * (iv - smile.iv_mid) ** 2) / np.sum(smile.vega))) * 100.0
    price = black76.norm_price(smile.k, iv * np.sqrt(smile.t), smile.is_call)
    inside = int(np.sum((price >= smile.bid) & (price <= smile.ask)))
    return SliceQuality(rmse, inside / smile.size, smile.size, inside)
