"""Chain faults under the oracle network (3 nodes, k = 2, on anvil): an RPC outage with anvil stopped
and restarted from its dumped state on the same port; a reorg (evm_snapshot / evm_revert) dropping an
included report, detected and resubmitted by its leader's ReorgWatcher; fewer than k nodes alive
leaving the margin engine failing closed on stale data."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from pathlib import Path

import pytest
from eth_account import Account
from web3.exceptions import ContractLogicError

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.contracts import ContractReverted
from oracle_node.demo.session import SIGNER_ACCOUNTS, USD, DemoOptions, DemoSession
from oracle_node.network import Domain
from oracle_node.network.cluster import LocalCluster, Member
from oracle_node.network.reorg import ReorgWatcher
from oracle_node.reports.eip712 import RiskReport
from tests.integration.test_network_cluster import (
    MARKETS,
    HookChain,
    hooked,
    included_reports,
    provider,
    settings,
)

PERIOD = 2.0


def network(session: DemoSession, anvil: Anvil, store_dir: Path, nodes: int = 3) -> LocalCluster:
    assert session.deployment is not None
    domain = Domain(session.deployment.chain_id, session.deployment.oracle)
    net = settings(math.floor(time.time()), period_s=PERIOD, leader_timeout_s=0.9, deadline_s=30)
    keys = [ANVIL_KEYS[i] for i in SIGNER_ACCOUNTS[:nodes]]
    return LocalCluster.create(
        anvil.url, domain, net, keys, [provider(i) for i in range(nodes)], store_dir, MARKETS
    )


async def start_all(cluster: LocalCluster) -> int:
    for member in cluster.members:
        await cluster.start(member)
    return max(m.node.book.first_round for m in cluster.members if m.node is not None)


def included_counts(cluster: LocalCluster) -> Counter[int]:
    return Counter(o.round for m in cluster.members for o, _ in m.outcomes if o.status == "included")


async def outage_scenario(cluster: LocalCluster, anvil: Anvil) -> tuple[int, int, int, int]:
    """Rounds first..last; anvil down from `down` and back from `up` (wall-clock round numbers)."""
    first = await start_all(cluster)
    last = first + 11
    runs = [asyncio.create_task(m.node.run(last)) for m in cluster.members if m.node is not None]
    try:
        await asyncio.sleep(3 * PERIOD)
        down = cluster.members[0].node.clock.round_at(time.time())  # type: ignore[union-attr]
        await asyncio.to_thread(anvil.stop)  # dumps its state to anvil.state_path
        await asyncio.sleep(3 * PERIOD)
        await asyncio.to_thread(anvil.start)  # same port, state loaded from the dump
        up = cluster.members[0].node.clock.round_at(time.time()) + 1  # type: ignore[union-attr]
        await asyncio.wait_for(asyncio.gather(*runs, return_exceptions=True), (last - up + 4) * PERIOD + 30)
    finally:
        await cluster.stop()
    return first, down, up, last


@pytest.mark.slow
def test_rpc_outage__anvil_restarted_from_state__recovers_no_round_twice_none_lost(tmp_path: Path) -> None:
    with Anvil(state_path=tmp_path / "anvil-state.json") as anvil:
        session = DemoSession(DemoOptions(), anvil.url, tmp_path)
        session.deploy()
        cluster = network(session, anvil, tmp_path)
        first, down, up, last = asyncio.run(outage_scenario(cluster, anvil))
        assert (tmp_path / "anvil-state.json").stat().st_size > 1000
        counts = included_counts(cluster)
        assert all(n == 1 for n in counts.values()), counts  # no round published twice
        landed = set(included_reports(cluster))
        assert set(range(first, down)) <= landed  # before the outage
        assert not set(range(down + 1, up - 1)) & landed  # the outage was real: its rounds failed
        assert set(range(up, last + 1)) <= landed  # none lost once the chain is back
        assert session.oracle.get_risk_params("BTC-USD").round == last
        words = [session.oracle.get_market_word(m) >> 160 & (2**64 - 1) for m in MARKETS]
        assert words == [last, last]


@pytest.mark.slow
def test_fewer_than_k_alive__nothing_lands_and_engine_fails_closed_on_stale_data(tmp_path: Path) -> None:
    with Anvil() as anvil:
        session = DemoSession(DemoOptions(), anvil.url, tmp_path)
        session.deploy()
        full = network(session, anvil, tmp_path / "full")
        (tmp_path / "full").mkdir()

        async def rounds(cluster: LocalCluster, count: int) -> None:
            first = await start_all(cluster)
            try:
                runs = [m.node.run(first + count - 1) for m in cluster.members if m.node is not None]
                await asyncio.wait_for(asyncio.gather(*runs), count * PERIOD + 30)
            finally:
                await cluster.stop()

        asyncio.run(rounds(full, 2))
        trader = Account.from_key(ANVIL_KEYS[6])
        session.engine.set_position("BTC-USD", 1_000_000 * USD, sender=trader)
        fresh, fallback = session.engine.maintenance_status(trader.address)
        assert not fallback and fresh > 0
        stored = session.oracle.get_risk_params("BTC-USD").round

        (tmp_path / "one").mkdir()
        lonely = network(session, anvil, tmp_path / "one", nodes=1)  # 1 of 3 alive, k = 2
        asyncio.run(rounds(lonely, 3))
        assert session.oracle.get_risk_params("BTC-USD").round == stored  # nothing landed
        assert {o.status for m in lonely.members for o, _ in m.outcomes} == {"no_quorum"}

        session.w3.provider.make_request("evm_increaseTime", [3601])  # type: ignore[attr-defined]
        session.w3.provider.make_request("evm_mine", [])  # type: ignore[attr-defined]
        with pytest.raises((ContractReverted, ContractLogicError)):
            session.engine.initial_requirement(trader.address)  # fails closed on stale data
        requirement, fallback = session.engine.maintenance_status(trader.address)
        assert fallback and requirement > fresh  # the DAO ceiling, above the fresh requirement


def accepted_rounds(session: DemoSession) -> Counter[int]:
    """RiskReportAccepted events per round on the canonical chain (round is the indexed topic)."""
    event = session.oracle.contract.events.RiskReportAccepted
    logs = event.get_logs(from_block=0)
    return Counter(int(log["args"]["round"]) for log in logs)


async def reorg_scenario(session: DemoSession, cluster: LocalCluster) -> dict[str, object]:
    seen: dict[str, object] = {}
    rpc = session.w3.provider

    def snapshot_before(member: Member, report: RiskReport) -> None:
        if report.round == seen.get("target") and "snapshot" not in seen:
            seen["snapshot"] = rpc.make_request("evm_snapshot", [])["result"]  # type: ignore[attr-defined]

    hooked(cluster, snapshot_before)
    first = await start_all(cluster)
    seen["target"], last = first + 1, first + 4
    watchers = {
        m.name: ReorgWatcher(m.store, m.node.chain.inner)  # type: ignore[union-attr, attr-defined]
        for m in cluster.members
        if m.node is not None and m.store is not None and isinstance(m.node.chain, HookChain)
    }
    watching = [asyncio.create_task(w.run()) for w in watchers.values()]
    runs = [asyncio.create_task(m.node.run(last)) for m in cluster.members if m.node is not None]
    try:
        while not included_counts(cluster)[seen["target"]]:  # type: ignore[index]
            await asyncio.sleep(0.02)
        seen["before_revert"] = await asyncio.to_thread(session.oracle.get_risk_params, "BTC-USD")
        reverted = rpc.make_request("evm_revert", [seen["snapshot"]])  # type: ignore[attr-defined]
        seen["reverted"] = reverted["result"]
        # anvil's evm_revert also rewinds its block clock to the snapshot's; a real reorg does not move
        # time backwards, so put the clock back to wall time (else the chain sees a "future" report)
        rpc.make_request("evm_setTime", [math.ceil(time.time())])  # type: ignore[attr-defined]
        seen["after_revert"] = await asyncio.to_thread(session.oracle.get_risk_params, "BTC-USD")
        await asyncio.wait_for(asyncio.gather(*runs), (last - first + 2) * PERIOD + 30)
    finally:
        for task in watching:
            task.cancel()
        await cluster.stop()
    seen["resubmitted"] = {n: w.resubmitted for n, w in watchers.items()}
    seen["first"], seen["last"] = first, last
    return seen


@pytest.mark.slow
def test_reorg__included_report_dropped__detected_and_resubmitted_once(tmp_path: Path) -> None:
    with Anvil() as anvil:
        session = DemoSession(DemoOptions(), anvil.url, tmp_path)
        session.deploy()
        cluster = network(session, anvil, tmp_path)
        seen = asyncio.run(reorg_scenario(session, cluster))
        target, first, last = seen["target"], seen["first"], seen["last"]
        assert seen["reverted"] is True
        assert seen["before_revert"].round == target  # type: ignore[union-attr]
        assert seen["after_revert"].round == target - 1  # type: ignore[operator, union-attr]  # dropped
        resubmitted = {n: [r for r, _ in v] for n, v in seen["resubmitted"].items()}  # type: ignore[union-attr]
        assert sorted(r for rounds in resubmitted.values() for r in rounds) == [target]  # by its leader only
        events = accepted_rounds(session)
        assert [events[r] for r in range(first, last + 1)] == [1] * (last - first + 1)  # each once, none lost
        assert session.oracle.get_risk_params("BTC-USD").round == last
