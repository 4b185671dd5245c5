"""The daemon: one apscheduler job per market, a per-cycle timeout, model refits off the round path,
graceful SIGTERM. The loop is the node's; this module only schedules it."""

from __future__ import annotations

import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from oracle_node.drift.live import latest_verdict
from oracle_node.errors import OracleNodeError
from oracle_node.features.history import MarketHistory
from oracle_node.logs import get_logger
from oracle_node.service.node import Node, timed_out

log = get_logger(__name__)


class Daemon:
    def __init__(
        self, node: Node, markets: list[str], interval_s: float, timeout_s: float, refit_every_s: float
    ) -> None:
        self.node, self.markets = node, markets
        self.interval_s, self.timeout_s, self.refit_every_s = interval_s, timeout_s, refit_every_s
        self.stop_event = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=max(2, len(markets)), thread_name_prefix="cycle")
        self._scheduler = BackgroundScheduler(
            timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1}
        )

    def run_market(self, market: str) -> None:
        future = self._pool.submit(self.node.cycle, market)
        try:
            future.result(timeout=self.timeout_s)
        except FutureTimeout:
            timed_out(self.node, market, self.timeout_s)
            log.error("cycle_timeout", market=market, timeout_s=self.timeout_s)

    def refit(self) -> None:
        """Scheduled GJR refits off the round path, then the drift monitor's verdict per market."""
        histories = [h for h in (self.node.pipeline.book.snapshot(m) for m in self.markets) if h is not None]
        fitted = self.node.pipeline.model.prefit(histories)
        log.info("models_refitted", markets=len(histories), fits=fitted)
        for h in histories:
            self._judge_drift(h)

    def _judge_drift(self, history: MarketHistory) -> None:
        try:
            verdict = latest_verdict(history)
        except OracleNodeError as exc:
            log.warning("drift_check_failed", market=history.market, error=str(exc))
            return
        if verdict is None:
            return
        metrics, m = self.node.metrics, history.market
        metrics.drift_flag.labels(market=m).set(int(verdict.flag))
        metrics.retrain_requested.labels(market=m).set(int(verdict.retrain))
        if verdict.retrain:
            log.warning("retrain_requested", market=m, reasons=list(verdict.reasons))

    def run(self, until: Any = None) -> None:
        """Block until SIGTERM/SIGINT (or `until()` returns True), then stop cleanly."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop_event.set())
        for market in self.markets:
            self._scheduler.add_job(
                self.run_market,
                "interval",
                seconds=self.interval_s,
                args=[market],
                id=f"cycle:{market}",
                next_run_time=datetime.now(UTC),
            )
        self._scheduler.add_job(self.refit, "interval", seconds=self.refit_every_s, id="refit")
        self._scheduler.start()
        log.info("daemon_started", markets=self.markets, interval_s=self.interval_s)
        while not self.stop_event.wait(0.2):
            if until is not None and until():
                break
        self.shutdown()

    def shutdown(self) -> None:
        self._scheduler.shutdown(wait=True)
        self._pool.shutdown(wait=True, cancel_futures=True)
        log.info("daemon_stopped")
