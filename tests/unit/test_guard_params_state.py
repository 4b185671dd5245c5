"""GuardParams validation and the persisted GuardState."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from oracle_node.errors import DataError
from oracle_node.guard import GuardParams, GuardState, SourceState


def test_guard_params__defaults__documented_values() -> None:
    params = GuardParams()
    assert (params.min_sources, params.max_age_s, params.outlier_k) == (3, 90.0, 5.0)
    assert params.outlier_k * params.mad_floor_rel == pytest.approx(0.01)  # narrowest band ±1 %
    assert params.max_weight_share < 0.5


def test_guard_params__frozen_and_strict__mutation_and_unknown_keys_rejected() -> None:
    params = GuardParams()
    with pytest.raises(ValidationError):
        params.min_sources = 1  # type: ignore[misc]
    with pytest.raises(ValidationError, match="min_soruces"):
        GuardParams(min_soruces=2)  # type: ignore[call-arg]


def test_guard_params__cap_below_floor__rejected_with_values() -> None:
    with pytest.raises(ValidationError, match=r"mad_cap_rel 0\.001 must be >= mad_floor_rel 0\.002"):
        GuardParams(mad_cap_rel=0.001)


def test_guard_params__pool_of__config_then_tick_then_self() -> None:
    params = GuardParams(pools={"binance_ws": "binance"})
    assert params.pool_of("binance_ws", None) == "binance"
    assert params.pool_of("okx_rest", "okx") == "okx"
    assert params.pool_of("kraken", None) == "kraken"


def _state() -> GuardState:
    entry = SourceState(
        source="a",
        last_ts=1.0,
        last_price=100.0,
        repeats=2,
        cusum_pos=0.003,
        distrusted=True,
        activity=(5e6, None, 1.0, 2e6, 2e6),
        idle=1,
    )
    return GuardState(last_ts=1.0, last_aggregate=100.0, sources=(entry,))


def test_guard_state__to_dict_from_dict__round_trip() -> None:
    assert GuardState.from_dict(_state().to_dict()) == _state()


def test_guard_state__stored_before_activity_existed__loads_with_no_activity() -> None:
    raw = _state().to_dict()
    for entry in raw["sources"]:
        del entry["activity"], entry["idle"]
    entry = GuardState.from_dict(raw).sources[0]
    assert (entry.activity, entry.idle, entry.repeats) == ((), 0, 2)


def test_guard_state__updated__merges_sorted_and_keeps_last_good_aggregate() -> None:
    new = SourceState(source="0", last_ts=2.0, last_price=99.0)
    state = _state().updated({"0": new}, now=2.0, aggregate=None)
    assert [s.source for s in state.sources] == ["0", "a"]
    assert state.last_aggregate == 100.0 and state.last_ts == 2.0


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["sources"][0].update(repeats="2"), "sources[].repeats"),
        (lambda d: d["sources"][0].update(cusum_pos=float("inf")), "sources[].cusum_pos"),
        (lambda d: d["sources"][0].update(colour="red"), "sources[].colour"),
        (lambda d: d["sources"][0].update(activity=[1.0, "x"]), "sources[].activity"),
        (lambda d: d["sources"][0].update(activity=[float("nan")]), "sources[].activity"),
        (lambda d: d["sources"][0].update(idle=1.5), "sources[].idle"),
        (lambda d: d["sources"][0].pop("last_price"), "sources[].last_price"),
        (lambda d: d.update(last_aggregate="x"), "last_aggregate"),
        (lambda d: d.update(sources={}), "sources"),
    ],
)
def test_guard_state__malformed_record__data_error_names_field(mutate: object, field: str) -> None:
    raw = _state().to_dict()
    mutate(raw)  # type: ignore[operator]
    with pytest.raises(DataError) as caught:
        GuardState.from_dict(raw)
    assert caught.value.field == field


def test_source_state__evolve__changes_only_the_named_fields() -> None:
    entry = _state().sources[0]
    assert entry.evolve() == entry
    changed = entry.evolve(clean_obs=4, peer_ref=101.0)
    assert (changed.clean_obs, changed.peer_ref) == (4, 101.0)
    assert changed.evolve(clean_obs=entry.clean_obs, peer_ref=entry.peer_ref) == entry
