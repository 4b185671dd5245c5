"""Properties over random forecasts: the contract's consistency rules always hold, IM is monotone."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from oracle_node.models.forecast import Forecast
from oracle_node.risk.bounds import consistency_violation
from oracle_node.risk.compute import RiskInput, compute_many, compute_params
from oracle_node.risk.params import CAPPED_UNREPRESENTABLE
from oracle_node.types import BPS, UINT16_MAX

FLAGS = st.frozensets(st.sampled_from(["fallback_baseline", "out_of_training_range", "stale_source"]))


@st.composite
def forecasts(draw: st.DrawFn, max_sigma: float = 0.10, max_es_short: float = 0.6) -> Forecast:
    var_l = draw(st.floats(0.0, 0.6))
    var_s = draw(st.floats(0.0, max_es_short))
    return Forecast(
        model="h",
        sigma_1d=draw(st.floats(0.0, max_sigma)),
        var99=var_l,
        es99=draw(st.floats(var_l, 0.6)),
        var99_short=var_s,
        es99_short=draw(st.floats(var_s, max_es_short)),
        nu=draw(st.none() | st.floats(2.01, 500.0)),
        flags=draw(FLAGS),
    )


UNIT = st.floats(0.0, 1.0)


@settings(max_examples=300, deadline=None)
@given(forecast=forecasts(), guard=UNIT, agreement=UNIT, guard_flags=FLAGS)
def test_compute_params__any_valid_forecast__passes_contract_consistency(
    forecast: Forecast, guard: float, agreement: float, guard_flags: frozenset[str]
) -> None:
    p = compute_params(
        "X", forecast, guard_confidence=guard, model_agreement=agreement, guard_flags=guard_flags
    ).params
    assert consistency_violation("X", p) is None
    assert p.maintenance_margin <= p.initial_margin and p.var99 <= p.es99
    assert p.liquidation_threshold + p.maintenance_margin <= BPS
    assert p.es99 <= p.initial_margin and p.var99 <= p.maintenance_margin
    assert 0 <= p.risk_score <= BPS and 0 <= p.confidence <= BPS


@settings(max_examples=300, deadline=None)
@given(forecast=forecasts(max_sigma=0.5, max_es_short=8.0))
def test_compute_params__extreme_forecast__consistent_capped_set_never_an_error(forecast: Forecast) -> None:
    result = compute_params("X", forecast)
    p = result.params
    assert consistency_violation("X", p) is None
    ceilings = {"maintenance_margin": BPS}
    for c in result.capped:
        assert getattr(p, c.field) == c.published_bp == ceilings.get(c.field, UINT16_MAX)
        assert not c.wanted_bp <= c.published_bp  # above the ceiling, or not finite
    assert result.flags == ({CAPPED_UNREPRESENTABLE} if result.capped else set())
    m = result.explanation.margin
    assert bool(m.maintenance * BPS > BPS) == any(c.field == "maintenance_margin" for c in result.capped)


@settings(max_examples=200, deadline=None)
@given(forecast=forecasts(), bump=st.floats(0.0, 0.05))
def test_initial_margin__sigma_rises__never_falls(forecast: Forecast, bump: float) -> None:
    higher = replace(forecast, sigma_1d=forecast.sigma_1d + bump)
    low, high = compute_params("X", forecast), compute_params("X", higher)
    assert high.params.initial_margin >= low.params.initial_margin
    assert high.explanation.margin.initial >= low.explanation.margin.initial


@settings(max_examples=200, deadline=None)
@given(forecast=forecasts(), bump_long=st.floats(0.0, 0.3), bump_short=st.floats(0.0, 0.3))
def test_initial_margin__es_rises__never_falls(
    forecast: Forecast, bump_long: float, bump_short: float
) -> None:
    higher = replace(
        forecast,
        es99=min(forecast.es99 + bump_long, 1.0),
        es99_short=min(forecast.es99_short + bump_short, 0.6),
    )
    assert (
        compute_params("X", higher).params.initial_margin
        >= compute_params("X", forecast).params.initial_margin
    )


@settings(max_examples=50, deadline=None)
@given(batch=st.lists(st.tuples(forecasts(), UNIT, UNIT, FLAGS), min_size=1, max_size=20))
def test_compute_many__random_batch__equals_one_market_at_a_time(
    batch: list[tuple[Forecast, float, float, frozenset[str]]],
) -> None:
    items = [RiskInput(f"M{i}", f, g, fl, a) for i, (f, g, a, fl) in enumerate(batch)]
    many = compute_many(items)
    one = [
        compute_params(
            i.market,
            i.forecast,
            guard_confidence=i.guard_confidence,
            guard_flags=i.guard_flags,
            model_agreement=i.model_agreement,
        )
        for i in items
    ]
    assert [r.params for r in many] == [r.params for r in one]
    assert [r.explanation for r in many] == [r.explanation for r in one]
