"""Operator key rotation without a missed round (docs/key-rotation.md), on a real anvil.

Operators A, B, C sign with k = 2. The DAO adds D through the timelock (schedule, wait, execute), node
C is restarted with D's key, the DAO removes C the same way. Every round is built and signed with the
node's own EIP-712 code by the operators that are in the on-chain set at that moment (signer indices
read from the chain, as a node does each round) and submitted like a round's leader does. Rounds keep
landing while each change is pending; the report signed just before an execution is voided by the
epoch bump and re-signed in the same round (a network's next attempt), so no round number is skipped.
After removal a report co-signed by C's old key is refused on-chain.

The second test runs the same rotation with real NetworkNodes (LocalCluster: asyncio tasks with their
own keys, stores and HTTP servers, leader rotation by on-chain index): the set changes through the
timelock while the nodes run, node D joins after the addition and node C stops before the removal;
every round from the first to the last lands once, in all three epochs.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.contracts import ContractCall, ContractReverted, RiskOracle, TimelockController
from oracle_node.chain.deploy import deploy_stack, load_deploy_config, resolve_account
from oracle_node.network import Domain, LocalObservation, NetworkSettings
from oracle_node.network.cluster import LocalCluster
from oracle_node.network.observer import ObservationProvider
from oracle_node.reports.eip712 import RiskReport, Signature, co_sign
from oracle_node.types import RiskParamsBps
from scripts import governance

CHAIN_ID = 31337
MODEL = b"mlra-dev-manifest-v1".ljust(32, b"\x00")  # allow-listed by deploy/local.yaml
MARKET = "BTC-USD"  # profile 0: min interval 1 s
DELAY = 60  # s, the timelock's minimum delay in this stack
KEYS = {"A": ANVIL_KEYS[1], "B": ANVIL_KEYS[2], "C": ANVIL_KEYS[3], "D": ANVIL_KEYS[4]}
ADDR = {name: Account.from_key(key).address for name, key in KEYS.items()}


@dataclass
class Stack:
    w3: Web3
    oracle: RiskOracle
    timelock: TimelockController
    dao: str
    submitter: str


@pytest.fixture(scope="module")
def stack(anvil: Anvil) -> Stack:
    w3 = Web3(HTTPProvider(anvil.url, request_kwargs={"timeout": 30}))
    base = load_deploy_config()
    config = base.model_copy(
        update={
            "signers": [1, 2, 3],
            "threshold": 2,
            "adapters": (),
            "timelock": base.timelock.model_copy(update={"min_delay": DELAY}),
        }
    )
    deployment = deploy_stack(w3, resolve_account(config.deployer), config)
    oracle = RiskOracle(w3, deployment.oracle)
    timelock = TimelockController(w3, deployment.timelock)
    return Stack(w3, oracle, timelock, resolve_account(config.timelock.proposers[0]), resolve_account(6))


def _advance(w3: Web3, seconds: int) -> int:
    w3.provider.make_request("evm_increaseTime", [seconds])
    w3.provider.make_request("evm_mine", [])
    return int(w3.eth.get_block("latest")["timestamp"])


def _sign(stack: Stack, round_: int, operators: tuple[str, ...]) -> tuple[RiskReport, list[Signature]]:
    """The round's report at the chain's current epoch, co-signed by `operators` at their on-chain index."""
    now = _advance(stack.w3, 2)  # >= the profile's minimum interval since the last round
    onchain = stack.oracle.get_signers()
    index = {address.lower(): i for i, address in enumerate(onchain.signers)}
    params = RiskParamsBps(6000 + 10 * round_, 450, 520, 1200, 800, 8500, 3000, 9000)
    report = RiskReport.build(
        epoch=onchain.epoch, round=round_, observed_at=now, deadline=now + 300, model_hash=MODEL,
        inputs_hash=round_.to_bytes(32, "big"), updates={MARKET: params},
    )  # fmt: skip
    # an operator no longer in the set signs at the slot it used to hold (its node's stale view)
    slots = {index.get(ADDR[name].lower(), len(index) - 1): KEYS[name] for name in operators}
    return report, co_sign(report, CHAIN_ID, stack.oracle.address, slots)


def _publish(stack: Stack, round_: int, operators: tuple[str, ...]) -> None:
    report, signatures = _sign(stack, round_, operators)
    stack.oracle.submit_report(report, signatures, sender=stack.submitter)


def _dao(stack: Stack, signers: tuple[str, ...]) -> ContractCall:
    return stack.oracle.encode("setSigners", [ADDR[name] for name in signers], 2)


def _accepted_rounds(stack: Stack) -> list[int]:
    logs = stack.oracle.contract.events.RiskReportAccepted.get_logs(from_block=0)
    return [int(e["args"]["round"]) for e in logs]


@pytest.mark.slow
def test_key_rotation__add_d_rotate_c_remove_c__every_round_lands_and_c_is_refused(stack: Stack) -> None:
    _publish(stack, 1, ("A", "B"))
    _publish(stack, 2, ("B", "C"))

    add_d = _dao(stack, ("A", "B", "C", "D"))
    governance.schedule(stack.timelock, add_d, stack.dao)
    _publish(stack, 3, ("A", "C"))  # the change is pending: rounds go on in epoch 1
    with pytest.raises(ContractReverted):  # not before the delay
        governance.execute(stack.timelock, add_d, stack.dao)
    _advance(stack.w3, DELAY)
    in_flight, signatures = _sign(stack, 4, ("A", "B"))  # signed in epoch 1, submitted after execution
    governance.execute(stack.timelock, add_d, stack.dao)
    assert stack.oracle.get_signers().signers == tuple(ADDR[n] for n in "ABCD")
    with pytest.raises(ContractReverted) as voided:
        stack.oracle.submit_report(in_flight, signatures, sender=stack.submitter)
    assert voided.value.decoded is not None and voided.value.decoded.name == "RiskOracleWrongEpoch"
    _publish(stack, 4, ("A", "B"))  # the same round re-signed in the new epoch

    # node C restarted with D's key: the operator now signs as D (index 3)
    _publish(stack, 5, ("B", "D"))
    remove_c = _dao(stack, ("A", "B", "D"))
    governance.schedule(stack.timelock, remove_c, stack.dao)
    _publish(stack, 6, ("A", "D"))
    _advance(stack.w3, DELAY)
    governance.execute(stack.timelock, remove_c, stack.dao)
    onchain = stack.oracle.get_signers()
    assert (onchain.signers, onchain.threshold, onchain.epoch) == (tuple(ADDR[n] for n in "ABD"), 2, 3)
    _publish(stack, 7, ("B", "D"))  # D is index 2 now

    with pytest.raises(ContractReverted) as refused:
        _publish(stack, 8, ("A", "C"))
    assert refused.value.decoded is not None and refused.value.decoded.name == "RiskOracleUnknownSigner"
    assert refused.value.error_args[1] == ADDR["C"]  # the contract recovered C's address and refused it
    _publish(stack, 8, ("A", "B"))

    assert _accepted_rounds(stack) == list(range(1, 9))  # every round, once, none skipped
    assert stack.oracle.get_risk_params(MARKET).round == 8


# -- the same rotation with real network nodes ---------------------------------------------------------

MARKETS = (MARKET,)
ROUNDS = 11  # rounds the network runs; the rotation needs ~7 of them
PERIOD_S = 5.0
NET_DELAY = 2  # s, timelock delay of the network stack (wall clock: the nodes stamp real time)


def _provider(node: int) -> ObservationProvider:
    async def observe(round_: int, slot_time: int) -> LocalObservation:
        params = RiskParamsBps(6000 + 10 * node + round_ % 7, 450, 520, 1200, 800, 8500, 3000, 9000 - node)
        inputs = round_.to_bytes(16, "big") + node.to_bytes(16, "big")
        return LocalObservation(round_, slot_time, MODEL, inputs, {MARKET: params})

    return observe


def _network_stack(anvil: Anvil) -> tuple[Web3, RiskOracle, TimelockController]:
    w3 = Web3(HTTPProvider(anvil.url, request_kwargs={"timeout": 30}))
    base = load_deploy_config()
    config = base.model_copy(
        update={
            "signers": [1, 2, 3],
            "threshold": 2,
            "adapters": (),
            "profiles": tuple(p.model_copy(update={"min_interval": 1}) for p in base.profiles),
            "timelock": base.timelock.model_copy(update={"min_delay": NET_DELAY}),
        }
    )
    deployment = deploy_stack(w3, resolve_account(config.deployer), config)
    for address in ADDR.values():  # D must pay for the rounds it leads
        w3.provider.make_request("anvil_setBalance", [address, hex(10**21)])
    return w3, RiskOracle(w3, deployment.oracle), TimelockController(w3, deployment.timelock)


@pytest.fixture
def wall_clock_anvil() -> Iterator[Anvil]:
    """An anvil of its own: the first test moved the module's chain clock ahead of the wall clock, and
    network nodes stamp reports with wall-clock slots (deadline = slot + deadline_s)."""
    with Anvil() as node:
        yield node


@pytest.mark.slow
def test_key_rotation__network_nodes__c_replaced_by_d_while_rounds_run__no_round_missed(
    wall_clock_anvil: Anvil, tmp_path: Path
) -> None:
    """Four NetworkNodes (asyncio tasks, own keys, stores and HTTP servers) list A, B, C and D as peers
    from the start (procedure step 2); the chain's set goes {A,B,C} -> {A,B,C,D} -> {A,B,D} through the
    timelock while the nodes run; node D starts after the addition, node C stops before the removal."""
    anvil = wall_clock_anvil
    _, oracle, timelock = _network_stack(anvil)
    dao = resolve_account(load_deploy_config().timelock.proposers[0])
    settings = NetworkSettings(
        genesis=math.floor(time.time()), period_s=PERIOD_S, leader_timeout_s=2.0, max_attempts=2,
        deadline_s=60, collect_timeout_s=1.5, request_timeout_s=1.5, observe_timeout_s=1.5, max_skew_s=3.0,
    )  # fmt: skip
    cluster = LocalCluster.create(
        anvil.url, Domain(CHAIN_ID, oracle.address), settings, [KEYS[n] for n in "ABCD"],
        [_provider(i) for i in range(4)], tmp_path, MARKETS,
    )  # fmt: skip
    a, b, c, d = cluster.members

    def stored() -> int:  # the market word's round (bits 160..223; 0 before the first report)
        return (oracle.get_market_word(MARKET) >> 160) & (2**64 - 1)

    async def landed(round_: int) -> None:
        deadline = time.monotonic() + 4 * PERIOD_S * max(1, round_ - await asyncio.to_thread(stored))
        while await asyncio.to_thread(stored) < round_:
            assert time.monotonic() < deadline, f"round {round_} did not land"
            await asyncio.sleep(0.2)

    async def through_timelock(signers: str) -> None:
        call = oracle.encode("setSigners", [ADDR[n] for n in signers], 2)
        await asyncio.to_thread(governance.schedule, timelock, call, dao)
        await asyncio.sleep(NET_DELAY + 1)
        await landed(await asyncio.to_thread(stored) + 1)  # execute right after a round landed
        await asyncio.to_thread(governance.execute, timelock, call, dao)

    async def scenario() -> tuple[int, int]:
        for member in (a, b, c):
            await cluster.start(member)
        first = max(m.node.book.first_round for m in (a, b, c) if m.node is not None)
        last = first + ROUNDS - 1
        runs = [asyncio.create_task(m.node.run(last)) for m in (a, b, c) if m.node is not None]
        try:
            await landed(first + 1)
            await through_timelock("ABCD")
            runs.append(asyncio.create_task((await cluster.start(d)).run(last)))
            await landed(d.node.book.first_round if d.node else last)
            await cluster.kill(c)  # operator C's old node stops; D serves from now on
            await through_timelock("ABD")
            assert await asyncio.to_thread(stored) < last, "the rotation took longer than the run"
            await asyncio.wait_for(asyncio.gather(*runs, return_exceptions=True), 4 * PERIOD_S * ROUNDS)
        finally:
            await cluster.stop()
        return first, last

    first, last = asyncio.run(scenario())
    events = oracle.contract.events.RiskReportAccepted.get_logs(from_block=0)
    rounds = [int(e["args"]["round"]) for e in events]
    assert rounds == list(range(first, last + 1)), f"landed {rounds}, expected {first}..{last}"
    by_epoch = {int(e["args"]["epoch"]) for e in events}
    assert by_epoch == {1, 2, 3}, "rounds landed before, between and after the two changes"
    onchain = oracle.get_signers()
    assert onchain.signers == tuple(ADDR[n] for n in "ABD") and onchain.epoch == 3
    d_signed = [e for e in events if int(e["args"]["epoch"]) == 3 and int(e["args"]["signerBitmap"]) & 0b100]
    assert d_signed, "node D (index 2 after C's removal) co-signed reports"
