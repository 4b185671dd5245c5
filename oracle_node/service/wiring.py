"""Build the node's objects from its config (the only place that turns config into instances)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from web3 import Web3
from web3.exceptions import Web3Exception

from oracle_node.chain.contracts import RiskOracle
from oracle_node.chain.rpc import make_web3
from oracle_node.chain.tx import TxSender
from oracle_node.config import NetworkConfig, NodeConfig
from oracle_node.demo.observer import ChainBounds, PipelineObserver, ReplaySchedule
from oracle_node.errors import ConfigError, SubmissionError
from oracle_node.logs import redact_text, scrub_url
from oracle_node.models.ensemble import RiskModel
from oracle_node.models.manifest import ARTIFACTS_DIR
from oracle_node.network import ContractChain, Domain
from oracle_node.network.chain_view import PendingBlockWeb3
from oracle_node.network.reorg import ReorgWatcher
from oracle_node.reports.keystore import DryRunSigner, KeystoreSigner, load_signer
from oracle_node.service.feeds import LiveFeed, ReplayFeed, TickFeed
from oracle_node.service.health import HealthState
from oracle_node.service.histories import HistoryBook
from oracle_node.service.metrics import NodeMetrics
from oracle_node.service.network_run import (
    LiveObserver,
    MeteredNode,
    NetworkRun,
    metered_provider,
    on_outcome,
)
from oracle_node.service.node import Node
from oracle_node.service.pipeline import NodePipeline
from oracle_node.service.publisher import ReportPublisher
from oracle_node.sources.history import load_history
from oracle_node.sources.replay import TickReplay
from oracle_node.sources.tick import Tick
from oracle_node.store import NodeStore


def load_model(cfg: NodeConfig) -> RiskModel:
    """The manifest-pinned model; ModelError if any artifact's sha256 differs from the manifest."""
    if cfg.model.manifest == "bundled":
        return RiskModel.load(ARTIFACTS_DIR)
    return RiskModel.load(Path(cfg.model.manifest).parent)


def build_pipeline(
    cfg: NodeConfig, markets: list[str], start_ts: float | None, model: RiskModel | None = None
) -> NodePipeline:
    """Warm each market's history up to `start_ts` (None: all of it) and return a ready pipeline."""
    model = model or load_model(cfg)
    days = max((cfg.market(m).history_days for m in markets), default=cfg.market_defaults.history_days)
    book = HistoryBook(days)
    for market in markets:
        spec = cfg.market(market).history
        if spec:
            book.seed(load_history(market, spec, until_ts=start_ts))
    # GJR-GARCH fits take ~60 ms each: do them now, not inside the first round.
    model.prefit([h for h in (book.snapshot(m) for m in markets) if h is not None])
    return NodePipeline(cfg, model, book)


@dataclass
class ChainContext:
    w3: Web3
    oracle: RiskOracle
    sender: TxSender
    signer: KeystoreSigner | DryRunSigner


def load_node_signer(cfg: NodeConfig, environ: Mapping[str, str]) -> KeystoreSigner | DryRunSigner:
    s = cfg.signer
    return load_signer(s.keystore, s.password_file, s.password_env, environ=environ)


def connect(
    cfg: NodeConfig, signer: KeystoreSigner | DryRunSigner, metrics: NodeMetrics | None = None
) -> ChainContext:
    """Web3, the oracle wrapper (ABI from the compiled artifacts) and the transaction pipeline."""
    if cfg.chain.oracle_address is None:
        raise ConfigError("chain.oracle_address is required to talk to the chain")
    url = cfg.chain.rpc_url.get_secret_value()
    w3 = make_web3(url)
    try:
        chain_id = w3.eth.chain_id
    except (OSError, Web3Exception, ValueError) as exc:
        raise SubmissionError(
            "RPC unreachable", detail=scrub_url(f"{redact_text(url)}: {exc}", url)
        ) from None
    if chain_id != cfg.chain.chain_id:
        raise ConfigError(f"chain.chain_id = {cfg.chain.chain_id} but the RPC reports chain id {chain_id}")
    oracle = RiskOracle(w3, cfg.chain.oracle_address)
    account = None if signer.dry_run else signer.account
    on_status = (lambda s: metrics.transactions.labels(status=s).inc()) if metrics else None
    sender = TxSender(w3, account, cfg.chain.tx, on_status=on_status)
    return ChainContext(w3, oracle, sender, signer)


def build_node(
    cfg: NodeConfig, environ: Mapping[str, str], *, publish: bool, wall_start: float
) -> tuple[Node, list[str]]:
    """Everything `run` and `once` need, checked at start (fails fast with a clear error)."""
    feed: TickFeed
    if cfg.service.replay_ticks is not None:
        feed = ReplayFeed(cfg.service.replay_ticks, cfg.service.replay_speed, wall_start)
        markets = feed.markets
        start_ts: float | None = feed.start
    else:
        feed, markets, start_ts = LiveFeed(cfg.markets), [m.id for m in cfg.markets], None
    metrics = NodeMetrics(markets)
    model = load_model(cfg)
    pipeline = build_pipeline(cfg, markets, start_ts, model)
    store = NodeStore.open(cfg.service.store_path)
    publisher = None
    if publish:
        ctx = connect(cfg, load_node_signer(cfg, environ), metrics)
        publisher = ReportPublisher(
            store=store,
            signer=ctx.signer,
            oracle=ctx.oracle,
            sender=ctx.sender,
            chain_id=cfg.chain.chain_id,
            model_hash=model.model_hash,
            report_ttl_s=cfg.service.report_ttl_s,
        )
        publisher.recover(int(time.time()))
    health = HealthState(cfg.service.health_max_silence_s)
    node = Node(
        pipeline,
        feed,
        publisher,
        store,
        metrics,
        health,
        cfg.service.breaker_failures,
        cfg.service.breaker_cooldown_s,
    )
    return node, markets


def build_network(cfg: NodeConfig, environ: Mapping[str, str]) -> tuple[NetworkRun, NodeMetrics, HealthState]:
    """Network mode (`network:` present): the pipeline as observation provider, the peer node, the
    reorg watcher; fails fast on a dry-run signer or an unreachable chain."""
    net = cfg.network
    if net is None:
        raise ConfigError("network: section missing; run the single-operator path instead")
    signer = load_node_signer(cfg, environ)
    if not isinstance(signer, KeystoreSigner):
        raise ConfigError("network mode needs signer.keystore: every observation and report is signed")
    observer, markets, last_round = _network_observer(cfg, net)
    metrics, health = NodeMetrics(markets), HealthState(cfg.service.health_max_silence_s)
    ctx = connect(cfg, signer, metrics)
    observer.bounds = ChainBounds(
        RiskOracle(make_web3(cfg.chain.rpc_url.get_secret_value()), ctx.oracle.address)
    )
    on_status = lambda s: metrics.transactions.labels(status=s).inc()  # noqa: E731
    sender = TxSender(PendingBlockWeb3(ctx.w3), signer.account, cfg.chain.tx, on_status=on_status)  # type: ignore[arg-type]
    chain = ContractChain(ctx.oracle, sender)
    store = NodeStore.open(cfg.service.store_path)
    node = MeteredNode(
        metrics=metrics, settings=net, domain=Domain(cfg.chain.chain_id, ctx.oracle.address), signer=signer,
        store=store, chain=chain, provider=metered_provider(observer, metrics, health),
        markets=tuple(markets), on_outcome=on_outcome(metrics, tuple(markets), store, signer.address),
    )  # fmt: skip
    run = NetworkRun(node, ReorgWatcher(store, chain), store, last_round, observer)
    if isinstance(observer, LiveObserver) and observer.feed is not None:
        run.closers.append(observer.feed.close)
    return run, metrics, health


def _network_observer(cfg: NodeConfig, net: NetworkConfig) -> tuple[PipelineObserver, list[str], int | None]:
    """A replay observer (round r replays first tick + r x period x speed) or a live one (slot time)."""
    model = load_model(cfg)
    path = cfg.service.replay_ticks
    if path is None:
        markets = [m.id for m in cfg.markets]
        schedule = ReplaySchedule(0, net.genesis, float("inf"), net.period_s)
        live = LiveObserver(
            cfg.node_name, build_pipeline(cfg, markets, None, model), {}, schedule, None, model.model_hash
        )  # type: ignore[arg-type]
        live.feed, live.live_markets = LiveFeed(cfg.markets), tuple(markets)
        return live, markets, None
    replay = TickReplay.from_file(path, lenient=True)
    ticks: dict[str, list[Tick]] = {}
    for tick in replay:
        ticks.setdefault(tick.market, []).append(tick)
    if not ticks:
        raise ConfigError(f"service.replay_ticks = {path}: no valid tick rows")
    start, end = min(t[0].ts for t in ticks.values()), max(t[-1].ts for t in ticks.values())
    schedule = ReplaySchedule(0, start, end, net.period_s * cfg.service.replay_speed)
    pipeline = build_pipeline(cfg, list(replay.markets), start, model)
    observer = PipelineObserver(cfg.node_name, pipeline, ticks, schedule, None, model.model_hash)  # type: ignore[arg-type]
    return observer, list(replay.markets), schedule.last_round()
