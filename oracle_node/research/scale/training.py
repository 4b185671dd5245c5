"""Served-model training of many markets: one task = one market's `oracle-node train`.

The driver loads each distinct price history once (price file, asset, `end`), hashes the price files
for the manifests, checks that every market names its `train.test_start`, and `put`s each history
once. A task trains the served model of one market (`training.train_run.train_served_model`: the
one training path, ONNX export, manifest, loaded back as the node loads it, optional walk-forward)
into a scratch directory on its worker, with BLAS/OpenMP held to one thread, and returns the files;
the driver writes them under OUT/<market>/ (model.onnx, manifest.json, the explain artifact): the
directory `oracle-node train --prices FILE --asset A --test-start D --out DIR` writes. A task that
fails on its data returns the error; the others go on.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from oracle_node import atomic
from oracle_node.errors import ConfigError, DataError, OracleNodeError
from oracle_node.features.history import MarketHistory
from oracle_node.models.manifest import load_manifest
from oracle_node.research.backtest.prices import load_prices
from oracle_node.research.backtest.run import truncate
from oracle_node.research.scale import summary
from oracle_node.research.scale.backtests import peak_rss_mb
from oracle_node.research.scale.executor import Executor
from oracle_node.research.scale.markets import MarketSpec, MarketsPlan
from oracle_node.research.training.ml_data import file_sha256
from oracle_node.research.training.train_run import train_served_model

HistoryKey = tuple[Path, str, str | None]  # price file, asset, end day


@dataclass(frozen=True)
class TrainTask:
    market: str
    asset: str
    test_start: str
    walk: bool
    data_files: dict[str, str]  # {price file name: sha256}, recorded in the manifest


@dataclass(frozen=True)
class TrainResult:
    market: str
    seconds: float
    worker: str
    error: str | None = None
    cpu_seconds: float = 0.0
    max_rss_mb: float = 0.0
    model_hash: str | None = None  # 0x..., the manifest hash the node and the contract know
    manifest: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


def train_task(task: TrainTask, history: MarketHistory) -> TrainResult:
    """One market's served model, single-threaded, into a scratch directory; -> its files."""
    started, cpu = time.perf_counter(), time.process_time()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="oracle-train-") as tmp, threadpool_limits(limits=1):
        try:
            train_served_model({task.asset: history}, task.data_files, Path(tmp), test_start=task.test_start,
                               walk=task.walk)  # fmt: skip
            manifest = load_manifest(Path(tmp))
        except OracleNodeError as exc:
            spent = time.perf_counter() - started, time.process_time() - cpu
            return TrainResult(task.market, spent[0], worker, str(exc), spent[1], peak_rss_mb())
        files = {
            p.relative_to(tmp).as_posix(): p.read_bytes() for p in sorted(Path(tmp).rglob("*")) if p.is_file()
        }
    spent = time.perf_counter() - started, time.process_time() - cpu
    return TrainResult(
        task.market, spent[0], worker, None, spent[1], peak_rss_mb(), manifest.hash_hex, manifest.data, files
    )


def history_key(m: MarketSpec) -> HistoryKey:
    return m.prices, m.asset, None if m.settings.end is None else m.settings.end.isoformat()


def plan_tasks(plan: MarketsPlan) -> tuple[list[TrainTask], dict[HistoryKey, MarketHistory]]:
    """One task per market and each distinct history loaded once; ConfigError (file, market, field)
    when a market has no `train.test_start`."""
    histories: dict[HistoryKey, MarketHistory] = {}
    hashes: dict[Path, str] = {}
    tasks = []
    for i, m in enumerate(plan.markets):
        t = m.settings.train
        if t.test_start is None:
            raise ConfigError(
                f"markets.{i}.train.test_start (market {m.name}): missing; oracle-node train --markets needs the "
                "first out-of-sample day (YYYY-MM-DD) under train: in defaults: or the market",
                str(plan.source),
            )
        key = history_key(m)
        if key not in histories:
            histories[key] = truncate(load_prices(m.prices, m.asset), key[2])
        hashes[m.prices] = hashes.get(m.prices) or file_sha256(m.prices)
        files = {m.prices.name: hashes[m.prices]}
        tasks.append(TrainTask(m.name, m.asset, t.test_start.isoformat(), t.walk_forward, files))
    return tasks, histories


@dataclass(frozen=True)
class TrainRun:
    results: list[TrainResult]  # in the plan's order
    wall_seconds: float
    load_seconds: float
    puts: int


def run_train_markets(
    plan: MarketsPlan,
    executor: Executor,
    out: Path,
    on_done: Callable[[TrainResult, int, int], None] | None = None,
) -> TrainRun:
    """Every market's served model on `executor`; each under out/<market>/."""
    started = time.perf_counter()
    tasks, histories = plan_tasks(plan)
    refs = {key: executor.put(h) for key, h in histories.items()}
    loaded = time.perf_counter()
    calls = [(t, refs[history_key(m)]) for t, m in zip(tasks, plan.markets, strict=True)]
    results: list[TrainResult | None] = [None] * len(tasks)
    for n, (i, res) in enumerate(executor.run(train_task, calls), start=1):
        results[i] = res
        write_files(out / res.market, res.files)
        if on_done is not None:
            on_done(res, n, len(tasks))
    done = [r for r in results if r is not None]
    return TrainRun(done, time.perf_counter() - loaded, loaded - started, executor.puts)


def write_files(target: Path, files: dict[str, bytes]) -> None:
    try:
        for rel, data in files.items():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            atomic.write_bytes(target / rel, data)
    except OSError as exc:
        raise DataError(str(target), None, None, exc.strerror, "cannot write the trained model") from exc


def summary_row(res: TrainResult) -> dict[str, Any]:
    """Per market: the model hash, training rows and the out-of-sample coverage of the served model."""
    row: dict[str, Any] = {
        "market": res.market, "status": "error" if res.error else "ok", "error": res.error, "out": res.market,
        "seconds": round(res.seconds, 3), "cpu_seconds": round(res.cpu_seconds, 3), "worker": res.worker,
    }  # fmt: skip
    if res.error:
        return row
    training, metrics = res.manifest["training"], res.manifest["metrics"]
    (asset,) = training["rows_by_market"]
    row.update(
        model_hash=res.model_hash,
        test_start=training["test_start"],
        rows_train=training["rows_train"],
        out_of_sample=metrics[asset]["out_of_sample"],
    )
    return row


def summary_doc(plan: MarketsPlan, executor: Executor, run: TrainRun) -> dict[str, Any]:
    return summary.summary_doc(plan, executor, run, summary_row)


def format_table(doc: dict[str, Any]) -> str:
    """market, test start, training rows, model hash (prefix), seconds."""
    lines = [f"{'market':20s} {'test start':10s} {'rows':>6s}  {'model hash':18s} {'s':>6s}"]
    for r in doc["results"]:
        if r["status"] == "error":
            lines.append(f"{r['market']:20s} error: {r['error']}")
            continue
        lines.append(
            f"{r['market']:20s} {r['test_start']:10s} {r['rows_train']:6d}  {r['model_hash'][:18]:18s} "
            f"{r['seconds']:6.1f}"
        )
    return "\n".join(lines)
