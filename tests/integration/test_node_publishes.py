"""The node replays real data (2020-03-10..14, BTC and ETH, one venue spiked), publishes to the
deployed contracts through its real transaction pipeline, and the margin engine's requirement for a
position follows the crash of 2020-03-12."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from eth_account import Account

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.contracts import OptionsMarginEngine, RiskOracle, TestUSD
from oracle_node.chain.deploy import deploy_stack, load_deploy_config
from oracle_node.chain.rpc import make_web3
from oracle_node.config import NodeConfig
from oracle_node.service.feeds import ReplayFeed
from oracle_node.service.node import Node
from oracle_node.service.wiring import build_node
from oracle_node.store import ReportStatus

REPO = Path(__file__).resolve().parents[2]
TICKS = REPO / "examples" / "ticks_2020-03-12.csv"
CRASH_START = 1583971200.0  # 2020-03-12 00:00 UTC
USD = 10**6


@pytest.fixture(scope="module")
def stack(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    w3 = make_web3(anvil.url)
    base = load_deploy_config()
    cfg = base.model_copy(
        update={
            "signers": (1,),
            "threshold": 1,
            "max_report_age": 3600,
            "profiles": tuple(p.model_copy(update={"min_interval": 1}) for p in base.profiles),
        }
    )
    deployment = deploy_stack(w3, Account.from_key(ANVIL_KEYS[0]), cfg)
    tmp = tmp_path_factory.mktemp("node")
    keystore = tmp / "key.json"
    keystore.write_text(json.dumps(Account.encrypt(ANVIL_KEYS[1], "s3cret")))
    (tmp / "pw").write_text("s3cret\n")
    node_cfg = NodeConfig(
        chain={"rpc_url": anvil.url, "chain_id": 31337, "oracle_address": deployment.oracle},
        signer={"keystore": keystore, "password_file": tmp / "pw"},
        markets=[
            {"id": "BTC-USD", "history": "bundled:binance_btcusdt_spot_1h"},
            {"id": "ETH-USD", "history": "bundled:binance_ethusdt_spot_1h"},
        ],
        service={"store_path": tmp / "node.sqlite", "replay_ticks": TICKS, "replay_speed": 3600.0},
    )
    return w3, deployment, node_cfg


def _drive(node: Node, markets: list[str], until: float) -> list[tuple[float, str, str]]:
    feed = node.feed
    assert isinstance(feed, ReplayFeed)
    seen = []
    t = feed.start
    assert node.publisher is not None
    w3 = node.publisher.oracle.w3
    now = [0.0]
    node.clock = lambda: now[0]  # the node's clock is chain time, moved 1 s per replayed hour
    while t <= until:
        # The oracle spaces two updates of a market by at least 1 s (minInterval) of chain time.
        w3.provider.make_request("evm_increaseTime", [1])  # type: ignore[attr-defined]
        w3.provider.make_request("evm_mine", [])  # type: ignore[attr-defined]
        now[0] = float(w3.eth.get_block("latest")["timestamp"])
        feed.pin(t, now[0])
        for m in markets:
            r = node.cycle(m)
            seen.append((t, m, r.outcome))
        t += 3600.0
    return seen


def test_node__replays_the_covid_crash__reports_land_and_margin_requirement_rises(stack) -> None:  # type: ignore[no-untyped-def]
    w3, deployment, node_cfg = stack
    oracle = RiskOracle(w3, deployment.oracle)
    engine = OptionsMarginEngine(w3, deployment.engine)
    token = TestUSD(w3, deployment.collateral)
    trader = Account.from_key(ANVIL_KEYS[6])
    token.mint(trader.address, 1_000_000 * USD, sender=Account.from_key(ANVIL_KEYS[0]))
    token.approve(deployment.engine, 2**255, sender=trader)
    engine.deposit(500_000 * USD, sender=trader)

    node, markets = build_node(node_cfg, {}, publish=True, wall_start=time.time())
    calm = _drive(node, markets, CRASH_START - 3600)
    outcomes = [o for _, _, o in calm]
    assert set(outcomes) <= {"published", "skipped"}, outcomes  # skipped: an hour with no new tick
    assert outcomes.count("published") >= 0.95 * len(outcomes), "hourly heartbeat publishes"
    im_calm = oracle.get_risk_params("BTC-USD").params.initial_margin
    engine.set_position("BTC-USD", 1_000_000 * USD, sender=trader)  # 1M notional long
    maint_calm, fallback = engine.maintenance_status(trader.address)
    assert not fallback

    _drive(node, markets, CRASH_START + 24 * 3600)
    after = oracle.get_risk_params("BTC-USD")
    maint_crash, fallback = engine.maintenance_status(trader.address)
    assert not fallback
    assert after.params.initial_margin > 1.5 * im_calm
    assert maint_crash > 1.5 * maint_calm
    assert maint_crash == -(-1_000_000 * USD * after.params.maintenance_margin // 10_000)

    included = node.store.reports_with_status(ReportStatus.INCLUDED)
    rounds = [r.round for r in included]
    assert rounds == sorted(set(rounds)), "rounds strictly increase, none published twice"
    assert after.round in rounds  # per-market cycles: the last BTC report is one of the included rounds
    node.store.close()
