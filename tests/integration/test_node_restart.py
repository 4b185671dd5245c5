"""Crash after the report transaction was broadcast but before its receipt: the restarted node finds
it in its store, waits for it, marks it included, and its next report uses the next round: no round
published twice, none lost."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.contracts import RiskOracle
from oracle_node.chain.deploy import deploy_stack, load_deploy_config
from oracle_node.chain.rpc import make_web3
from oracle_node.chain.tx import TxSender
from oracle_node.config import NodeConfig
from oracle_node.service.feeds import ReplayFeed
from oracle_node.service.wiring import build_node
from oracle_node.store import NodeStore, ReportStatus

TICKS = Path(__file__).resolve().parents[2] / "examples" / "ticks_2020-03-12.csv"


class Crash(BaseException):
    """Stands for the process dying: not an OracleNodeError, nothing in the node catches it."""


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
        service={"store_path": tmp_path / "node.sqlite", "replay_ticks": TICKS},
    )


def chain_now(w3: Web3) -> float:
    return float(w3.eth.get_block("latest")["timestamp"])


def next_second(w3: Web3) -> float:
    """Move chain time on by one second (a mined block) and return it: the node's clock here."""
    w3.provider.make_request("evm_increaseTime", [1])  # type: ignore[attr-defined]
    w3.provider.make_request("evm_mine", [])  # type: ignore[attr-defined]
    return chain_now(w3)


def test_node__crash_between_broadcast_and_receipt__restart_recovers_exactly_once(
    anvil: Anvil, node_cfg: NodeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    w3 = make_web3(anvil.url)
    oracle = RiskOracle(w3, node_cfg.chain.oracle_address)
    node, _ = build_node(node_cfg, {}, publish=True, wall_start=time.time())
    node.clock = lambda: chain_now(w3)
    feed = node.feed
    assert isinstance(feed, ReplayFeed)
    feed.pin(feed.start, next_second(w3))
    assert node.cycle("BTC-USD").outcome == "published"  # round 1 lands normally
    w3.provider.make_request("evm_setAutomine", [False])

    def die_waiting(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise Crash

    monkeypatch.setattr(TxSender, "_await", die_waiting)
    feed.pin(feed.start + 3600, next_second(w3))  # the oracle's 1-s minimum interval passes
    with pytest.raises(Crash):
        node.cycle("BTC-USD")  # round 2 signed, recorded and broadcast; the process "dies"
    node.store.close()
    monkeypatch.undo()
    assert oracle.get_risk_params("BTC-USD").round == 1
    w3.provider.make_request("evm_mine", [])  # the chain includes the broadcast transaction meanwhile
    w3.provider.make_request("evm_setAutomine", [True])

    restarted, _ = build_node(node_cfg, {}, publish=True, wall_start=time.time())  # runs recover()
    restarted.clock = lambda: chain_now(w3)
    store: NodeStore = restarted.store
    assert oracle.get_risk_params("BTC-USD").round == 2
    assert [r.round for r in store.reports_with_status(ReportStatus.INCLUDED)] == [1, 2]
    assert store.pending_submissions() == []
    feed2 = restarted.feed
    assert isinstance(feed2, ReplayFeed)
    feed2.pin(feed2.start + 7200, next_second(w3))
    result = restarted.cycle("BTC-USD")
    assert (result.outcome, result.publish.round if result.publish else None) == ("published", 3)
    assert oracle.get_risk_params("BTC-USD").round == 3
    store.close()
