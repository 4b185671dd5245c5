"""A network of nodes in one process on loopback ports (integration tests, `bench-network`, the demo).

Each member has its own key, store file, HTTP server, Web3 connection and TxSender, exactly as
separate operators would; only the event loop is shared.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eth_account import Account

from oracle_node.chain.anvil import free_port
from oracle_node.chain.contracts import RiskOracle
from oracle_node.chain.rpc import make_web3
from oracle_node.chain.surface_oracle import VolSurfaceOracle
from oracle_node.chain.tx import TxPolicy, TxSender
from oracle_node.chain.view import ChainView
from oracle_node.network.chain_view import ContractChain, ContractSurfaceChain, OracleChain, PendingBlockWeb3
from oracle_node.network.leader import LeadOutcome
from oracle_node.network.node import NetworkNode
from oracle_node.network.observation import Domain
from oracle_node.network.observer import ObservationProvider
from oracle_node.network.schedule import RoundClock
from oracle_node.network.settings import NetworkSettings, PeerConfig
from oracle_node.network.signing import LocalKeySigner
from oracle_node.network.surface_round import SurfaceProvider, SurfaceRounds
from oracle_node.store import NodeStore


@dataclass
class Member:
    name: str
    key: str
    signer: LocalKeySigner
    port: int
    store_path: Path
    provider: ObservationProvider
    node_class: type[NetworkNode] = NetworkNode
    surface_provider: SurfaceProvider | None = None  # this member also publishes surfaces
    node: NetworkNode | None = None
    store: NodeStore | None = None
    outcomes: list[tuple[LeadOutcome, float]] = field(default_factory=list)  # (outcome, wall time)


@dataclass
class LocalCluster:
    rpc_url: str
    domain: Domain
    settings: NetworkSettings  # shared values; peers and listen_port are filled in per member
    members: list[Member]
    markets: tuple[str, ...]
    tx_policy: TxPolicy = field(default_factory=lambda: TxPolicy(poll_interval_s=0.05, receipt_timeout_s=20))
    chain_factory: Callable[[Member], OracleChain] | None = None
    surface_oracle: str | None = None  # the VolSurfaceOracle that members with a surface provider feed
    now: Callable[[], float] = time.time  # every member's clock (a replay in data time passes its own)

    @classmethod
    def create(
        cls,
        rpc_url: str,
        domain: Domain,
        settings: NetworkSettings,
        keys: Sequence[str],
        providers: Sequence[ObservationProvider],
        store_dir: Path,
        markets: tuple[str, ...],
    ) -> LocalCluster:
        members = [
            Member(f"node{i}", key, LocalKeySigner(key), free_port(), store_dir / f"node{i}.sqlite", provider)
            for i, (key, provider) in enumerate(zip(keys, providers, strict=True))
        ]
        peers = tuple(PeerConfig(address=m.signer.address, url=f"http://127.0.0.1:{m.port}") for m in members)
        return cls(rpc_url, domain, settings.model_copy(update={"peers": peers}), members, markets)

    def chain_for(self, member: Member) -> OracleChain:
        if self.chain_factory is not None:
            return self.chain_factory(member)
        w3 = make_web3(self.rpc_url, timeout_s=10)
        sender = TxSender(PendingBlockWeb3(w3), Account.from_key(member.key), self.tx_policy)  # type: ignore[arg-type]
        oracle = RiskOracle(w3, self.domain.oracle)
        return ContractChain(oracle, sender, ChainView(oracle, self.markets))

    async def start(self, member: Member) -> NetworkNode:
        """(Re)start a member: a fresh node over its store file, serving on its fixed port."""
        member.store = NodeStore.open(member.store_path)
        settings = self.settings.model_copy(update={"listen_port": member.port})
        chain = self.chain_for(member)
        member.node = member.node_class(
            settings=settings,
            domain=self.domain,
            signer=member.signer,
            store=member.store,
            chain=chain,
            provider=member.provider,
            markets=self.markets,
            on_outcome=lambda outcome: member.outcomes.append((outcome, time.time())),
            surfaces=self._surfaces(member, settings, chain),
            now=self.now,
        )
        await member.node.start()
        return member.node

    def _surfaces(
        self, member: Member, settings: NetworkSettings, chain: OracleChain
    ) -> SurfaceRounds | None:
        """The member's surface rounds, submitting through the same TxSender as its risk reports."""
        if member.surface_provider is None or self.surface_oracle is None:
            return None
        sender = getattr(chain, "sender", None)
        if sender is None:
            raise ValueError(f"{member.name}: surfaces need a chain with a TxSender (ContractChain)")
        oracle = VolSurfaceOracle(make_web3(self.rpc_url, timeout_s=10), self.surface_oracle)
        assert member.store is not None
        return SurfaceRounds(
            settings=settings,
            clock=RoundClock(settings.genesis, settings.period_s, settings.leader_timeout_s),
            provider=member.surface_provider,
            chain=ContractSurfaceChain(oracle, sender),
            store=member.store,
            signer=member.signer,
            chain_id=self.domain.chain_id,
            domain_oracle=self.surface_oracle,
            now=self.now,
        )

    async def kill(self, member: Member) -> None:
        """Stop a member at once (its in-flight work is cancelled, its store closed)."""
        if member.node is not None:
            await member.node.stop()
            member.node = None
        if member.store is not None:
            member.store.close()
            member.store = None

    async def stop(self) -> None:
        for member in self.members:
            await self.kill(member)
