"""`oracle-node backtest|retrain-policy|train --markets FILE`
([--executor ray|local|serial] [--ray-address ADDR] [--cores N] --out DIR)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oracle_node.atomic import refuse_overwrite
from oracle_node.errors import DataError
from oracle_node.research.scale import retrain, training
from oracle_node.research.scale.backtests import TaskResult, run_markets
from oracle_node.research.scale.executor import Executor, make_executor
from oracle_node.research.scale.markets import MarketsPlan, load_markets
from oracle_node.research.scale.retrain import WalkResult
from oracle_node.research.scale.summary import SUMMARY_FILE, format_table, summary_doc, write_summary

EXIT_FAILED_TASKS = 2


def markets_command(args: Any) -> int:
    """`--markets FILE` of backtest, retrain-policy or train."""
    run = {"retrain-policy": retrain_markets, "train": train_markets}.get(args.command, backtest_markets)
    return run(args)


def _plan_and_out(args: Any) -> tuple[MarketsPlan, Path]:
    plan = load_markets(Path(args.markets))
    out = Path(args.out)
    inputs = {f"markets.{m.name}.prices": m.prices for m in plan.markets} | {"--markets": plan.source}
    refuse_overwrite([out, out / SUMMARY_FILE], inputs)
    if out.exists() and not out.is_dir():
        raise DataError(str(out), None, "--out", None, "is a file; --out names the directory to write into")
    return plan, out


def backtest_markets(args: Any) -> int:
    """Every market x level of the markets file on the chosen executor; OUT/summary.json + a table."""
    plan, out = _plan_and_out(args)
    with make_executor(args.executor, args.cores, args.ray_address) as executor:
        run = run_markets(plan, executor, out, _progress if sys.stderr.isatty() else None)
        doc = summary_doc(plan, executor, run)
    stats = doc["per_task_seconds"]
    return _finish(
        out, doc, format_table(doc), "backtest",
        lambda path: f"wrote {path} and {doc['tasks'] - doc['failed']}/{doc['tasks']} tasks' outputs under "
        f"{out}/<market>/alpha_<level>/ in {_on(doc, executor)}; per task mean {stats.get('mean', 0):.1f} s, "
        f"p95 {stats.get('p95', 0):.1f} s",
        lambda r: f"market {r['market']} alpha {r['alpha']:g}",
    )  # fmt: skip


def _on(doc: dict[str, Any], executor: Executor) -> str:
    """'<wall> s on <executor> (<cores> cores, start-up <s> s)', the footer every command prints."""
    return (
        f"{doc['wall_seconds']:.1f} s on {executor.kind} ({executor.cores} cores, "
        f"start-up {executor.startup_seconds:.1f} s)"
    )


def _finish(
    out: Path,
    doc: dict[str, Any],
    table: str,
    command: str,
    footer: Callable[[Path], str],
    where: Callable[[dict[str, Any]], str],
) -> int:
    """Write OUT/summary.json, print the table and the footer, one stderr line per failed task
    (`oracle-node <command>: error: <where>: <error>`); the exit code."""
    path = write_summary(out, doc)
    print(table)
    print(footer(path))
    for r in doc["results"]:
        if r["status"] == "error":
            print(f"oracle-node {command}: error: {where(r)}: {r['error']}", file=sys.stderr)
    return EXIT_FAILED_TASKS if doc["failed"] else 0


def _progress(res: TaskResult, done: int, total: int) -> None:
    state = "error" if res.error else "done"
    print(f"{done}/{total} {state} {res.market} alpha {res.alpha:g} in {res.seconds:.1f} s", file=sys.stderr)


def retrain_markets(args: Any) -> int:
    """The retrain-policy study of every market of the file, one task per market x candidate policy;
    OUT/<market>/ as `retrain-policy --prices` writes OUT/, plus OUT/summary.json and a table."""
    plan, out = _plan_and_out(args)
    with make_executor(args.executor, args.cores, args.ray_address) as executor:
        run = retrain.run_retrain_markets(
            plan, executor, out, _walk_progress if sys.stderr.isatty() else None
        )
        doc = retrain.summary_doc(plan, executor, run)
    stats = doc["per_task_seconds"]
    return _finish(
        out, doc, retrain.format_table(doc), "retrain-policy",
        lambda path: f"wrote {path} and {doc['markets'] - doc['failed']}/{doc['markets']} markets' studies under "
        f"{out}/<market>/ ({doc['tasks']} walks) in {_on(doc, executor)}; per walk mean "
        f"{stats.get('mean', 0):.1f} s, p95 {stats.get('p95', 0):.1f} s",
        lambda r: f"market {r['market']}",
    )  # fmt: skip


def _walk_progress(res: WalkResult, done: int, total: int) -> None:
    state = "error" if res.error else "done"
    print(f"{done}/{total} {state} {res.market} {res.label} in {res.seconds:.1f} s", file=sys.stderr)


def train_markets(args: Any) -> int:
    """The served model of every market of the file, one task per market; OUT/<market>/ as `train
    --prices` writes OUT/, plus OUT/summary.json and a table."""
    plan, out = _plan_and_out(args)
    with make_executor(args.executor, args.cores, args.ray_address) as executor:
        run = training.run_train_markets(plan, executor, out)
        doc = training.summary_doc(plan, executor, run)
    stats = doc["per_task_seconds"]
    return _finish(
        out, doc, training.format_table(doc), "train",
        lambda path: f"wrote {path} and {doc['tasks'] - doc['failed']}/{doc['tasks']} trained models under "
        f"{out}/<market>/ in {_on(doc, executor)}; per task mean {stats.get('mean', 0):.1f} s",
        lambda r: f"market {r['market']}",
    )  # fmt: skip
