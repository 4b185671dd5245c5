"""The oracle network on a real anvil: 5 nodes (k = 3) as asyncio tasks on loopback ports.

Each node has its own key, store, HTTP server and transaction sender; providers are deterministic
fakes whose values differ slightly per node, so the expected report is recomputed here independently
(statistics.median_low) from the observations the leader included. These are protocol-level checks
(the exact median, the honest range when honest values differ, a follower restarted mid-round); the
fault suite on real `oracle-node run` processes is test_network_fault_processes.py.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from web3 import HTTPProvider, Web3

from oracle_node.chain.anvil import ANVIL_KEYS, Anvil
from oracle_node.chain.contracts import RiskOracle
from oracle_node.chain.deploy import Deployment, deploy_stack, load_deploy_config, resolve_account
from oracle_node.chain.tx import TxJournal, TxOutcome
from oracle_node.network import (
    Domain,
    LocalObservation,
    NetworkSettings,
    OracleChain,
    PeerConfig,
)
from oracle_node.network.auth import PeerAuthenticator
from oracle_node.network.client import PeerClient
from oracle_node.network.cluster import LocalCluster, Member
from oracle_node.network.errors import PeerRefused
from oracle_node.network.median import aggregate
from oracle_node.network.observation import parse_observation
from oracle_node.network.observer import ObservationProvider
from oracle_node.network.schedule import leader_index
from oracle_node.network.verify import SignerView
from oracle_node.network.wire import CosignRequest
from oracle_node.reports.eip712 import RiskReport, Signature, report_digest
from oracle_node.store import NodeStore
from oracle_node.types import RISK_FIELDS, RiskParamsBps

MODEL = bytes.fromhex("6d6c72612d6465762d6d616e69666573742d7631000000000000000000000000")
MARKETS = ("BTC-USD", "ETH-USD")
BASE = {
    "BTC-USD": RiskParamsBps(6000, 450, 520, 1200, 800, 8500, 3000, 9000),
    "ETH-USD": RiskParamsBps(7500, 560, 650, 1500, 1000, 8200, 3500, 8800),
}
SCALED = ("volatility", "var99", "es99", "initial_margin", "maintenance_margin")


def fake_params(market: str, node: int, round_: int, factor: float = 1.0) -> RiskParamsBps:
    """Node-specific, round-varying, internally consistent values (honest nodes differ by ~1-4 %)."""
    base = BASE[market]
    scale = factor * (1 + 0.01 * (node - 2) + 0.003 * (round_ % 5))
    values = {f: round(getattr(base, f) * scale) if f in SCALED else getattr(base, f) for f in RISK_FIELDS}
    values["liquidation_threshold"] = min(
        values["liquidation_threshold"] - 10 * node, 9990 - values["maintenance_margin"]
    )
    values["confidence"] -= 50 * node
    return RiskParamsBps(**values)


def provider(node: int, factor: float = 1.0) -> ObservationProvider:
    async def observe(round_: int, slot_time: int) -> LocalObservation:
        params = {m: fake_params(m, node, round_, factor) for m in MARKETS}
        inputs = round_.to_bytes(16, "big") + node.to_bytes(16, "big")
        return LocalObservation(round_, slot_time, MODEL, inputs, params)

    return observe


@dataclass
class Chain:
    w3: Web3
    deployment: Deployment
    oracle: RiskOracle
    domain: Domain
    genesis: float


@pytest.fixture(scope="module")
def chain(anvil: Anvil) -> Chain:
    w3 = Web3(HTTPProvider(anvil.url, request_kwargs={"timeout": 30}))
    config = load_deploy_config()
    profiles = tuple(p.model_copy(update={"min_interval": 1}) for p in config.profiles)
    config = config.model_copy(update={"adapters": (), "profiles": profiles})
    deployment = deploy_stack(w3, resolve_account(config.deployer), config)
    oracle = RiskOracle(w3, deployment.oracle)
    for signer in deployment.signers:  # ANVIL_KEYS[2] has a typo (not anvil's account 2): fund every signer
        w3.provider.make_request("anvil_setBalance", [signer, hex(10**21)])
    return Chain(
        w3, deployment, oracle, Domain(deployment.chain_id, deployment.oracle), math.floor(time.time())
    )


def settings(genesis: float, **over: object) -> NetworkSettings:
    base: dict[str, object] = dict(
        genesis=genesis,
        period_s=5.0,
        leader_timeout_s=2.0,
        max_attempts=3,
        deadline_s=60,
        collect_timeout_s=1.5,
        request_timeout_s=1.5,
        observe_timeout_s=1.5,
        max_skew_s=3.0,
    )  # fmt: skip  (generous: five nodes, anvil and pytest share two cores in CI)
    return NetworkSettings(**(base | over))


def keys(n: int) -> list[str]:
    return [ANVIL_KEYS[i] for i in range(1, n + 1)]  # deploy/local.yaml: signers are dev accounts 1..5


@pytest.fixture
def cluster(chain: Chain, anvil: Anvil, tmp_path: Path) -> LocalCluster:
    made = LocalCluster.create(
        anvil.url,
        chain.domain,
        settings(chain.genesis),
        keys(5),
        [provider(i) for i in range(5)],
        tmp_path,
        MARKETS,
    )
    return made  # members are started and stopped inside each test's own event loop


async def run_rounds(cluster: LocalCluster, alive: list[Member], rounds: int) -> tuple[int, int]:
    """Start `alive`, run them through `rounds` common rounds; (first, last) round."""
    for member in alive:
        if member.node is None:
            await cluster.start(member)
    first = max(m.node.book.first_round for m in alive if m.node is not None)
    last = first + rounds - 1
    try:
        runs = asyncio.gather(
            *(m.node.run(last) for m in alive if m.node is not None), return_exceptions=True
        )
        await asyncio.wait_for(runs, timeout=rounds * cluster.settings.period_s + 30)
    finally:
        await cluster.stop()
    return first, last


def included_reports(cluster: LocalCluster) -> dict[int, dict[str, object]]:
    """round -> stored body of the report each leader saw included (from the members' store files)."""
    out: dict[int, dict[str, object]] = {}
    for member in cluster.members:
        with NodeStore.open(member.store_path) as store:
            for record in store.reports_with_status("included"):
                out[record.round] = record.body
    return out


def median_of(body: dict[str, object], domain: Domain) -> dict[str, RiskParamsBps]:
    """Independent recomputation: statistics.median_low per field over the included observations."""
    observations = [parse_observation(o, domain) for o in body["observations"]]  # type: ignore[union-attr]
    out = {}
    for market in MARKETS:
        sets = [o.risk_params()[market] for o in observations if market in o.markets]
        out[market] = RiskParamsBps(
            *(statistics.median_low(col) for col in zip(*(s.as_tuple() for s in sets), strict=False))
        )
    return out


def onchain(chain: Chain) -> dict[str, tuple[RiskParamsBps, int]]:
    return {m: (p.params, p.round) for m in MARKETS for p in [chain.oracle.get_risk_params(m)]}


def test_network__five_nodes__reports_land_with_k_signatures_and_equal_the_median(
    chain: Chain, cluster: LocalCluster
) -> None:
    first, last = asyncio.run(run_rounds(cluster, cluster.members, rounds=3))
    landed = included_reports(cluster)
    assert sorted(landed) == list(range(first, last + 1))
    for body in landed.values():
        assert len(body["observations"]) >= 4  # type: ignore[arg-type]  # all 5 unless one answered late
        expected = median_of(body, chain.domain)
        report = body["report"]
        assert report["markets"] == list(MARKETS)  # type: ignore[index]
        assert [int(p) for p in report["params"]] == [expected[m].pack() for m in MARKETS]  # type: ignore[index]
    state = onchain(chain)
    expected_last = median_of(landed[last], chain.domain)
    for market in MARKETS:
        assert state[market] == (expected_last[market], last)


class HookChain:
    """The member's real chain, with a hook that runs (in the submitting thread) before each submit."""

    def __init__(self, inner: OracleChain, hook: Callable[[RiskReport], None]) -> None:
        self.inner, self.hook = inner, hook

    def signer_view(self) -> SignerView:
        return self.inner.signer_view()

    def stored_round(self, markets: Sequence[str]) -> int:
        return self.inner.stored_round(markets)

    def submit(
        self, report: RiskReport, signatures: Sequence[Signature], journal: TxJournal | None
    ) -> TxOutcome:
        self.hook(report)
        return self.inner.submit(report, signatures, journal)


def hooked(cluster: LocalCluster, hook: Callable[[Member, RiskReport], None]) -> None:
    def factory(member: Member) -> OracleChain:
        cluster.chain_factory = None
        inner = cluster.chain_for(member)
        cluster.chain_factory = factory
        return HookChain(inner, lambda report: hook(member, report))

    cluster.chain_factory = factory


def assert_all_landed(
    chain: Chain, cluster: LocalCluster, first: int, last: int, observations: int | set[int]
) -> dict[int, dict[str, Any]]:
    counts = observations if isinstance(observations, set) else {observations}
    landed = included_reports(cluster)
    assert sorted(r for r in landed if first <= r <= last) == list(range(first, last + 1))
    for body in landed.values():
        assert len(body["observations"]) in counts
        expected = median_of(body, chain.domain)
        assert [int(p) for p in body["report"]["params"]] == [expected[m].pack() for m in MARKETS]
    return landed


def honest_range(round_: int, market: str, honest: Sequence[int]) -> list[tuple[int, int]]:
    sets = [fake_params(market, i, round_).as_tuple() for i in honest]
    return [(min(col), max(col)) for col in zip(*sets, strict=False)]


def assert_within_honest(landed: dict[int, dict[str, Any]], honest: Sequence[int]) -> None:
    for round_, body in landed.items():
        for market, word in zip(body["report"]["markets"], body["report"]["params"], strict=False):
            values = RiskParamsBps.unpack(int(word)).as_tuple()
            for field, value, (lo, hi) in zip(
                RISK_FIELDS, values, honest_range(round_, market, honest), strict=False
            ):
                assert lo <= value <= hi, (round_, market, field, value, lo, hi)


def test_network__byzantine_poisoned_values__land_and_move_no_field_beyond_the_honest_range(
    chain: Chain, cluster: LocalCluster
) -> None:
    cluster.members[4].provider = provider(4, factor=3.0)  # tripled vol/VaR/ES/margins
    first, last = asyncio.run(run_rounds(cluster, cluster.members, rounds=5))
    landed = assert_all_landed(chain, cluster, first, last, observations={4, 5})
    assert_within_honest({r: b for r, b in landed.items() if first <= r <= last}, honest=range(4))


def test_network__follower_restarted_mid_round__refuses_a_different_digest_and_resends_the_same(
    chain: Chain, cluster: LocalCluster
) -> None:
    seen: dict[str, Any] = {}

    def pause_first_submit(member: Member, report: RiskReport) -> None:
        if not seen:
            seen.update(leader=member, report=report)
            try:
                asyncio.run_coroutine_threadsafe(restart_and_probe(), loop).result(timeout=20)
            except Exception as exc:
                seen["error"] = exc
                raise

    async def restart_and_probe() -> None:
        leader, report = seen["leader"], seen["report"]
        digest = report_digest(report, chain.domain.chain_id, chain.domain.oracle)
        follower = next(
            m
            for m in cluster.members
            if m is not leader and m.store.signature(report.round, m.signer.address)
        )
        original = follower.store.signature(report.round, follower.signer.address)
        await cluster.kill(follower)
        await cluster.start(follower)  # restarted mid-round over the same store file
        body = leader.store.report(digest).body
        observations = tuple(parse_observation(o, chain.domain) for o in body["observations"])
        keep = {follower.signer.address, leader.signer.address}
        subset = (
            tuple(o for o in observations if o.signer in keep)
            + tuple(o for o in observations if o.signer not in keep)[:1]
        )  # k = 3 of the >= 4 it signed over: a valid median, a different digest
        other = aggregate(subset, round_=report.round, threshold=3, epoch=1, deadline=report.deadline)
        assert other != report
        attempt = next(a for a in (1, 2) if cluster.members[leader_index(report.round, a, 5)] is not follower)
        next_leader = cluster.members[leader_index(report.round, attempt, 5)]
        peer = PeerConfig(address=follower.signer.address, url=f"http://127.0.0.1:{follower.port}")
        async with aiohttp.ClientSession() as session:
            for who, attempt_, proposal in ((next_leader, attempt, other), (leader, 0, report)):
                auth = PeerAuthenticator(chain.domain, who.signer, [peer.address], 30)
                client = PeerClient(session, auth, chain.domain, 2.0)
                request = CosignRequest(
                    report.round, attempt_, proposal, subset if proposal is other else observations
                )
                seen.setdefault("answers", []).append(await _answer(client, peer, request))
        seen["original"] = original.signature

    hooked(cluster, pause_first_submit)

    async def scenario() -> tuple[int, int]:
        nonlocal loop
        loop = asyncio.get_running_loop()
        return await run_rounds(cluster, cluster.members, rounds=2)

    loop: asyncio.AbstractEventLoop
    first, _ = asyncio.run(scenario())
    assert "error" not in seen, repr(seen.get("error"))
    refused, same = seen["answers"]
    assert isinstance(refused, PeerRefused) and (refused.status, refused.reason) == (409, "equivocation")
    assert same[1] == seen["original"]  # the same bytes it signed before the restart
    assert first in included_reports(cluster)


async def _answer(client: PeerClient, peer: PeerConfig, request: CosignRequest) -> Any:
    try:
        return await client.request_cosign(peer, request)
    except PeerRefused as exc:
        return exc
