"""A demo network on a local chain: deployment, three pipeline-driven nodes (k = 2), round records.

session = DemoSession(options, anvil_url, workdir)
session.deploy()                         # timelock, oracle, adapters, margin engine; signers 3, k 2
result = asyncio.run(session.run(on_round=print))

Each round of the network replays one data hour; after a round lands (or its attempts are over) a
`RoundRecord` is taken: the on-chain values, which node led, the gas, the rejected sources of every
node, each node's own signed values, and the margin engine's maintenance requirement for an example
1M tUSD BTC position.

The nodes serve DEMO_MODEL: the served model's recipe (qgbm_har_v1) trained only on days before
2020-03-01 (`scripts/train_models.py --test-start 2020-03-01`), so the March 2020 crash the demo
replays is out of sample; the served model's own cut (2021-01-01) would have trained on it. The
demo's deployment allow-lists it next to deploy/local.yaml's models.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from eth_account import Account
from web3 import HTTPProvider, Web3

from oracle_node.chain.anvil import ANVIL_KEYS
from oracle_node.chain.contracts import OptionsMarginEngine, RiskOracle, TestUSD
from oracle_node.chain.deploy import Deployment, deploy_stack, load_deploy_config, resolve_account
from oracle_node.chain.view import ChainView
from oracle_node.config import NodeConfig
from oracle_node.demo.views import HOUR, Attack, node_ticks, utc
from oracle_node.models.manifest import ARTIFACTS_DIR
from oracle_node.network import Domain, LeadOutcome, NetworkSettings
from oracle_node.network.cluster import LocalCluster, Member
from oracle_node.service.dashboard import Dashboard, DashboardSources, StateBuilder
from oracle_node.service.observer import ChainBounds, NodeRound, PipelineObserver, ReplaySchedule
from oracle_node.service.wiring import build_pipeline, load_model
from oracle_node.types import RiskParamsBps

MARKETS = ("BTC-USD", "ETH-USD")
SIGNER_ACCOUNTS = (1, 3, 4)  # anvil dev accounts of the three operators
TRADER_ACCOUNT = 6
DEMO_MODEL = ARTIFACTS_DIR / "demo_cut_2020_03_01"  # trained on days before 2020-03-01 (module docstring)
USD = 10**6


@dataclass(frozen=True)
class DemoOptions:
    start: str = "2020-03-10T12"
    end: str = "2020-03-13T12"
    period_s: float = 2.0
    leader_timeout_s: float = 1.0
    manipulated: int = 2  # index of the node whose venues are manipulated
    attack: Attack = field(default_factory=Attack)
    position_usd: int = 1_000_000
    dashboard_port: int | None = 0  # node0's dashboard on loopback (0: any free port, None: off)


@dataclass
class RoundRecord:
    round: int
    data_time: float
    landed: bool
    leader: str | None = None
    attempt: int | None = None
    gas_used: int | None = None
    onchain: dict[str, RiskParamsBps] = field(default_factory=dict)
    nodes: dict[str, NodeRound] = field(default_factory=dict)
    maintenance: int | None = None
    fallback: bool = False
    slot_time: float = 0.0
    included_at: float | None = None  # wall time the leader saw the receipt

    def price(self, market: str, node: str = "node0") -> float | None:
        seen = self.nodes.get(node)
        outcome = seen.outcomes.get(market) if seen else None
        return outcome.guard.aggregate_price if outcome else None

    def rejected(self, market: str) -> list[str]:
        return [
            f"{name}/{source}:{why}"
            for name, seen in sorted(self.nodes.items())
            if (o := seen.outcomes.get(market)) is not None
            for source, why in sorted(o.guard.reasons().items())
        ]


@dataclass
class DemoResult:
    records: list[RoundRecord]
    deployment: Deployment
    names: tuple[str, ...]
    manipulated: str
    wall_s: float = 0.0
    stores: tuple[Path, ...] = ()  # the members' store files (valid while the workdir exists)


class DemoSession:
    def __init__(self, options: DemoOptions, rpc_url: str, workdir: Path) -> None:
        self.options, self.rpc_url, self.workdir = options, rpc_url, workdir
        self.w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
        self.start, self.end = utc(options.start), utc(options.end)
        self.deployment: Deployment | None = None
        self.trader = Account.from_key(ANVIL_KEYS[TRADER_ACCOUNT])
        self._position = False

    def deploy(self) -> Deployment:
        base = load_deploy_config()
        profiles = tuple(p.model_copy(update={"min_interval": 1}) for p in base.profiles)
        models = (*base.models, {"manifest": str(DEMO_MODEL / "manifest.json")})
        config = base.model_copy(
            update={"profiles": profiles, "signers": SIGNER_ACCOUNTS, "threshold": 2, "models": models}
        )
        self.deployment = deploy_stack(self.w3, resolve_account(config.deployer), config)
        for signer in self.deployment.signers:
            self.w3.provider.make_request("anvil_setBalance", [signer, hex(10**21)])  # type: ignore[attr-defined]
        token = TestUSD(self.w3, self.deployment.collateral)
        amount = self.options.position_usd * USD
        token.mint(self.trader.address, amount, sender=Account.from_key(ANVIL_KEYS[0]))
        token.approve(self.deployment.engine, 2**255, sender=self.trader)
        self.engine.deposit(amount, sender=self.trader)
        return self.deployment

    @property
    def engine(self) -> OptionsMarginEngine:
        assert self.deployment is not None, "deploy() first"
        return OptionsMarginEngine(self.w3, self.deployment.engine)

    @property
    def oracle(self) -> RiskOracle:
        assert self.deployment is not None, "deploy() first"
        return RiskOracle(self.w3, self.deployment.oracle)

    def node_config(self) -> NodeConfig:
        """What every demo node runs: the bundled hourly histories and DEMO_MODEL."""
        return NodeConfig(
            node_name="demo",
            markets=[
                {"id": "BTC-USD", "history": "bundled:binance_btcusdt_spot_1h"},
                {"id": "ETH-USD", "history": "bundled:binance_ethusdt_spot_1h"},
            ],
            service={"store_path": self.workdir / "unused.sqlite"},
            model={"manifest": str(DEMO_MODEL)},
        )

    def observers(self) -> list[PipelineObserver]:
        """One pipeline per node, warmed on the bundled history up to the replay's start."""
        cfg = self.node_config()
        placeholder = ReplaySchedule(0, self.start, self.end)
        out = []
        for i in range(len(SIGNER_ACCOUNTS)):
            model = load_model(cfg)
            attack = self.options.attack if i == self.options.manipulated else None
            out.append(
                PipelineObserver(
                    f"node{i}",
                    build_pipeline(cfg, list(MARKETS), self.start, model),
                    node_ticks(i, MARKETS, self.start, self.end, attack),
                    placeholder,
                    ChainBounds(
                        ChainView(RiskOracle(Web3(HTTPProvider(self.rpc_url)), self.oracle.address), MARKETS)
                    ),
                    model.model_hash,
                )
            )
        return out

    def network_settings(self, genesis: float) -> NetworkSettings:
        o = self.options
        return NetworkSettings(
            genesis=genesis, period_s=o.period_s, leader_timeout_s=o.leader_timeout_s, max_attempts=3,
            deadline_s=60, collect_timeout_s=0.6, request_timeout_s=1.0, observe_timeout_s=3.0,
            max_skew_s=2.0,
        )  # fmt: skip

    async def run(
        self,
        on_round: Callable[[RoundRecord], None] = lambda r: None,
        on_dashboard: Callable[[str], None] = lambda url: None,
    ) -> DemoResult:
        """Run the network through the replay; `on_dashboard` gets node0's dashboard URL once it serves."""
        began = time.time()
        observers = await asyncio.to_thread(self.observers)
        assert self.deployment is not None, "deploy() first"
        domain = Domain(self.deployment.chain_id, self.deployment.oracle)
        keys = [ANVIL_KEYS[i] for i in SIGNER_ACCOUNTS]
        settings = self.network_settings(math.floor(time.time()))
        cluster = LocalCluster.create(
            self.rpc_url, domain, settings, keys, observers, self.workdir / "stores", MARKETS
        )
        (self.workdir / "stores").mkdir(parents=True, exist_ok=True)
        records = await self._run_cluster(cluster, observers, on_round, on_dashboard)
        names = tuple(o.name for o in observers)
        stores = tuple(m.store_path for m in cluster.members)
        result = DemoResult(records, self.deployment, names, names[self.options.manipulated], stores=stores)
        result.wall_s = time.time() - began
        return result

    async def _run_cluster(
        self,
        cluster: LocalCluster,
        observers: list[PipelineObserver],
        on_round: Callable[[RoundRecord], None],
        on_dashboard: Callable[[str], None] = lambda url: None,
    ) -> list[RoundRecord]:
        dashboard = None
        try:
            for member in cluster.members:
                await cluster.start(member)
            dashboard = await self._dashboard(cluster.members[0], observers[0])
            if dashboard is not None:
                on_dashboard(dashboard.url)
            first = max(m.node.book.first_round for m in cluster.members if m.node is not None)
            schedule = ReplaySchedule(first, self.start, self.end)
            for obs in observers:
                obs.schedule = schedule
            last = schedule.last_round()
            runs = [asyncio.create_task(m.node.run(last)) for m in cluster.members if m.node is not None]
            records = []
            for round_ in range(first, last + 1):
                record = await self._await_round(cluster, observers, round_, schedule)
                records.append(record)
                on_round(record)
            await asyncio.wait(runs, timeout=cluster.settings.period_s * 2)
            return records
        finally:
            if dashboard is not None:
                await dashboard.stop()
            await cluster.stop()

    async def _dashboard(self, member: Member, observer: PipelineObserver) -> Dashboard | None:
        """node0's read-only dashboard (service/dashboard), on its own Web3 connection."""
        if self.options.dashboard_port is None or member.node is None or member.store is None:
            return None
        oracle = RiskOracle(Web3(HTTPProvider(self.rpc_url)), self.oracle.address)
        sources = DashboardSources(member.name, observer, member.node, member.store, oracle)
        dashboard = Dashboard(StateBuilder(sources), "127.0.0.1", self.options.dashboard_port, refresh_s=1.0)
        await dashboard.start()
        return dashboard

    async def _await_round(
        self, cluster: LocalCluster, observers: list[PipelineObserver], round_: int, schedule: ReplaySchedule
    ) -> RoundRecord:
        s = cluster.settings
        give_up = s.genesis + round_ * s.period_s + s.max_attempts * s.leader_timeout_s + 0.5
        won: tuple[str, LeadOutcome, float] | None = None
        while won is None and time.time() < give_up:
            won = next(
                ((m.name, o, at) for m in cluster.members for o, at in m.outcomes
                 if o.round == round_ and o.status == "included"),
                None,
            )  # fmt: skip
            await asyncio.sleep(0.05)
        record = RoundRecord(round_, schedule.data_time(round_), won is not None)
        record.slot_time = s.genesis + round_ * s.period_s
        if won is not None:
            record.leader, record.attempt, record.gas_used = won[0], won[1].attempt, won[1].gas_used
            record.included_at = won[2]
        record.nodes = {o.name: o.rounds[round_] for o in observers if round_ in o.rounds}
        await asyncio.to_thread(self._read_chain, record)
        return record

    def _read_chain(self, record: RoundRecord) -> None:
        for p in self.oracle.get_risk_params_batch(list(MARKETS)):
            if p.round:
                record.onchain[p.market] = p.params
        if not self._position and "BTC-USD" in record.onchain:
            self.engine.set_position("BTC-USD", self.options.position_usd * USD, sender=self.trader)
            self._position = True
        if self._position:
            record.maintenance, record.fallback = self.engine.maintenance_status(self.trader.address)


def hours(options: DemoOptions) -> int:
    return int((utc(options.end) - utc(options.start)) // HOUR) + 1
