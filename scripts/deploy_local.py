"""`make deploy-local`: make sure an anvil answers on 127.0.0.1:8545, deploy the stack, write the addresses.

An anvil started here keeps running after the script exits (the demo and `oracle-node` use it); its pid
and log go to var/. Stop it with `kill $(cat var/anvil-8545.pid)`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from web3 import HTTPProvider, Web3

from oracle_node.chain.anvil import anvil_binary
from oracle_node.chain.deploy import (
    DEFAULT_CONFIG,
    DEFAULT_OUT,
    REPO_ROOT,
    deploy_stack,
    load_deploy_config,
    resolve_account,
    write_deployment,
)
from oracle_node.errors import OracleNodeError


def _answers(w3: Web3) -> bool:
    try:
        return w3.is_connected()
    except OSError:
        return False


def ensure_anvil(port: int, chain_id: int, timeout_s: float = 20.0) -> Web3:
    """A Web3 on 127.0.0.1:port, starting a detached anvil there if nothing answers."""
    w3 = Web3(HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 10}))
    if _answers(w3):
        return w3
    var = REPO_ROOT / "var"
    var.mkdir(exist_ok=True)
    args = [anvil_binary(), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id)]
    args += ["--gas-limit", "60000000"]
    with (var / f"anvil-{port}.log").open("ab") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    (var / f"anvil-{port}.pid").write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise OracleNodeError(f"anvil exited with code {proc.returncode}; see var/anvil-{port}.log")
        if _answers(w3):
            print(f"started anvil on port {port} (pid {proc.pid}, log var/anvil-{port}.log)")
            return w3
        time.sleep(0.1)
    raise OracleNodeError(f"anvil did not answer on port {port} within {timeout_s:.0f}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--port", type=int, default=8545)
    args = parser.parse_args(argv)
    try:
        config = load_deploy_config(args.config)
        w3 = ensure_anvil(args.port, config.chain_id)
        deployment = deploy_stack(w3, resolve_account(config.deployer), config)
        write_deployment(deployment, args.out)
    except OracleNodeError as exc:
        print(f"deploy-local failed: {exc}", file=sys.stderr)
        return 1
    print(f"oracle   {deployment.oracle}\ntimelock {deployment.timelock}\nengine   {deployment.engine}")
    print(f"adapters {sum(len(v) for v in deployment.adapters.values())}, wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
