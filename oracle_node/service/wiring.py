"""Build the node's objects from its config (the only place that turns config into instances)."""

from __future__ import annotations

from pathlib import Path

from oracle_node.config import NodeConfig
from oracle_node.models.ensemble import RiskModel
from oracle_node.models.manifest import ARTIFACTS_DIR
from oracle_node.service.histories import HistoryBook, load_history
from oracle_node.service.pipeline import NodePipeline


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
