"""Python encodes and signs, RiskOracle.sol verifies: random reports on a real anvil, byte for byte.

Every example runs inside evm_snapshot/evm_revert so the deployed stack stays fresh. Rejections are
asserted on the decoded custom error's name AND arguments (e.g. the address a tampered report recovers
to), and on the market words being unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import pytest
from eth_account import Account
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from web3 import HTTPProvider, Web3
from web3.logs import DISCARD

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.contracts import ContractReverted, RiskOracle
from oracle_node.chain.deploy import (
    DeployConfig,
    Deployment,
    deploy_stack,
    load_deploy_config,
    resolve_account,
)
from oracle_node.errors import BoundsViolation
from oracle_node.reports.eip712 import RiskReport, Signature, co_sign, report_digest
from oracle_node.risk.bounds import check_bounds
from oracle_node.types import RISK_FIELDS, OnchainBounds, RiskParamsBps, market_id_bytes32

CHAIN_ID = 31337
MODEL = b"mlra-dev-manifest-v1".ljust(32, b"\x00")
MODEL_2 = hashlib.sha256(b"mlra-dev-manifest-v2").digest()
MAX_ROUND_STEP = 2**32  # RiskOracle.MAX_ROUND_STEP (checked against the contract below)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Stack:
    w3: Web3
    config: DeployConfig
    deployment: Deployment
    oracle: RiskOracle
    keys: dict[int, str]  # on-chain signer index -> private key
    submitter: str  # anyone may submit: a dev account that is no signer


@pytest.fixture(scope="module")
def stack(anvil: Anvil) -> Stack:
    w3 = Web3(HTTPProvider(anvil.url, request_kwargs={"timeout": 30}))
    models = ("0x" + MODEL.hex(), "0x" + MODEL_2.hex())
    config = load_deploy_config().model_copy(update={"models": models, "adapters": ()})
    deployment = deploy_stack(w3, resolve_account(config.deployer), config)
    keys = {i: ANVIL_KEYS[ref] for i, ref in enumerate(config.signers) if isinstance(ref, int)}
    return Stack(w3, config, deployment, RiskOracle(w3, deployment.oracle), keys, resolve_account(6))


@contextmanager
def evm_snapshot(w3: Web3) -> Iterator[None]:
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        yield
    finally:
        assert w3.provider.make_request("evm_revert", [snap])["result"] is True


def _now(w3: Web3) -> int:
    return int(w3.eth.get_block("latest")["timestamp"])


def valid_params(bounds: OnchainBounds) -> st.SearchStrategy[RiskParamsBps]:
    """Parameter sets inside a profile's floors/ceilings that satisfy the consistency rules."""
    f = {name: bounds.field(name) for name in RISK_FIELDS}

    @st.composite
    def draw(d: st.DrawFn) -> RiskParamsBps:
        lt = d(st.integers(f["liquidation_threshold"].floor, f["liquidation_threshold"].ceiling))
        mm_hi = min(f["maintenance_margin"].ceiling, 10_000 - lt)
        mm = d(st.integers(f["maintenance_margin"].floor, mm_hi))
        im = d(st.integers(max(mm, f["initial_margin"].floor), f["initial_margin"].ceiling))
        var = d(st.integers(f["var99"].floor, min(f["var99"].ceiling, f["es99"].ceiling)))
        es = d(st.integers(max(var, f["es99"].floor), f["es99"].ceiling))
        vol = d(st.integers(f["volatility"].floor, f["volatility"].ceiling))
        score = d(st.integers(f["risk_score"].floor, min(f["risk_score"].ceiling, 10_000)))
        conf = d(st.integers(f["confidence"].floor, min(f["confidence"].ceiling, 10_000)))
        return RiskParamsBps(vol, var, es, im, mm, lt, score, conf)

    return draw()


@st.composite
def valid_reports(draw: st.DrawFn, stack: Stack) -> tuple[RiskReport, dict[int, str]]:
    """A report every check accepts on the fresh stack, and the (k..n) signer keys to sign it with."""
    profiles = {p.id: p.bounds() for p in stack.config.profiles}
    markets = draw(st.lists(st.sampled_from([m.id for m in stack.config.markets]), min_size=1, unique=True))
    by_id = {m.id: m.profile for m in stack.config.markets}
    updates = {m: draw(valid_params(profiles[by_id[m]])) for m in markets}
    now = _now(stack.w3)
    report = RiskReport.build(
        epoch=1,
        round=draw(st.integers(1, MAX_ROUND_STEP)),  # a fresh market's first round is at most one step
        observed_at=draw(st.integers(now - stack.config.max_report_age + 120, now)),
        deadline=draw(st.integers(now + 120, 2**64 - 1)),
        model_hash=draw(st.sampled_from([MODEL, MODEL_2])),
        inputs_hash=draw(st.binary(min_size=32, max_size=32)),
        updates=updates,
    )
    chosen = draw(st.lists(st.sampled_from(sorted(stack.keys)), min_size=stack.config.threshold, unique=True))
    return report, {i: stack.keys[i] for i in chosen}


def _sign(
    stack: Stack, report: RiskReport, keys: dict[int, str], chain_id: int = CHAIN_ID
) -> list[Signature]:
    return co_sign(report, chain_id, stack.oracle.address, keys)


def _recovered(digest: bytes, sig: Signature) -> str:
    vs = int.from_bytes(sig.vs, "big")
    vrs = (27 + (vs >> 255), int.from_bytes(sig.r, "big"), vs & ((1 << 255) - 1))
    return Account._recover_hash(digest, vrs=vrs)


def _reverted(stack: Stack, report: RiskReport, sigs: list[Signature]) -> ContractReverted:
    words = {m.id: stack.oracle.get_market_word(m.id) for m in stack.config.markets}
    with pytest.raises(ContractReverted) as info:
        stack.oracle.submit_report(report, sigs, sender=stack.submitter)
    assert {m: stack.oracle.get_market_word(m) for m in words} == words  # nothing stored
    return info.value


def test_report_digest__fixed_report__contract_equals_python(stack: Stack) -> None:
    report = RiskReport.build(
        epoch=1,
        round=2**64 - 1,
        observed_at=2**64 - 1,
        deadline=0,
        model_hash=MODEL,
        inputs_hash=b"\xff" * 32,
        updates={"BTC-USD": RiskParamsBps(*([0xFFFF] * 8)), "ETH-USD": RiskParamsBps(*([0] * 8))},
    )
    assert stack.oracle.report_digest(report) == report_digest(report, CHAIN_ID, stack.oracle.address)


@SETTINGS
@given(data=st.data())
def test_submit_report__random_valid_report_signed_in_python__stored_exactly(
    stack: Stack, data: st.DataObject
) -> None:
    report, keys = data.draw(valid_reports(stack))
    with evm_snapshot(stack.w3):
        assert stack.oracle.report_digest(report) == report_digest(report, CHAIN_ID, stack.oracle.address)
        result = stack.oracle.submit_report(report, _sign(stack, report, keys), sender=stack.submitter)
        for market, params in report.risk_params().items():
            stored = stack.oracle.get_risk_params(market)
            assert (stored.params, stored.observed_at, stored.round) == (
                params,
                report.observed_at,
                report.round,
            )
        events = stack.oracle.contract.events.RiskReportAccepted().process_receipt(
            result.receipt, errors=DISCARD
        )
        assert [e["args"]["signerBitmap"] for e in events] == [sum(1 << i for i in keys)]
        assert [e["args"]["round"] for e in events] == [report.round]


def _flips(stack: Stack, report: RiskReport) -> dict[str, RiskReport]:
    """Each field of the signed body changed to another value the header checks would still accept."""
    others = [m.id for m in stack.config.markets if m.id not in report.markets]
    markets = (others[0], *report.markets[1:]) if others else tuple(reversed(report.markets))
    params0 = RiskParamsBps.unpack(report.params[0])
    score = params0.risk_score + (1 if params0.risk_score < 10_000 else -1)
    new_params0 = replace(params0, risk_score=score).pack()
    return {
        "round": replace(report, round=report.round - 1),
        "observed_at": replace(report, observed_at=report.observed_at - 1),
        "deadline": replace(report, deadline=report.deadline - 1),
        "model_hash": replace(report, model_hash=MODEL_2 if report.model_hash == MODEL else MODEL),
        "inputs_hash": replace(
            report, inputs_hash=bytes([report.inputs_hash[0] ^ 1]) + report.inputs_hash[1:]
        ),
        "markets": replace(report, markets=markets),
        "params": replace(report, params=(new_params0, *report.params[1:])),
    }


@SETTINGS
@given(data=st.data())
def test_submit_report__any_signed_field_flipped__unknown_signer_with_recovered_address(
    stack: Stack, data: st.DataObject
) -> None:
    report, keys = data.draw(valid_reports(stack))
    sigs = _sign(stack, report, keys)
    with evm_snapshot(stack.w3):
        for name, flipped in _flips(stack, report).items():
            assert flipped != report, name
            err = _reverted(stack, flipped, sigs)
            expected = _recovered(report_digest(flipped, CHAIN_ID, stack.oracle.address), sigs[0])
            assert (err.error_name, err.error_args) == (
                "RiskOracleUnknownSigner",
                (sigs[0].signer, expected),
            ), name
        err = _reverted(stack, replace(report, epoch=2), sigs)
        assert (err.error_name, err.error_args) == ("RiskOracleWrongEpoch", (2, 1))


@SETTINGS
@given(data=st.data(), chain_id=st.integers(1, 2**64).filter(lambda c: c != CHAIN_ID))
def test_submit_report__signed_for_other_chain_or_oracle__rejected(
    stack: Stack, data: st.DataObject, chain_id: int
) -> None:
    report, keys = data.draw(valid_reports(stack))
    here = report_digest(report, CHAIN_ID, stack.oracle.address)
    other_chain = _sign(stack, report, keys, chain_id)
    other_oracle = co_sign(report, CHAIN_ID, stack.deployment.engine, keys)
    with evm_snapshot(stack.w3):
        for sigs in (other_chain, other_oracle):
            err = _reverted(stack, report, sigs)
            assert err.error_name == "RiskOracleUnknownSigner"
            assert err.error_args == (sigs[0].signer, _recovered(here, sigs[0]))


@SETTINGS
@given(data=st.data())
def test_submit_report__round_reused__non_increasing_round(stack: Stack, data: st.DataObject) -> None:
    report, keys = data.draw(valid_reports(stack))
    sigs = _sign(stack, report, keys)
    with evm_snapshot(stack.w3):
        stack.oracle.submit_report(report, sigs, sender=stack.submitter)
        err = _reverted(stack, report, sigs)
        first = market_id_bytes32(report.markets[0])
        assert (err.error_name, err.error_args) == (
            "RiskOracleNonIncreasingRound",
            (first, report.round, report.round),
        )


def test_submit_report__too_few_or_duplicate_signers__rejected(stack: Stack) -> None:
    now = _now(stack.w3)
    report = RiskReport.build(
        epoch=1,
        round=5,
        observed_at=now,
        deadline=now + 600,
        model_hash=MODEL,
        inputs_hash=b"\x01" * 32,
        updates={"BTC-USD": RiskParamsBps(6000, 500, 650, 1200, 700, 8500, 4000, 9000)},
    )
    sigs = _sign(stack, report, {0: stack.keys[0], 1: stack.keys[1], 2: stack.keys[2]})
    err = _reverted(stack, report, sigs[:2])
    assert (err.error_name, err.error_args) == ("RiskOracleTooFewSignatures", (2, 3))
    err = _reverted(stack, report, [sigs[0], sigs[1], sigs[0]])
    assert (err.error_name, err.error_args) == ("RiskOracleDuplicateSigner", (sigs[0].signer,))
    outsider = co_sign(report, CHAIN_ID, stack.oracle.address, {3: ANVIL_KEYS[9]})
    err = _reverted(stack, report, [*sigs[:2], *outsider])
    assert (err.error_name, err.error_args) == ("RiskOracleUnknownSigner", (3, resolve_account(9)))


def _contract_verdict(err: ContractReverted | None) -> tuple[str, int] | None:
    """(error name, field index or consistency reason) of a bounds revert, None when accepted."""
    if err is None:
        return None
    name, args = err.error_name or "", err.error_args
    return (
        (name, -1) if name in ("RiskOracleUpdateTooSoon", "RiskOracleUpdateTooFrequent") else (name, args[1])
    )


def _python_verdict(violation: BoundsViolation | None) -> tuple[str, int] | None:
    if violation is None:
        return None
    name = violation.why.split(":")[0].split(" ")[0]
    if name == "RiskOracleInconsistentParams":
        return name, int(violation.why.split("reason ")[1].split(":")[0])
    return (name, RISK_FIELDS.index(violation.field)) if violation.field in RISK_FIELDS else (name, -1)


_uint16_params = st.builds(RiskParamsBps, *[st.integers(0, 12_000) for _ in RISK_FIELDS])


def _nudged(base: RiskParamsBps) -> st.SearchStrategy[RiskParamsBps]:
    """Small moves of every field: hits the consistency rules and the edges of the change limits."""
    moves = [st.integers(-400, 400).map(lambda d, v=v: min(max(v + d, 0), 0xFFFF)) for v in base.as_tuple()]
    return st.builds(RiskParamsBps, *moves)


@SETTINGS
@given(data=st.data(), market=st.sampled_from(["BTC-USD", "ETH-USD"]), gap=st.integers(0, 150))
def test_submit_report__random_update_after_stored_value__contract_agrees_with_node_bounds_check(
    stack: Stack, data: st.DataObject, market: str, gap: int
) -> None:
    """Differential: oracle_node.risk.bounds.check_bounds predicts exactly which check the chain fails."""
    profile = next(m.profile for m in stack.config.markets if m.id == market)
    bounds = stack.config.profiles[profile].bounds()
    previous = data.draw(valid_params(bounds), label="previous")
    update = data.draw(st.one_of(valid_params(bounds), _uint16_params, _nudged(previous)), label="update")
    keys = {i: stack.keys[i] for i in range(stack.config.threshold)}
    with evm_snapshot(stack.w3):
        now = _now(stack.w3)
        first = RiskReport.build(
            epoch=1, round=1, observed_at=now - 300, deadline=now + 600, model_hash=MODEL,
            inputs_hash=b"\x01" * 32, updates={market: previous},
        )  # fmt: skip
        stack.oracle.submit_report(first, _sign(stack, first, keys), sender=stack.submitter)
        accepted = stack.oracle.get_market_state(market).accepted_at
        # The next block lands `wait` s after the first was accepted: sometimes inside the interval.
        wait = data.draw(st.sampled_from([bounds.min_interval - 1, bounds.min_interval]), label="wait")
        rpc = stack.w3.provider.make_request  # type: ignore[attr-defined]
        rpc("evm_mine", [accepted + wait])  # the simulation (eth_call on latest) sees this block time
        rpc("anvil_setNextBlockTimestamp", [accepted + wait])  # and so does the block that includes it
        second = replace(first, round=2, observed_at=now - 300 + gap, params=(update.pack(),))
        expected = check_bounds(
            update,
            previous,
            bounds,
            market=market,
            observed_at=second.observed_at,
            previous_observed_at=first.observed_at,
            block_time=accepted + wait,
            previous_accepted_at=accepted,
        )
        try:
            stack.oracle.submit_report(second, _sign(stack, second, keys), sender=stack.submitter)
            err = None
        except ContractReverted as exc:
            err = exc
        event(str(_python_verdict(expected)))  # --hypothesis-show-statistics shows the mix
        assert _contract_verdict(err) == _python_verdict(expected), (err, expected)
        stored = stack.oracle.get_risk_params(market)
        assert stored.params == (previous if err else update)


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        (RiskParamsBps(6000, 500, 650, 700, 701, 8500, 4000, 9000), 1),  # MM > IM
        (RiskParamsBps(6000, 651, 650, 1200, 700, 8500, 4000, 9000), 2),  # VaR > ES
        (RiskParamsBps(6000, 500, 650, 3000, 1600, 8500, 4000, 9000), 3),  # LT + MM > 100 %
    ],
)
def test_submit_report__inconsistent_params__rejected_with_reason(
    stack: Stack, params: RiskParamsBps, reason: int
) -> None:
    now = _now(stack.w3)
    report = RiskReport.build(
        epoch=1, round=3, observed_at=now, deadline=now + 600, model_hash=MODEL,
        inputs_hash=b"\x03" * 32, updates={"BTC-USD": params},
    )  # fmt: skip
    assert _python_verdict(check_bounds(params, None, stack.config.profiles[0].bounds())) == (
        "RiskOracleInconsistentParams",
        reason,
    )
    err = _reverted(stack, report, _sign(stack, report, {i: stack.keys[i] for i in range(3)}))
    assert (err.error_name, err.error_args) == (
        "RiskOracleInconsistentParams",
        (market_id_bytes32("BTC-USD"), reason),
    )


def test_max_round_step__python_constant__equals_contract(stack: Stack) -> None:
    assert stack.oracle._call("MAX_ROUND_STEP") == MAX_ROUND_STEP
