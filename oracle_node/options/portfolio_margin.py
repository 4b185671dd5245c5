"""Float64 reference of the on-chain options portfolio margin (contracts/consumers/OptionsPortfolioMarginEngine).

Same scenario grid, term scaling, smile lookup (sticky strike) and Black-76 valuation as
contracts/libraries/ScenarioGrid.sol and Black76.sol, with the exact normal CDF (scipy's `ndtr`) in
place of the contract's piecewise polynomial. The differential test
(tests/integration/test_portfolio_margin_differential.py) holds the contract to this within
`rounding_bound`. docs/options-margin.md explains the grid and the choices.

Units: sizes in units of the underlying (signed), prices and values in USD, shocks as fractions
(0.16 = 16 %), times in unix seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from oracle_node.options.svi import SviParams

Array = NDArray[np.float64]

# Price moves as multiples of priceMove: index p = 0..8; the base (no move) is p = 4.
MOVE_MULTIPLES = (-3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0)
VOL_MOVES = (2, 4, 6)  # -1, 0, +1 priceMove, at vol up and at vol down
BASE = 4
MAX_DOWN_MOVE = 0.95
MIN_DOWN_MULT = 0.1
MIN_TERM_S = 86_400
REFERENCE_TERM_S = 30 * 86_400
UP_POWER, DOWN_POWER = 0.3, 0.13
MIN_TOTAL_STD = 1e-6
SCENARIOS = 15
# Loss weight per scenario (extreme moves 3x and 2x priceMove count 1/3 and 1/2 of their loss).
WEIGHTS = np.array([1 / 3, 1 / 2] + [1.0] * 5 + [1 / 2, 1 / 3] + [1.0] * 6)
# On-chain N(x) error bound (Black76NormalCdf.MAX_ABS_ERROR_WAD / 1e18), see scripts/gen_normal_cdf.py.
CDF_MAX_ABS_ERROR = 18092485769 / 1e18
# Relative error allowance for fixed-point ln/sqrt/division and float64 (see rounding_bound).
REL_ERROR = 1e-12


@dataclass(frozen=True)
class Shocks:
    price_move: float
    vol_up: float
    vol_down: float


@dataclass(frozen=True)
class Smile:
    """One published expiry: raw SVI, forward and the time the smile was fitted at."""

    svi: SviParams
    forward: float
    observed_at: int


@dataclass(frozen=True)
class Underlying:
    shocks: Shocks
    spot: float
    smiles: Mapping[int, Smile]  # by expiry (unix seconds)
    settlements: Mapping[int, float]  # settlement price by expiry, once recorded


@dataclass(frozen=True)
class OptionPosition:
    underlying: str
    expiry: int
    strike: float
    is_call: bool
    size: float


@dataclass(frozen=True)
class LinearPosition:
    underlying: str
    size: float


def moves(price_move: float) -> Array:
    """The 9 price moves x_p of the grid (down moves stop at -95 %)."""
    return np.maximum(np.array(MOVE_MULTIPLES) * price_move, -MAX_DOWN_MOVE)


def move_of_scenario() -> NDArray[np.int64]:
    """Price-move index of each of the 15 scenarios: 0..8 at unchanged vol, 2, 4, 6 at vol up, at vol down."""
    return np.array(list(range(9)) + list(VOL_MOVES) + list(VOL_MOVES))


def vol_multipliers(shocks: Shocks, time_left_s: int) -> tuple[float, float]:
    """Deribit's term scaling: up = 1 + volUp (30d/T)^0.3, down = max(1 - volDown (30d/T)^0.13, 0.1)."""
    ratio = REFERENCE_TERM_S / max(time_left_s, MIN_TERM_S)
    up = 1.0 + shocks.vol_up * ratio**UP_POWER
    down = max(1.0 - shocks.vol_down * ratio**DOWN_POWER, MIN_DOWN_MULT)
    return up, down


def total_std(smile: Smile, expiry: int, now: int, strike: float) -> float:
    """Sticky-strike total std sqrt(w(ln(K/F)) (expiry - now) / (expiry - observedAt)), floored."""
    w = float(smile.svi.total_variance(math.log(strike / smile.forward)))
    if w <= 0.0:
        return MIN_TOTAL_STD
    return max(math.sqrt(w * (expiry - now) / (expiry - smile.observed_at)), MIN_TOTAL_STD)


def black76(forward: Array, strike: float, s: Array | float, is_call: bool) -> Array:
    """Undiscounted Black-76 value per unit, floored at 0 (as on-chain)."""
    d1 = np.log(forward / strike) / s + 0.5 * np.asarray(s)
    call = forward * ndtr(d1) - strike * ndtr(d1 - s)
    value = call if is_call else call - forward + strike
    return np.maximum(value, 0.0)


def option_values(option: OptionPosition, u: Underlying, now: int) -> Array:
    """Value per unit of one option in each of the 15 scenarios."""
    if option.expiry <= now:
        price = u.settlements[option.expiry]
        intrinsic = max(price - option.strike, 0.0) if option.is_call else max(option.strike - price, 0.0)
        return np.full(SCENARIOS, intrinsic)
    smile = u.smiles[option.expiry]
    s = total_std(smile, option.expiry, now, option.strike)
    up, down = vol_multipliers(u.shocks, option.expiry - now)
    forwards = smile.forward * (1.0 + moves(u.shocks.price_move))
    core = forwards[list(VOL_MOVES)]
    return np.concatenate(
        [
            black76(forwards, option.strike, s, option.is_call),
            black76(core, option.strike, max(s * up, MIN_TOTAL_STD), option.is_call),
            black76(core, option.strike, max(s * down, MIN_TOTAL_STD), option.is_call),
        ]
    )


def scenario_values(options: Iterable[OptionPosition], linear_size: float, u: Underlying, now: int) -> Array:
    """Book value V_s of one underlying in each scenario (options at value, linear at P&L)."""
    values = linear_size * u.spot * moves(u.shocks.price_move)[move_of_scenario()]
    for option in options:
        values = values + option.size * option_values(option, u, now)
    return values


def requirement(values: Array) -> float:
    """max(0, max_s(w_s (V_0 - V_s)) - V_0): worst weighted loss plus the net short mark."""
    v0 = values[BASE]
    return max(0.0, float(np.max(WEIGHTS * (v0 - values))) - v0)


def initial_margin(
    options: Sequence[OptionPosition],
    linear: Sequence[LinearPosition],
    market: Mapping[str, Underlying],
    now: int,
) -> float:
    """Initial margin in USD: the sum over underlyings of the scenario requirement."""
    names = {o.underlying for o in options} | {p.underlying for p in linear}
    total = 0.0
    for name in sorted(names):
        lin = sum(p.size for p in linear if p.underlying == name)
        book = [o for o in options if o.underlying == name]
        total += requirement(scenario_values(book, lin, market[name], now))
    return total


def maintenance_margin(initial: float, factor: float) -> float:
    return initial * factor


def rounding_bound(
    options: Sequence[OptionPosition],
    linear: Sequence[LinearPosition],
    market: Mapping[str, Underlying],
    now: int,
) -> float:
    """Largest |on-chain IM - reference IM| the arithmetic allows, in USD.

    Each live option value is F' N(d1) - K N(d2): the on-chain N differs from the exact one by at most
    CDF_MAX_ABS_ERROR, so one value moves by at most (F' + K) * CDF_MAX_ABS_ERROR, F' the largest
    scenario forward; the bound takes twice that. The fixed-point ln/sqrt/division steps and float64
    (here and in the comparison) add a relative REL_ERROR of the magnitudes involved, for live and
    expired options and for linear positions (they perturb d1 by ~1e-17 and each value by ~1e-18 USD
    per step; 1e-12 is a wide margin). The requirement is a max of combinations of V_0 and V_s with
    weights <= 1, so its error is at most the largest per-scenario error of the book, bounded by the
    sum over positions; plus 1e-15 USD for the final rounding up of the 1e36 accumulators.
    """
    bound = 1e-15
    for o in options:
        u = market[o.underlying]
        if o.expiry <= now:
            bound += abs(o.size) * (u.settlements[o.expiry] + o.strike) * REL_ERROR
            continue
        top = u.smiles[o.expiry].forward * (1.0 + 3.0 * u.shocks.price_move)
        bound += abs(o.size) * (top + o.strike) * (2.0 * CDF_MAX_ABS_ERROR + REL_ERROR)
    for p in linear:
        bound += abs(p.size) * market[p.underlying].spot * REL_ERROR
    return bound
