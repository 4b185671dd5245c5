from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from oracle_node.drift.live import RETRAIN_MIN_GAP_DAYS, latest_verdict
from oracle_node.features.history import MarketHistory
from oracle_node.service.metrics import NodeMetrics
from oracle_node.service.refit import judge_drift, model_cut
from oracle_node.sources.history import load_history


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> MarketHistory:
    return load_history("BTC-USD", str(shared_data / "prices" / "btc_usd_daily_2015_2026.csv"))


def _until(h: MarketHistory, day: str) -> MarketHistory:
    return h.until(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


def test_latest_verdict__a_week_into_the_covid_crash__retrain_requested(btc: MarketHistory) -> None:
    v = latest_verdict(_until(btc, "2020-03-22"))
    assert v is not None and v.retrain and v.feature_drift


def test_latest_verdict__calm_summer_2023__quiet(btc: MarketHistory) -> None:
    v = latest_verdict(_until(btc, "2023-07-20"))
    assert v is not None and not v.flag and not v.retrain


def test_latest_verdict__short_history__none(btc: MarketHistory) -> None:
    assert latest_verdict(_until(btc, "2016-06-01")) is None


def _cut_days_before(history: MarketHistory, days: int) -> float:
    return float(history.ts[-1]) - days * 86400.0


def test_judge_drift__crash_history_old_model__retrain_requested_metric_set(btc: MarketHistory) -> None:
    metrics = NodeMetrics(["BTC-USD"])
    crash = _until(btc, "2020-03-22")
    h = MarketHistory("BTC-USD", crash.ts, crash.close, volume=crash.volume)
    judge_drift(h, metrics, _cut_days_before(h, RETRAIN_MIN_GAP_DAYS))
    assert metrics.retrain_requested.labels(market="BTC-USD")._value.get() == 1
    assert metrics.drift_flag.labels(market="BTC-USD")._value.get() == 1


def test_judge_drift__crash_history_model_younger_than_gap__drift_flagged_retrain_deferred(
    btc: MarketHistory,
) -> None:
    metrics = NodeMetrics(["BTC-USD"])
    crash = _until(btc, "2020-03-22")
    h = MarketHistory("BTC-USD", crash.ts, crash.close, volume=crash.volume)
    judge_drift(h, metrics, _cut_days_before(h, RETRAIN_MIN_GAP_DAYS - 1))
    assert metrics.drift_flag.labels(market="BTC-USD")._value.get() == 1
    assert metrics.retrain_requested.labels(market="BTC-USD")._value.get() == 0


def test_model_cut__bundled_manifest__its_test_start_midnight_utc() -> None:
    manifest = {"training": {"test_start": "2021-01-01"}}
    assert model_cut(manifest) == 1609459200.0
