"""deploy_stack on a real anvil: roles, wiring, and a DAO change through the timelock killing in-flight reports."""

from __future__ import annotations

from pathlib import Path

import pytest
from web3 import HTTPProvider, Web3

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.artifacts import load_artifact
from oracle_node.chain.contracts import (
    ContractReverted,
    OptionsMarginEngine,
    RiskOracle,
    RiskParamAggregator,
    TimelockController,
)
from oracle_node.chain.deploy import (
    DEFAULT_CONFIG,
    DeployConfig,
    Deployment,
    deploy_stack,
    load_deploy_config,
    resolve_account,
)
from oracle_node.errors import ConfigError
from oracle_node.models.manifest import ARTIFACTS_DIR as MANIFEST_DIR
from oracle_node.models.manifest import load_manifest
from oracle_node.reports.eip712 import RiskReport, co_sign
from oracle_node.types import FieldBounds, OnchainBounds, RiskParamsBps, market_id_bytes32
from scripts import deploy_local, governance

CHAIN_ID = 31337
MODEL = b"mlra-dev-manifest-v1".ljust(32, b"\x00")
PARAMS = RiskParamsBps(6000, 500, 650, 1200, 700, 8500, 4000, 9000)


@pytest.fixture(scope="module")
def w3(anvil: Anvil) -> Web3:
    return Web3(HTTPProvider(anvil.url, request_kwargs={"timeout": 30}))


@pytest.fixture(scope="module")
def config() -> DeployConfig:
    return load_deploy_config()


@pytest.fixture(scope="module")
def deployment(w3: Web3, config: DeployConfig) -> Deployment:
    return deploy_stack(w3, resolve_account(config.deployer), config)


def _report(w3: Web3, epoch: int, round_: int) -> RiskReport:
    now = int(w3.eth.get_block("latest")["timestamp"])
    return RiskReport.build(
        epoch=epoch,
        round=round_,
        observed_at=now,
        deadline=now + 600,
        model_hash=MODEL,
        inputs_hash=b"\x07" * 32,
        updates={"BTC-USD": PARAMS},
    )


def _keys(refs: tuple[int | str, ...]) -> dict[int, str]:
    return {i: ANVIL_KEYS[r] for i, r in enumerate(refs) if isinstance(r, int)}


def test_deploy_stack__local_config__roles_held_by_timelock_and_guardian_only(
    w3: Web3, config: DeployConfig, deployment: Deployment
) -> None:
    oracle = RiskOracle(w3, deployment.oracle)
    timelock = TimelockController(w3, deployment.timelock)
    admin, guardian = RiskOracle.DEFAULT_ADMIN_ROLE, RiskOracle.GUARDIAN_ROLE
    assert oracle.has_role(admin, deployment.timelock)
    assert oracle.has_role(guardian, deployment.guardian)
    assert not oracle.has_role(admin, deployment.guardian)
    dao = resolve_account(8)
    for role in (admin, guardian):
        assert not oracle.has_role(role, deployment.deployer)
    for role in (admin, TimelockController.PROPOSER_ROLE, TimelockController.EXECUTOR_ROLE):
        assert not timelock.has_role(role, deployment.deployer)
    assert timelock.has_role(admin, deployment.timelock)  # self-administered
    assert timelock.has_role(TimelockController.PROPOSER_ROLE, dao)
    assert timelock.has_role(TimelockController.EXECUTOR_ROLE, dao)
    assert timelock.min_delay() == config.timelock.min_delay


def test_deploy_stack__local_config__oracle_adapters_engine_wired_as_configured(
    w3: Web3, config: DeployConfig, deployment: Deployment
) -> None:
    oracle = RiskOracle(w3, deployment.oracle)
    signers = oracle.get_signers()
    assert (list(signers.signers), signers.threshold, signers.epoch) == (deployment.signers, 3, 1)
    assert oracle.allowed_models() == config.model_hashes()  # the bundled manifest's hash, then the dev entry
    assert MODEL in oracle.allowed_models() and load_manifest(MANIFEST_DIR).hash in oracle.allowed_models()
    assert oracle.max_report_age() == config.max_report_age
    for profile in config.profiles:
        assert oracle.get_bounds(profile.id) == profile.bounds()
    for market in config.markets:
        assert oracle.get_market_bounds(market.id) == config.profiles[market.profile].bounds()
        assert oracle.get_market_word(market.id) == (1 << 232) | (market.profile << 224)
    for market, feeds in deployment.adapters.items():
        assert sorted(feeds) == sorted(config.adapters)
        for field, address in feeds.items():
            assert RiskParamAggregator(w3, address).target() == (deployment.oracle, market, field)
    engine = OptionsMarginEngine(w3, deployment.engine)
    assert engine.owner() == deployment.deployer
    assert [engine.market_max_age(m.id) for m in config.markets] == [m.engine_max_age for m in config.markets]


def test_timelock__set_signers_scheduled_and_executed__epoch_bumps_and_inflight_report_dies(
    w3: Web3, config: DeployConfig, deployment: Deployment
) -> None:
    oracle = RiskOracle(w3, deployment.oracle)
    timelock = TimelockController(w3, deployment.timelock)
    dao = resolve_account(8)
    inflight = _report(w3, epoch=1, round_=10)
    inflight_sigs = co_sign(inflight, CHAIN_ID, oracle.address, _keys(config.signers))
    new_refs = (3, 4, 5, 6)
    call = oracle.encode("setSigners", [resolve_account(r) for r in new_refs], 2)
    salt = b"\x42" * 32
    op = timelock.operation_id(call, salt)
    timelock.schedule(call, salt, config.timelock.min_delay, sender=dao)

    with pytest.raises(ContractReverted) as early:
        timelock.execute(call, salt, sender=dao)
    assert early.value.error_name == "TimelockUnexpectedOperationState"
    assert early.value.error_args == (op, (1 << 2).to_bytes(32, "big"))  # expected state: Ready

    w3.provider.make_request("evm_increaseTime", [config.timelock.min_delay])
    w3.provider.make_request("evm_mine", [])
    assert timelock.is_operation_ready(op)
    timelock.execute(call, salt, sender=dao)
    assert timelock.is_operation_done(op)

    signers = oracle.get_signers()
    assert (signers.signers, signers.threshold, signers.epoch) == (
        tuple(resolve_account(r) for r in new_refs),
        2,
        2,
    )
    with pytest.raises(ContractReverted) as dead:
        oracle.submit_report(inflight, inflight_sigs, sender=resolve_account(7))
    assert (dead.value.error_name, dead.value.error_args) == ("RiskOracleWrongEpoch", (1, 2))
    fresh = _report(w3, epoch=2, round_=11)
    oracle.submit_report(fresh, co_sign(fresh, CHAIN_ID, oracle.address, _keys(new_refs[:2])), sender=dao)
    assert oracle.get_risk_params("BTC-USD").round == 11


def test_roles__deployer_and_guardian_limits__access_control_errors_decoded(
    w3: Web3, config: DeployConfig, deployment: Deployment
) -> None:
    oracle = RiskOracle(w3, deployment.oracle)
    with pytest.raises(ContractReverted) as info:
        oracle.set_signers(deployment.signers, 1, sender=deployment.deployer)
    assert (info.value.error_name, info.value.error_args) == (
        "AccessControlUnauthorizedAccount",
        (deployment.deployer, RiskOracle.DEFAULT_ADMIN_ROLE),
    )
    bounds = config.profiles[0].bounds()
    fields = list(bounds.fields)
    # es99 is protective: a lower ceiling would let only lower risk figures land (issue 9, finding 2).
    fields[2] = FieldBounds(fields[2].floor, fields[2].ceiling - 1, fields[2].max_change)
    with pytest.raises(ContractReverted) as loosen:
        oracle.tighten_bounds(
            0, OnchainBounds(tuple(fields), bounds.relative_mask, bounds.min_interval), deployment.guardian
        )
    assert (loosen.value.error_name, loosen.value.error_args) == ("RiskOracleNotTighter", (0, 2))
    fields[2] = FieldBounds(fields[2].floor + 10, fields[2].ceiling + 2, fields[2].max_change)  # both up
    oracle.tighten_bounds(
        0, OnchainBounds(tuple(fields), bounds.relative_mask, bounds.min_interval), deployment.guardian
    )
    assert oracle.get_bounds(0).field("es99") == FieldBounds(70, 6001, 5000)

    oracle.pause_market("ETH-USD", sender=deployment.guardian)
    with pytest.raises(ContractReverted) as unpause:
        oracle._send("unpauseMarket", market_id_bytes32("ETH-USD"), sender=deployment.guardian)
    assert unpause.value.error_name == "AccessControlUnauthorizedAccount"
    assert oracle.get_market_word("ETH-USD") >> 233 & 1 == 1  # paused bit


def test_deploy_local__anvil_already_answering__deploys_and_writes_json(anvil: Anvil, tmp_path: Path) -> None:
    out = tmp_path / "local.json"
    assert deploy_local.main(["--port", str(anvil.port), "--out", str(out)]) == 0
    written = Deployment.from_json(out.read_text())
    w3 = Web3(HTTPProvider(anvil.url))
    assert written.chain_id == CHAIN_ID
    assert sum(len(feeds) for feeds in written.adapters.values()) == 12
    assert RiskOracle(w3, written.oracle).get_signers().signers == tuple(written.signers)


def test_deploy_stack__wrong_chain_id__config_error(w3: Web3, config: DeployConfig) -> None:
    with pytest.raises(ConfigError, match="chain_id: config says 1, the RPC answers 31337"):
        deploy_stack(w3, resolve_account(0), config.model_copy(update={"chain_id": 1}))


@pytest.mark.parametrize(
    ("original", "broken", "expected"),
    [
        ("threshold: 3", "threshold: 9", "threshold 9 exceeds the 5 signers"),
        ("signers: [1, 2, 3, 4, 5]", "signers: [1, 1, 3]", "signers must be distinct"),
        (
            "es99:                  {floor: 60,",
            "es99:                  {floor: 6001,",
            "floor 6001 is above ceiling 6000",
        ),
        (
            "{id: ETH-USD, profile: 1",
            "{id: ETH-USD, profile: 7",
            "markets ['ETH-USD'] name a profile that is not defined",
        ),
        ("guardian: 9", "guardian: 42", "guardian = 42: Value error, dev account index must be 0..9"),
        ("max_report_age: 3600", "max_report_age: 0", "max_report_age = 0: Input should be greater than 0"),
        ("relative: [volatility,", "relative: [vol,", "unknown fields ['vol']"),
    ],
)
def test_load_deploy_config__invalid_value__config_error_names_field_and_value(
    tmp_path: Path, original: str, broken: str, expected: str
) -> None:
    text = DEFAULT_CONFIG.read_text()
    assert original in text
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace(original, broken, 1))
    with pytest.raises(ConfigError) as info:
        load_deploy_config(path)
    assert str(info.value).startswith(f"{path}: ")
    assert expected in str(info.value)


def test_load_artifact__missing_contract__says_run_make_build(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run `make build`"):
        load_artifact("RiskOracle", tmp_path)
    with pytest.raises(ConfigError, match=r"NoSuchContract\.json not found; run `make build`"):
        load_artifact("NoSuchContract")


def test_governance_cli__run_allow_model_and_guardian_pause__applied_on_chain(
    anvil: Anvil, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "local.json"
    assert deploy_local.main(["--port", str(anvil.port), "--out", str(out)]) == 0
    written = Deployment.from_json(out.read_text())
    oracle = RiskOracle(Web3(HTTPProvider(anvil.url)), written.oracle)
    model = "0x" + "ab" * 32
    base = ["--deployment", str(out), "--rpc", anvil.url]
    assert governance.main([*base, "--from", "8", "schedule", "allow-model", model]) == 0
    assert governance.main([*base, "--from", "8", "execute", "allow-model", model]) == 1
    assert "TimelockUnexpectedOperationState" in capsys.readouterr().err
    assert not oracle.is_model_allowed(bytes.fromhex("ab" * 32))

    assert governance.main([*base, "--from", "8", "run", "set-max-age", "900"]) == 0
    assert oracle.max_report_age() == 900
    assert governance.main([*base, "--from", "9", "guardian", "pause-market", "BTC-USD"]) == 0
    assert oracle.get_market_word("BTC-USD") >> 233 & 1 == 1
    assert governance.main([*base, "--from", "9", "run", "unpause-market", "BTC-USD"]) == 1  # not a proposer
    assert "AccessControlUnauthorizedAccount" in capsys.readouterr().err
    assert governance.main([*base, "--from", "8", "run", "unpause-market", "BTC-USD"]) == 0
    assert oracle.get_market_word("BTC-USD") >> 233 & 1 == 0
    assert governance.main([*base, "--from", "8", "run", "allow-model", "0x1234"]) == 1
    assert "is not 32 bytes of hex" in capsys.readouterr().err
