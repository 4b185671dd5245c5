"""From forecasts to published parameters: `compute_many` (vectorised over markets) and `compute_params`.

Per market, in the contract's units (uint16 bp; oracle_node.risk.units rounds protective fields up):
    volatility = sigma_1d * sqrt(365)                      VaR / ES = the 1-day two-sided 99% values
    IM, MM, LT = oracle_node.risk.margin                   score, confidence = oracle_node.risk.score
    (score = P(|move over the margin period| > the market's typical move), in bp)
Each result carries a `RiskExplanation` (which scenario set IM, score and confidence components) for
logs and reports. Inputs are validated here, at the boundary (an invalid input raises BoundsViolation
naming the market and field).

A valid input always yields a publishable, consistent set. In an extreme move the model can want a
value no field can carry (volatility, VaR, ES or IM above 65535 bp = 655.35 %; MM above 100 %, where
no LT >= 0 satisfies LT + MM <= 10000). Publishing nothing then would leave the stale, low margins
on-chain exactly when they do the most harm, so the field takes its largest representable value
instead (65535 bp; MM 10000 bp, hence LT 0): the most conservative set the contract can hold. Caps
are monotone, so MM <= IM (MM's cap is below IM's) and VaR <= ES still hold. The result lists each
capped field with the value wanted (`RiskResult.capped`), carries the flag `capped_unrepresentable`
and its confidence takes that flag's factor (RiskSettings.confidence_flag_factors).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from oracle_node.errors import BoundsViolation
from oracle_node.models.forecast import Forecast
from oracle_node.risk.grid import ScenarioGrid
from oracle_node.risk.margin import ForecastArrays, MarginArrays, liquidity_addon, margins
from oracle_node.risk.params import CAPPED_UNREPRESENTABLE, RiskSettings
from oracle_node.risk.score import (
    ConfidenceParts,
    ScoreParts,
    confidence_parts,
    score_fraction,
    score_parts,
)
from oracle_node.risk.units import bp_down, bp_up, cap_bp
from oracle_node.types import BPS, RISK_FIELDS, UINT16_MAX, RiskParamsBps

DAYS_PER_YEAR = 365.0
_GRIDS: dict[tuple[object, ...], ScenarioGrid] = {}  # grids are pure functions of these settings
_PROTECTIVE = ("volatility", "var99", "es99", "initial_margin", "maintenance_margin", "risk_score")
# Largest publishable value per protective field: the uint16, except MM, which LT + MM <= 10000 with
# LT >= 0 limits to 100 %. MM's cap is below IM's, so capping keeps MM <= IM.
_CEILINGS = dict.fromkeys(_PROTECTIVE, UINT16_MAX) | {"maintenance_margin": BPS}


@dataclass(frozen=True, slots=True)
class RiskInput:
    """One market's inputs: the model's forecast and what the guard and the model ensemble said.

    daily_volume / reference_notional (same currency) enable the concentration add-on; leave None if
    unknown. reference_move is the market's typical |log move| over the margin period
    (oracle_node.risk.score.reference_move of its closes), the risk score's threshold; None: the
    settings' score_reference_move.
    """

    market: str
    forecast: Forecast
    guard_confidence: float = 1.0
    guard_flags: frozenset[str] = field(default_factory=frozenset)
    model_agreement: float = 1.0
    daily_volume: float | None = None
    reference_notional: float | None = None
    reference_move: float | None = None
    cascade_addon_bp: int = 0  # lowers LT (risk/cascade_addon.py); 0 when the add-on is off


@dataclass(frozen=True, slots=True)
class MarginExplanation:
    """Fractions of notional behind IM and MM."""

    scan_range: float
    tail_multiplier: float
    grid_loss: float
    grid_scenario: str
    es_floor: float
    addon: float
    initial: float
    maintenance: float
    im_source: str  # "scenario" or "es_floor"
    mm_source: str  # "fraction_of_im" or "var99_floor"


@dataclass(frozen=True, slots=True)
class RiskExplanation:
    market: str
    margin: MarginExplanation
    score: ScoreParts
    confidence: ConfidenceParts

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["confidence"]["value"] = self.confidence.value
        return out


@dataclass(frozen=True, slots=True)
class CappedField:
    """A field published at its ceiling because the model wanted more than it can carry."""

    field: str
    wanted_bp: float  # the model's value in bp (inf when it overflowed)
    published_bp: int


@dataclass(frozen=True, slots=True)
class RiskResult:
    market: str
    params: RiskParamsBps
    explanation: RiskExplanation
    capped: tuple[CappedField, ...] = ()

    @property
    def flags(self) -> frozenset[str]:
        """The risk layer's flags: capped_unrepresentable when a field holds its ceiling, not the model's value."""
        return frozenset({CAPPED_UNREPRESENTABLE}) if self.capped else frozenset()


def _grid(settings: RiskSettings) -> ScenarioGrid:
    key = (
        settings.price_multiples,
        settings.vol_shocks_price_down,
        settings.vol_shocks_price_up,
        settings.extreme_multiple,
        settings.extreme_cover,
    )
    grid = _GRIDS.get(key)
    if grid is None:
        grid = _GRIDS[key] = ScenarioGrid.from_settings(settings)
    return grid


def _unit_fraction(market: str, name: str, value: float) -> float:
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise BoundsViolation(market, name, value, "must be a finite fraction in [0, 1]")
    return value


def _validate(item: RiskInput) -> None:
    _unit_fraction(item.market, "guard_confidence", item.guard_confidence)
    _unit_fraction(item.market, "model_agreement", item.model_agreement)
    nu = item.forecast.nu
    if nu is not None and not (math.isfinite(nu) and nu > 2.0):
        raise BoundsViolation(item.market, "nu", nu, "Student-t nu must be finite and > 2 (finite variance)")
    for name in ("var99", "es99"):
        if getattr(item.forecast, name) > 1.0:
            raise BoundsViolation(
                item.market, name, getattr(item.forecast, name), "a long cannot lose over 100%"
            )
    if item.reference_move is not None and not (
        math.isfinite(item.reference_move) and item.reference_move > 0
    ):
        raise BoundsViolation(item.market, "reference_move", item.reference_move, "must be finite and > 0")
    if not (isinstance(item.cascade_addon_bp, int) and 0 <= item.cascade_addon_bp <= BPS):
        raise BoundsViolation(
            item.market, "cascade_addon_bp", item.cascade_addon_bp, "must be an int in [0, 10000]"
        )
    for name in ("daily_volume", "reference_notional"):
        value = getattr(item, name)
        if value is not None and not (math.isfinite(value) and value >= 0.0):
            raise BoundsViolation(item.market, name, value, "must be finite and >= 0")


def _optional(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _margin_arrays(items: Sequence[RiskInput], settings: RiskSettings) -> tuple[MarginArrays, ForecastArrays]:
    f = ForecastArrays.from_forecasts([i.forecast for i in items])
    volume = _optional([i.daily_volume for i in items])
    reference = _optional([i.reference_notional for i in items])
    addon = liquidity_addon(f.sigma_1d, volume, reference, settings)
    return margins(f, addon, _grid(settings), settings), f


def _liquidation_thresholds(mm_bp: list[int], addon_bp: list[int], settings: RiskSettings) -> list[int]:
    """LT = 10000 - MM - buffer - cascade add-on, at least 0 (MM is at most 10000 after capping)."""
    return [
        max(BPS - mm - settings.liquidation_buffer_bp - a, 0) for mm, a in zip(mm_bp, addon_bp, strict=True)
    ]


def _explanations(m: MarginArrays, grid: ScenarioGrid, mm_fraction: float) -> list[MarginExplanation]:
    cols = [
        x.tolist()
        for x in (m.scan_range, m.tail_multiplier, m.grid_loss, m.es_floor, m.addon, m.initial, m.maintenance)
    ]
    sides = ["short " if short else "long " for short in m.grid_short.tolist()]
    scenarios = [grid.linear_labels[j] for j in m.grid_scenario.tolist()]
    var99 = m.var99.tolist()
    return [
        MarginExplanation(
            scan_range=s,
            tail_multiplier=z,
            grid_loss=g,
            grid_scenario=side + scenario,
            es_floor=floor,
            addon=addon,
            initial=im,
            maintenance=mm,
            im_source="scenario" if g >= floor else "es_floor",
            mm_source="var99_floor" if var > im * mm_fraction else "fraction_of_im",
        )
        for s, z, g, floor, addon, im, mm, side, scenario, var in zip(
            *cols, sides, scenarios, var99, strict=True
        )
    ]


def _capped_fields(
    markets: list[str], fractions: dict[str, np.ndarray]
) -> tuple[dict[str, list[int]], list[tuple[CappedField, ...]]]:
    """Protective fields in bp, rounded up and capped at their ceilings; the capped ones per market."""
    bp: dict[str, list[int]] = {}
    capped: list[list[CappedField]] = [[] for _ in markets]
    for name, x in fractions.items():
        wanted = bp_up(x)
        bp[name], hit = cap_bp(markets, name, x, wanted, _CEILINGS[name])
        for i in np.flatnonzero(hit).tolist():
            capped[i].append(CappedField(name, float(x[i]) * BPS, bp[name][i]))
    return bp, [tuple(c) for c in capped]


def _confidence(
    items: Sequence[RiskInput], capped: list[tuple[CappedField, ...]], settings: RiskSettings
) -> list[ConfidenceParts]:
    out = []
    for item, cap in zip(items, capped, strict=True):
        flags = item.forecast.flags | item.guard_flags | ({CAPPED_UNREPRESENTABLE} if cap else set())
        out.append(confidence_parts(item.guard_confidence, item.model_agreement, flags, settings))
    return out


def compute_many(items: Sequence[RiskInput], settings: RiskSettings | None = None) -> list[RiskResult]:
    """Risk parameters for many markets at once (one NumPy pass over markets)."""
    settings = RiskSettings() if settings is None else settings
    for item in items:
        _validate(item)
    if not items:
        return []
    markets = [i.market for i in items]
    m, f = _margin_arrays(items, settings)
    vol_annual = f.sigma_1d * math.sqrt(DAYS_PER_YEAR)
    scores = score_parts(f.sigma_1d, f.nu, [i.reference_move for i in items], settings)
    protective = (vol_annual, m.var99, m.es99, m.initial, m.maintenance, score_fraction(scores))
    bp, capped = _capped_fields(markets, dict(zip(_PROTECTIVE, protective, strict=True)))
    conf = _confidence(items, capped, settings)
    addons = [i.cascade_addon_bp for i in items]
    bp["liquidation_threshold"] = _liquidation_thresholds(bp["maintenance_margin"], addons, settings)
    bp["confidence"] = bp_down(np.array([c.value for c in conf])).astype(np.int64).tolist()
    margin = _explanations(m, _grid(settings), settings.mm_fraction)
    rows = zip(*(bp[name] for name in RISK_FIELDS), strict=True)
    return [
        RiskResult(
            market, RiskParamsBps(*row), RiskExplanation(market, margin[i], scores[i], conf[i]), capped[i]
        )
        for i, (market, row) in enumerate(zip(markets, rows, strict=True))
    ]


def compute_params(
    market: str,
    forecast: Forecast,
    *,
    guard_confidence: float = 1.0,
    guard_flags: frozenset[str] = frozenset(),
    model_agreement: float = 1.0,
    reference_move: float | None = None,
    settings: RiskSettings | None = None,
) -> RiskResult:
    """One market's parameters (the same code path as `compute_many`)."""
    item = RiskInput(
        market, forecast, guard_confidence, guard_flags, model_agreement, reference_move=reference_move
    )
    return compute_many([item], settings)[0]
