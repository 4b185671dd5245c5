"""Prometheus metrics under one prefix, every label combination initialised at start."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from oracle_node.chain.tx import TX_STATUSES
from oracle_node.risk.cascade_addon import CascadeAddon
from oracle_node.sources.pool_summary import DROPS, HF_BUCKETS, PoolSummary, drop_label
from oracle_node.types import RISK_FIELDS

PREFIX = "mlra_oracle"
CYCLE_OUTCOMES = ("published", "skipped", "degraded", "dry_run", "failed", "timeout")
# network mode (oracle_node.network): outcomes of the attempts this node led, why it refused to co-sign,
# why a peer's observation could not be fetched, and why a peer message failed authentication
LEAD_STATUSES = ("included", "landed_elsewhere", "nothing_due", "no_observations", "no_quorum", "failed")
COSIGN_REFUSALS = (
    "round_mismatch",
    "wrong_epoch",
    "not_leader",
    "too_early",
    "bad_deadline",
    "expired",
    "observation_wrong_round",
    "observation_unknown_signer",
    "observation_duplicate_signer",
    "observation_time",
    "too_few_observations",
    "aggregation",
    "not_median",
    "market_not_observed",
    "out_of_tolerance",
    "not_ready",
    "equivocation",
    "no_own_observation",
    "other",
)  # fmt: skip; a CosignRefused reason outside this list counts as "other", aggregation_* as "aggregation"
FETCH_FAILURES = ("unavailable", "refused", "malformed", "auth")
AUTH_REJECTIONS = (
    "unknown_peer", "unexpected_peer", "malformed_auth", "bad_signature", "stale", "replayed"
)  # fmt: skip


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
        self.observed_param = Gauge(
            f"{PREFIX}_observed_param_bps",
            "This node's own value of each risk field (bp) in its last observation",
            ["market", "field"],
            registry=r,
        )
        self.drift_flag = Gauge(
            f"{PREFIX}_drift_flag",
            "1 while the drift monitor flags the market's inputs or coverage",
            ["market"],
            registry=r,
        )
        self.retrain_requested = Gauge(
            f"{PREFIX}_retrain_requested",
            "1 while the drift monitor asks for a retrained model",
            ["market"],
            registry=r,
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
        self.signer_balance = Gauge(
            f"{PREFIX}_signer_balance_eth",
            "Native balance of the signer (pays for the reports it leads), read at start and per led attempt",
            registry=r,
        )
        self._cascade_metrics(r)
        for market in markets:
            self.add_market(market)
        for status in TX_STATUSES:
            self.transactions.labels(status=status)
        self._network_metrics(r)

    def _cascade_metrics(self, r: CollectorRegistry) -> None:
        """The cascade add-on (docs/cascade.md); 0 for markets without it, pool gauges 0 without a fresh read."""
        self.cascade_probability = Gauge(
            f"{PREFIX}_cascade_probability",
            "p_cascade of the market's last round (0 when the add-on is off)",
            ["market"],
            registry=r,
        )
        self.cascade_addon = Gauge(
            f"{PREFIX}_cascade_addon_bps",
            "Cascade add-on to LT in the last round (bp)",
            ["market"],
            registry=r,
        )
        self.cascade_liquidation_feed = Gauge(
            f"{PREFIX}_cascade_liquidation_feed",
            "1 while the add-on runs on a fresh liquidation feed (model full), 0 price-only or off",
            ["market"],
            registry=r,
        )
        self.pool_debt_at_risk = Gauge(
            f"{PREFIX}_pool_debt_at_risk_usd",
            "Read borrowers' debt liquidatable after a fall of the collateral by `drop` percent (USD)",
            ["market", "drop"],
            registry=r,
        )
        self.pool_debt_share = Gauge(
            f"{PREFIX}_pool_debt_share",
            "Share of the read borrowers' debt by health-factor bucket",
            ["market", "hf"],
            registry=r,
        )
        self.pool_debt = Gauge(
            f"{PREFIX}_pool_debt_usd", "Debt of the read borrowers (USD)", ["market"], registry=r
        )
        self.pool_state_block = Gauge(
            f"{PREFIX}_pool_state_block",
            "Block of the pool state in the last round's record (0: none fresh)",
            ["market"],
            registry=r,
        )

    def record_cascade(self, market: str, addon: CascadeAddon | None, pool: PoolSummary | None) -> None:
        """One round's cascade gauges of a market (the add-on and the pool summary it recorded)."""
        self.cascade_probability.labels(market=market).set(0.0 if addon is None else addon.p_cascade)
        self.cascade_addon.labels(market=market).set(0 if addon is None else addon.addon_bp)
        self.cascade_liquidation_feed.labels(market=market).set(
            int(addon is not None and addon.model == "full")
        )
        self.pool_debt.labels(market=market).set(0.0 if pool is None else pool.debt_usd)
        self.pool_state_block.labels(market=market).set(0 if pool is None else pool.block)
        for d in DROPS:
            usd = 0.0 if pool is None else pool.debt_at_risk_usd.get(drop_label(d), 0.0)
            self.pool_debt_at_risk.labels(market=market, drop=drop_label(d)).set(usd)
        for b, _ in HF_BUCKETS:
            self.pool_debt_share.labels(market=market, hf=b).set(
                0.0 if pool is None else pool.hf_debt_share[b]
            )

    def _network_metrics(self, r: CollectorRegistry) -> None:
        self.rounds_led = Counter(
            f"{PREFIX}_rounds_led", "Attempts this node led, by outcome", ["status"], registry=r
        )
        self.surface_rounds_led = Counter(
            f"{PREFIX}_surface_rounds_led",
            "Surface-report attempts this node led, by outcome",
            ["status"],
            registry=r,
        )
        self.rounds_cosigned = Counter(
            f"{PREFIX}_rounds_cosigned", "Reports this node co-signed for another leader", registry=r
        )
        self.cosign_refused = Counter(
            f"{PREFIX}_cosign_refused",
            "Co-sign requests this node refused, by reason",
            ["reason"],
            registry=r,
        )
        self.observation_fetch_failures = Counter(
            f"{PREFIX}_observation_fetch_failures",
            "Peer observations this node (as leader) could not fetch, by reason",
            ["reason"],
            registry=r,
        )
        self.peer_auth_rejections = Counter(
            f"{PREFIX}_peer_auth_rejections",
            "Peer messages refused by authentication, by reason and direction",
            ["reason", "direction"],
            registry=r,
        )
        for status in LEAD_STATUSES:
            self.rounds_led.labels(status=status)
            self.surface_rounds_led.labels(status=status)
        for reason in COSIGN_REFUSALS:
            self.cosign_refused.labels(reason=reason)
        for reason in FETCH_FAILURES:
            self.observation_fetch_failures.labels(reason=reason)
        for reason in AUTH_REJECTIONS:
            for direction in ("request", "response"):
                self.peer_auth_rejections.labels(reason=reason, direction=direction)

    def add_market(self, market: str) -> None:
        for outcome in CYCLE_OUTCOMES:
            self.cycles.labels(market=market, outcome=outcome)
        self.cycle_seconds.labels(market=market)
        for gauge in (self.confidence, self.last_round, self.last_success, self.consecutive_failures):
            gauge.labels(market=market).set(0)
        self.breaker_open.labels(market=market).set(0)
        for name in RISK_FIELDS:
            self.observed_param.labels(market=market, field=name).set(0)
        self.drift_flag.labels(market=market).set(0)
        self.retrain_requested.labels(market=market).set(0)
        self.record_cascade(market, None, None)
