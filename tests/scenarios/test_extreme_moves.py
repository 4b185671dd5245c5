"""A value in every market state: in an extreme move the node publishes the most conservative set the
contract can hold, flagged, never nothing.

Each round's wanted params go through what the observer does with them (`project` into the DAO's
bounds against what the chain stores, deploy/local.yaml profile 0) and the result must pass the
contract's checks (`check_bounds`: range, change per update, consistency). A publish the trigger asks
for is stored, as the chain would, and the trigger settles on what landed.

(a) 2020-03-12 on real hourly Binance BTC, warm-up history ending the day before (the close of
    2020-03-11), through 2020-03-13.
(b) A synthetic gap: every venue quotes 45 % below the previous close at once, after the whole
    bundled history (the newest the node ships, ending 2021-06-10); the model then wants a maintenance
    margin above 100 %, which no LT can accompany.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from oracle_node.chain.deploy import load_deploy_config
from oracle_node.config import NodeConfig
from oracle_node.risk.bounds import check_bounds
from oracle_node.risk.params import CAPPED_UNREPRESENTABLE
from oracle_node.risk.project import project
from oracle_node.service.pipeline import MarketOutcome, NodePipeline
from oracle_node.service.wiring import build_pipeline
from oracle_node.sources.history import load_history
from oracle_node.sources.tick import Tick
from oracle_node.types import BPS, OnchainBounds, RiskParamsBps
from tests.conftest import REPO_ROOT
from tests.scenarios.venues import CRASH_DAY_END, CRASH_DAY_START, HOUR, MARKET, spot_only_venues

pytestmark = pytest.mark.slow

HISTORY = "bundled:binance_btcusdt_spot_1h"
VENUES = ("a", "b", "c", "d", "e")
GAP = 0.45


def _profile_0() -> OnchainBounds:
    (profile,) = [p for p in load_deploy_config(REPO_ROOT / "deploy" / "local.yaml").profiles if p.id == 0]
    return profile.bounds()


@dataclass(frozen=True)
class Round:
    outcome: MarketOutcome
    signed: RiskParamsBps  # what the node signs: the wanted params fitted into the DAO's bounds
    stored: RiskParamsBps  # what the chain holds after the round


def _publish_through_bounds(
    pipeline: NodePipeline, rounds: Iterable[tuple[float, list[Tick]]], bounds: OnchainBounds
) -> list[Round]:
    stored: RiskParamsBps | None = None
    stored_at: int | None = None
    out = []
    for ts, ticks in rounds:
        (o,) = pipeline.step(ts, ticks)
        assert o.risk is not None, (ts, o.error)  # every round yields params
        assert (CAPPED_UNREPRESENTABLE in o.flags) == bool(o.risk.capped)
        signed = project(MARKET, o.risk.params, stored, bounds).params
        violation = check_bounds(
            signed, stored, bounds, market=MARKET, observed_at=int(ts), previous_observed_at=stored_at
        )
        assert violation is None, (ts, o.risk.params, signed, violation)
        if o.would_publish:
            stored, stored_at = signed, int(ts)
        pipeline.settle(o, published=o.would_publish, params=signed)
        assert stored is not None
        out.append(Round(o, signed, stored))
    return out


def test_extreme__covid_crash_warmed_up_to_the_day_before__published_set_in_bounds_every_hour(
    shared_data: Path,
) -> None:
    venues = spot_only_venues(shared_data, CRASH_DAY_START, CRASH_DAY_END + 24 * HOUR)
    pipeline = build_pipeline(NodeConfig(), [], None)
    pipeline.book.seed(load_history(MARKET, HISTORY, until_ts=CRASH_DAY_START))
    pipeline.model.prefit([pipeline.book.snapshot(MARKET)])
    rounds = [(ts, venues.ticks_at(i)) for i, ts in enumerate(venues.close_ts)]
    result = _publish_through_bounds(pipeline, rounds, _profile_0())
    assert len(result) == 48
    first, worst = result[0].stored, max(r.stored.initial_margin for r in result)
    assert worst > 1.5 * first.initial_margin  # the chain's margins rose through the crash


def _gap_rounds(last_close: float, start: float) -> list[tuple[float, list[Tick]]]:
    """Three calm hours at the previous close, then every venue 45 % lower for 21 hours."""
    out = []
    for k in range(24):
        ts = start + HOUR * (k + 1)
        level = last_close * (1.0 if k < 3 else 1.0 - GAP)
        ticks = [
            Tick(
                ts - 1.0, MARKET, name, level * (1.0 + 2e-4 * (i - 2) + 1e-5 * (k % 3)), volume=4e6 + 1e4 * k
            )
            for i, name in enumerate(VENUES)
        ]
        out.append((ts, ticks))
    return out


def test_extreme__gap_of_45pct__capped_set_flagged_and_in_bounds_every_round() -> None:
    history = load_history(MARKET, HISTORY)
    pipeline = build_pipeline(NodeConfig(), [], None)
    pipeline.book.seed(history)
    pipeline.model.prefit([pipeline.book.snapshot(MARKET)])
    bounds = _profile_0()
    result = _publish_through_bounds(
        pipeline, _gap_rounds(float(history.close[-1]), float(history.ts[-1])), bounds
    )
    calm, gap = result[:3], result[3:]
    assert not any(r.outcome.risk.capped for r in calm)
    # the model wants MM above 100 % after the gap: without the cap there would be nothing to publish
    capped = [r for r in gap if r.outcome.risk.capped]
    assert capped, [r.outcome.risk.params for r in gap]
    for r in capped:
        wanted = r.outcome.risk
        assert {c.field for c in wanted.capped} >= {"maintenance_margin"}
        assert (wanted.params.maintenance_margin, wanted.params.liquidation_threshold) == (BPS, 0)
        assert wanted.params.confidence < calm[-1].outcome.risk.params.confidence
        assert CAPPED_UNREPRESENTABLE in r.outcome.to_json_dict()["flags"]
    # what the chain holds climbs towards the DAO's ceilings, one allowed step per update
    im = [r.stored.initial_margin for r in gap]
    assert im == sorted(im) and im[-1] == bounds.field("initial_margin").ceiling
    lt = [r.stored.liquidation_threshold for r in gap]
    assert lt == sorted(lt, reverse=True) and lt[-1] == bounds.field("liquidation_threshold").floor
