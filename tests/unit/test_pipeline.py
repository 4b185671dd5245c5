"""The pipeline on hand-made ticks with a short synthetic history (no files, no sockets)."""

from __future__ import annotations

import numpy as np
import pytest

from oracle_node.config import NodeConfig
from oracle_node.features.history import SECONDS_PER_DAY, MarketHistory
from oracle_node.service.histories import HistoryBook
from oracle_node.service.pipeline import NodePipeline
from oracle_node.service.wiring import load_model
from oracle_node.sources.tick import Tick

T0 = 1_600_000_000.0


@pytest.fixture(scope="module")
def pipeline_factory():  # type: ignore[no-untyped-def]
    model = load_model(NodeConfig())
    rng = np.random.default_rng(7)
    days = 400
    ts = T0 - SECONDS_PER_DAY * np.arange(days, 0, -1)
    close = 10_000 * np.exp(np.cumsum(rng.standard_normal(days) * 0.03))
    history = MarketHistory("BTC-USD", ts, close, volume=np.full(days, 1e9))

    def make() -> NodePipeline:
        book = HistoryBook(1000)
        book.seed(history)
        model.prefit([book.snapshot("BTC-USD")])
        return NodePipeline(NodeConfig(), model, book)

    return make, float(close[-1])


def ticks(price: float, ts: float, prices: dict[str, float] | None = None) -> list[Tick]:
    quotes = prices or {"a": price, "b": price * 1.0002, "c": price * 0.9998, "d": price}
    return [Tick(ts, "BTC-USD", s, p, volume=1e6) for s, p in quotes.items()]


def test_step__agreeing_sources__params_and_first_publish(pipeline_factory) -> None:  # type: ignore[no-untyped-def]
    make, last = pipeline_factory
    (out,) = make().step(T0 + 60, ticks(last, T0 + 60))
    assert out.error is None and out.would_publish and out.decision.reason == "first"
    p = out.risk.params
    assert (
        p.maintenance_margin <= p.initial_margin
        and p.var99 <= p.es99
        and p.liquidation_threshold + p.maintenance_margin <= 10_000
    )


def test_step__two_camps__degraded_nothing_computed(pipeline_factory) -> None:  # type: ignore[no-untyped-def]
    make, last = pipeline_factory
    split = {"a": last, "b": last * 1.0001, "c": last * 1.2, "d": last * 1.2001}
    (out,) = make().step(T0 + 60, ticks(last, T0 + 60, split))
    assert out.guard.degraded and out.risk is None and not out.would_publish
    assert out.error.startswith("degraded")


def test_step__same_inputs_twice__identical_params(pipeline_factory) -> None:  # type: ignore[no-untyped-def]
    make, last = pipeline_factory
    a = make().step(T0 + 60, ticks(last, T0 + 60))[0].risk.params
    b = make().step(T0 + 60, ticks(last, T0 + 60))[0].risk.params
    assert a == b


def test_step__intraday_crash__margins_rise_in_the_same_round(pipeline_factory) -> None:  # type: ignore[no-untyped-def]
    make, last = pipeline_factory
    p = make()
    calm = p.step(T0 + 3600, ticks(last, T0 + 3600))[0].risk.params
    crash = p.step(T0 + 7200, ticks(last * 0.7, T0 + 7200))[0]
    assert not crash.guard.rejected
    assert crash.risk.params.initial_margin > calm.initial_margin * 1.3


def test_step__gap_beyond_representable__capped_set_flagged_and_logged(  # type: ignore[no-untyped-def]
    pipeline_factory, caplog
) -> None:
    make, last = pipeline_factory
    p = make()
    calm = p.step(T0 + 3600, ticks(last, T0 + 3600))[0]
    with caplog.at_level("WARNING", logger="oracle_node.service.pipeline"):
        (out,) = p.step(T0 + 7200, ticks(last * 0.4, T0 + 7200))
    assert out.error is None and out.risk is not None and out.would_publish
    params = out.risk.params
    assert (params.maintenance_margin, params.liquidation_threshold) == (10_000, 0)
    assert params.confidence < calm.risk.params.confidence
    view = out.to_json_dict()
    assert (
        "capped_unrepresentable" in view["flags"]
        and "capped_unrepresentable" not in calm.to_json_dict()["flags"]
    )
    assert "maintenance_margin" in view["capped"]["fields"]
    (record,) = [r for r in caplog.records if r.getMessage() == "params_capped"]
    logged = record.fields  # type: ignore[attr-defined]
    assert logged["market"] == "BTC-USD" and logged["fields"] == view["capped"]["fields"]
    assert logged["wanted_bp"]["maintenance_margin"] > logged["published_bp"]["maintenance_margin"] == 10_000


def test_step__one_history_snapshot_per_market__used_after_the_guard_observed(pipeline_factory) -> None:  # type: ignore[no-untyped-def]
    make, last = pipeline_factory
    pipeline = make()
    taken = []
    snapshot = pipeline.book.snapshot

    def counting(market: str) -> MarketHistory | None:
        h = snapshot(market)
        taken.append(h)
        return h

    pipeline.book.snapshot = counting  # type: ignore[method-assign]
    (out,) = pipeline.step(T0 + 60, ticks(last * 0.9, T0 + 60))
    assert out.risk is not None and len(taken) == 1  # model, cascade add-on and score share it
    assert taken[0] is not None and taken[0].close[-1] == pytest.approx(
        last * 0.9, rel=1e-3
    )  # this round's price


def test_step__node_joining_late__counts_the_volume_of_every_tick_it_catches_up_on(pipeline_factory) -> None:  # type: ignore[no-untyped-def]
    make, last = pipeline_factory
    hours = [T0 + 3600 * (k + 1) for k in range(6)]
    every, late = make(), make()
    for ts in hours:
        every.step(ts, ticks(last, ts))
    late.step(hours[3], [t for ts in hours[:4] for t in ticks(last, ts)])  # joins at hour 4 with all ticks
    for ts in hours[4:]:
        late.step(ts, ticks(last, ts))
    a, b = every.book.snapshot("BTC-USD"), late.book.snapshot("BTC-USD")
    assert a is not None and b is not None and a.volume is not None and b.volume is not None
    assert b.volume[-1] == a.volume[-1]  # the day's run-rate volume: all six hours counted by both


def test_step__source_without_a_new_tick__adds_no_volume(pipeline_factory) -> None:  # type: ignore[no-untyped-def]
    make, last = pipeline_factory
    once, twice = make(), make()
    for p in (once, twice):
        p.step(T0 + 3600, ticks(last, T0 + 3600))
    once.step(T0 + 7200, ticks(last, T0 + 7200))
    twice.step(T0 + 7200, ticks(last, T0 + 7200))
    twice.step(T0 + 7200 + 60, [])  # a round with no new tick: the old ticks' volume is not counted again
    h1, h2 = once.book.snapshot("BTC-USD"), twice.book.snapshot("BTC-USD")
    assert h1 is not None and h2 is not None and h1.volume is not None and h2.volume is not None
    assert h2.ts[-1] > h1.ts[-1] and h2.volume[-1] < h1.volume[-1]  # same volume, longer day: lower run rate
