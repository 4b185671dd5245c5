"""`ape run deploy --network ethereum:local:node`: deploy deploy/local.yaml through ape (anvil on :8545).

Any JSON-RPC node works as the network, e.g. `--network http://127.0.0.1:8546` (anvil on another
port); `--config` and `--out` choose the deployment file and where the addresses go. The deployment
itself lives in oracle_node.chain.deploy (importable by the node, tests and benchmarks).
"""

from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand, network_option

from oracle_node.chain.deploy import (
    DEFAULT_CONFIG,
    DEFAULT_OUT,
    deploy_stack,
    load_deploy_config,
    write_deployment,
)


@click.command(cls=ConnectedProviderCommand, short_help="Deploy deploy/local.yaml's stack through ape")
@network_option()
@click.option(
    "--config", "config_path", type=click.Path(path_type=Path), default=DEFAULT_CONFIG, show_default=True
)
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_OUT, show_default=True)
def cli(config_path: Path, out: Path) -> None:
    """Deploy the timelock, oracle, adapters and margin engine with ape's test accounts as deployer."""
    from ape import accounts, chain  # noqa: PLC0415 - loaded by `ape run`, which has connected the network

    config = load_deploy_config(config_path)
    deployer = accounts.test_accounts[config.deployer if isinstance(config.deployer, int) else 0]
    deployment = deploy_stack(chain.provider.web3, deployer.address, config)
    path = write_deployment(deployment, out)
    click.echo(
        f"deployed oracle {deployment.oracle} timelock {deployment.timelock} engine {deployment.engine}"
    )
    click.echo(f"wrote {path}")
