"""`oracle-node run`/`check` in network mode as real processes: `check` verifies the peers against the
on-chain signer set, and configuration mistakes (no keystore, a taken peer port, a peer URL that is
not http) are clear one-line errors with exit code 2. The fault suite, five such processes forming a
3-of-5 network, is test_network_fault_processes.py."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from eth_account import Account
from prometheus_client import generate_latest

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.config import load_config
from oracle_node.errors import ConfigError
from oracle_node.network import NetworkSettings
from oracle_node.service.metrics import AUTH_REJECTIONS, COSIGN_REFUSALS, LEAD_STATUSES, NodeMetrics
from tests.integration.operators import REPO, OperatorNetwork

ANVIL_ADDRESS_1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture(scope="module")
def network(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> OperatorNetwork:
    return OperatorNetwork(anvil, tmp_path_factory.mktemp("network"))  # five signers, k = 3


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oracle_node.cli", *args],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_check__network_peers_are_the_signer_set__ok_and_a_foreign_peer__fails(
    network: OperatorNetwork,
) -> None:
    path = network.configure()[1].config
    ok = run_cli("check", "--config", str(path))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok   network peers: 5 peers = the on-chain signer set, this key included" in ok.stdout

    cfg = yaml.safe_load(path.read_text())
    stranger = Account.from_key(ANVIL_KEYS[7]).address
    cfg["network"]["peers"][0]["address"] = stranger
    path.write_text(yaml.safe_dump(cfg))
    bad = run_cli("check", "--config", str(path))
    assert bad.returncode == 2
    line = next(x for x in bad.stdout.splitlines() if "network peers" in x)
    assert line.startswith("FAIL") and stranger.lower() in line, bad.stdout
    assert Account.from_key(ANVIL_KEYS[1]).address.lower() in line  # the on-chain signer left out


def test_run__network_mode_without_keystore__clear_error_exit_2(network: OperatorNetwork) -> None:
    path = network.configure()[0].config
    cfg = yaml.safe_load(path.read_text())
    cfg["signer"] = {}
    path.write_text(yaml.safe_dump(cfg))
    proc = run_cli("run", "--config", str(path))
    assert proc.returncode == 2
    assert "signer.keystore is required to run" in proc.stderr and "Traceback" not in proc.stderr


def test_config__network_example__peers_are_three_dev_signers_and_absent_section_is_single_mode() -> None:
    cfg = load_config(REPO / "examples" / "node-network.yaml")
    assert cfg.network is not None and isinstance(cfg.network, NetworkSettings)
    assert [p.address for p in cfg.network.peers] == [
        Account.from_key(ANVIL_KEYS[i]).address for i in (1, 2, 3)
    ]
    assert (cfg.network.period_s, cfg.network.listen_port, cfg.network.max_attempts) == (10.0, 9470, 3)
    assert load_config(REPO / "examples" / "node.yaml").network is None


def test_config__network_peer_without_http_url__error_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"network": {"peers": [{"address": ANVIL_ADDRESS_1, "url": "ftp://x"}]}}))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert any(p.startswith("network.peers.0.url = 'ftp://x'") for p in err.value.problems), (
        err.value.problems
    )


def test_metrics__network_labels__all_initialised_at_zero() -> None:
    text = generate_latest(NodeMetrics(["BTC-USD"]).registry).decode()
    for status in LEAD_STATUSES:
        assert f'mlra_oracle_rounds_led_total{{status="{status}"}} 0.0' in text
    for reason in COSIGN_REFUSALS:
        assert f'mlra_oracle_cosign_refused_total{{reason="{reason}"}} 0.0' in text
    for reason in AUTH_REJECTIONS:
        assert f'mlra_oracle_peer_auth_rejections_total{{direction="response",reason="{reason}"}} 0.0' in text
    assert "mlra_oracle_rounds_cosigned_total 0.0" in text


def test_run__peer_port_taken__config_error_names_listen_port_exit_2(network: OperatorNetwork) -> None:
    path = network.configure()[0].config
    cfg = yaml.safe_load(path.read_text())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cfg["network"]["listen_port"] = taken.getsockname()[1]
        path.write_text(yaml.safe_dump(cfg))
        proc = run_cli("run", "--config", str(path))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "config error: network.listen_port: cannot serve peers on 127.0.0.1:" in proc.stderr
    assert "Traceback" not in proc.stderr
