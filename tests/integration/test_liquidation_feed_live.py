"""The cascade add-on's live inputs end to end on loopback: the recorded Aave V2 pool (LiquidationCall
logs of 2021-05-19, pool state of their last block) read by the LiveFeed's CascadeFeed, fed into the
pipeline in a node round (LiveObserver through metered_provider, as `oracle-node run` builds it), into
the add-on, the attribution record and the metrics. No request leaves 127.0.0.1."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any, TypeVar

import numpy as np
import pytest
from eth_utils import keccak

from oracle_node.config import NodeConfig
from oracle_node.explain.record import parse
from oracle_node.features.history import SECONDS_PER_DAY, MarketHistory
from oracle_node.risk.cascade_addon import NO_FEED
from oracle_node.service.feeds import CascadeFeed, LiveFeed
from oracle_node.service.health import HealthState
from oracle_node.service.histories import HistoryBook
from oracle_node.service.metrics import NodeMetrics
from oracle_node.service.network_run import metered_provider
from oracle_node.service.observer import LiveObserver, ReplaySchedule
from oracle_node.service.pipeline import NodePipeline
from oracle_node.service.wiring import load_model
from oracle_node.sources.exchanges import VenueMarket
from oracle_node.sources.tick import Tick
from tests.fixtures.recorded.loopback import Fault
from tests.fixtures.recorded.pool_state.chain import BatchLoopback, PoolChain
from tests.integration.test_live_sources import egress  # noqa: F401 - the autouse egress guard

T = TypeVar("T")
POOL = "0x7d2768dE32b0b80b7a3454c06BdAc94A69DDc7A9"
HEAD = 12_463_257
LAST_EVENT = 1621388321.0  # block 12,463,255
NOW = LAST_EVENT + 600
# debt repaid (USD: DAI, USDC, USDT are 1 USD in the recording) of the events seizing each collateral
WETH_USD = [3122.294006449028, 467098.154184, 807918.2093675196]
WBTC_USD = [8329.593153, 960354.352846, 27753.305043]


def pool_cfg(url: str, chain: PoolChain) -> dict[str, Any]:
    return {"rpc_url": url, "lending_pool": POOL, "borrowers": [chain.borrowers["u7"]], "max_log_range": 10_000,
            "borrower_lookback_blocks": 20_000, "liquidation_lookback_blocks": 500}  # fmt: skip


def run(chain: PoolChain, scenario: Callable[[BatchLoopback, str], Awaitable[T]]) -> T:
    async def main() -> T:
        server = BatchLoopback()
        server.chain = chain
        await server.start()
        try:
            return await scenario(server, server.base_url + "/rpc")
        finally:
            await server.stop()

    return asyncio.run(main())


def test_cascade_feed__recorded_pool__liquidations_valued_per_collateral_one_shared_read() -> None:
    chain = PoolChain.recorded(HEAD)

    async def scenario(server: BatchLoopback, url: str) -> Any:
        pool = pool_cfg(url, chain)
        cfg = NodeConfig(
            markets=[{"id": m, "cascade": {"enabled": True, "pool": pool}} for m in ("ETH-USD", "BTC-USD")]
        )
        feed = CascadeFeed(cfg.markets)
        try:
            await feed.refresh(NOW)
            calls = len(chain.calls)
            await feed.refresh(NOW + 60)  # liquidations polled again, the pool state not yet due
            again = [m for m, _ in chain.calls[calls:]]
            return feed, feed.inputs("ETH-USD", NOW + 60), feed.inputs("BTC-USD", NOW + 60), again
        finally:
            await feed.close()

    feed, eth, btc, again = run(chain, scenario)
    assert len(feed.watches) == 1 and feed.watches[next(iter(feed.watches))].collaterals == ("WBTC", "WETH")
    assert eth.liquidations is not None and btc.liquidations is not None
    assert eth.liquidations[0].tolist() == [1621383290.0, 1621388046.0, 1621388161.0]
    assert eth.liquidations[1] == pytest.approx(WETH_USD, rel=1e-12)
    assert btc.liquidations[1] == pytest.approx(WBTC_USD, rel=1e-12)
    assert eth.pool is not None and btc.pool is not None and eth.pool.block == btc.pool.block == 12_463_255
    assert (eth.pool.debt_at_risk_usd["20"], btc.pool.debt_at_risk_usd["10"]) == pytest.approx(
        (1_750_000, 375_000)
    )
    assert again == ["eth_blockNumber"]  # nothing new below the confirmed head: no getLogs, no pool read


def test_cascade_feed__rpc_down__inputs_kept_until_max_stale_then_withdrawn() -> None:
    chain = PoolChain.recorded(HEAD)

    async def scenario(server: BatchLoopback, url: str) -> Any:
        pool = pool_cfg(url, chain) | {"refresh_s": 300, "max_stale_s": 900}
        cfg = NodeConfig(markets=[{"id": "ETH-USD", "cascade": {"enabled": True, "pool": pool}}])
        feed = CascadeFeed(cfg.markets)
        try:
            await feed.refresh(NOW)
            server.fault("/rpc", Fault("status", status=503))
            await feed.refresh(NOW + 600)  # both reads fail: logged, nothing raised
            return feed.inputs("ETH-USD", NOW + 800), feed.inputs("ETH-USD", NOW + 901)
        finally:
            await feed.close()

    within, stale = run(chain, scenario)
    assert within.liquidations is not None and within.pool is not None
    assert stale.liquidations is None and stale.pool is None


class _Venue:
    """A venue quoting the crash price at the round's data time (ccxt is tested in test_live_sources)."""

    def __init__(self, venue: str, markets: list[VenueMarket], *, name: str, **_: Any) -> None:
        self.name, self.market, self.k = name, markets[0].market, {"a": 1.0, "b": 1.0002, "c": 0.9998}[venue]
        self.markets = (self.market,)

    async def poll(self, now: float) -> list[Tick]:
        return [Tick(NOW, self.market, self.name, CRASH * self.k, volume=1e6)]

    async def close(self) -> None:
        return None


def _history(market: str) -> MarketHistory:
    rng = np.random.default_rng(7)
    ts = NOW - SECONDS_PER_DAY * np.arange(400, 0, -1) - 3600
    close = 40_000 * np.exp(np.cumsum(rng.standard_normal(400) * 0.03))
    return MarketHistory(market, ts, close / close[-1] * 40_000, volume=np.full(400, 1e9))


CRASH = 40_000 * 0.85


def test_node_round__live_feed__full_model_record_binds_pool_state_and_metrics_set() -> None:
    chain = PoolChain.recorded(HEAD)
    model = load_model(NodeConfig())

    async def scenario(server: BatchLoopback, url: str) -> Any:
        sources = [{"name": v, "venue": v, "symbol": "X/USDT"} for v in ("a", "b", "c")]
        markets = [
            {"id": "BTC-USD", "sources": sources, "cascade": {"enabled": True, "pool": pool_cfg(url, chain)}},
            {"id": "ETH-USD", "sources": sources, "cascade": {"enabled": True}},  # no pool: price-only
        ]
        cfg = NodeConfig(markets=markets)
        book = HistoryBook(1000)
        for m in ("BTC-USD", "ETH-USD"):
            book.seed(_history(m))
        pipeline = NodePipeline(cfg, model, book)
        bounds = SimpleNamespace(refresh=lambda: None, view=SimpleNamespace(latest=SimpleNamespace(markets={})),
                                 fit=lambda market, wanted, observed_at=None: wanted)  # fmt: skip
        observer = LiveObserver(
            "n1", pipeline, {}, ReplaySchedule(1, NOW, math.inf, 3600.0), bounds, model.model_hash
        )  # type: ignore[arg-type]
        observer.feed = LiveFeed(cfg.markets, build=_Venue, cascade_sink=pipeline, cascade_wait_s=30.0)  # type: ignore[arg-type]
        observer.live_markets = ("BTC-USD", "ETH-USD")
        metrics = NodeMetrics(["BTC-USD", "ETH-USD"])
        try:
            obs = await metered_provider(observer, metrics, HealthState(60.0), None, 60.0)(1, int(NOW))
        finally:
            await asyncio.to_thread(observer.feed.close)
        return observer.rounds[1].outcomes, obs, metrics

    outcomes, obs, metrics = run(chain, scenario)
    btc, eth = outcomes["BTC-USD"].cascade, outcomes["ETH-USD"].cascade
    assert btc is not None and btc.model == "full" and NO_FEED not in btc.flags
    assert btc.features["liq_log_count_24h"] == pytest.approx(math.log1p(3))
    assert btc.features["liq_log_musd_24h"] == pytest.approx(math.log1p(sum(WBTC_USD) / 1e6))
    assert eth is not None and eth.model == "price_only" and NO_FEED in eth.flags
    raw = obs.bound.attributions["BTC-USD"]
    record = parse(raw)
    assert record["cascade"]["pool"]["block"] == 12_463_255
    assert record["cascade"]["pool"]["debt_at_risk_usd"]["10"] == "3.75000000e+05"
    assert "pool" not in parse(obs.bound.attributions["ETH-USD"])["cascade"]
    # bound into inputsHash: the inputs document names the record's keccak, the hash is the document's
    assert ("0x" + keccak(raw).hex()).encode() in obs.bound.document and obs.inputs_hash == keccak(
        obs.bound.document
    )

    def value(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(f"mlra_oracle_{name}", labels)

    assert (
        value("cascade_probability", market="BTC-USD") == pytest.approx(btc.p_cascade) and btc.p_cascade > 0
    )
    assert value("cascade_addon_bps", market="BTC-USD") == btc.addon_bp > 0
    assert value("cascade_addon_bps", market="ETH-USD") == eth.addon_bp
    assert (
        value("cascade_liquidation_feed", market="BTC-USD"),
        value("cascade_liquidation_feed", market="ETH-USD"),
    ) == (1, 0)
    assert value("pool_debt_at_risk_usd", market="BTC-USD", drop="10") == pytest.approx(375_000)
    assert value("pool_debt_share", market="BTC-USD", hf="lt_1.00") == pytest.approx(100 / 1200)
    assert value("pool_debt_at_risk_usd", market="ETH-USD", drop="10") == 0
    assert value("pool_state_block", market="BTC-USD") == 12_463_255
