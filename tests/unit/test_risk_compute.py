"""Forecast -> published params: hand-computed cases, floors, rounding, errors and validation."""

from __future__ import annotations

import json
import math

import pytest
from scipy import stats

from oracle_node.errors import BoundsViolation
from oracle_node.models.forecast import Forecast
from oracle_node.risk.bounds import consistency_violation
from oracle_node.risk.compute import RiskInput, compute_many, compute_params
from oracle_node.risk.params import CAPPED_UNREPRESENTABLE, RiskSettings

ONE_DAY = RiskSettings(margin_period_days=1.0)


def test_compute_params__t4_forecast_one_day__hand_computed_fields() -> None:
    forecast = Forecast("garch", 0.02, 0.045, 0.055, 0.047, 0.058, nu=4.0)
    result = compute_params("BTC-USD", forecast, settings=ONE_DAY)
    s = 3.6915104856807 * 0.02  # unit-variance t4 ES99 multiplier x sigma x sqrt(1 day)
    im = (math.exp(s) - 1) + 0.0025  # full up move hurts the short most; ES floor 0.058 is lower
    assert im == pytest.approx(0.0791240, abs=1e-7)
    p = result.params
    assert p.initial_margin == 792  # 791.24 bp rounded up
    assert p.maintenance_margin == 554  # 0.7 x 791.24 = 553.87 up
    assert p.liquidation_threshold == 10_000 - 554 - 500
    assert p.volatility == 3821  # 0.02 x sqrt(365) = 3820.99 bp, rounded up
    assert (p.var99, p.es99) == (470, 580)  # two-sided: the short side is worse
    m = result.explanation.margin
    assert m.grid_scenario == "short price +1.00S"
    assert (m.im_source, m.mm_source) == ("scenario", "fraction_of_im")
    assert m.scan_range == pytest.approx(s)


def test_compute_params__two_day_period__scan_range_scales_with_sqrt_h() -> None:
    forecast = Forecast("garch", 0.02, 0.045, 0.055, 0.047, 0.058, nu=4.0)
    one = compute_params("X", forecast, settings=ONE_DAY).explanation.margin
    two = compute_params("X", forecast).explanation.margin
    assert two.scan_range == pytest.approx(one.scan_range * math.sqrt(2.0))


def test_compute_params__model_es_above_grid__es_floor_sets_im() -> None:
    forecast = Forecast("ml", 0.02, 0.15, 0.20, 0.05, 0.06)
    result = compute_params("ETH-USD", forecast)
    floor = 1 - 0.8 ** math.sqrt(2.0)  # 1-day ES 20% scaled to 2 days in log-return space: 27.07%
    assert result.explanation.margin.im_source == "es_floor"
    assert result.explanation.margin.es_floor == pytest.approx(floor)
    assert result.params.initial_margin == math.ceil((floor + 0.0025) * 10_000)


def test_compute_params__var_close_to_im__mm_floored_at_one_day_var() -> None:
    forecast = Forecast("x", 0.001, 0.10, 0.10, 0.0, 0.0)
    result = compute_params("X", forecast, settings=RiskSettings(margin_period_days=1.0, mm_fraction=0.5))
    assert result.params.initial_margin == 1025  # ES floor 10% + 25 bp add-on
    assert result.params.maintenance_margin == 1000  # 0.5 x 10.25% < VaR 10%
    assert result.explanation.margin.mm_source == "var99_floor"


def test_compute_params__mm_plus_buffer_above_100pct__lt_zero() -> None:
    forecast = Forecast("x", 0.001, 0.97, 0.98, 0.0, 0.0)
    result = compute_params("X", forecast, settings=RiskSettings(margin_period_days=1.0, mm_fraction=0.5))
    assert result.params.maintenance_margin == 9700
    assert result.params.liquidation_threshold == 0


def test_compute_params__mm_above_100pct__capped_at_100pct_lt_zero_and_flagged() -> None:
    forecast = Forecast("x", 0.01, 0.02, 0.03, 1.2, 1.3)
    result = compute_params("MEME-USD", forecast)
    p = result.params
    assert (p.maintenance_margin, p.liquidation_threshold) == (10_000, 0)
    assert p.initial_margin > 10_000 and p.var99 == 12_000 and p.es99 == 13_000  # representable: kept
    assert consistency_violation("MEME-USD", p) is None
    (capped,) = result.capped
    assert capped.field == "maintenance_margin" and capped.published_bp == 10_000
    assert capped.wanted_bp == pytest.approx(result.explanation.margin.maintenance * 10_000)
    assert capped.wanted_bp > 10_000
    assert result.flags == {CAPPED_UNREPRESENTABLE}


@pytest.mark.parametrize(
    ("forecast", "fields"),
    [
        # 668.7%/yr; the short's loss in SPAN's extreme move (2 x scan range 1.71, 35 % cover) is 1029 %
        (Forecast("x", 0.35, 0.3, 0.4, 0.3, 0.4), {"volatility", "initial_margin", "maintenance_margin"}),
        # ES floor 7.4^1.41 - 1 = 1590%; MM = 0.7 x IM above 100 % as well
        (Forecast("x", 0.01, 0.02, 0.03, 6.0, 6.4), {"initial_margin", "maintenance_margin"}),
    ],
)
def test_compute_params__unrepresentable__most_conservative_representable_set_flagged(
    forecast: Forecast, fields: set[str]
) -> None:
    result = compute_params("X", forecast)
    assert {c.field for c in result.capped} == fields
    for c in result.capped:
        assert (
            getattr(result.params, c.field)
            == c.published_bp
            == (10_000 if c.field == "maintenance_margin" else 65_535)
        )
        assert c.wanted_bp > c.published_bp
    assert consistency_violation("X", result.params) is None
    assert result.flags == {CAPPED_UNREPRESENTABLE}


def test_compute_params__capped__confidence_takes_the_flag_factor() -> None:
    calm = compute_params("X", Forecast("x", 0.01, 0.02, 0.03, 0.03, 0.04), guard_confidence=0.9)
    wild = compute_params("X", Forecast("x", 0.35, 0.3, 0.4, 0.3, 0.4), guard_confidence=0.9)
    assert calm.capped == () and calm.flags == frozenset() and calm.params.confidence == 9000
    assert wild.explanation.confidence.data_sufficiency == 0.5
    assert wild.params.confidence == 4500


def test_compute_params__overflow_to_infinity__capped_not_nan() -> None:
    result = compute_params("X", Forecast("x", 1e3, 0.99, 1.0, 0.99, 1.0))  # exp of the scan range overflows
    p = result.params
    assert (p.volatility, p.initial_margin, p.maintenance_margin, p.liquidation_threshold) == (
        65_535,
        65_535,
        10_000,
        0,
    )
    assert {c.field for c in result.capped} >= {"volatility", "initial_margin", "maintenance_margin"}
    assert consistency_violation("X", p) is None


def test_compute_params__rounding__protective_up_confidence_down() -> None:
    forecast = Forecast("x", 0.0123456, 0.0234567, 0.0345678, 0.01, 0.02)
    result = compute_params("X", forecast, guard_confidence=0.87654, settings=ONE_DAY)
    e, p = result.explanation, result.params
    assert p.volatility == math.ceil(0.0123456 * math.sqrt(365) * 10_000)
    assert (p.var99, p.es99) == (235, 346)
    assert p.initial_margin == math.ceil(e.margin.initial * 10_000)
    assert p.maintenance_margin == math.ceil(e.margin.maintenance * 10_000)
    assert p.confidence == 8765


# The score is P(|R_h| > reference move) (oracle_node.risk.score), no longer a hand-tuned logistic of
# vol, tail ratio and flags (issue 12 item 4): these pin the new definition by hand.


def test_risk_score__sigma_h_equals_reference_normal__probability_of_abs_z_above_1() -> None:
    # nu = 1e9 is the normal to 1e-8; sigma_h = 0.02 sqrt(2) = reference: P(|Z| > 1) = 0.3173
    forecast = Forecast("x", 0.02, 0.05, 0.06, 0.05, 0.06, nu=1e9)
    result = compute_params("X", forecast, reference_move=0.02 * math.sqrt(2))
    assert result.params.risk_score == math.ceil(2 * (1 - 0.8413447460685429) * 10_000)  # 3174
    assert result.explanation.score.reference_source == "history"


def test_risk_score__no_reference__settings_reference_and_t_tails() -> None:
    # no history: score_reference_move 0.024; nu None: default_nu 5 (unit-variance t5)
    forecast = Forecast("x", 0.03, 0.07, 0.08, 0.07, 0.08)
    parts = compute_params("X", forecast).explanation.score
    assert (parts.reference_move, parts.nu, parts.reference_source) == (0.024, 5.0, "settings")
    c = 0.024 / (0.03 * math.sqrt(2) * math.sqrt(3 / 5))
    assert parts.probability == pytest.approx(2 * stats.t.sf(c, 5), rel=1e-12)


def test_risk_score__flags_do_not_move_the_score__confidence_does() -> None:
    base = Forecast("x", 0.03, 0.07, 0.08, 0.07, 0.08)
    flagged = Forecast("x", 0.03, 0.07, 0.08, 0.07, 0.08, flags=frozenset({"fallback_baseline"}))
    a, b = compute_params("X", base, reference_move=0.03), compute_params("X", flagged, reference_move=0.03)
    assert a.params.risk_score == b.params.risk_score
    assert b.params.confidence < a.params.confidence


def test_risk_score__double_sigma__higher_score_below_10000() -> None:
    calm, wild = (Forecast("x", s, 0.07, 0.08, 0.07, 0.08, nu=4.0) for s in (0.02, 0.04))
    lo = compute_params("X", calm, reference_move=0.03).params.risk_score
    hi = compute_params("X", wild, reference_move=0.03).params.risk_score
    assert 0 < lo < hi < 10_000


def test_compute_params__reference_move_not_positive__bounds_violation() -> None:
    with pytest.raises(BoundsViolation) as info:
        compute_params("X", Forecast("x", 0.03, 0.07, 0.08, 0.07, 0.08), reference_move=0.0)
    assert info.value.field == "reference_move"


def test_confidence__guard_agreement_and_flags__product() -> None:
    forecast = Forecast("x", 0.03, 0.07, 0.08, 0.07, 0.08, flags=frozenset({"fallback_baseline"}))
    result = compute_params(
        "X", forecast, guard_confidence=0.9, model_agreement=0.8, guard_flags=frozenset({"thin"})
    )
    assert result.explanation.confidence.data_sufficiency == pytest.approx(0.6 * 0.9)
    assert result.params.confidence == math.floor(0.9 * 0.8 * 0.6 * 0.9 * 10_000 + 1e-7)  # 3888


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"guard_confidence": 1.2}, "guard_confidence"), ({"model_agreement": math.nan}, "model_agreement")],
)
def test_compute_params__confidence_inputs_outside_0_1__bounds_violation(
    kwargs: dict[str, float], field: str
) -> None:
    with pytest.raises(BoundsViolation) as info:
        compute_params("X", Forecast("x", 0.03, 0.07, 0.08, 0.07, 0.08), **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_compute_params__nu_at_most_2__bounds_violation() -> None:
    with pytest.raises(BoundsViolation, match="nu"):
        compute_params("X", Forecast("x", 0.03, 0.07, 0.08, 0.07, 0.08, nu=2.0))


def test_compute_many__concentration_addon__square_root_impact() -> None:
    forecast = Forecast("x", 0.04, 0.09, 0.11, 0.09, 0.11)
    plain, concentrated = compute_many(
        [RiskInput("A", forecast), RiskInput("B", forecast, daily_volume=1e8, reference_notional=1e6)]
    )
    assert concentrated.explanation.margin.addon == pytest.approx(0.0025 + 0.04 * math.sqrt(0.01))
    assert concentrated.params.initial_margin - plain.params.initial_margin in (40, 41)


def test_compute_params__long_loss_above_100pct__bounds_violation() -> None:
    with pytest.raises(BoundsViolation) as info:
        compute_params("X", Forecast("x", 0.03, 1.01, 1.02, 0.07, 0.08))
    assert info.value.field == "var99"


def test_explanation__as_dict__json_ready_with_score_inputs_and_confidence_value() -> None:
    forecast = Forecast("x", 0.03, 0.07, 0.08, 0.07, 0.08, flags=frozenset({"out_of_training_range"}))
    out = compute_params("SOL-USD", forecast, guard_confidence=0.5).explanation.as_dict()
    decoded = json.loads(json.dumps(out))
    assert decoded["market"] == "SOL-USD"
    assert decoded["score"]["reference_source"] == "settings"
    assert decoded["score"]["sigma_h"] == pytest.approx(0.03 * math.sqrt(2))
    assert decoded["confidence"]["value"] == pytest.approx(0.5 * 0.7)
    assert decoded["margin"]["grid_scenario"] in {"long price -1.00S", "short price +1.00S"}


def test_compute_many__empty__empty() -> None:
    assert compute_many([]) == []
