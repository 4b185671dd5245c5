"""Time from a round's slot start to the report's inclusion, 3 nodes (k = 2) on anvil, >= 20 rounds:
automine, and one-second blocks (`anvil --block-time 1`)."""

from __future__ import annotations

import asyncio
import json
import math
import statistics
import time
from pathlib import Path

import pytest
from web3 import HTTPProvider, Web3

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.deploy import deploy_stack, load_deploy_config, resolve_account
from oracle_node.network import Domain
from oracle_node.network.cluster import LocalCluster
from tests.integration.test_network_cluster import MARKETS, provider, settings

ROUNDS = 20


def measure(block_time: float | None, store_dir: Path) -> list[float]:
    with Anvil(block_time=block_time) as anvil:
        w3 = Web3(HTTPProvider(anvil.url, request_kwargs={"timeout": 30}))
        config = load_deploy_config()
        profiles = tuple(p.model_copy(update={"min_interval": 1}) for p in config.profiles)
        config = config.model_copy(
            update={"adapters": (), "profiles": profiles, "signers": (1, 3, 4), "threshold": 2}
        )
        deployment = deploy_stack(w3, resolve_account(config.deployer), config)
        domain = Domain(deployment.chain_id, deployment.oracle)
        net = settings(math.floor(time.time()), period_s=2.0, leader_timeout_s=1.9)
        keys = [ANVIL_KEYS[i] for i in (1, 3, 4)]
        cluster = LocalCluster.create(
            anvil.url, domain, net, keys, [provider(i) for i in range(3)], store_dir, MARKETS
        )
        return asyncio.run(_run(cluster))


async def _run(cluster: LocalCluster) -> list[float]:
    for member in cluster.members:
        await cluster.start(member)
    first = max(m.node.book.first_round for m in cluster.members if m.node)
    last = first + ROUNDS - 1
    try:
        runs = [m.node.run(last) for m in cluster.members if m.node]
        await asyncio.wait_for(asyncio.gather(*runs), ROUNDS * 2.0 + 30)
    finally:
        await cluster.stop()
    s = cluster.settings
    latencies = {
        o.round: at - (s.genesis + o.round * s.period_s)
        for m in cluster.members
        for o, at in m.outcomes
        if o.status == "included" and first <= o.round <= last
    }
    assert sorted(latencies) == list(range(first, last + 1)), "every round must land"
    return [latencies[r] for r in sorted(latencies)]


@pytest.mark.slow
@pytest.mark.parametrize("block_time", [None, 1.0])
def test_network_latency__20_rounds__every_round_lands(block_time: float | None, tmp_path: Path) -> None:
    """Behaviour only (every round lands, in order); the latency figures are `make bench-network`'s."""
    latencies = measure(block_time, tmp_path)
    p50 = statistics.median(latencies)
    p95 = sorted(latencies)[math.ceil(0.95 * len(latencies)) - 1]
    mode = "automine" if block_time is None else f"block_time_{block_time:g}s"
    print(
        json.dumps(
            {
                "mode": mode,
                "rounds": len(latencies),
                "inclusion_p50_s": round(p50, 3),
                "inclusion_p95_s": round(p95, 3),
            }
        )
    )
