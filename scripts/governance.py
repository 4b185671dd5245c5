"""DAO and guardian actions on a deployed stack (deployments/<network>.json).

DAO changes go through the timelock: `schedule` queues the oracle call with the timelock's minimum
delay, `execute` runs it once ready, `run` does both on a dev chain (anvil) by advancing time in between.
The salt is derived from the calldata, so `schedule` and `execute` of the same action match.

  python -m scripts.governance --from 8 run allow-model 0x<sha256 of the manifest>
  python -m scripts.governance --from 8 schedule set-signers 1 3 4 5 6 --threshold 3
  python -m scripts.governance --from 9 guardian pause-market ETH-USD
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from eth_utils import keccak
from web3 import HTTPProvider, Web3

from oracle_node.chain.anvil import ANVIL_KEYS
from oracle_node.chain.contracts import ContractCall, RiskOracle, Sender, TimelockController, TxResult
from oracle_node.chain.deploy import (
    DEFAULT_CONFIG,
    DEFAULT_OUT,
    load_deploy_config,
    load_deployment,
    resolve_account,
)
from oracle_node.errors import ConfigError, OracleNodeError
from oracle_node.types import market_id_bytes32

DEV_CHAIN_IDS = {31337}


def _account(ref: str) -> str:
    if ref.isdigit() and int(ref) < len(ANVIL_KEYS):
        return resolve_account(int(ref))
    if not Web3.is_address(ref):
        raise ConfigError(f"account {ref!r} is neither a dev account index nor an address")
    return resolve_account(ref)


def _hash32(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ConfigError(f"model hash {text!r} is not 32 bytes of hex")
    return raw


def _market(symbol: str | None) -> bytes:
    try:
        return market_id_bytes32(symbol or "")
    except ValueError as exc:
        raise ConfigError(f"market: {exc}") from exc


def dao_call(oracle: RiskOracle, action: str, args: argparse.Namespace) -> ContractCall:
    """The oracle call a DAO action makes (executed by the timelock)."""
    if action == "set-signers":
        return oracle.encode("setSigners", [_account(s) for s in args.signers], args.threshold)
    if action in ("allow-model", "disallow-model"):
        return oracle.encode("setModelAllowed", _hash32(args.model_hash), action == "allow-model")
    if action == "set-bounds":
        profiles = {p.id: p for p in load_deploy_config(args.config).profiles}
        if args.profile not in profiles:
            raise ConfigError(f"profile {args.profile} is not defined in {args.config}")
        return oracle.encode("setBounds", args.profile, profiles[args.profile].bounds().to_abi())
    if action == "list-market":
        return oracle.encode("listMarket", _market(args.market), args.profile)
    if action == "set-max-age":
        return oracle.encode("setMaxReportAge", args.seconds)
    if action == "unpause":
        return oracle.encode("unpause")
    if action == "unpause-market":
        return oracle.encode("unpauseMarket", _market(args.market))
    raise ConfigError(f"unknown DAO action {action!r}")


def salt_of(call: ContractCall) -> bytes:
    return keccak(call.data)


def schedule(timelock: TimelockController, call: ContractCall, sender: Sender) -> bytes:
    """Queue `call` with the minimum delay; returns the operation id."""
    timelock.schedule(call, salt_of(call), timelock.min_delay(), sender=sender)
    return timelock.operation_id(call, salt_of(call))


def execute(timelock: TimelockController, call: ContractCall, sender: Sender) -> TxResult:
    return timelock.execute(call, salt_of(call), sender=sender)


def run_now(w3: Web3, timelock: TimelockController, call: ContractCall, sender: Sender) -> TxResult:
    """schedule, advance a dev chain's clock past the delay, execute (refuses on non-dev chains)."""
    if w3.eth.chain_id not in DEV_CHAIN_IDS:
        raise ConfigError(
            f"`run` advances time and only works on a dev chain, not chain id {w3.eth.chain_id}"
        )
    schedule(timelock, call, sender)
    w3.provider.make_request("evm_increaseTime", [timelock.min_delay()])
    w3.provider.make_request("evm_mine", [])
    return execute(timelock, call, sender)


def guardian(oracle: RiskOracle, action: str, market: str | None, sender: Sender) -> TxResult:
    if action == "pause":
        return oracle.pause(sender)
    if action == "pause-market" and market:
        return oracle.pause_market(market, sender)
    raise ConfigError(f"guardian action {action!r} needs: pause | pause-market MARKET")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--deployment", type=Path, default=DEFAULT_OUT)
    p.add_argument("--rpc", default="http://127.0.0.1:8545")
    p.add_argument("--from", dest="sender", required=True, help="dev account index or unlocked address")
    p.add_argument("mode", choices=["schedule", "execute", "run", "guardian"])
    p.add_argument("action")
    p.add_argument("rest", nargs="*", help="action arguments")
    p.add_argument("--threshold", type=int, default=0)
    p.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG, help="deploy config with the bounds profiles"
    )
    return p


def _action_args(ns: argparse.Namespace) -> argparse.Namespace:
    rest = ns.rest
    ns.signers = rest
    ns.model_hash = rest[0] if rest else ""
    ns.market = rest[0] if rest else None
    ns.profile = int(rest[-1]) if rest and rest[-1].isdigit() else -1
    ns.seconds = int(rest[0]) if rest and rest[0].isdigit() else 0
    return ns


def main(argv: list[str] | None = None) -> int:
    ns = _action_args(_parser().parse_args(argv))
    try:
        deployment = load_deployment(ns.deployment)
        w3 = Web3(HTTPProvider(ns.rpc, request_kwargs={"timeout": 30}))
        oracle, sender = RiskOracle(w3, deployment.oracle), _account(ns.sender)
        if ns.mode == "guardian":
            result = guardian(oracle, ns.action, ns.market, sender)
        else:
            timelock, call = TimelockController(w3, deployment.timelock), dao_call(oracle, ns.action, ns)
            if ns.mode == "schedule":
                print(f"scheduled operation 0x{schedule(timelock, call, sender).hex()}")
                return 0
            result = (
                execute(timelock, call, sender)
                if ns.mode == "execute"
                else run_now(w3, timelock, call, sender)
            )
    except OracleNodeError as exc:
        print(f"governance {ns.mode} {ns.action} failed: {exc}", file=sys.stderr)
        return 1
    print(f"{ns.mode} {ns.action}: tx {result.tx_hash} gas {result.gas_used}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
