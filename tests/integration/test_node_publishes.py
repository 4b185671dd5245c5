"""A single operator (the k = 1 case of the one runtime) replays real data (2020-03-10..14, BTC and
ETH, one venue spiked), publishes to the deployed contracts through its real transaction pipeline, and
the margin engine's requirement for a position follows the crash of 2020-03-12."""

from __future__ import annotations

import asyncio
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
from oracle_node.service.wiring import build_network
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
    ticks = tmp / "ticks.csv"  # 2020-03-11 00:00 .. 03-12 23:00: a calm day, then the crash day
    lines = TICKS.read_text().splitlines()
    keep = [x for x in lines[1:] if CRASH_START - 86400 <= float(x.split(",")[0]) < CRASH_START + 86400]
    ticks.write_text("\n".join([lines[0], *keep]) + "\n")
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
        # One replayed hour per 1-s round: the oracle's minimum interval (1 s) allows every round.
        service={"store_path": tmp / "node.sqlite", "replay_ticks": ticks, "replay_speed": 3600.0,
                 "tick_interval_s": 1.0, "cycle_timeout_s": 0.9},
    )  # fmt: skip
    return w3, deployment, node_cfg


async def _until(predicate, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout_s
    while not await asyncio.to_thread(predicate):
        assert time.time() < deadline, "condition not reached"
        await asyncio.sleep(0.2)


def test_node__replays_the_covid_crash__reports_land_and_margin_requirement_rises(stack) -> None:  # type: ignore[no-untyped-def]
    w3, deployment, node_cfg = stack
    oracle = RiskOracle(w3, deployment.oracle)
    engine = OptionsMarginEngine(w3, deployment.engine)
    token = TestUSD(w3, deployment.collateral)
    trader = Account.from_key(ANVIL_KEYS[6])
    token.mint(trader.address, 1_000_000 * USD, sender=Account.from_key(ANVIL_KEYS[0]))
    token.approve(deployment.engine, 2**255, sender=trader)
    engine.deposit(500_000 * USD, sender=trader)
    run, metrics, _ = build_network(node_cfg, {})

    def calm_published() -> bool:  # BTC published up to the last hour before 2020-03-12
        return (
            run.observer.rounds
            and max(r.data_time for r in run.observer.rounds.values()) >= CRASH_START - 3600
        )

    async def scenario() -> tuple[int, int, int]:
        await run.node.start(join_current=True)
        rounds = asyncio.create_task(run.node.run(run.last_round))
        await _until(calm_published, 120)
        im_calm = oracle.get_risk_params("BTC-USD").params.initial_margin
        engine.set_position("BTC-USD", 1_000_000 * USD, sender=trader)  # 1M notional long
        maint_calm, fallback = engine.maintenance_status(trader.address)
        assert not fallback
        await asyncio.wait_for(rounds, 180)
        await run.node.stop()
        return im_calm, maint_calm, run.node.book.first_round

    im_calm, maint_calm, first = asyncio.run(scenario())
    after = oracle.get_risk_params("BTC-USD")
    maint_crash, fallback = engine.maintenance_status(trader.address)
    assert not fallback
    assert after.params.initial_margin > 1.5 * im_calm
    assert maint_crash > 1.5 * maint_calm
    assert maint_crash == -(-1_000_000 * USD * after.params.maintenance_margin // 10_000)
    rounds = run.last_round - first + 1
    led = metrics.rounds_led.labels(status="included")._value.get()
    assert led >= 0.95 * rounds, f"{led} of {rounds} rounds landed: every replayed hour is a heartbeat"
    included = [r.round for r in run.store.reports_with_status(ReportStatus.INCLUDED)]
    assert included == sorted(set(included)), "rounds strictly increase, none published twice"
    assert after.round in included
    run.store.close()
