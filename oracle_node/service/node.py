"""One node: per-market cycles (fetch -> guard -> infer -> bound-check -> sign -> send), a breaker
per market, metrics recorded in `finally`, health progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from oracle_node.errors import OracleNodeError
from oracle_node.logs import get_logger
from oracle_node.service.feeds import TickFeed
from oracle_node.service.health import HealthState
from oracle_node.service.metrics import NodeMetrics
from oracle_node.service.pipeline import MarketOutcome, NodePipeline
from oracle_node.service.publisher import PublishResult, ReportPublisher
from oracle_node.store import NodeStore, TickDecision

log = get_logger(__name__)


@dataclass
class Breaker:
    """Opens after `limit` consecutive failures; half-opens (one try) after `cooldown_s`."""

    limit: int
    cooldown_s: float
    failures: int = 0
    opened_at: float | None = None

    def allows(self, now: float) -> bool:
        return self.opened_at is None or now - self.opened_at >= self.cooldown_s

    def record(self, ok: bool, now: float) -> bool:
        """Returns True when this failure opened the breaker."""
        if ok:
            self.failures, self.opened_at = 0, None
            return False
        self.failures += 1
        if self.failures >= self.limit and self.opened_at is None:
            self.opened_at = now
            return True
        if self.opened_at is not None:
            self.opened_at = now  # a failed half-open try keeps it open for another cooldown
        return False


@dataclass(frozen=True)
class CycleResult:
    market: str
    outcome: str  # one of metrics.CYCLE_OUTCOMES
    detail: MarketOutcome | None = None
    publish: PublishResult | None = None
    error: str | None = None


@dataclass
class Node:
    pipeline: NodePipeline
    feed: TickFeed
    publisher: ReportPublisher | None
    store: NodeStore
    metrics: NodeMetrics
    health: HealthState
    breaker_failures: int = 5
    breaker_cooldown_s: float = 300.0
    clock: Callable[[], float] = time.time
    _breakers: dict[str, Breaker] = field(default_factory=dict)

    def cycle(self, market: str) -> CycleResult:
        started, now = time.perf_counter(), self.clock()
        breaker = self._breakers.setdefault(market, Breaker(self.breaker_failures, self.breaker_cooldown_s))
        result = CycleResult(market, "skipped", error="breaker open")
        try:
            if breaker.allows(now):
                result = self._cycle(market, now)
        except OracleNodeError as exc:
            result = CycleResult(market, "failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            self._account(breaker, result, now, time.perf_counter() - started)
        return result

    def _cycle(self, market: str, now: float) -> CycleResult:
        fetched = self.feed.fetch(market, now)
        outcomes = self.pipeline.step(fetched.data_time, fetched.ticks, only=[market])
        if not outcomes:
            return CycleResult(market, "skipped", error="no data yet")
        out = outcomes[0]
        self.store.record_tick_decisions(_decisions(out))
        if out.guard.degraded or out.risk is None:
            self.pipeline.settle(out, published=False)
            return CycleResult(market, "degraded" if out.guard.degraded else "failed", out, error=out.error)
        published = self.publisher.publish([out], int(now)) if self.publisher and out.would_publish else None
        landed = published is not None and published.status == "included"
        signed = (published.params or {}).get(market) if published is not None else None
        self.pipeline.settle(out, published=landed, params=signed)
        if published is None:
            return CycleResult(market, "skipped", out)
        status = {"included": "published", "dry_run": "dry_run", "nothing": "skipped"}.get(
            published.status, "failed"
        )
        return CycleResult(market, status, out, published, published.note or None)

    def _account(self, breaker: Breaker, result: CycleResult, now: float, seconds: float) -> None:
        m, ok = result.market, result.outcome not in ("failed", "timeout")
        if result.error != "breaker open" and breaker.record(ok, now):
            log.error("breaker_opened", market=m, failures=breaker.failures, cooldown_s=breaker.cooldown_s)
        self.metrics.cycles.labels(market=m, outcome=result.outcome).inc()
        self.metrics.cycle_seconds.labels(market=m).observe(seconds)
        self.metrics.consecutive_failures.labels(market=m).set(breaker.failures)
        self.metrics.breaker_open.labels(market=m).set(0 if breaker.opened_at is None else 1)
        self.health.breaker(m, breaker.opened_at is not None)
        if ok:
            self.metrics.last_success.labels(market=m).set(now)
            self.health.cycle_completed(m)
        self._record_outcome(result)

    def _record_outcome(self, result: CycleResult) -> None:
        d = result.detail
        if d is not None:
            for rejection in d.guard.rejected:
                self.metrics.source_rejections.labels(
                    market=result.market, reason=str(rejection.reason)
                ).inc()
            if d.risk is not None:
                self.metrics.confidence.labels(market=result.market).set(d.risk.params.confidence / 10_000)
        p = result.publish
        if p is not None and p.status == "included" and p.round is not None:
            self.metrics.last_round.labels(market=result.market).set(p.round)
            if p.gas_used:
                self.metrics.gas_used.observe(p.gas_used)
        log.info(
            "cycle",
            market=result.market,
            outcome=result.outcome,
            round=p.round if p else None,
            price=d.guard.aggregate_price if d else None,
            rejected=d.guard.reasons() if d else {},
            error=result.error,
        )


def _decisions(out: MarketOutcome) -> list[TickDecision]:
    g = out.guard
    accepted = [TickDecision(g.ts, out.market, s, True) for s in sorted(g.accepted)]
    rejected = [TickDecision(g.ts, out.market, r.source, False, str(r.reason)) for r in g.rejected]
    return accepted + rejected


def timed_out(node: Node, market: str, timeout_s: float) -> CycleResult:
    """Account a cycle that overran its timeout (its thread is abandoned, its result ignored)."""
    now = node.clock()
    breaker = node._breakers.setdefault(market, Breaker(node.breaker_failures, node.breaker_cooldown_s))
    result = CycleResult(market, "timeout", error=f"cycle exceeded {timeout_s:.1f} s")
    node._account(breaker, result, now, timeout_s)
    return result
