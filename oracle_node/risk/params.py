"""Settings of the risk-parameter layer (`RiskSettings`), with documented defaults.

The config layer embeds this model; nothing here reads files or the environment. Every default is a
choice a risk committee can defend, and each field says why it has the value it has.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Flag of a result whose model wanted a value no field can carry (above 655.35 %, or a maintenance
# margin above 100 %): the published field holds the largest representable value instead.
CAPPED_UNREPRESENTABLE = "capped_unrepresentable"

# SPAN's scanning points: the price scan range in thirds (CME SPAN, 16 scenarios).
SPAN_PRICE_MULTIPLES: tuple[float, ...] = (-1.0, -2.0 / 3.0, -1.0 / 3.0, 0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0)


class RiskSettings(BaseModel):
    """How forecasts become published risk parameters.

    Margin grid (see oracle_node.risk.grid): price shocks at `price_multiples` of the scan range
    S = z_ES(nu) * sigma_1d * sqrt(margin_period_days), crossed with volatility shocks; down-price
    moves are crossed with `vol_shocks_price_down` (up-vol with down-price, the crypto skew), up-price
    moves with `vol_shocks_price_up`; SPAN's two extreme moves at `extreme_multiple` x S count
    `extreme_cover` of their loss.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    margin_period_days: float = Field(
        2.0,
        ge=1.0,
        le=30.0,
        description="Margin period of risk in days: time to close out a defaulted position. 2 days, as EMIR "
        "requires of exchange-traded derivatives; crypto trades every day and on-chain liquidations "
        "stalled for hours on 2020-03-12. At least 1 day so that IM >= ES99_1d >= VaR99_1d >= MM floor.",
    )
    scan_level: float = Field(
        0.99, ge=0.9, lt=1.0, description="Tail level of the Student-t ES that sizes the price scan range."
    )
    default_nu: float = Field(
        5.0,
        gt=2.0,
        description="Student-t degrees of freedom assumed when a model has none (EWMA, ML quantile): crypto "
        "daily returns are fat-tailed; t5 gives an ES99 multiplier of 3.45 sigma against 2.67 for normal.",
    )
    price_multiples: tuple[float, ...] = Field(
        SPAN_PRICE_MULTIPLES,
        description="Price shocks as fractions of the scan range (SPAN: 0, ±1/3, ±2/3, ±1).",
    )
    vol_shocks_price_down: tuple[float, ...] = Field(
        (0.75, 1.0, 1.5, 2.0),
        description="Vol multipliers crossed with zero and down-price moves (up-vol joins down-price: skew).",
    )
    vol_shocks_price_up: tuple[float, ...] = Field(
        (0.75, 1.0, 1.5),
        description="Vol multipliers crossed with up-price moves (a rally rarely doubles vol).",
    )
    extreme_multiple: float = Field(2.0, ge=1.0, le=10.0, description="SPAN extreme move, in scan ranges.")
    extreme_cover: float = Field(
        0.35, ge=0.0, le=1.0, description="Fraction of the extreme-move loss counted."
    )
    liquidity_addon: float = Field(
        0.0025,
        ge=0.0,
        le=0.5,
        description="Flat liquidity add-on to IM (fraction of notional): close-out spread.",
    )
    impact_coefficient: float = Field(
        1.0,
        ge=0.0,
        le=10.0,
        description="Y in the square-root impact law, impact = Y * sigma_1d * sqrt(Q / ADV), the "
        "concentration add-on when a market's daily volume and reference position are known.",
    )
    mm_fraction: float = Field(
        0.7, ge=0.5, le=1.0, description="Maintenance margin as a fraction of initial (venues use 0.6-0.8)."
    )
    liquidation_buffer_bp: int = Field(
        500,
        ge=0,
        le=5000,
        description="LT = 10000 - MM - buffer (- the cascade add-on where markets[].cascade is enabled): "
        "room for the liquidation bonus and close-out slippage, bp.",
    )
    score_reference_move: float = Field(
        0.024,
        gt=0.0,
        le=1.0,
        description="Reference |log move| over the margin period used by the risk score when the caller "
        "passes no market history (oracle_node.risk.score): 0.024 is BTC's median 2-day move over "
        "2015-01-01..2023-06-30, before the shared test windows. With history the market's own median "
        "over its last four years is used instead.",
    )
    confidence_flag_factors: dict[str, float] = Field(
        default_factory=lambda: {
            "fallback_baseline": 0.6,
            "out_of_training_range": 0.7,
            CAPPED_UNREPRESENTABLE: 0.5,
        },
        description="Data-sufficiency factor (0..1) applied to confidence per model, guard or risk flag "
        "present. capped_unrepresentable halves it: the published margins are a ceiling the model's "
        "own value lies above, a lower bound of the risk rather than an estimate of it.",
    )
    confidence_unknown_flag_factor: float = Field(
        0.9, ge=0.0, le=1.0, description="Confidence factor of any other flag (model or guard)."
    )

    @field_validator("price_multiples")
    @classmethod
    def _price_multiples_span_the_range(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or min(value) != -1.0 or max(value) != 1.0 or any(abs(m) > 1.0 for m in value):
            raise ValueError("price_multiples must lie in [-1, 1] and include both -1 and 1")
        return tuple(sorted(set(value)))

    @field_validator("vol_shocks_price_down", "vol_shocks_price_up")
    @classmethod
    def _vol_shocks_positive(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(not 0.0 < v <= 10.0 for v in value) or 1.0 not in value:
            raise ValueError("vol shocks must be in (0, 10] and include 1.0 (unchanged vol)")
        return tuple(sorted(set(value)))

    @field_validator("confidence_flag_factors")
    @classmethod
    def _flag_table_finite(cls, value: dict[str, float]) -> dict[str, float]:
        for flag, weight in value.items():
            if not 0.0 <= weight <= 10.0:
                raise ValueError(f"flag {flag!r}: weight {weight!r} must be in [0, 10]")
        return value

    @model_validator(mode="after")
    def _confidence_factors_are_fractions(self) -> RiskSettings:
        for flag, factor in self.confidence_flag_factors.items():
            if factor > 1.0:
                raise ValueError(f"confidence_flag_factors[{flag!r}] = {factor!r} must be <= 1")
        return self
