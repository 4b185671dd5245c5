"""The cascade add-on to LT: formula, features, artifact pin, risk layer, pipeline, record, config."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from oracle_node.config import CascadeConfig, NodeConfig
from oracle_node.errors import BoundsViolation, ModelError
from oracle_node.explain.record import encode, parse, with_cascade
from oracle_node.features.history import SECONDS_PER_DAY, MarketHistory
from oracle_node.models.forecast import Forecast
from oracle_node.risk.cascade_addon import (
    ARTIFACT,
    NO_FEED,
    SHORT_HISTORY,
    addon_bp,
    bundled_model,
    cascade_addon,
    liquidation_features,
    load_model,
    price_features,
)
from oracle_node.risk.compute import RiskInput, compute_many
from oracle_node.service.histories import HistoryBook
from oracle_node.service.pipeline import NodePipeline
from oracle_node.service.wiring import load_model as load_risk_model
from oracle_node.sources.tick import Tick

T0 = 1_600_000_000.0


def test_addon_bp__by_hand__linear_clipped_rounded_up() -> None:
    assert addon_bp(0.30, 0.2, 0.10, 1000.0, 100.0, 500) == 220  # 1000 x 0.2 + 100 x 0.2
    assert addon_bp(0.05, 0.2, 0.10, 1000.0, 100.0, 500) == 20  # below p_ref: the systemic part only
    assert addon_bp(0.9, 0.2, 0.10, 1000.0, 100.0, 500) == 500  # 820 -> the cap
    assert addon_bp(0.1001, 0.0, 0.10, 1000.0, 0.0, 500) == 1  # 0.1 bp rounds up (protective)
    assert addon_bp(0.0, 0.0, 0.10, 1000.0, 100.0, 500) == 0


def test_price_features__by_hand() -> None:
    close = np.r_[np.full(29, 100.0), 120.0, 110.0]  # 31 closes
    x = price_features(close)
    assert x["ret_1d"] == pytest.approx(math.log(110 / 120))
    assert x["drawdown_30d"] == pytest.approx(math.log(110 / 120))
    r = np.diff(np.log(close))
    want = math.log(math.sqrt(np.mean(r[-7:] ** 2)) / math.sqrt(np.mean(r[-30:] ** 2)))
    assert x["vol_ratio"] == pytest.approx(want)


def test_liquidation_features__window_is_the_last_24_hours_only() -> None:
    now = 10 * 86400.0
    ts = np.array([now - 86400.0, now - 86399.0, now - 1, now, now + 1])  # first: outside; last: future
    usd = np.array([1e9, 1e6, 2e6, 3e6, 1e9])
    x = liquidation_features(ts, usd, now)
    assert x["liq_log_count_24h"] == pytest.approx(math.log1p(3))
    assert x["liq_log_musd_24h"] == pytest.approx(math.log1p(6.0))


def test_artifact__pinned_sha256__loads_and_tampering_refused(tmp_path: Path) -> None:
    model = bundled_model()
    assert model.sha256 == hashlib.sha256(ARTIFACT.read_bytes()).hexdigest()
    assert set(model.logits) == {"full", "price_only"} and model.systemic["WETH"] > model.systemic["WBTC"] > 0
    doc = json.loads(ARTIFACT.read_bytes())
    doc["models"]["full"]["intercept"] += 1.0
    bad = tmp_path / "a.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="sha256"):
        load_model(bad)
    with pytest.raises(ModelError, match="missing"):
        load_model(tmp_path / "none.json")


def _closes(drop: float) -> np.ndarray:
    rng = np.random.default_rng(3)
    c = 2000 * np.exp(np.cumsum(rng.standard_normal(60) * 0.02))
    return np.r_[c, c[-1] * (1 - drop)]


def test_cascade_addon__no_feed__price_only_and_flagged_never_silent() -> None:
    model = bundled_model()
    a = cascade_addon(model, _closes(0.15), "WETH", 500, None, T0)
    assert a.model == "price_only" and NO_FEED in a.flags
    assert a.p_cascade == pytest.approx(model.logits["price_only"].p(price_features(_closes(0.15))))
    b = cascade_addon(model, _closes(0.15), "WETH", 500, (np.array([T0 - 60]), np.array([5e6])), T0)
    assert b.model == "full" and not b.flags and "liq_log_count_24h" in b.features


def test_cascade_addon__crash_raises_p_and_addon__short_history_is_zero_and_flagged() -> None:
    model = bundled_model()
    calm = cascade_addon(model, _closes(0.0), "WETH", 500, None, T0)
    crash = cascade_addon(model, _closes(0.25), "WETH", 500, None, T0)
    assert crash.p_cascade > calm.p_cascade and crash.addon_bp > calm.addon_bp
    assert cascade_addon(model, _closes(0.25), "WETH", 120, None, T0).addon_bp <= 120
    short = cascade_addon(model, _closes(0.25)[-10:], "WETH", 500, None, T0)
    assert short.addon_bp == 0 and SHORT_HISTORY in short.flags


def _forecast() -> Forecast:
    return Forecast("test", 0.03, 0.07, 0.09, 0.07, 0.09, nu=5.0)


def test_compute__addon_lowers_lt_by_exactly_its_size__other_fields_unchanged() -> None:
    base, low = compute_many(
        [RiskInput("BTC-USD", _forecast()), RiskInput("BTC-USD", _forecast(), cascade_addon_bp=237)]
    )
    assert low.params.liquidation_threshold == base.params.liquidation_threshold - 237
    assert replace(low.params, liquidation_threshold=0) == replace(base.params, liquidation_threshold=0)
    with pytest.raises(BoundsViolation, match="cascade_addon_bp"):
        compute_many([RiskInput("BTC-USD", _forecast(), cascade_addon_bp=-1)])


def test_config__default_off__collateral_from_market_id__unknown_field_refused() -> None:
    cfg = NodeConfig(
        markets=[{"id": "ETH-USD"}, {"id": "BTC-USD", "cascade": {"enabled": True, "max_addon_bp": 300}}]
    )
    assert not cfg.market("ETH-USD").cascade.enabled and not cfg.market("SOL-USD").cascade.enabled
    assert cfg.market("BTC-USD").cascade.max_addon_bp == 300
    assert (
        CascadeConfig().asset("ETH-USD") == "WETH"
        and CascadeConfig(collateral="LINK").asset("ETH-USD") == "LINK"
    )
    with pytest.raises(ValidationError):
        CascadeConfig(enabled=True, size=3)
    with pytest.raises(ValidationError):
        CascadeConfig(max_addon_bp=-1)


@pytest.fixture(scope="module")
def make_pipeline():  # type: ignore[no-untyped-def]
    model = load_risk_model(NodeConfig())
    rng = np.random.default_rng(7)
    days = 400
    ts = T0 - SECONDS_PER_DAY * np.arange(days, 0, -1)
    close = 10_000 * np.exp(np.cumsum(rng.standard_normal(days) * 0.03))
    history = MarketHistory("BTC-USD", ts, close, volume=np.full(days, 1e9))

    def make(enabled: bool) -> NodePipeline:
        book = HistoryBook(1000)
        book.seed(history)
        model.prefit([book.snapshot("BTC-USD")])
        cfg = NodeConfig(markets=[{"id": "BTC-USD", "cascade": {"enabled": enabled}}])
        return NodePipeline(cfg, model, book)

    return make, float(close[-1])


def _ticks(price: float, ts: float) -> list[Tick]:
    return [
        Tick(ts, "BTC-USD", s, price * k, volume=1e6) for s, k in (("a", 1), ("b", 1.0002), ("c", 0.9998))
    ]


def test_pipeline__enabled__lt_lowered_by_the_addon_and_record_carries_it(make_pipeline) -> None:  # type: ignore[no-untyped-def]
    make, last = make_pipeline
    now = T0 + 7200
    (off,) = make(False).step(now, _ticks(last * 0.8, now))
    on_pipe = make(True)
    (on,) = on_pipe.step(now, _ticks(last * 0.8, now))
    assert off.cascade is None and on.cascade is not None and on.cascade.addon_bp > 0
    assert on.risk.params.liquidation_threshold == off.risk.params.liquidation_threshold - on.cascade.addon_bp
    assert NO_FEED in on.flags and on.to_json_dict()["cascade"]["addon_bp"] == on.cascade.addon_bp
    record = on_pipe.attributions([on])["BTC-USD"]
    doc = parse(record)
    assert doc["cascade"]["addon_bp"] == str(on.cascade.addon_bp) and doc["cascade"]["model"] == "price_only"
    assert doc["cascade"]["flags"] == [NO_FEED] and encode(doc) == record  # canonical
    assert "cascade" not in parse(make(False).attributions([off])["BTC-USD"])


def test_pipeline__feed__full_model_and_only_events_up_to_now_matter(make_pipeline) -> None:  # type: ignore[no-untyped-def]
    make, last = make_pipeline
    now = T0 + 7200
    ts, usd = np.array([now - 600.0, now - 60.0]), np.array([4e6, 6e6])
    a = make(True)
    a.feed_liquidations("BTC-USD", ts, usd)
    (x,) = a.step(now, _ticks(last * 0.8, now))
    b = make(True)  # the same plus huge events after `now`: ignored
    b.feed_liquidations("BTC-USD", np.r_[ts, now + 1, now + 3600], np.r_[usd, 1e9, 1e9])
    (y,) = b.step(now, _ticks(last * 0.8, now))
    assert x.cascade.model == "full" and NO_FEED not in x.flags
    assert x.cascade.features["liq_log_musd_24h"] == pytest.approx(math.log1p(10.0))
    assert x.cascade == y.cascade and x.risk.params == y.risk.params


def test_with_cascade__rejects_non_records() -> None:
    addon = cascade_addon(bundled_model(), _closes(0.1), "WETH", 500, None, T0)
    with pytest.raises(ModelError):
        with_cascade(b'{"schema":"other"}', addon)
