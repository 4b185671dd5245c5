"""One view of the chain, live: the guardian tightens BTC's bounds and pauses ETH in the middle of a
run; the node's next report already respects the new bounds and leaves ETH out, and nothing reverts."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

from eth_account import Account

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.contracts import RiskOracle
from oracle_node.chain.deploy import deploy_stack, load_deploy_config
from oracle_node.chain.rpc import make_web3
from oracle_node.config import NodeConfig
from oracle_node.service.wiring import build_network
from oracle_node.types import OnchainBounds

REPO = Path(__file__).resolve().parents[2]
TICKS = REPO / "examples" / "ticks_2020-03-12.csv"
IM = 3  # field index of initial margin


def test_runtime__guardian_tightens_and_pauses_mid_run__next_report_follows_nothing_reverts(
    anvil: Anvil, tmp_path: Path
) -> None:
    w3 = make_web3(anvil.url)
    base = load_deploy_config()
    profiles = tuple(p.model_copy(update={"min_interval": 1}) for p in base.profiles)
    cfg = base.model_copy(update={"signers": (1,), "threshold": 1, "adapters": (), "profiles": profiles})
    deployment = deploy_stack(w3, Account.from_key(ANVIL_KEYS[0]), cfg)
    oracle = RiskOracle(w3, deployment.oracle)
    key = tmp_path / "k.json"
    key.write_text(json.dumps(Account.encrypt(ANVIL_KEYS[1], "pw")))
    (tmp_path / "pw").write_text("pw")
    node_cfg = NodeConfig(
        chain={"rpc_url": anvil.url, "oracle_address": deployment.oracle},
        signer={"keystore": key, "password_file": tmp_path / "pw"},
        markets=[
            {"id": "BTC-USD", "history": "bundled:binance_btcusdt_spot_1h"},
            {"id": "ETH-USD", "history": "bundled:binance_ethusdt_spot_1h"},
        ],
        service={"store_path": tmp_path / "s.sqlite", "replay_ticks": TICKS, "tick_interval_s": 1.0},
    )
    run, metrics, _ = build_network(node_cfg, {})
    guardian = deployment.guardian

    async def next_second() -> None:
        # rounds run back to back here, not a period apart: the oracle's min interval (1 s) would
        # refuse a second report in the same block second, so the chain's clock moves on first
        await asyncio.to_thread(w3.provider.make_request, "evm_increaseTime", [2])
        await asyncio.to_thread(w3.provider.make_request, "evm_mine", [])

    async def scenario() -> tuple[int, int, int]:
        await run.node.start(join_current=True)
        first = run.node.book.first_round
        for r in range(first, first + 3):  # three ordinary rounds: both markets land
            await next_second()
            await run.node.run_round(r)
        assert oracle.get_market_state("ETH-USD").round == first + 2
        im_now = oracle.get_risk_params("BTC-USD").params.initial_margin
        floor = im_now * 5 // 4  # +25 %: within one update's 50 % maxChange
        btc = oracle.get_market_bounds("BTC-USD")
        fields = list(btc.fields)
        fields[IM] = replace(fields[IM], floor=floor)
        profile = oracle.get_market_state("BTC-USD").profile
        await asyncio.to_thread(
            oracle.tighten_bounds,
            profile,
            OnchainBounds(tuple(fields), btc.relative_mask, btc.min_interval),
            guardian,
        )
        await asyncio.to_thread(oracle.pause_market, "ETH-USD", guardian)
        for r in range(first + 3, first + 5):
            await next_second()
            await run.node.run_round(r)
        await run.node.stop()
        return first, floor, im_now

    first, floor, im_before = asyncio.run(scenario())
    btc, eth = oracle.get_market_state("BTC-USD"), oracle.get_market_state("ETH-USD")
    assert btc.round == first + 4, "BTC kept publishing"
    assert btc.params is not None and btc.params.initial_margin >= floor > im_before
    assert eth.market_paused and eth.round == first + 2, "nothing named ETH after the pause"
    assert metrics.rounds_led.labels(status="included")._value.get() == 5
    assert metrics.rounds_led.labels(status="failed")._value.get() == 0
    assert metrics.transactions.labels(status="reverted")._value.get() == 0
    assert metrics.transactions.labels(status="simulation_failed")._value.get() == 0
    run.store.close()
