"""Train -> serve, as an operator and a DAO do it, with real processes on a real anvil.

`oracle-node train` fits the served model on a slice of the shared BTC history (--no-walk-forward:
seconds); the node pointed at the new directory (`model.manifest: DIR/manifest.json`) refuses to
publish while the DAO has not allow-listed its hash (the oracle's simulation reverts with
RiskOracleModelNotAllowed: exit 2, nothing on chain); `scripts.allow_model` schedules
setModelAllowed on the timelock, execution before the minimum delay is refused, after
evm_increaseTime it executes; then `oracle-node once --publish` lands a report whose RiskReportAccepted
event carries the new manifest's hash. A copy whose ONNX file no longer matches the manifest's sha256
is refused before anything is signed.

The stack: one signer (k = 1, the single-operator case of the one runtime), min interval 1 s, and a
timelock delay of 60 s instead of deploy/local.yaml's 3600 s: the node stamps a report's deadline
300 s after its wall clock, so a chain clock moved a full hour ahead would reject every report as past
its deadline (a test artefact: a real chain's clock does not jump). Market data: the example tick
file (2020-03-10..14).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3
from web3.logs import DISCARD

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.contracts import RiskOracle
from oracle_node.chain.deploy import deploy_stack, load_deploy_config, write_deployment
from oracle_node.chain.rpc import make_web3
from oracle_node.models.manifest import MANIFEST_FILE, load_manifest
from scripts import allow_model

REPO = Path(__file__).resolve().parents[2]
TICKS = REPO / "examples" / "ticks_2020-03-12.csv"
EXAMPLE = REPO / "examples" / "node.yaml"
BTC = "prices/btc_usd_daily_2015_2026.csv"
ETH_HOURLY = "prices/binance_ethusdt_spot_1h_2017_2021.csv"
DELAY = 60  # s, the timelock's minimum delay in this stack


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=180,
        env={**os.environ, **(env or {})}, cwd=REPO, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def trained(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A model trained by the CLI on BTC daily 2015-01-01 .. 2021-03-31 pooled with ETH (hourly bars as
    daily closes, 2017-08 .. 2021-06), test start 2021-01-01."""
    tmp = tmp_path_factory.mktemp("train")
    lines = (shared_data / BTC).read_text().splitlines()
    prices = tmp / "btc_2015_2021q1.csv"
    prices.write_text("\n".join([lines[0], *(x for x in lines[1:] if x[:10] <= "2021-03-31")]))
    out = tmp / "model"
    proc = run("-m", "oracle_node.cli", "train", "--prices", str(prices), "--asset", "BTC-USD",
               "--pool", f"{shared_data / ETH_HOURLY}:ETH-USDT", "--test-start", "2021-01-01",
               "--no-walk-forward", "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    printed = re.search(r"model hash (0x[0-9a-f]{64})", proc.stdout)
    assert printed is not None, proc.stdout
    return out, printed.group(1)


@pytest.fixture(scope="module")
def stack(
    anvil: Anvil, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Web3, RiskOracle, Path, dict[str, str]]:
    base = load_deploy_config()
    cfg = base.model_copy(update={
        "signers": (1,), "threshold": 1, "timelock": base.timelock.model_copy(update={"min_delay": DELAY}),
        "profiles": tuple(p.model_copy(update={"min_interval": 1}) for p in base.profiles),
    })  # fmt: skip
    w3 = make_web3(anvil.url)
    deployment = deploy_stack(w3, Account.from_key(ANVIL_KEYS[0]), cfg)
    tmp = tmp_path_factory.mktemp("node")
    dep_path = write_deployment(deployment, tmp / "deployment.json")
    (tmp / "key.json").write_text(json.dumps(Account.encrypt(ANVIL_KEYS[1], "pw")))
    env = {
        "ORACLE_CHAIN__RPC_URL": anvil.url,
        "ORACLE_CHAIN__ORACLE_ADDRESS": deployment.oracle,
        "ORACLE_SIGNER__KEYSTORE": str(tmp / "key.json"),
        "ORACLE_SIGNER__PASSWORD_ENV": "NODE_PW",
        "NODE_PW": "pw",
        "ORACLE_SERVICE__REPLAY_TICKS": str(TICKS),
    }
    return w3, RiskOracle(w3, deployment.oracle), dep_path, env


def publish_once(env: dict[str, str], manifest: Path, store: Path) -> subprocess.CompletedProcess[str]:
    node_env = {**env, "ORACLE_MODEL__MANIFEST": str(manifest), "ORACLE_SERVICE__STORE_PATH": str(store)}
    return run("-m", "oracle_node.cli", "once", "--publish", "--config", str(EXAMPLE), env=node_env)


def accepted(oracle: RiskOracle) -> list[dict[str, Any]]:
    return [dict(e["args"]) for e in oracle.contract.events.RiskReportAccepted.get_logs(from_block=0)]


def allow_cli(mode: str, model_dir: Path, anvil: Anvil, dep_path: Path) -> subprocess.CompletedProcess[str]:
    return run("-m", "scripts.allow_model", "--from", "8", mode, "--manifest", str(model_dir),
               "--rpc", anvil.url, "--deployment", str(dep_path))  # fmt: skip


def test_train_then_serve__allow_listed_through_timelock__report_carries_new_model_hash(
    anvil: Anvil,
    stack: tuple[Web3, RiskOracle, Path, dict[str, str]],
    trained: tuple[Path, str],
    tmp_path: Path,
) -> None:
    w3, oracle, dep_path, env = stack
    model_dir, printed = trained
    new_hash = load_manifest(model_dir).hash  # what the node computes from the directory
    assert "0x" + new_hash.hex() == printed
    assert not oracle.is_model_allowed(new_hash)

    refused = publish_once(env, model_dir / MANIFEST_FILE, tmp_path / "a.sqlite")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr + refused.stdout
    assert f"RiskOracleModelNotAllowed]: modelHash={printed}" in refused.stderr.splitlines()[-1]
    assert accepted(oracle) == []

    assert allow_cli("schedule", model_dir, anvil, dep_path).returncode == 0
    early = allow_cli("execute", model_dir, anvil, dep_path)
    assert early.returncode == 1 and "is not ready" in early.stderr
    delay = allow_model.action_for(w3, dep_path, new_hash).timelock.min_delay()
    assert delay == DELAY
    w3.provider.make_request("evm_increaseTime", [delay])
    w3.provider.make_request("evm_mine", [])
    done = allow_cli("execute", model_dir, anvil, dep_path)
    assert done.returncode == 0, done.stderr
    assert f"model {printed} allowed=True" in done.stdout and oracle.is_model_allowed(new_hash)

    served = publish_once(env, model_dir / MANIFEST_FILE, tmp_path / "b.sqlite")
    assert served.returncode == 0, served.stderr[-2000:]
    lines = [json.loads(x) for x in served.stdout.splitlines()]
    lead = lines[-1]
    assert lead["lead"] == "included" and lead["tx_hash"]
    events = accepted(oracle)
    assert len(events) == 1 and events[0]["modelHash"] == new_hash
    receipt = w3.eth.get_transaction_receipt(lead["tx_hash"])
    in_tx = oracle.contract.events.RiskReportAccepted().process_receipt(receipt, errors=DISCARD)
    assert [e["args"]["modelHash"] for e in in_tx] == [new_hash]
    published = {x["market"]: x for x in lines[:-1] if x["outcome"] == "published"}
    btc = published["BTC-USD"]  # the new model served it: ML in range, combined with the baseline
    assert btc["model"] == "qgbm_har_v1+gjr_garch_t" and "fallback_baseline" not in btc["flags"]
    stored = oracle.get_risk_params("BTC-USD")
    assert stored.round == lead["round"]
    assert stored.params.as_tuple() == tuple(btc["signed"].values())


def test_serve__artifact_tampered__refused_before_signing(
    stack: tuple[Web3, RiskOracle, Path, dict[str, str]], trained: tuple[Path, str], tmp_path: Path
) -> None:
    _, oracle, _, env = stack
    model_dir, _ = trained
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    onnx = copy / "qgbm_har_v1.onnx"
    blob = bytearray(onnx.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    onnx.write_bytes(bytes(blob))
    before = accepted(oracle)
    proc = publish_once(env, copy / MANIFEST_FILE, tmp_path / "c.sqlite")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr + proc.stdout
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("oracle-node once: error: model artifact ") and str(onnx) in last
    assert "sha256 mismatch, expected " in last and proc.stdout == ""
    assert accepted(oracle) == before
