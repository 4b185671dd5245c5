"""Operator key rotation without a missed round (docs/key-rotation.md), on a real anvil.

Operators A, B, C sign with k = 2. The DAO adds D through the timelock (schedule, wait, execute), node
C is restarted with D's key, the DAO removes C the same way. Every round is built and signed with the
node's own EIP-712 code by the operators that are in the on-chain set at that moment (signer indices
read from the chain, as a node does each round) and submitted like a round's leader does. Rounds keep
landing while each change is pending; the report signed just before an execution is voided by the
epoch bump and re-signed in the same round (a network's next attempt), so no round number is skipped.
After removal a report co-signed by C's old key is refused on-chain.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.contracts import ContractCall, ContractReverted, RiskOracle, TimelockController
from oracle_node.chain.deploy import deploy_stack, load_deploy_config, resolve_account
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
