"""`ape run deploy --network ethereum:local:node`: deploy deploy/local.yaml through ape (anvil on :8545).

The deployment itself lives in oracle_node.chain.deploy (importable by the node, tests and benchmarks).
"""

from oracle_node.chain.deploy import deploy_stack, load_deploy_config, write_deployment


def main() -> None:
    """`ape run deploy --network ethereum:local:node` (anvil on :8545): deploy deploy/local.yaml via ape."""
    from ape import accounts, chain  # noqa: PLC0415 - ape is heavy and only needed under `ape run`

    config = load_deploy_config()
    deployer = accounts.test_accounts[config.deployer if isinstance(config.deployer, int) else 0]
    deployment = deploy_stack(chain.provider.web3, deployer.address, config)
    path = write_deployment(deployment)
    print(f"deployed oracle {deployment.oracle} timelock {deployment.timelock} engine {deployment.engine}")
    print(f"wrote {path}")
