"""Crash between broadcast and receipt: the runtime (single operator) resumes the recorded
transaction at start, so the report lands exactly once, and the next round continues above it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from eth_account import Account

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.contracts import RiskOracle
from oracle_node.chain.deploy import deploy_stack, load_deploy_config
from oracle_node.chain.rpc import make_web3
from oracle_node.chain.tx import TxSender
from oracle_node.config import NodeConfig
from oracle_node.network.recovery import resume_pending
from oracle_node.service.wiring import build_network
from oracle_node.store import NodeStore, ReportStatus

REPO = Path(__file__).resolve().parents[2]
TICKS = REPO / "examples" / "ticks_2020-03-12.csv"


class Crash(Exception):
    """Stands for the process dying while it waits for the receipt."""


@pytest.fixture()
def node_cfg(anvil: Anvil, tmp_path: Path) -> NodeConfig:
    base = load_deploy_config()
    cfg = base.model_copy(
        update={
            "signers": (1,),
            "threshold": 1,
            "profiles": tuple(p.model_copy(update={"min_interval": 1}) for p in base.profiles),
        }
    )
    deployment = deploy_stack(make_web3(anvil.url), Account.from_key(ANVIL_KEYS[0]), cfg)
    key = tmp_path / "k.json"
    key.write_text(json.dumps(Account.encrypt(ANVIL_KEYS[1], "pw")))
    (tmp_path / "pw").write_text("pw")
    return NodeConfig(
        chain={"rpc_url": anvil.url, "oracle_address": deployment.oracle},
        signer={"keystore": key, "password_file": tmp_path / "pw"},
        markets=[{"id": "BTC-USD", "history": "bundled:binance_btcusdt_spot_1h"}],
        # 2-s rounds: with 1-s rounds and the profiles' 1-s minimum interval in block time, a loaded
        # machine can start round n + 1 less than a block-second after round n landed, and the node
        # then rightly skips the market (market_not_observed), which is not what this test is about.
        service={"store_path": tmp_path / "node.sqlite", "replay_ticks": TICKS, "tick_interval_s": 2.0},
    )


def test_node__crash_between_broadcast_and_receipt__restart_recovers_exactly_once(
    anvil: Anvil, node_cfg: NodeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    w3 = make_web3(anvil.url)
    oracle = RiskOracle(w3, node_cfg.chain.oracle_address)
    run, _, _ = build_network(node_cfg, {})
    first = run.node.book.first_round

    async def before_crash() -> None:
        await run.node.start(join_current=True)
        first_round = run.node.book.first_round
        await run.node.run_round(first_round)  # lands normally
        assert oracle.get_risk_params("BTC-USD").round == first_round
        w3.provider.make_request("evm_setAutomine", [False])

        def die_waiting(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise Crash

        monkeypatch.setattr(TxSender, "_await", die_waiting)
        with pytest.raises(Crash):
            await run.node.run_round(first_round + 1)  # signed, recorded, broadcast; the process "dies"
        await run.node.stop()

    asyncio.run(before_crash())
    first = run.node.book.first_round
    run.store.close()
    monkeypatch.undo()
    assert oracle.get_risk_params("BTC-USD").round == first
    w3.provider.make_request("evm_mine", [])  # the chain includes the broadcast transaction meanwhile
    w3.provider.make_request("evm_setAutomine", [True])

    restarted, _, _ = build_network(node_cfg, {})
    store: NodeStore = restarted.store
    recovered = resume_pending(store, restarted.watcher.chain)
    assert [(r.round, r.status) for r in recovered] == [(first + 1, "included")]
    assert oracle.get_risk_params("BTC-USD").round == first + 1
    assert [r.round for r in store.reports_with_status(ReportStatus.INCLUDED)] == [first, first + 1]
    assert store.pending_submissions() == []

    async def after_restart() -> int:
        await restarted.node.start(join_current=True)
        next_round = restarted.node.book.first_round
        await restarted.node.run_round(next_round)
        await restarted.node.stop()
        return next_round

    next_round = asyncio.run(after_restart())
    assert next_round == first + 2, "the restart continues above the recovered round"
    assert oracle.get_risk_params("BTC-USD").round == first + 2
    store.close()
