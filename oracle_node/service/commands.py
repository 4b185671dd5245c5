"""What each CLI command does, given a built config (the CLI only parses arguments)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from oracle_node.config import NodeConfig
from oracle_node.logs import get_logger
from oracle_node.service.replay import run_replay

log = get_logger(__name__)


def replay(cfg: NodeConfig, ticks: Path, out: Path) -> int:
    started = time.perf_counter()
    with Progress(
        TextColumn("replay"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} rounds"),
        TimeElapsedColumn(),
        transient=True,
        disable=not sys.stderr.isatty(),
    ) as bar:
        task = bar.add_task("replay", total=None)
        summary = run_replay(cfg, ticks, out, progress=lambda i, n: bar.update(task, completed=i, total=n))
    print(
        f"replayed {summary.rounds} rounds, {len(summary.markets)} markets ({', '.join(summary.markets)}): "
        f"{summary.lines} lines -> {out}; would publish {summary.would_publish}, degraded {summary.degraded}, "
        f"skipped rows {summary.skipped_rows}; {time.perf_counter() - started:.1f} s"
    )
    return 0
