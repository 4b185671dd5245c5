"""Provenance on-chain: a report signed for a model the DAO has not allow-listed is rejected with
RiskOracleModelNotAllowed; scripts/allow_model.py passes setModelAllowed through the timelock
(schedule, minDelay on the chain's clock, execute) and the same signed report is then accepted.

The model is a real one: `oracle-node train`'s code path fits the served qgbm_har_v1 on BTC before
2024-01-01 and writes the manifest whose hash the report carries. The stack's max report age is 2 h
so that the one signed report outlives the 1 h timelock delay.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from web3 import HTTPProvider, Web3

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.contracts import ContractReverted, RiskOracle
from oracle_node.chain.deploy import deploy_stack, load_deploy_config, resolve_account, write_deployment
from oracle_node.errors import ConfigError
from oracle_node.models.manifest import load_manifest
from oracle_node.reports.eip712 import RiskReport, co_sign
from oracle_node.research.training.ml_run import run_train
from oracle_node.types import RiskParamsBps
from scripts import allow_model

CHAIN_ID = 31337
PARAMS = RiskParamsBps(6000, 500, 650, 1200, 700, 8500, 4000, 9000)


@pytest.fixture(scope="module")
def trained(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("ml_models")
    model_hash, _ = run_train(shared_data / "prices" / "btc_usd_daily_2015_2026.csv", "BTC-USD", "2024-01-01",
                              out, walk=False)  # fmt: skip
    return out, model_hash


def _deploy(anvil: Anvil, tmp_path: Path) -> tuple[Web3, Path, RiskOracle, dict[int, str]]:
    w3 = Web3(HTTPProvider(anvil.url, request_kwargs={"timeout": 30}))
    config = load_deploy_config().model_copy(update={"adapters": (), "max_report_age": 7200})
    deployment = deploy_stack(w3, resolve_account(config.deployer), config)
    path = write_deployment(deployment, tmp_path / "deployment.json")
    keys = {i: ANVIL_KEYS[ref] for i, ref in enumerate(config.signers) if isinstance(ref, int)}
    return w3, path, RiskOracle(w3, deployment.oracle), keys


def _report(w3: Web3, model_hash: bytes) -> RiskReport:
    now = int(w3.eth.get_block("latest")["timestamp"])
    return RiskReport.build(epoch=1, round=7, observed_at=now, deadline=now + 86_400, model_hash=model_hash,
                            inputs_hash=b"\x05" * 32, updates={"BTC-USD": PARAMS})  # fmt: skip


def test_allow_model__unlisted_manifest__rejected_then_allowed_through_timelock(
    anvil: Anvil, tmp_path: Path, trained: tuple[Path, str]
) -> None:
    w3, dep_path, oracle, keys = _deploy(anvil, tmp_path)
    model_dir, printed_hash = trained
    digest = allow_model.manifest_hash(model_dir)
    assert "0x" + digest.hex() == printed_hash
    assert oracle.is_model_allowed(load_manifest().hash)  # deploy allow-lists the bundled model only
    assert not oracle.is_model_allowed(digest)

    report = _report(w3, digest)
    sigs = co_sign(report, CHAIN_ID, oracle.address, {i: keys[i] for i in (0, 1, 2)})
    submitter = resolve_account(6)
    listed_word = oracle.get_market_word("BTC-USD")
    with pytest.raises(ContractReverted) as info:
        oracle.submit_report(report, sigs, sender=submitter)
    assert (info.value.error_name, info.value.error_args) == ("RiskOracleModelNotAllowed", (digest,))

    action = allow_model.action_for(w3, dep_path, digest)
    dao = resolve_account(8)
    action.schedule(dao)
    with pytest.raises(ConfigError, match="not ready"):
        action.execute(dao)  # the timelock's delay has not passed
    delay = action.timelock.min_delay()
    assert delay == 3600
    w3.provider.make_request("evm_increaseTime", [delay])
    w3.provider.make_request("evm_mine", [])
    action.execute(dao)
    assert oracle.is_model_allowed(digest) and action.timelock.is_operation_done(action.operation_id)

    assert oracle.get_market_word("BTC-USD") == listed_word  # the rejected report stored nothing
    oracle.submit_report(report, sigs, sender=submitter)
    stored = oracle.get_risk_params("BTC-USD")
    assert (stored.params, stored.round, stored.observed_at) == (PARAMS, 7, report.observed_at)


def test_allow_model_cli__status_and_run_on_dev_chain__allowed(
    anvil: Anvil, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, dep_path, oracle, _ = _deploy(anvil, tmp_path)
    digest = bytes.fromhex("ab" * 32)
    args = ["--rpc", anvil.url, "--deployment", str(dep_path), "--hash", "0x" + digest.hex()]
    assert allow_model.main(["status", *args]) == 0
    assert "allowed=False" in capsys.readouterr().out
    assert allow_model.main(["run", *args]) == 0
    assert oracle.is_model_allowed(digest)
    assert allow_model.main(["run", "--disallow", *args]) == 0
    assert not oracle.is_model_allowed(digest)
    assert (
        allow_model.main(["execute", "--hash", "0x12", "--rpc", anvil.url, "--deployment", str(dep_path)])
        == 1
    )
