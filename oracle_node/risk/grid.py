"""The margin scenario grid: price shocks x volatility shocks, as portfolio-margin venues use.

Scan range (a log-price move over the margin period of risk h days, per market):
    S = z_ES(nu) * sigma_1d * sqrt(h)
with z_ES the unit-variance Student-t ES at `scan_level` in sigmas, never below the normal's (see
oracle_node.risk.tails), so a fat-tailed forecast widens the range.

Scenarios (defaults from RiskSettings; 27 in all):
    price move  r = m * S   for m in {-1, -2/3, -1/3, 0, 1/3, 2/3, 1}   (SPAN's thirds)
    vol shock   v in {0.75, 1, 1.5, 2} when m <= 0,  v in {0.75, 1, 1.5} when m > 0
                (up-vol joins down-price, the skew crypto option markets show)
    extreme     r = +/- 2 S, vol unchanged, 35% of the loss counted  (SPAN scenarios 15 and 16)
Each scenario carries a cover weight c (1, or 0.35 for the extremes); its loss is c * (loss).

Loss of a unit notional under r (positive = loss, fraction of notional):
    linear long  (spot, perp, lending collateral):  1 - e^r
    linear short (perp short, borrowed asset):       e^r - 1
    option book: value now - value after h days at spot S0 e^r and implied vol iv * v, revalued with
                 Black-Scholes (oracle_node.risk.black_scholes); vol shocks only move options.
Margin of a position = the largest covered loss over the grid (the 0 scenario bounds it below by 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from oracle_node.risk.black_scholes import bs_price_np
from oracle_node.risk.params import RiskSettings

DAYS_PER_YEAR = 365.0


@dataclass(frozen=True, slots=True)
class OptionPosition:
    """A European option: quantity in units of the underlying (negative = written)."""

    is_call: bool
    strike: float
    expiry_years: float
    implied_vol: float
    quantity: float


@dataclass(frozen=True, slots=True)
class ScenarioGrid:
    """Scenario j moves the log price by price_multiples[j] * S and scales implied vols by vol_multipliers[j]."""

    price_multiples: NDArray[np.float64]
    vol_multipliers: NDArray[np.float64]
    cover: NDArray[np.float64]
    labels: tuple[str, ...] = ()
    linear_labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        prices, vols, cover = (a.tolist() for a in (self.price_multiples, self.vol_multipliers, self.cover))
        named = [
            (f"price {m:+.2f}S", f" vol x{v:.2f}", c) for m, v, c in zip(prices, vols, cover, strict=True)
        ]
        tail = ["" if c == 1.0 else f" cover {c:.0%}" for _, _, c in named]
        object.__setattr__(self, "labels", tuple(p + v + t for (p, v, _), t in zip(named, tail, strict=True)))
        object.__setattr__(
            self, "linear_labels", tuple(p + t for (p, _, _), t in zip(named, tail, strict=True))
        )

    @classmethod
    def from_settings(cls, settings: RiskSettings) -> ScenarioGrid:
        prices: list[float] = []
        vols: list[float] = []
        for m in settings.price_multiples:
            shocks = settings.vol_shocks_price_up if m > 0 else settings.vol_shocks_price_down
            prices += [m] * len(shocks)
            vols += list(shocks)
        cover = [1.0] * len(prices) + [settings.extreme_cover] * 2
        prices += [-settings.extreme_multiple, settings.extreme_multiple]
        vols += [1.0, 1.0]
        return cls(np.array(prices), np.array(vols), np.array(cover))

    def __len__(self) -> int:
        return int(self.price_multiples.shape[0])

    def label(self, j: int, *, with_vol: bool = True) -> str:
        """Readable name of scenario j for logs, e.g. 'price -1.00S vol x2.00' (vol left out for linear)."""
        return self.labels[j] if with_vol else self.linear_labels[j]

    def log_moves(self, scan_range: NDArray[np.float64]) -> NDArray[np.float64]:
        """(markets, scenarios) log-price moves for per-market scan ranges S."""
        return np.outer(np.asarray(scan_range, dtype=np.float64), self.price_multiples)

    def linear_losses(
        self, scan_range: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Covered losses of a unit long and a unit short, each (markets, scenarios).

        An absurd scan range overflows the short's loss to inf: compute caps such a margin at its
        largest representable value and flags it.
        """
        with np.errstate(over="ignore"):
            growth = np.exp(self.log_moves(scan_range))
        return self.cover * (1.0 - growth), self.cover * (growth - 1.0)

    def option_book_losses(
        self,
        spot: float,
        scan_range: float,
        book: tuple[OptionPosition, ...],
        horizon_days: float,
        rate: float = 0.0,
    ) -> NDArray[np.float64]:
        """Covered loss of an option book per scenario, in the spot's currency (shape (scenarios,))."""
        if not book:
            return np.zeros(len(self))
        is_call = np.array([p.is_call for p in book])
        strike = np.array([p.strike for p in book])
        expiry = np.array([p.expiry_years for p in book])
        iv = np.array([p.implied_vol for p in book])
        qty = np.array([p.quantity for p in book])
        now = bs_price_np(is_call, spot, strike, expiry, iv, rate=rate) @ qty
        spots = spot * np.exp(self.price_multiples * scan_range)[:, None]
        later = np.maximum(expiry - horizon_days / DAYS_PER_YEAR, 0.0)
        shocked_iv = iv[None, :] * self.vol_multipliers[:, None]
        values = (
            bs_price_np(is_call[None, :], spots, strike[None, :], later[None, :], shocked_iv, rate=rate) @ qty
        )
        return np.asarray(self.cover * (now - values), dtype=np.float64)
