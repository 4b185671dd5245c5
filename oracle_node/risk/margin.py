"""Initial and maintenance margin, VaR/ES and liquidation threshold of a unit notional, per market.

All quantities are fractions of notional, vectorised over markets (arrays of shape (markets,)).
With h the margin period of risk in days and S the grid's scan range (oracle_node.risk.grid):

    grid     = max over scenarios j and sides of c_j * loss_j        (unit long and unit short)
    ES floor = max(1 - (1 - ES99_long)^sqrt(h),  (1 + ES99_short)^sqrt(h) - 1)
               (the model's own 1-day ES, a log-return tail quantity, scaled by sqrt(h))
    add-on   = liquidity_addon + Y * sigma_1d * sqrt(Q / ADV)        (second term only when the
               market's daily volume ADV and a reference position Q are known: square-root impact)
    IM       = max(grid, ES floor) + add-on
    VaR99    = max(VaR99_long, VaR99_short),  ES99 = max(ES99_long, ES99_short)   (1 day, two-sided)
    MM       = max(mm_fraction * IM, VaR99)                           (never below the 1-day VaR)
    LT (bp)  = 10000 - MM (bp) - liquidation_buffer_bp, and 0 when that is negative (nothing can be
               borrowed against the asset). MM above 10000 bp has no valid LT: compute publishes
               MM = 10000 and LT = 0 and flags the set capped_unrepresentable.

Since h >= 1: IM >= ES floor >= ES99 >= VaR99, so MM <= IM and VaR <= ES hold before rounding, and
rounding up keeps them (ceil is monotone).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from oracle_node.models.forecast import Forecast
from oracle_node.risk.grid import ScenarioGrid
from oracle_node.risk.params import RiskSettings
from oracle_node.risk.tails import es_multiplier

Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ForecastArrays:
    """Forecast fields as arrays over markets; nu is NaN where a model has none."""

    sigma_1d: Array
    var_long: Array
    es_long: Array
    var_short: Array
    es_short: Array
    nu: Array

    @classmethod
    def from_forecasts(cls, forecasts: Sequence[Forecast]) -> ForecastArrays:
        def column(name: str) -> Array:
            return np.array([getattr(f, name) for f in forecasts], dtype=np.float64)

        nu = np.array([np.nan if f.nu is None else f.nu for f in forecasts], dtype=np.float64)
        return cls(
            column("sigma_1d"),
            column("var99"),
            column("es99"),
            column("var99_short"),
            column("es99_short"),
            nu,
        )


@dataclass(frozen=True, slots=True)
class MarginArrays:
    """Per-market margin quantities (fractions of notional) and which scenario set the grid loss."""

    scan_range: Array
    tail_multiplier: Array
    grid_loss: Array
    grid_scenario: NDArray[np.int64]
    grid_short: NDArray[np.bool_]
    es_floor: Array
    addon: Array
    initial: Array
    maintenance: Array
    var99: Array
    es99: Array


def scan_range(sigma_1d: Array, nu: Array, settings: RiskSettings) -> tuple[Array, Array]:
    """S = z_ES(nu) * sigma_1d * sqrt(h), and z_ES (NaN nu takes settings.default_nu)."""
    z = es_multiplier(np.where(np.isnan(nu), settings.default_nu, nu), settings.scan_level)
    return z * sigma_1d * np.sqrt(settings.margin_period_days), z


def es_floor(es_long: Array, es_short: Array, margin_period_days: float) -> Array:
    """The 1-day ES of each side scaled to the margin period in log-return space."""
    root_h = np.sqrt(margin_period_days)
    long_h = 1.0 - np.power(np.clip(1.0 - es_long, 0.0, 1.0), root_h)
    short_h = np.power(1.0 + es_short, root_h) - 1.0
    return np.asarray(np.maximum(long_h, short_h), dtype=np.float64)


def liquidity_addon(sigma_1d: Array, daily_volume: Array, reference: Array, settings: RiskSettings) -> Array:
    """Flat add-on plus square-root impact where volume and reference size are known (else NaN -> 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        impact = settings.impact_coefficient * sigma_1d * np.sqrt(reference / daily_volume)
    impact = np.where(np.isfinite(impact), impact, 0.0)
    return np.asarray(settings.liquidity_addon + impact, dtype=np.float64)


def margins(f: ForecastArrays, addon: Array, grid: ScenarioGrid, settings: RiskSettings) -> MarginArrays:
    """IM and MM from the scenario grid and the ES floor (formulas in the module docstring)."""
    s, z = scan_range(f.sigma_1d, f.nu, settings)
    long_loss, short_loss = grid.linear_losses(s)
    both = np.concatenate([long_loss, short_loss], axis=1)
    worst = np.argmax(both, axis=1)
    grid_loss = both[np.arange(both.shape[0]), worst]
    floor = es_floor(f.es_long, f.es_short, settings.margin_period_days)
    initial = np.maximum(grid_loss, floor) + addon
    var99 = np.maximum(f.var_long, f.var_short)
    maintenance = np.maximum(settings.mm_fraction * initial, var99)
    n = len(grid)
    return MarginArrays(
        scan_range=s,
        tail_multiplier=z,
        grid_loss=grid_loss,
        grid_scenario=worst % n,
        grid_short=worst >= n,
        es_floor=floor,
        addon=addon,
        initial=initial,
        maintenance=maintenance,
        var99=var99,
        es99=np.maximum(f.es_long, f.es_short),
    )
