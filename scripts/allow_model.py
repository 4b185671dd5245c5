"""Allow-list a model on the RiskOracle through the DAO's timelock (governance action).

A report's modelHash is the sha256 of its manifest's canonical JSON (sorted keys, no whitespace):
the node's bundled manifest (oracle_node/models/artifacts) or one written by `oracle-node train`;
`--manifest` loads it as the node does (schema and artifact hashes checked) before hashing.
The DAO proposes `setModelAllowed(hash, true)` to the timelock, waits its minimum delay, executes.

    python -m scripts.allow_model --from 8 schedule --manifest DIR     # queue (prints the ready time)
    python -m scripts.allow_model --from 8 execute  --manifest DIR     # after the delay
    python -m scripts.allow_model --from 8 run --hash 0x<64 hex>       # dev chain: schedule, advance, execute
    python -m scripts.allow_model --from 8 status --manifest DIR
Add --disallow to revoke instead.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from web3 import HTTPProvider, Web3

from oracle_node.chain.contracts import ContractCall, RiskOracle, Sender, TimelockController
from oracle_node.chain.deploy import DEFAULT_OUT, load_deployment
from oracle_node.errors import ConfigError, OracleNodeError
from oracle_node.models.manifest import load_manifest
from scripts.governance import _account, _hash32, execute, run_now, salt_of, schedule


def manifest_hash(directory: Path | str) -> bytes:
    """The model hash of DIR/manifest.json (or of the manifest file given) as the node computes it:
    the manifest is checked against the schema and every artifact's sha256 verified first, so the DAO
    never allow-lists a model the node would refuse to load (ModelError naming file, field, value)."""
    return load_manifest(directory).hash


@dataclass(frozen=True)
class AllowModel:
    """The governance action for one model hash on one deployment."""

    oracle: RiskOracle
    timelock: TimelockController
    model_hash: bytes
    allowed: bool = True

    @property
    def call(self) -> ContractCall:
        return self.oracle.encode("setModelAllowed", self.model_hash, self.allowed)

    @property
    def operation_id(self) -> bytes:
        return self.timelock.operation_id(self.call, salt_of(self.call))

    def schedule(self, sender: Sender) -> bytes:
        return schedule(self.timelock, self.call, sender)

    def ready(self) -> bool:
        return self.timelock.is_operation_ready(self.operation_id)

    def execute(self, sender: Sender) -> str:
        if not self.ready():
            raise ConfigError(
                f"operation 0x{self.operation_id.hex()} is not ready: schedule it and wait "
                f"{self.timelock.min_delay()} s (the timelock's minimum delay)"
            )
        return execute(self.timelock, self.call, sender).tx_hash

    def run_dev(self, w3: Web3, sender: Sender) -> str:
        """schedule, advance a dev chain past the delay, execute (refused on non-dev chains)."""
        return run_now(w3, self.timelock, self.call, sender).tx_hash


def action_for(w3: Web3, deployment_path: Path, model_hash: bytes, allowed: bool = True) -> AllowModel:
    d = load_deployment(deployment_path)
    return AllowModel(RiskOracle(w3, d.oracle), TimelockController(w3, d.timelock), model_hash, allowed)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["schedule", "execute", "run", "status"])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--manifest", type=Path, help="model directory (manifest.json) or the manifest file")
    src.add_argument("--hash", dest="model_hash", help="0x + 64 hex: the manifest hash")
    p.add_argument("--from", dest="sender", default="8", help="dev account index or unlocked address")
    p.add_argument("--deployment", type=Path, default=DEFAULT_OUT)
    p.add_argument("--rpc", default="http://127.0.0.1:8545")
    p.add_argument("--disallow", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    ns = _parser().parse_args(argv)
    try:
        digest = manifest_hash(ns.manifest) if ns.manifest else _hash32(ns.model_hash)
        w3 = Web3(HTTPProvider(ns.rpc, request_kwargs={"timeout": 30}))
        action = action_for(w3, ns.deployment, digest, not ns.disallow)
        if ns.mode == "status":
            print(f"model 0x{digest.hex()} allowed={action.oracle.is_model_allowed(digest)} "
                  f"operation 0x{action.operation_id.hex()} ready={action.ready()}")  # fmt: skip
            return 0
        sender = _account(ns.sender)
        if ns.mode == "schedule":
            op = action.schedule(sender)
            print(f"scheduled 0x{op.hex()}: executable in {action.timelock.min_delay()} s")
            return 0
        tx = action.execute(sender) if ns.mode == "execute" else action.run_dev(w3, sender)
    except OracleNodeError as exc:
        print(f"allow_model {ns.mode} failed: {exc}", file=sys.stderr)
        return 1
    print(f"model 0x{digest.hex()} allowed={action.oracle.is_model_allowed(digest)} tx {tx}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
