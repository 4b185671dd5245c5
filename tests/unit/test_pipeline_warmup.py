"""A new market warms up from the OHLCV history named in its config and publishes on its first round
(without it the node needs three daily closes of its own: three days of nothing)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from oracle_node.config import MarketConfig, NodeConfig
from oracle_node.service.pipeline import MIN_HISTORY_DAYS, MarketOutcome
from oracle_node.service.wiring import build_pipeline
from oracle_node.sources import ccxt_history
from oracle_node.sources.tick import Tick
from tests.unit.klines_venue import (
    DAY,
    RecordedBinance,
    daily_bars,
    hourly_between,
    kline_csv,
    recorded_binance,
)

MARKET = "ETH-USD"
WARMUP_FROM = datetime(2020, 1, 1, tzinfo=UTC).timestamp()
FIRST_DAY = datetime(2021, 5, 10, tzinfo=UTC).timestamp()  # the market's first day on the node


def _first_round(cfg: NodeConfig, start: float | None) -> MarketOutcome:
    pipeline = build_pipeline(cfg, [MARKET], start)
    now = FIRST_DAY + 600.0
    last = hourly_between(FIRST_DAY - 3600.0, FIRST_DAY)[-1].close
    ticks = [Tick(now - 5.0, MARKET, v, last * (1 + 1e-4 * i), volume=2e7) for i, v in enumerate("abcde")]
    (out,) = pipeline.step(now, ticks)
    return out


def _config(history: str | None) -> NodeConfig:
    return NodeConfig(markets=(MarketConfig(id=MARKET, history=history),))


def test_new_market__binance_kline_warmup_file__publishes_on_its_first_round(tmp_path: Path) -> None:
    path = kline_csv(tmp_path / "ETHUSDT-1h.csv", hourly_between(WARMUP_FROM, FIRST_DAY + 30 * DAY), 3600.0)
    out = _first_round(_config(str(path)), FIRST_DAY)
    assert out.error is None and out.risk is not None
    assert out.would_publish and out.decision is not None and out.decision.reason == "first"
    assert out.forecast is not None and "insufficient_history" not in out.forecast.flags


def test_new_market__no_warmup__nothing_for_its_first_days() -> None:
    out = _first_round(_config(None), FIRST_DAY)
    assert out.risk is None and not out.would_publish
    assert out.error == f"model: need {MIN_HISTORY_DAYS} daily closes, have 1"


def test_new_market__ccxt_warmup_live__publishes_on_its_first_round(monkeypatch: pytest.MonkeyPatch) -> None:
    hourly = hourly_between(WARMUP_FROM, FIRST_DAY + 30 * DAY)
    venue = RecordedBinance({"1h": hourly, "1d": daily_bars(hourly)}, now=FIRST_DAY + 300.0)
    real_fetch = ccxt_history.fetch_history

    def at_first_day(market: str, spec: str) -> object:  # live: the venue's clock is the first day's
        return real_fetch(market, spec, exchange=recorded_binance(venue), now=venue.now)

    monkeypatch.setattr("oracle_node.sources.history.fetch_history", at_first_day)
    out = _first_round(_config("ccxt:binance:ETH/USDT:1d"), None)
    assert [r.split("?")[0] for r in venue.requests] == ["/api/v3/exchangeInfo", "/api/v3/klines"]
    assert out.error is None and out.would_publish and out.decision.reason == "first"
