"""Three `oracle-node run` processes form a 2-of-3 network on anvil: real processes, real keystores,
real peer HTTP on loopback, replayed real data (2020-03-11..13, BTC and ETH).

Reports land with two signatures and strictly increasing rounds; SIGKILL of one node does not stop
them; SIGTERM stops the others cleanly (exit 0, no traceback)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from eth_account import Account
from prometheus_client import generate_latest

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil, free_port
from oracle_node.chain.contracts import RiskOracle
from oracle_node.chain.deploy import deploy_stack, load_deploy_config
from oracle_node.chain.rpc import make_web3
from oracle_node.config import load_config
from oracle_node.errors import ConfigError
from oracle_node.network import NetworkSettings
from oracle_node.service.metrics import AUTH_REJECTIONS, COSIGN_REFUSALS, LEAD_STATUSES, NodeMetrics

REPO = Path(__file__).resolve().parents[2]
TICKS = REPO / "examples" / "ticks_2020-03-12.csv"
WINDOW = (1583928000, 1584100800)  # 2020-03-11 12:00 .. 2020-03-13 12:00 UTC: 48 replayed hours
PERIOD_S = 2.0
SIGNER_ACCOUNTS = (1, 2, 3)
STARTUP_S = 60.0
ANVIL_ADDRESS_1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture(scope="module")
def network(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    w3 = make_web3(anvil.url)
    base = load_deploy_config()
    profiles = tuple(p.model_copy(update={"min_interval": 0}) for p in base.profiles)
    cfg = base.model_copy(update={"signers": SIGNER_ACCOUNTS, "threshold": 2, "profiles": profiles})
    deployment = deploy_stack(w3, Account.from_key(ANVIL_KEYS[0]), cfg)
    tmp = tmp_path_factory.mktemp("network")
    ticks = tmp / "ticks.csv"
    lines = TICKS.read_text(encoding="utf-8").splitlines()
    kept = [row for row in lines[1:] if WINDOW[0] <= int(row.split(",", 1)[0]) <= WINDOW[1]]
    ticks.write_text("\n".join([lines[0], *kept]) + "\n", encoding="utf-8")
    return {"w3": w3, "anvil": anvil, "oracle": deployment.oracle, "tmp": tmp, "ticks": ticks}


def write_configs(net: dict[str, Any], genesis: float) -> list[tuple[Path, int]]:
    """One config per operator (keystore + password file in tmp); returns (config, health port)."""
    tmp: Path = net["tmp"]
    ports = [free_port() for _ in SIGNER_ACCOUNTS]
    addresses = [Account.from_key(ANVIL_KEYS[i]).address for i in SIGNER_ACCOUNTS]
    peers = [{"address": a, "url": f"http://127.0.0.1:{p}"} for a, p in zip(addresses, ports, strict=True)]
    out = []
    for n, account in enumerate(SIGNER_ACCOUNTS):
        (tmp / f"key{n}.json").write_text(json.dumps(Account.encrypt(ANVIL_KEYS[account], f"pw{n}")))
        (tmp / f"pw{n}").write_text(f"pw{n}\n")
        (tmp / f"pw{n}").chmod(0o600)
        health = free_port()
        cfg = {
            "node_name": f"op{n}",
            "chain": {"rpc_url": net["anvil"].url, "chain_id": 31337, "oracle_address": net["oracle"]},
            "signer": {"keystore": str(tmp / f"key{n}.json"), "password_file": str(tmp / f"pw{n}")},
            "markets": [
                {"id": "BTC-USD", "history": "bundled:binance_btcusdt_spot_1h"},
                {"id": "ETH-USD", "history": "bundled:binance_ethusdt_spot_1h"},
            ],
            "service": {
                "store_path": str(tmp / f"op{n}.sqlite"), "replay_ticks": str(net["ticks"]),
                "replay_speed": 3600.0 / PERIOD_S, "health_port": health,
            },
            "network": {
                "genesis": genesis, "period_s": PERIOD_S, "leader_timeout_s": 1.0, "max_attempts": 3,
                "deadline_s": 60, "collect_timeout_s": 0.6, "request_timeout_s": 1.0,
                "observe_timeout_s": 3.0, "max_skew_s": 2.0, "peers": peers, "listen_port": ports[n],
            },
        }  # fmt: skip
        path = tmp / f"op{n}.yaml"
        path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
        out.append((path, health))
    return out


@pytest.fixture()
def processes(network: dict[str, Any]) -> Iterator[list[tuple[subprocess.Popen[str], int]]]:
    configs = write_configs(network, genesis=time.time())
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs = []
    for path, health in configs:
        log = (network["tmp"] / f"{path.stem}.stderr").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "oracle_node.cli", "run", "--config", str(path)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True,
        )  # fmt: skip
        procs.append((proc, health))
    yield procs
    for proc, _ in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def accepted(net: dict[str, Any]) -> list[tuple[int, int, int]]:
    """(block, round, signer bitmap) of every RiskReportAccepted, in chain order."""
    oracle = RiskOracle(net["w3"], net["oracle"])
    logs = oracle.contract.events.RiskReportAccepted.get_logs(from_block=0)
    return [(int(e["blockNumber"]), int(e["args"]["round"]), int(e["args"]["signerBitmap"])) for e in logs]


def wait_for(predicate: Any, timeout_s: float, procs: list[tuple[subprocess.Popen[str], int]]) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        for proc, _ in procs:
            assert proc.poll() is None, f"node exited early with code {proc.returncode}"
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"not reached within {timeout_s} s")


def metrics_text(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()


def metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_three_node_processes__kill_one__reports_keep_landing_and_sigterm_exits_cleanly(
    network: dict[str, Any], processes: list[tuple[subprocess.Popen[str], int]]
) -> None:
    wait_for(lambda: len(accepted(network)) >= 3, STARTUP_S, processes)
    victim, survivors = processes[0], processes[1:]
    before = [metrics_text(port) for _, port in survivors]
    victim[0].send_signal(signal.SIGKILL)
    victim[0].wait(10)
    landed_at_kill = len(accepted(network))
    wait_for(lambda: len(accepted(network)) >= landed_at_kill + 4, 30, survivors)
    after = [metrics_text(port) for _, port in survivors]
    for proc, _ in survivors:
        proc.send_signal(signal.SIGTERM)
    codes = [proc.wait(20) for proc, _ in survivors]

    events = accepted(network)
    rounds = [r for _, r, _ in events]
    assert all(bin(bitmap).count("1") >= 2 for _, _, bitmap in events), events
    assert rounds == sorted(set(rounds)), rounds  # strictly increasing
    assert codes == [0, 0]
    for n in (1, 2):
        stderr = (network["tmp"] / f"op{n}.stderr").read_text()
        assert "Traceback" not in stderr, stderr[-3000:]
        assert '"event": "network_node_stopped"' in stderr or "network_node_stopped" in stderr
    work = ("mlra_oracle_rounds_cosigned_total", 'mlra_oracle_rounds_led_total{status="included"}')
    assert sum(metric(t, m) for t in after for m in work) > sum(metric(t, m) for t in before for m in work)
    # the survivors led rounds after the kill and could not reach the dead peer: counted by reason
    fetch = 'mlra_oracle_observation_fetch_failures_total{reason="unavailable"}'
    assert sum(metric(t, fetch) for t in after) > sum(metric(t, fetch) for t in before)
    assert 'mlra_oracle_cosign_refused_total{reason="out_of_tolerance"} 0.0' in after[0]
    assert 'mlra_oracle_peer_auth_rejections_total{direction="request",reason="stale"} 0.0' in after[0]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oracle_node.cli", *args],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_check__network_peers_are_the_signer_set__ok_and_a_foreign_peer__fails(
    network: dict[str, Any],
) -> None:
    path, _ = write_configs(network, genesis=time.time())[1]
    ok = run_cli("check", "--config", str(path))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok   network peers: 3 peers = the on-chain signer set, this key included" in ok.stdout

    cfg = yaml.safe_load(path.read_text())
    stranger = Account.from_key(ANVIL_KEYS[7]).address
    cfg["network"]["peers"][0]["address"] = stranger
    path.write_text(yaml.safe_dump(cfg))
    bad = run_cli("check", "--config", str(path))
    assert bad.returncode == 2
    line = next(x for x in bad.stdout.splitlines() if "network peers" in x)
    assert line.startswith("FAIL") and stranger.lower() in line, bad.stdout
    assert Account.from_key(ANVIL_KEYS[1]).address.lower() in line  # the on-chain signer left out


def test_run__network_mode_without_keystore__clear_error_exit_2(network: dict[str, Any]) -> None:
    path, _ = write_configs(network, genesis=time.time())[0]
    cfg = yaml.safe_load(path.read_text())
    cfg["signer"] = {}
    path.write_text(yaml.safe_dump(cfg))
    proc = run_cli("run", "--config", str(path))
    assert proc.returncode == 2
    assert "network mode needs signer.keystore" in proc.stderr and "Traceback" not in proc.stderr


def test_config__network_example__peers_are_three_dev_signers_and_absent_section_is_single_mode() -> None:
    cfg = load_config(REPO / "examples" / "node-network.yaml")
    assert cfg.network is not None and isinstance(cfg.network, NetworkSettings)
    assert [p.address for p in cfg.network.peers] == [
        Account.from_key(ANVIL_KEYS[i]).address for i in SIGNER_ACCOUNTS
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


def test_run__peer_port_taken__config_error_names_listen_port_exit_2(network: dict[str, Any]) -> None:
    path, _ = write_configs(network, genesis=time.time())[0]
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
