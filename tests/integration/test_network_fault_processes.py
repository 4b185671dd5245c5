"""The fault suite on real processes: five `oracle-node run` operators (k = 3) on anvil, each its own
OS process replaying real 2020-03-10..13 BTC and ETH ticks; faults come from outside (signals, a
poisoned history file, a byzantine program on a peer's port, an RPC proxy, anvil itself).

Every test checks what the chain says (RiskReportAccepted events, the submitting address, the
submitted calldata) and what the nodes' own stores, logs and metrics say, and that every node still
meant to run exits 0 on SIGTERM with no traceback.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3
from web3.exceptions import ContractLogicError

from oracle_node.chain.anvil import Anvil
from oracle_node.chain.contracts import ContractReverted
from oracle_node.network import Domain
from oracle_node.network.observation import parse_observation
from oracle_node.network.settings import ToleranceSettings
from oracle_node.types import RISK_FIELDS, RiskParamsBps
from tests.integration.operators import (
    HISTORY,
    MARKETS,
    STARTUP_S,
    HoldFirstBroadcast,
    OperatorNetwork,
    decode_report,
    metric,
    poisoned_history,
    raw_tx_input,
)

pytestmark = pytest.mark.slow
ROUND_S = 2.0
TOLERANCE = ToleranceSettings()  # what the operators' configs use (the default)


@pytest.fixture
def anvil_node(tmp_path: Path) -> Iterator[Anvil]:
    with Anvil(state_path=tmp_path / "anvil-state.json") as node:
        yield node


@pytest.fixture
def networks(anvil_node: Anvil, tmp_path: Path) -> Iterator[Any]:
    made: list[OperatorNetwork] = []

    def make(**options: Any) -> OperatorNetwork:
        net = OperatorNetwork(anvil_node, tmp_path, **({"period_s": ROUND_S} | options))
        made.append(net)
        return net

    yield make
    for net in made:
        net.close()


def landed_at_least(net: OperatorNetwork, count: int) -> bool:
    return len(net.accepted()) >= count


def rounds_landed(net: OperatorNetwork, rounds: range) -> bool:
    return set(rounds) <= set(net.landed_rounds())


def run_six_rounds(net: OperatorNetwork) -> None:
    """Wait for the network's first two reports, then for six consecutive rounds after them to land."""
    net.wait_for(lambda: landed_at_least(net, 2), STARTUP_S, "two reports")
    first = net.clock.round_at(time.time()) + 1
    net.wait_for(lambda: rounds_landed(net, range(first, first + 6)), 40, "six more rounds")


def stop_cleanly(net: OperatorNetwork, indices: list[int]) -> None:
    codes = net.terminate(indices)
    assert codes == [0] * len(indices), codes
    for n in indices:
        log = net.operators[n].log_text()
        assert "Traceback" not in log, log[-3000:]
        assert net.operators[n].events("node_stopped"), log[-2000:]


def assert_each_round_once_with_k(net: OperatorNetwork) -> list[int]:
    """No round accepted twice, every report with >= k signatures, rounds strictly increasing."""
    events = net.accepted()
    rounds = [a.round for a in events]
    assert rounds == sorted(set(rounds)), rounds
    assert all(bin(a.signer_bitmap).count("1") >= net.threshold for a in events), events
    return rounds


def test_one_node_down__reports_still_land_and_its_rounds_pass_to_the_next_leader(networks: Any) -> None:
    net: OperatorNetwork = networks()
    ops = net.configure()
    net.start()
    net.wait_for(lambda: landed_at_least(net, 2), STARTUP_S, "two reports with all five up")
    net.kill(2)
    killed_at = net.clock.round_at(time.time())
    survivors = [0, 1, 3, 4]
    before = [ops[n].metrics() for n in survivors]
    after_kill = range(killed_at + 2, killed_at + 9)  # seven rounds: op2 leads attempt 0 of at least one
    net.wait_for(lambda: rounds_landed(net, after_kill), 40, "seven rounds after the kill", survivors)
    after = [ops[n].metrics() for n in survivors]
    stop_cleanly(net, survivors)

    rounds = assert_each_round_once_with_k(net)
    assert set(after_kill) <= set(rounds)
    by_round = {a.round: a for a in net.accepted()}
    op2_bit = 1 << 2
    assert all(not by_round[r].signer_bitmap & op2_bit for r in after_kill)
    orphaned = [r for r in after_kill if r % 5 == 2]  # attempt 0 led by the dead node
    assert orphaned
    submitters = [net.submitter(by_round[r].tx_hash) for r in orphaned]
    assert set(submitters) <= {ops[3].address, ops[4].address}  # attempt 1's or 2's leader
    assert ops[3].address in submitters  # attempt 1's leader took over
    fetch = 'mlra_oracle_observation_fetch_failures_total{reason="unavailable"}'
    assert sum(metric(t, fetch) for t in after) > sum(metric(t, fetch) for t in before)
    assert 'mlra_oracle_cosign_refused_total{reason="out_of_tolerance"} 0.0' in after[0]


def test_leader_killed_with_its_transaction_in_flight__next_leader_lands_the_same_report(
    networks: Any,
) -> None:
    net: OperatorNetwork = networks(proxies=True)
    ops = net.configure()
    held = HoldFirstBroadcast(hold=True)
    for op in ops:
        assert op.proxy is not None
        op.proxy.intercept = held
    net.start()
    net.wait_for(lambda: landed_at_least(net, 2), STARTUP_S, "two reports before the kill")
    held.armed.set()
    net.wait_for(held.caught.is_set, 20, "a leader broadcasting")
    victim = held.node
    assert victim is not None
    net.kill(victim)  # dies after collecting co-signatures, its transaction never reaching the chain
    held.release()
    report = decode_report(net.oracle, raw_tx_input(held.raw_tx))
    round_ = int(report["round"])
    attempt = (victim - round_) % 5
    assert attempt < 3, (victim, round_)  # it was leading an attempt of the round (0 unless one failed)
    survivors = [n for n in range(5) if n != victim]
    net.wait_for(lambda: rounds_landed(net, range(round_, round_ + 3)), 30, "the round and two more",
                 survivors)  # fmt: skip
    stop_cleanly(net, survivors)

    assert_each_round_once_with_k(net)
    landed = next(a for a in net.accepted() if a.round == round_)
    later = [ops[(round_ + a) % 5].address for a in range(attempt + 1, 3)]
    assert net.submitter(landed.tx_hash) in later  # a later attempt's leader (the next one, normally)
    assert net.submitted_report(landed.tx_hash) == report  # the same report, re-proposed
    reproposed = [e for n in survivors for e in ops[n].events("lead_reproposes_signed_report")]
    assert any(e["round"] == round_ for e in reproposed), reproposed


def observations_by_signer(body: dict[str, Any], domain: Domain) -> dict[str, dict[str, RiskParamsBps]]:
    out = {}
    for raw in body["observations"]:
        obs = parse_observation(raw, domain)
        out[obs.signer] = obs.risk_params()
    return out


def test_byzantine_poisoned_inputs__reports_land_and_move_no_field_beyond_the_honest_range(
    networks: Any, tmp_path: Path
) -> None:
    net: OperatorNetwork = networks()
    poisoned = {m: poisoned_history(m, HISTORY[m], tmp_path / f"poisoned-{m}.csv", 3.0) for m in MARKETS}
    ops = net.configure(history={4: poisoned})  # op4 sees three times the real volatility
    net.start()
    run_six_rounds(net)
    stop_cleanly(net, list(range(5)))

    assert_each_round_once_with_k(net)
    domain = Domain(31337, net.deployment.oracle)
    bodies = net.stored_reports()
    liar, poison_seen = ops[4].address, 0
    for round_, body in bodies.items():
        by_signer = observations_by_signer(body, domain)
        honest = {s: p for s, p in by_signer.items() if s != liar}
        report = body["report"]
        for market, word in zip(report["markets"], report["params"], strict=True):
            values = RiskParamsBps.unpack(int(word)).as_tuple()
            sets = [p[market].as_tuple() for p in honest.values() if market in p]
            assert len(sets) >= 2, (round_, market, sets)  # the honest majority observed it
            for name, value, column in zip(RISK_FIELDS, values, zip(*sets, strict=True), strict=True):
                assert min(column) <= value <= max(column), (round_, market, name, value, column)
            if market in by_signer.get(liar, {}):
                lies = by_signer[liar][market]
                if all(TOLERANCE.violations(lies, p[market]) for p in honest.values() if market in p):
                    poison_seen += 1  # outside every honest node's co-signing band, and outvoted
                # else the DAO's maxChange held the liar and the honest nodes to the same step from the
                # stored value (a crash hour), so its values were as harmless as theirs
    assert poison_seen > 0  # its poisoned observations were in the reports, and outvoted
    # on ETH the poisoned model wants a maintenance margin above 100 %: that node publishes the most
    # conservative representable set, flagged (and the median still outvotes it)
    capped = ops[4].events("params_capped")
    assert capped and all(e["market"] == "ETH-USD" for e in capped), capped[:3]


def test_byzantine_forged_signatures__excluded_and_reports_land(networks: Any) -> None:
    net: OperatorNetwork = networks()
    ops = net.configure()
    net.start(range(4))
    net.start([4], program=("-m", "tests.integration.byzantine", "forge", "--config", "{config}"))
    run_six_rounds(net)
    stop_cleanly(net, list(range(5)))

    assert_each_round_once_with_k(net)
    for accepted in net.accepted():
        own_report = net.submitter(accepted.tx_hash) == ops[4].address
        assert bool(accepted.signer_bitmap & 1 << 4) == own_report  # a forged co-signature never counts
    fetched = [e for n in range(4) for e in ops[n].events("observation_fetch_failed")]
    forged = [e for e in fetched if e["peer"] == ops[4].address]
    assert any("not the claimed signer" in e["error"] for e in forged), fetched[:3]  # refused at the door
    refused = [e for n in range(4) for e in ops[n].events("cosign_not_obtained")]
    assert any(e["peer"] == ops[4].address for e in refused), refused[:3]


def test_byzantine_garbage_http__ignored_and_reports_land(networks: Any) -> None:
    net: OperatorNetwork = networks()
    ops = net.configure()
    net.start(range(4))
    net.start([4], program=("-m", "tests.integration.byzantine", "garbage", "--port", "{port}"))
    run_six_rounds(net)
    texts = [ops[n].metrics() for n in range(4)]
    stop_cleanly(net, list(range(4)))
    assert net.terminate([4]) == [0]

    assert_each_round_once_with_k(net)
    assert all(not a.signer_bitmap & 1 << 4 for a in net.accepted())
    failures = sum(metric(t, "mlra_oracle_observation_fetch_failures_total") for t in texts)
    unavailable = sum(
        metric(t, 'mlra_oracle_observation_fetch_failures_total{reason="unavailable"}') for t in texts
    )
    assert failures - unavailable > 0  # answered, and refused as malformed or unauthenticated


def test_fewer_than_k_alive__nothing_lands_and_the_engine_fails_closed(networks: Any) -> None:
    net: OperatorNetwork = networks()
    ops = net.configure()
    net.start()
    net.wait_for(lambda: landed_at_least(net, 2), STARTUP_S, "two reports with all five up")
    trader = net.open_trader_position(1_000_000)
    fresh, fallback = net.engine.maintenance_status(trader)
    assert not fallback and fresh > 0
    for n in (2, 3, 4):
        net.kill(n)
    time.sleep(ROUND_S)  # a round already submitted may still land
    stored = net.oracle.get_risk_params("BTC-USD").round
    before = [ops[n].metrics() for n in (0, 1)]
    no_quorum = 'mlra_oracle_rounds_led_total{status="no_quorum"}'

    def starved() -> bool:
        return (
            sum(metric(ops[n].metrics(), no_quorum) for n in (0, 1))
            >= sum(metric(t, no_quorum) for t in before) + 3
        )

    net.wait_for(starved, 30, "three attempts without quorum", [0, 1])
    assert net.oracle.get_risk_params("BTC-USD").round == stored  # nothing landed
    stop_cleanly(net, [0, 1])
    assert net.oracle.get_risk_params("BTC-USD").round == stored

    rpc = net.w3.provider
    rpc.make_request("evm_increaseTime", [3601])  # type: ignore[attr-defined]
    rpc.make_request("evm_mine", [])  # type: ignore[attr-defined]
    with pytest.raises((ContractReverted, ContractLogicError)):
        net.engine.initial_requirement(trader)  # fails closed on stale data
    requirement, fallback = net.engine.maintenance_status(trader)
    assert fallback and requirement > fresh  # liquidation runs on the DAO's ceiling


def test_rpc_outage__anvil_restarted_from_its_state__no_round_twice_none_lost(
    networks: Any, anvil_node: Anvil, tmp_path: Path
) -> None:
    net: OperatorNetwork = networks()
    net.configure()
    net.start()
    net.wait_for(lambda: landed_at_least(net, 3), STARTUP_S, "three reports before the outage")
    down = net.clock.round_at(time.time())
    anvil_node.stop()  # dumps its state to anvil-state.json
    time.sleep(3 * ROUND_S)
    anvil_node.start()  # same port, state loaded from the dump
    up = net.clock.round_at(time.time()) + 1
    net.wait_for(lambda: rounds_landed(net, range(up, up + 5)), 40, "five rounds after the restart")
    stop_cleanly(net, list(range(5)))

    assert (tmp_path / "anvil-state.json").stat().st_size > 1000
    rounds = assert_each_round_once_with_k(net)
    assert set(range(up, up + 5)) <= set(rounds)  # none lost once the chain is back
    assert not set(range(down + 2, up - 1)) & set(rounds)  # the outage was real: its rounds failed
    stores = net.included_in_stores()
    assert all(count == 1 for count in stores.values()), stores  # no leader saw a round included twice
    assert set(stores) == set(rounds)


def test_reorg_dropping_a_report__detected_and_the_same_transaction_resubmitted(networks: Any) -> None:
    # 6-s rounds: the reorg comes after every attempt of the round has started (and found it landed)
    # and a few seconds before the next round, as a reorg a few blocks deep would; only the leader's
    # ReorgWatcher can bring the report back
    net: OperatorNetwork = networks(proxies=True, period_s=6.0)
    ops = net.configure()
    rpc = Web3(Web3.HTTPProvider(net.anvil.url)).provider
    snapshot: dict[str, Any] = {}
    watched = HoldFirstBroadcast(
        hold=False, before=lambda: snapshot.update(id=rpc.make_request("evm_snapshot", [])["result"])
    )
    for op in ops:
        assert op.proxy is not None
        op.proxy.intercept = watched
    net.start()
    net.wait_for(lambda: landed_at_least(net, 2), STARTUP_S, "two reports")
    watched.armed.set()
    net.wait_for(watched.caught.is_set, 20, "a leader broadcasting")
    report = decode_report(net.oracle, raw_tx_input(watched.raw_tx))
    round_ = int(report["round"])
    leader = ops[watched.node or 0]

    def seen_included() -> bool:
        return any(e["round"] == round_ for e in leader.events("report_included"))

    net.wait_for(seen_included, 20, "the leader seeing its report included")
    attempts_over = net.clock.attempt_start(round_, 3)
    time.sleep(max(0.0, attempts_over + 0.5 - time.time()))
    assert time.time() < net.clock.slot_time(round_ + 1) - 1, "too slow to reorg inside the round"
    assert rpc.make_request("evm_revert", [snapshot["id"]])["result"] is True
    dropped_to = net.oracle.get_risk_params("BTC-USD").round
    # anvil's evm_revert also rewinds its clock; a real reorg does not move time backwards
    rpc.make_request("evm_setTime", [math.ceil(time.time())])
    net.wait_for(lambda: rounds_landed(net, range(round_, round_ + 3)), 40, "the round again and two more")
    stop_cleanly(net, list(range(5)))

    assert dropped_to < round_  # the reorg really dropped it
    assert_each_round_once_with_k(net)
    assert [e["round"] for e in leader.events("report_reorged_out")] == [round_]
    assert [e["round"] for e in leader.events("report_resubmitted")] == [round_]
    landed = next(a for a in net.accepted() if a.round == round_)
    assert landed.tx_hash == "0x" + Web3.keccak(hexstr=watched.raw_tx).hex().removeprefix("0x")  # same bytes
    others = [e for op in ops if op is not leader for e in op.events("report_resubmitted")]
    assert not others
