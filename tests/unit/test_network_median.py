from __future__ import annotations

import statistics

import pytest
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle_node.network.errors import AggregationError
from oracle_node.network.median import aggregate, lower_median, median_params
from oracle_node.types import RiskParamsBps
from tests.unit.test_network_fixtures import MODEL, observe


@given(st.lists(st.integers(0, 65535), min_size=1, max_size=31))
def test_lower_median__any_values__equals_statistics_median_low(values: list[int]) -> None:
    assert lower_median(values) == statistics.median_low(values)


def test_lower_median__even_count__takes_the_lower_middle() -> None:
    assert lower_median([40, 10, 30, 20]) == 20


@st.composite
def consistent(draw: st.DrawFn) -> RiskParamsBps:
    mm = draw(st.integers(0, 5000))
    im = draw(st.integers(mm, 10000))
    var = draw(st.integers(0, 5000))
    es = draw(st.integers(var, 6000))
    lt = draw(st.integers(0, 10000 - mm))
    return RiskParamsBps(draw(st.integers(0, 65535)), var, es, im, mm, lt, draw(st.integers(0, 10000)), 5000)


@settings(max_examples=300)
@given(st.lists(consistent(), min_size=1, max_size=9))
def test_median_params__consistent_observations__median_keeps_contract_rules(
    sets: list[RiskParamsBps],
) -> None:
    m = median_params(sets)
    assert m.maintenance_margin <= m.initial_margin
    assert m.var99 <= m.es99
    assert m.liquidation_threshold + m.maintenance_margin <= 10000


def test_aggregate__five_observations__per_field_lower_median_and_sorted_inputs_hash() -> None:
    obs = [observe(i, scale=s) for i, s in enumerate((1.0, 1.02, 0.98, 3.0, 1.01))]
    report = aggregate(obs, round_=7, threshold=3, epoch=1, deadline=999)
    assert (
        report.risk_params()["BTC-USD"].volatility
        == sorted(round(6000 * s) for s in (1.0, 1.02, 0.98, 3.0, 1.01))[2]
    )
    assert (
        report.risk_params()["BTC-USD"].volatility == 6060
    )  # the poisoned 3x does not move it past honest values
    assert report.inputs_hash == keccak(b"".join(sorted(o.digest for o in obs)))
    assert report.model_hash == MODEL and report.observed_at == obs[0].observed_at and report.deadline == 999


def test_aggregate__market_in_fewer_than_k__left_out() -> None:
    obs = [observe(0, markets=("BTC-USD", "ETH-USD")), observe(1), observe(2, markets=("BTC-USD", "ETH-USD"))]
    assert aggregate(obs, round_=7, threshold=3, epoch=1, deadline=999).markets == ("BTC-USD",)


def test_aggregate__order_of_observations__same_report() -> None:
    obs = [observe(i, scale=1 + i / 100) for i in range(4)]
    assert aggregate(obs, round_=7, threshold=3, epoch=1, deadline=9) == aggregate(
        obs[::-1], round_=7, threshold=3, epoch=1, deadline=9
    )


@pytest.mark.parametrize(
    ("observations", "reason"),
    [
        (lambda: [observe(0), observe(1)], "too_few"),
        (lambda: [observe(0), observe(1), observe(1, scale=1.1)], "duplicate_signer"),
        (lambda: [observe(0), observe(1), observe(2, round_=8)], "wrong_round"),
        (lambda: [observe(0), observe(1), observe(2, model_hash=b"x" * 32)], "mixed_models"),
        (
            lambda: [observe(0), observe(1, markets=("ETH-USD",)), observe(2, markets=("SOL-USD",))],
            "no_market_quorum",
        ),
    ],
)
def test_aggregate__bad_inputs__refused_with_reason(observations, reason: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AggregationError) as err:
        aggregate(observations(), round_=7, threshold=3, epoch=1, deadline=9)
    assert err.value.reason == reason
