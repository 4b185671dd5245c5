"""`oracle-node run` with a `network:` section: this node is one operator of a k-of-n network.

The node's pipeline is the observation provider (live venues, or `service.replay_ticks` on a replay
clock shared by every node: round r replays first_tick + (slot_time(r) - genesis) x replay_speed), a
NetworkNode serves its peers and leads its rounds, a ReorgWatcher resubmits reports a reorg dropped,
and /health and /metrics are served as in single-operator mode. SIGTERM or SIGINT stop it cleanly;
with a replay it also stops after the replay's last round.

Metrics on top of the single-operator ones (see service/metrics.py): rounds_led{status},
rounds_cosigned, cosign_refused{reason}, observation_fetch_failures{reason},
peer_auth_rejections{reason,direction}; /health is healthy while the node observes rounds.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from oracle_node.errors import ConfigError, OracleNodeError
from oracle_node.logs import get_logger
from oracle_node.network.auth import PeerAuthenticator
from oracle_node.network.client import PeerClient
from oracle_node.network.errors import (
    CosignRefused,
    ObservationUnavailable,
    PeerAuthError,
    PeerMessageError,
    PeerRefused,
    PeerUnavailable,
)
from oracle_node.network.leader import Leader, LeadOutcome
from oracle_node.network.node import NetworkNode
from oracle_node.network.observation import LocalObservation, SignedObservation
from oracle_node.network.observer import ObservationProvider
from oracle_node.network.recovery import resume_pending
from oracle_node.network.reorg import ReorgWatcher
from oracle_node.network.settings import PeerConfig
from oracle_node.network.wire import CosignRequest
from oracle_node.service.dashboard import Dashboard
from oracle_node.service.health import HealthState
from oracle_node.service.metrics import COSIGN_REFUSALS, NodeMetrics
from oracle_node.service.observer import NodeRound, PipelineObserver
from oracle_node.service.pipeline import MarketOutcome
from oracle_node.service.refit import refit_every
from oracle_node.store import EquivocationError, NodeStore, TickDecision
from oracle_node.types import RISK_FIELDS

log = get_logger(__name__)
KEEP_ROUNDS = 64


class MeteredAuthenticator(PeerAuthenticator):
    """Counts every authentication failure (requests served, answers received) by reason."""

    metrics: NodeMetrics | None = None

    def verify_request(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> str:
        try:
            return super().verify_request(method, path, body, headers)
        except PeerAuthError as exc:
            self._count(exc, "request")
            raise

    def verify_response(
        self, status: int, body: bytes, headers: Mapping[str, str], request_nonce: str, expected: str
    ) -> None:
        try:
            super().verify_response(status, body, headers, request_nonce, expected)
        except PeerAuthError as exc:
            self._count(exc, "response")
            raise

    def _count(self, exc: PeerAuthError, direction: str) -> None:
        if self.metrics is not None:
            self.metrics.peer_auth_rejections.labels(reason=exc.reason, direction=direction).inc()


class MeteredClient(PeerClient):
    """Counts peer observations that could not be fetched (a 404 "not yet" is retried, not counted)."""

    metrics: NodeMetrics | None = None

    async def fetch_observation(self, peer: PeerConfig, round_: int) -> SignedObservation:
        try:
            return await super().fetch_observation(peer, round_)
        except PeerRefused as exc:
            if exc.status != 404:
                self._count("refused")
            raise
        except PeerAuthError:
            self._count("auth")
            raise
        except PeerUnavailable:
            self._count("unavailable")
            raise
        except PeerMessageError:
            self._count("malformed")
            raise

    def _count(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.observation_fetch_failures.labels(reason=reason).inc()


class MeteredNode(NetworkNode):
    """A NetworkNode whose co-signing, fetching and peer authentication are counted in NodeMetrics."""

    def __init__(self, *, metrics: NodeMetrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics = metrics
        auth = MeteredAuthenticator(
            self.domain, self.signer, [p.address for p in self.peers], self.settings.auth_max_age_s, self.now
        )
        auth.metrics = metrics
        self.auth = self.server.auth = auth

    async def cosign(self, request: CosignRequest, sender: str) -> tuple[bytes, bytes]:
        try:
            answer = await super().cosign(request, sender)
        except CosignRefused as exc:
            self._refused(exc.reason)
            raise
        except EquivocationError:
            self._refused("equivocation")
            raise
        except ObservationUnavailable:
            self._refused("no_own_observation")
            raise
        self.metrics.rounds_cosigned.inc()
        return answer

    def _refused(self, reason: str) -> None:
        if reason.startswith("aggregation_"):
            reason = "aggregation"
        label = reason if reason in COSIGN_REFUSALS else "other"
        self.metrics.cosign_refused.labels(reason=label).inc()

    def _leader(self) -> Leader:
        leader = super()._leader()
        client = MeteredClient(leader.client.session, self.auth, self.domain, self.settings.request_timeout_s)
        client.metrics = self.metrics
        leader.client = client
        return leader


def metered_provider(
    observer: PipelineObserver,
    metrics: NodeMetrics,
    health: HealthState,
    store: NodeStore | None = None,
    timeout_s: float | None = None,
) -> ObservationProvider:
    """The observer as the node's provider, with the per-round timeout; every round updates health,
    the cycle metrics and (with a store) the tick decisions."""

    async def provide(round_: int, slot_time: int) -> LocalObservation:
        started = time.perf_counter()
        timed_out = False
        try:
            return await asyncio.wait_for(observer(round_, slot_time), timeout_s)
        except TimeoutError:
            timed_out = True
            log.error("round_timeout", round=round_, timeout_s=timeout_s)
            raise ObservationUnavailable(round_, f"round exceeded {timeout_s} s") from None
        finally:
            seconds = time.perf_counter() - started
            _account_round(observer, round_, metrics, health, store, seconds, timed_out)

    return provide


def _account_round(
    observer: PipelineObserver,
    round_: int,
    metrics: NodeMetrics,
    health: HealthState,
    store: NodeStore | None,
    seconds: float,
    timed_out: bool,
) -> None:
    for old in [r for r in observer.rounds if r < round_ - KEEP_ROUNDS]:
        del observer.rounds[old]
    seen = observer.rounds.get(round_)
    markets = seen.outcomes if seen is not None else dict.fromkeys(observer.breakers)
    for market in markets:
        metrics.cycle_seconds.labels(market=market).observe(seconds)
        breaker = observer.breakers.get(market)
        if breaker is not None:
            metrics.consecutive_failures.labels(market=market).set(breaker.failures)
            metrics.breaker_open.labels(market=market).set(0 if breaker.opened_at is None else 1)
            health.breaker(market, breaker.opened_at is not None)
    if seen is None:
        if timed_out:
            for market in markets:
                metrics.cycles.labels(market=market, outcome="timeout").inc()
        return
    for market, outcome in seen.outcomes.items():
        _account_market(market, outcome, seen, metrics, health)
        metrics.record_cascade(market, outcome.cascade, observer.pipeline.pool_state(market))
        if store is not None:
            store.record_tick_decisions(tick_decisions(outcome))


def _account_market(
    market: str, outcome: MarketOutcome, seen: NodeRound, metrics: NodeMetrics, health: HealthState
) -> None:
    for rejection in outcome.guard.rejected:
        metrics.source_rejections.labels(market=market, reason=str(rejection.reason)).inc()
    if outcome.risk is not None:
        metrics.confidence.labels(market=market).set(outcome.risk.params.confidence / 10_000)
        for name, value in zip(RISK_FIELDS, outcome.risk.params.as_tuple(), strict=True):
            metrics.observed_param.labels(market=market, field=name).set(value)
    if outcome.guard.degraded or outcome.risk is None:
        label = "degraded" if outcome.guard.degraded else "failed"
        metrics.cycles.labels(market=market, outcome=label).inc()
        return
    metrics.last_success.labels(market=market).set(time.time())
    health.cycle_completed(market)
    if market not in seen.signed:
        metrics.cycles.labels(market=market, outcome="skipped").inc()


def tick_decisions(out: MarketOutcome) -> list[TickDecision]:
    g = out.guard
    accepted = [TickDecision(g.ts, out.market, s, True) for s in sorted(g.accepted)]
    rejected = [TickDecision(g.ts, out.market, r.source, False, str(r.reason)) for r in g.rejected]
    return accepted + rejected


def on_outcome(
    metrics: NodeMetrics,
    markets: tuple[str, ...],
    store: NodeStore,
    signer: str,
    refresh_balance: Callable[[], None] = lambda: None,
) -> Callable[[LeadOutcome], None]:
    """Counts every attempt this node led; an included report moves its markets' last_round; the
    signer's balance is re-read after each risk attempt (this node paid for what it submitted)."""

    def record(outcome: LeadOutcome) -> None:
        if outcome.kind != "risk":
            metrics.surface_rounds_led.labels(status=outcome.status).inc()
            log.info("surface_round_led", round=outcome.round, attempt=outcome.attempt, status=outcome.status,
                     detail=outcome.detail[:200], tx_hash=outcome.tx_hash)  # fmt: skip
            return
        metrics.rounds_led.labels(status=outcome.status).inc()
        refresh_balance()
        if outcome.status == "included":
            for market in _report_markets(store, outcome.round, signer) or markets:
                metrics.cycles.labels(market=market, outcome="published").inc()
                metrics.last_round.labels(market=market).set(outcome.round)
            if outcome.gas_used:
                metrics.gas_used.observe(outcome.gas_used)
        log.info("round_led", round=outcome.round, attempt=outcome.attempt, status=outcome.status,
                 detail=outcome.detail[:200], tx_hash=outcome.tx_hash)  # fmt: skip

    return record


def _report_markets(store: NodeStore, round_: int, signer: str) -> tuple[str, ...]:
    """The markets of the report this node signed for the round (empty when none is stored)."""
    signed = store.signature(round_, signer)
    report = store.report(signed.digest) if signed is not None else None
    return tuple(report.body.get("report", {}).get("markets", ())) if report is not None else ()


@dataclass
class NetworkRun:
    """What `run` starts in network mode (built by wiring.build_network)."""

    node: MeteredNode
    watcher: ReorgWatcher
    store: NodeStore
    last_round: int | None  # the replay's last round; None runs until stopped
    observer: PipelineObserver
    closers: list[Callable[[], None]] = field(default_factory=list)
    single: bool = False  # a single operator (k = 1, no peers): its first round starts at once
    refit_every_s: float | None = None
    metrics: NodeMetrics | None = None
    dashboard: Dashboard | None = None  # the read-only page (`dashboard.enabled`), served while running


async def serve_network(run: NetworkRun) -> int:
    """Recover, start, run until SIGTERM/SIGINT (or the replay's end), stop; 0 on a clean stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    rounds = watcher = refits = None
    stopper = asyncio.create_task(stop.wait(), name="stop")
    try:
        await asyncio.to_thread(resume_pending, run.store, run.watcher.chain)
        await asyncio.to_thread(_warn_if_model_not_allowed, run.observer)
        port = await _start(run.node, join_current=run.single)
        if run.dashboard is not None:
            await run.dashboard.start()
        rounds = asyncio.create_task(run.node.run(run.last_round), name="rounds")
        watcher = asyncio.create_task(run.watcher.run(), name="reorg-watcher")
        if run.refit_every_s and run.metrics is not None:
            markets = list(run.observer.pipeline.book.markets())
            task = refit_every(run.observer.pipeline, markets, run.metrics, run.refit_every_s)
            refits = asyncio.create_task(task, name="refit")
        log.info("node_running", port=port, signer=run.node.signer.address, single=run.single,
                 first_round=run.node.book.first_round, last_round=run.last_round)  # fmt: skip
        done, _ = await asyncio.wait({rounds, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if rounds in done and (exc := rounds.exception()) is not None:
            raise exc
        log.info("node_stopping", why="signal" if stopper in done else "replay finished")
    finally:
        await run.node.stop()
        if run.dashboard is not None:
            await run.dashboard.stop()
        for task in (rounds, watcher, refits, stopper):
            await _cancel(task)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("node_stopped")
    return 0


def _warn_if_model_not_allowed(observer: PipelineObserver) -> None:
    """Say at start-up, once and plainly, when the chain will refuse every report of this model.

    Not fatal: an operator may start the new model before the DAO's timelocked allow-listing executes
    (the node then keeps observing, and its reports land from the first round after it does).
    """
    try:
        snapshot = observer.bounds.view.refresh_if_older(0.0)
    except OracleNodeError:
        return  # the chain is unreachable now: every round reports that itself
    if observer.model_hash not in snapshot.allowed_models:
        log.error(
            "model_not_allowed",
            model_hash="0x" + observer.model_hash.hex(),
            hint="the oracle refuses its reports until the DAO allow-lists this hash through the timelock "
            "(python -m scripts.allow_model schedule --manifest DIR, then execute), or point model.manifest "
            "at an allow-listed model",
        )


async def _cancel(task: asyncio.Task[Any] | None) -> None:
    """Cancel and await a task; a failure it ended with is logged, never raised on the way out."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception as exc:  # noqa: BLE001 - shutting down: report, don't mask the stop
        log.error("task_failed", task=task.get_name(), error=f"{type(exc).__name__}: {exc}")


async def _start(node: NetworkNode, *, join_current: bool = False) -> int:
    """node.start(), with a taken port reported as a config error naming the field."""
    try:
        return await node.start(join_current=join_current)
    except OSError as exc:
        where = f"{node.settings.listen_host}:{node.settings.listen_port}"
        raise ConfigError(
            f"network.listen_port: cannot serve peers on {where}: {exc.strerror or exc}"
        ) from None
