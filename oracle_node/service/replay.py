"""`oracle-node replay`: the node's pipeline over a recorded multi-source tick file, offline.

One JSON line per (tick time, market) with what the node would have decided: aggregate price,
accepted and rejected sources (with reasons), flags, confidence, params (contract units, bp) and
whether it would publish. Markets present in the tick file but not in the config use the config's
market_defaults. A market with a `history` in the config warms its models from that history up to
the first tick (never later); a market without one starts from the ticks alone and publishes nothing
until it has a few daily closes (the line says why in `error`).

Large files stream: a first pass (`scan_ticks`) validates every row, reports the skipped ones and
counts markets and rounds; when the rows are in time order (any recording is) the second pass feeds
the pipeline one round at a time, so memory does not grow with the file. A file out of time order is
sorted in memory instead (with a warning saying so). The output is written to a temporary file beside
`--out` and renamed over it at the end: an error or a crash never leaves a truncated output, and
`--out` may not be the tick file itself.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from oracle_node.atomic import atomic_write, refuse_overwrite
from oracle_node.config import NodeConfig
from oracle_node.errors import DataError
from oracle_node.logs import get_logger
from oracle_node.service.wiring import build_pipeline
from oracle_node.sources.replay import TickReplay
from oracle_node.sources.tick import Tick
from oracle_node.sources.tickcsv import iter_rounds, scan_ticks

log = get_logger(__name__)
SKIPS_LOGGED = 100  # skipped rows logged one by one; beyond this only counted
PROGRESS_MIN_ROUNDS = 10_000  # files with at least this many rounds log progress every 10 %

Rounds = Iterator[tuple[float, list[Tick]]]


@dataclass(frozen=True)
class ReplaySummary:
    rounds: int
    lines: int
    markets: tuple[str, ...]
    would_publish: int
    degraded: int
    skipped_rows: int


class _SkipLog:
    def __init__(self) -> None:
        self.count = 0
        self.first: DataError | None = None

    def __call__(self, err: DataError) -> None:
        self.count += 1
        self.first = self.first or err
        if self.count <= SKIPS_LOGGED:
            log.warning(
                "tick_row_skipped", file=err.path, line=err.line, field=err.field, value=str(err.value)[:200],
                why=err.why,
            )  # fmt: skip


def run_replay(
    cfg: NodeConfig, ticks_path: Path, out_path: Path, progress: Callable[[int, int], None] | None = None
) -> ReplaySummary:
    refuse_overwrite([out_path], {"--ticks": ticks_path})
    if out_path.is_dir():
        raise DataError(str(out_path), None, "--out", None, "is a directory; give a file path")
    now = time.time()
    skips = _SkipLog()
    scan = scan_ticks(ticks_path, lenient=True, on_skip=skips, now=now)
    if skips.count > SKIPS_LOGGED:
        log.warning("tick_rows_skipped", file=str(ticks_path), skipped=skips.count, logged=SKIPS_LOGGED)
    if scan.ticks == 0 or scan.first_ts is None:
        first = f"; {skips.count} rows skipped, the first: {skips.first}" if skips.first else ""
        raise DataError(str(ticks_path), None, None, None, "no valid tick rows" + first)
    rounds, total = _rounds(ticks_path, scan.in_order, scan.rounds, now)
    pipeline = build_pipeline(cfg, list(scan.markets), scan.first_ts)
    lines = published = degraded = 0
    every = max(total // 10, 1) if total >= PROGRESS_MIN_ROUNDS else 0
    started = time.perf_counter()
    with atomic_write(out_path) as out:
        for i, (ts, ticks) in enumerate(rounds):
            ticked = {t.market for t in ticks}
            for outcome in pipeline.step(ts, ticks):
                if outcome.market not in ticked:
                    continue  # one line per (tick, market): only markets that ticked at this time
                out.write(json.dumps(outcome.to_json_dict(), separators=(",", ":")) + "\n")
                lines += 1
                published += outcome.would_publish
                degraded += outcome.guard.degraded
                pipeline.settle(outcome, published=outcome.would_publish)
            if progress:
                progress(i + 1, total)
            if every and (i + 1) % every == 0:
                log.info("replay_progress", rounds=i + 1, total=total, lines=lines,
                         seconds=round(time.perf_counter() - started, 1))  # fmt: skip
    return ReplaySummary(total, lines, scan.markets, published, degraded, scan.skipped)


def _rounds(path: Path, in_order: bool, counted: int, now: float) -> tuple[Rounds, int]:
    """Stream the rounds of a file in time order; sort one that is not in memory (and say so)."""
    if in_order:
        return iter_rounds(path, lenient=True, now=now), counted  # skipped rows: reported by the scan
    log.warning(
        "tick_file_unsorted", file=str(path), action="sorted in memory; sort the rows by ts to stream it"
    )
    replay = TickReplay.from_file(path, lenient=True)
    total = sum(1 for _ in itertools.groupby(replay, key=lambda t: t.ts))
    return replay.rounds(), total
