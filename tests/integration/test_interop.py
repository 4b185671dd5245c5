"""Interop with implementations not written here: anvil's own EIP-712 signer and Foundry's `cast`."""

from __future__ import annotations

import json
import subprocess

import pytest
from eth_utils import keccak
from web3 import HTTPProvider, Web3

from oracle_node.chain.anvil import ANVIL_KEYS, REPO_ROOT, Anvil
from oracle_node.chain.contracts import RiskOracle
from oracle_node.chain.deploy import Deployment, deploy_stack, load_deploy_config, resolve_account
from oracle_node.reports.eip712 import (
    RiskReport,
    Signature,
    compact_from_bytes,
    report_digest,
    sign_report,
    typed_data,
)
from oracle_node.types import RISK_FIELDS, RiskParamsBps, market_id_bytes32

CHAIN_ID = 31337
MODEL = b"mlra-dev-manifest-v1".ljust(32, b"\x00")
CAST = REPO_ROOT / "node_modules" / ".bin" / "cast"
BTC = RiskParamsBps(
    volatility=6123,
    var99=512,
    es99=677,
    initial_margin=1350,
    maintenance_margin=810,
    liquidation_threshold=8400,
    risk_score=4321,
    confidence=9300,
)


@pytest.fixture(scope="module")
def deployed(anvil: Anvil) -> tuple[Web3, Deployment, list[int]]:
    w3 = Web3(HTTPProvider(anvil.url, request_kwargs={"timeout": 30}))
    config = load_deploy_config()
    deployment = deploy_stack(w3, resolve_account(config.deployer), config)
    # signer indices whose key is one of anvil's own unlocked dev accounts
    dev = set(w3.eth.accounts)
    usable = [i for i, addr in enumerate(deployment.signers) if addr in dev]
    assert len(usable) >= config.threshold
    return w3, deployment, usable[: config.threshold]


def _rpc_sign(w3: Web3, address: str, report: RiskReport, oracle: str) -> bytes:
    """eth_signTypedData_v4 by anvil for one of its dev accounts (JSON typed data, as a wallet gets it)."""
    payload = json.dumps(typed_data(report, CHAIN_ID, oracle))
    answer = w3.provider.make_request("eth_signTypedData_v4", [address, payload])
    assert "error" not in answer, answer
    return bytes.fromhex(answer["result"].removeprefix("0x"))


def _report(w3: Web3, round_: int) -> RiskReport:
    now = int(w3.eth.get_block("latest")["timestamp"])
    return RiskReport.build(
        epoch=1,
        round=round_,
        observed_at=now - 5,
        deadline=now + 600,
        model_hash=MODEL,
        inputs_hash=bytes(range(32)),
        updates={"BTC-USD": BTC},
    )


def _cast_latest_round(url: str, adapter: str) -> list[int]:
    out = subprocess.run(
        [
            str(CAST),
            "call",
            adapter,
            "latestRoundData()(uint80,int256,uint256,uint256,uint80)",
            "--rpc-url",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return [int(line.split()[0]) for line in out.strip().splitlines()]  # drop "[1.7e9]" annotations


def test_submit_report__signed_by_anvil_eth_sign_typed_data_v4__accepted_and_cast_reads_it(
    anvil: Anvil, deployed: tuple[Web3, Deployment, list[int]]
) -> None:
    w3, deployment, indices = deployed
    oracle = RiskOracle(w3, deployment.oracle)
    report = _report(w3, round_=1_000_001)
    sigs: list[Signature] = []
    for i in indices:
        raw = _rpc_sign(w3, deployment.signers[i], report, oracle.address)
        sigs.append(compact_from_bytes(i, raw))
    # RFC 6979 on both sides: anvil's signature is byte-identical to the Python signer's.
    digest = report_digest(report, CHAIN_ID, oracle.address)
    key_of = {resolve_account(k): ANVIL_KEYS[k] for k in range(len(ANVIL_KEYS))}
    assert sigs == [sign_report(digest, key_of[deployment.signers[i]], i) for i in indices]

    oracle.submit_report(report, sigs, sender=resolve_account(6))
    stored = oracle.get_risk_params("BTC-USD")
    assert (stored.params, stored.round, stored.observed_at) == (BTC, report.round, report.observed_at)

    for name, adapter in deployment.adapters["BTC-USD"].items():
        round_id, answer, started, updated, answered = _cast_latest_round(anvil.url, adapter)
        assert answer == BTC.as_tuple()[RISK_FIELDS.index(name)], name
        assert (round_id, answered) == (report.round, report.round)
        assert started == updated == report.observed_at


def test_cast_latest_round_data__market_never_published__reverts_with_no_data(
    anvil: Anvil, deployed: tuple[Web3, Deployment, list[int]]
) -> None:
    _, deployment, _ = deployed
    adapter = deployment.adapters["ETH-USD"]["volatility"]
    with pytest.raises(subprocess.CalledProcessError) as info:
        _cast_latest_round(anvil.url, adapter)
    selector = keccak(text="RiskParamAggregatorNoData(bytes32)")[:4]
    revert_data = "0x" + (selector + market_id_bytes32("ETH-USD")).hex()
    assert f'data: "{revert_data}"' in info.value.stderr
