"""Builds the dashboard's state.json from what the running node already holds (no copy of its own):

- the observer: its model hash, each market's last computed round (wanted params, signed params,
  pipeline flags) and breakers; its ChainView's last snapshot (stored params, DAO bounds, signer set,
  allow-list, pauses), refreshed by the rounds themselves;
- the node: its signer, round clock and peers;
- the store: the attribution records (top drivers), the stored reports' signed observations (each
  peer's last observation) and the latest surface report this node signed (the fitted smiles);
- the metrics registry: attempts led by outcome, co-signatures, drift flags;
- the chain's RiskReportAccepted events (chainlog.AcceptedRounds): leader, signers, gas, latency.

`build()` blocks (SQLite, one RPC round trip for new events): call it from a worker thread.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from oracle_node.chain.contracts import RiskOracle
from oracle_node.errors import ModelError, OracleNodeError
from oracle_node.explain.record import parse, top_drivers
from oracle_node.logs import get_logger
from oracle_node.network.node import NetworkNode
from oracle_node.network.surface_round import SURFACE, parse_report
from oracle_node.service.dashboard.chainlog import AcceptedRounds
from oracle_node.service.dashboard.state import (
    MarketStatus,
    accepted_rows,
    field_rows,
    market_flags,
    missed_rounds,
    observation_summary,
    peer_rows,
    smile_rows,
)
from oracle_node.service.metrics import LEAD_STATUSES, PREFIX, NodeMetrics
from oracle_node.service.observer import PipelineObserver
from oracle_node.store import NodeStore

log = get_logger(__name__)
REPORTS_SCANNED = 16  # stored reports searched for each peer's last observation
DRIVER_OUTPUTS = ("q_lo", "q_hi", "sigma_1d")
MISSES = ("no_quorum", "no_observations", "failed")


@dataclass
class DashboardSources:
    """The node's own objects the page reads (built by wiring, or by the demo for its node0)."""

    name: str
    observer: PipelineObserver
    node: NetworkNode
    store: NodeStore
    oracle: RiskOracle  # on its own Web3 connection: a batch in flight must not capture the node's calls
    metrics: NodeMetrics | None = None
    top_drivers: int = 3


class StateBuilder:
    def __init__(self, src: DashboardSources, clock: Callable[[], float] = time.time) -> None:
        self.src, self.clock = src, clock
        self.chain_rounds = AcceptedRounds(src.oracle)

    def build(self) -> dict[str, Any]:
        src, now = self.src, self.clock()
        snap = src.observer.bounds.view.latest
        me = src.node.signer.address
        try:
            accepted, seen = self.chain_rounds.read()
            chain_error = None
        except OracleNodeError as exc:
            accepted, seen, chain_error = [], [], str(exc)
        clock = src.node.clock
        model = "0x" + src.observer.model_hash.hex()
        return {
            "node": {"name": src.name, "signer": me, "now": now, "round_now": clock.round_at(now),
                     "period_s": clock.period_s, "peers": len(src.node.peers)},
            "model": {"hash": model, "allowed": src.observer.model_hash in snap.allowed_models},
            "chain": {"epoch": snap.epoch, "threshold": snap.threshold, "signers": list(snap.signers),
                      "oracle_paused": snap.oracle_paused, "block_time": snap.block_time,
                      "read_at": snap.read_at, "stored_round": snap.stored_round(list(snap.markets)),
                      "error": chain_error},
            "markets": [self._market(m) for m in snap.markets],
            "rounds": self._rounds(accepted, seen, list(snap.signers), me),
            "peers": peer_rows(snap.signers, me, accepted, self._observations(), self._urls()),
            "smiles": self._smiles(),
        }  # fmt: skip

    # -- markets --------------------------------------------------------------------------------

    def _market(self, market: str) -> dict[str, Any]:
        obs, snap = self.src.observer, self.src.observer.bounds.view.latest
        state, bounds = snap.markets[market], snap.bounds.get(market)
        last = next(
            (r for r in sorted(obs.rounds.values(), key=lambda r: -r.round) if market in r.outcomes), None
        )
        outcome = last.outcomes[market] if last is not None else None
        wanted = outcome.risk.params if outcome is not None and outcome.risk is not None else None
        signed = last.signed.get(market) if last is not None else None
        rows = field_rows(state.params, wanted, signed, bounds) if bounds is not None else []
        breaker = obs.breakers.get(market)
        status = MarketStatus(
            pipeline_flags=outcome.flags if outcome is not None else frozenset(),
            unusable=snap.why_unusable(market),
            breaker_open=breaker is not None and breaker.opened_at is not None,
            drift=self._gauge("drift_flag", market), retrain=self._gauge("retrain_requested", market),
        )  # fmt: skip
        return {
            "market": market, "round": state.round, "observed_at": state.observed_at,
            "computed_round": last.round if last is not None else None,
            "confidence": wanted.confidence / 10_000 if wanted is not None else None,
            "onchain_confidence": state.params.confidence / 10_000 if state.params is not None else None,
            "error": outcome.error if outcome is not None else None,
            "min_interval": bounds.min_interval if bounds is not None else None,
            "fields": rows, "flags": market_flags(rows, status),
            "drift": {"flag": status.drift, "retrain": status.retrain},
            "drivers": self._drivers(market),
        }  # fmt: skip

    def _gauge(self, name: str, market: str) -> bool:
        m = self.src.metrics
        value = m.registry.get_sample_value(f"{PREFIX}_{name}", {"market": market}) if m else None
        return bool(value)

    def _drivers(self, market: str) -> dict[str, Any] | None:
        rounds = self.src.store.attribution_rounds(market)
        row = self.src.store.attribution(rounds[-1], market) if rounds else None
        if row is None:
            return None
        try:
            doc = parse(row.record)
        except ModelError as exc:
            return {"round": row.round, "error": str(exc)}
        ml = doc.get("ml") or {}
        outputs = {
            out: [{"feature": d.feature, "value": d.value, "contribution": d.contribution, "share": d.share}
                  for d in top_drivers(doc, out, self.src.top_drivers)]
            for out in DRIVER_OUTPUTS
        }  # fmt: skip
        return {"round": row.round, "branch": doc.get("branch"), "method": ml.get("method"),
                "error": ml.get("error"), "outputs": outputs}  # fmt: skip

    # -- rounds and peers -----------------------------------------------------------------------

    def _rounds(self, accepted: list[Any], seen: list[int], signers: list[str], me: str) -> dict[str, Any]:
        obs = self.src.observer
        due = [r.round for r in list(obs.rounds.values()) if r.signed]
        newest = max(seen, default=0)
        led = {s: self._counter("rounds_led_total", {"status": s}) for s in LEAD_STATUSES}
        counted = self.src.metrics is not None  # without metrics (the demo's in-process nodes): unknown
        return {
            "recent": accepted_rows(
                accepted, signers, self.src.node.clock.slot_time, me, self._included_at(accepted)
            ),
            "led": led if counted else None,
            "cosigned": self._counter("rounds_cosigned_total", {}) if counted else None,
            "misses": sum(led[s] for s in MISSES) if counted else None,
            "missed_rounds": missed_rounds(due, seen, newest),
        }

    def _included_at(self, accepted: list[Any]) -> dict[int, float]:
        """When this node saw each of its included submissions of these rounds (store clock)."""
        if not accepted:
            return {}
        rows = self.src.store.db.query(
            "SELECT round, min(updated_at) AS at FROM submissions WHERE status = 'included' AND round >= ? "
            "GROUP BY round",
            (min(a.round for a in accepted),),
        )
        return {int(r["round"]): float(r["at"]) for r in rows}

    def _counter(self, name: str, labels: dict[str, str]) -> int:
        m = self.src.metrics
        value = m.registry.get_sample_value(f"{PREFIX}_{name}", labels) if m else None
        return int(value or 0)

    def _observations(self) -> dict[str, dict[str, Any]]:
        """Each signer's newest signed observation in this node's stored risk reports."""
        rows = self.src.store.db.query(
            "SELECT body FROM reports ORDER BY round DESC, created_at DESC LIMIT ?", (REPORTS_SCANNED,)
        )
        out: dict[str, dict[str, Any]] = {}
        for row in rows:
            for o in json.loads(row["body"]).get("observations") or []:
                key = str(o.get("signer", "")).lower()
                if key and key not in out:
                    out[key] = observation_summary(o)
        return out

    def _urls(self) -> dict[str, str]:
        return {p.address.lower(): p.url for p in self.src.node.settings.peers}

    # -- smiles ---------------------------------------------------------------------------------

    def _smiles(self) -> dict[str, Any] | None:
        """The latest surface report this node signed (None when it publishes no surfaces)."""
        rows = self.src.store.db.query(
            "SELECT s.round, r.body, r.status FROM signatures s JOIN reports r ON r.digest = s.digest "
            "WHERE s.purpose = ? AND s.signer = ? ORDER BY s.round DESC LIMIT 1",
            (SURFACE, self.src.node.signer.address.lower()),
        )
        if not rows:
            return None
        try:
            report = parse_report(json.loads(rows[0]["body"])["report"], "stored surface report")
        except (OracleNodeError, KeyError) as exc:
            log.warning("dashboard_surface_unreadable", round=rows[0]["round"], error=str(exc))
            return None
        return {"round": rows[0]["round"], "status": rows[0]["status"], "observed_at": report.observed_at,
                "underlyings": smile_rows(report.surfaces())}  # fmt: skip
