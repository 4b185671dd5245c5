"""The `oracle-node` command as an operator meets it: real processes, real files, clear errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from eth_account import Account

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil, free_port
from oracle_node.chain.contracts import RiskOracle
from oracle_node.chain.deploy import deploy_stack, load_deploy_config
from oracle_node.chain.rpc import make_web3
from oracle_node.chain.surface_oracle import VolSurfaceOracle
from oracle_node.options.onchain import underlying_id

REPO = Path(__file__).resolve().parents[2]
TICKS = REPO / "examples" / "ticks_2020-03-12.csv"
EXAMPLE = REPO / "examples" / "node.yaml"


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "oracle_node.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=REPO,
        check=False,
    )


def assert_clean_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def test_replay__example_tick_file__one_line_per_tick_and_market(tmp_path: Path) -> None:
    out = tmp_path / "replay.jsonl"
    proc = cli("replay", "--ticks", str(TICKS), "--config", str(EXAMPLE), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 240  # 120 hours x 2 markets
    assert set(rows[0]) >= {
        "ts",
        "market",
        "aggregate_price",
        "accepted_sources",
        "rejected",
        "flags",
        "confidence",
        "params",
        "would_publish",
    }
    spiked = [r for r in rows if r["rejected"].get("venue_b") == "outlier"]
    assert spiked and all(abs(r["aggregate_price"] / _spot(rows, r) - 1) < 0.005 for r in spiked)


def _spot(rows: list[dict], row: dict) -> float:  # type: ignore[type-arg]
    return (
        row["aggregate_price"]
        if row["market"] != row["market"]
        else next(r["aggregate_price"] for r in rows if r["ts"] == row["ts"] and r["market"] == row["market"])
    )


def test_replay__unknown_market_and_malformed_rows__defaults_used_and_rows_reported(tmp_path: Path) -> None:
    ticks = tmp_path / "t.csv"
    lines = ["ts,market,source,price,bid,ask,volume,depth_bid,depth_ask,funding_rate"]
    for h in range(6):
        for i, src in enumerate(("a", "b", "c")):
            lines.append(f"{1600000000 + 3600 * h},SOL-USD,{src},{30 + i * 0.01 + h * 0.1},,,100,,,")
    lines.append("1600000000,SOL-USD,d,nan,,,,,,")
    lines.append("not-a-time,SOL-USD,e,30,,,,,,")
    ticks.write_text("\n".join(lines) + "\n")
    out = tmp_path / "o.jsonl"
    proc = cli("replay", "--ticks", str(ticks), "--config", str(EXAMPLE), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "skipped rows 2" in proc.stdout
    assert '"line":' in proc.stderr and "tick_row_skipped" in proc.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert {r["market"] for r in rows} == {"SOL-USD"}
    assert all(r["aggregate_price"] for r in rows)
    assert rows[0]["would_publish"] is False and "need 3 daily closes" in rows[0]["error"]


def test_replay__missing_tick_file__clear_error_no_traceback(tmp_path: Path) -> None:
    proc = cli(
        "replay",
        "--ticks",
        str(tmp_path / "nope.csv"),
        "--config",
        str(EXAMPLE),
        "--out",
        str(tmp_path / "o"),
    )
    assert_clean_error(proc, "nope.csv", "No such file")


def test_config__invalid_file__one_line_per_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("chain:\n  chain_id: 0\nguard:\n  min_sources: 0\n  bogus: 1\nmarkets:\n  - id: ''\n")
    proc = cli("check", "--config", str(bad))
    assert_clean_error(
        proc, "chain.chain_id = 0", "guard.min_sources = 0", "guard.bogus = 1", "markets.0.id = ''"
    )
    assert len([line for line in proc.stderr.splitlines() if "config error" in line]) == 4


def test_config__env_overrides_file__rpc_credentials_never_printed(tmp_path: Path) -> None:
    port = free_port()
    secret_url = f"http://user:hunter2@127.0.0.1:{port}/v3/abcdef0123456789abcdef"
    proc = cli(
        "check",
        "--config",
        str(EXAMPLE),
        env={"ORACLE_CHAIN__RPC_URL": secret_url, "ORACLE_CHAIN__ORACLE_ADDRESS": "0x" + "11" * 20},
    )
    assert proc.returncode == 2
    assert "FAIL rpc + chain id: RPC unreachable" in proc.stdout
    assert "hunter2" not in proc.stdout + proc.stderr and "abcdef0123456789" not in proc.stdout + proc.stderr


def test_check__wrong_keystore_password__clear_error(tmp_path: Path) -> None:
    key = tmp_path / "k.json"
    key.write_text(json.dumps(Account.encrypt(ANVIL_KEYS[1], "right")))
    (tmp_path / "pw").write_text("wrong\n")
    proc = cli(
        "check",
        "--config",
        str(EXAMPLE),
        env={"ORACLE_SIGNER__KEYSTORE": str(key), "ORACLE_SIGNER__PASSWORD_FILE": str(tmp_path / "pw")},
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stdout + proc.stderr
    assert "FAIL keystore" in proc.stdout and "wrong password" in proc.stdout


def test_check__model_file_tampered__hash_mismatch_named(tmp_path: Path) -> None:
    art = tmp_path / "artifacts"
    shutil.copytree(REPO / "oracle_node" / "models" / "artifacts", art)
    onnx = next(art.glob("*.onnx"))
    onnx.write_bytes(onnx.read_bytes()[:-1] + b"\x00")
    proc = cli("check", "--config", str(EXAMPLE), env={"ORACLE_MODEL__MANIFEST": str(art / "manifest.json")})
    assert proc.returncode == 2 and "Traceback" not in proc.stdout + proc.stderr
    assert "FAIL model files" in proc.stdout and onnx.name in proc.stdout and "sha256" in proc.stdout


@pytest.fixture(scope="module")
def deployed(anvil: Anvil):  # type: ignore[no-untyped-def]
    base = load_deploy_config()
    cfg = base.model_copy(
        update={
            "signers": (1,),
            "threshold": 1,
            "profiles": tuple(p.model_copy(update={"min_interval": 1}) for p in base.profiles),
        }
    )
    return deploy_stack(make_web3(anvil.url), Account.from_key(ANVIL_KEYS[0]), cfg)


def test_check__deployed_stack__every_line_ok(anvil: Anvil, deployed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key = tmp_path / "k.json"
    key.write_text(json.dumps(Account.encrypt(ANVIL_KEYS[1], "pw")))
    env = {
        "ORACLE_CHAIN__RPC_URL": anvil.url,
        "ORACLE_CHAIN__ORACLE_ADDRESS": deployed.oracle,
        "ORACLE_SIGNER__KEYSTORE": str(key),
        "ORACLE_SIGNER__PASSWORD_ENV": "NODE_PW",
        "NODE_PW": "pw",
    }
    proc = cli("check", "--config", str(EXAMPLE), env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for line in (
        "ok   signer set",
        "ok   model allow-list",
        "ok   market BTC-USD",
        "ok   market ETH-USD",
        "ok   oracle paused",
    ):
        assert line in proc.stdout


def test_once__without_publish__dry_run_nothing_sent(anvil: Anvil, deployed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {
        "ORACLE_CHAIN__RPC_URL": anvil.url,
        "ORACLE_CHAIN__ORACLE_ADDRESS": deployed.oracle,
        "ORACLE_SERVICE__REPLAY_TICKS": str(TICKS),
        "ORACLE_SERVICE__STORE_PATH": str(tmp_path / "s.sqlite"),
    }
    before = make_web3(anvil.url).eth.block_number
    proc = cli("once", "--config", str(EXAMPLE), env=env)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert {x["market"] for x in lines} == {"BTC-USD", "ETH-USD"}
    assert make_web3(anvil.url).eth.block_number == before


def test_run__replay_daemon__publishes_serves_health_and_stops_on_sigterm(
    anvil: Anvil, deployed, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    key = tmp_path / "k.json"
    key.write_text(json.dumps(Account.encrypt(ANVIL_KEYS[1], "pw")))
    health = free_port()
    env = {
        **os.environ,
        "ORACLE_CHAIN__RPC_URL": anvil.url,
        "ORACLE_CHAIN__ORACLE_ADDRESS": deployed.oracle,
        "ORACLE_SIGNER__KEYSTORE": str(key),
        "ORACLE_SIGNER__PASSWORD_ENV": "NODE_PW",
        "NODE_PW": "pw",
        "ORACLE_SERVICE__REPLAY_TICKS": str(TICKS),
        "ORACLE_SERVICE__REPLAY_SPEED": "3600",
        "ORACLE_SERVICE__TICK_INTERVAL_S": "1",
        "ORACLE_SERVICE__STORE_PATH": str(tmp_path / "s.sqlite"),
        "ORACLE_SERVICE__HEALTH_PORT": str(health),
        "ORACLE_SERVICE__METRICS_PORT": str(health),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "oracle_node.cli", "run", "--config", str(EXAMPLE)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = _wait_health(health, proc)
        assert body["healthy"] is True
        published = _wait_metric(
            health, 'mlra_oracle_cycles_total{market="BTC-USD",outcome="published"}', proc
        )
        assert published >= 1
        assert RiskOracle(make_web3(anvil.url), deployed.oracle).get_market_state("BTC-USD").round >= 1
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    assert '"event":"node_stopped"' in err and "Traceback" not in err
    assert "pw" not in [
        v for line in err.splitlines() for v in json.loads(line).values() if isinstance(v, str)
    ]


def _wait_metric(port: int, name: str, proc: subprocess.Popen[str]) -> float:
    """The metric's value once it is positive (the runtime initialises every label at 0)."""
    deadline = time.time() + 120
    while time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
        value = next((float(line.split()[-1]) for line in text.splitlines() if line.startswith(name)), 0.0)
        if value > 0:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{name} never rose above 0")


def _wait_health(port: int, proc: subprocess.Popen[str]) -> dict:  # type: ignore[type-arg]
    deadline = time.time() + 120
    while time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            body = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read())
            if body["seconds_since_cycle"].get("BTC-USD") is not None:
                return body
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError("health endpoint never reported a cycle")


def test_run__surfaces_section__publishes_a_recorded_chain_to_the_surface_oracle(
    anvil: Anvil, deployed, shared_data: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """`surfaces:` with a recorded chain: the single operator fits it and its surface round lands in
    the VolSurfaceOracle next to the risk reports (one key, one nonce sequence)."""
    key = tmp_path / "k.json"
    key.write_text(json.dumps(Account.encrypt(ANVIL_KEYS[1], "pw")))
    port = free_port()
    chain = shared_data / "options" / "deribit_options_snapshot_20260120T092708Z.csv"
    env = {
        **os.environ,
        "ORACLE_CHAIN__RPC_URL": anvil.url,
        "ORACLE_CHAIN__ORACLE_ADDRESS": deployed.oracle,
        "ORACLE_SIGNER__KEYSTORE": str(key),
        "ORACLE_SIGNER__PASSWORD_ENV": "NODE_PW",
        "NODE_PW": "pw",
        "ORACLE_SERVICE__REPLAY_TICKS": str(TICKS),
        "ORACLE_SERVICE__REPLAY_SPEED": "3600",
        "ORACLE_SERVICE__TICK_INTERVAL_S": "2",
        "ORACLE_SERVICE__STORE_PATH": str(tmp_path / "s.sqlite"),
        "ORACLE_SERVICE__HEALTH_PORT": str(port),
        "ORACLE_SERVICE__METRICS_PORT": str(port),
        "ORACLE_SURFACES__ORACLE_ADDRESS": str(deployed.surface_oracle),
        "ORACLE_SURFACES__CHAINS": json.dumps([str(chain)]),
        "ORACLE_SURFACES__ROUNDS_PER_CHAIN": "3",
    }
    checked = cli(
        "check",
        "--config",
        str(EXAMPLE),
        env={k: v for k, v in env.items() if k.startswith(("ORACLE_", "NODE_"))},
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for line in (
        "ok   surface oracle",
        "ok   surface BTC",
        "ok   surface ETH",
        "ok   surface model allow-list",
    ):
        assert line in checked.stdout
    proc = subprocess.Popen([sys.executable, "-m", "oracle_node.cli", "run", "--config", str(EXAMPLE)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        _wait_health(port, proc)
        led = _wait_metric(port, 'mlra_oracle_surface_rounds_led_total{status="included"}', proc)
        assert led == 1
        surface = VolSurfaceOracle(make_web3(anvil.url), str(deployed.surface_oracle))
        btc = underlying_id("BTC")
        assert len(surface.expiries_of(btc)) >= 8 and surface.get_spot(btc)[0] > 0
        expiry = surface.expiries_of(btc)[-1]
        vol = surface.implied_vol(btc, expiry, surface.get_spot(btc)[0]) / 1e18
        assert 0.3 < vol < 0.7  # the Dec-2026 expiry's vol near spot in the 2026-01-20 chain: about 47 %
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    assert '"event":"surface_included"' in err and "Traceback" not in err
