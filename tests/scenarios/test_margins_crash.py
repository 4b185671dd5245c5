"""2020-03-12 on real hourly Binance BTC with derived venues: the crash passes the guard at once and the
node's margins rise within the day (whole pipeline: guard -> history -> model -> risk -> trigger)."""

from __future__ import annotations

from pathlib import Path

import pytest

from oracle_node.config import NodeConfig
from oracle_node.service.wiring import build_pipeline
from oracle_node.sources.history import load_history
from tests.scenarios.venues import CRASH_DAY_START, HOUR, MARKET, SPOT_FILE, spot_only_venues

pytestmark = [pytest.mark.scenario, pytest.mark.slow]


def test_pipeline__covid_crash__accepted_every_hour_and_margins_rise(shared_data: Path) -> None:
    start = CRASH_DAY_START - 48 * HOUR
    venues = spot_only_venues(shared_data, start, CRASH_DAY_START + 24 * HOUR)
    pipeline = build_pipeline(NodeConfig(), [], None)
    pipeline.book.seed(load_history(MARKET, str(shared_data / SPOT_FILE), until_ts=start))
    pipeline.model.prefit([pipeline.book.snapshot(MARKET)])
    im: dict[float, int] = {}
    vol: dict[float, int] = {}
    for i, ts in enumerate(venues.close_ts):
        (out,) = pipeline.step(ts, venues.ticks_at(i))
        pipeline.settle(out, published=out.would_publish)
        if ts > CRASH_DAY_START:
            assert not out.guard.rejected, (ts, out.guard.reasons())  # the genuine move is never an outlier
        assert out.risk is not None, out.error
        im[ts], vol[ts] = out.risk.params.initial_margin, out.risk.params.volatility
    calm = im[CRASH_DAY_START]  # the close of 2020-03-11
    late = [im[t] for t in im if t >= CRASH_DAY_START + 12 * HOUR]
    assert min(late) > 1.5 * calm, (calm, late)
    assert max(vol[t] for t in vol if t >= CRASH_DAY_START + 12 * HOUR) > 1.5 * vol[CRASH_DAY_START]
