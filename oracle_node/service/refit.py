"""Scheduled model refits off the round path, then the drift monitor's verdict per market."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from oracle_node.drift.live import RETRAIN_MIN_GAP_DAYS, latest_verdict, retrain_due
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
    cut = model_cut(pipeline.model.manifest.data)
    for h in histories:
        judge_drift(h, metrics, cut)


def model_cut(manifest: Mapping[str, Any]) -> float:
    """The served model's training cut (manifest training.test_start, 00:00 UTC) as a timestamp."""
    day = datetime.strptime(manifest["training"]["test_start"], "%Y-%m-%d").replace(tzinfo=UTC)
    return day.timestamp()


def judge_drift(history: MarketHistory, metrics: NodeMetrics, model_cut_ts: float) -> None:
    """drift_flag from the monitor; retrain_requested only when the verdict asks for a retrain AND the
    served model is at least RETRAIN_MIN_GAP_DAYS old (the policy chosen in docs/retrain-policy.md);
    a retrain the gap holds back is logged as retrain_deferred."""
    try:
        verdict = latest_verdict(history)
    except OracleNodeError as exc:
        log.warning("drift_check_failed", market=history.market, error=str(exc))
        return
    if verdict is None:
        return
    m = history.market
    age_days = int((float(history.ts[-1]) - model_cut_ts) // 86400)
    due = retrain_due(verdict, age_days)
    metrics.drift_flag.labels(market=m).set(int(verdict.flag))
    metrics.retrain_requested.labels(market=m).set(int(due))
    if due:
        log.warning("retrain_requested", market=m, reasons=list(verdict.reasons), model_age_days=age_days)
    elif verdict.retrain:
        log.info(
            "retrain_deferred",
            market=m,
            reasons=list(verdict.reasons),
            model_age_days=age_days,
            min_gap_days=RETRAIN_MIN_GAP_DAYS,
        )


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
