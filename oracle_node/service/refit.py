"""Scheduled model refits off the round path, then the drift monitor's verdict per market."""

from __future__ import annotations

import asyncio

from oracle_node.drift.live import latest_verdict
from oracle_node.errors import OracleNodeError
from oracle_node.features.history import MarketHistory
from oracle_node.logs import get_logger
from oracle_node.service.metrics import NodeMetrics
from oracle_node.service.pipeline import NodePipeline

log = get_logger(__name__)


def refit(pipeline: NodePipeline, markets: list[str], metrics: NodeMetrics) -> None:
    """GJR refits of every market with a history, then drift_flag / retrain_requested per market."""
    histories = [h for h in (pipeline.book.snapshot(m) for m in markets) if h is not None]
    fitted = pipeline.model.prefit(histories)
    log.info("models_refitted", markets=len(histories), fits=fitted)
    for h in histories:
        judge_drift(h, metrics)


def judge_drift(history: MarketHistory, metrics: NodeMetrics) -> None:
    try:
        verdict = latest_verdict(history)
    except OracleNodeError as exc:
        log.warning("drift_check_failed", market=history.market, error=str(exc))
        return
    if verdict is None:
        return
    m = history.market
    metrics.drift_flag.labels(market=m).set(int(verdict.flag))
    metrics.retrain_requested.labels(market=m).set(int(verdict.retrain))
    if verdict.retrain:
        log.warning("retrain_requested", market=m, reasons=list(verdict.reasons))


async def refit_every(
    pipeline: NodePipeline, markets: list[str], metrics: NodeMetrics, every_s: float
) -> None:
    """Refit in a worker thread every `every_s` seconds until cancelled."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(refit, pipeline, markets, metrics)
        except OracleNodeError as exc:
            log.error("refit_failed", error=str(exc))
