"""`oracle-node replay`: the node's pipeline over a recorded multi-source tick file, offline.

One JSON line per (tick time, market) with what the node would have decided: aggregate price,
accepted and rejected sources (with reasons), flags, confidence, params (contract units, bp) and
whether it would publish. Markets present in the tick file but not in the config use the config's
market_defaults. A market with a `history` in the config warms its models from that history up to
the first tick (never later); a market without one starts from the ticks alone and publishes nothing
until it has a few daily closes (the line says why in `error`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from oracle_node.config import NodeConfig
from oracle_node.errors import DataError
from oracle_node.logs import get_logger
from oracle_node.service.wiring import build_pipeline
from oracle_node.sources.replay import TickReplay

log = get_logger(__name__)


@dataclass(frozen=True)
class ReplaySummary:
    rounds: int
    lines: int
    markets: tuple[str, ...]
    would_publish: int
    degraded: int
    skipped_rows: int


def run_replay(
    cfg: NodeConfig, ticks_path: Path, out_path: Path, progress: Callable[[int, int], None] | None = None
) -> ReplaySummary:
    replay = TickReplay.from_file(ticks_path, lenient=True)
    for err in replay.skipped:
        log.warning(
            "tick_row_skipped",
            file=err.path,
            line=err.line,
            field=err.field,
            value=str(err.value),
            why=err.why,
        )
    if len(replay) == 0:
        raise DataError(str(ticks_path), None, None, "", "no valid tick rows")
    rounds = list(replay.rounds())
    pipeline = build_pipeline(cfg, list(replay.markets), rounds[0][0])
    lines = published = degraded = 0
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("w", encoding="utf-8") as out:
        for i, (ts, ticks) in enumerate(rounds):
            for outcome in pipeline.step(ts, ticks):
                if outcome.market not in {t.market for t in ticks}:
                    continue  # one line per (tick, market): only markets that ticked at this time
                out.write(json.dumps(outcome.to_json_dict(), separators=(",", ":")) + "\n")
                lines += 1
                published += outcome.would_publish
                degraded += outcome.guard.degraded
                pipeline.settle(outcome, published=outcome.would_publish)
            if progress:
                progress(i + 1, len(rounds))
    return ReplaySummary(len(rounds), lines, replay.markets, published, degraded, len(replay.skipped))
