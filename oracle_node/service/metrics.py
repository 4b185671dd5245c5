"""Prometheus metrics under one prefix, every label combination initialised at start."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from oracle_node.chain.tx import TX_STATUSES

PREFIX = "mlra_oracle"
CYCLE_OUTCOMES = ("published", "skipped", "degraded", "dry_run", "failed", "timeout")


class NodeMetrics:
    """All metrics of one node; a private registry so tests and several nodes in one process don't clash."""

    def __init__(self, markets: Iterable[str], registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.cycles = Counter(
            f"{PREFIX}_cycles", "Cycles by market and outcome", ["market", "outcome"], registry=r
        )
        self.cycle_seconds = Histogram(
            f"{PREFIX}_cycle_seconds",
            "Wall time of one cycle (fetch to send)",
            ["market"],
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30),
            registry=r,
        )
        self.source_rejections = Counter(
            f"{PREFIX}_source_rejections", "Ticks rejected by the guard", ["market", "reason"], registry=r
        )
        self.confidence = Gauge(
            f"{PREFIX}_confidence", "Confidence of the last parameter set", ["market"], registry=r
        )
        self.last_round = Gauge(
            f"{PREFIX}_last_round", "Last round published on-chain", ["market"], registry=r
        )
        self.last_success = Gauge(
            f"{PREFIX}_last_success_timestamp",
            "Unix time of the last successful cycle",
            ["market"],
            registry=r,
        )
        self.consecutive_failures = Gauge(
            f"{PREFIX}_consecutive_failures", "Failures since the last success", ["market"], registry=r
        )
        self.breaker_open = Gauge(
            f"{PREFIX}_breaker_open", "1 while the breaker is open", ["market"], registry=r
        )
        self.transactions = Counter(
            f"{PREFIX}_transactions", "Transactions by status", ["status"], registry=r
        )
        self.gas_used = Histogram(
            f"{PREFIX}_gas_used",
            "Gas used per included report",
            buckets=(30_000, 45_000, 55_000, 70_000, 100_000, 200_000, 500_000),
            registry=r,
        )
        for market in markets:
            self.add_market(market)
        for status in TX_STATUSES:
            self.transactions.labels(status=status)

    def add_market(self, market: str) -> None:
        for outcome in CYCLE_OUTCOMES:
            self.cycles.labels(market=market, outcome=outcome)
        self.cycle_seconds.labels(market=market)
        for gauge in (self.confidence, self.last_round, self.last_success, self.consecutive_failures):
            gauge.labels(market=market).set(0)
        self.breaker_open.labels(market=market).set(0)
