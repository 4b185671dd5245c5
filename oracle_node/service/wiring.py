"""Build the node's objects from its config (the only place that turns config into instances)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from web3 import Web3
from web3.exceptions import Web3Exception

from oracle_node.chain.contracts import RiskOracle
from oracle_node.chain.rpc import make_web3
from oracle_node.chain.surface_oracle import VolSurfaceOracle
from oracle_node.chain.tx import TxSender
from oracle_node.chain.view import ChainView
from oracle_node.config import NodeConfig
from oracle_node.errors import ConfigError, SubmissionError
from oracle_node.logs import get_logger, redact_text, scrub_url
from oracle_node.models.ensemble import RiskModel
from oracle_node.models.manifest import ARTIFACTS_DIR
from oracle_node.network import ContractChain, Domain
from oracle_node.network.chain_view import ContractSurfaceChain, PendingBlockWeb3
from oracle_node.network.reorg import ReorgWatcher
from oracle_node.network.schedule import RoundClock
from oracle_node.network.settings import NetworkSettings
from oracle_node.network.surface_round import SurfaceRounds, SurfaceTolerance
from oracle_node.options.onchain import underlying_id
from oracle_node.reports.keystore import DryRunSigner, KeystoreSigner, load_signer
from oracle_node.service.dashboard import Dashboard, DashboardSources, StateBuilder
from oracle_node.service.feeds import LiveFeed
from oracle_node.service.health import HealthState
from oracle_node.service.histories import HistoryBook
from oracle_node.service.metrics import NodeMetrics
from oracle_node.service.network_run import MeteredNode, NetworkRun, metered_provider, on_outcome
from oracle_node.service.observer import ChainBounds, LiveObserver, PipelineObserver, ReplaySchedule
from oracle_node.service.pipeline import NodePipeline
from oracle_node.service.surfaces import ChainReplay, LiveChains, ShockSizer
from oracle_node.sources.deribit import DeribitOptionsSource
from oracle_node.sources.history import load_history
from oracle_node.sources.replay import TickReplay
from oracle_node.sources.tick import Tick
from oracle_node.store import NodeStore

log = get_logger(__name__)


def load_model(cfg: NodeConfig) -> RiskModel:
    """The manifest-pinned model (`model.manifest`: a model directory or its manifest.json); ModelError
    if the manifest is invalid or any artifact's sha256 differs from it."""
    if cfg.model.manifest == "bundled":
        return RiskModel.load(ARTIFACTS_DIR)
    return RiskModel.load(cfg.model.manifest)


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
    if not w3.eth.get_code(cfg.chain.oracle_address):
        raise ConfigError(
            f"chain.oracle_address = {cfg.chain.oracle_address}: no contract code on chain {chain_id} "
            "(wrong address, or wrong chain?)"
        )
    oracle = RiskOracle(w3, cfg.chain.oracle_address)
    account = None if signer.dry_run else signer.account
    on_status = (lambda s: metrics.transactions.labels(status=s).inc()) if metrics else None
    sender = TxSender(w3, account, cfg.chain.tx, on_status=on_status)
    return ChainContext(w3, oracle, sender, signer)


def balance_probe(w3: Web3, address: str, metrics: NodeMetrics) -> Callable[[], None]:
    """Sets signer_balance_eth from the chain now and on each call; a failed read keeps the last value."""

    def refresh() -> None:
        try:
            metrics.signer_balance.set(w3.eth.get_balance(address) / 10**18)  # type: ignore[arg-type]
        except (OSError, Web3Exception, ValueError) as exc:
            log.warning("signer_balance_unread", error=type(exc).__name__)

    refresh()
    return refresh


def single_operator_settings(cfg: NodeConfig, genesis: float) -> NetworkSettings:
    """A single operator is the k = 1 case of the network: no peers, one attempt per round, a round
    every `service.tick_interval_s`, the cycle timeout as the observation budget."""
    s = cfg.service
    leader = min(s.cycle_timeout_s, s.tick_interval_s)
    return NetworkSettings(
        genesis=genesis,
        period_s=s.tick_interval_s,
        leader_timeout_s=leader,
        max_attempts=1,
        deadline_s=max(s.report_ttl_s, math.ceil(leader) + 1),
        observe_timeout_s=s.cycle_timeout_s,
        max_skew_s=max(5.0, s.tick_interval_s),
    )


def build_network(
    cfg: NodeConfig, environ: Mapping[str, str], *, now: float | None = None
) -> tuple[NetworkRun, NodeMetrics, HealthState]:
    """The node's runtime, for a network operator (`network:` present) and for a single operator
    alike: the pipeline as observation provider, the NetworkNode (no peers and k = 1 when single),
    the reorg watcher; fails fast on a dry-run signer or an unreachable chain."""
    signer = load_node_signer(cfg, environ)
    if not isinstance(signer, KeystoreSigner):
        raise ConfigError(
            "signer.keystore is required to run: every observation and report is signed "
            "(use `oracle-node once` for a dry run)"
        )
    ctx = connect(cfg, signer)
    observer, markets, settings, schedule_round = observer_and_settings(cfg, ctx, now)
    metrics, health = NodeMetrics(markets), HealthState(cfg.service.health_max_silence_s)
    view = ChainView(
        RiskOracle(make_web3(cfg.chain.rpc_url.get_secret_value()), ctx.oracle.address), tuple(markets)
    )
    observer.bounds = ChainBounds(view)
    on_status = lambda s: metrics.transactions.labels(status=s).inc()  # noqa: E731
    sender = TxSender(PendingBlockWeb3(ctx.w3), signer.account, cfg.chain.tx, on_status=on_status)  # type: ignore[arg-type]
    chain = ContractChain(ctx.oracle, sender, view)
    store = NodeStore.open(cfg.service.store_path)
    provider = metered_provider(observer, metrics, health, store, settings.observe_timeout_s)
    surfaces = surface_rounds(cfg, settings, store, signer, sender)
    node = MeteredNode(
        metrics=metrics, settings=settings, domain=Domain(cfg.chain.chain_id, ctx.oracle.address), signer=signer,
        store=store, chain=chain, provider=provider, surfaces=surfaces,
        markets=tuple(markets),
        on_outcome=on_outcome(metrics, tuple(markets), store, signer.address, balance_probe(ctx.w3, signer.address, metrics)),
    )  # fmt: skip
    run = NetworkRun(node, ReorgWatcher(store, chain), store, schedule_round, observer)
    run.single, run.refit_every_s, run.metrics = cfg.network is None, cfg.model.refit_every_s, metrics
    if isinstance(observer, LiveObserver) and observer.feed is not None:
        run.closers.append(observer.feed.close)
    if cfg.dashboard.enabled:
        own = RiskOracle(make_web3(cfg.chain.rpc_url.get_secret_value()), ctx.oracle.address)
        sources = DashboardSources(cfg.node_name, observer, node, store, own, metrics)
        d = cfg.dashboard
        run.dashboard = Dashboard(StateBuilder(sources), d.host, d.port, d.refresh_s)
    return run, metrics, health


def surface_rounds(
    cfg: NodeConfig, settings: NetworkSettings, store: NodeStore, signer: KeystoreSigner, sender: TxSender
) -> SurfaceRounds | None:
    """The node's surface rounds when the config has `surfaces:` (live Deribit or a chain replay),
    submitting through the node's own TxSender (one nonce sequence with the risk reports)."""
    sc = cfg.surfaces
    if sc is None:
        return None
    w3 = make_web3(cfg.chain.rpc_url.get_secret_value())
    if not w3.eth.get_code(sc.oracle_address):
        raise ConfigError(f"surfaces.oracle_address = {sc.oracle_address}: no contract code on the chain")
    oracle = VolSurfaceOracle(w3, sc.oracle_address)
    ids = [underlying_id(c) for c in sc.currencies]
    surface_chain = ContractSurfaceChain(oracle, sender)
    sizer = ShockSizer()
    provider: ChainReplay | LiveChains
    if sc.chains:
        provider = ChainReplay(sc.chains, sc.start_round, sc.rounds_per_chain, sizer,
                               lambda: surface_chain.stored_round(ids), settings.period_s)  # fmt: skip
    else:
        sources = [DeribitOptionsSource(c, f"{c}-USD", base_url=sc.deribit_url) for c in sc.currencies]
        provider = LiveChains(sources, sc.every_rounds, sizer)
    tolerance = SurfaceTolerance(
        sc.tolerance_vol, sc.tolerance_forward, sc.tolerance_spot, sc.tolerance_shock_bp
    )
    rounds = SurfaceRounds(
        settings=settings, clock=RoundClock(settings.genesis, settings.period_s, settings.leader_timeout_s),
        provider=provider, chain=surface_chain, store=store, signer=signer, chain_id=cfg.chain.chain_id,
        domain_oracle=sc.oracle_address, tolerance=tolerance,
    )  # fmt: skip
    return rounds


def observer_and_settings(
    cfg: NodeConfig, ctx: ChainContext, now: float | None = None
) -> tuple[PipelineObserver, list[str], NetworkSettings, int | None]:
    """The observer, its markets, the round settings and the replay's last round (None: live).

    Network mode takes genesis from the config (the same on every node). A single operator picks, once
    everything slow is built, the genesis that makes the round running now the one after the highest
    round the chain stores, so its first round starts at once and rounds keep increasing across
    restarts.
    """
    model = load_model(cfg)
    path, b = cfg.service.replay_ticks, cfg.service
    replay = None if path is None else _replay_ticks(path)
    markets = [m.id for m in cfg.markets] if replay is None else sorted(replay)
    first = (
        0
        if cfg.network is not None
        else 1 + max((ctx.oracle.get_market_state(m).round for m in markets), default=0)
    )
    period = cfg.network.period_s if cfg.network is not None else b.tick_interval_s
    if replay is None:
        pipeline = build_pipeline(cfg, markets, None, model)
        observer: PipelineObserver = LiveObserver(cfg.node_name, pipeline, {}, ReplaySchedule(first, 0.0, float("inf"), period),
                                                  None, model.model_hash, b.breaker_failures, b.breaker_cooldown_s)  # type: ignore[arg-type]  # fmt: skip
        feed = LiveFeed(cfg.markets, cascade_sink=pipeline)  # markets with cascade.pool: on-chain inputs
        observer.feed, observer.live_markets = feed, tuple(markets)  # type: ignore[attr-defined]
        last = None
    else:
        start, end = min(t[0].ts for t in replay.values()), max(t[-1].ts for t in replay.values())
        schedule = ReplaySchedule(first, start, end, period * b.replay_speed)
        observer = PipelineObserver(cfg.node_name, build_pipeline(cfg, markets, start, model), replay, schedule,
                                    None, model.model_hash, b.breaker_failures, b.breaker_cooldown_s)  # type: ignore[arg-type]  # fmt: skip
        last = schedule.last_round()
    if cfg.network is not None:
        settings: NetworkSettings = cfg.network
    else:
        settings = single_operator_settings(
            cfg, math.floor(time.time() if now is None else now) - first * period
        )
    if replay is None:  # live: round r observes its own slot time
        observer.schedule = ReplaySchedule(first, settings.genesis + first * period, float("inf"), period)
    return observer, markets, settings, last


def _replay_ticks(path: Path) -> dict[str, list[Tick]]:
    replay = TickReplay.from_file(path, lenient=True)
    ticks: dict[str, list[Tick]] = {}
    for tick in replay:
        ticks.setdefault(tick.market, []).append(tick)
    if not ticks:
        raise ConfigError(f"service.replay_ticks = {path}: no valid tick rows")
    return ticks
